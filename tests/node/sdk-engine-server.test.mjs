// The SDK against the real server's data engine (issue 4): findOneAndUpdate/Replace/Delete,
// aggregate, rules (another user's app.users documents stay invisible to find, aggregate and
// watch) and watch over SSE — change events, `ids`/`filter`, closing with break/return() (seen
// on the wire, through a TCP proxy), resume after a dropped stream without loss or repeats, the
// `resume: false` opt-out, and a resume after a server restart (the change log is in memory)
// failing clearly. A watch stream is known to be registered once its response headers arrived
// (the server fixes the stream's start before answering), which is how the tests synchronise.
import { test } from "node:test";
import assert from "node:assert/strict";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { Buffer } from "node:buffer";
import { App, Credentials, MongoDBRealmError, WatchError, BSON } from "realm-wasm";
import { useServer, newCredentials, memoryStorage, rejection } from "./helpers.mjs";
import { startServer } from "../../scripts/server.mjs";
import { createProxy } from "./fixtures/tcp-proxy.mjs";

const server = useServer();
const ejson = (v) => JSON.parse(BSON.EJSON.stringify(v, { relaxed: true }));
let unique = 0;
const collName = (tag) => `${tag}_${process.pid}_${(unique += 1)}`;

/**
 * An App whose fetch records the function calls and every watch request: `watches[i]` =
 * { args, response }, `opened(n)` resolves once n watch responses have arrived. `cut(n)` makes
 * the next watch body pass n events, then half of the next one, then fail like a dropped
 * connection.
 */
function instrumentedApp(baseUrl = server.baseUrl) {
  const calls = [];
  const watches = [];
  const waiters = [];
  const cuts = [];
  const fetchOverride = async (url, init) => {
    if (url.endsWith("/functions/call")) calls.push(JSON.parse(init.body));
    const response = await fetch(url, init);
    if (!url.includes("baas_request=")) return response;
    const request = JSON.parse(Buffer.from(decodeURIComponent(new URL(url).searchParams.get("baas_request")), "base64").toString("utf8"));
    const cut = cuts.shift();
    const answered = cut === undefined || !response.ok ? response : cutAfter(response, cut);
    watches.push({ args: request.arguments[0], response: answered });
    for (const w of waiters.splice(0)) w();
    return answered;
  };
  // Servers behind the test's proxy run with --public-url (the proxy's URL), so their location
  // answer keeps clients coming through the proxy, as behind any reverse proxy.
  const app = new App({ id: server.appId, baseUrl, timeout: 10000, storage: memoryStorage(), fetch: fetchOverride });
  return {
    app,
    calls,
    watches,
    cut: (n) => cuts.push(n),
    async opened(n) {
      while (watches.length < n) await new Promise((r) => waiters.push(r));
    },
  };
}

/** A response whose body passes `n` SSE data events, then half of the next one, then errors. */
function cutAfter(response, n) {
  const reader = response.body.getReader();
  const decoder = new TextDecoder();
  const encoder = new TextEncoder();
  let text = "";
  let passed = 0;
  let cutting = false;
  const body = new ReadableStream({
    async pull(controller) {
      if (cutting) {
        controller.error(new TypeError("terminated (connection cut by the test)"));
        await reader.cancel();
        return;
      }
      for (;;) {
        const end = text.indexOf("\n\n");
        if (end >= 0) {
          const event = text.slice(0, end + 2);
          text = text.slice(end + 2);
          if (/^data:/m.test(event)) {
            if (passed === n) {
              cutting = true;
              controller.enqueue(encoder.encode(event.slice(0, event.length >> 1)));
              return;
            }
            passed += 1;
          }
          controller.enqueue(encoder.encode(event));
          return;
        }
        const { done, value } = await reader.read();
        if (done) return controller.close();
        text += decoder.decode(value, { stream: true });
      }
    },
    cancel(reason) {
      return reader.cancel(reason);
    },
  });
  return new Response(body, { status: response.status, headers: response.headers });
}

async function emailUser(app) {
  const creds = newCredentials("engine");
  await app.emailPasswordAuth.registerUser(creds);
  return app.logIn(Credentials.emailPassword(creds.email, creds.password));
}

/** The next `n` events of a change stream. */
async function take(stream, n) {
  const out = [];
  while (out.length < n) {
    const { value, done } = await stream.next();
    assert.equal(done, false, `the stream ended after ${out.length} of ${n} events`);
    out.push(value);
  }
  return out;
}

