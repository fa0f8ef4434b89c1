// The engine's conformance cases (server/tests/conformance/cases.json) through real clients:
// the unmodified realm-web 2.0.1 (every case, plus findOneAndDelete's wire quirk and watch) and
// realm-wasm (every operation it exposes: find, count, aggregate, insert*, update*, delete*,
// findOneAndUpdate/Replace/Delete). Both clients log every answer; realm-wasm's log must equal
// realm-web's, except findOneAndDelete (realm-web sends it as findOneAndReplace, protocol §7),
// which is checked against the cases' expectations only.
import { test } from "node:test";
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { createRequire } from "node:module";
import * as RealmWasm from "realm-wasm";
import { useServer, repoRoot } from "./helpers.mjs";

const require = createRequire(import.meta.url);
const RealmWeb = require("realm-web");
const server = useServer();
const groups = JSON.parse(readFileSync(join(repoRoot, "server/tests/conformance/cases.json"), "utf8"));

/** Canonical extended JSON → values of the given BSON library (operator documents stay as they are). */
function fromCanonical(v, BSON) {
  if (Array.isArray(v)) return v.map((x) => fromCanonical(x, BSON));
  if (v === null || typeof v !== "object") return typeof v === "number" ? (Number.isInteger(v) ? new BSON.Int32(v) : new BSON.Double(v)) : v;
  if ("$numberLong" in v) return BSON.Long.fromString(v.$numberLong);
  if ("$numberInt" in v) return new BSON.Int32(Number(v.$numberInt));
  if ("$numberDouble" in v) return new BSON.Double(Number(v.$numberDouble));
  if ("$oid" in v) return new BSON.ObjectId(v.$oid);
  if ("$date" in v) return new Date(Number(v.$date.$numberLong));
  if ("$regularExpression" in v) return new BSON.BSONRegExp(v.$regularExpression.pattern, v.$regularExpression.options);
  return Object.fromEntries(Object.entries(v).map(([k, x]) => [k, fromCanonical(x, BSON)]));
}

/** A comparable plain form: relaxed EJSON (numbers as numbers, dates and ids as EJSON). */
const plain = (v, BSON) => JSON.parse(BSON.EJSON.stringify(v, { relaxed: true }));

