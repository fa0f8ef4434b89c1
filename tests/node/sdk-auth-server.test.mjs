// Our SDK (realm-wasm, the package in pkg/) against a real realm-wasm-server serving the exported
// App Services app in server/tests/fixtures/auth-app, with confirmation/reset links taken from the
// email webhook: every credential type the server supports, logIn without the profile, linking,
// deleteUser, the seven emailPasswordAuth methods, API keys, refreshProfile/refreshAccessToken and
// the listeners. A recording `fetch` (the global one, logged) checks what goes over the wire.
import { test } from "node:test";
import assert from "node:assert/strict";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { App, Credentials, MongoDBRealmError } from "realm-wasm";
import { startServer } from "../../scripts/server.mjs";
import { newCredentials, memoryStorage, rejection } from "./helpers.mjs";
import { useAuthServer, fixture, fixtureCopy, hs256, claims, assertRealmError as assertError } from "./auth-helpers.mjs";

const server = useAuthServer();
const assertRealmError = (err, statusCode, errorCode) => assertError(MongoDBRealmError, err, statusCode, errorCode);

/** An App on the server with its own storage; `requests` records every request it sends. */
function newApp(extra = {}, target = server) {
  const requests = [];
  const recording = (url, init = {}) => {
    requests.push({ url, method: init.method ?? "GET", headers: init.headers ?? {}, body: init.body });
    return fetch(url, init);
  };
  const app = new App({ id: target.appId, baseUrl: target.baseUrl, fetch: recording, storage: memoryStorage(), timeout: 10000, ...extra });
  return { app, requests };
}

const bodyOf = (request) => JSON.parse(request.body);
const lastTo = (requests, suffix) => requests.filter((r) => r.url.endsWith(suffix)).at(-1);

/** Registers an email/password account and confirms it with the link from the webhook. */
async function confirmedAccount(app, tag = "sdk-auth") {
  const creds = newCredentials(tag);
  await app.emailPasswordAuth.registerUser(creds);
  const link = await server.hook.next(creds.email);
  await app.emailPasswordAuth.confirmUser({ token: link.token, tokenId: link.tokenId });
  return creds;
}

/** POST /auth/session with a refresh token: the status the server answers. */
async function sessionStatus(refreshToken) {
  const res = await fetch(`${server.baseUrl}/api/client/v2.0/auth/session`, { method: "POST", headers: { Authorization: `Bearer ${refreshToken}` } });
  await res.body?.cancel();
  return res.status;
}

test("every credential type the server supports logs in with realm-web's provider names and payloads", async () => {
  const { app, requests } = newApp();
  const login = (provider) => {
    const { options, ...rest } = bodyOf(lastTo(requests, `/auth/providers/${provider}/login`));
    assert.equal(options.device.platform, "node", provider);
    return rest;
  };

  const anon = await app.logIn(Credentials.anonymous());
  assert.equal(Credentials.anonymous().providerName, "anon-user");
  assert.equal(anon.providerType, "anon-user");
  assert.deepEqual(login("anon-user"), {});
  assert.deepEqual(anon.identities.map((i) => i.providerType), ["anon-user"]);
  const logins = () => requests.filter((r) => r.url.endsWith("/login")).length;
  const before = logins();
  assert.equal(await app.logIn(Credentials.anonymous()), anon, "an active anonymous user is reused");
  assert.equal(logins(), before, "reusing sends no login");
  const fresh = await app.logIn(Credentials.anonymous(false));
  assert.notEqual(fresh.id, anon.id, "reuse=false logs in anew");

  const { email, password } = await confirmedAccount(app);
  const byEmail = await app.logIn(Credentials.emailPassword(email, password));
  assert.equal(byEmail.providerType, "local-userpass");
  assert.deepEqual(login("local-userpass"), { username: email, password });
  assert.equal(byEmail.profile.email, email);

  const token = hs256(claims(`sdk-jwt-${process.pid}-${Date.now()}`));
  const byJwt = await app.logIn(Credentials.jwt(token));
  assert.equal(byJwt.providerType, "custom-token");
  assert.deepEqual(login("custom-token"), { token });
  assert.match(byJwt.profile.email, /^sdk-jwt-.*@corp\.example$/);
  assert.match(byJwt.profile.name, /^Name sdk-jwt-/);
  assert.equal((await app.logIn(Credentials.jwt(token))).id, byJwt.id, "the same subject is the same user");

  const { key } = await byEmail.apiKeys.create("login-key");
  const { app: keyApp, requests: keyRequests } = newApp();
  const byKey = await keyApp.logIn(Credentials.apiKey(key));
  assert.equal(byKey.providerType, "api-key");
  assert.equal(byKey.id, byEmail.id, "an API key logs in as its owner");
  const { options, ...keyBody } = bodyOf(lastTo(keyRequests, "/auth/providers/api-key/login"));
  assert.deepEqual(keyBody, { key });
  assert.equal(options.device.platform, "node");

  assert.deepEqual(
    [anon, fresh, byEmail, byJwt].map((u) => u.id).sort(),
    Object.keys(app.allUsers).sort(),
  );
  assert.throws(() => Credentials.apiKey(5), /Credentials.apiKey\(key\): key must be a string/);
  assertRealmError(await rejection(app.logIn(Credentials.jwt(hs256(claims("bad"), "a-different-key-a-different-key-a-different")))), 401, "AuthError");
});

