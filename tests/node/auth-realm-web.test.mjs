// realm-web 2.0.1, unmodified, drives every auth and user route of realm-wasm-server serving the
// exported App Services app in server/tests/fixtures/auth-app: register → confirm with the link
// from the email webhook → login → profile → link → API keys → API-key login → custom-token login
// (HS256 from the export, RS256 from a copy with an RSA key) → refresh → reset → logout → deleteUser.
import { test } from "node:test";
import assert from "node:assert/strict";
import { generateKeyPairSync, createSign } from "node:crypto";
import { createRequire } from "node:module";
import { startServer } from "../../scripts/server.mjs";
import { newCredentials, rejection } from "./helpers.mjs";
import { useAuthServer, fixtureCopy, jwt, hs256, claims, assertRealmError as assertError } from "./auth-helpers.mjs";

const require = createRequire(import.meta.url);
const RealmWeb = require("realm-web");
const { App, Credentials, MongoDBRealmError } = RealmWeb;

const assertRealmError = (err, statusCode, errorCode) => assertError(MongoDBRealmError, err, statusCode, errorCode);

const server = useAuthServer();

test("realm-web runs the whole auth and user API against the exported app", async () => {
  assert.equal(server.appId, "fixture-app-abcde");
  const app = new App({ id: server.appId, baseUrl: server.baseUrl });
  const { email, password } = newCredentials("auth");

  // Register; the account needs confirming (autoConfirm is false in the export).
  await app.emailPasswordAuth.registerUser({ email, password });
  const firstLink = await server.hook.next();
  assert.equal(firstLink.kind, "confirmation");
  assert.equal(firstLink.email, email);
  assertRealmError(await rejection(app.emailPasswordAuth.registerUser({ email, password })), 409, "AccountNameInUse");
  assertRealmError(await rejection(app.logIn(Credentials.emailPassword(email, password))), 401, "AuthError");
  await app.emailPasswordAuth.resendConfirmationEmail({ email });
  const link = await server.hook.next();
  assert.notEqual(link.tokenId, firstLink.tokenId);
  await app.emailPasswordAuth.confirmUser({ token: link.token, tokenId: link.tokenId });
  assertRealmError(await rejection(app.emailPasswordAuth.confirmUser({ token: link.token, tokenId: link.tokenId })), 400, "BadRequest");
  assertRealmError(await rejection(app.emailPasswordAuth.resendConfirmationEmail({ email })), 409, "UserAlreadyConfirmed");
  await app.emailPasswordAuth.resendConfirmationEmail({ email: `x${email}` }); // unknown: answered as a pending one
  assertRealmError(await rejection(app.logIn(Credentials.emailPassword(email, "wrong-password"))), 401, "InvalidPassword");

  // Login and profile.
  const user = await app.logIn(Credentials.emailPassword(email, password));
  assert.equal(user.providerType, "local-userpass");
  assert.equal(user.profile.email, email);
  assert.deepEqual(user.identities.map((i) => i.providerType), ["local-userpass"]);
  assert.match(user.deviceId, /^[0-9a-f]{24}$/);
  assert.deepEqual(user.customData, {});

  // Link a custom-token identity: same user, two identities, metadata in the profile.
  await user.linkCredentials(Credentials.jwt(hs256(claims(`linked-${user.id}`))));
  assert.deepEqual(user.identities.map((i) => i.providerType).sort(), ["custom-token", "local-userpass"]);
  assert.equal(user.profile.name, `Name linked-${user.id}`);
  const viaJwt = await app.logIn(Credentials.jwt(hs256(claims(`linked-${user.id}`))));
  assert.equal(viaJwt.id, user.id);

  // API keys, then logging in with one.
  const created = await user.apiKeys.create("ci-key");
  assert.equal(typeof created.key, "string");
  assert.equal(created.name, "ci-key");
  assert.equal(created.disabled, false);
  const fetched = await user.apiKeys.fetch(created._id);
  assert.equal(fetched.name, "ci-key");
  assert.equal(fetched.key, undefined);
  assert.deepEqual((await user.apiKeys.fetchAll()).map((k) => k._id), [created._id]);
  await user.apiKeys.disable(created._id);
  assert.equal((await user.apiKeys.fetch(created._id)).disabled, true);
  assertRealmError(await rejection(app.logIn(Credentials.apiKey(created.key))), 401, "AuthError");
  await user.apiKeys.enable(created._id);
  // A key is for another client (a server, a device): its session ends when the key is deleted, so it
  // logs in through an App of its own rather than replacing this user's session.
  const viaKey = await new App({ id: server.appId, baseUrl: server.baseUrl }).logIn(Credentials.apiKey(created.key));
  assert.equal(viaKey.id, user.id);
  await user.apiKeys.delete(created._id);
  assert.deepEqual(await user.apiKeys.fetchAll(), []);
  assertRealmError(await rejection(user.apiKeys.fetch(created._id)), 404, "APIKeyNotFound");

  // Refresh: every access token carries the current custom user data (auth/custom_user_data.json).
  const users = user.mongoClient("mongodb-atlas").db("app").collection("users");
  await users.insertOne({ userID: user.id, plan: "gold" });
  const data = await user.refreshCustomData();
  assert.equal(data.plan, "gold");
  assert.equal(user.customData.plan, "gold");

  // Password reset by link.
  await app.emailPasswordAuth.sendResetPasswordEmail({ email });
  const reset = await server.hook.next();
  assert.equal(reset.kind, "reset");
  assert.ok(reset.url.startsWith("http://localhost:3000/reset?token="), reset.url);
  await app.emailPasswordAuth.resetPassword({ token: reset.token, tokenId: reset.tokenId, password: "a-new-password" });
  assertRealmError(await rejection(app.logIn(Credentials.emailPassword(email, password))), 401, "InvalidPassword");
  const again = await app.logIn(Credentials.emailPassword(email, "a-new-password"));
  assert.equal(again.id, user.id);
  assertRealmError(
    await rejection(app.emailPasswordAuth.callResetPasswordFunction({ email, password: "another-one" }, "arg")),
    400,
    "BadRequest",
  );

  // Logout: the refresh token is revoked on the server.
  const refreshToken = user.refreshToken;
  await user.logOut();
  assert.equal(user.state, "logged-out");
  const revoked = await fetch(`${server.baseUrl}/api/client/v2.0/auth/session`, {
    method: "POST",
    headers: { Authorization: `Bearer ${refreshToken}` },
  });
  assert.equal(revoked.status, 401);
  assert.equal((await revoked.json()).error_code, "InvalidSession");

  // A custom-token user of its own, deleted with app.deleteUser.
  const jwtUser = await app.logIn(Credentials.jwt(hs256(claims(`solo-${user.id}`))));
  assert.notEqual(jwtUser.id, user.id);
  assert.equal(jwtUser.profile.email, `solo-${user.id}@corp.example`);
  assert.equal(app.currentUser.id, jwtUser.id);
  await app.deleteUser(jwtUser);
  assert.equal(app.allUsers[jwtUser.id], undefined);
  const recreated = await app.logIn(Credentials.jwt(hs256(claims(`solo-${user.id}`))));
  assert.notEqual(recreated.id, jwtUser.id, "deleting removed the identity");

  // Custom-token refusals: wrong key, wrong audience, expired.
  for (const token of [
    hs256(claims("bad"), "a-different-key-a-different-key-a-different"),
    hs256(claims("bad", { aud: "another-app" })),
    hs256(claims("bad", { exp: Math.floor(Date.now() / 1000) - 5 })),
  ]) {
    assertRealmError(await rejection(app.logIn(Credentials.jwt(token))), 401, "AuthError");
  }
});

