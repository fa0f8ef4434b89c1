// realm-wasm-server throughput over loopback HTTP (issue 4's targets; figures, not tests).
//
//   node bench/server.mjs           # prints a markdown table
//   node bench/server.mjs --quick   # smaller counts (smoke run)
//
// Raw function calls with Node's fetch (keep-alive), so the server is measured, not an SDK:
//  1. findOne by _id, 16 concurrent clients            (target ≥ 10,000/s)
//  2. durable insertOne, 50 concurrent clients         (target ≥ 5,000/s; each ack follows a commit)
//  3. find sort + limit 10 over 100,000 documents       (target < 100 ms; median of 15)
//  4. resident memory added by 100,000 small documents (VmRSS of the server process)
import { readFileSync } from "node:fs";
import { cpus, loadavg } from "node:os";
import { performance } from "node:perf_hooks";
import { startServer, serverBinary } from "../scripts/server.mjs";

const QUICK = process.argv.includes("--quick");
// The sort benchmark uses a secondary index on bench.big.score.
process.env.REALM_WASM_INDEXES ??= "bench.big:score";
const server = await startServer();
const call = `${server.baseUrl}/api/client/v2.0/app/${server.appId}/functions/call`;

async function post(url, body, token) {
  const res = await fetch(url, {
    method: "POST",
    headers: { "content-type": "application/json", ...(token ? { authorization: `Bearer ${token}` } : {}) },
    body: JSON.stringify(body),
  });
  const json = await res.json();
  if (!res.ok) throw new Error(`${res.status} ${JSON.stringify(json)}`);
  return json;
}

const login = await post(`${server.baseUrl}/api/client/v2.0/app/${server.appId}/auth/providers/anon-user/login`, {});
const token = login.access_token;
const mongo = (name, arg) => post(call, { name, arguments: [{ database: "bench", ...arg }], service: "mongodb-atlas" }, token);

/** Runs `total` operations over `clients` concurrent loops; returns operations per second. */
async function throughput(clients, total, op) {
  let next = 0;
  const start = performance.now();
  await Promise.all(
    Array.from({ length: clients }, async () => {
      while (next < total) {
        const i = next++;
        await op(i);
      }
    }),
  );
  return total / ((performance.now() - start) / 1000);
}

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
rows.push(["findOne by _id, 16 concurrent clients", `${fmt(reads)} ops/s`, "≥ 10,000 ops/s"]);

// 2. Durable inserts.
const writes = await throughput(50, QUICK ? 2000 : 20000, (i) => mongo("insertOne", { collection: "durable", document: { i, s: "small document" } }));
rows.push(["durable insertOne, 50 concurrent clients", `${fmt(writes)} ops/s`, "≥ 5,000 ops/s"]);

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
console.log(`server: ${serverBinary()}; ${cpus().length} × ${cpus()[0].model}; load average ${loadavg().map((l) => l.toFixed(2)).join(" ")}${QUICK ? "; --quick" : ""}\n`);
console.log("| measurement | result | target |\n|---|---|---|");
for (const r of rows) console.log(`| ${r.join(" | ")} |`);
