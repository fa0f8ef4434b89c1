// The one-call fast path of the collection methods (`call` in src/wasm/codec.js), against a real
// realm-wasm-server: every single-request method, with its options, answers exactly as realm-web
// 2.0.1 answers and sends the same arguments; an error answer gives realm-web's MongoDBRealmError;
// an app `timeout` fires with the error the Rust transport gives; a 401 InvalidSession is refreshed
// and retried once. A call took the fast path when `fetch` was called synchronously inside the
// method call (the usual path calls it after a microtask): every test checks that it did.
import { test } from "node:test";
import assert from "node:assert/strict";
import { createRequire } from "node:module";
import * as RealmWasm from "realm-wasm";
import { useServer, memoryStorage, rejection, typed } from "./helpers.mjs";

const require = createRequire(import.meta.url);
const RealmWeb = require("realm-web");
const { BSON } = RealmWasm;
const server = useServer();

/** A fetch override recording each functions/call: whether it was sent inside `run`, its body and token. */
function recorder(answer = (url, init) => fetch(url, init)) {
  const r = { inCall: false, calls: [], sessions: 0 };
  r.fetch = (url, init) => {
    const href = String(url);
    if (href.endsWith("/auth/session") && init?.method === "POST") r.sessions += 1;
    if (!href.endsWith("/functions/call")) return fetch(url, init);
    r.calls.push({ sync: r.inCall, body: JSON.parse(init.body), authorization: init.headers.Authorization, signal: init.signal });
    return answer(url, init);
  };
  /** Runs `fn` (one SDK call) and returns its promise; `r.last()` then tells how it was sent. */
  r.run = (fn) => {
    r.inCall = true;
    try {
      return fn();
    } finally {
      r.inCall = false;
    }
  };
  r.last = () => r.calls.at(-1);
  return r;
}

let appCount = 0;
async function wasmCollection(extra = {}, answer) {
  const rec = recorder(answer);
  const app = new RealmWasm.App({ id: server.appId, baseUrl: server.baseUrl, storage: memoryStorage(), fetch: rec.fetch, ...extra });
  const user = await app.logIn(RealmWasm.Credentials.anonymous());
  const coll = user.mongoClient("mongodb-atlas").db("fastpath").collection(`wasm_${appCount++}_${user.id}`);
  return { rec, app, user, coll };
}

async function webCollection() {
  const rec = recorder();
  const app = new RealmWeb.App({ id: server.appId, baseUrl: server.baseUrl, fetch: rec.fetch });
  const user = await app.logIn(RealmWeb.Credentials.anonymous());
  return { rec, coll: user.mongoClient("mongodb-atlas").db("fastpath").collection(`web_${user.id}`) };
}

const oid = (n) => new BSON.ObjectId(n.toString(16).padStart(24, "0"));
const docs = [1, 2, 3, 4, 5].map((n) => ({
  _id: oid(n),
  n,
  tag: n % 2 ? "odd" : "even",
  tags: ["a", `t${n}`],
  score: n + 0.5,
  at: new Date(Date.UTC(2024, 0, n)),
  big: BSON.Long.fromNumber(2 ** 40 + n),
}));

// [name, call]: each runs on both SDKs, in this order, against collections with the same content.
const calls = [
  ["insertMany", (c) => c.insertMany(docs)],
  ["insertOne", (c) => c.insertOne({ _id: oid(6), n: 6, tag: "even", nested: { a: { b: [1, { c: "x\"é" }] } }, none: null })],
  ["find with projection, sort, limit", (c) => c.find({ tag: "odd" }, { projection: { n: 1, tag: 1 }, sort: { n: -1 }, limit: 2 })],
  ["find without arguments", (c) => c.find()],
  ["findOne with projection and sort", (c) => c.findOne({ n: { $gte: 2 } }, { projection: { _id: 0, n: 1, at: 1 }, sort: { n: -1 } })],
  ["findOne without a match", (c) => c.findOne({ n: 999 })],
  ["count with limit", (c) => c.count({ tag: "even" }, { limit: 2 })],
  ["count without arguments", (c) => c.count()],
  ["aggregate", (c) => c.aggregate([{ $match: { tag: "odd" } }, { $group: { _id: "$tag", total: { $sum: "$n" } } }])],
  ["updateOne with upsert: false", (c) => c.updateOne({ n: 1 }, { $set: { s: "x" } }, { upsert: false })],
  ["updateOne upserting", (c) => c.updateOne({ _id: oid(100) }, { $set: { s: "new" } }, { upsert: true })],
  ["updateOne with arrayFilters", (c) => c.updateOne({ _id: oid(1) }, { $set: { "tags.$[t]": "z" } }, { arrayFilters: [{ t: "a" }] })],
  ["updateMany", (c) => c.updateMany({ tag: "odd" }, { $inc: { n: 10 } }, { upsert: false })],
  ["findOneAndUpdate returning the new document", (c) => c.findOneAndUpdate({ _id: oid(2) }, { $set: { s: "y" } }, { returnNewDocument: true, projection: { s: 1, n: 1 } })],
  ["findOneAndUpdate upserting", (c) => c.findOneAndUpdate({ _id: oid(200) }, { $set: { s: "up" } }, { upsert: true, returnNewDocument: true })],
  ["findOneAndReplace", (c) => c.findOneAndReplace({ _id: oid(3) }, { n: 33, replaced: true }, { returnNewDocument: true })],
  ["findOneAndReplace without a match", (c) => c.findOneAndReplace({ n: 999 }, { x: 1 }, { sort: { n: 1 } })],
  ["deleteOne", (c) => c.deleteOne({ _id: oid(1) })],
  ["deleteMany", (c) => c.deleteMany({ tag: "odd" })],
  ["find of what is left", (c) => c.find({}, { sort: { _id: 1 } })],
];

