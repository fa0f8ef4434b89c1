// The "Access Custom User Data" flow with realm-wasm, in TypeScript (type-checked by
// `tsc -p tests/tsc` with strict: true; run with e.g. `npx esbuild --bundle` or any TS runner).
// Environment: REALM_BASE_URL (default http://127.0.0.1:9090), REALM_APP_ID (default realm-wasm-demo).
import * as Realm from "realm-wasm";

/** Throws (so the script exits non-zero) when a step does not give the expected result. */
function check(condition: unknown, message: string): asserts condition {
  if (!condition) throw new Error(`check failed: ${message}`);
}

async function main(): Promise<void> {
  const id: string = process.env.REALM_APP_ID ?? "realm-wasm-demo";
  const baseUrl: string = process.env.REALM_BASE_URL ?? "http://127.0.0.1:9090";
  const email = `demo-${Date.now()}-${Math.random().toString(36).slice(2, 8)}@example.com`;
  const password = "correct horse battery staple";

  // 2. The app.
  const app: Realm.App = new Realm.App({ id, baseUrl, timeout: 10000 });
  console.log(`1-2. App ${app.id} at ${baseUrl}`);

  // 3. Register (the default app auto-confirms).
  await app.emailPasswordAuth.registerUser({ email, password });
  console.log(`3. registered ${email}`);

  // 4. Log in.
  const user: Realm.User = await app.logIn(Realm.Credentials.emailPassword(email, password));
  const userId: string = user.id;
  check(userId.length > 0, "user.id is a non-empty string");
  check(user.isLoggedIn, "user.isLoggedIn after logIn");
  check(app.currentUser?.id === userId, "app.currentUser is the new user");
  console.log(`4. logged in: user.id = ${userId}`);

  // 5. Write the custom user data document, then update it.
  const coll = user.mongoClient("mongodb-atlas").db("app").collection("users");
  const inserted = await coll.insertOne({ userID: userId, description: "a realm-wasm demo user" });
  check(inserted.insertedId instanceof Realm.BSON.ObjectId, "insertedId is a BSON.ObjectId");
  console.log(`5. insertOne ->`, inserted);
  const updated = await coll.updateOne({ userID: userId }, { $set: { favoriteColor: "pink" } });
  const matched: number = updated.matchedCount;
  const modified: number = updated.modifiedCount;
  console.log(`5. updateOne ->`, updated);
  check(matched === 1 && modified === 1, "updateOne gives { matchedCount: 1, modifiedCount: 1 }");

  // 6. customData is read-only and stale until refreshed.
  const before = user.customData;
  console.log(`6. customData before refresh:`, before);
  check(JSON.stringify(before) === "{}", "customData is stale ({}) before the refresh");
  const refreshed = await user.refreshCustomData();
  console.log(`6. refreshCustomData() ->`, refreshed);
  check(refreshed["favoriteColor"] === "pink", "refreshed custom data has favoriteColor: pink");
  check(refreshed["userID"] === userId, "refreshed custom data has userID");
  check(refreshed["_id"] instanceof Realm.BSON.ObjectId, "refreshed custom data has an ObjectId _id");
  check(JSON.stringify(user.customData) === JSON.stringify(refreshed), "customData equals the refreshed data");
  console.log(`6. customData after refresh:`, user.customData);

  // 7. Log out; later calls are rejected with a typed error.
  await user.logOut();
  const loggedIn: boolean = user.isLoggedIn;
  check(!loggedIn, "isLoggedIn is false after logOut");
  console.log(`7. after logOut: isLoggedIn = ${loggedIn}, state = ${user.state}`);
  const rejection: unknown = await coll.findOne({ userID: userId }).then(
    () => undefined,
    (err: unknown) => err,
  );
  check(rejection instanceof Error, "a collection call after logOut rejects with an Error");
  console.log(`7. findOne after logOut rejects: ${rejection.message}`);
  console.log("OK: all steps passed");
}

main().catch((err: unknown) => {
  console.error("FAILED:", err);
  process.exitCode = 1;
});
