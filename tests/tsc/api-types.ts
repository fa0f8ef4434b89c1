// Type-level checks of the generated typings (compiled by `tsc -p tests/tsc`, never run).
// Lines marked @ts-expect-error must stay errors: if the typings loosen, tsc fails on them.
import * as Realm from "realm-wasm";

export async function typings(app: Realm.App, user: Realm.User): Promise<void> {
  // App configuration and getters.
  const byId: Realm.App = new Realm.App("an-app-id");
  const shared: Realm.App = Realm.App.getApp("an-app-id");
  const configured = new Realm.App({ id: "x", baseUrl: "http://127.0.0.1:9090", timeout: 1000, fetch, skipLocationRequest: false });
  const current: Realm.User | null = configured.currentUser;
  const all: Record<string, Realm.User> = app.allUsers;
  console.log(byId.id, shared.id, current, all);
  // @ts-expect-error: the configuration needs an id
  new Realm.App({ baseUrl: "http://127.0.0.1:9090" });
  // @ts-expect-error: timeout is a number of milliseconds
  new Realm.App({ id: "x", timeout: "10s" });

  // Credentials and login.
  const anonymous: Realm.User = await app.logIn(Realm.Credentials.anonymous());
  const creds = Realm.Credentials.emailPassword("a@example.com", "pw");
  const providerName: string = creds.providerName;
  // @ts-expect-error: logIn takes Credentials
  await app.logIn({ email: "a@example.com", password: "pw" });
  await app.emailPasswordAuth.registerUser({ email: "a@example.com", password: "pw" });
  // @ts-expect-error: registerUser needs a password
  await app.emailPasswordAuth.registerUser({ email: "a@example.com" });
  console.log(anonymous.id, providerName);

  // User.
  const state: "active" | "logged-out" | "removed" = user.state;
  const token: string | null = user.accessToken;
  const data: Record<string, unknown> = user.customData;
  const fresh: Record<string, unknown> = await user.refreshCustomData();
  // @ts-expect-error: customData is read-only
  user.customData = {};
  // @ts-expect-error: id is read-only
  user.id = "other";
  console.log(state, token, data, fresh, user.profile.email);

  // MongoDB results.
  const coll: Realm.MongoDBCollection = user.mongoClient("mongodb-atlas").db("app").collection("users");
  const inserted = await coll.insertOne({ a: 1 });
  const many = await coll.insertMany([{ a: 1 }, { a: 2 }]);
  const updated = await coll.updateOne({ a: 1 }, { $set: { b: 2 } }, { upsert: true });
  const counts: [number, number, number] = [updated.matchedCount, updated.modifiedCount, (await coll.deleteMany({})).deletedCount];
  const n: number = await coll.count({ a: { $gt: 0 } }, { limit: 10 });
  const docs: Record<string, unknown>[] = await coll.find({}, { sort: { a: 1 }, limit: 5, projection: { a: 1 } });
  const one: Record<string, unknown> | null = await coll.findOne({ a: 1 });
  // @ts-expect-error: count resolves to a number
  const wrong: string = await coll.count();
  console.log(inserted.insertedId, many.insertedIds.length, counts, n, docs, one, wrong);

  // Errors and BSON.
  try {
    await user.logOut();
  } catch (err: unknown) {
    if (err instanceof Realm.MongoDBRealmError) {
      const status: number = err.statusCode;
      const code: string | undefined = err.errorCode;
      const message: string = err.message;
      console.log(status, code, message, err.method, err.url, err.link, err.error, err.statusText);
    }
  }
  const oid: Realm.BSON.ObjectId = new Realm.BSON.ObjectId();
  const dec = Realm.BSON.Decimal128.fromString("1.5");
  const long: Realm.BSON.Long = Realm.BSON.Long.fromNumber(5);
  console.log(oid.toHexString(), dec.toString(), long.toNumber());
}
