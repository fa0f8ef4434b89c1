// The Data API against the SDKs: every action sent with Node's fetch and with curl gives what the
// mongodb-atlas service gives realm-web 2.0.1 and realm-wasm for the same query (each client works
// on its own copy of the same data), and the app's rules hold for the Data API as for the SDKs.
// A real realm-wasm-server serves server/tests/fixtures/endpoints-app.
import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import { createRequire } from "node:module";
import { join } from "node:path";
import * as RealmWasm from "realm-wasm";
import { startServer } from "../../scripts/server.mjs";
import { newCredentials, repoRoot, run } from "./helpers.mjs";

const require = createRequire(import.meta.url);
const RealmWeb = require("realm-web");
const server = {};

before(async () => {
  Object.assign(server, await startServer({ extraArgs: ["--app", join(repoRoot, "server/tests/fixtures/endpoints-app")] }));
});
after(async () => server.stop?.());

const action = (name) => `${server.baseUrl}/app/${server.appId}/endpoint/data/v1/action/${name}`;

/** A logged-in email/password user of `Realm` (realm-web or realm-wasm). */
async function logIn(Realm, tag) {
  const app = new Realm.App({ id: server.appId, baseUrl: server.baseUrl });
  const { email, password } = newCredentials(tag);
  await app.emailPasswordAuth.registerUser({ email, password });
  return app.logIn(Realm.Credentials.emailPassword(email, password));
}

/** A Data API call with fetch; answers the parsed body (EJSON asked for unless `accept` says otherwise). */
async function dataApi(name, body, headers, accept = "application/ejson") {
  const res = await fetch(action(name), {
    method: "POST",
    headers: { "Content-Type": "application/ejson", Accept: accept, ...headers },
    body: JSON.stringify(body),
  });
  const text = await res.text();
  assert.equal(res.status, 200, `${name}: ${text}`);
  return JSON.parse(text);
}

/** The same call with curl, the way the docs write it. */
async function curl(name, body, apiKey) {
  const { code, stdout, stderr } = await run("curl", [
    "-s", "-X", "POST", action(name),
    "-H", `apiKey: ${apiKey}`,
    "-H", "Content-Type: application/ejson",
    "-H", "Accept: application/ejson",
    "--data-raw", JSON.stringify(body),
  ]);
  assert.equal(code, 0, stderr);
  return JSON.parse(stdout);
}

// Documents with the types the SDKs round-trip (no integral doubles: a JS number cannot tell them apart).
const seed = (B) => [
  { _id: 1, text: "Mop", status: "open", n: 1, when: new Date(Date.UTC(2024, 0, 2)), tags: ["a", "b"] },
  { _id: 2, text: "Clean", status: "open", n: 2.5, ref: new B.ObjectId("5d505646cf6d4fe581014ab2"), price: B.Decimal128.fromString("9.99") },
  { _id: 3, text: "Cook", status: "done", n: 3, big: B.Long.fromString("1234567890123"), nested: { deep: { x: "y" } } },
  { _id: 4, text: "Shop", status: "open", n: -4, bytes: new B.Binary(new Uint8Array([1, 2, 3])) },
];