test("findOneAndUpdate/Replace/Delete: options, results and realm-core's wire names", async () => {
  const { app, calls } = instrumentedApp();
  const user = await app.logIn(Credentials.anonymous());
  const coll = user.mongoClient("mongodb-atlas").db("engine").collection(collName("find_and"));
  await coll.insertMany([{ _id: 1, n: 1, tag: "a" }, { _id: 2, n: 2, tag: "a" }, { _id: 3, n: 3, tag: "b" }]);
  assert.deepEqual(await coll.findOneAndUpdate({ tag: "a" }, { $inc: { n: 10 } }, { sort: { n: -1 } }), { _id: 2, n: 2, tag: "a" }, "the old document by default");
  assert.deepEqual(
    await coll.findOneAndUpdate({ tag: "a" }, { $set: { seen: true } }, { sort: { n: 1 }, projection: { tag: 0 }, returnNewDocument: true }),
    { _id: 1, n: 1, seen: true },
  );
  assert.equal(await coll.findOneAndUpdate({ _id: 9 }, { $set: { u: 1 } }), null, "no match, no upsert");
  const upserted = await coll.findOneAndUpdate({ _id: 9, kind: "up" }, { $set: { u: 1 } }, { upsert: true, returnNewDocument: true });
  assert.deepEqual(upserted, { _id: 9, kind: "up", u: 1 });
  const when = new Date(1700000000000);
  assert.deepEqual(await coll.findOneAndReplace({ _id: 3 }, { r: 1, when, big: BSON.Long.fromString("9007199254740993") }, { returnNewDocument: true, projection: { big: 0 } }), { _id: 3, r: 1, when });
  const big = (await coll.findOne({ _id: 3 })).big;
  assert.ok(big instanceof BSON.Long && big.toString() === "9007199254740993", `typed Long back, got ${big}`);
  assert.equal(await coll.findOneAndReplace({ _id: 42 }, { r: 2 }), null);
  assert.deepEqual(await coll.findOneAndDelete({ tag: "a" }, { sort: { n: -1 }, projection: { n: 1 } }), { _id: 2, n: 12 });
  assert.deepEqual(await coll.find({}, { sort: { _id: 1 }, projection: { _id: 1 } }), [{ _id: 1 }, { _id: 3 }, { _id: 9 }]);
  assert.equal(await coll.findOneAndDelete({ _id: 2 }), null);
  const bad = await rejection(coll.findOneAndUpdate({ _id: 1 }, { $set: { _id: 5 } }));
  assert.ok(bad instanceof MongoDBRealmError && bad.statusCode === 400, `got ${bad}`);
  const names = calls.filter((c) => c.name.startsWith("findOneAnd")).map((c) => [c.name, Object.keys(c.arguments[0]).join(",")]);
  assert.deepEqual(names.slice(0, 2), [
    ["findOneAndUpdate", "database,collection,filter,update,sort"],
    ["findOneAndUpdate", "database,collection,filter,update,sort,projection,returnNewDocument"],
  ]);
  assert.deepEqual(names.filter(([n]) => n === "findOneAndDelete"), [
    ["findOneAndDelete", "database,collection,filter,sort,projection"],
    ["findOneAndDelete", "database,collection,filter"],
  ], "sent as findOneAndDelete, without realm-web's findOneAndReplace quirk");
});

test("aggregate: pipelines with typed values; a bad pipeline is a TypeError, an unknown stage a 400", async () => {
  const app = instrumentedApp().app;
  const user = await app.logIn(Credentials.anonymous());
  const coll = user.mongoClient("mongodb-atlas").db("engine").collection(collName("agg"));
  await coll.insertMany([
    { k: "x", v: 1, at: new Date(0) },
    { k: "x", v: 2.5, at: new Date(1000) },
    { k: "y", v: BSON.Long.fromNumber(4), at: new Date(2000) },
  ]);
  const grouped = await coll.aggregate([
    { $group: { _id: "$k", total: { $sum: "$v" }, n: { $sum: 1 }, last: { $max: "$at" } } },
    { $sort: { _id: 1 } },
  ]);
  assert.deepEqual(ejson(grouped), [
    { _id: "x", total: 3.5, n: 1 + 1, last: { $date: "1970-01-01T00:00:01Z" } },
    { _id: "y", total: 4, n: 1, last: { $date: "1970-01-01T00:00:02Z" } },
  ]);
  assert.ok(grouped[1].last instanceof Date);
  assert.deepEqual(await coll.aggregate([{ $match: { k: "x" } }, { $count: "n" }]), [{ n: 2 }]);
  assert.deepEqual(await coll.aggregate([{ $match: { k: "none" } }]), []);
  const bad = await rejection(coll.aggregate({ $match: {} }));
  assert.ok(bad instanceof TypeError);
  assert.match(bad.message, /aggregate\(pipeline\): pipeline must be an array of documents/);
  const unknown = await rejection(coll.aggregate([{ $frobnicate: {} }]));
  assert.ok(unknown instanceof MongoDBRealmError && unknown.statusCode === 400, `got ${unknown}`);
  assert.match(unknown.error, /\$frobnicate/);
});

