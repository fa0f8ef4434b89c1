// API tests of the built package (node_modules/realm-wasm -> pkg/) against a real realm-wasm-server:
// typed errors, custom data semantics, logout, configuration (baseUrl, timeout, fetch), App.getApp,
// MongoDB results and BSON round trips.
import { test } from "node:test";
import assert from "node:assert/strict";
import * as Realm from "realm-wasm";
import { useServer, newCredentials, memoryStorage, rejection } from "./helpers.mjs";

const { App, Credentials, MongoDBRealmError, BSON } = Realm;
const server = useServer();

function newApp(extra = {}) {
  return new App({ id: server.appId, baseUrl: server.baseUrl, timeout: 10000, storage: memoryStorage(), ...extra });
}

async function newUser(app = newApp()) {
  const { email, password } = newCredentials("api");
  await app.emailPasswordAuth.registerUser({ email, password });
  const user = await app.logIn(Credentials.emailPassword(email, password));
  return { app, user, email, password };
}

test("the package exports the realm-web style API and BSON", () => {
  for (const name of ["App", "Credentials", "User", "MongoDBRealmError", "BSON"]) {
    assert.ok(Realm[name], `realm-wasm exports ${name}`);
  }
  assert.equal(typeof BSON.ObjectId, "function");
  assert.ok(!Object.keys(Realm).some((name) => name.startsWith("__")), "no internal exports");
});

