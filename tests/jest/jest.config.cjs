// Jest runs the suites in this folder (`make test-jest`): the SDK under fake timers, as test code
// written for realm-web uses it. A server must be running: `node scripts/server.mjs -- jest …`
// sets REALM_BASE_URL and REALM_APP_ID.
module.exports = {
  rootDir: __dirname,
  testEnvironment: "node",
  testMatch: ["<rootDir>/*.test.cjs"],
  // A call that never settles fails its test after this long (real time: Jest's own timers are not faked).
  testTimeout: 20000,
};
