// Issue 11, item 1: what code written for realm-web 2.0.1 uses beyond the core API — the enums,
// getApp, the environment and its default storage, MongoDBRealmError's constructor and factory,
// callFunction on the prototype, push, locationUrl, deviceInformation — behaves as realm-web's,
// against a real server.
import { test } from "node:test";
import assert from "node:assert/strict";
import { createRequire } from "node:module";
import * as RealmEsm from "realm-wasm";
import { useServer, rejection } from "./helpers.mjs";

const require = createRequire(import.meta.url);
const Realm = require("realm-wasm");
const RealmWeb = require("realm-web");
const { App, Credentials, MongoDBRealmError, UserState, UserType, getApp, getEnvironment, setEnvironment } = Realm;
const server = useServer();

/** A fetch that records each request and passes it on. */
function recordingFetch(log) {
  return (url, init) => {
    log.push({ url, method: init.method, body: init.body, authorization: init.headers.Authorization });
    return fetch(url, init);
  };
}

test("the enums, DEFAULT_BASE_URL and getApp are realm-web's, in both module systems", () => {
  assert.deepEqual({ ...UserState }, { ...RealmWeb.UserState });
  assert.deepEqual({ ...UserType }, { ...RealmWeb.UserType });
  assert.equal(Realm.DEFAULT_BASE_URL, RealmWeb.DEFAULT_BASE_URL);
  assert.equal(App.Credentials, Credentials);
  const shared = getApp("drop-in-shared");
  assert.equal(getApp("drop-in-shared"), shared);
  assert.equal(App.getApp("drop-in-shared"), shared);
  assert.notEqual(getApp("drop-in-other"), shared);
  assert.equal(RealmEsm.getApp, getApp);
  assert.equal(RealmEsm.UserState, UserState);
});

test("callFunction is on User.prototype, and a logged-in user's state compares with UserState", async () => {
  assert.equal(typeof Realm.User.prototype.callFunction, "function");
  assert.equal(Realm.User.prototype.callFunction.length, 1);
  const app = new App({ id: server.appId, baseUrl: server.baseUrl });
  const user = await app.logIn(Credentials.anonymous(false));
  assert.equal(Object.hasOwn(user, "callFunction"), false);
  assert.equal(user.state, UserState.Active);
  // The prototype's method reaches the server: the demo app's `sum` answers, an unknown name fails with its answer.
  assert.equal(await user.callFunction("sum", 1, 2), 3);
  const err = await rejection(user.callFunction("noSuchFunction"));
  assert.ok(err instanceof MongoDBRealmError, String(err));
  assert.equal(err.errorCode, "FunctionNotFound");
  await user.logOut();
  assert.equal(user.state, UserState.LoggedOut);
});

test("MongoDBRealmError: realm-web's constructor, message and fromRequestAndResponse", async () => {
  const err = new MongoDBRealmError("POST", "http://h/x", 401, "Unauthorized", "invalid session", "InvalidSession", "http://logs");
  const web = new RealmWeb.MongoDBRealmError("POST", "http://h/x", 401, "Unauthorized", "invalid session", "InvalidSession", "http://logs");
  assert.ok(err instanceof Error);
  assert.equal(err.message, web.message);
  assert.deepEqual({ ...err }, { ...web });
  assert.equal(new MongoDBRealmError("GET", "u", 500, "").message, new RealmWeb.MongoDBRealmError("GET", "u", 500, "").message);

  const json = new Response(JSON.stringify({ error: "no rule exists", error_code: "NoMatchingRule", link: 7 }), {
    status: 403,
    statusText: "Forbidden",
    headers: { "content-type": "application/json" },
  });
  const made = await MongoDBRealmError.fromRequestAndResponse("http://h/f", { method: "POST" }, json);
  assert.ok(made instanceof MongoDBRealmError);
  assert.deepEqual([made.statusCode, made.error, made.errorCode, made.link], [403, "no rule exists", "NoMatchingRule", undefined]);
  assert.equal(made.message, "Request failed (POST http://h/f): no rule exists (status 403 Forbidden)");
  const text = await MongoDBRealmError.fromRequestAndResponse("http://h/t", {}, new Response("oops", { status: 502, statusText: "Bad Gateway" }));
  assert.equal(text.message, "Request failed (unknown http://h/t): (status 502 Bad Gateway)");

  // The SDK's own errors are instances of the exported class.
  const app = new App({ id: server.appId, baseUrl: server.baseUrl });
  const login = await rejection(app.logIn(Credentials.emailPassword("nobody@example.com", "wrong-password")));
  assert.ok(login instanceof MongoDBRealmError && login instanceof Error, String(login));
  assert.equal(login.statusCode, 401);
});