/** One action on each side: the SDK collection call, and the Data API body with how to read its answer. */
const steps = [
  ["insertMany", (c, B) => c.insertMany(seed(B)), (B) => ({ documents: seed(B) }), (r) => r],
  ["insertOne", (c) => c.insertOne({ _id: 5, text: "Wash", status: "open", n: 5 }), () => ({ document: { _id: 5, text: "Wash", status: "open", n: 5 } }), (r) => r],
  ["findOne", (c) => c.findOne({ _id: 2 }), () => ({ filter: { _id: 2 } }), (r) => r.document],
  ["findOne projection", (c) => c.findOne({ status: "done" }, { projection: { text: 1, big: 1 } }), () => ({ filter: { status: "done" }, projection: { text: 1, big: 1 } }), (r) => r.document],
  ["findOne none", (c) => c.findOne({ _id: 99 }), () => ({ filter: { _id: 99 } }), (r) => r.document],
  ["find", (c) => c.find({ status: "open" }, { sort: { n: -1 }, limit: 3 }), () => ({ filter: { status: "open" }, sort: { n: -1 }, limit: 3 }), (r) => r.documents],
  ["find all", (c) => c.find({}), () => ({ filter: {} }), (r) => r.documents],
  ["find skip", async (c) => (await c.find({}, { sort: { _id: 1 } })).slice(2), () => ({ filter: {}, sort: { _id: 1 }, skip: 2 }), (r) => r.documents],
  ["updateOne", (c) => c.updateOne({ _id: 1 }, { $set: { status: "done" }, $inc: { n: 10 } }), () => ({ filter: { _id: 1 }, update: { $set: { status: "done" }, $inc: { n: 10 } } }), (r) => r],
  ["updateOne upsert", (c) => c.updateOne({ _id: 6 }, { $set: { text: "New" } }, { upsert: true }), () => ({ filter: { _id: 6 }, update: { $set: { text: "New" } }, upsert: true }), (r) => r],
  ["updateMany", (c) => c.updateMany({ status: "open" }, { $set: { status: "later" } }), () => ({ filter: { status: "open" }, update: { $set: { status: "later" } } }), (r) => r],
  // realm-web has no replaceOne: the service's updateOne with a replacement document does the same.
  ["replaceOne", (c) => c.updateOne({ _id: 3 }, { text: "Cook dinner", n: 30 }), () => ({ filter: { _id: 3 }, replacement: { text: "Cook dinner", n: 30 } }), (r) => r],
  ["aggregate", (c) => c.aggregate([{ $group: { _id: "$status", n: { $sum: 1 } } }, { $sort: { _id: 1 } }]), () => ({ pipeline: [{ $group: { _id: "$status", n: { $sum: 1 } } }, { $sort: { _id: 1 } }] }), (r) => r.documents],
  ["deleteOne", (c) => c.deleteOne({ status: "later" }), () => ({ filter: { status: "later" } }), (r) => r],
  ["find after", (c) => c.find({}, { sort: { _id: 1 } }), () => ({ filter: {}, sort: { _id: 1 } }), (r) => r.documents],
  ["deleteMany", (c) => c.deleteMany({}), () => ({ filter: {} }), (r) => r],
];

/** A value as canonical EJSON text, after `Realm`'s own EJSON reading (what its SDK would show). */
const canonical = (Realm, value) => JSON.stringify(Realm.BSON.EJSON.serialize(value, { relaxed: false }));
// The SDKs read answers with EJSON.deserialize's defaults (relaxed: a Long that fits is a number).
const viaSdkReading = (Realm, ejson) => canonical(Realm, Realm.BSON.EJSON.deserialize(ejson));

test("every Data API action, by fetch and by curl, answers what the service gives realm-web and realm-wasm", async () => {
  const results = {};
  for (const [label, Realm] of [["realm-web", RealmWeb], ["realm-wasm", RealmWasm]]) {
    const user = await logIn(Realm, `dataapi-${label}`);
    const { key } = await user.apiKeys.create(`k-${label}`);
    const sdk = user.mongoClient("mongodb-atlas").db("app").collection(`sdk_${label}`);
    const ns = (which) => ({ dataSource: "mongodb-atlas", database: "app", collection: `${which}_${label}` });
    for (const [name, sdkCall, body, read] of steps) {
      const action = name.split(" ")[0];
      const expected = canonical(Realm, await sdkCall(sdk, Realm.BSON));
      const byFetch = read(await dataApi(action, { ...ns("fetch"), ...Realm.BSON.EJSON.serialize(body(Realm.BSON), { relaxed: false }) }, { Authorization: `Bearer ${user.accessToken}` }));
      assert.equal(viaSdkReading(Realm, byFetch), expected, `${label} ${name}: fetch`);
      const byCurl = read(await curl(action, { ...ns("curl"), ...Realm.BSON.EJSON.serialize(body(Realm.BSON), { relaxed: false }) }, key));
      assert.equal(viaSdkReading(Realm, byCurl), expected, `${label} ${name}: curl`);
      (results[name] ??= []).push(expected);
    }
  }
  for (const [name, [web, wasm]] of Object.entries(results)) assert.equal(wasm, web, `the two SDKs agree on ${name}`);
  assert.equal(Object.keys(results).length, steps.length);
});

