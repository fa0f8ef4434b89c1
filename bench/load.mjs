// Load-generation helpers shared by the server benches: raw JSON requests over node:http with a
// keep-alive Agent (one socket per concurrent client), concurrent loops, and the server's CPU.
import { readFileSync } from "node:fs";
import http from "node:http";
import { performance } from "node:perf_hooks";

// Enough sockets for the most concurrent clients of any bench; keep-alive so each client reuses its connection.
const agent = new http.Agent({ keepAlive: true, maxSockets: 50 });
const targets = new Map(); // url → request options, parsed once

/**
 * Sends `body` as JSON (POST unless `method` says otherwise; no body when undefined) with a bearer
 * token and `extraHeaders` if given; resolves to the parsed answer, rejects on a non-2xx status.
 */
export function post(url, body, token, extraHeaders = {}, method = "POST") {
  const data = Buffer.from(body === undefined ? "" : JSON.stringify(body));
  const headers = { "content-type": "application/json", "content-length": data.length, ...extraHeaders };
  if (token) headers.authorization = `Bearer ${token}`;
  const key = `${method} ${url}`;
  let target = targets.get(key);
  if (!target) {
    const u = new URL(url);
    target = { hostname: u.hostname, port: u.port, path: u.pathname + u.search, method, agent };
    targets.set(key, target);
  }
  return new Promise((resolve, reject) => {
    const req = http.request({ ...target, headers }, (res) => {
      const chunks = [];
      res.on("data", (c) => chunks.push(c));
      res.on("end", () => {
        const text = Buffer.concat(chunks).toString("utf8");
        if (res.statusCode < 200 || res.statusCode > 299) reject(new Error(`${res.statusCode} ${text}`));
        else resolve(JSON.parse(text));
      });
      res.on("error", reject);
    });
    req.on("error", reject);
    req.end(data);
  });
}

/** CPU seconds the process `pid` has used (user + system), from /proc. */
export function processCpu(pid) {
  const fields = readFileSync(`/proc/${pid}/stat`, "utf8").split(") ")[1].split(" ");
  return (Number(fields[11]) + Number(fields[12])) / 100; // utime, stime in clock ticks (USER_HZ = 100)
}

/**
 * Runs `total` operations over `clients` concurrent loops; returns operations per second and the
 * server's (process `pid`) and this client's CPU time per operation (both share the same cores).
 */
export async function throughput(pid, clients, total, op) {
  let next = 0;
  const cpu0 = processCpu(pid);
  const client0 = process.cpuUsage();
  const start = performance.now();
  await Promise.all(
    Array.from({ length: clients }, async () => {
      while (next < total) {
        const i = next++;
        await op(i);
      }
    }),
  );
  const seconds = (performance.now() - start) / 1000;
  const client = process.cpuUsage(client0);
  return { rate: total / seconds, cpuUs: ((processCpu(pid) - cpu0) * 1e6) / total, clientUs: (client.user + client.system) / total };
}
