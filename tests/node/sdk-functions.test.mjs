// Functions end to end with both clients: realm-web 2.0.1 and realm-wasm, unchanged, against a
// realm-wasm-server serving server/tests/fixtures/functions-server. Each scenario runs once per SDK
// and the normalised outputs must be identical: BSON values of every type through callFunction
// and the functions proxy, callFunctionStreaming of an app function (App Services' error), the
// custom-function provider, the confirmation and reset functions, the user creation function and
// `%function` in a rule.
import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import { createRequire } from "node:module";
import { join } from "node:path";
import * as RealmWasm from "realm-wasm";
import { startServer } from "../../scripts/server.mjs";
import { repoRoot } from "./helpers.mjs";

const require = createRequire(import.meta.url);
const RealmWeb = require("realm-web");
const fixture = join(repoRoot, "server", "tests", "fixtures", "functions-server");
const SDKS = [
  ["realm-web", RealmWeb],
  ["realm-wasm", RealmWasm],
];

const server = {};
before(async () => Object.assign(server, await startServer({ extraArgs: ["--app", fixture] })));
after(() => server.stop?.());

const appOf = (Realm) => new Realm.App({ id: server.appId, baseUrl: server.baseUrl });
const unique = (tag) => `${tag}-${Date.now()}-${Math.random().toString(36).slice(2, 8)}`;

/** An error as both SDKs should show it. */
function failure(err) {
  return { type: err.constructor.name, statusCode: err.statusCode, errorCode: err.errorCode, error: err.error };
}

async function rejection(promise) {
  try {
    await promise;
  } catch (err) {
    return failure(err);
  }
  return "resolved";
}

/** One value of every BSON type, made with the SDK's own BSON classes. */
function everyType(BSON) {
  return {
    double: 2.5,
    int32: 7,
    int32Class: new BSON.Int32(-5),
    long: BSON.Long.fromString("1099511627776"),
    decimal: BSON.Decimal128.fromString("1.10"),
    string: "héllo \u{1F600}",
    bool: true,
    nil: null,
    date: new Date(86400000),
    objectId: new BSON.ObjectId("5f0c5b2e8f1b2a3c4d5e6f70"),
    binary: new BSON.Binary(Buffer.from([0, 1, 2, 255]), 0),
    uuid: new BSON.UUID("0e3d9c9a-6b1f-4c3e-9b4a-2f6d1c0b8a7e"),
    timestamp: BSON.Timestamp.fromBits(3, 1700000000),
    regex: new BSON.BSONRegExp("^a.c$", "i"),
    minKey: new BSON.MinKey(),
    maxKey: new BSON.MaxKey(),
    code: new BSON.Code("function () { return 1; }"),
    array: [1, "two", [3.5], { four: 4 }],
    nested: { a: { b: { c: [new Date(0), new BSON.ObjectId("5f0c5b2e8f1b2a3c4d5e6f71")] } } },
    empty: {},
  };
}

/** Canonical EJSON, so that the two SDKs' BSON classes compare by type and value. */
const canonical = (BSON, v) => BSON.EJSON.stringify(v, { relaxed: false });

async function bsonScript(Realm) {
  const out = [];
  const user = await appOf(Realm).logIn(Realm.Credentials.anonymous());
  const values = everyType(Realm.BSON);
  const args = Object.values(values);
  const viaCall = await user.callFunction("echo", ...args);
  const viaProxy = await user.functions.echo(...args);
  const viaFactory = await user.functions.callFunction("echo", ...args);
  const sent = canonical(Realm.BSON, args);
  for (const [how, got] of [["callFunction", viaCall], ["functions.echo", viaProxy], ["functions.callFunction", viaFactory]]) {
    out.push([how, canonical(Realm.BSON, got) === sent ? "round trip intact" : canonical(Realm.BSON, got)]);
  }
  // One value per call too, as a top-level argument and result (scalars are sent plain).
  for (const [name, v] of Object.entries(values)) {
    const [got] = await user.functions.echo(v);
    out.push([name, canonical(Realm.BSON, got)]);
  }
  // A whole Double reaches JS as a plain number, which comes back an Int32 (README, Functions).
  const [whole] = await user.functions.echo(new Realm.BSON.Double(2));
  out.push(["whole double", canonical(Realm.BSON, whole)]);
  out.push(["sum", await user.functions.sum(2, 3), await user.callFunction("sum", 2.5, 1)]);
  out.push(["thrown", await rejection(user.functions.throws("x"))]);
  out.push(["unknown", await rejection(user.functions.nope())]);
  out.push(["private", await rejection(user.callFunction("hidden"))]);
  out.push(["streaming", await rejection(user.functions.callFunctionStreaming("sum", 2, 3))]);
  return out;
}