test("JSON answers convert the types as the Data API documented; EJSON keeps them", async () => {
  const user = await logIn(RealmWeb, "dataapi-json");
  const B = RealmWeb.BSON;
  const ns = { dataSource: "mongodb-atlas", database: "app", collection: `json_${user.id}` };
  const auth = { Authorization: `Bearer ${user.accessToken}` };
  await dataApi("insertMany", { ...ns, documents: B.EJSON.serialize(seed(B), { relaxed: false }) }, auth);
  await dataApi("insertOne", { ...ns, document: { _id: 9, big: { $numberLong: "9007199254740993" } } }, auth);
  const res = await fetch(action("find"), {
    method: "POST",
    headers: { "Content-Type": "application/json", Accept: "application/json", ...auth },
    body: JSON.stringify({ ...ns, filter: {}, sort: { _id: 1 } }),
  });
  assert.equal(res.headers.get("content-type"), "application/json");
  const text = await res.text();
  assert.ok(text.includes('"big":9007199254740993'), `an Int64 is an exact JSON number: ${text}`);
  assert.deepEqual(JSON.parse(text).documents.slice(0, 4), [
    { _id: 1, text: "Mop", status: "open", n: 1, when: "2024-01-02T00:00:00.000Z", tags: ["a", "b"] },
    { _id: 2, text: "Clean", status: "open", n: 2.5, ref: "5d505646cf6d4fe581014ab2", price: "9.99" },
    { _id: 3, text: "Cook", status: "done", n: 3, big: 1234567890123, nested: { deep: { x: "y" } } },
    { _id: 4, text: "Shop", status: "open", n: -4, bytes: { Subtype: 0, Data: "AQID" } },
  ]);
  const { insertedId } = await dataApi("insertOne", { ...ns, document: { when: { $date: { $numberLong: "0" } } } }, auth, "application/json");
  assert.match(insertedId, /^[0-9a-f]{24}$/, "an ObjectId _id as its hex string");
  const ejson = await dataApi("findOne", { ...ns, filter: { _id: 2 } }, auth);
  assert.deepEqual(ejson.document.ref, { $oid: "5d505646cf6d4fe581014ab2" });
  assert.deepEqual(ejson.document.price, { $numberDecimal: "9.99" });
});

test("the app's rules hold for the Data API as for the SDKs", async () => {
  const ada = await logIn(RealmWeb, "dataapi-ada");
  const bob = await logIn(RealmWasm, "dataapi-bob");
  const notes = (user) => user.mongoClient("mongodb-atlas").db("app").collection("notes");
  await notes(ada).insertOne({ _id: `ada-${ada.id}`, owner_id: ada.id, text: "ada's" });
  const ns = { dataSource: "mongodb-atlas", database: "app", collection: "notes" };
  const bobSees = await dataApi("find", { ...ns, filter: {} }, { Authorization: `Bearer ${bob.accessToken}` });
  assert.deepEqual(bobSees.documents, RealmWasm.BSON.EJSON.serialize(await notes(bob).find({}), { relaxed: false }), "bob sees through the Data API what his SDK shows him");
  assert.ok(!JSON.stringify(bobSees).includes("ada's"));
  const res = await fetch(action("insertOne"), {
    method: "POST",
    headers: { "Content-Type": "application/json", Authorization: `Bearer ${bob.accessToken}` },
    body: JSON.stringify({ ...ns, document: { owner_id: ada.id, text: "forged" } }),
  });
  assert.equal(res.status, 403);
  assert.equal((await res.json()).error_code, "NotPermitted");
  const adaSees = await dataApi("find", { ...ns, filter: {}, projection: { _id: 0, text: 1 } }, { Authorization: `Bearer ${ada.accessToken}` });
  assert.deepEqual(adaSees.documents, [{ text: "ada's" }]);
});
