// Compatibility: the unmodified realm-web 2.0.1 client runs the same flow against realm-wasm-server,
// and documents written by realm-web read back identically through realm-wasm.
import { test } from "node:test";
import assert from "node:assert/strict";
import { createRequire } from "node:module";
import * as RealmWasm from "realm-wasm";
import { useServer, newCredentials, rejection, typed } from "./helpers.mjs";

const require = createRequire(import.meta.url);
const RealmWeb = require("realm-web");
const server = useServer();

test("realm-web 2.0.1 runs the custom-user-data flow against realm-wasm-server", async () => {
  const { email, password } = newCredentials("realmweb");
  // 2. Unchanged except baseUrl.
  const app = new RealmWeb.App({ id: server.appId, baseUrl: server.baseUrl });
  // 3.
  await app.emailPasswordAuth.registerUser({ email, password });
  // 4.
  const user = await app.logIn(RealmWeb.Credentials.emailPassword(email, password));
  assert.equal(typeof user.id, "string");
  assert.equal(user.isLoggedIn, true);
  assert.equal(user.profile.email, email);
  // 5.
  const coll = user.mongoClient("mongodb-atlas").db("app").collection("users");
  const inserted = await coll.insertOne({ userID: user.id, description: "realm-web user" });
  assert.ok(inserted.insertedId instanceof RealmWeb.BSON.ObjectId);
  const updated = await coll.updateOne({ userID: user.id }, { $set: { favoriteColor: "pink" } });
  assert.deepEqual(updated, { matchedCount: 1, modifiedCount: 1 });
  // 6.
  assert.deepEqual(user.customData, {});
  const refreshed = await user.refreshCustomData();
  assert.equal(refreshed.favoriteColor, "pink");
  assert.equal(refreshed.userID, user.id);
  assert.equal(refreshed.description, "realm-web user");
  assert.ok(refreshed._id !== undefined);
  assert.deepEqual(user.customData, refreshed);
  // 7.
  await user.logOut();
  assert.equal(user.isLoggedIn, false);
  const err = await rejection(coll.findOne({ userID: user.id }));
  assert.ok(err instanceof Error);
});

test("realm-web gets a MongoDBRealmError with status 401 for a wrong password", async () => {
  const { email, password } = newCredentials("realmweb-pw");
  const app = new RealmWeb.App({ id: server.appId, baseUrl: server.baseUrl });
  await app.emailPasswordAuth.registerUser({ email, password });
  const err = await rejection(app.logIn(RealmWeb.Credentials.emailPassword(email, "wrong")));
  assert.ok(err instanceof RealmWeb.MongoDBRealmError, `got ${err}`);
  assert.equal(err.statusCode, 401);
});

test("documents written by realm-web read the same through realm-wasm", async () => {
  const { BSON } = RealmWeb;
  const web = await new RealmWeb.App({ id: server.appId, baseUrl: server.baseUrl }).logIn(RealmWeb.Credentials.anonymous());
  const wasm = await new RealmWasm.App({ id: server.appId, baseUrl: server.baseUrl }).logIn(RealmWasm.Credentials.anonymous());
  const collectionName = `crossclient_${web.id}`;
  const webColl = web.mongoClient("mongodb-atlas").db("compat").collection(collectionName);
  const wasmColl = wasm.mongoClient("mongodb-atlas").db("compat").collection(collectionName);

  await webColl.insertMany([
    {
      n: 1,
      oid: new BSON.ObjectId(),
      date: new Date(Date.UTC(2020, 0, 2, 3, 4, 5, 6)),
      decimal: BSON.Decimal128.fromString("-0.000123"),
      long: BSON.Long.fromNumber(2 ** 40 + 3),
      int: 42,
      double: 1.25,
      binary: new BSON.Binary(Buffer.from("hello")),
      text: "ünïcödé ✓",
      flag: true,
      nothing: null,
      nested: { deep: { list: [1, "two", { three: 3 }] } },
    },
    { n: 2, empty: {}, emptyList: [], negative: -7, big: 1e300 },
  ]);

  const sortByN = (docs) => [...docs].sort((a, b) => a.n - b.n);
  const readByWeb = sortByN(await webColl.find({}));
  const readByWasm = sortByN(await wasmColl.find({}));
  assert.equal(readByWeb.length, 2);
  // The same values and BSON types (realm-wasm's bson 6 classes, realm-web's bson 4 ones).
  assert.deepStrictEqual(typed(readByWasm), typed(readByWeb));
  assert.ok(readByWasm[0].oid instanceof RealmWasm.BSON.ObjectId);
  assert.ok(readByWasm[0].decimal instanceof RealmWasm.BSON.Decimal128);
  assert.ok(readByWasm[0].date instanceof Date);

  // And the other way round: realm-wasm writes, realm-web reads the same.
  await wasmColl.insertOne({ n: 3, oid: new RealmWasm.BSON.ObjectId(), when: new Date(0), dec: RealmWasm.BSON.Decimal128.fromString("9.99") });
  const web3 = await webColl.findOne({ n: 3 });
  const wasm3 = await wasmColl.findOne({ n: 3 });
  assert.deepStrictEqual(typed(wasm3), typed(web3));
});

test("BSON is bson 6 with realm-web's ObjectID alias, and values from realm-web's bson 4 are taken as input", async () => {
  assert.equal(RealmWasm.BSON.ObjectID, RealmWasm.BSON.ObjectId);
  assert.notEqual(RealmWasm.BSON.ObjectId, RealmWeb.BSON.ObjectId, "two bson versions in this test");
  const wasm = await new RealmWasm.App({ id: server.appId, baseUrl: server.baseUrl }).logIn(RealmWasm.Credentials.anonymous(false));
  const coll = wasm.mongoClient("mongodb-atlas").db("compat").collection(`bson4_${wasm.id}`);
  const B4 = RealmWeb.BSON;
  // bson 4 spells ObjectId's _bsontype "ObjectID"; the others as bson 6 does.
  assert.equal(new B4.ObjectId()._bsontype, "ObjectID");
  const doc = {
    _id: new B4.ObjectId("65a1b2c3d4e5f6a7b8c9d0e1"),
    long: B4.Long.fromString("9007199254740993"),
    decimal: B4.Decimal128.fromString("-1.5E+3"),
    binary: new B4.Binary(Buffer.from("bytes"), 0),
    int: new B4.Int32(7),
    double: new B4.Double(2),
  };
  await coll.insertOne(doc);
  const read = await coll.findOne({ _id: doc._id });
  assert.ok(read._id instanceof RealmWasm.BSON.ObjectId);
  assert.deepStrictEqual(typed(read), typed({ ...doc, int: 7, double: 2 }));
});
