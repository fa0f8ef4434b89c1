// The SDK targets of issues 6 and 15, realm-wasm vs realm-web 2.0.1 side by side in one Node process:
//
//   node bench/sdk.mjs            # prints one table: figure, realm-wasm, realm-web, ratio, target
//   node bench/sdk.mjs --write    # … and puts it into BENCHMARKS.md (its own section)
//   node bench/sdk.mjs --quick    # fewer repetitions (smoke run; don't --write these)
//   node bench/sdk.mjs --pkg DIR  # measure another build of the package (e.g. an older one) as realm-wasm
//
// Needs the package (`make build` → pkg/). Every call goes through the canned in-process fetch of
// bench/canned.mjs, so only client cost counts. Repetitions alternate between the SDKs; figures are medians.
import { spawnSync } from "node:child_process";
import { createRequire } from "node:module";
import { readFileSync, mkdtempSync, rmSync } from "node:fs";
import { cpus, loadavg, tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { gzipSync, constants as zlib } from "node:zlib";
import { isDeepStrictEqual } from "node:util";
import { performance } from "node:perf_hooks";
import * as esbuild from "esbuild";
import { writeSection } from "./sections.mjs";
import { canned, cannedFetch, CANNED_HOST, enc, JSON_HEADERS, makeDoc } from "./canned.mjs";

const root = join(dirname(fileURLToPath(import.meta.url)), "..");
const require = createRequire(import.meta.url);
const args = new Set(process.argv.slice(2));
const QUICK = args.has("--quick");
const WRITE = args.has("--write");
const argv = process.argv.slice(2);
const pkgDir = argv.includes("--pkg") ? join(process.cwd(), argv[argv.indexOf("--pkg") + 1]) : join(root, "pkg");
const BSON = require("bson");

const sdks = [
  { name: "realm-wasm", dir: pkgDir, mod: require(pkgDir) },
  { name: "realm-web", dir: dirname(require.resolve("realm-web/package.json")), mod: require("realm-web") },
];
const median = (xs) => [...xs].sort((a, b) => a - b)[xs.length >> 1];
const rows = [];
const notes = [];
function row(figure, wasm, web, unit, target, digits = 2) {
  const f = (x) => (x >= 100 ? x.toFixed(0) : x >= 10 ? x.toFixed(1) : x.toFixed(digits));
  const ratio = wasm / web;
  rows.push({ figure, wasm: `${f(wasm)} ${unit}`, web: `${f(web)} ${unit}`, ratio: ratio.toFixed(2), target });
  console.error(`  ${figure}: realm-wasm ${f(wasm)} ${unit}, realm-web ${f(web)} ${unit}, ratio ${ratio.toFixed(2)}`);
}

/** Runs `fn(x)` `reps` times for each of `contenders` (the SDKs unless given), alternating, after
 *  `warmup` runs; median ms per contender name. */
async function compare(reps, warmup, fn, contenders = sdks) {
  for (const sdk of contenders) for (let i = 0; i < warmup; i++) await fn(sdk);
  const times = Object.fromEntries(contenders.map((s) => [s.name, []]));
  for (let r = 0; r < (QUICK ? Math.min(reps, 3) : reps); r++) {
    for (const sdk of r % 2 ? [...contenders].reverse() : contenders) {
      const t0 = performance.now();
      await fn(sdk);
      times[sdk.name].push(performance.now() - t0);
    }
  }
  return Object.fromEntries(contenders.map((s) => [s.name, median(times[s.name])]));
}

// A canned fetch with per-bench answers for some functions, and the last request body per SDK (and
// per SDK and function).
const answers = {};
const bodies = {};
const bodiesByName = {};
function fetchFor(sdkName) {
  return async (url, init = {}) => {
    const body = init.body;
    if (typeof body === "string" && String(url).endsWith("/functions/call")) {
      bodies[sdkName] = body;
      const name = /"name":"([A-Za-z]+)"/.exec(body.slice(0, 64))?.[1];
      (bodiesByName[sdkName] ??= {})[name] = body;
      if (name && answers[name]) {
        return new Response(answers[name], { status: 200, headers: JSON_HEADERS });
      }
    }
    return cannedFetch(url, init);
  };
}
async function collectionOf(sdk) {
  const { App, Credentials } = sdk.mod;
  const app = new App({ id: `sdk-bench-${sdk.name}`, baseUrl: CANNED_HOST, fetch: fetchFor(sdk.name) });
  const user = await app.logIn(Credentials.emailPassword("bench@example.com", "password123"));
  return user.mongoClient("mongodb-atlas").db("bench").collection("sdk");
}
for (const sdk of sdks) sdk.coll = await collectionOf(sdk);

// Values with their BSON/JS types, for the agreement checks.
function typed(v) {
  if (v === null || typeof v !== "object") return v === undefined ? v : { t: typeof v, v: Object.is(v, -0) ? "-0" : v };
  if (Array.isArray(v)) return v.map(typed);
  if (v instanceof Date) return { t: "Date", v: v.getTime() };
  // Each value's own canonical form: the SDKs ship different bson versions (realm-wasm 6, realm-web 4),
  // whose EJSON refuses the other's values; "ObjectID" is bson 4's spelling.
  if (v._bsontype) return { t: v._bsontype === "ObjectID" ? "ObjectId" : v._bsontype, v: JSON.stringify(v.toExtendedJSON({ relaxed: false })) };
  return Object.fromEntries(Object.keys(v).map((k) => [k, typed(v[k])]));
}
function agree(what, a, b) {
  if (!isDeepStrictEqual(typed(a), typed(b))) notes.push(`⚠ ${what}: realm-wasm and realm-web results differ`);
}

// --- 1. find() decode vs JSON.parse of the same payload ------------------------------------------
console.error("bench: find() decode");
for (const n of [1_000, 10_000]) {
  const text = BSON.EJSON.stringify(Array.from({ length: n }, (_, i) => makeDoc(i)), { relaxed: false });
  answers.find = enc.encode(text);
  const results = {};
  const t = await compare(n > 1000 ? 15 : 60, 3, async (sdk) => (results[sdk.name] = await sdk.coll.find({})));
  agree(`find() of ${n} documents`, results["realm-wasm"], results["realm-web"]);
  const parse = (await compare(n > 1000 ? 15 : 60, 3, async () => JSON.parse(text)))["realm-wasm"];
  row(`find() → ${n.toLocaleString("en")} docs (${(text.length / 1e6).toFixed(2)} MB EJSON), ms`, t["realm-wasm"], t["realm-web"], "ms", "—");
  rows.push({
    figure: `… as a multiple of JSON.parse of the same text (${parse.toFixed(2)} ms)`,
    wasm: `${(t["realm-wasm"] / parse).toFixed(2)}×`,
    web: `${(t["realm-web"] / parse).toFixed(2)}×`,
    ratio: (t["realm-wasm"] / t["realm-web"]).toFixed(2),
    target: "realm-wasm ≤ 2×",
  });
}
delete answers.find;

// --- 2. per-call client cost of small calls --------------------------------------------------------
console.error("bench: small calls");
const CALLS = 200;
const small = {
  insertOne: (c, i) => c.insertOne({ k: i, tag: "bench", s: "some text", n: i * 1.5 }),
  findOne: (c, i) => c.findOne({ k: i, tag: "bench" }),
  // A call with options (the canned answer is the same document).
  "findOne with projection and sort": (c, i) => c.findOne({ k: i, tag: "bench" }, { projection: { k: 1, s: 1 }, sort: { k: -1 } }),
  updateOne: (c, i) => c.updateOne({ k: i, tag: "bench" }, { $set: { s: "other text" } }),
};
for (const [name, call] of Object.entries(small)) {
  const results = {};
  // What any client must pay: the same canned fetch with realm-web's request, and reading the answer.
  // Timed in the same interleaved repetitions as the SDKs, so drift on the machine hits all three alike
  // (the overhead is a difference of a few µs: a floor timed apart moved it by ±1 µs between runs).
  await call(sdks[1].coll, 0); // realm-web's request body for the floor
  const fetch = fetchFor("floor");
  const init = { method: "POST", headers: { "Content-Type": "application/json" }, body: bodies["realm-web"] };
  const url = `${CANNED_HOST}/api/client/v2.0/app/x/functions/call`;
  const floorRun = { name: "floor", run: async () => { for (let i = 0; i < CALLS; i++) await (await fetch(url, init)).text(); } };
  // 10 warm-up runs: the garbage of the find() section above is collected before anything is timed
  // (with 3, a major GC landed in the first call's repetitions in some runs, doubling its median).
  const t = await compare(40, 10, async (x) => {
    if (x === floorRun) return x.run();
    for (let i = 0; i < CALLS; i++) results[x.name] = await call(x.coll, i);
  }, [...sdks, floorRun]);
  agree(name, results["realm-wasm"], results["realm-web"]);
  const floor = t.floor / CALLS * 1000;
  const [w, b] = [t["realm-wasm"] / CALLS * 1000, t["realm-web"] / CALLS * 1000];
  row(`${name}: µs per call (incl. the canned fetch + reading the answer, ${floor.toFixed(1)} µs)`, w, b, "µs", "—", 1);
  row(`${name}: client overhead, µs per call (minus that)`, w - floor, b - floor, "µs", "≤ 0.25", 1);
}

// The realistic mix of issue 15: one after the other, an insertOne of a document with a Date and an
// array, a findOne and an updateOne of the user's documents, repeated; per call, with the floor of
// the same three requests (realm-web's bodies) through the same canned fetch subtracted.
{
  const ROUNDS = 70;
  const userID = "65f000000000000000000001";
  const mix = async (c, i) => {
    const inserted = await c.insertOne({ userID, i, when: new Date(), tags: ["x"] });
    const found = await c.findOne({ userID });
    const updated = await c.updateOne({ userID }, { $set: { i, seen: true } });
    return [inserted, found, updated];
  };
  const results = {};
  await mix(sdks[1].coll, 0); // realm-web's three request bodies for the floor
  const fetch = fetchFor("floor");
  const url = `${CANNED_HOST}/api/client/v2.0/app/x/functions/call`;
  const inits = ["insertOne", "findOne", "updateOne"].map((name) => ({
    method: "POST",
    headers: { "Content-Type": "application/json" },
    body: bodiesByName["realm-web"][name],
  }));
  const floorRun = { name: "floor" };
  const t = await compare(40, 10, async (x) => {
    if (x === floorRun) {
      for (let i = 0; i < ROUNDS; i++) for (const init of inits) await (await fetch(url, init)).text();
      return;
    }
    for (let i = 0; i < ROUNDS; i++) results[x.name] = await mix(x.coll, i);
  }, [...sdks, floorRun]);
  // The documents' `when` differ between the SDKs' calls; the answers (canned) must agree.
  agree("the mix", results["realm-wasm"], results["realm-web"]);
  const calls = ROUNDS * 3;
  const floor = t.floor / calls * 1000;
  const [w, b] = [t["realm-wasm"] / calls * 1000, t["realm-web"] / calls * 1000];
  row(`mix insertOne (Date, array) / findOne / updateOne: µs per call (incl. the canned fetch + reading the answer, ${floor.toFixed(1)} µs)`, w, b, "µs", "—", 1);
  row(`mix insertOne / findOne / updateOne: client overhead, µs per call (minus that)`, w - floor, b - floor, "µs", "≤ 0.25", 1);
}

// --- 3. insertMany encoding ------------------------------------------------------------------------
console.error("bench: insertMany");
{
  const docs = Array.from({ length: 10_000 }, (_, i) => makeDoc(i));
  answers.insertMany = enc.encode('{"insertedIds":[]}');
  const t = await compare(15, 3, (sdk) => sdk.coll.insertMany(docs));
  const [a, b] = [JSON.parse(bodies["realm-wasm"]), JSON.parse(bodies["realm-web"])];
  if (!isDeepStrictEqual(a.arguments, b.arguments)) notes.push("⚠ insertMany: the request arguments differ");
  row("insertMany(10,000 docs): request encoding + call, ms", t["realm-wasm"], t["realm-web"], "ms", "≤ 0.25");
  delete answers.insertMany;
}

// --- 4. download size ------------------------------------------------------------------------------
console.error("bench: download size");
const gz = (buf) => gzipSync(buf, { level: zlib.Z_BEST_COMPRESSION }).length;
const kb = (n) => `${(n / 1024).toFixed(1)} KiB`;
const size = {};
{
  const dir = mkdtempSync(join(tmpdir(), "realm-size-"));
  try {
    for (const sdk of sdks) {
      const app = `import { App, Credentials } from ${JSON.stringify(sdk.name === "realm-web" ? "realm-web" : join(sdk.dir, "browser.mjs"))};
const app = new App({ id: "my-app" });
const user = await app.logIn(Credentials.emailPassword("a@example.com", "password"));
console.log(await user.mongoClient("mongodb-atlas").db("db").collection("items").find({}));
`;
      const result = await esbuild.build({
        stdin: { contents: app, resolveDir: root, loader: "js" },
        bundle: true, minify: true, format: "esm", platform: "browser", target: "es2022",
        write: false, metafile: true, logLevel: "error",
      });
      const js = Buffer.from(result.outputFiles[0].contents);
      const inputs = Object.entries(result.metafile.outputs[Object.keys(result.metafile.outputs)[0]].inputs);
      const bsonBytes = inputs.filter(([p]) => p.includes("node_modules/bson/")).reduce((s, [, i]) => s + i.bytesInOutput, 0);
      const wasm = sdk.name === "realm-wasm" ? readFileSync(join(sdk.dir, "web", "realm_wasm_bg.wasm")) : null;
      size[sdk.name] = { js: js.length, jsGz: gz(js), bson: bsonBytes, wasm: wasm?.length ?? 0, wasmGz: wasm ? gz(wasm) : 0 };
      size[sdk.name].total = size[sdk.name].jsGz + size[sdk.name].wasmGz;
    }
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
  const [w, b] = [size["realm-wasm"], size["realm-web"]];
  row("browser download (JS + wasm, minified, gzip -9), KiB", w.total / 1024, b.total / 1024, "KiB", "realm-wasm ≤ 80 KiB", 1);
}

// --- 5. start-up -----------------------------------------------------------------------------------
console.error("bench: start-up");
{
  // In a fresh process: from before require()/import() to the App's first fetch call.
  const script = (spec, how) => `
const t0 = performance.now();
const go = (m) => {
  const app = new m.App({ id: "startup", baseUrl: "http://startup.invalid", fetch: () => {
    process.stdout.write(String(performance.now() - t0)); process.exit(0);
  } });
  app.logIn(m.Credentials.anonymous());
};
${how === "require" ? `go(require(${JSON.stringify(spec)}));` : `import(${JSON.stringify(spec)}).then(go);`}`;
  const startup = {};
  for (const how of ["require", "import"]) {
    for (const sdk of sdks) {
      const spec = sdk.name === "realm-web" ? require.resolve("realm-web") : join(sdk.dir, how === "require" ? "index.cjs" : "index.mjs");
      const runs = [];
      for (let i = 0; i < (QUICK ? 3 : 11); i++) {
        const r = spawnSync(process.execPath, ["-e", script(spec, how)], { cwd: root, encoding: "utf8" });
        if (r.status !== 0) throw new Error(`start-up probe failed: ${r.stderr}`);
        runs.push(Number(r.stdout));
      }
      startup[`${sdk.name}/${how}`] = median(runs);
    }
    row(`start-up, ${how}() → first request, ms`, startup[`realm-wasm/${how}`], startup[`realm-web/${how}`], "ms", "≤ 1.00", 1);
  }
}

// --- report ----------------------------------------------------------------------------------------
const report = [
  `Run ${new Date().toISOString()}: ${cpus().length} × ${cpus()[0]?.model.trim()}, Node ${process.version}; load average ${loadavg()
    .map((x) => x.toFixed(2))
    .join(" ")} at the end. SDKs: realm-wasm ${require(join(pkgDir, "package.json")).version} (${pkgDir.slice(root.length + 1)}/), realm-web ${require("realm-web/package.json").version}.`,
  "",
  "| figure | realm-wasm | realm-web | ratio wasm/web | target |",
  "|---|---:|---:|---:|---|",
  ...rows.map((r) => `| ${r.figure} | ${r.wasm} | ${r.web} | ${r.ratio} | ${r.target} |`),
  "",
  "Download breakdown (the app: `App`, `logIn`, `collection.find`; esbuild --bundle --minify, ESM, es2022):",
  "",
  "| package | JS min | of which bson | JS gzip | wasm | wasm gzip | total gzip |",
  "|---|---:|---:|---:|---:|---:|---:|",
  ...Object.entries(size).map(([n, s]) => `| ${n} | ${kb(s.js)} | ${kb(s.bson)} | ${kb(s.jsGz)} | ${s.wasm ? kb(s.wasm) : "—"} | ${s.wasmGz ? kb(s.wasmGz) : "—"} | ${kb(s.total)} |`),
  "",
  ...(notes.length ? notes : ["Result checks: find() of 1,000 and 10,000 documents, insertOne/findOne (without and with options)/updateOne results (values with BSON types) and the insertMany request arguments agree between the SDKs."]),
].join("\n");
console.log(report);

if (WRITE) writeSection("sdk-targets", `SDK targets (\`node bench/sdk.mjs\`)`, report);