test("logIn(credentials, false) skips the profile; refreshProfile fetches it and tells the user's listeners", async () => {
  const { app, requests } = newApp();
  const { email, password } = await confirmedAccount(app);
  const user = await app.logIn(Credentials.emailPassword(email, password), false);
  assert.equal(requests.filter((r) => r.url.endsWith("/auth/profile")).length, 0, "no profile request");
  assert.throws(() => user.profile, /never fetched/);
  let userEvents = 0;
  user.addListener(() => (userEvents += 1));
  assert.equal(await user.refreshProfile(), undefined, "void, as in realm-web");
  assert.equal(user.profile.email, email);
  assert.deepEqual(user.identities.map((i) => i.providerType), ["local-userpass"]);
  assert.equal(lastTo(requests, "/auth/profile").headers.Authorization, `Bearer ${user.accessToken}`);
  assert.equal(userEvents, 1);
});

test("app: {name, version} goes into options.device; the deviceId from the server's token is sent back", async () => {
  const { app, requests } = newApp({ app: { name: "my-local-app", version: "1.2.3" } });
  const user = await app.logIn(Credentials.anonymous());
  const { device } = bodyOf(lastTo(requests, "/login")).options;
  assert.equal(device.appId, "my-local-app");
  assert.equal(device.appVersion, "1.2.3");
  assert.equal(device.deviceId, undefined, "no device id before the first login");
  assert.match(user.deviceId, /^[0-9a-f]{24}$/);
  assert.notEqual(user.deviceId, "000000000000000000000000");
  await app.logIn(Credentials.anonymous(false));
  assert.deepEqual(bodyOf(lastTo(requests, "/login")).options.device.deviceId, { $oid: user.deviceId });
});

