// Issue 11, item 2 with sinon's fake timers installed on the global object, `queueMicrotask` among
// the faked functions (as sinon's users configure it).
const FakeTimers = require("@sinonjs/fake-timers");
const RealmWasm = require("realm-wasm");
const { seedFlow } = require("./helpers.cjs");

let clock;

beforeEach(() => {
  clock = FakeTimers.install({
    toFake: ["setTimeout", "clearTimeout", "setInterval", "clearInterval", "setImmediate", "clearImmediate", "queueMicrotask", "Date"],
  });
});

afterEach(() => {
  clock.uninstall();
});

test("queueMicrotask is sinon's while the test runs", () => {
  let ran = false;
  queueMicrotask(() => {
    ran = true;
  });
  clock.runMicrotasks();
  expect(ran).toBe(true);
});

test("realm-wasm runs the seed flow under sinon's fake timers", async () => {
  await seedFlow(RealmWasm, "sinon-fake");
});
