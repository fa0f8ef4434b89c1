// realm-wasm-server throughput over loopback HTTP (issue 4's targets; figures, not tests).
//
//   node bench/server.mjs           # prints a markdown table
//   node bench/server.mjs --write   # … and puts it into BENCHMARKS.md (its own section)
//   node bench/server.mjs --quick   # smaller counts (smoke run; don't --write these)
//
// Raw function calls over node:http with a keep-alive Agent (one socket per concurrent client), so the
// server is measured, not an SDK; Node's fetch cost ~2.5× the client CPU per call and made the client the
// bottleneck on two shared cores. Server and client CPU per operation are reported separately.
//  1. findOne by _id, 16 concurrent clients            (target ≥ 10,000/s)
//  2. durable insertOne, 50 concurrent clients         (target ≥ 5,000/s; each ack follows a commit)
//  3. find sort + limit 10 over 100,000 documents       (target < 100 ms; median of 15)
//  4. resident memory added by 100,000 small documents (VmRSS of the server process)
//  5. Data API findOne by _id, 16 concurrent clients (target ≥ 10,000/s; bench/data-api-app), with a
//     bearer access token; the same with an apiKey header (a key hash per request), and a custom HTTPS
//     endpoint answered by a trivial function
import { readFileSync } from "node:fs";
import { performance } from "node:perf_hooks";
import { startServer, serverBinary } from "../scripts/server.mjs";
import { post, throughput as measure } from "./load.mjs";
import { runLine, tableLines, writeSection } from "./sections.mjs";
import { triggerBench } from "./triggers.mjs";

const QUICK = process.argv.includes("--quick");
const WRITE = process.argv.includes("--write");
// The sort benchmark uses a secondary index on bench.big.score.
process.env.REALM_WASM_INDEXES ??= "bench.big:score";
let server = await startServer();
const call = `${server.baseUrl}/api/client/v2.0/app/${server.appId}/functions/call`;

const login = await post(`${server.baseUrl}/api/client/v2.0/app/${server.appId}/auth/providers/anon-user/login`, {});
const token = login.access_token;
const mongo = (name, arg) => post(call, { name, arguments: [{ database: "bench", ...arg }], service: "mongodb-atlas" }, token);

/** Runs `total` operations over `clients` concurrent loops against this server (see load.mjs). */
const throughput = (clients, total, op) => measure(server.process.pid, clients, total, op);

const rssKiB = () => Number(/VmRSS:\s+(\d+)/.exec(readFileSync(`/proc/${server.process.pid}/status`, "utf8"))[1]);
const rows = [];
const fmt = (n) => Math.round(n).toLocaleString("en-US");

// 1. findOne by _id.
const keys = QUICK ? 1000 : 10000;
for (let i = 0; i < keys; i += 1000) {
  await mongo("insertMany", { collection: "point", documents: Array.from({ length: 1000 }, (_, j) => ({ _id: i + j, v: `value ${i + j}` })) });
}
await throughput(16, 2000, (i) => mongo("findOne", { collection: "point", query: { _id: i % keys } })); // warm-up
const reads = await throughput(16, QUICK ? 5000 : 40000, (i) => mongo("findOne", { collection: "point", query: { _id: (i * 7919) % keys } }));
const cpuNote = (r) => `(server CPU ${r.cpuUs.toFixed(0)} µs/op, client CPU ${r.clientUs.toFixed(0)} µs/op)`;
rows.push(["findOne by _id, 16 concurrent clients", `${fmt(reads.rate)} ops/s ${cpuNote(reads)}`, "≥ 10,000 ops/s"]);

// 2. Durable inserts.
const writes = await throughput(50, QUICK ? 2000 : 20000, (i) => mongo("insertOne", { collection: "durable", document: { i, s: "small document" } }));
rows.push(["durable insertOne, 50 concurrent clients", `${fmt(writes.rate)} ops/s ${cpuNote(writes)}`, "≥ 5,000 ops/s"]);

// 3 + 4. 100k small documents: memory, then sort + limit 10.
const before = rssKiB();
for (let i = 0; i < 100_000; i += 5000) {
  await mongo("insertMany", {
    collection: "big",
    documents: Array.from({ length: 5000 }, (_, j) => ({ n: i + j, score: ((i + j) * 2654435761) % 1000003, tag: `t${(i + j) % 100}` })),
  });
}
const after = rssKiB();
const times = [];
let top;
for (let r = 0; r < 15; r += 1) {
  const t = performance.now();
  top = await mongo("find", { collection: "big", query: {}, sort: { score: -1 }, limit: 10 });
  times.push(performance.now() - t);
}
times.sort((a, b) => a - b);
if (top.length !== 10) throw new Error("sort + limit returned the wrong number of documents");
rows.push(["find sort {score: -1} limit 10 over 100,000 docs (index on score)", `${times[7].toFixed(1)} ms`, "< 100 ms"]);
rows.push(["resident memory added by 100,000 small documents", `${fmt((after - before) / 1024)} MiB (${fmt(((after - before) * 1024) / 100_000)} B/doc)`, "reported"]);

await server.stop();