test("emailPasswordAuth: register, confirm with the webhook's token, resend, reset by link; bodies and tokens on the wire", async () => {
  const { app, requests } = newApp();
  const auth = app.emailPasswordAuth;
  const { email, password } = newCredentials("sdk-userpass");

  await auth.registerUser({ email, password });
  const first = await server.hook.next(email);
  assert.equal(first.kind, "confirmation");
  assertRealmError(await rejection(auth.registerUser({ email, password })), 409, "AccountNameInUse");
  assertRealmError(await rejection(app.logIn(Credentials.emailPassword(email, password))), 401, "AuthError");

  await auth.resendConfirmationEmail({ email });
  const link = await server.hook.next(email);
  assert.equal(link.kind, "confirmation");
  assert.notEqual(link.tokenId, first.tokenId);
  assertRealmError(await rejection(auth.confirmUser({ token: "0".repeat(64), tokenId: link.tokenId })), 400, "BadRequest");
  const second = await auth.resendConfirmationEmail({ email }).then(() => server.hook.next(email));
  await auth.confirmUser({ token: second.token, tokenId: second.tokenId });
  assertRealmError(await rejection(auth.confirmUser({ token: second.token, tokenId: second.tokenId })), 400, "BadRequest");
  assertRealmError(await rejection(auth.resendConfirmationEmail({ email })), 409, "UserAlreadyConfirmed");
  await auth.resendConfirmationEmail({ email: `x${email}` }); // an unknown address answers as a pending one: no account enumeration

  const user = await app.logIn(Credentials.emailPassword(email, password));
  const tokenAtReset = user.accessToken;
  await auth.sendResetPasswordEmail({ email });
  const reset = await server.hook.next(email);
  assert.equal(reset.kind, "reset");
  await auth.resetPassword({ token: reset.token, tokenId: reset.tokenId, password: "a-new-password" });
  assertRealmError(await rejection(app.logIn(Credentials.emailPassword(email, password))), 401, "InvalidPassword");
  assert.equal((await app.logIn(Credentials.emailPassword(email, "a-new-password"))).id, user.id);
  assertRealmError(await rejection(auth.resetPassword({ token: reset.token, tokenId: reset.tokenId, password: "third-password" })), 400, "BadRequest");

  // This app confirms and resets by link: the function-based calls are refused (a failed function with functions: next test).
  assertRealmError(await rejection(auth.retryCustomConfirmation({ email })), 409, "UserAlreadyConfirmed");
  assertRealmError(await rejection(auth.callResetPasswordFunction({ email, password: "another-one" }, 1, "two", { three: 3 })), 400, "BadRequest");

  const sent = requests.filter((r) => r.url.includes("/local-userpass/") && !r.url.endsWith("/login"));
  const byRoute = (route) => sent.filter((r) => r.url.endsWith(`/local-userpass/${route}`)).map(bodyOf);
  assert.deepEqual(byRoute("register")[0], { email, password });
  assert.deepEqual(byRoute("confirm").at(-1), { token: second.token, tokenId: second.tokenId });
  assert.deepEqual(byRoute("confirm/send")[0], { email });
  assert.deepEqual(byRoute("confirm/call")[0], { email });
  assert.deepEqual(byRoute("reset/send")[0], { email });
  assert.deepEqual(byRoute("reset")[0], { token: reset.token, tokenId: reset.tokenId, password: "a-new-password" });
  assert.deepEqual(byRoute("reset/call")[0], {
    email,
    password: "another-one",
    arguments: [{ $numberInt: "1" }, "two", { three: { $numberInt: "3" } }],
  });
  assert.equal(sent[0].headers.Authorization, undefined, "no user yet: no token");
  const sendReset = sent.find((r) => r.url.endsWith("/reset/send"));
  assert.equal(sendReset.headers.Authorization, `Bearer ${tokenAtReset}`, "the current user's token");

  const err = await rejection(auth.resetPassword({ token: "t", tokenId: "ti" }));
  assert.ok(err instanceof TypeError);
  assert.match(err.message, /resetPassword: details\.password must be a string/);
});

test("retryCustomConfirmation and callResetPasswordFunction surface a failed function (Atlas's texts) as MongoDBRealmError", async () => {
  // An account left unconfirmed by the link-based export, then the same data served by a copy of
  // the export that confirms and resets through functions that answer `fail`.
  const dataDir = mkdtempSync(join(tmpdir(), "realm-wasm-data-"));
  const copy = fixtureCopy({
    providers: (p) => {
      Object.assign(p["local-userpass"].config, {
        runConfirmationFunction: true,
        confirmationFunctionName: "confirmFunc",
        runResetFunction: true,
        resetFunctionName: "resetFunc",
      });
    },
    functions: { confirmFunc: "exports = () => ({ status: 'fail' });", resetFunc: "exports = () => ({ status: 'fail' });" },
  });
  try {
    const { email, password } = newCredentials("sdk-functions");
    const linkServer = await startServer({ dataDir, extraArgs: ["--app", fixture] });
    try {
      await newApp({}, linkServer).app.emailPasswordAuth.registerUser({ email, password });
    } finally {
      await linkServer.stop();
    }
    const functionServer = await startServer({ dataDir, extraArgs: ["--app", copy.dir] });
    try {
      const auth = newApp({}, functionServer).app.emailPasswordAuth;
      const retry = await rejection(auth.retryCustomConfirmation({ email }));
      assertRealmError(retry, 400, "FunctionExecutionError");
      assert.equal(retry.error, `failed to confirm user "${email}"`);
      const reset = await rejection(auth.callResetPasswordFunction({ email, password: "new-password" }, "arg"));
      assertRealmError(reset, 400, "FunctionExecutionError");
      assert.equal(reset.error, `failed to reset password for user "${email}"`);
      assertRealmError(await rejection(auth.registerUser(newCredentials("sdk-functions"))), 400, "FunctionExecutionError");
      assertRealmError(await rejection(auth.sendResetPasswordEmail({ email })), 400, "BadRequest");
    } finally {
      await functionServer.stop();
    }
  } finally {
    copy.remove();
    rmSync(dataDir, { recursive: true, force: true });
  }
});

