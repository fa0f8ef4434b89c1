// The SDK against a real realm-wasm-server: every call the server supports today (anonymous and
// email/password login, register, profile, refresh, logout, the CRUD calls), users and
// listeners, persisted sessions (object, directory and, via a child process, a new process),
// shared state between App objects, typed custom data, bad input, SSR-safe import.
import { test } from "node:test";
import assert from "node:assert/strict";
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import v8 from "node:v8";
import { runInNewContext } from "node:vm";
import * as Realm from "realm-wasm";
import { useServer, newCredentials, memoryStorage, run, rejection } from "./helpers.mjs";

const { App, Credentials, MongoDBRealmError, BSON } = Realm;
const server = useServer();

function newApp(extra = {}) {
  return new App({ id: server.appId, baseUrl: server.baseUrl, timeout: 10000, storage: memoryStorage(), ...extra });
}

async function registered(app, tag = "sdk") {
  const creds = newCredentials(tag);
  await app.emailPasswordAuth.registerUser(creds);
  return creds;
}

test("users: logIn, currentUser, allUsers, switchUser, removeUser, profile and identities, fetchProfile=false", async () => {
  const app = newApp();
  const a = await registered(app);
  const b = await registered(app);
  const userA = await app.logIn(Credentials.emailPassword(a.email, a.password));
  const userB = await app.logIn(Credentials.emailPassword(b.email, b.password), false);
  assert.equal(app.currentUser, userB);
  assert.deepEqual(Object.keys(app.allUsers), [userB.id, userA.id]);
  assert.throws(() => userB.profile, /never fetched/);
  await userB.refreshProfile();
  assert.equal(userB.profile.email, b.email);
  assert.deepEqual(userA.identities.map((i) => i.providerType), ["local-userpass"]);
  assert.equal(userA.providerType, "local-userpass");
  app.switchUser(userA);
  assert.equal(app.currentUser, userA);
  const anon = await app.logIn(Credentials.anonymous());
  assert.equal(await app.logIn(Credentials.anonymous()), anon, "reused");
  assert.notEqual((await app.logIn(Credentials.anonymous(false))).id, anon.id, "reuse=false logs in anew");
  await app.removeUser(userB);
  assert.equal(userB.state, "removed");
  assert.ok(!(userB.id in app.allUsers));
  const err = await rejection(userB.refreshCustomData());
  assert.match(err.message, /removed/);
  const json = userA.toJSON();
  assert.equal(json.id, userA.id);
  assert.equal(json.state, "active");
  assert.equal(json.profile.email, a.email);
});

test("a removed user's objects can be garbage-collected (a process logging in many users does not keep them)", async () => {
  v8.setFlagsFromString("--expose-gc");
  const gc = runInNewContext("gc");
  const app = newApp();
  // In a function of its own: a suspended async function may keep its dead locals in registers.
  const logInAndRemove = async () => {
    const user = await app.logIn(Credentials.anonymous());
    await app.removeUser(user);
    return new WeakRef(user);
  };
  const refs = [await logInAndRemove(), await logInAndRemove(), await logInAndRemove()];
  const kept = await app.logIn(Credentials.anonymous()); // a later login must not hold the earlier ones
  // WeakRef targets stay alive until the current job ends: collect from a later macrotask.
  await new Promise(setImmediate);
  gc();
  assert.deepEqual(refs.map((r) => r.deref()), [undefined, undefined, undefined]);
  assert.equal(app.currentUser, kept);
});

test("session: refreshAccessToken gives a new token, logOut revokes the refresh token on the server", async () => {
  const app = newApp();
  const c = await registered(app);
  const user = await app.logIn(Credentials.emailPassword(c.email, c.password));
  const refreshToken = user.refreshToken;
  const sessions = [];
  const app2 = newApp({ fetch: (url, init) => (sessions.push([init.method, url]), fetch(url, init)) });
  const user2 = await app2.logIn(Credentials.emailPassword(c.email, c.password));
  await user2.refreshAccessToken();
  assert.equal(sessions.filter(([m, u]) => m === "POST" && u.endsWith("/auth/session")).length, 1);
  assert.equal(user2.accessToken.split(".").length, 3);
  assert.equal(user.refreshToken, refreshToken, "refresh tokens are not rotated");
  await user.logOut();
  assert.equal(user.state, "logged-out");
  const res = await fetch(`${server.baseUrl}/api/client/v2.0/auth/session`, { method: "POST", headers: { Authorization: `Bearer ${refreshToken}` } });
  assert.equal(res.status, 401, "the server forgot the refresh token");
});