test("rules: another user's app.users documents are invisible to find, aggregate, findOneAnd* and watch", { timeout: 30_000 }, async () => {
  const app = instrumentedApp().app;
  const alice = await emailUser(app);
  const aliceUsers = alice.mongoClient("mongodb-atlas").db("app").collection("users");
  await aliceUsers.insertOne({ userID: alice.id, secret: "alice's" });
  const { app: appB, opened } = instrumentedApp();
  const bob = await emailUser(appB);
  const bobUsers = bob.mongoClient("mongodb-atlas").db("app").collection("users");
  await bobUsers.insertOne({ userID: bob.id, secret: "bob's" });

  const seen = await bobUsers.find({});
  assert.deepEqual(seen.map((d) => [d.userID, d.secret]), [[bob.id, "bob's"]]);
  assert.deepEqual(await bobUsers.find({ userID: alice.id }), []);
  assert.equal(await bobUsers.count({ secret: "alice's" }), 0);
  assert.deepEqual((await bobUsers.aggregate([{ $match: {} }, { $project: { _id: 0, userID: 1 } }])), [{ userID: bob.id }]);
  assert.equal(await bobUsers.findOneAndUpdate({ userID: alice.id }, { $set: { secret: "stolen" } }), null);
  assert.equal(await bobUsers.findOneAndDelete({ userID: alice.id }), null);
  assert.deepEqual((await aliceUsers.find({})).map((d) => d.secret), ["alice's"], "alice's document is untouched");

  // Bob's watch: alice's change comes first in the log, bob's own next; bob sees only his.
  const changes = bobUsers.watch();
  const first = changes.next();
  await opened(1);
  await aliceUsers.updateOne({ userID: alice.id }, { $set: { secret: "alice's, changed" } });
  await aliceUsers.insertOne({ userID: alice.id, secret: "alice's second" });
  await bobUsers.updateOne({ userID: bob.id }, { $set: { secret: "bob's, changed" } });
  const { value } = await first;
  assert.equal(value.operationType, "update");
  assert.equal(value.fullDocument.userID, bob.id);
  assert.equal(value.fullDocument.secret, "bob's, changed");
  await changes.return();
});

test("watch: insert, update, replace and delete events with fullDocument and updateDescription", { timeout: 30_000 }, async () => {
  const { app, opened } = instrumentedApp();
  const user = await app.logIn(Credentials.anonymous());
  const name = collName("events");
  const coll = user.mongoClient("mongodb-atlas").db("engine").collection(name);
  const changes = coll.watch();
  const first = changes.next();
  await opened(1);
  const oid = new BSON.ObjectId();
  await coll.insertOne({ _id: oid, a: 1, s: "100% sure\n%0A", when: new Date(7) });
  await coll.updateOne({ _id: oid }, { $set: { a: 2, "nested.x": true }, $unset: { s: "" } });
  await coll.findOneAndReplace({ _id: oid }, { b: "replaced" });
  await coll.deleteOne({ _id: oid });
  const [insert, update, replace, remove] = [(await first).value, ...(await take(changes, 3))];
  for (const e of [insert, update, replace, remove]) {
    assert.deepEqual(e.ns, { db: "engine", coll: name });
    assert.ok(e.documentKey._id instanceof BSON.ObjectId && e.documentKey._id.equals(oid));
    assert.ok(e._id && typeof e._id === "object", "a resume token");
  }
  assert.deepEqual([insert, update, replace, remove].map((e) => e.operationType), ["insert", "update", "replace", "delete"]);
  assert.deepEqual(ejson(insert.fullDocument), ejson({ _id: oid, a: 1, s: "100% sure\n%0A", when: new Date(7) }));
  assert.ok(insert.fullDocument.when instanceof Date, "typed values in events");
  assert.equal(insert.updateDescription, undefined);
  assert.deepEqual(update.updateDescription, { updatedFields: { a: 2, nested: { x: true } }, removedFields: ["s"] });
  assert.deepEqual(ejson(update.fullDocument), ejson({ _id: oid, a: 2, when: new Date(7), nested: { x: true } }));
  assert.deepEqual(ejson(replace.fullDocument), ejson({ _id: oid, b: "replaced" }));
  assert.equal(replace.updateDescription, undefined);
  assert.equal(remove.fullDocument, undefined);
  assert.deepEqual(ejson(changes.resumeToken), ejson(remove._id));
  await changes.return();
});