test("linkCredentials: the identities grow, the user id and refresh token stay, the user's listeners fire", async () => {
  const { app, requests } = newApp();
  const { email, password } = await confirmedAccount(app);
  const user = await app.logIn(Credentials.emailPassword(email, password));
  const { id, refreshToken } = user;
  const before = user.accessToken;
  let userEvents = 0;
  user.addListener(() => (userEvents += 1));
  assert.deepEqual(user.identities.map((i) => i.providerType), ["local-userpass"]);

  const sub = `sdk-link-${user.id}`;
  await user.linkCredentials(Credentials.jwt(hs256(claims(sub))));
  const link = requests.find((r) => r.url.endsWith("/auth/providers/custom-token/login?link=true"));
  assert.equal(link.headers.Authorization, `Bearer ${before}`);
  assert.equal(user.id, id);
  assert.equal(user.refreshToken, refreshToken, "a link answer has no refresh token: the old one is kept");
  assert.ok(requests.indexOf(lastTo(requests, "/auth/profile")) > requests.indexOf(link), "the profile is fetched again");
  assert.deepEqual(user.identities.map((i) => i.providerType).sort(), ["custom-token", "local-userpass"]);
  assert.equal(user.profile.name, `Name ${sub}`);
  assert.ok(userEvents >= 1, "listeners told about the new token and profile");
  assert.equal((await sessionStatus(refreshToken)), 201, "the session still works");
  const viaJwt = await newApp().app.logIn(Credentials.jwt(hs256(claims(sub))));
  assert.equal(viaJwt.id, id, "the linked identity logs in as the same user");

  // An anonymous user links an email/password identity; the email login then finds that user.
  const anon = await app.logIn(Credentials.anonymous());
  const other = await confirmedAccount(app, "sdk-link");
  await anon.linkCredentials(Credentials.emailPassword(other.email, other.password));
  assert.deepEqual(anon.identities.map((i) => i.providerType).sort(), ["anon-user", "local-userpass"]);
  assert.equal(await app.logIn(Credentials.emailPassword(other.email, other.password)), anon);
  // An identity cannot be linked to a second user.
  const third = await app.logIn(Credentials.anonymous(false));
  assertRealmError(await rejection(third.linkCredentials(Credentials.emailPassword(other.email, other.password))), 409, "AccountNameInUse");
  assert.deepEqual(third.identities.map((i) => i.providerType), ["anon-user"]);
});

test("deleteUser of the non-current user uses ITS token: that user is gone on the server, the other stays", async () => {
  const { app, requests } = newApp();
  const credsA = await confirmedAccount(app, "sdk-del-a");
  const credsB = await confirmedAccount(app, "sdk-del-b");
  const a = await app.logIn(Credentials.emailPassword(credsA.email, credsA.password));
  const b = await app.logIn(Credentials.emailPassword(credsB.email, credsB.password));
  assert.equal(app.currentUser, b);
  const { accessToken: aToken, refreshToken: aRefresh } = a;
  let appEvents = 0;
  let aEvents = 0;
  app.addListener(() => (appEvents += 1));
  a.addListener(() => (aEvents += 1));

  await app.deleteUser(a);
  const del = requests.find((r) => r.url.endsWith("/auth/delete"));
  assert.equal(del.method, "DELETE");
  assert.equal(del.headers.Authorization, `Bearer ${aToken}`);
  assert.equal(a.state, "removed");
  assert.deepEqual(Object.keys(app.allUsers), [b.id]);
  assert.equal(app.currentUser, b);
  assert.ok(appEvents >= 1 && aEvents >= 1, "listeners told about the removal");

  // On the server: A's account and session are gone, B's are not.
  // Atlas answered `unauthorized` to a deleted user's old email and password.
  const gone = await rejection(newApp().app.logIn(Credentials.emailPassword(credsA.email, credsA.password)));
  assertRealmError(gone, 401, "AuthError");
  assert.equal(gone.error, "unauthorized");
  assert.equal(await sessionStatus(aRefresh), 401);
  assert.equal(await sessionStatus(b.refreshToken), 201);
  await b.refreshProfile();
  assert.equal(b.profile.email, credsB.email);
  assert.equal((await newApp().app.logIn(Credentials.emailPassword(credsB.email, credsB.password))).id, b.id);
});