test("the CRUD calls through a typed collection against the server", async () => {
  const app = newApp();
  const c = await registered(app);
  const user = await app.logIn(Credentials.emailPassword(c.email, c.password));
  const coll = user.mongoClient("mongodb-atlas").db("test").collection(`sdk_${user.id}`);
  const { insertedId } = await coll.insertOne({ n: 1, when: new Date(5), big: BSON.Long.fromNumber(2 ** 40), dec: BSON.Decimal128.fromString("1.25") });
  assert.ok(insertedId instanceof BSON.ObjectId);
  const back = await coll.findOne({ _id: insertedId });
  assert.ok(back.when instanceof Date && back.when.getTime() === 5);
  assert.equal(back.big, 2 ** 40);
  assert.ok(back.dec instanceof BSON.Decimal128);
  assert.equal((await coll.insertMany([{ n: 2 }, { n: 3 }])).insertedIds.length, 2);
  assert.equal(await coll.count({ n: { $gte: 2 } }), 2);
  assert.deepEqual((await coll.find({}, { sort: { n: -1 }, limit: 2, projection: { _id: 0, n: 1 } })), [{ n: 3 }, { n: 2 }]);
  assert.deepEqual(await coll.updateOne({ n: 1 }, { $inc: { n: 10 } }), { matchedCount: 1, modifiedCount: 1 });
  assert.deepEqual(await coll.updateMany({ n: { $lt: 5 } }, { $set: { small: true } }), { matchedCount: 2, modifiedCount: 2 });
  assert.deepEqual(await coll.deleteOne({ n: 11 }), { deletedCount: 1 });
  assert.deepEqual(await coll.deleteMany({}), { deletedCount: 2 });
});

test("customData comes back EJSON-decoded: ObjectId, Date, Decimal128 typed (realm-js #3326)", async () => {
  const app = newApp();
  const c = await registered(app);
  const user = await app.logIn(Credentials.emailPassword(c.email, c.password));
  const oid = new BSON.ObjectId();
  await user.mongoClient("mongodb-atlas").db("app").collection("users").insertOne({
    userID: user.id, ref: oid, since: new Date(1700000000000), price: BSON.Decimal128.fromString("9.99"),
  });
  const data = await user.refreshCustomData();
  assert.ok(data._id instanceof BSON.ObjectId, `got ${data._id}`);
  assert.ok(data.ref instanceof BSON.ObjectId && data.ref.equals(oid));
  assert.ok(data.since instanceof Date && data.since.getTime() === 1700000000000);
  assert.ok(data.price instanceof BSON.Decimal128 && data.price.toString() === "9.99");
});

test("listeners fire on login, refresh, switch and logout; removeAllListeners stops them", async () => {
  const app = newApp();
  const c = await registered(app);
  const events = [];
  app.addListener(() => events.push(app.currentUser?.id ?? null));
  const user = await app.logIn(Credentials.emailPassword(c.email, c.password));
  assert.deepEqual(events, [user.id]);
  let userEvents = 0;
  user.addListener(() => (userEvents += 1));
  await user.refreshAccessToken();
  assert.equal(userEvents, 1);
  await user.logOut();
  assert.equal(events.at(-1), null);
  assert.equal(userEvents, 2);
  app.removeAllListeners();
  user.removeAllListeners();
  const n = events.length;
  await app.logIn(Credentials.emailPassword(c.email, c.password));
  assert.equal(events.length, n);
  assert.throws(() => app.addListener("nope"), TypeError);
});

test("App objects with the same id and storage share users at once (realm-js #6439)", async () => {
  const storage = memoryStorage();
  const one = newApp({ storage });
  const two = newApp({ storage });
  const c = await registered(one);
  const user = await one.logIn(Credentials.emailPassword(c.email, c.password));
  assert.equal(two.currentUser, user);
  await two.currentUser.logOut();
  assert.equal(one.currentUser, null);
  // The store holds realm-web's Node key names.
  assert.equal(storage.map.get(`app(${server.appId}):userIds`), JSON.stringify([user.id]));
  assert.equal(storage.map.get(`app(${server.appId}):user(${user.id}):providerType`), "local-userpass");
  assert.ok(!storage.map.has(`app(${server.appId}):user(${user.id}):refreshToken`), "logout removed the token");
});

