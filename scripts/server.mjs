// Starts a realm-wasm-server on a free loopback port with a fresh temporary data directory,
// for the demo, the tests, the browser page and the benchmarks. Used as a module
// (`startServer()`), or as a wrapper: `node scripts/server.mjs -- CMD ARGS…` runs CMD with
// REALM_BASE_URL and REALM_APP_ID set, then stops the server and exits with CMD's status.
import { spawn } from "node:child_process";
import { mkdtempSync, rmSync, existsSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, dirname } from "node:path";
import { fileURLToPath } from "node:url";

const root = join(dirname(fileURLToPath(import.meta.url)), "..");

/** Path of the server binary: $REALM_SERVER_BIN, else the release build, else the debug build. */
export function serverBinary() {
  if (process.env.REALM_SERVER_BIN) return process.env.REALM_SERVER_BIN;
  for (const profile of ["release", "debug"]) {
    const candidate = join(root, "target", profile, "realm-wasm-server");
    if (existsSync(candidate)) return candidate;
  }
  throw new Error("realm-wasm-server is not built: run `cargo build --release -p realm-wasm-server` (make build does it)");
}

/**
 * Starts the server. Resolves to { baseUrl, appId, adminUrl (with --admin-listen), dataDir, stop() } once it listens.
 * `dataDir` defaults to a fresh temporary directory that stop() removes.
 */
export function startServer({ dataDir, extraArgs = [], quiet = true } = {}) {
  const ownDir = !dataDir;
  const dir = dataDir ?? mkdtempSync(join(tmpdir(), "realm-wasm-data-"));
  const child = spawn(serverBinary(), ["--listen", "127.0.0.1:0", "--data", dir, ...extraArgs], {
    stdio: ["ignore", "pipe", quiet ? "ignore" : "inherit"],
    env: { ...process.env, RUST_LOG: process.env.RUST_LOG ?? (quiet ? "warn" : "info") },
  });
  return new Promise((resolve, reject) => {
    let buffered = "";
    const onExit = (code, signal) => reject(new Error(`realm-wasm-server exited before listening (code ${code}, signal ${signal})`));
    child.once("exit", onExit);
    child.once("error", reject);
    child.stdout.setEncoding("utf8");
    // With --admin-listen the admin API's line follows the listening line.
    const wantsAdmin = extraArgs.includes("--admin-listen");
    child.stdout.on("data", (chunk) => {
      buffered += chunk;
      const match = /listening on (http:\/\/\S+).*app_id=(\S+)/.exec(buffered);
      const admin = /admin API on (http:\/\/\S+)/.exec(buffered);
      if (!match || (wantsAdmin && !admin)) return;
      child.off("exit", onExit);
      child.stdout.removeAllListeners("data");
      child.stdout.resume();
      const stop = () =>
        new Promise((done) => {
          const finish = () => {
            if (ownDir) rmSync(dir, { recursive: true, force: true });
            done();
          };
          if (child.exitCode !== null || child.signalCode !== null) return finish();
          child.once("exit", finish);
          child.kill("SIGTERM");
        });
      resolve({ baseUrl: match[1], appId: match[2], adminUrl: admin?.[1], dataDir: dir, process: child, stop });
    });
  });
}

// Wrapper mode: node scripts/server.mjs -- cmd args…
if (process.argv[1] === fileURLToPath(import.meta.url)) {
  const sep = process.argv.indexOf("--");
  const command = sep >= 0 ? process.argv.slice(sep + 1) : [];
  if (command.length === 0) {
    console.error("usage: node scripts/server.mjs -- COMMAND [ARGS…]");
    process.exit(2);
  }
  const server = await startServer({ quiet: !process.env.REALM_SERVER_LOGS });
  const child = spawn(command[0], command.slice(1), {
    stdio: "inherit",
    env: { ...process.env, REALM_BASE_URL: server.baseUrl, REALM_APP_ID: server.appId },
  });
  const forward = (signal) => child.kill(signal);
  process.on("SIGINT", forward);
  process.on("SIGTERM", forward);
  child.on("exit", async (code, signal) => {
    await server.stop();
    process.exit(code ?? (signal ? 1 : 0));
  });
}