test("every BSON type crosses callFunction and the functions proxy identically with both SDKs", async () => {
  const [web, wasm] = [await bsonScript(RealmWeb), await bsonScript(RealmWasm)];
  assert.deepEqual(wasm, web);
  for (const [how, result] of web.slice(0, 3)) assert.equal(result, "round trip intact", how);
  assert.deepEqual(web.find(([k]) => k === "sum"), ["sum", 5, 3.5]);
  assert.deepEqual(web.find(([k]) => k === "long"), ["long", '{"$numberLong":"1099511627776"}']);
  assert.deepEqual(web.find(([k]) => k === "whole double"), ["whole double", '{"$numberInt":"2"}']);
  const thrown = web.find(([k]) => k === "thrown")[1];
  assert.deepEqual({ ...thrown, error: JSON.parse(thrown.error) }, {
    type: "MongoDBRealmError", statusCode: 400, errorCode: "FunctionExecutionError", error: { message: "bad input: x", name: "TypeError" },
  });
  assert.equal(web.find(([k]) => k === "unknown")[1].errorCode, "FunctionNotFound");
  assert.equal(web.find(([k]) => k === "private")[1].errorCode, "FunctionNotFound");
  assert.equal(web.find(([k]) => k === "streaming")[1].errorCode, "FunctionExecutionError");
});

async function customFunctionScript(Realm, tag) {
  const out = [];
  const app = appOf(Realm);
  const username = unique(tag);
  const first = await app.logIn(Realm.Credentials.function({ username, secret: "open sesame" }));
  const again = await app.logIn(Realm.Credentials.function({ username, secret: "open sesame" }));
  out.push(["same user", first.id === again.id, first.providerType]);
  out.push(["identity", first.identities[0].providerType]);
  // The user creation function wrote the custom data before the first token was issued.
  out.push(["custom data", first.customData.created_by, first.customData.provider]);
  const wrong = await rejection(app.logIn(Realm.Credentials.function({ username, secret: "guess" })));
  out.push(["wrong secret", { ...wrong, error: wrong.error?.replace(username, "<user>") }]);
  out.push(["refused at creation", (await rejection(app.logIn(Realm.Credentials.function({ username: "refused", secret: "open sesame" })))).errorCode]);
  return out;
}

test("the custom-function provider and the user creation function, with both SDKs", async () => {
  const [web, wasm] = [await customFunctionScript(RealmWeb, "cfweb"), await customFunctionScript(RealmWasm, "cfwasm")];
  assert.deepEqual(wasm, web);
  assert.deepEqual(web[0], ["same user", true, "custom-function"]);
  assert.deepEqual(web[2], ["custom data", "onCreate", "custom-function"]);
  assert.deepEqual(web[3][1], { type: "MongoDBRealmError", statusCode: 401, errorCode: "AuthError", error: "wrong secret for <user>" });
  assert.deepEqual(web[4], ["refused at creation", "FunctionExecutionError"]);
});