test("getEnvironment().defaultStorage.clear() between cases gives the next App no users, as realm-web", async () => {
  const { defaultStorage } = getEnvironment();
  const first = new App({ id: server.appId, baseUrl: server.baseUrl });
  const user = await first.logIn(Credentials.anonymous(false));
  assert.ok(defaultStorage.get(`app(${server.appId}):userIds`).includes(user.id), "sessions live in the environment's store");
  assert.equal(new App({ id: server.appId, baseUrl: server.baseUrl }).currentUser, user, "Apps share users while the store agrees");
  defaultStorage.clear();
  assert.equal(defaultStorage.get(`app(${server.appId}):userIds`), null);
  const next = new App({ id: server.appId, baseUrl: server.baseUrl });
  assert.equal(next.currentUser, null);
  assert.deepEqual(Object.keys(next.allUsers), []);
  // As with realm-web, the App made before the clear keeps its users in memory.
  assert.equal(first.currentUser, user);
});

test("setEnvironment swaps the default storage and the platform for Apps created afterwards", async () => {
  const saved = getEnvironment();
  const entries = new Map();
  const storage = {
    get: (k) => entries.get(k) ?? null,
    set: (k, v) => void entries.set(k, v),
    remove: (k) => void entries.delete(k),
    prefix() {
      throw new Error("not used");
    },
    clear: () => entries.clear(),
    addListener() {},
    removeListener() {},
  };
  setEnvironment({ ...saved, defaultStorage: storage, platform: "drop-in-test", platformVersion: "9.9.9" });
  try {
    assert.equal(getEnvironment().defaultStorage, storage);
    const log = [];
    const app = new App({ id: server.appId, baseUrl: server.baseUrl, fetch: recordingFetch(log) });
    assert.equal(app.deviceInformation.platform, "drop-in-test");
    const user = await app.logIn(Credentials.anonymous(false));
    assert.equal(entries.get(`app(${server.appId}):userIds`), JSON.stringify([user.id]));
    assert.equal(entries.get(`app(${server.appId}):user(${user.id}):refreshToken`), user.refreshToken);
    const login = log.find((r) => r.url.endsWith("/login"));
    assert.match(login.body, /"platform":"drop-in-test","platformVersion":"9\.9\.9"/);
    // An environment without a usable store: a clear error when an App needs it.
    setEnvironment({ ...saved, defaultStorage: 42 });
    assert.throws(() => new App({ id: server.appId, baseUrl: server.baseUrl }), { name: "TypeError", message: /getEnvironment\(\)\.defaultStorage must be an object/ });
    assert.ok(new App({ id: server.appId, baseUrl: server.baseUrl, storage: storage }), "an App given a storage does not need it");
  } finally {
    setEnvironment(saved);
  }
  assert.throws(() => setEnvironment(null), TypeError);
});

test("user.push(serviceName).register(token) / deregister() call the push service's registration route", async () => {
  const log = [];
  const app = new App({ id: server.appId, baseUrl: server.baseUrl, fetch: recordingFetch(log) });
  const user = await app.logIn(Credentials.anonymous(false));
  const push = user.push("gcm");
  // This server has no push services: a clear service-not-found error.
  const err = await rejection(push.register("device-token"));
  assert.ok(err instanceof MongoDBRealmError, String(err));
  assert.ok(err.statusCode >= 400 && err.statusCode < 500, `status ${err.statusCode}`);
  await rejection(push.deregister());
  const route = `/api/client/v2.0/app/${server.appId}/push/providers/gcm/registration`;
  const sent = log.filter((r) => r.url.includes("/push/")).map((r) => [r.method, r.url.slice(r.url.indexOf("/api/")), r.body, r.authorization]);
  assert.deepEqual(sent.slice(0, 1), [["PUT", route, JSON.stringify({ registrationToken: "device-token" }), `Bearer ${user.accessToken}`]]);
  assert.ok(sent.some(([method, url, body]) => method === "DELETE" && url === route && body === undefined), JSON.stringify(sent));
  assert.throws(() => user.push(42), TypeError);
});

test("locationUrl, deviceInformation, user.app, credentials.reuse and handleAuthRedirect", async () => {
  const app = new App({ id: server.appId, baseUrl: server.baseUrl });
  assert.equal(await app.locationUrl, server.baseUrl);
  const direct = new App({ id: server.appId, baseUrl: "http://127.0.0.1:1", skipLocationRequest: true });
  assert.equal(await direct.locationUrl, "http://127.0.0.1:1");
  const user = await app.logIn(Credentials.anonymous(false));

  const info = app.deviceInformation;
  assert.equal(info.platform, "node");
  assert.equal(info.platformVersion, process.versions.node);
  assert.equal(typeof info.sdkVersion, "string");
  assert.deepEqual(JSON.parse(Buffer.from(info.encode(), "base64").toString("utf8")), JSON.parse(JSON.stringify(info.toJSON())));
  assert.ok(!("appId" in info.toJSON()));

  assert.equal(user.app, user.app);
  assert.equal(user.app.id, server.appId);
  assert.equal(user.app.currentUser, user);

  assert.equal(Credentials.anonymous().reuse, true);
  assert.equal(Credentials.anonymous(false).reuse, false);
  assert.equal(Credentials.emailPassword("a@example.com", "pw").reuse, false);

  assert.throws(() => Realm.handleAuthRedirect(), /not supported outside a browser/);
  assert.throws(() => RealmWeb.handleAuthRedirect(), /not supported outside a browser/);
});
