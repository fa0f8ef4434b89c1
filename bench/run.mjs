// realm-wasm vs realm-web 2.0.1, same operations, one Node process.
//
//   node bench/run.mjs            # runs everything, prints markdown tables
//   node bench/run.mjs --write    # … and rewrites BENCHMARKS.md with the figures
//   node bench/run.mjs --quick    # fewer repetitions (smoke run; don't --write these)
//   node bench/run.mjs --skip-server  # only the canned and size parts
//
// (a) "server":  against a real realm-wasm-server on loopback (started here via scripts/server.mjs).
// (b) "canned":  each SDK gets an injected in-process `fetch` that answers from pre-encoded bytes, so
//                only client cost (request building, EJSON (de)serialisation, auth bookkeeping) counts.
// (c) download size of a tiny browser app importing App + Credentials (esbuild --minify, gzip -9).
//
// Repetitions of the two SDKs are interleaved (round r: realm-web, then realm-wasm) after a warm-up;
// the figure is the median. ratio = realm-wasm time / realm-web time (< 1 means realm-wasm is faster).
import { createRequire } from "node:module";
import { existsSync, readFileSync, writeFileSync, statSync } from "node:fs";
import { cpus, loadavg, totalmem } from "node:os";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { gzipSync, constants as zlibConstants } from "node:zlib";
import { isDeepStrictEqual } from "node:util";
import { performance } from "node:perf_hooks";
import * as esbuild from "esbuild";
import { startServer, serverBinary } from "../scripts/server.mjs";
import { BIG_N, makeDoc, cannedUser } from "./canned.mjs";

const root = join(dirname(fileURLToPath(import.meta.url)), "..");
const require = createRequire(import.meta.url);
const args = new Set(process.argv.slice(2));
const WRITE = args.has("--write");
const QUICK = args.has("--quick");
const SKIP_SERVER = args.has("--skip-server"); // development aid: only the canned + size parts
const BSON = require("bson");

// ---------------------------------------------------------------------------------------------
// SDKs

const pkgDir = join(root, "pkg");
const sdks = [];
const sdkNotes = [];
{
  const web = require("realm-web");
  sdks.push({ name: "realm-web", mod: web, version: require("realm-web/package.json").version });
  if (existsSync(join(pkgDir, "package.json"))) {
    try {
      const wasm = require(pkgDir);
      const version = JSON.parse(readFileSync(join(pkgDir, "package.json"), "utf8")).version;
      sdks.push({ name: "realm-wasm", mod: wasm, version });
    } catch (err) {
      sdkNotes.push(`realm-wasm: require("${pkgDir}") failed: ${err.stack ?? err}`);
    }
  } else {
    sdkNotes.push(`realm-wasm: ${pkgDir} is not built (make build) — only realm-web measured`);
  }
}
const byName = (name) => sdks.find((s) => s.name === name);

// ---------------------------------------------------------------------------------------------
// Measurement

const median = (xs) => {
  const s = [...xs].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 ? s[m] : (s[m - 1] + s[m]) / 2;
};

/**
 * bench: { group, name, opsPerRep, warmup, reps, setup(sdk) → state, run(state) → result, teardown?(state) }
 * Returns { ...bench, per: { sdkName: { times, median, error, result } } }.
 */
async function measure(bench) {
  const per = {};
  const states = {};
  for (const sdk of sdks) {
    per[sdk.name] = { times: [], error: null, result: undefined };
    try {
      states[sdk.name] = await bench.setup(sdk);
      // The first call's result is what we check for agreement between the SDKs.
      per[sdk.name].result = await bench.run(states[sdk.name], sdk);
      for (let i = 1; i < bench.warmup; i++) await bench.run(states[sdk.name], sdk);
    } catch (err) {
      per[sdk.name].error = err;
    }
  }
  const reps = QUICK ? Math.min(3, bench.reps) : bench.reps;
  for (let r = 0; r < reps; r++) {
    for (const sdk of r % 2 ? [...sdks].reverse() : sdks) {
      const p = per[sdk.name];
      if (p.error) continue;
      try {
        const t0 = performance.now();
        await bench.run(states[sdk.name], sdk);
        p.times.push(performance.now() - t0);
      } catch (err) {
        p.error = err;
      }
    }
  }
  for (const sdk of sdks) {
    const p = per[sdk.name];
    if (p.times.length) p.median = median(p.times);
    try {
      await bench.teardown?.(states[sdk.name]);
    } catch {}
  }
  const out = { ...bench, reps, per };
  out.check = bench.check ? checkAgreement(bench, per) : null;
  return out;
}