// 5. The Data API and a custom endpoint, on an app that enables them (its rules need no profile read).
// Credential headers count against the login limits (an attempt is reserved before its hash, so 16
// concurrent requests of one key are 16 attempts in flight): raised here, as an operator would for an API client.
const limits = ["--login-limit-per-account", "100000", "--login-limit-per-address", "100000"];
server = await startServer({ extraArgs: ["--app", new URL("data-api-app", import.meta.url).pathname, ...limits] });
const client = `${server.baseUrl}/api/client/v2.0/app/${server.appId}`;
const dataApi = (action) => `${server.baseUrl}/app/${server.appId}/endpoint/data/v1/action/${action}`;
const anon = await post(`${client}/auth/providers/anon-user/login`, {});
const ns = { dataSource: "mongodb-atlas", database: "bench", collection: "point" };
for (let i = 0; i < keys; i += 1000) {
  await post(dataApi("insertMany"), { ...ns, documents: Array.from({ length: 1000 }, (_, j) => ({ _id: i + j, v: `value ${i + j}` })) }, anon.access_token);
}
const findOne = (i, headers, token) => post(dataApi("findOne"), { ...ns, filter: { _id: (i * 7919) % keys } }, token, headers);
await throughput(16, 2000, (i) => findOne(i, {}, anon.access_token)); // warm-up
const dataReads = await throughput(16, QUICK ? 5000 : 40000, (i) => findOne(i, {}, anon.access_token));
rows.push(["Data API findOne by _id (bearer token), 16 concurrent clients", `${fmt(dataReads.rate)} ops/s ${cpuNote(dataReads)}`, "≥ 10,000 ops/s"]);
const { key } = await post(`${server.baseUrl}/api/client/v2.0/auth/api_keys`, { name: "bench" }, anon.refresh_token);
const keyed = await throughput(16, QUICK ? 100 : 400, (i) => findOne(i, { apikey: key }));
rows.push(["Data API findOne by _id (apiKey header: an argon2 check per request), 16 concurrent clients", `${fmt(keyed.rate)} ops/s ${cpuNote(keyed)}`, "reported"]);
const hello = (i) => post(`${server.baseUrl}/app/${server.appId}/endpoint/hello?name=n${i % 100}`, undefined, undefined, {}, "GET");
await throughput(16, 1000, hello); // warm-up
const custom = await throughput(16, QUICK ? 2000 : 20000, hello);
rows.push(["custom HTTPS endpoint GET (trivial system function), 16 concurrent clients", `${fmt(custom.rate)} ops/s ${cpuNote(custom)}`, "reported"]);
await server.stop();

const report = [
  runLine(serverBinary(), QUICK),
  "The Node client shares the two cores with the server, so ops/s is a floor; server CPU per operation shows the server's own cost.",
  "",
  ...tableLines(rows),
  "",
  `Notes:
- Both CPU figures come from the same run: the server's from /proc (utime + stime), the client's from
  \`process.cpuUsage()\`. ops/s is bounded by their sum on two cores shared with other work.
- The client is node:http with a keep-alive Agent. The earlier client, Node's \`fetch\`, cost ~2.5× the client
  CPU per call and also doubled the server's CPU per call (measured 43–49 vs 22 µs per findOne on the same
  server): it opened more connections and sent requests less batched, so the server woke (epoll + futex
  between its two worker threads) about once per request instead of once per several — 4,624 vs 918 futex
  calls and 2,912 vs 947 epoll_waits per 5,000 findOne (strace -c).
- Durable means acknowledged after the redb commit that contains the write; a committer thread puts everything
  pending into one commit, so concurrent writers share commits.
- Memory per document is the parsed \`bson::Document\`, the \`_id\` map and the secondary index entry, plus
  allocator overhead.

### What each server change bought (2026-11-26)

Server CPU per operation (perf stat task-clock of the server process; node:http client; median of three
interleaved runs, 30,000 findOne / 20,000 insertOne each). Throughput is what the table above measures.

| server build | findOne µs/op | insertOne µs/op |
|---|---:|---:|
| before (engine merge 0f2aaa0), RUST_LOG=warn | 26.5 | 55.2 |
| + verified access tokens remembered (no HMAC, claims decoding or user read on a hit) | 23.1 | 45.1 |
| + mimalloc as the global allocator (glibc malloc/free were ~20% of samples) | 22.3 | 39.5 |
| at RUST_LOG=info, what the per-request access log line costs: at INFO → at DEBUG (kept at INFO: operators get an access log by default; the benches run at RUST_LOG=warn) | 25.7 → 23.7 | 48.1 → 43.2 |
| rules using \`%%user.data\` (profile read per request): blocking-pool hop → inline redb read | 64.7 → 33.1 | — |

Before this work the table above read 5,429 findOne/s (server 52 µs/op) and 4,500 inserts/s (122 µs/op) with the
\`fetch\` client. The largest remaining costs per findOne are the kernel's loopback TCP (writev/recv, ~30% of
samples), hyper's HTTP handling, and the JSON → extended JSON → BSON decoding of the request (~10%).`,
].join("\n");
console.log(report);

if (WRITE) writeSection("server-throughput", `Server throughput (\`node bench/server.mjs\`)`, report);

// Issue 14's trigger targets, on a server of their own (bench/triggers.mjs).
await triggerBench({ quick: QUICK, write: WRITE });
