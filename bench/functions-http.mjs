// App Services Functions over loopback HTTP (issue 13's targets; figures, not tests).
//
//   node bench/functions-http.mjs           # prints a markdown table
//   node bench/functions-http.mjs --write   # … and puts it into BENCHMARKS.md (its own section)
//   node bench/functions-http.mjs --quick   # smaller counts (smoke run; don't --write these)
//
// The server serves an export written to a temporary folder: `sum` (return a + b), `findItem` (one
// findOne by _id through context.services, as the calling user), `big` (a 10 KB function). Raw
// `functions/call` requests over node:http with a keep-alive Agent, as bench/server.mjs sends them,
// so the server is measured, not an SDK.
//  1. sum, 16 concurrent clients: calls/s and p99                      (target ≥ 5,000/s, p99 ≤ 10 ms)
//  2. findItem vs the same findOne sent directly, one client, interleaved (target ≤ 1.5×)
//  3. first call of `big` after start-up, on a fresh server            (target ≤ 5 ms)
//  4. server RSS before and after 1,000 calls in a row                  (target within 5 MB)
import { mkdtempSync, mkdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { performance } from "node:perf_hooks";
import { startServer, serverBinary } from "../scripts/server.mjs";
import { post, processCpu } from "./load.mjs";
import { runLine, tableLines, writeSection } from "./sections.mjs";

const QUICK = process.argv.includes("--quick");
const WRITE = process.argv.includes("--write");

/** The bench's app export. */
function writeExport() {
  const dir = mkdtempSync(join(tmpdir(), "realm-functions-bench-"));
  const file = (rel, text) => {
    mkdirSync(join(dir, rel, ".."), { recursive: true });
    writeFileSync(join(dir, rel), typeof text === "string" ? text : JSON.stringify(text, null, 2));
  };
  file("realm_config.json", { app_id: "functions-bench", name: "functions-bench" });
  file("auth/providers.json", { "anon-user": { name: "anon-user", type: "anon-user", disabled: false } });
  file("data_sources/mongodb-atlas/config.json", { name: "mongodb-atlas", type: "mongodb-atlas" });
  file("data_sources/mongodb-atlas/bench/items/rules.json", {
    database: "bench",
    collection: "items",
    roles: [{ name: "everyone", apply_when: {}, read: true, write: true, insert: true, delete: true, search: true }],
  });
  file("functions/config.json", [{ name: "sum" }, { name: "findItem" }, { name: "big" }]);
  file("functions/sum.js", "exports = function (a, b) {\n  return a + b;\n};\n");
  file(
    "functions/findItem.js",
    'exports = function (id) {\n  return context.services.get("mongodb-atlas").db("bench").collection("items").findOne({ _id: id });\n};\n',
  );
  // 10 KB of source: helpers the entry point uses, so none of it is dead.
  let big = "// A 10 KB function: many small helpers, one of them picked by the argument.\n";
  let n = 0;
  while (big.length < 10 * 1024 - 200) {
    big += `function helper${n}(x) { const y = x * ${n + 1} + ${n % 7}; return y % 1000 === ${n} ? y : y - ${n}; }\n`;
    n++;
  }
  big += `const helpers = [${Array.from({ length: n }, (_, i) => `helper${i}`).join(", ")}];\nexports = function (i) {\n  return helpers[i % helpers.length](i);\n};\n`;
  file("functions/big.js", big);
  return { dir, bigBytes: Buffer.byteLength(big) };
}

/** A started server with an anonymous user: `call(name, args)` and `findOne(id)` send raw requests. */
async function open(dir) {
  const server = await startServer({ extraArgs: ["--app", dir] });
  const api = `${server.baseUrl}/api/client/v2.0/app/${server.appId}`;
  const login = await post(`${api}/auth/providers/anon-user/login`, {});
  const token = login.access_token;
  return {
    server,
    call: (name, args) => post(`${api}/functions/call`, { name, arguments: args }, token),
    mongo: (name, arg) => post(`${api}/functions/call`, { name, arguments: [arg], service: "mongodb-atlas" }, token),
    stop: () => server.stop(),
  };
}

function rssKiB(pid) {
  const line = readFileSync(`/proc/${pid}/status`, "utf8").split("\n").find((l) => l.startsWith("VmRSS:"));
  return Number(line.split(/\s+/)[1]);
}

const pct = (sorted, p) => sorted[Math.min(sorted.length - 1, Math.floor((sorted.length * p) / 100))];
const fmt = (ms) => `${ms.toFixed(ms < 1 ? 3 : 2)} ms`;

const { dir, bigBytes } = writeExport();
const rows = [];
const notes = [];
try {
  // 3. First call of a 10 KB function after start-up (before anything else runs on this server).
  const firsts = [];
  for (let i = 0; i < (QUICK ? 1 : 5); i++) {
    const fresh = await open(dir);
    const t0 = performance.now();
    await fresh.call("big", [3]);
    firsts.push(performance.now() - t0);
    const t1 = performance.now();
    await fresh.call("big", [4]);
    firsts.push(-(performance.now() - t1)); // the second call, kept apart below
    await fresh.stop();
  }
  const first = firsts.filter((x) => x >= 0).sort((a, b) => a - b);
  const second = firsts.filter((x) => x < 0).map((x) => -x).sort((a, b) => a - b);

  const s = await open(dir);
  const pid = s.server.process.pid;
  await s.mongo("insertMany", { database: "bench", collection: "items", documents: Array.from({ length: 1000 }, (_, i) => ({ _id: i, n: i, name: `item ${i}` })) });

  // 4. RSS over 1,000 calls in a row (after a short warm-up that fills the runtimes' contexts).
  for (let i = 0; i < 100; i++) await s.call(i % 2 ? "sum" : "findItem", [i, 1]);
  const rssBefore = rssKiB(pid);
  for (let i = 0; i < 1000; i++) await s.call(i % 2 ? "sum" : "findItem", [i, 1]);
  const rssAfter = rssKiB(pid);

  // 1. sum with 16 concurrent clients.
  const total = QUICK ? 4000 : 40000;
  const clients = 16;
  const latencies = [];
  let next = 0;
  const cpu0 = processCpu(pid);
  const t0 = performance.now();
  await Promise.all(
    Array.from({ length: clients }, async () => {
      while (next < total) {
        const i = next++;
        const t = performance.now();
        const r = await s.call("sum", [i, 1]);
        latencies.push(performance.now() - t);
        if (r.$numberInt !== String(i + 1) && r !== i + 1) throw new Error(`sum answered ${JSON.stringify(r)}`);
      }
    }),
  );
  const elapsed = (performance.now() - t0) / 1000;
  const serverCpuUs = ((processCpu(pid) - cpu0) * 1e6) / total;
  latencies.sort((a, b) => a - b);
  rows.push([
    "`sum` (return a + b), 16 concurrent clients",
    `${Math.round(total / elapsed).toLocaleString("en-US")} calls/s; p50 ${fmt(pct(latencies, 50))}, p99 ${fmt(pct(latencies, 99))} (server CPU ${serverCpuUs.toFixed(0)} µs/call)`,
    "≥ 5,000 calls/s, p99 ≤ 10 ms",
  ]);

  // 2. findOne through a function vs sent directly: one client, interleaved rounds.
  const rounds = QUICK ? 5 : 21;
  const per = 200;
  const direct = [];
  const via = [];
  for (let r = 0; r < rounds; r++) {
    for (const [list, fn] of r % 2 ? [[via, (i) => s.call("findItem", [i])], [direct, (i) => s.mongo("findOne", { database: "bench", collection: "items", query: { _id: i } })]] : [[direct, (i) => s.mongo("findOne", { database: "bench", collection: "items", query: { _id: i } })], [via, (i) => s.call("findItem", [i])]]) {
      for (let i = 0; i < per; i++) {
        const t = performance.now();
        const doc = await fn(i);
        list.push(performance.now() - t);
        if (!doc || doc.name !== `item ${i}`) throw new Error(`findOne answered ${JSON.stringify(doc)}`);
      }
    }
  }
  direct.sort((a, b) => a - b);
  via.sort((a, b) => a - b);
  const ratio = pct(via, 50) / pct(direct, 50);
  rows.push([
    "`findOne` by `_id` through a function vs sent directly, one client",
    `p50 ${fmt(pct(via, 50))} vs ${fmt(pct(direct, 50))}: ${ratio.toFixed(2)}× (p99 ${fmt(pct(via, 99))} vs ${fmt(pct(direct, 99))})`,
    "≤ 1.5×",
  ]);
  rows.push([
    `first call of a ${(bigBytes / 1024).toFixed(1)} KB function after start-up`,
    `${fmt(pct(first, 50))} (${first.map((x) => x.toFixed(2)).join(", ")} ms over ${first.length} fresh servers; the second call ${fmt(pct(second, 50))})`,
    "≤ 5 ms",
  ]);
  rows.push([
    "server RSS over 1,000 calls in a row (`sum` and `findItem` alternating)",
    `${rssBefore.toLocaleString("en-US")} → ${rssAfter.toLocaleString("en-US")} KiB (${rssAfter - rssBefore >= 0 ? "+" : ""}${((rssAfter - rssBefore) / 1024).toFixed(2)} MiB)`,
    "within 5 MB",
  ]);
  await s.stop();
} finally {
  rmSync(dir, { recursive: true, force: true });
}

notes.push(
  "- Client: node:http with a keep-alive Agent on the same two cores as the server, so calls/s is a floor. The",
  "  server runs at RUST_LOG=warn (no access log line per request) with its default function pool.",
  "- The function path is: token check, the caller's profile (one redb read), the function run in place on the",
  "  tokio worker that took the request (functions/pool.rs), its `findOne` through the engine (polled at once on",
  "  that thread), the result converted back; the direct path is the token check and the engine.",
  "- Until 2026-12-06 a call was queued to a runtime thread and its answer sent back: two thread wake-ups per",
  "  call, about 45% of a `sum` call's server CPU in perf (320 µs against 145 µs for a direct `findOne`). Running",
  "  in place removed both. The same bench, alternating the two builds (3 runs each, 2026-12-06): `sum` with 16",
  "  clients 5,509-6,010 → 6,137-6,842 calls/s (server CPU 157-170 → 114-135 µs/call); `findOne` through a",
  "  function 1.71-1.77× → 1.33-1.37× the direct one. (QuickJS allocating through mimalloc is in the new build.)",
);
const report = [
  runLine(serverBinary()),
  "",
  ...tableLines(rows),
  "",
  ...notes,
].join("\n");
console.log(report);
if (WRITE) writeSection("functions-http", "Functions over HTTP (`node bench/functions-http.mjs`)", report);