test("sessions persist: a directory storage is picked up by a new process", async () => {
  const dir = mkdtempSync(join(tmpdir(), "realm-wasm-storage-"));
  try {
    const app = newApp({ storage: dir });
    const c = await registered(app);
    const user = await app.logIn(Credentials.emailPassword(c.email, c.password));
    await user.mongoClient("mongodb-atlas").db("test").collection(`persist_${user.id}`).insertOne({ from: "first process" });
    const saved = JSON.parse(readFileSync(join(dir, "realm-wasm-storage.json"), "utf8"));
    assert.equal(saved[`app(${server.appId}):user(${user.id}):refreshToken`], user.refreshToken);
    const script = `
      const { App } = require("realm-wasm");
      const app = new App({ id: process.env.APP_ID, baseUrl: process.env.BASE_URL, storage: process.env.DIR });
      const user = app.currentUser;
      user.mongoClient("mongodb-atlas").db("test").collection("persist_" + user.id).findOne({})
        .then((doc) => console.log(JSON.stringify({ id: user.id, email: user.profile.email, from: doc.from })));`;
    const out = await run(process.execPath, ["-e", script], { env: { APP_ID: server.appId, BASE_URL: server.baseUrl, DIR: dir } });
    assert.equal(out.code, 0, out.stderr);
    assert.deepEqual(JSON.parse(out.stdout), { id: user.id, email: c.email, from: "first process" });
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test("importing and constructing never touches window or localStorage in Node (SSR-safe)", async () => {
  const script = `
    for (const name of ["window", "localStorage", "document"]) {
      Object.defineProperty(globalThis, name, { get() { throw new Error(name + " was touched"); }, configurable: true });
    }
    import("realm-wasm").then(({ App }) => {
      const app = new App({ id: "ssr", baseUrl: "http://127.0.0.1:9" });
      console.log(app.currentUser === null ? "ok" : "unexpected user");
    });`;
  const out = await run(process.execPath, ["-e", script]);
  assert.equal(out.code, 0, out.stderr);
  assert.equal(out.stdout.trim(), "ok");
});

test("bad input from JavaScript rejects with TypeErrors naming the argument, never a wasm panic", async () => {
  const app = newApp();
  const user = await app.logIn(Credentials.anonymous());
  const coll = user.mongoClient("mongodb-atlas").db("test").collection("bad");
  const cases = [
    [() => coll.find(5), /find\(filter, options\): filter must be an object/],
    [() => coll.find({}, 5), /find\(filter, options\): options must be an object/],
    [() => coll.insertOne("x"), /insertOne\(document\): document must be an object/],
    [() => coll.insertMany({}), /insertMany\(documents\): documents must be an array of documents/],
    [() => coll.updateOne({}, 7), /updateOne\(filter, update, options\): update must be an object/],
    [() => app.emailPasswordAuth.registerUser({ email: "a@b.c" }), /registerUser: details\.password must be a string/],
    [() => app.logIn(Credentials.anonymous(), "yes"), /fetchProfile must be a boolean/],
  ];
  for (const [call, pattern] of cases) {
    const err = await rejection(call());
    assert.ok(err instanceof TypeError, `${pattern}: got ${err}`);
    assert.match(err.message, pattern);
  }
  assert.throws(() => Credentials.emailPassword("a@b.c"), { name: "TypeError", message: /password must be a string, got undefined/ });
  assert.throws(() => new App({ id: "x", storage: 5 }), /App config `storage`/);
  assert.throws(() => new App(42), /Missing an Atlas App Services app-id/);
  assert.throws(() => user.mongoClient(3), TypeError);
  // The module still works afterwards.
  assert.equal(await coll.count({}), 0);
});

test("errors keep realm-web's MongoDBRealmError shape", async () => {
  const app = newApp();
  const err = await rejection(app.logIn(Credentials.emailPassword("nobody@example.com", "wrong-password")));
  assert.ok(err instanceof MongoDBRealmError);
  assert.equal(err.statusCode, 401);
  assert.match(err.message, /^Request failed \(POST \S+\/local-userpass\/login\): /);
});
