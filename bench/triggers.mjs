// Database triggers on realm-wasm-server (issue 14's targets; figures, not tests), against a server
// serving bench/triggers-app (an ordered INSERT trigger on bench.with_trigger running a trivial
// function, and one on bench.latency whose function records when it started).
//
//   node bench/triggers.mjs           # prints a markdown table (also run at the end of bench/server.mjs)
//   node bench/triggers.mjs --write   # … and puts it into BENCHMARKS.md (its own section)
//   node bench/triggers.mjs --quick   # smaller counts (smoke run; don't --write these)
//
//  1. trigger function start after the write is acknowledged, idle server   (target p99 ≤ 20 ms)
//  2. durable insertOne with 50 concurrent clients, with an INSERT trigger on the collection vs
//     without (interleaved rounds; target ≥ 80%), and how fast the trigger then handled the burst
import { join, dirname } from "node:path";
import { fileURLToPath } from "node:url";
import { performance } from "node:perf_hooks";
import { startServer, serverBinary } from "../scripts/server.mjs";
import { post, throughput } from "./load.mjs";
import { runLine, tableLines, writeSection } from "./sections.mjs";

const TOKEN = "bench-admin-token-0123456789";
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
const median = (xs) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];
const quantile = (xs, q) => [...xs].sort((a, b) => a - b)[Math.min(xs.length - 1, Math.floor(xs.length * q))];
const fmt = (n) => Math.round(n).toLocaleString("en-US");

export async function triggerBench({ quick = false, write = false } = {}) {
  const app = join(dirname(fileURLToPath(import.meta.url)), "triggers-app");
  const server = await startServer({ extraArgs: ["--app", app, "--admin-listen", "127.0.0.1:0", "--admin-token", TOKEN] });
  const base = `${server.baseUrl}/api/client/v2.0/app/${server.appId}`;
  const token = (await post(`${base}/auth/providers/anon-user/login`, {})).access_token;
  const mongo = (name, arg) => post(`${base}/functions/call`, { name, arguments: [{ database: "bench", ...arg }], service: "mongodb-atlas" }, token);
  const trigger = async (name) => {
    const res = await fetch(`${server.adminUrl}/triggers`, { headers: { authorization: `Bearer ${TOKEN}` } });
    return (await res.json()).find((t) => t.name === name);
  };
  const rows = [];

  // 1. Latency on an idle server: one insert at a time, a pause after each.
  const samples = quick ? 100 : 1000;
  const acked = [];
  for (let i = -50; i < samples; i += 1) {
    await mongo("insertOne", { collection: "latency", document: { _id: i } });
    if (i >= 0) acked[i] = performance.timeOrigin + performance.now();
    await sleep(10);
  }
  while ((await trigger("latency")).pending_events > 0) await sleep(20);
  const started = await mongo("find", { collection: "latency_seen", query: { _id: { $gte: 0 } } });
  const delays = started.map((d) => Number(d.start.$numberLong ?? d.start.$numberDouble ?? d.start) - acked[Number(d._id.$numberInt ?? d._id)]);
  if (delays.length !== samples) throw new Error(`latency: ${delays.length} of ${samples} functions ran`);
  rows.push([
    "trigger function start − client's receipt of the insert's acknowledgement, idle server",
    `p50 ${median(delays).toFixed(1)} ms, p99 ${quantile(delays, 0.99).toFixed(1)} ms, max ${Math.max(...delays).toFixed(1)} ms (${samples} inserts)`,
    "p99 ≤ 20 ms",
  ]);

  // 2. Insert throughput with and without a trigger, interleaved; after each triggered round the
  //    trigger is let catch up before the next round, so no round pays for another's events.
  const total = quick ? 2000 : 20000;
  const rounds = quick ? 1 : 3;
  const plain = [];
  const triggered = [];
  const handling = [];
  let n = 0;
  for (let r = 0; r < rounds; r += 1) {
    plain.push(await throughput(server.process.pid, 50, total, () => mongo("insertOne", { collection: "without_trigger", document: { n: n++, s: "small document" } })));
    const t0 = performance.now();
    triggered.push(await throughput(server.process.pid, 50, total, () => mongo("insertOne", { collection: "with_trigger", document: { n: n++, s: "small document" } })));
    const burst = (performance.now() - t0) / 1000;
    const left = (await trigger("on-insert")).pending_events;
    while ((await trigger("on-insert")).pending_events > 0) await sleep(20);
    const all = (performance.now() - t0) / 1000;
    handling.push({ rate: total / all, left, burst, all });
  }
  const without = median(plain.map((p) => p.rate));
  const withTrigger = median(triggered.map((p) => p.rate));
  const cpu = (list) => median(list.map((p) => p.cpuUs)).toFixed(0);
  rows.push(["durable insertOne, 50 clients, no trigger", `${fmt(without)} ops/s (server CPU ${cpu(plain)} µs/op)`, "reported"]);
  rows.push([
    "durable insertOne, 50 clients, ordered INSERT trigger on the collection",
    `${fmt(withTrigger)} ops/s (server CPU ${cpu(triggered)} µs/op) = ${((100 * withTrigger) / without).toFixed(0)}% of without`,
    "≥ 80% of without",
  ]);
  const h = handling[Math.floor(handling.length / 2)];
  rows.push([
    "the ordered trigger handling that burst",
    `${fmt(median(handling.map((x) => x.rate)))} events/s (${fmt(h.left)} of ${fmt(total)} events still waiting when the ${h.burst.toFixed(1)} s burst ended; all handled after ${h.all.toFixed(1)} s)`,
    "reported",
  ]);
  await server.stop();

  const report = [
    runLine(serverBinary(), quick),
    "",
    ...tableLines(rows),
    "",
    `Notes:
- Latency: the client inserts one document, notes when the acknowledgement arrived, and pauses 10 ms; the trigger's
  function notes \`Date.now()\` as it starts (millisecond resolution, same machine clock). A negative figure means
  the function started before the acknowledgement reached the client: the trigger wakes when the commit holding the
  insert is durable, which is also when the insert is acknowledged.
- Throughput: the change journal rides in the same group commit as the documents (one more row per insert, the
  document's bytes copied), so the insert path pays little for it. The ordered trigger handles one event at a time
  and records its position durably after each (at-least-once with a single repeat at most after a crash), so it
  handles a burst at roughly the rate of single commits and catches up after it; the inserts never wait for it.`,
  ].join("\n");
  console.log(report);
  if (write) writeSection("server-triggers", "Triggers (`node bench/triggers.mjs`, also run by `bench/server.mjs`)", report);
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  await triggerBench({ quick: process.argv.includes("--quick"), write: process.argv.includes("--write") });
}