test("user.apiKeys: create/fetch/fetchAll/disable/enable/delete with the refresh token; a disabled key cannot log in", async () => {
  const { app, requests } = newApp();
  const { email, password } = await confirmedAccount(app);
  const user = await app.logIn(Credentials.emailPassword(email, password));
  const keyLogin = (key) => newApp().app.logIn(Credentials.apiKey(key));

  const created = await user.apiKeys.create("laptop");
  assert.equal(created.name, "laptop");
  assert.equal(created.disabled, false);
  assert.equal(typeof created.key, "string");
  assert.match(created._id, /^[0-9a-f]{24}$/);
  assert.equal(requests.at(-1).method, "POST");
  assert.ok(requests.at(-1).url.endsWith("/auth/api_keys"));
  assert.equal(requests.at(-1).headers.Authorization, `Bearer ${user.refreshToken}`);
  assert.deepEqual(await user.apiKeys.fetch(created._id), { _id: created._id, name: "laptop", disabled: false });
  const second = await user.apiKeys.create("desktop");
  assert.deepEqual((await user.apiKeys.fetchAll()).map((k) => [k._id, k.name, k.key]).sort(), [
    [created._id, "laptop", undefined],
    [second._id, "desktop", undefined],
  ].sort());

  await user.apiKeys.disable(created._id);
  assert.equal((await user.apiKeys.fetch(created._id)).disabled, true);
  assertRealmError(await rejection(keyLogin(created.key)), 401, "AuthError");
  assert.equal((await keyLogin(second.key)).id, user.id, "the other key still works");
  await user.apiKeys.enable(created._id);
  assert.equal((await user.apiKeys.fetch(created._id)).disabled, false);
  assert.equal((await keyLogin(created.key)).id, user.id);

  await user.apiKeys.delete(created._id);
  assert.deepEqual((await user.apiKeys.fetchAll()).map((k) => k._id), [second._id]);
  assertRealmError(await rejection(user.apiKeys.fetch(created._id)), 404, "APIKeyNotFound");
  assertRealmError(await rejection(keyLogin(created.key)), 401, "AuthError");
  const toggles = requests.filter((r) => /\/auth\/api_keys\/[0-9a-f]{24}(\/(enable|disable))?$/.test(r.url));
  assert.deepEqual(
    toggles.map((r) => [r.method, r.url.split("/auth/api_keys/")[1].replace(/^[0-9a-f]{24}/, "ID")]),
    [["GET", "ID"], ["PUT", "ID/disable"], ["GET", "ID"], ["PUT", "ID/enable"], ["GET", "ID"], ["DELETE", "ID"], ["GET", "ID"]],
  );
  assert.ok(toggles.every((r) => r.headers.Authorization === `Bearer ${user.refreshToken}`));

  // Another user neither sees nor changes these keys.
  const stranger = await app.logIn(Credentials.anonymous());
  assert.deepEqual(await stranger.apiKeys.fetchAll(), []);
  assertRealmError(await rejection(stranger.apiKeys.disable(second._id)), 404, "APIKeyNotFound");
});

test("refreshAccessToken gets a new access token from the server and tells the listeners", async () => {
  const { app, requests } = newApp();
  const { email, password } = await confirmedAccount(app);
  const user = await app.logIn(Credentials.emailPassword(email, password));
  let appEvents = 0;
  let userEvents = 0;
  app.addListener(() => (appEvents += 1));
  user.addListener(() => (userEvents += 1));
  const sessions = () => requests.filter((r) => r.url.endsWith("/auth/session"));
  assert.equal(sessions().length, 0);
  await user.refreshAccessToken();
  assert.equal(sessions().length, 1);
  assert.equal(sessions()[0].method, "POST");
  assert.equal(sessions()[0].headers.Authorization, `Bearer ${user.refreshToken}`);
  assert.equal(userEvents, 1);
  assert.equal(appEvents, 1);
  // The new token is accepted by the server.
  const res = await fetch(`${server.baseUrl}/api/client/v2.0/auth/profile`, { headers: { Authorization: `Bearer ${user.accessToken}` } });
  assert.equal(res.status, 200);
  assert.equal((await res.json()).user_id, user.id);
});