/** Runs every case; returns the number of checks and the log of every answer (plain form). */
async function runCases(label, user, BSON, { findOneAndDelete = false } = {}) {
  const mongo = user.mongoClient("mongodb-atlas");
  const conv = (v) => fromCanonical(v, BSON);
  const log = [];
  const expect = (got, want, what) => {
    log.push([what, plain(got, BSON)]);
    assert.deepEqual(plain(got, BSON), plain(conv(want), BSON), `${label}: ${what}`);
  };
  const byId = (a, b) => a._id - b._id;
  let checks = 0;
  for (const [g, group] of groups.entries()) {
    const db = mongo.db(`${label}${g}`);
    const coll = db.collection("c");
    const docs = group.docs ?? [];
    if (docs.length) await coll.insertMany(conv(docs));
    for (const [name, fdocs] of Object.entries(group.foreign ?? {})) await db.collection(name).insertMany(conv(fdocs));
    for (const c of group.cases ?? []) {
      const want = c.ids ? docs.filter((d) => c.ids.includes(d._id)) : c.expect;
      const opts = {};
      if (c.projection) opts.projection = conv(c.projection);
      if (c.sort) opts.sort = c.sort;
      if (c.limit) opts.limit = c.limit;
      expect(await coll.find(conv(c.filter), opts), want, `find ${JSON.stringify(c.filter)} ${JSON.stringify(opts)}`);
      if (!c.ids) continue;
      assert.equal(await coll.count(conv(c.filter)), c.ids.length, `${label}: count ${JSON.stringify(c.filter)}`);
      checks += 1;
    }
    for (const c of group.filter_errors ?? []) {
      await assert.rejects(coll.find(conv(c.filter)), (err) => err.statusCode === 400 && err.error.includes(c.error), `${label}: ${JSON.stringify(c.filter)}`);
      checks += 1;
    }
    for (const c of group.pipelines ?? []) {
      const run = coll.aggregate(conv(c.pipeline));
      if (c.error) await assert.rejects(run, (err) => err.statusCode === 400 && err.error.includes(c.error));
      else expect(await run, c.expect, `aggregate ${JSON.stringify(c.pipeline)}`);
      checks += 1;
    }
    for (const [i, c] of (group.update_cases ?? []).entries()) {
      const u = db.collection(`u${i}`);
      if (c.docs.length) await u.insertMany(conv(c.docs));
      const opts = {};
      if (c.upsert) opts.upsert = true;
      if (c.arrayFilters) opts.arrayFilters = conv(c.arrayFilters);
      const result = await (c.many ? u.updateMany : u.updateOne).call(u, conv(c.filter), conv(c.update), opts);
      expect(result, c.result, `update ${JSON.stringify(c.update)} result`);
      expect(await u.find({}), c.after, `update ${JSON.stringify(c.update)} documents`);
      checks += 2;
    }
    // findOneAndUpdate with the single-document update cases (realm-web's options have no arrayFilters):
    // the collection afterwards is the case's `after`, the answer the document as updated (or null).
    for (const [i, c] of (group.update_cases ?? []).entries()) {
      if (c.many || c.arrayFilters) continue;
      const u = db.collection(`fu${i}`);
      if (c.docs.length) await u.insertMany(conv(c.docs));
      // A replacement document goes through findOneAndReplace (findOneAndUpdate wants operators).
      const replace = !Object.keys(c.update).some((k) => k.startsWith("$"));
      const got = await (replace ? u.findOneAndReplace : u.findOneAndUpdate).call(u, conv(c.filter), conv(c.update), { upsert: !!c.upsert, returnNewDocument: true });
      const touched = c.result.matchedCount > 0 || c.result.upsertedId !== undefined;
      const want = touched ? c.after.find((d) => JSON.stringify(plain(conv(d), BSON)) === JSON.stringify(plain(got, BSON))) : null;
      assert.ok(!touched || want, `${label}: findOneAndUpdate ${JSON.stringify(c.update)} answered ${JSON.stringify(plain(got, BSON))}, not one of ${JSON.stringify(c.after)}`);
      expect(got, want, `findOneAndUpdate ${JSON.stringify(c.filter)} ${JSON.stringify(c.update)}`);
      expect(await u.find({}), c.after, `findOneAndUpdate ${JSON.stringify(c.update)} documents`);
      checks += 2;
    }
    for (const [i, c] of (group.update_errors ?? []).entries()) {
      const u = db.collection(`fe${i}`);
      if (c.docs.length) await u.insertMany(conv(c.docs));
      const replace = !Object.keys(c.update).some((k) => k.startsWith("$"));
      await assert.rejects((replace ? u.findOneAndReplace : u.findOneAndUpdate).call(u, conv(c.filter), conv(c.update)), (err) => err.statusCode === 400 && err.error.includes(c.error), `${label}: findOneAndUpdate ${JSON.stringify(c.update)}`);
      expect(await u.find({}), c.docs, `findOneAndUpdate ${JSON.stringify(c.update)} changed nothing`);
      checks += 1;
    }
    // findOneAndReplace (and findOneAndDelete) with every filter case: the first match by _id.
    for (const [i, c] of (group.cases ?? []).entries()) {
      if (!c.ids) continue;
      const matches = docs.filter((d) => c.ids.includes(d._id)).sort(byId);
      const r = db.collection(`fr${i}`);
      if (docs.length) await r.insertMany(conv(docs));
      const old = await r.findOneAndReplace(conv(c.filter), { replaced: i }, { sort: { _id: 1 } });
      expect(old, matches[0] ?? null, `findOneAndReplace ${JSON.stringify(c.filter)}`);
      const now = await r.findOneAndReplace({ replaced: i }, { replaced: -i }, { returnNewDocument: true, projection: { _id: 0 } });
      expect(now, matches.length ? { replaced: -i } : null, `findOneAndReplace ${JSON.stringify(c.filter)} returnNewDocument`);
      checks += 2;
      if (!findOneAndDelete) continue;
      const d = db.collection(`fd${i}`);
      if (docs.length) await d.insertMany(conv(docs));
      const gone = await d.findOneAndDelete(conv(c.filter), { sort: { _id: -1 } });
      assert.deepEqual(plain(gone, BSON), plain(conv(matches.at(-1) ?? null), BSON), `${label}: findOneAndDelete ${JSON.stringify(c.filter)}`);
      assert.equal(await d.count({}), docs.length - (matches.length ? 1 : 0), `${label}: findOneAndDelete ${JSON.stringify(c.filter)} deleted one`);
      checks += 2;
    }
    checks += (group.cases ?? []).length;
  }
  return { checks, log };
}

