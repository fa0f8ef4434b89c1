// The SDK calls whose server routes do not exist yet in realm-wasm-server (issue 3: API keys,
// linking, DELETE /auth/delete, email/password confirm/reset, other providers; issue 4:
// findOneAnd*, aggregate, watch), tested against protocol.md's wire shapes through an injected
// `fetch` (fixtures/fake-app-services.mjs), plus malformed answers only a fake can produce.
// To switch a group to the real server once its route lands: replace `fakeApp()` by an App on
// `useServer()` (see sdk-server.test.mjs) and drop the `state.requests` wire assertions.
import { test } from "node:test";
import assert from "node:assert/strict";
import { App, Credentials, MongoDBRealmError, WatchError, BSON } from "realm-wasm";
import { createFakeServer, baasRequest } from "./fixtures/fake-app-services.mjs";
import { memoryStorage } from "./helpers.mjs";

function fakeApp(extra = {}) {
  const fake = createFakeServer();
  const app = new App({ id: fake.appId, baseUrl: "http://base.test", fetch: fake.fetch, storage: memoryStorage(), timeout: 5000, ...extra });
  return { app, fake, state: fake.state };
}

async function rejection(promise) {
  try {
    await promise;
  } catch (err) {
    return err;
  }
  assert.fail("expected the promise to reject");
}

const lastBody = (state, suffix) => JSON.parse(state.requests.filter((r) => r.url.endsWith(suffix)).at(-1).body);