// ---------------------------------------------------------------------------------------------
// Agreement checks: values compared with their BSON/JS types ("ObjectId", "Date", "Double", …).

function typed(v) {
  if (v === null || v === undefined) return v;
  if (Array.isArray(v)) return v.map(typed);
  if (typeof v !== "object") return { t: typeof v, v };
  const ctor = v.constructor?.name ?? "null-proto";
  if (ctor === "Object" || ctor === "null-proto") {
    const o = {};
    for (const k of Object.keys(v)) o[k] = typed(v[k]);
    return o;
  }
  if (v instanceof Date) return { t: "Date", v: v.getTime() };
  // The SDKs ship different bson versions (realm-wasm 6, realm-web 4), whose EJSON refuses the
  // other's values: each value writes its own canonical form; "ObjectID" is bson 4's spelling.
  const bsontype = v._bsontype === "ObjectID" ? "ObjectId" : v._bsontype;
  let text;
  try {
    text = JSON.stringify(v.toExtendedJSON({ relaxed: false }));
  } catch {
    text = String(v);
  }
  return { t: bsontype ? `bson.${bsontype}` : ctor, v: text };
}

function firstDifference(a, b, path = "$") {
  if (isDeepStrictEqual(a, b)) return null;
  if (a && b && typeof a === "object" && typeof b === "object" && Array.isArray(a) === Array.isArray(b)) {
    const keys = new Set([...Object.keys(a), ...Object.keys(b)]);
    for (const k of keys) {
      const d = firstDifference(a[k], b[k], `${path}.${k}`);
      if (d) return d;
    }
  }
  return `${path}: realm-web ${JSON.stringify(a)} vs realm-wasm ${JSON.stringify(b)}`;
}

function checkAgreement(bench, per) {
  const web = per["realm-web"];
  const wasm = per["realm-wasm"];
  if (!wasm || wasm.error || web.error) return { status: "not compared" };
  const a = typed(bench.check(web.result));
  const b = typed(bench.check(wasm.result));
  const diff = firstDifference(a, b);
  return diff ? { status: "differ", diff } : { status: "agree" };
}

// Result checks: count + first + last document, with BSON types.
const checkFind = (docs) => ({ count: docs.length, first: docs[0], last: docs[docs.length - 1] });
let appSeq = 0;

// The small-calls mix: insertOne, findOne, updateOne repeated; `rounds` × 3 operations.
async function smallMix(coll, rounds, tag, keyBase = 0) {
  let last;
  for (let k = keyBase; k < keyBase + rounds; k++) {
    const inserted = await coll.insertOne({ k, tag, s: "some text", n: k * 1.5 });
    const found = await coll.findOne({ k, tag });
    const updated = await coll.updateOne({ k, tag }, { $set: { s: "other text" } });
    last = { inserted, found, updated };
  }
  return last;
}

function cannedBenches() {
  const MIX_ROUNDS = 100;
  return [
    {
      group: "canned",
      name: "logIn (location + login + profile), fresh App",
      opsPerRep: 1,
      warmup: 30,
      reps: 200,
      setup: async (sdk) => sdk,
      run: async (sdk) => {
        const { user } = await cannedUser(sdk);
        return { id: user.id, isLoggedIn: user.isLoggedIn, email: user.profile?.email };
      },
      check: (r) => r,
    },
    {
      group: "canned",
      name: `small calls mix (insertOne/findOne/updateOne × ${MIX_ROUNDS})`,
      opsPerRep: MIX_ROUNDS * 3,
      warmup: 5,
      reps: 30,
      setup: cannedUser,
      run: (s) => smallMix(s.coll, MIX_ROUNDS, "canned"),
      check: (r) => r,
    },
    {
      group: "canned",
      name: `find() → ${BIG_N.toLocaleString("en")} documents`,
      opsPerRep: 1,
      warmup: 3,
      reps: 20,
      setup: cannedUser,
      run: (s) => s.coll.find({}),
      check: checkFind,
    },
  ];
}

// ---------------------------------------------------------------------------------------------
// (a) Real server on loopback

async function serverUser(sdk, server, label) {
  const { App, Credentials } = sdk.mod;
  const app = new App({ id: server.appId, baseUrl: server.baseUrl });
  const email = `bench-${label}-${sdk.name}-${Date.now()}-${appSeq++}@example.com`;
  await app.emailPasswordAuth.registerUser({ email, password: "password123" });
  const user = await app.logIn(Credentials.emailPassword(email, "password123"));
  return { app, user, db: user.mongoClient("mongodb-atlas").db("bench") };
}