test("watch: `ids` and `filter` select events; both together narrow further", { timeout: 30_000 }, async () => {
  const { app, opened } = instrumentedApp();
  const user = await app.logIn(Credentials.anonymous());
  const coll = user.mongoClient("mongodb-atlas").db("engine").collection(collName("select"));
  const byIds = coll.watch({ ids: [2, 4] });
  const byFilter = coll.watch({ filter: { operationType: "insert", "fullDocument.k": { $gte: 3 } } });
  const both = coll.watch({ ids: [1, 4], filter: { operationType: "update" } });
  const next = [byIds.next(), byFilter.next(), both.next()];
  await opened(3);
  for (const k of [1, 2, 3, 4]) await coll.insertOne({ _id: k, k });
  await coll.updateMany({}, { $inc: { k: 10 } });
  const summary = (e) => [e.operationType, e.documentKey._id];
  const idsEvents = [(await next[0]).value, ...(await take(byIds, 3))].map(summary);
  assert.deepEqual(idsEvents, [["insert", 2], ["insert", 4], ["update", 2], ["update", 4]]);
  const filterEvents = [(await next[1]).value, ...(await take(byFilter, 1))].map(summary);
  assert.deepEqual(filterEvents, [["insert", 3], ["insert", 4]]);
  const bothEvents = [(await next[2]).value, ...(await take(both, 1))].map(summary);
  assert.deepEqual(bothEvents, [["update", 1], ["update", 4]]);
  // The filter watch saw no update (k ≥ 3 inserts only): its next event is a later matching insert.
  await coll.insertOne({ _id: 5, k: 5 });
  assert.deepEqual(summary((await byFilter.next()).value), ["insert", 5]);
  for (const s of [byIds, byFilter, both]) await s.return();
  assert.throws(() => coll.watch({ ids: "x" }), { name: "TypeError", message: /options\.ids must be an array/ });
});

test("watch: break closes the connection (seen by the proxy in front of the server); return() ends a pending next()", { timeout: 30_000 }, async () => {
  const proxy = await createProxy();
  const proxied = await startServer({ extraArgs: ["--public-url", proxy.url] });
  proxy.release(proxied.baseUrl);
  try {
    const { app, opened, watches } = instrumentedApp(proxy.url);
    const user = await app.logIn(Credentials.anonymous());
    const coll = user.mongoClient("mongodb-atlas").db("engine").collection(collName("close"));
    const changes = coll.watch();
    const first = changes.next();
    await opened(1);
    await coll.insertMany([{ _id: 1 }, { _id: 2 }, { _id: 3 }]);
    const seen = [(await first).value.documentKey._id];
    for await (const change of changes) {
      seen.push(change.documentKey._id);
      if (seen.length === 2) break;
    }
    assert.deepEqual(seen, [1, 2]);
    const connection = await proxy.watchConnection(0);
    await connection.closed; // the client closed the watch's TCP connection (hangs, and times out, if not)
    assert.ok(connection.isClosed);
    await coll.insertOne({ _id: 4 });
    assert.deepEqual(await changes.next(), { value: undefined, done: true }, "no event after break, not even the buffered third");
    assert.equal(watches.length, 1, "no reconnect after close");

    const other = coll.watch();
    const pending = other.next();
    await opened(2);
    const returned = await other.return();
    assert.equal(returned.done, true);
    assert.deepEqual(await pending, { value: undefined, done: true }, "return() ends the pending next()");
    await (await proxy.watchConnection(1)).closed;
    await coll.insertOne({ _id: 5 });
    assert.deepEqual(await other.next(), { value: undefined, done: true });
    assert.equal(watches.length, 2);
  } finally {
    await proxy.close();
    await proxied.stop();
  }
});

