// Shared helpers for the Node integration tests: a real realm-wasm-server per test file,
// unique credentials, and a child-process runner.
import { before, after } from "node:test";
import { execFile } from "node:child_process";
import { join, dirname } from "node:path";
import { fileURLToPath } from "node:url";
import { startServer } from "../../scripts/server.mjs";

export const repoRoot = join(dirname(fileURLToPath(import.meta.url)), "..", "..");

/** Starts one server (fresh data dir, free port) for the calling test file; stops it afterwards. */
export function useServer() {
  const handle = {};
  before(async () => {
    const server = await startServer();
    Object.assign(handle, server);
  });
  after(async () => {
    await handle.stop?.();
  });
  return handle;
}

let counter = 0;
/** A fresh email/password pair (unique per process and call). */
export function newCredentials(tag = "test") {
  counter += 1;
  const email = `${tag}-${process.pid}-${Date.now()}-${counter}@example.com`;
  return { email, password: `pw-${counter}-secret` };
}

/** Runs a command; resolves to { code, stdout, stderr } (never rejects on a non-zero exit). */
export function run(command, args, { env = {}, cwd = repoRoot } = {}) {
  return new Promise((resolve, reject) => {
    execFile(
      command,
      args,
      { cwd, env: { ...process.env, ...env }, maxBuffer: 16 * 1024 * 1024 },
      (error, stdout, stderr) => {
        if (error && typeof error.code !== "number") return reject(error);
        resolve({ code: error ? error.code : 0, stdout, stderr });
      },
    );
  });
}

/** A fresh session store for `new App({ storage })`, so the App shares no users with other tests. */
export function memoryStorage() {
  const map = new Map();
  return { get: (k) => map.get(k), set: (k, v) => void map.set(k, v), remove: (k) => void map.delete(k), map };
}

/** Awaits a promise that must reject; returns the rejection reason. */
export async function rejection(promise) {
  try {
    await promise;
  } catch (err) {
    return err;
  }
  throw new Error("expected the promise to reject");
}

/**
 * `v` with every BSON value replaced by its type and canonical text, and Dates by their time: for
 * comparing values across bson versions (realm-wasm's bson 6 with realm-web's bson 4).
 */
export function typed(v) {
  if (v === null || typeof v !== "object") return v;
  if (Array.isArray(v)) return v.map(typed);
  if (v instanceof Date) return { $date: v.getTime() };
  const type = v._bsontype;
  if (type !== undefined) {
    const kind = type === "ObjectID" ? "ObjectId" : type;
    if (kind === "ObjectId") return { $bson: kind, value: v.toHexString() };
    if (kind === "Binary") return { $bson: kind, value: `${v.sub_type}:${Buffer.from(v.buffer.subarray(0, v.position)).toString("base64")}` };
    return { $bson: kind, value: String(v) };
  }
  return Object.fromEntries(Object.keys(v).map((k) => [k, typed(v[k])]));
}
