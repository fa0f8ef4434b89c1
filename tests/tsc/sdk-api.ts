// Type-checks (tsc --strict, never run) an example program calling every API of the SDK, with a
// `@ts-expect-error` case per area: if the typings loosen, tsc fails on those lines.
import * as Realm from "realm-wasm";
import { App, Credentials, BSON } from "realm-wasm";
import type {
  AppConfiguration, ChangeEvent, DeleteResult, Filter, FindOptions, InsertEvent, InsertOneResult,
  MongoDB, MongoDBCollection, MongoDBDatabase, MongoDBRealmError, Update, UpdateEvent, UpdateResult,
  User, UserProfile, WatchError,
} from "realm-wasm";

interface Task {
  _id: BSON.ObjectId;
  title: string;
  done: boolean;
}

export async function app(): Promise<void> {
  const config: AppConfiguration = {
    id: "app", baseUrl: "http://127.0.0.1:9090", timeout: 5000, skipLocationRequest: false,
    storage: { get: (k) => k, set: () => undefined, remove: () => undefined }, app: { name: "demo", version: "1.0.0" },
  };
  const a = new App(config);
  const b = App.getApp("app");
  const dir = new App({ id: "app", storage: "/tmp/sessions" });
  const current: User | null = a.currentUser;
  const all: Record<string, User> = a.allUsers;
  const user: User = await a.logIn(Credentials.anonymous(), false);
  a.switchUser(user);
  await a.removeUser(user);
  await a.deleteUser(user);
  const listener = () => console.log("changed");
  a.addListener(listener);
  a.removeListener(listener);
  a.removeAllListeners();
  console.log(b.id, dir.id, current, all);
  // @ts-expect-error: storage is a path or a {get, set, remove} store
  new App({ id: "app", storage: 5 });
  // @ts-expect-error: app.version is a string
  new App({ id: "app", app: { version: 1 } });
  // @ts-expect-error: switchUser takes a User
  a.switchUser("user-id");

  const auth = a.emailPasswordAuth;
  await auth.registerUser({ email: "a@b.c", password: "pw" });
  await auth.confirmUser({ token: "t", tokenId: "ti" });
  await auth.resendConfirmationEmail({ email: "a@b.c" });
  await auth.retryCustomConfirmation({ email: "a@b.c" });
  await auth.sendResetPasswordEmail({ email: "a@b.c" });
  await auth.resetPassword({ token: "t", tokenId: "ti", password: "pw2" });
  await auth.callResetPasswordFunction({ email: "a@b.c", password: "pw2" }, 1, "two");
  // @ts-expect-error: confirmUser needs a tokenId
  await auth.confirmUser({ token: "t" });
}

export function credentials(): Credentials[] {
  // @ts-expect-error: emailPassword takes two strings
  Credentials.emailPassword("a@b.c");
  // @ts-expect-error: google takes { authCode } or { idToken }
  Credentials.google({ code: "x" });
  return [
    Credentials.anonymous(), Credentials.anonymous(false), Credentials.emailPassword("a@b.c", "pw"), Credentials.apiKey("k"),
    Credentials.jwt("t"), Credentials.function({ n: 1 }), Credentials.google({ authCode: "c" }), Credentials.google({ idToken: "i" }),
    Credentials.facebook("f"), Credentials.apple("a"),
  ];
}

export async function users(user: User): Promise<void> {
  const id: string = user.id;
  const tokens: [string | null, string | null] = [user.accessToken, user.refreshToken];
  const profile: UserProfile = user.profile;
  const identities: { id: string; providerType: string }[] = user.identities;
  const state: "active" | "logged-out" | "removed" = user.state;
  const device: string | null = user.deviceId;
  const data: Record<string, unknown> = user.customData;
  const loggedIn: boolean = user.isLoggedIn;
  await user.refreshCustomData();
  await user.refreshProfile();
  await user.refreshAccessToken();
  await user.linkCredentials(Credentials.apiKey("k"));
  const sum: number = await user.callFunction("sum", 1, 2);
  const viaProxy: unknown = await user.functions.sum(1, 2);
  await user.functions.callFunction("sum", 3);
  const key = await user.apiKeys.create("laptop");
  const secret: string | undefined = key.key;
  const one = await user.apiKeys.fetch(key._id);
  const keys: Realm.ApiKey[] = await user.apiKeys.fetchAll();
  await user.apiKeys.disable(one._id);
  await user.apiKeys.enable(one._id);
  await user.apiKeys.delete(one._id);
  user.addListener(() => undefined);
  user.removeListener(() => undefined);
  const json: Record<string, unknown> = user.toJSON();
  await user.logOut();
  console.log(id, tokens, profile.email, identities, state, device, data, loggedIn, sum, viaProxy, secret, keys, json);
  // @ts-expect-error: the state is read-only
  user.state = "active";
  // @ts-expect-error: linkCredentials takes Credentials
  await user.linkCredentials("token");
  // @ts-expect-error: apiKeys.create takes a name
  await user.apiKeys.create();
}