test("watch: resumes after a connection cut mid-event, without losing or repeating events", { timeout: 30_000 }, async () => {
  const { app, opened, watches, cut } = instrumentedApp();
  const user = await app.logIn(Credentials.anonymous());
  const coll = user.mongoClient("mongodb-atlas").db("engine").collection(collName("resume"));
  cut(2);
  const changes = coll.watch({ filter: { operationType: "insert" } });
  const first = changes.next();
  await opened(1);
  for (let i = 1; i <= 6; i += 1) await coll.insertOne({ _id: i, s: `${i}%` });
  const events = [(await first).value, ...(await take(changes, 5))];
  assert.deepEqual(events.map((e) => e.fullDocument._id), [1, 2, 3, 4, 5, 6]);
  assert.deepEqual(events.map((e) => e.fullDocument.s), ["1%", "2%", "3%", "4%", "5%", "6%"]);
  assert.equal(watches.length, 2, "one reconnect");
  assert.equal(watches[0].args.resumeAfter, undefined);
  assert.deepEqual(watches[1].args.resumeAfter, ejson(events[1]._id), "resumed after the last event delivered");
  assert.deepEqual(watches[1].args.filter, { operationType: "insert" }, "with the same arguments");
  // Still live after the resume.
  await coll.insertOne({ _id: 7 });
  assert.equal((await changes.next()).value.fullDocument._id, 7);
  await changes.return();
});

test("watch: with resume: false a cut connection ends the stream with an error", { timeout: 30_000 }, async () => {
  const { app, opened, watches, cut } = instrumentedApp();
  const user = await app.logIn(Credentials.anonymous());
  const coll = user.mongoClient("mongodb-atlas").db("engine").collection(collName("no_resume"));
  cut(1);
  const changes = coll.watch({ resume: false });
  const first = changes.next();
  await opened(1);
  await coll.insertMany([{ _id: 1 }, { _id: 2 }, { _id: 3 }]);
  assert.equal((await first).value.documentKey._id, 1);
  const err = await rejection(changes.next());
  assert.ok(err instanceof Error, `got ${err}`);
  assert.match(err.message, /terminated \(connection cut by the test\)/);
  assert.deepEqual(await changes.next(), { value: undefined, done: true });
  assert.equal(watches.length, 1, "no reconnect");
});

test("watch: resuming across a server restart (the change log is in memory) fails clearly, never silently skips", { timeout: 30_000 }, async () => {
  const dataDir = mkdtempSync(join(tmpdir(), "realm-wasm-restart-"));
  const proxy = await createProxy();
  const first = await startServer({ dataDir, extraArgs: ["--public-url", proxy.url] });
  proxy.release(first.baseUrl);
  let second;
  try {
    const { app, opened, watches } = instrumentedApp(proxy.url);
    const user = await app.logIn(Credentials.anonymous());
    const coll = user.mongoClient("mongodb-atlas").db("engine").collection("restart");
    const changes = coll.watch();
    const firstEvent = changes.next();
    await opened(1);
    await coll.insertOne({ _id: 1 });
    assert.equal((await firstEvent).value.documentKey._id, 1);

    // Kill the server; the resume request waits at the proxy until the restarted server has
    // applied changes of its own (new event numbers that could be mistaken for the old ones).
    proxy.hold();
    const pending = changes.next();
    const exited = new Promise((r) => first.process.once("exit", r));
    first.process.kill("SIGKILL");
    await exited;
    // Without --public-url: `direct` below reaches it straight (the watching client keeps the
    // proxy's address from the first server's location answer).
    second = await startServer({ dataDir });
    const direct = new App({ id: second.appId, baseUrl: second.baseUrl, storage: memoryStorage() });
    const other = (await direct.logIn(Credentials.anonymous())).mongoClient("mongodb-atlas").db("engine").collection("restart");
    for (const id of [2, 3, 4]) await other.insertOne({ _id: id });
    proxy.release(second.baseUrl);

    const err = await rejection(pending);
    assert.equal(watches.length, 2, "one resume attempt");
    assert.ok(watches[1].args.resumeAfter, "the reconnect asked to resume");
    assert.ok(err instanceof MongoDBRealmError || err instanceof WatchError, `got ${err}`);
    assert.equal(err.errorCode ?? err.code, "ChangeStreamHistoryLost", err.message);
    assert.match(err.message, /resume token/);
    assert.deepEqual(await changes.next(), { value: undefined, done: true });
    assert.equal(await coll.count({}), 4, "the data itself survived the restart");
  } finally {
    await proxy.close();
    first.process.kill("SIGKILL");
    await second?.stop();
    rmSync(dataDir, { recursive: true, force: true });
  }
});

