// Triggers fired by what realm-wasm and realm-web 2.0.1 send: one script, run with each SDK
// against a real server serving the triggers-app export (server/tests/fixtures/triggers-app)
// with the test clock. A database trigger records its change events, authentication triggers
// their CREATE / LOGIN / DELETE events, and a scheduled trigger runs when the admin API moves
// the clock to the next minute.
import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import { createRequire } from "node:module";
import { join } from "node:path";
import * as RealmWasm from "realm-wasm";
import { startServer } from "../../scripts/server.mjs";
import { newCredentials, repoRoot } from "./helpers.mjs";

const require = createRequire(import.meta.url);
const RealmWeb = require("realm-web");

const TOKEN = "admin-token-for-triggers-0123456789";
const T0 = 1_893_456_030; // 2030-01-01T00:00:30Z
const server = {};

before(async () => {
  const app = join(repoRoot, "server", "tests", "fixtures", "triggers-app");
  const extraArgs = ["--app", app, "--admin-listen", "127.0.0.1:0", "--admin-token", TOKEN, "--test-clock", String(T0)];
  Object.assign(server, await startServer({ extraArgs }));
});
after(async () => {
  await server.stop?.();
});

/** Polls `read` until `done(result)` (triggers run after the write is answered). */
async function eventually(read, done, what) {
  const deadline = Date.now() + 30_000;
  for (;;) {
    const result = await read();
    if (done(result)) return result;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}: ${JSON.stringify(result)}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

/** Moves the test clock; the answer comes once the scheduled triggers ran what fell due. */
async function setClock(now) {
  const res = await fetch(`${server.adminUrl}/test/clock`, {
    method: "PUT",
    headers: { authorization: `Bearer ${TOKEN}`, "content-type": "application/json" },
    body: JSON.stringify({ now }),
  });
  assert.equal(res.status, 204, await res.text());
}

let minute = 0;

for (const [name, Realm] of [
  ["realm-wasm", RealmWasm],
  ["realm-web 2.0.1", RealmWeb],
]) {
  test(`${name}: database, authentication and scheduled triggers fire from the SDK's calls`, async () => {
    const app = new Realm.App({ id: server.appId, baseUrl: server.baseUrl });
    const creds = newCredentials("triggers");
    await app.emailPasswordAuth.registerUser(creds);
    const user = await app.logIn(Realm.Credentials.emailPassword(creds.email, creds.password));
    const db = user.mongoClient("mongodb-atlas").db("trig");

    // A database trigger: insert and update, as the change events App Services delivered.
    const id = `${name}-order`;
    await db.collection("orders").insertOne({ _id: id, item: "tea", qty: 1, at: new Date(0) });
    await db.collection("orders").updateOne({ _id: id }, { $set: { qty: 2 } });
    const seen = await eventually(() => db.collection("seen").find({ key: id }), (r) => r.length === 2, "two change events");
    const [insert, update] = seen.map((s) => s.event);
    assert.equal(insert.operationType, "insert");
    assert.deepEqual(insert.ns, { db: "trig", coll: "orders" });
    assert.deepEqual(insert.documentKey, { _id: id });
    assert.equal(insert.fullDocument.item, "tea");
    assert.ok(insert.fullDocument.at instanceof Date, "BSON types survive into the event");
    assert.equal(insert.clusterTime._bsontype, "Timestamp");
    assert.equal(typeof insert._id._data, "string");
    assert.equal(update.operationType, "update");
    assert.deepEqual(Object.keys(update.updateDescription.updatedFields), ["qty"]);
    assert.equal(update.fullDocumentBeforeChange.qty, 1);
    assert.equal(update.fullDocument.qty, 2);

    // Authentication triggers: CREATE and LOGIN for this user, then DELETE.
    const mine = () => db.collection("auth_events").find({ userId: user.id });
    const events = await eventually(mine, (r) => r.length === 2, "CREATE and LOGIN");
    assert.deepEqual(events.map((e) => e.operationType).sort(), ["CREATE", "LOGIN"]);
    assert.ok(events.every((e) => e.providers[0] === "local-userpass" && e.user.data.email === creds.email && e.time instanceof Date));

    // A scheduled trigger: the clock moves to the next minute, the function has run.
    const ticks = async () => (await db.collection("ticks").find({})).length;
    const before = await ticks();
    minute += 1;
    await setClock(T0 + 60 * minute - 30);
    assert.equal(await ticks(), before + 1, "one run at the minute");

    // realm-web 2.0.1's deleteUser deletes the current user, whatever it is given: delete first.
    await app.deleteUser(user);
    const watcher = await app.logIn(Realm.Credentials.anonymous());
    const wdb = watcher.mongoClient("mongodb-atlas").db("trig");
    const deleted = await eventually(
      () => wdb.collection("auth_events").find({ userId: user.id, operationType: "DELETE" }),
      (r) => r.length === 1,
      "DELETE",
    );
    assert.deepEqual(deleted[0].providers, ["local-userpass"]);
  });
}