let realmWebLog;

test("realm-web 2.0.1 gets the conformance suite's answers", async () => {
  const app = new RealmWeb.App({ id: server.appId, baseUrl: server.baseUrl });
  const user = await app.logIn(RealmWeb.Credentials.anonymous());
  const { checks, log } = await runCases("rw", user, RealmWeb.BSON);
  assert.ok(checks >= 480, `${checks} checks`);
  realmWebLog = log;
});

test("realm-wasm gets the conformance suite's answers for every operation, the same as realm-web's", async () => {
  const app = new RealmWasm.App({ id: server.appId, baseUrl: server.baseUrl });
  const user = await app.logIn(RealmWasm.Credentials.anonymous());
  const { checks, log } = await runCases("wasm", user, RealmWasm.BSON, { findOneAndDelete: true });
  assert.ok(checks >= 670, `${checks} checks`);
  assert.ok(realmWebLog, "the realm-web run went first");
  assert.equal(log.length, realmWebLog.length);
  for (const [i, entry] of log.entries()) assert.deepEqual(entry, realmWebLog[i]);
});

test("realm-web: findOneAnd* (including its findOneAndDelete wire quirk) and watch", async () => {
  const app = new RealmWeb.App({ id: server.appId, baseUrl: server.baseUrl });
  const user = await app.logIn(RealmWeb.Credentials.anonymous());
  const coll = user.mongoClient("mongodb-atlas").db("rw-find-and").collection("jobs");
  await coll.insertMany([{ _id: 1, n: 1 }, { _id: 2, n: 2 }, { _id: 3, n: 3 }]);
  assert.deepEqual(await coll.findOneAndUpdate({ n: { $gte: 2 } }, { $inc: { n: 10 } }, { sort: { n: -1 } }), { _id: 3, n: 3 });
  assert.deepEqual(await coll.findOneAndUpdate({ _id: 2 }, { $set: { t: true } }, { returnNewDocument: true, projection: { n: 0 } }), { _id: 2, t: true });
  assert.deepEqual(await coll.findOneAndReplace({ _id: 1 }, { r: 1 }, { returnNewDocument: true }), { _id: 1, r: 1 });
  assert.deepEqual(await coll.findOneAndUpdate({ _id: 9 }, { $set: { u: 1 } }, { upsert: true, returnNewDocument: true }), { _id: 9, u: 1 });
  // realm-web sends this as findOneAndReplace without `update`: the server deletes, as meant.
  assert.deepEqual(await coll.findOneAndDelete({ _id: 2 }), { _id: 2, n: 2, t: true });
  assert.equal(await coll.count({ _id: 2 }), 0);

  const watched = user.mongoClient("mongodb-atlas").db("rw-watch").collection("c");
  const changes = watched.watch({ filter: { operationType: "insert" } });
  const first = changes.next();
  // The stream opens on the first next(); keep inserting until its first event arrives.
  let event;
  for (let i = 0; i < 200 && !event; i += 1) {
    await watched.insertOne({ i, s: "50% off\n" });
    event = await Promise.race([first, Promise.resolve(undefined)]);
  }
  event ??= await first;
  assert.equal(event.value.operationType, "insert");
  assert.equal(event.value.fullDocument.s, "50% off\n");
  assert.ok(event.value.documentKey._id instanceof RealmWeb.BSON.ObjectId);
  await changes.return();
});