test("every single-request method, with options, answers on the fast path as realm-web 2.0.1 does and sends the same arguments", async () => {
  const wasm = await wasmCollection({ timeout: 10000 });
  const web = await webCollection();
  for (const [name, call] of calls) {
    const ours = await wasm.rec.run(() => call(wasm.coll));
    const theirs = await call(web.coll);
    assert.equal(wasm.rec.last().sync, true, `${name}: sent on the fast path`);
    assert.deepStrictEqual(typed(ours), typed(theirs), name);
    const [a, b] = [wasm.rec.last().body, web.rec.last().body];
    assert.equal(a.name, b.name, name);
    const strip = ({ database, collection, ...rest }) => rest;
    assert.deepStrictEqual(strip(a.arguments[0]), strip(b.arguments[0]), `${name}: arguments`);
  }
});

test("findOneAndDelete with sort and projection on the fast path (realm-web sends it as findOneAndReplace)", async () => {
  const { rec, coll } = await wasmCollection();
  await coll.insertMany(docs);
  const options = { sort: { n: -1 }, projection: { n: 1 } };
  const deleted = await rec.run(() => coll.findOneAndDelete({ tag: "even" }, options));
  assert.equal(rec.last().sync, true);
  assert.deepStrictEqual(deleted, { _id: oid(4), n: 4 });
  assert.deepEqual(rec.last().body.arguments[0], {
    database: "fastpath",
    collection: coll.name,
    filter: { tag: "even" },
    sort: { n: { $numberInt: "-1" } },
    projection: { n: { $numberInt: "1" } },
  });
  assert.equal(await coll.count({ tag: "even" }), 1);
  assert.equal(await rec.run(() => coll.findOneAndDelete({ n: 999 })), null);
});