test("a wrong password rejects with a MongoDBRealmError (401, errorCode)", async () => {
  const app = newApp();
  const { email, password } = newCredentials("wrongpw");
  await app.emailPasswordAuth.registerUser({ email, password });
  const err = await rejection(app.logIn(Credentials.emailPassword(email, "not-the-password")));
  assert.ok(err instanceof MongoDBRealmError, `got ${err}`);
  assert.ok(err instanceof Error);
  assert.equal(err.statusCode, 401);
  assert.equal(typeof err.errorCode, "string");
  assert.ok(err.errorCode.length > 0);
  assert.equal(err.method, "POST");
  assert.ok(err.url.endsWith(`/api/client/v2.0/app/${server.appId}/auth/providers/local-userpass/login`), err.url);
  assert.match(err.message, /^Request failed \(POST http:\/\/\S+\/login\): .*\(status 401/);
  assert.equal(app.currentUser, null);
});

test("registering the same email twice rejects with a MongoDBRealmError", async () => {
  const app = newApp();
  const creds = newCredentials("twice");
  await app.emailPasswordAuth.registerUser(creds);
  const err = await rejection(app.emailPasswordAuth.registerUser(creds));
  assert.ok(err instanceof MongoDBRealmError, `got ${err}`);
  assert.ok(err.statusCode >= 400 && err.statusCode < 500, `status ${err.statusCode}`);
});

test("user state, tokens and profile after logIn", async () => {
  const { app, user, email } = await newUser();
  assert.equal(user.isLoggedIn, true);
  assert.equal(user.state, "active");
  assert.equal(user.providerType, "local-userpass");
  assert.equal(typeof user.accessToken, "string");
  assert.equal(user.accessToken.split(".").length, 3, "the access token is a JWT");
  assert.equal(typeof user.refreshToken, "string");
  assert.equal(user.profile.email, email);
  assert.equal(app.currentUser.id, user.id);
  assert.ok(app.allUsers[user.id], "allUsers is keyed by user id");
  const json = user.toJSON();
  assert.equal(json.id, user.id);
});

test("anonymous login", async () => {
  const app = newApp();
  const user = await app.logIn(Credentials.anonymous());
  assert.equal(user.providerType, "anon-user");
  assert.equal(user.isLoggedIn, true);
  const creds = Credentials.anonymous();
  assert.equal(creds.providerName, "anon-user");
});

test("customData is read-only and stale until refreshCustomData()", async () => {
  const { user } = await newUser();
  const users = user.mongoClient("mongodb-atlas").db("app").collection("users");
  await users.insertOne({ userID: user.id, level: 7 });
  assert.deepEqual(user.customData, {}, "stale: the token predates the document");
  try {
    user.customData = { level: 99 }; // read-only: throws (strict mode) or has no effect
  } catch (err) {
    assert.ok(err instanceof TypeError, `got ${err}`);
  }
  assert.deepEqual(user.customData, {}, "assignment had no effect");
  const fresh = await user.refreshCustomData();
  assert.equal(fresh.userID, user.id);
  assert.equal(fresh.level, 7);
  assert.ok(fresh._id instanceof BSON.ObjectId);
  assert.deepEqual(user.customData, fresh);
  await users.updateOne({ userID: user.id }, { $inc: { level: 1 } });
  assert.equal(user.customData.level, 7, "stale again until the next refresh");
  assert.equal((await user.refreshCustomData()).level, 8);
  assert.equal(user.customData.level, 8);
});

test("a user only sees its own custom data document", async () => {
  const a = await newUser();
  const b = await newUser();
  await a.user.mongoClient("mongodb-atlas").db("app").collection("users").insertOne({ userID: a.user.id, who: "a" });
  const seenByB = await b.user.mongoClient("mongodb-atlas").db("app").collection("users").find({});
  assert.deepEqual(seenByB, []);
});

test("after logOut the user is logged out and collection calls reject with an Error", async () => {
  const { app, user } = await newUser();
  const coll = user.mongoClient("mongodb-atlas").db("test").collection("afterlogout");
  await user.logOut();
  assert.equal(user.isLoggedIn, false);
  assert.equal(user.state, "logged-out");
  assert.equal(app.currentUser, null);
  const err = await rejection(coll.findOne({}));
  assert.ok(err instanceof Error, `got ${err}`);
  assert.match(err.message, /not logged in/i);
  const err2 = await rejection(user.refreshCustomData());
  assert.ok(err2 instanceof Error, `got ${err2}`);
});

test("an unreachable baseUrl rejects with an Error", async () => {
  const app = new App({ id: server.appId, baseUrl: "http://127.0.0.1:9", timeout: 10000 });
  const err = await rejection(app.logIn(Credentials.anonymous()));
  assert.ok(err instanceof Error, `got ${err}`);
  assert.ok(err.message.length > 0);
});

test("a baseUrl that is not an App Services server rejects with a MongoDBRealmError", async () => {
  const app = new App({ id: server.appId, baseUrl: `${server.baseUrl}/not-here`, timeout: 10000 });
  const err = await rejection(app.logIn(Credentials.anonymous()));
  assert.ok(err instanceof MongoDBRealmError, `got ${err}`);
  assert.equal(err.statusCode, 404);
  assert.equal(err.method, "GET");
  assert.ok(err.url.includes("/not-here/api/client/v2.0/app/"), err.url);
});

test("an unknown app id rejects with a MongoDBRealmError", async () => {
  const app = new App({ id: "no-such-app", baseUrl: server.baseUrl, timeout: 10000 });
  const err = await rejection(app.logIn(Credentials.anonymous()));
  assert.ok(err instanceof MongoDBRealmError, `got ${err}`);
  assert.ok(err.statusCode >= 400 && err.statusCode < 500, `status ${err.statusCode}`);
});

test("the timeout is honoured: a fetch that never answers rejects", async () => {
  let calls = 0;
  // Never answers; like the real fetch, it rejects once the request's signal is aborted.
  const neverAnswers = (input, init) =>
    new Promise((_resolve, reject) => {
      calls += 1;
      const signal = init?.signal ?? (input instanceof Request ? input.signal : undefined);
      signal?.addEventListener("abort", () => reject(signal.reason ?? new Error("aborted")));
    });
  const app = newApp({ fetch: neverAnswers, timeout: 200 });
  const err = await rejection(app.logIn(Credentials.anonymous()));
  assert.ok(calls >= 1, "the fetch override was called");
  assert.ok(err instanceof Error, `got ${err}`);
  assert.match(err.message, /time ?out|timed out|abort/i);
});

// The guard (`timeout` of the test) only turns a hang into a failure; nothing here measures time.
test("the timeout is honoured even when the fetch override ignores the abort signal", { timeout: 10000 }, async () => {
  let calls = 0;
  const ignoresSignal = () => {
    calls += 1;
    return new Promise(() => {});
  };
  const app = newApp({ fetch: ignoresSignal, timeout: 200 });
  const err = await rejection(app.logIn(Credentials.anonymous()));
  assert.equal(calls, 1, "the fetch override was called once");
  assert.ok(err instanceof Error, `got ${err}`);
  assert.match(err.message, /time ?out|timed out|abort/i);
});

test("the fetch override is used for every request", async () => {
  const urls = [];
  const recordingFetch = (input, init) => {
    urls.push(typeof input === "string" ? input : input instanceof URL ? input.href : input.url);
    return fetch(input, init);
  };
  const { user } = await newUser(newApp({ fetch: recordingFetch }));
  await user.mongoClient("mongodb-atlas").db("test").collection("fetch").count({});
  assert.ok(urls.some((u) => u.endsWith("/location")), urls.join("\n"));
  assert.ok(urls.some((u) => u.endsWith("/local-userpass/register")), urls.join("\n"));
  assert.ok(urls.some((u) => u.endsWith("/local-userpass/login")), urls.join("\n"));
  assert.ok(urls.some((u) => u.endsWith("/functions/call")), urls.join("\n"));
});

test("App.getApp(id) returns the same instance for the same id", () => {
  const a = App.getApp("realm-wasm-getapp-test");
  const b = App.getApp("realm-wasm-getapp-test");
  assert.equal(a, b);
  assert.equal(a.id, "realm-wasm-getapp-test");
  assert.notEqual(App.getApp("realm-wasm-getapp-other"), a);
});

test("MongoDB collection methods give Atlas-shaped results", async () => {
  const { user } = await newUser();
  const coll = user.mongoClient("mongodb-atlas").db("test").collection(`crud_${user.id}`);
  const one = await coll.insertOne({ n: 1, tag: "a" });
  assert.ok(one.insertedId instanceof BSON.ObjectId);
  const many = await coll.insertMany([{ n: 2, tag: "b" }, { n: 3, tag: "b" }]);
  assert.equal(many.insertedIds.length, 2);
  assert.ok(many.insertedIds.every((id) => id instanceof BSON.ObjectId));
  assert.equal(await coll.count({}), 3);
  assert.equal(await coll.count({ tag: "b" }), 2);
  const found = await coll.find({ n: { $gte: 2 } }, { sort: { n: -1 }, projection: { _id: 0, n: 1 } });
  assert.deepEqual(found, [{ n: 3 }, { n: 2 }]);
  const first = await coll.findOne({ tag: "a" });
  assert.ok(first._id.equals(one.insertedId));
  assert.equal(await coll.findOne({ tag: "zzz" }), null);
  assert.deepEqual(await coll.updateMany({ tag: "b" }, { $set: { seen: true } }), { matchedCount: 2, modifiedCount: 2 });
  const upsert = await coll.updateOne({ n: 4 }, { $set: { tag: "c" } }, { upsert: true });
  assert.equal(upsert.matchedCount, 0);
  assert.ok(upsert.upsertedId instanceof BSON.ObjectId);
  assert.deepEqual(await coll.deleteOne({ tag: "a" }), { deletedCount: 1 });
  assert.deepEqual(await coll.deleteMany({}), { deletedCount: 3 });
});

test("BSON values round trip (ObjectId, Date, Long, Decimal128, Binary, strings, nesting)", async () => {
  const { user } = await newUser();
  const coll = user.mongoClient("mongodb-atlas").db("test").collection(`bson_${user.id}`);
  const doc = {
    _id: new BSON.ObjectId(),
    oid: new BSON.ObjectId(),
    date: new Date(Date.UTC(2024, 1, 29, 12, 34, 56, 789)),
    long: BSON.Long.fromString("1099511627777"),
    decimal: BSON.Decimal128.fromString("1234567890.123456789"),
    binary: new BSON.Binary(Buffer.from([0, 1, 2, 253, 254, 255])),
    text: "grüße, 世界 🌍",
    nested: { list: [1, 2.5, "x", null, true], empty: {} },
  };
  await coll.insertOne(doc);
  const found = await coll.findOne({ _id: doc._id });
  assert.ok(found, "the document is found by its ObjectId");
  assert.ok(found._id instanceof BSON.ObjectId && found._id.equals(doc._id));
  assert.ok(found.oid instanceof BSON.ObjectId && found.oid.equals(doc.oid));
  assert.ok(found.date instanceof Date);
  assert.equal(found.date.getTime(), doc.date.getTime());
  // Relaxed EJSON (as realm-web): a Long may come back as a JS number when it fits one exactly.
  if (BSON.Long.isLong(found.long)) assert.ok(found.long.equals(doc.long));
  else assert.equal(found.long, doc.long.toNumber());
  assert.ok(found.decimal instanceof BSON.Decimal128);
  assert.equal(found.decimal.toString(), doc.decimal.toString());
  assert.ok(found.binary instanceof BSON.Binary);
  assert.deepEqual([...found.binary.buffer], [0, 1, 2, 253, 254, 255]);
  assert.equal(found.text, doc.text);
  assert.deepEqual(found.nested, doc.nested);
  // Filtering by BSON values works too.
  assert.equal(await coll.count({ date: doc.date }), 1);
  assert.equal(await coll.count({ decimal: doc.decimal }), 1);
});