async function seedBig(server) {
  // Seeded once, by realm-web (the reference), in chunks (keeps request bodies small).
  const { db, user } = await serverUser(byName("realm-web"), server, "seed");
  const coll = db.collection("big");
  for (let i = 0; i < BIG_N; i += 1000) {
    const chunk = Array.from({ length: Math.min(1000, BIG_N - i) }, (_, j) => makeDoc(i + j));
    const res = await coll.insertMany(chunk);
    if (res.insertedIds.length !== chunk.length) throw new Error(`seed insertMany returned ${res.insertedIds.length} ids`);
  }
  await user.logOut();
}

function serverBenches(server) {
  const MIX_ROUNDS = 20;
  return [
    {
      group: "server",
      name: `small calls mix (insertOne/findOne/updateOne × ${MIX_ROUNDS})`,
      opsPerRep: MIX_ROUNDS * 3,
      warmup: 2,
      reps: 20,
      // Each SDK writes its own collection with the same keys, fresh keys every repetition.
      setup: async (sdk) => ({ ...(await serverUser(sdk, server, "mix")), keyBase: 0, coll: `mix_${sdk.name.replace("-", "_")}` }),
      run: (s) => {
        s.keyBase += MIX_ROUNDS;
        return smallMix(s.db.collection(s.coll), MIX_ROUNDS, "server", s.keyBase);
      },
      // Generated ids differ between the SDKs' runs; compare their types, everything else by value.
      check: ({ inserted, found, updated }) => ({
        insertedIdType: inserted?.insertedId?.constructor?.name,
        found: found && { ...found, _id: found._id?.constructor?.name },
        updated,
      }),
      teardown: (s) => s.user.logOut(),
    },
    {
      group: "server",
      name: `find() → ${BIG_N.toLocaleString("en")} documents`,
      opsPerRep: 1,
      warmup: 2,
      reps: 10,
      setup: (sdk) => serverUser(sdk, server, "find"),
      run: (s) => s.db.collection("big").find({}),
      check: checkFind,
      teardown: (s) => s.user.logOut(),
    },
  ];
}

// ---------------------------------------------------------------------------------------------
// (c) Browser download size