export async function mongo(user: User): Promise<void> {
  const client: MongoDB = user.mongoClient("mongodb-atlas");
  const db: MongoDBDatabase = client.db("todo");
  const tasks: MongoDBCollection<Task> = db.collection<Task>("tasks");
  const filter: Filter = { done: false };
  const update: Update = { $set: { done: true } };
  const options: FindOptions = { sort: { title: 1 }, limit: 10, projection: { title: 1 } };
  const found: Task[] = await tasks.find(filter, options);
  const first: Task | null = await tasks.findOne({}, { sort: { title: -1 } });
  const updated: Task | null = await tasks.findOneAndUpdate(filter, update, { returnNewDocument: true, upsert: false });
  const replaced: Task | null = await tasks.findOneAndReplace(filter, { title: "t", done: true });
  const deleted: Task | null = await tasks.findOneAndDelete(filter, { sort: { title: 1 } });
  const grouped: unknown[] = await tasks.aggregate([{ $group: { _id: "$done", n: { $sum: 1 } } }]);
  const n: number = await tasks.count(filter, { limit: 5 });
  const inserted: InsertOneResult<BSON.ObjectId> = await tasks.insertOne({ title: "new", done: false });
  const many: BSON.ObjectId[] = (await tasks.insertMany([{ title: "a", done: false }])).insertedIds;
  const u1: UpdateResult<BSON.ObjectId> = await tasks.updateOne(filter, update, { upsert: true });
  const u2 = await tasks.updateMany(filter, update, { arrayFilters: [{ x: 1 }] });
  const d1: DeleteResult = await tasks.deleteOne(filter);
  const d2: number = (await tasks.deleteMany()).deletedCount;
  console.log(found, first, updated, replaced, deleted, grouped, n, inserted.insertedId.toHexString(), many, u1, u2.matchedCount, d1, d2);
  // @ts-expect-error: documents of a typed collection have typed fields
  const wrong: number = (await tasks.findOne())!.title;
  // @ts-expect-error: inserted documents must fit the type
  await tasks.insertOne({ title: 1, done: false });
  console.log(wrong);

  const stream = tasks.watch({ ids: [new BSON.ObjectId()], filter: { operationType: "insert" }, resume: true });
  for await (const change of stream) {
    const event: ChangeEvent<Task> = change;
    if (change.operationType === "insert") {
      const inserted: InsertEvent<Task> = change;
      console.log(inserted.fullDocument.title, inserted.documentKey._id.toHexString());
    } else if (change.operationType === "update") {
      const upd: UpdateEvent<Task> = change;
      console.log(upd.updateDescription.updatedFields);
    }
    console.log(event._id, stream.resumeToken);
    break;
  }
  await stream.return();
  stream.close();
  // @ts-expect-error: watch ids are the collection's id type
  tasks.watch({ ids: ["not-an-object-id"] });
}

export function errors(err: unknown): void {
  if (err instanceof Realm.MongoDBRealmError) {
    const e: MongoDBRealmError = err;
    console.log(e.method, e.url, e.statusCode, e.statusText, e.error, e.errorCode, e.link, e.message);
    // @ts-expect-error: statusCode is a number
    const s: string = e.statusCode;
    console.log(s);
  }
  if (err instanceof Realm.WatchError) {
    const w: WatchError = err;
    const code: string = w.code;
    console.log(code, w.message);
  }
}
