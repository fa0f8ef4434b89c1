// Shared by the Jest suites: the server the wrapper started, and the seed flow (register, log in,
// custom data, collection calls) written as realm-web's users write it.
const assert = require("node:assert/strict");

function server() {
  const baseUrl = process.env.REALM_BASE_URL;
  const appId = process.env.REALM_APP_ID;
  if (!baseUrl || !appId) throw new Error("run under `node scripts/server.mjs -- jest …` (REALM_BASE_URL / REALM_APP_ID unset)");
  return { baseUrl, appId };
}

let counter = 0;
function newCredentials(tag) {
  counter += 1;
  return { email: `${tag}-${process.pid}-${Date.now()}-${counter}@example.com`, password: `pw-${counter}-secret` };
}

/** The seed flow against the server; `Realm` is realm-wasm's (or realm-web's) module. */
async function seedFlow(Realm, tag) {
  const { baseUrl, appId } = server();
  const app = new Realm.App({ id: appId, baseUrl });
  const { email, password } = newCredentials(tag);
  await app.emailPasswordAuth.registerUser({ email, password });
  const user = await app.logIn(Realm.Credentials.emailPassword(email, password));
  assert.equal(user.state, Realm.UserState.Active);
  assert.equal(app.currentUser, user);

  const users = user.mongoClient("mongodb-atlas").db("app").collection("users");
  const inserted = await users.insertOne({ userID: user.id, description: "jest", when: new Date(0), tags: ["x"] });
  assert.ok(inserted.insertedId instanceof Realm.BSON.ObjectId);
  assert.deepEqual(await users.updateOne({ userID: user.id }, { $set: { favoriteColor: "pink" } }), { matchedCount: 1, modifiedCount: 1 });
  const data = await user.refreshCustomData();
  assert.equal(data.favoriteColor, "pink");
  assert.deepEqual(user.customData, data);

  const notes = user.mongoClient("mongodb-atlas").db("jest").collection(`notes_${user.id}`);
  // A Decimal128 is declined by the JS encoder: this insert goes through the Rust path.
  await notes.insertMany([{ n: 1, price: Realm.BSON.Decimal128.fromString("9.99") }, { n: 2 }, { n: 3 }]);
  assert.equal(await notes.count({ n: { $gte: 2 } }), 2);
  assert.deepEqual((await notes.find({}, { sort: { n: -1 }, projection: { _id: 0, n: 1 } })).map((d) => d.n), [3, 2, 1]);
  assert.equal((await notes.findOne({ n: 1 })).price.toString(), "9.99");
  assert.deepEqual(await notes.deleteMany({}), { deletedCount: 3 });

  await user.logOut();
  assert.equal(user.state, Realm.UserState.LoggedOut);
  const anonymous = await app.logIn(Realm.Credentials.anonymous());
  assert.equal(anonymous.providerType, "anon-user");
  await app.removeUser(anonymous);
}

module.exports = { server, seedFlow };