test("an error answer on the fast path is realm-web's MongoDBRealmError, field for field", async () => {
  const wasm = await wasmCollection();
  const web = await webCollection();
  const bad = (c) => c.updateOne({}, { $nonsense: { a: 1 } }, { upsert: true });
  const ours = await rejection(wasm.rec.run(() => bad(wasm.coll)));
  assert.equal(wasm.rec.last().sync, true);
  const theirs = await rejection(bad(web.coll));
  assert.ok(ours instanceof RealmWasm.MongoDBRealmError, `got ${ours}`);
  assert.ok(theirs instanceof RealmWeb.MongoDBRealmError, `got ${theirs}`);
  for (const field of ["method", "statusCode", "statusText", "error", "errorCode", "link"]) {
    assert.deepEqual(ours[field], theirs[field], field);
  }
  assert.equal(ours.url.replace(/\/app\/[^/]+\//, "/"), theirs.url.replace(/\/app\/[^/]+\//, "/"));
});

// A Decimal128 argument is one the JS encoder declines: that call takes the usual (Rust) path.
const usualPathFilter = () => ({ d: BSON.Decimal128.fromString("1.5") });

test("an app timeout fires on the fast path with the Rust transport's error, and aborts the request", { timeout: 20_000 }, async () => {
  for (const honoursSignal of [true, false]) {
    // Never answers a function call; like the real fetch, optionally rejects once aborted.
    const hang = (_url, init) =>
      new Promise((_resolve, reject) => {
        if (honoursSignal) init.signal.addEventListener("abort", () => reject(init.signal.reason));
      });
    const { rec, coll } = await wasmCollection({ timeout: 300 }, hang);
    const fast = await rejection(rec.run(() => coll.findOne({ n: 1 }, { projection: { n: 1 } })));
    const fastCall = rec.last();
    const usual = await rejection(rec.run(() => coll.findOne(usualPathFilter(), { projection: { n: 1 } })));
    const usualCall = rec.last();
    assert.deepEqual([fastCall.sync, usualCall.sync], [true, false], "one call on each path");
    assert.ok(fastCall.signal.aborted && usualCall.signal.aborted, "both requests aborted");
    assert.equal(fast.constructor, usual.constructor);
    assert.equal(fast.name, usual.name);
    assert.equal(fast.message, usual.message);
    assert.match(fast.message, /timed out after 300 ms/);
  }
});

test("a 401 InvalidSession on the fast path is refreshed and retried once; a second one is the error", async () => {
  let expire = 0;
  // The next `expire` function calls are answered 401 InvalidSession; the rest reach the server.
  const answer = (url, init) => {
    if (expire > 0) {
      expire -= 1;
      const body = JSON.stringify({ error: "invalid session: access token expired", error_code: "InvalidSession" });
      return Promise.resolve(new Response(body, { status: 401, statusText: "Unauthorized", headers: { "content-type": "application/json" } }));
    }
    return fetch(url, init);
  };
  const { rec, coll, user } = await wasmCollection({ timeout: 10000 }, answer);
  await coll.insertMany(docs);

  expire = 1;
  const before = { calls: rec.calls.length, sessions: rec.sessions, token: user.accessToken };
  const found = await rec.run(() => coll.find({ tag: "odd" }, { projection: { _id: 0, n: 1 }, sort: { n: 1 } }));
  assert.deepStrictEqual(found, [{ n: 1 }, { n: 3 }, { n: 5 }]);
  const [first, retry] = rec.calls.slice(before.calls);
  assert.equal(rec.calls.length - before.calls, 2, "one retry");
  assert.equal(rec.sessions - before.sessions, 1, "one refresh");
  assert.equal(first.sync, true, "the first attempt went out on the fast path");
  // (The server may issue the same token again within one second.)
  assert.equal(first.authorization, `Bearer ${before.token}`);
  assert.equal(retry.authorization, `Bearer ${user.accessToken}`);
  assert.deepEqual(retry.body, first.body);

  expire = 2;
  const again = { calls: rec.calls.length, sessions: rec.sessions };
  const err = await rejection(rec.run(() => coll.updateOne({ n: 2 }, { $set: { s: "z" } }, { upsert: false })));
  assert.ok(err instanceof RealmWasm.MongoDBRealmError, `got ${err}`);
  assert.equal(err.statusCode, 401);
  assert.equal(err.errorCode, "InvalidSession");
  assert.equal(rec.calls.length - again.calls, 2, "retried once only");
  assert.equal(rec.sessions - again.sessions, 1);
  assert.equal(user.isLoggedIn, true);
  assert.equal(await coll.count({ s: "z" }), 0);
});

test("odd 2xx answers continue in Rust on the fast path with the usual errors and values", async () => {
  let reply = null;
  const answer = (url, init) => (reply ? Promise.resolve(reply()) : fetch(url, init));
  const { rec, coll } = await wasmCollection({}, answer);
  const both = async (call) => {
    const fast = await rec.run(() => call({ n: 1 })).catch((e) => e);
    const fastSync = rec.last().sync;
    const usual = await rec.run(() => call(usualPathFilter())).catch((e) => e);
    assert.deepEqual([fastSync, rec.last().sync], [true, false]);
    return [fast, usual];
  };
  const cases = [
    () => new Response("not json", { status: 200, headers: { "content-type": "text/plain" } }),
    () => new Response(null, { status: 204 }),
    () => new Response("  ", { status: 200, headers: { "content-type": "application/json" } }),
    () => new Response('{"a":{"$numberDecimal":"1.5"},"b":{"$binary":{"base64":"AAE=","subType":"00"}}}', { status: 200, headers: { "content-type": "application/json" } }),
    () => new Response('{"a":{"$oid":5}}', { status: 200, headers: { "content-type": "application/json" } }),
    () => null,
  ];
  for (const make of cases) {
    reply = make;
    const [fast, usual] = await both((filter) => coll.findOne(filter, { sort: { n: 1 } }));
    if (usual instanceof Error) {
      assert.ok(fast instanceof Error, `${make}: got ${fast}`);
      assert.equal(fast.constructor, usual.constructor, String(make));
      assert.equal(fast.message, usual.message, String(make));
    } else {
      assert.deepStrictEqual(fast, usual, String(make));
    }
  }
});
