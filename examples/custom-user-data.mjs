// The "Access Custom User Data" flow with realm-wasm, as an ES module.
// Run against a server:  node scripts/server.mjs -- node examples/custom-user-data.mjs
// Environment: REALM_BASE_URL (default http://127.0.0.1:9090), REALM_APP_ID (default realm-wasm-demo).
import assert from "node:assert/strict";
import * as Realm from "realm-wasm";

async function main() {
  const id = process.env.REALM_APP_ID || "realm-wasm-demo";
  const baseUrl = process.env.REALM_BASE_URL || "http://127.0.0.1:9090";
  const email = `demo-${Date.now()}-${Math.random().toString(36).slice(2, 8)}@example.com`;
  const password = "correct horse battery staple";

  // 2. The app.
  const app = new Realm.App({ id, baseUrl, timeout: 10000 });
  console.log(`1-2. App ${app.id} at ${baseUrl}`);

  // 3. Register (the default app auto-confirms).
  await app.emailPasswordAuth.registerUser({ email, password });
  console.log(`3. registered ${email}`);

  // 4. Log in.
  const user = await app.logIn(Realm.Credentials.emailPassword(email, password));
  assert.equal(typeof user.id, "string");
  assert.ok(user.id.length > 0);
  assert.equal(user.isLoggedIn, true);
  assert.equal(app.currentUser && app.currentUser.id, user.id);
  console.log(`4. logged in: user.id = ${user.id}`);

  // 5. Write the custom user data document, then update it.
  const coll = user.mongoClient("mongodb-atlas").db("app").collection("users");
  const inserted = await coll.insertOne({ userID: user.id, description: "a realm-wasm demo user" });
  assert.ok(inserted.insertedId instanceof Realm.BSON.ObjectId, "insertedId is a BSON.ObjectId");
  console.log(`5. insertOne ->`, inserted);
  const updated = await coll.updateOne({ userID: user.id }, { $set: { favoriteColor: "pink" } });
  console.log(`5. updateOne ->`, updated);
  assert.deepEqual(updated, { matchedCount: 1, modifiedCount: 1 });

  // 6. customData is read-only and stale until refreshed.
  const before = user.customData;
  console.log(`6. customData before refresh:`, before);
  assert.deepEqual(before, {}, "the access token was issued before the document existed");
  try {
    user.customData = { favoriteColor: "hacked" };
  } catch (err) {
    console.log(`6. assigning customData throws: ${err.message}`);
  }
  assert.deepEqual(user.customData, {}, "customData is read-only");
  const refreshed = await user.refreshCustomData();
  console.log(`6. refreshCustomData() ->`, refreshed);
  assert.equal(refreshed.favoriteColor, "pink");
  assert.equal(refreshed.userID, user.id);
  assert.equal(refreshed.description, "a realm-wasm demo user");
  assert.ok(refreshed._id instanceof Realm.BSON.ObjectId, "the document has an ObjectId _id");
  assert.deepEqual(user.customData, refreshed);
  console.log(`6. customData after refresh:`, user.customData);

  // 7. Log out; later calls are rejected with a typed error.
  await user.logOut();
  assert.equal(user.isLoggedIn, false);
  console.log(`7. after logOut: isLoggedIn = ${user.isLoggedIn}, state = ${user.state}`);
  let rejection;
  try {
    await coll.findOne({ userID: user.id });
  } catch (err) {
    rejection = err;
  }
  assert.ok(rejection instanceof Error, "a collection call after logOut rejects with an Error");
  console.log(`7. findOne after logOut rejects: ${rejection.constructor.name}: ${rejection.message}`);
  console.log("OK: all steps passed");
}

main().catch((err) => {
  console.error("FAILED:", err);
  process.exitCode = 1;
});
