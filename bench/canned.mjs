// Shared by bench/run.mjs and bench/sdk.mjs: the benchmark documents and the canned in-process
// `fetch` that answers the App Services client routes from pre-encoded bytes (so only client cost counts).
import { createRequire } from "node:module";

const require = createRequire(import.meta.url);
const BSON = require("bson");

// ---------------------------------------------------------------------------------------------
// Data

export const BIG_N = 10_000;
const baseDate = Date.UTC(2024, 0, 1);
export function makeDoc(i) {
  const hex = (i + 1).toString(16).padStart(8, "0");
  return {
    _id: new BSON.ObjectId(`65a1b2c3d4e5f6a7${hex}`),
    i,
    score: i + 0.25,
    big: BSON.Long.fromNumber(2 ** 40 + i),
    name: `user-${i}`,
    email: `user${i}@example.com`,
    active: i % 3 === 0,
    createdAt: new Date(baseDate + i * 60_000),
    tags: ["alpha", `t${i % 10}`, "omega"],
    address: { street: `${i} Main Street`, city: "Springfield", zip: `${10000 + (i % 9000)}`, geo: { lat: 40.5 + i / 1e5, lng: -73.25 } },
    ref: new BSON.ObjectId(`5f00000000000000${hex}`),
    note: null,
  };
}

// ---------------------------------------------------------------------------------------------
// (b) Canned in-process fetch

export const enc = new TextEncoder();
const b64url = (obj) => Buffer.from(JSON.stringify(obj)).toString("base64url");
const CANNED_USER = "65f000000000000000000001";
const now = Math.floor(Date.now() / 1000);
const cannedJwt = (kind) =>
  `${b64url({ alg: "HS256", typ: "JWT" })}.${b64url({ exp: now + 86400 * 365, iat: now, sub: CANNED_USER, typ: kind })}.${Buffer.from("sig").toString("base64url")}`;
export const CANNED_HOST = "http://canned.invalid";
export const canned = {
  location: enc.encode(JSON.stringify({ deployment_model: "GLOBAL", location: "US-VA", hostname: CANNED_HOST, ws_hostname: "ws://canned.invalid" })),
  login: enc.encode(JSON.stringify({ access_token: cannedJwt("access"), refresh_token: cannedJwt("refresh"), user_id: CANNED_USER, device_id: "65f0000000000000000000ff" })),
  profile: enc.encode(
    JSON.stringify({
      user_id: CANNED_USER,
      domain_id: "65f0000000000000000000aa",
      identities: [{ id: "65f0000000000000000000bb", provider_type: "local-userpass", provider_id: "65f0000000000000000000cc", provider_data: { email: "bench@example.com" } }],
      data: { email: "bench@example.com" },
      type: "normal",
    }),
  ),
  session: enc.encode(JSON.stringify({ access_token: cannedJwt("access") })),
  insertOne: enc.encode(BSON.EJSON.stringify({ insertedId: new BSON.ObjectId("65f0000000000000000000dd") }, { relaxed: false })),
  findOne: enc.encode(BSON.EJSON.stringify(makeDoc(7), { relaxed: false })),
  updateOne: enc.encode(BSON.EJSON.stringify({ matchedCount: 1, modifiedCount: 1 }, { relaxed: false })),
  find: enc.encode(BSON.EJSON.stringify(Array.from({ length: BIG_N }, (_, i) => makeDoc(i)), { relaxed: false })),
};
export const JSON_HEADERS = { "content-type": "application/json" };

/** An in-process fetch answering the App Services client routes from `canned`. */
export async function cannedFetch(input, init = {}) {
  let url, method, body;
  if (typeof input === "string" || input instanceof URL) {
    url = String(input);
    method = (init.method ?? "GET").toUpperCase();
    body = init.body;
  } else {
    // A Request object (e.g. a Rust SDK built on web_sys::Request).
    url = input.url;
    method = input.method;
    body = method === "GET" || method === "HEAD" ? undefined : await input.text();
  }
  const reply = (bytes, status = 200) => new Response(bytes, { status, headers: JSON_HEADERS });
  const path = new URL(url).pathname;
  if (path.endsWith("/location")) return reply(canned.location);
  if (path.endsWith("/auth/providers/local-userpass/login")) return reply(canned.login);
  if (path.endsWith("/auth/profile")) return reply(canned.profile);
  if (path.endsWith("/auth/session")) return method === "DELETE" ? new Response(null, { status: 204 }) : reply(canned.session, 201);
  if (path.endsWith("/functions/call")) {
    if (typeof body !== "string") body = await new Response(body).text();
    const { name } = JSON.parse(body);
    if (canned[name]) return reply(canned[name]);
    return reply(enc.encode(JSON.stringify({ error: `canned fetch has no answer for ${name}`, error_code: "FunctionNotFound" })), 404);
  }
  return reply(enc.encode(JSON.stringify({ error: `canned fetch: no route for ${method} ${path}`, error_code: "NotFound" })), 404);
}

let appSeq = 0;
export async function cannedUser(sdk) {
  const { App, Credentials } = sdk.mod;
  const app = new App({ id: `bench-canned-${sdk.name}-${appSeq++}`, baseUrl: CANNED_HOST, fetch: cannedFetch });
  const user = await app.logIn(Credentials.emailPassword("bench@example.com", "password123"));
  return { app, user, coll: user.mongoClient("mongodb-atlas").db("bench").collection("canned") };
}