async function emailFunctionsScript(Realm, tag) {
  const out = [];
  const app = appOf(Realm);
  const auth = app.emailPasswordAuth;
  const reader = await app.logIn(Realm.Credentials.anonymous());
  const mail = (email, kind) => reader.functions.mail(email, kind);
  const password = "password1";
  // Confirmation: success, pending then confirmed with the token, pending then retried, fail.
  const auto = `auto-${unique(tag)}@example.com`;
  await auth.registerUser({ email: auto, password });
  out.push(["auto", (await app.logIn(Realm.Credentials.emailPassword(auto, password))).providerType]);
  const link = `link-${unique(tag)}@example.com`;
  await auth.registerUser({ email: link, password });
  out.push(["pending login", (await rejection(app.logIn(Realm.Credentials.emailPassword(link, password)))).statusCode]);
  const sent = await mail(link, "confirm");
  await auth.confirmUser({ token: sent.token, tokenId: sent.tokenId });
  out.push(["confirmed with the token", (await app.logIn(Realm.Credentials.emailPassword(link, password))).isLoggedIn]);
  const retry = `retry-${unique(tag)}@example.com`;
  await auth.registerUser({ email: retry, password });
  await auth.retryCustomConfirmation({ email: retry });
  out.push(["retried", (await app.logIn(Realm.Credentials.emailPassword(retry, password))).isLoggedIn]);
  out.push(["retry when confirmed", (await rejection(auth.retryCustomConfirmation({ email: retry }))).errorCode]);
  const nope = `nope-${unique(tag)}@example.com`;
  const failed = await rejection(auth.registerUser({ email: nope, password }));
  out.push(["fail", failed.statusCode, failed.errorCode, failed.error === `failed to confirm user "${nope}"`]);
  // Reset: success with the client's arguments, pending then reset with the token, fail.
  await auth.callResetPasswordFunction({ email: auto, password: "password2" }, "approve", 42);
  const got = await mail(auto, "reset");
  out.push(["reset arguments", got.more, got.currentPasswordValid]);
  out.push(["new password", (await app.logIn(Realm.Credentials.emailPassword(auto, "password2"))).isLoggedIn]);
  await auth.callResetPasswordFunction({ email: auto, password: "password3" }, "later");
  const token = await mail(auto, "reset");
  await auth.resetPassword({ token: token.token, tokenId: token.tokenId, password: "password3" });
  out.push(["reset with the token", (await app.logIn(Realm.Credentials.emailPassword(auto, "password3"))).isLoggedIn]);
  const denied = await rejection(auth.callResetPasswordFunction({ email: auto, password: "password4" }, "deny"));
  out.push(["denied", denied.statusCode, denied.errorCode, denied.error === `failed to reset password for user "${auto}"`]);
  out.push(["reset email", (await rejection(auth.sendResetPasswordEmail({ email: auto }))).error]);
  return out;
}

test("function-based confirmation and reset, with both SDKs", async () => {
  const [web, wasm] = [await emailFunctionsScript(RealmWeb, "ew"), await emailFunctionsScript(RealmWasm, "ea")];
  assert.deepEqual(wasm, web);
  assert.deepEqual(web, [
    ["auto", "local-userpass"],
    ["pending login", 401],
    ["confirmed with the token", true],
    ["retried", true],
    ["retry when confirmed", "UserAlreadyConfirmed"],
    ["fail", 400, "FunctionExecutionError", true],
    ["reset arguments", [42], false],
    ["new password", true],
    ["reset with the token", true],
    ["denied", 400, "FunctionExecutionError", true],
    ["reset email", "please use reset password via function"],
  ]);
});

async function functionRuleScript(Realm) {
  const out = [];
  const app = appOf(Realm);
  const [red, blue, stranger] = [
    await app.logIn(Realm.Credentials.anonymous(false)),
    await app.logIn(Realm.Credentials.anonymous(false)),
    await app.logIn(Realm.Credentials.anonymous(false)),
  ];
  await red.functions.join("red");
  await blue.functions.join("blue", true);
  await red.functions.seed([
    { _id: 1, name: "r1", team: "red", secret: "s1" },
    { _id: 2, name: "b1", team: "blue", secret: "s2" },
  ]);
  const items = (u) => u.mongoClient("mongodb-atlas").db("shop").collection("items");
  out.push(["red sees", await items(red).find({}, { sort: { _id: 1 } })]);
  out.push(["blue (admin) sees", await items(blue).find({})]);
  out.push(["stranger sees", await items(stranger).find({})]);
  out.push(["red inserts red", (await items(red).insertOne({ _id: 3, name: "r2", team: "red" })).insertedId]);
  out.push(["red inserts blue", (await rejection(items(red).insertOne({ _id: 4, name: "b2", team: "blue" }))).statusCode]);
  out.push(["stranger inserts", (await rejection(items(stranger).insertOne({ _id: 5, name: "x", team: "red" }))).statusCode]);
  out.push(["red counts", await items(red).count()]);
  return out;
}

test("%function in a rule decides roles, filters and fields, with both SDKs", async () => {
  const [web, wasm] = [await functionRuleScript(RealmWeb), await functionRuleScript(RealmWasm)];
  assert.deepEqual(wasm, web);
  assert.deepEqual(web, [
    ["red sees", [{ _id: 1, name: "r1", team: "red" }]],
    ["blue (admin) sees", [{ _id: 2, name: "b1", team: "blue", secret: "s2" }]],
    ["stranger sees", []],
    ["red inserts red", 3],
    ["red inserts blue", 403],
    ["stranger inserts", 403],
    ["red counts", 2],
  ]);
});