test("custom-token with RS256 and an anonymous user linking email/password", async () => {
  const { publicKey, privateKey } = generateKeyPairSync("rsa", { modulusLength: 2048 });
  const copy = fixtureCopy({
    providers: (p) => {
      p["custom-token"].config.signingAlgorithm = "RS256";
      p["custom-token"].secret_config.signingKeys = ["rsaPublicKey"];
      p["local-userpass"].config.autoConfirm = true;
    },
    secrets: { rsaPublicKey: publicKey.export({ type: "spki", format: "pem" }) },
  });
  try {
    const rsaServer = await startServer({ extraArgs: ["--app", copy.dir] });
    try {
      const app = new App({ id: rsaServer.appId, baseUrl: rsaServer.baseUrl });
      const rs256 = (c) => jwt("RS256", c, (input) => createSign("RSA-SHA256").update(input).sign(privateKey).toString("base64url"));
      const user = await app.logIn(Credentials.jwt(rs256(claims("rsa-user"))));
      assert.equal(user.profile.name, "Name rsa-user");
      assertRealmError(await rejection(app.logIn(Credentials.jwt(hs256(claims("rsa-user"))))), 401, "AuthError");

      const anon = await app.logIn(Credentials.anonymous());
      const { email, password } = newCredentials("link");
      await app.emailPasswordAuth.registerUser({ email, password });
      await anon.linkCredentials(Credentials.emailPassword(email, password));
      assert.deepEqual(anon.identities.map((i) => i.providerType).sort(), ["anon-user", "local-userpass"]);
      const byEmail = await app.logIn(Credentials.emailPassword(email, password));
      assert.equal(byEmail.id, anon.id);
      // The email identity cannot also be linked to another user.
      const other = await app.logIn(Credentials.anonymous(false));
      assertRealmError(await rejection(other.linkCredentials(Credentials.emailPassword(email, password))), 409, "AccountNameInUse");
    } finally {
      await rsaServer.stop();
    }
  } finally {
    copy.remove();
  }
});
