// Cross-client: one script, run unchanged with realm-web 2.0.1 and with realm-wasm against the
// same realm-wasm-server; the normalised outputs must be identical.
import { test } from "node:test";
import assert from "node:assert/strict";
import { createRequire } from "node:module";
import * as RealmWasm from "realm-wasm";
import { useServer, newCredentials } from "./helpers.mjs";

const require = createRequire(import.meta.url);
const RealmWeb = require("realm-web");
const server = useServer();

/** The script: only realm-web 2.0.1 API, outputs free of ids, tokens and timestamps. */
async function script(Realm, tag) {
  const out = [];
  const app = new Realm.App({ id: server.appId, baseUrl: server.baseUrl });
  const { email, password } = newCredentials(tag);
  out.push(["register", await app.emailPasswordAuth.registerUser({ email, password })]);
  const user = await app.logIn(Realm.Credentials.emailPassword(email, password));
  out.push(["user", user.state, user.isLoggedIn, user.providerType, user.profile.email === email, app.currentUser === user]);
  const coll = user.mongoClient("mongodb-atlas").db("cross").collection(`c_${user.id}`);
  const ins = await coll.insertOne({ n: 1, s: "x", arr: [1, 2.5, "three"], nested: { d: new Date(86400000) } });
  out.push(["insertOne", ins.insertedId instanceof Realm.BSON.ObjectId]);
  out.push(["insertMany", (await coll.insertMany([{ n: 2 }, { n: 3, s: "y" }])).insertedIds.length]);
  out.push(["count", await coll.count({}), await coll.count({ n: { $gt: 1 } })]);
  out.push(["find", await coll.find({}, { sort: { n: 1 }, projection: { _id: 0 } })]);
  out.push(["findOne", await coll.findOne({ s: "y" }, { projection: { _id: 0, n: 1 } })]);
  out.push(["findOne none", await coll.findOne({ s: "none" })]);
  out.push(["updateOne", await coll.updateOne({ n: 1 }, { $set: { s: "z" }, $inc: { n: 10 } })]);
  out.push(["updateMany", await coll.updateMany({}, { $set: { all: true } })]);
  const up = await coll.updateOne({ n: 99 }, { $set: { s: "new" } }, { upsert: true });
  out.push(["upsert", up.matchedCount, up.modifiedCount, up.upsertedId instanceof Realm.BSON.ObjectId]);
  out.push(["deleteOne", await coll.deleteOne({ n: 99 })]);
  out.push(["after", await coll.find({}, { sort: { n: -1 }, projection: { _id: 0, n: 1, s: 1, all: 1 } })]);
  out.push(["deleteMany", await coll.deleteMany({})]);
  try {
    await app.logIn(Realm.Credentials.emailPassword(email, "wrong-password"));
  } catch (err) {
    out.push(["wrong password", err.constructor.name, err.statusCode, err.errorCode, err.message.replace(server.baseUrl, "<base>")]);
  }
  await user.logOut();
  out.push(["logged out", user.state, user.accessToken, app.currentUser]);
  return out;
}

test("realm-web 2.0.1 and realm-wasm give identical outputs for the same script", async () => {
  const web = await script(RealmWeb, "xweb");
  const wasm = await script(RealmWasm, "xwasm");
  assert.equal(web.length, 16);
  assert.deepEqual(wasm, web);
});
