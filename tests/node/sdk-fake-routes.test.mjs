// The SDK calls realm-wasm-server cannot answer, tested against protocol.md's wire shapes through
// an injected `fetch` (fixtures/fake-app-services.mjs): custom-function and OAuth credentials and
// callFunction (the server runs no user functions and has no OAuth providers), and malformed
// answers, stream errors and bounded refreshes only a fake can produce. Everything the server
// answers is tested against it: sdk-server.test.mjs, sdk-auth-server.test.mjs for the auth and
// user routes, sdk-engine-server.test.mjs for findOneAnd*, aggregate, rules and watch.
import { test } from "node:test";
import assert from "node:assert/strict";
import { App, Credentials, MongoDBRealmError, WatchError, BSON } from "realm-wasm";
import { createFakeServer } from "./fixtures/fake-app-services.mjs";
import { memoryStorage, rejection } from "./helpers.mjs";

function fakeApp(extra = {}) {
  const fake = createFakeServer();
  const app = new App({ id: fake.appId, baseUrl: "http://base.test", fetch: fake.fetch, storage: memoryStorage(), timeout: 5000, ...extra });
  return { app, fake, state: fake.state };
}

const lastBody = (state, suffix) => JSON.parse(state.requests.filter((r) => r.url.endsWith(suffix)).at(-1).body);

test("custom-function and OAuth credentials log in with realm-web's provider names and payloads", async () => {
  const { app, state } = fakeApp();
  const cases = [
    [Credentials.function({ n: 42, s: "x" }), "custom-function", { n: { $numberInt: "42" }, s: "x" }],
    [Credentials.google({ authCode: "code" }), "oauth2-google", { authCode: "code" }],
    [Credentials.google({ idToken: "idt" }), "oauth2-google", { id_token: "idt" }],
    [Credentials.facebook("fbt"), "oauth2-facebook", { accessToken: "fbt" }],
    [Credentials.apple("apt"), "oauth2-apple", { id_token: "apt" }],
  ];
  for (const [creds, provider, payload] of cases) {
    assert.equal(creds.providerName, provider);
    const user = await app.logIn(creds, false);
    assert.equal(user.providerType, provider);
    const body = lastBody(state, `/${provider}/login`);
    const { options, ...rest } = body;
    assert.deepEqual(rest, payload, provider);
    assert.equal(options.device.platform, "node");
  }
  assert.throws(() => Credentials.google({}), TypeError);
  assert.throws(() => Credentials.google({ authCode: "a", idToken: "b" }), TypeError);
});

test("callFunction, user.functions.<name>(...args) and functions.callFunction send name and EJSON arguments", async () => {
  const { app, state } = fakeApp();
  const user = await app.logIn(Credentials.anonymous());
  const oid = new BSON.ObjectId();
  const echoed = await user.functions.sum(1, 2.5, "s", { oid, d: new Date(0), skip: undefined }, [1, 2], null, true);
  assert.equal(echoed.name, "sum");
  assert.equal(echoed.service, undefined);
  assert.ok(echoed.arguments[3].oid.equals(oid));
  assert.equal(lastBody(state, "/functions/call").arguments[1].$numberDouble, "2.5");
  assert.deepEqual(lastBody(state, "/functions/call").arguments[3].skip, undefined);
  assert.equal((await user.callFunction("other", 1)).name, "other");
  assert.equal((await user.functions.callFunction("third")).name, "third");
  assert.deepEqual(lastBody(state, "/functions/call").arguments, []);
  assert.equal(user.functions.then, undefined, "the proxy is not a thenable");
  const err = await rejection(user.callFunction(5));
  assert.ok(err instanceof TypeError);
});

const event = (n) =>
  `data: {"_id":{"_data":"t${n}"},"operationType":"insert","ns":{"db":"d","coll":"c"},"documentKey":{"_id":{"$numberInt":"${n}"}},"fullDocument":{"_id":{"$numberInt":"${n}"}}}\n\n`;

