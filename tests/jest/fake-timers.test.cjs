// Issue 11, item 2: with Jest's fake timers (Jest 29 fakes `queueMicrotask` too) every call must
// settle as it does with realm-web. The SDK used to schedule its futures' wake-ups through the
// global `queueMicrotask`, which the fake swallows, so `logIn` never resolved.
const RealmWasm = require("realm-wasm");
const RealmWeb = require("realm-web");
const { server, seedFlow } = require("./helpers.cjs");

beforeEach(() => {
  jest.useFakeTimers();
  RealmWasm.getEnvironment().defaultStorage.clear();
});

afterEach(() => {
  jest.useRealTimers();
});

test("the faked globals are in place (the test measures what it claims)", () => {
  const real = jest.requireActual("node:timers");
  expect(globalThis.setTimeout).not.toBe(real.setTimeout);
  let ran = false;
  queueMicrotask(() => {
    ran = true;
  });
  jest.runAllTicks();
  expect(ran).toBe(true);
});

test("realm-web logs in under fake timers (control)", async () => {
  const { baseUrl, appId } = server();
  const user = await new RealmWeb.App({ id: appId, baseUrl }).logIn(RealmWeb.Credentials.anonymous());
  expect(user.isLoggedIn).toBe(true);
});

test("realm-wasm logs in under fake timers", async () => {
  const { baseUrl, appId } = server();
  const user = await new RealmWasm.App({ id: appId, baseUrl }).logIn(RealmWasm.Credentials.anonymous());
  expect(user.isLoggedIn).toBe(true);
});

test("realm-wasm runs the seed flow and collection calls under fake timers", async () => {
  await seedFlow(RealmWasm, "jest-fake");
});

test("an App with a timeout still answers under fake timers", async () => {
  const { baseUrl, appId } = server();
  const app = new RealmWasm.App({ id: appId, baseUrl, timeout: 10000 });
  const user = await app.logIn(RealmWasm.Credentials.anonymous(false));
  const coll = user.mongoClient("mongodb-atlas").db("jest").collection(`t_${user.id}`);
  await coll.insertOne({ a: 1 });
  expect(await coll.count()).toBe(1);
});