test("every credential type logs in with realm-web's provider names and payloads", async () => {
  const { app, state } = fakeApp();
  const cases = [
    [Credentials.anonymous(false), "anon-user", {}],
    [Credentials.emailPassword("a@b.c", "pw"), "local-userpass", { username: "a@b.c", password: "pw" }],
    [Credentials.jwt("tok"), "custom-token", { token: "tok" }],
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
  assert.throws(() => Credentials.apiKey(5), /Credentials.apiKey\(key\): key must be a string/);
});

test("app: {name, version} goes into options.device; deviceId comes from the token", async () => {
  const { app, state } = fakeApp({ app: { name: "my-local-app", version: "1.2.3" } });
  const user = await app.logIn(Credentials.anonymous());
  const { device } = lastBody(state, "/login").options;
  assert.equal(device.appId, "my-local-app");
  assert.equal(device.appVersion, "1.2.3");
  assert.equal(user.deviceId, "65aaaaaaaaaaaaaaaaaaaaaa");
  await app.logIn(Credentials.anonymous(false));
  assert.deepEqual(lastBody(state, "/login").options.device.deviceId, { $oid: "65aaaaaaaaaaaaaaaaaaaaaa" });
});

test("the seven emailPasswordAuth methods send their bodies, with the current user's token", async () => {
  const { app, state } = fakeApp();
  const auth = app.emailPasswordAuth;
  await auth.registerUser({ email: "a@b.c", password: "pw" });
  const user = await app.logIn(Credentials.emailPassword("a@b.c", "pw"));
  await auth.confirmUser({ token: "t", tokenId: "ti" });
  await auth.resendConfirmationEmail({ email: "a@b.c" });
  await auth.retryCustomConfirmation({ email: "a@b.c" });
  await auth.sendResetPasswordEmail({ email: "a@b.c" });
  await auth.resetPassword({ token: "t", tokenId: "ti", password: "new" });
  await auth.callResetPasswordFunction({ email: "a@b.c", password: "new" }, 1, "two", { three: 3 });
  const sent = state.requests.filter((r) => r.url.includes("/local-userpass/") && !r.url.endsWith("/login"));
  assert.deepEqual(
    sent.map((r) => [r.url.split("/local-userpass/")[1], JSON.parse(r.body)]),
    [
      ["register", { email: "a@b.c", password: "pw" }],
      ["confirm", { token: "t", tokenId: "ti" }],
      ["confirm/send", { email: "a@b.c" }],
      ["confirm/call", { email: "a@b.c" }],
      ["reset/send", { email: "a@b.c" }],
      ["reset", { token: "t", tokenId: "ti", password: "new" }],
      ["reset/call", { email: "a@b.c", password: "new", arguments: [{ $numberInt: "1" }, "two", { three: { $numberInt: "3" } }] }],
    ],
  );
  assert.equal(sent[0].headers.Authorization, undefined);
  assert.equal(sent[1].headers.Authorization, `Bearer ${user.accessToken}`);
  const err = await rejection(auth.resetPassword({ token: "t", tokenId: "ti" }));
  assert.ok(err instanceof TypeError);
  assert.match(err.message, /resetPassword: details\.password must be a string/);
});

test("linkCredentials adds an identity; apiKeys create/fetch/fetchAll/disable/enable/delete use the refresh token", async () => {
  const { app, state } = fakeApp();
  const user = await app.logIn(Credentials.emailPassword("a@b.c", "pw"));
  assert.deepEqual(user.identities.map((i) => i.providerType), ["local-userpass"]);
  const created = await user.apiKeys.create("laptop");
  assert.equal(created.name, "laptop");
  assert.equal(typeof created.key, "string");
  assert.equal(state.requests.at(-1).headers.Authorization, `Bearer ${user.refreshToken}`);
  assert.deepEqual(await user.apiKeys.fetch(created._id), { _id: created._id, name: "laptop", disabled: false });
  await user.apiKeys.disable(created._id);
  assert.equal((await user.apiKeys.fetchAll())[0].disabled, true);
  await user.apiKeys.enable(created._id);
  assert.equal((await user.apiKeys.fetch(created._id)).disabled, false);

  const before = user.accessToken;
  await user.linkCredentials(Credentials.apiKey(created.key));
  const link = state.requests.find((r) => r.url.endsWith("/api-key/login?link=true"));
  assert.equal(link.headers.Authorization, `Bearer ${before}`);
  assert.notEqual(user.accessToken, before);
  assert.deepEqual(user.identities.map((i) => i.providerType), ["local-userpass", "api-key"]);

  const keyUser = await app.logIn(Credentials.apiKey(created.key));
  assert.equal(keyUser.providerType, "api-key");
  await user.apiKeys.delete(created._id);
  assert.deepEqual(await user.apiKeys.fetchAll(), []);
  const missing = await rejection(user.apiKeys.fetch(created._id));
  assert.ok(missing instanceof MongoDBRealmError);
  assert.equal(missing.errorCode, "APIKeyNotFound");
});

test("deleteUser sends the deleted user's token (not the current user's) and removes it", async () => {
  const { app, state } = fakeApp();
  const a = await app.logIn(Credentials.emailPassword("a@b.c", "pw"));
  const b = await app.logIn(Credentials.emailPassword("b@b.c", "pw"));
  assert.equal(app.currentUser, b);
  const aToken = a.accessToken;
  await app.deleteUser(a);
  const del = state.requests.find((r) => r.url.endsWith("/auth/delete"));
  assert.equal(del.method, "DELETE");
  assert.equal(del.headers.Authorization, `Bearer ${aToken}`);
  assert.equal(a.state, "removed");
  assert.deepEqual(Object.keys(app.allUsers), [b.id]);
  assert.equal(app.currentUser, b);
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

test("findOneAndUpdate/Replace/Delete and aggregate send realm-core's wire names (findOneAndDelete, not realm-web's bug)", async () => {
  const { app, state } = fakeApp();
  const user = await app.logIn(Credentials.anonymous());
  const coll = user.mongoClient("mongodb-atlas").db("d").collection("c");
  await coll.findOneAndUpdate({ a: 1 }, { $set: { b: 2 } }, { returnNewDocument: true, upsert: true, sort: { a: 1 }, projection: { a: 1 } });
  await coll.findOneAndReplace({ a: 1 }, { b: 3 });
  await coll.findOneAndDelete({ a: 1 }, { sort: { a: -1 } });
  await coll.aggregate([{ $match: { a: 1 } }, { $count: "n" }]);
  const calls = state.requests.filter((r) => r.url.endsWith("/functions/call")).map((r) => JSON.parse(r.body));
  assert.deepEqual(
    calls.map((c) => [c.name, c.service, Object.keys(c.arguments[0])]),
    [
      ["findOneAndUpdate", "mongodb-atlas", ["database", "collection", "filter", "update", "sort", "projection", "upsert", "returnNewDocument"]],
      ["findOneAndReplace", "mongodb-atlas", ["database", "collection", "filter", "update"]],
      ["findOneAndDelete", "mongodb-atlas", ["database", "collection", "filter", "sort"]],
      ["aggregate", "mongodb-atlas", ["database", "collection", "pipeline"]],
    ],
  );
  const bad = await rejection(coll.aggregate({ $match: {} }));
  assert.ok(bad instanceof TypeError);
  assert.match(bad.message, /aggregate\(pipeline\): pipeline must be an array of documents/);
});

const event = (n, extra = "") =>
  `data: {"_id":{"_data":"t${n}"},"operationType":"insert","ns":{"db":"d","coll":"c"},"documentKey":{"_id":{"$numberInt":"${n}"}},"fullDocument":{"_id":{"$numberInt":"${n}"},"s":"${extra}"}}\n\n`;

test("watch: an async iterator of change events; resumes after a dropped stream without loss or repeats; break closes", async () => {
  const { app, state } = fakeApp();
  const user = await app.logIn(Credentials.anonymous());
  const coll = user.mongoClient("mongodb-atlas").db("d").collection("c");
  const second = event(2, "100%25 sure");
  state.streams.push([":\n\n", event(1), second.slice(0, 17), second.slice(17), null]);
  state.streams.push([event(3)]);
  const seen = [];
  for await (const change of coll.watch({ filter: { operationType: "insert" }, ids: [1, 2, 3] })) {
    seen.push([change.operationType, change.fullDocument._id, change.fullDocument.s]);
    if (seen.length === 3) break;
  }
  assert.deepEqual(seen, [["insert", 1, ""], ["insert", 2, "100% sure"], ["insert", 3, ""]]);
  const watches = state.requests.filter((r) => r.url.includes("baas_request="));
  assert.equal(watches.length, 2);
  assert.equal(watches[0].headers.Accept, "text/event-stream");
  const [first, resumed] = watches.map((r) => baasRequest(r.url));
  assert.deepEqual(first, {
    name: "watch",
    arguments: [{ database: "d", collection: "c", ids: [{ $numberInt: "1" }, { $numberInt: "2" }, { $numberInt: "3" }], filter: { operationType: "insert" } }],
    service: "mongodb-atlas",
  });
  assert.deepEqual(resumed.arguments[0].resumeAfter, { _data: "t2" });
  assert.equal(state.cancelled, 1, "break cancelled the open body");
});

test("watch: error events reject with WatchError; resume: false ends with the stream; a cut-off event is an error", async () => {
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

  state.streams.push([event(1), null]);
  const once = coll.watch({ resume: false });
  const got = [];
  for await (const change of once) got.push(change.fullDocument._id);
  assert.deepEqual(got, [1]);

  state.streams.push(['data: {"_id":', null]);
  const cut = await rejection(coll.watch({ resume: false }).next());
  assert.ok(cut instanceof WatchError);
  assert.equal(cut.code, "stream truncated");

  state.streams.push(["data: not json\n\n"]);
  const bad = await rejection(coll.watch().next());
  assert.equal(bad.code, "bad bson parse");
  assert.throws(() => coll.watch({ ids: "x" }), TypeError);
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