test("watch: error events reject with WatchError; a cut-off event or malformed data is an error", async () => {
  const { app, state } = fakeApp();
  const user = await app.logIn(Credentials.anonymous());
  const coll = user.mongoClient("mongodb-atlas").db("d").collection("c");
  state.streams.push([event(1), 'event: error\ndata: {"error":"boom","error_code":"MongoDBError"}\n\n']);
  const stream = coll.watch();
  assert.equal((await stream.next()).value.fullDocument._id, 1);
  const err = await rejection(stream.next());
  assert.ok(err instanceof WatchError && err instanceof Error, `got ${err}`);
  assert.equal(err.code, "MongoDBError");
  assert.equal(err.message, "boom");
  assert.deepEqual(await stream.next(), { value: undefined, done: true });

  state.streams.push(['data: {"_id":', null]);
  const cut = await rejection(coll.watch({ resume: false }).next());
  assert.ok(cut instanceof WatchError);
  assert.equal(cut.code, "stream truncated");

  state.streams.push(["data: not json\n\n"]);
  const bad = await rejection(coll.watch().next());
  assert.equal(bad.code, "bad bson parse");
});

test("malformed server answers become typed errors and leave the stored state consistent", async () => {
  const { app, state } = fakeApp();
  const user = await app.logIn(Credentials.emailPassword("a@b.c", "pw"));
  const storedIds = () => Object.keys(app.allUsers);
  const answers = [
    ["missing access_token", () => Response.json({ user_id: "x", refresh_token: "r", device_id: "0" }), /access_token/],
    ["not JSON", () => new Response("{oops", { headers: { "content-type": "application/json" } }), /decode/i],
    ["wrong content type", () => new Response("<html>", { headers: { "content-type": "text/html" } }), /expected JSON/],
  ];
  for (const [what, answer, pattern] of answers) {
    state.override = (url) => (url.endsWith("/login") ? answer() : undefined);
    const err = await rejection(app.logIn(Credentials.emailPassword("z@b.c", "pw")));
    assert.ok(err instanceof Error, what);
    assert.match(err.message, pattern, what);
    assert.deepEqual(storedIds(), [user.id], `${what}: no half-made user`);
    assert.equal(app.currentUser, user, what);
  }
  state.override = (url) => (url.endsWith("/auth/session") ? Response.json({ nope: 1 }) : undefined);
  const err = await rejection(user.refreshAccessToken());
  assert.match(err.message, /access_token/);
  assert.equal(user.state, "active", "a bad refresh answer keeps the old session");
  state.override = null;
});

test("refresh: a dead refresh token logs the user out and tells the listeners; retries are bounded", async () => {
  const { app, state } = fakeApp();
  const user = await app.logIn(Credentials.emailPassword("a@b.c", "pw"));
  let appEvents = 0;
  let userEvents = 0;
  const onApp = () => (appEvents += 1);
  app.addListener(onApp);
  user.addListener(() => (userEvents += 1));
  // Every access-token call answers 401: one refresh, one retry, then the error.
  state.override = (url) => (url.endsWith("/functions/call") ? Response.json({ error: "x", error_code: "InvalidSession" }, { status: 401 }) : undefined);
  const err = await rejection(user.callFunction("f"));
  assert.equal(err.statusCode, 401);
  assert.equal(state.requests.filter((r) => r.url.endsWith("/functions/call")).length, 2);
  assert.equal(state.requests.filter((r) => r.url.endsWith("/auth/session")).length, 1);
  assert.equal(user.state, "active");
  // Concurrent 401s share one refresh.
  state.override = null;
  state.access.clear();
  await Promise.all([user.callFunction("a"), user.callFunction("b"), user.callFunction("c")]);
  assert.equal(state.requests.filter((r) => r.url.endsWith("/auth/session")).length, 2);
  // Dead refresh token.
  const before = appEvents;
  state.access.clear();
  state.refresh.clear();
  const dead = await rejection(user.callFunction("f"));
  assert.ok(dead instanceof MongoDBRealmError);
  assert.ok(dead.url.endsWith("/auth/session"));
  assert.equal(user.state, "logged-out");
  assert.equal(app.currentUser, null);
  assert.ok(appEvents > before && userEvents > 0);
  app.removeListener(onApp);
  const counted = appEvents;
  await app.logIn(Credentials.anonymous());
  assert.equal(appEvents, counted, "removed listeners are not called");
});