async function downloadSize(sdk) {
  const entryFile = sdk.name === "realm-web" ? "realm-web" : join(pkgDir, "browser.mjs");
  const result = await esbuild.build({
    stdin: {
      contents: `import { App, Credentials } from ${JSON.stringify(entryFile)};\n` +
        `const app = new App({ id: "size-probe" });\nexport const go = () => app.logIn(Credentials.anonymous());\n`,
      resolveDir: root,
      loader: "js",
    },
    bundle: true,
    minify: true,
    format: "esm",
    target: "es2022",
    platform: "browser",
    write: false,
    logLevel: "silent",
  });
  const js = result.outputFiles[0].contents;
  const gz = (buf) => gzipSync(buf, { level: zlibConstants.Z_BEST_COMPRESSION }).length;
  const row = { js: js.length, jsGz: gz(js), wasm: 0, wasmGz: 0 };
  if (sdk.name === "realm-wasm") {
    const refs = [...new TextDecoder().decode(js).matchAll(/new URL\(\s*["'`]([^"'`]+\.wasm)["'`]\s*,\s*import\.meta\.url/g)].map((m) => m[1]);
    const wasmFile = [...refs.map((r) => join(pkgDir, r)), join(pkgDir, "web", "realm_wasm_bg.wasm")].find((f) => existsSync(f) && statSync(f).isFile());
    if (!wasmFile) throw new Error(`no wasm file found for the browser bundle (referenced: ${refs.join(", ") || "none"})`);
    const wasm = readFileSync(wasmFile);
    row.wasm = wasm.length;
    row.wasmGz = gz(wasm);
  }
  row.totalGz = row.jsGz + row.wasmGz;
  return row;
}

// ---------------------------------------------------------------------------------------------
// Output

const fmtMs = (ms) => (ms === undefined ? "—" : ms >= 100 ? ms.toFixed(0) : ms >= 10 ? ms.toFixed(1) : ms.toFixed(2));
const fmtOps = (ops) => (ops === undefined ? "—" : ops >= 100 ? Math.round(ops).toLocaleString("en") : ops.toFixed(1));
const fmtKb = (b) => (b ? `${(b / 1024).toFixed(1)} KiB (${b.toLocaleString("en")} B)` : "—");
const errText = (err) => String(err?.stack ?? err).split("\n").slice(0, 3).join(" | ");

function timingTable(results) {
  const lines = [
    "| where | operation | ops/rep | realm-wasm median ms | realm-wasm ops/s | realm-web median ms | realm-web ops/s | ratio wasm/web |",
    "|---|---|---:|---:|---:|---:|---:|---:|",
  ];
  const notes = [];
  for (const r of results) {
    const w = r.per["realm-wasm"];
    const j = r.per["realm-web"];
    const ops = (p) => (p?.median ? (r.opsPerRep * 1000) / p.median : undefined);
    const ratio = w?.median && j?.median ? (w.median / j.median).toFixed(2) : "—";
    lines.push(
      `| ${r.group} | ${r.name} | ${r.opsPerRep} | ${fmtMs(w?.median)} | ${fmtOps(ops(w))} | ${fmtMs(j?.median)} | ${fmtOps(ops(j))} | ${ratio} |`,
    );
    for (const [name, p] of Object.entries(r.per)) {
      if (p.error) {
        lines.push(`| ${r.group} | ⚠ ${name} FAILED: ${r.name} | | | | | | |`);
        notes.push(`${name} failed in "${r.group}: ${r.name}": ${errText(p.error)}`);
      }
    }
    if (r.check?.status === "differ") {
      lines.push(`| ${r.group} | ⚠ RESULTS DIFFER: ${r.name} | | | | | | |`);
      notes.push(`results differ in "${r.group}: ${r.name}": ${r.check.diff}`);
    }
  }
  const agree = results.filter((r) => r.check?.status === "agree").length;
  const checks = `Result checks (realm-wasm vs realm-web, values with BSON types): ${agree} of ${results.length} operations agree` +
    (agree < results.length ? ` (others: ${results.filter((r) => r.check?.status !== "agree").map((r) => `${r.group}/${r.name}: ${r.check?.status}`).join("; ")})` : "") + ".";
  return { table: lines.join("\n"), notes, checks };
}

function sizeTable(sizes) {
  const lines = [
    "| package | JS min | JS min+gzip | wasm | wasm gzip | total gzip |",
    "|---|---:|---:|---:|---:|---:|",
  ];
  const notes = [];
  for (const [name, s] of Object.entries(sizes)) {
    if (s.error) {
      lines.push(`| ⚠ ${name} FAILED | | | | | |`);
      notes.push(`${name} size: ${errText(s.error)}`);
      continue;
    }
    lines.push(`| ${name} | ${fmtKb(s.js)} | ${fmtKb(s.jsGz)} | ${fmtKb(s.wasm)} | ${fmtKb(s.wasmGz)} | ${fmtKb(s.totalGz)} |`);
  }
  const w = sizes["realm-wasm"];
  const j = sizes["realm-web"];
  if (w?.totalGz && j?.totalGz) lines.push(`| ratio wasm/web | | ${(w.jsGz / j.jsGz).toFixed(2)} | | | ${(w.totalGz / j.totalGz).toFixed(2)} |`);
  return { table: lines.join("\n"), notes };
}

function machine() {
  const cpuinfo = existsSync("/proc/cpuinfo") ? readFileSync("/proc/cpuinfo", "utf8") : "";
  const model = /^model name\s*:\s*(.+)$/m.exec(cpuinfo)?.[1] ?? cpus()[0]?.model ?? "unknown";
  return {
    nproc: cpus().length,
    cpu: model.trim(),
    mem: `${(totalmem() / 2 ** 30).toFixed(1)} GiB`,
    node: process.version,
    os: `${process.platform} ${process.arch}`,
  };
}

// ---------------------------------------------------------------------------------------------
// Main

const started = new Date();
const loadBefore = loadavg()[0].toFixed(2);
const results = [];
const sizes = {};

console.error(`bench: SDKs: ${sdks.map((s) => `${s.name} ${s.version}`).join(", ")}${QUICK ? " (quick)" : ""}`);
for (const n of sdkNotes) console.error(`bench: ${n}`);

// (b) canned first: no server noise.
for (const b of cannedBenches()) {
  console.error(`bench: canned: ${b.name}`);
  results.push(await measure(b));
}

// (a) real server.
const server = SKIP_SERVER ? null : await startServer();
if (server) try {
  console.error(`bench: server ${server.baseUrl}: seeding ${BIG_N} documents`);
  await seedBig(server);
  for (const b of serverBenches(server)) {
    console.error(`bench: server: ${b.name}`);
    results.push(await measure(b));
  }
} finally {
  await server.stop();
} else sdkNotes.push("--skip-server: the real-server part was not run");

// (c) sizes.
for (const sdk of sdks) {
  try {
    sizes[sdk.name] = await downloadSize(sdk);
  } catch (err) {
    sizes[sdk.name] = { error: err };
  }
}

const m = machine();
const timing = timingTable(results);
const size = sizeTable(sizes);
const notes = [...sdkNotes, ...timing.notes, ...size.notes];
const reps = results.map((r) => `${r.group}/${r.name.split(" (")[0].split(" →")[0]}: ${r.reps}`).join("; ");
const report = [
  `Machine: ${m.nproc} CPU(s) (nproc), ${m.cpu}, ${m.mem} RAM, ${m.os}, Node ${m.node}. Run ${started.toISOString()}${QUICK ? " (--quick)" : ""};` +
    ` 1-min load average ${loadBefore} at start, ${loadavg()[0].toFixed(2)} at end (other work on the machine makes the figures noisier).`,
  `SDKs: ${sdks.map((s) => `${s.name} ${s.version}`).join(", ")}.` +
    (server ? ` Server: ${serverBinary().replace(root + "/", "")}${serverBinary().includes("/debug/") ? " (DEBUG build: server figures are pessimistic)" : ""}.` : ""),
  "",
  "### Time (median of interleaved repetitions; ratio < 1 means realm-wasm is faster)",
  "",
  timing.table,
  "",
  `Repetitions: ${reps}.`,
  "",
  timing.checks,
  "",
  "### Browser download size (esbuild bundle of `import { App, Credentials }`, --minify, ESM es2022; gzip -9)",
  "",
  size.table,
  ...(notes.length ? ["", "### Warnings", "", ...notes.map((n) => `- ${n}`)] : []),
].join("\n");

console.log(report);

if (WRITE) {
  const file = join(root, "BENCHMARKS.md");
  const intro = `# Benchmarks: realm-wasm vs realm-web

Command: \`node bench/run.mjs\` (add \`--write\` to regenerate this file). It needs the server binary
(\`cargo build --release -p realm-wasm-server\`) and the package (\`make build\` → \`pkg/\`); it starts its own
realm-wasm-server on a free loopback port with a fresh data directory and stops it at the end.

What is measured, in one Node process, with both SDKs doing the same calls:

- **canned** — each SDK's \`App\` gets an injected in-process \`fetch\` (\`new App({ id, baseUrl, fetch })\`) that
  answers from pre-encoded bytes (location, login, profile, insertOne/findOne/updateOne, and a canonical-EJSON
  array of 10,000 documents with ObjectId, Int32, Double, Long, strings, Date, arrays, nested documents, null).
  Only client cost counts: building requests, EJSON encoding/decoding, token/user bookkeeping, and the
  \`Response\` object handling both SDKs have to do.
- **server** — the same calls against a real realm-wasm-server on 127.0.0.1 (10,000 documents seeded once with
  insertMany in chunks of 1,000). Server time dominates these (login with argon2 is outside the timed part).
- Repetitions are interleaved between the SDKs after a warm-up; figures are medians. Results of the first call
  are compared between the SDKs with their BSON types (count, first and last document of the find; shapes of
  the small-call results); a ⚠ row appears when they differ or a call fails.
- Download size: esbuild-bundle a two-line app importing \`App\` and \`Credentials\`, minified, gzip level 9;
  for realm-wasm the \`_bg.wasm\` file (gzip -9) is added, since the browser downloads it as well.
- Both SDKs call \`fetch(url, init)\` with a string body, so the canned fetch does the same work for each.
  (Until 2026-11-26 realm-wasm called \`fetch(request)\` with a \`Request\` object; in Node 20 building a
  \`Request\` and reading its text cost 15–25 µs per call — switching to \`(url, init)\` took the canned
  small-calls ratio from about 1.7 to about 1.1.)

The SDK targets of issue 6 (decode vs \`JSON.parse\`, per-call overhead, insertMany encoding, download size,
start-up) are measured by \`node bench/sdk.mjs\` — see its section below.

## Latest run

`;
  // Keep the sections other scripts (or people) maintain between markers: bench/server.mjs
  // (server-throughput), bench/sdk.mjs (sdk-targets), the optimisation notes (sdk-notes).
  const previous = existsSync(file) ? readFileSync(file, "utf8") : "";
  const kept = [...previous.matchAll(/<!-- ([a-z-]+):start -->[\s\S]*?<!-- \1:end -->/g)].map((m) => m[0]);
  writeFileSync(file, intro + report + "\n" + kept.map((k) => `\n${k}\n`).join(""));
  console.error(`bench: wrote ${file}`);
}
