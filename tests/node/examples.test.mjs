// Runs the example scripts (CommonJS, ESM, and the TypeScript variant compiled by esbuild) as
// child processes against a real server, and checks their exit status and key output lines.
import { test } from "node:test";
import assert from "node:assert/strict";
import { mkdirSync } from "node:fs";
import { join } from "node:path";
import { build } from "esbuild";
import { useServer, run, repoRoot } from "./helpers.mjs";

const server = useServer();

function checkOutput({ code, stdout, stderr }) {
  assert.equal(code, 0, `example failed:\n${stdout}\n${stderr}`);
  assert.match(stdout, /4\. logged in: user\.id = \S+/);
  assert.match(stdout, /5\. updateOne -> \{ matchedCount: 1, modifiedCount: 1 \}/);
  assert.match(stdout, /6\. customData before refresh: \{\}/);
  assert.match(stdout, /6\. refreshCustomData\(\) -> \{[^]*favoriteColor: 'pink'/);
  assert.match(stdout, /7\. after logOut: isLoggedIn = false, state = logged-out/);
  assert.match(stdout, /7\. findOne after logOut rejects: /);
  assert.match(stdout, /OK: all steps passed/);
}

const env = () => ({ REALM_BASE_URL: server.baseUrl, REALM_APP_ID: server.appId });

test("examples/custom-user-data.cjs (require) passes against the server", async () => {
  checkOutput(await run(process.execPath, ["examples/custom-user-data.cjs"], { env: env() }));
});

test("examples/custom-user-data.mjs (import) passes against the server", async () => {
  checkOutput(await run(process.execPath, ["examples/custom-user-data.mjs"], { env: env() }));
});

test("examples/custom-user-data.ts (compiled with esbuild) passes against the server", async () => {
  const outDir = join(repoRoot, "tests", "tsc", "out");
  mkdirSync(outDir, { recursive: true });
  const outfile = join(outDir, "custom-user-data.mjs");
  await build({
    entryPoints: [join(repoRoot, "examples", "custom-user-data.ts")],
    outfile,
    bundle: true,
    platform: "node",
    format: "esm",
    external: ["realm-wasm"],
    logLevel: "error",
  });
  checkOutput(await run(process.execPath, [outfile], { env: env() }));
});

test("an example exits non-zero when the server is unreachable", async () => {
  const result = await run(process.execPath, ["examples/custom-user-data.cjs"], {
    env: { REALM_BASE_URL: "http://127.0.0.1:9", REALM_APP_ID: server.appId },
  });
  assert.notEqual(result.code, 0);
  assert.match(result.stderr, /FAILED/);
});
