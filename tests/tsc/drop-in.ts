// Type-checks (tsc --strict, never run) code written the realm-web way against realm-wasm's
// typings: the enums, getApp, the environment, MongoDBRealmError's constructor and factory, push,
// locationUrl and deviceInformation (issue 11). `@ts-expect-error` lines must stay errors.
import {
  App, DEFAULT_BASE_URL, LocalStorage, MongoDBRealmError, UserState, UserType, getApp, getEnvironment,
  handleAuthRedirect, setEnvironment,
} from "realm-wasm";
import type { DeviceInformation, Environment, RealmStorage, User } from "realm-wasm";

export async function dropIn(user: User): Promise<void> {
  // Enums compare with the user's state, and their values are the strings.
  if (user.state === UserState.Active) console.log("active");
  const state: UserState = UserState.LoggedOut;
  const literal: "removed" = UserState.Removed;
  const kind: UserType = UserType.Server;
  // @ts-expect-error: not a user state
  const wrong: UserState = "sleeping";
  console.log(state, literal, kind, wrong);

  // getApp, App.Credentials, DEFAULT_BASE_URL.
  const shared: App = getApp("an-app");
  const base: string = DEFAULT_BASE_URL;
  const anonymous = App.Credentials.anonymous();
  const reuse: boolean = anonymous.reuse;
  const logged: User = await shared.logIn(anonymous);
  console.log(base, reuse, logged.app.id);

  // The environment and its default storage.
  const env: Environment = getEnvironment();
  const store: RealmStorage = env.defaultStorage;
  store.clear();
  store.prefix("x").set("k", "v");
  const value: string | null = store.get("k");
  setEnvironment({ ...env, defaultStorage: store, platform: "custom" });
  // @ts-expect-error: an environment needs a default storage
  setEnvironment({ platform: "x" });
  const local: RealmStorage = new LocalStorage();
  handleAuthRedirect();
  handleAuthRedirect({ hash: "#_baas_state=s" }, local);
  console.log(value);

  // MongoDBRealmError as realm-web users build and inspect it.
  const err = new MongoDBRealmError("GET", "http://x", 404, "Not Found", "gone", "NotFound");
  const fromResponse: MongoDBRealmError = await MongoDBRealmError.fromRequestAndResponse("http://x", { method: "GET" }, await fetch("http://x"));
  const code: string | undefined = fromResponse.errorCode;
  // @ts-expect-error: the status code is a number
  new MongoDBRealmError("GET", "http://x", "404", "Not Found");
  console.log(err.statusCode, code);

  // push, locationUrl, deviceInformation.
  await user.push("gcm").register("token");
  await user.push("gcm").deregister();
  // @ts-expect-error: register needs the token
  await user.push("gcm").register();
  const url: string = await shared.locationUrl;
  const device: DeviceInformation = shared.deviceInformation;
  const encoded: string = device.encode();
  console.log(url, device.platform, device.deviceId?.toHexString(), encoded);
}
