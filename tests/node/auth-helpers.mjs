// Shared helpers for the tests that drive the auth routes of a real realm-wasm-server serving the
// exported App Services app in server/tests/fixtures/auth-app (auth-realm-web.test.mjs with
// realm-web, sdk-auth-server.test.mjs with our SDK): the email webhook receiving confirmation and
// reset links, custom-token JWTs signed with the fixture's secret, modified copies of the export.
import { before, after } from "node:test";
import assert from "node:assert/strict";
import { createServer } from "node:http";
import { createHmac } from "node:crypto";
import { cpSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { startServer } from "../../scripts/server.mjs";
import { repoRoot } from "./helpers.mjs";

export const fixture = join(repoRoot, "server", "tests", "fixtures", "auth-app");
export const fixtureAppId = "fixture-app-abcde";
export const fixtureKey = JSON.parse(readFileSync(join(fixture, "secrets.json"), "utf8")).customTokenKey;

/**
 * An HTTP endpoint receiving the server's confirmation / reset links (`--email-webhook`).
 * `next(email?)` resolves to the next message (for that email, when given), in arrival order.
 */
export function startWebhook() {
  const queued = [];
  const waiting = []; // [email | undefined, resolve]
  const server = createServer((req, res) => {
    let body = "";
    req.on("data", (c) => (body += c));
    req.on("end", () => {
      res.writeHead(204).end();
      const message = JSON.parse(body);
      const at = waiting.findIndex(([email]) => email === undefined || email === message.email);
      if (at >= 0) waiting.splice(at, 1)[0][1](message);
      else queued.push(message);
    });
  });
  return new Promise((resolve) => {
    server.listen(0, "127.0.0.1", () => {
      resolve({
        url: `http://127.0.0.1:${server.address().port}/mail`,
        next: (email) => {
          const at = queued.findIndex((m) => email === undefined || m.email === email);
          if (at >= 0) return Promise.resolve(queued.splice(at, 1)[0]);
          return new Promise((r) => waiting.push([email, r]));
        },
        close: () => new Promise((r) => server.close(r)),
      });
    });
  });
}

/**
 * For the calling test file: an email webhook and a server serving the fixture export with it
 * (plus `extraArgs`). The handle gets the server's fields (baseUrl, appId, …) and `hook`.
 */
export function useAuthServer({ extraArgs = [] } = {}) {
  const handle = {};
  before(async () => {
    handle.hook = await startWebhook();
    Object.assign(handle, await startServer({ extraArgs: ["--app", fixture, "--email-webhook", handle.hook.url, ...extraArgs] }));
  });
  after(async () => {
    await handle.stop?.();
    await handle.hook?.close();
  });
  return handle;
}

/**
 * A temporary copy of the fixture export; `providers(p)` edits auth/providers.json in place,
 * `secrets` replaces secrets.json. Returns { dir, remove() }.
 */
export function fixtureCopy({ providers, secrets, functions } = {}) {
  const dir = mkdtempSync(join(tmpdir(), "realm-wasm-export-"));
  cpSync(fixture, dir, { recursive: true });
  if (providers) {
    const file = join(dir, "auth", "providers.json");
    const parsed = JSON.parse(readFileSync(file, "utf8"));
    providers(parsed);
    writeFileSync(file, JSON.stringify(parsed));
  }
  if (secrets) writeFileSync(join(dir, "secrets.json"), JSON.stringify(secrets));
  if (functions) {
    // `{name: source}`: private functions the export's providers can name.
    mkdirSync(join(dir, "functions"), { recursive: true });
    writeFileSync(join(dir, "functions", "config.json"), JSON.stringify(Object.keys(functions).map((name) => ({ name, private: true }))));
    for (const [name, source] of Object.entries(functions)) writeFileSync(join(dir, "functions", `${name}.js`), source);
  }
  return { dir, remove: () => rmSync(dir, { recursive: true, force: true }) };
}

const b64url = (data) => Buffer.from(data).toString("base64url");

/** A JWT with header `{alg, typ: "JWT"}`; `sign(input)` returns the base64url signature. */
export function jwt(alg, claims, sign) {
  const head = b64url(JSON.stringify({ alg, typ: "JWT" }));
  const body = b64url(JSON.stringify(claims));
  return `${head}.${body}.${sign(`${head}.${body}`)}`;
}

/** An HS256 custom-token JWT, signed with the fixture's key unless another is given. */
export const hs256 = (claims, key = fixtureKey) =>
  jwt("HS256", claims, (input) => createHmac("sha256", key).update(input).digest("base64url"));

/** Claims the fixture's custom-token provider accepts for `sub` (email and profile.name metadata). */
export function claims(sub, extra = {}) {
  const now = Math.floor(Date.now() / 1000);
  return { sub, aud: fixtureAppId, iat: now, exp: now + 600, email: `${sub}@corp.example`, profile: { name: `Name ${sub}` }, ...extra };
}

/** Asserts `err` is an `ErrorClass` (realm-web's or our MongoDBRealmError) with that status and code. */
export function assertRealmError(ErrorClass, err, statusCode, errorCode) {
  assert.ok(err instanceof ErrorClass, `expected MongoDBRealmError, got ${err}`);
  assert.equal(err.statusCode, statusCode, err.message);
  assert.equal(err.errorCode, errorCode, err.message);
}
