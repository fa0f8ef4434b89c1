// The bench scripts are not run by `make test` (they take minutes and measure, not check), so at
// least their syntax is: a script that does not parse would only show up at the next `make bench`.
import { test } from "node:test";
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { readdirSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";

const bench = join(dirname(fileURLToPath(import.meta.url)), "..", "..", "bench");

test("every bench script parses", () => {
  const scripts = readdirSync(bench).filter((f) => f.endsWith(".mjs"));
  assert.ok(scripts.length >= 5, `bench scripts: ${scripts}`);
  for (const script of scripts) {
    const r = spawnSync(process.execPath, ["--check", join(bench, script)], { encoding: "utf8" });
    assert.equal(r.status, 0, `${script}: ${r.stderr}`);
  }
});

// bench/wasm-size.mjs rebuilds a named copy of the package's wasm the way scripts/build-pkg.sh builds
// it, so a change of the build steps can break it silently (it did once: reference types off).
test("bench/wasm-size.mjs --first-find measures the built package", { timeout: 180_000 }, () => {
  const r = spawnSync(process.execPath, [join(bench, "wasm-size.mjs"), "--first-find"], { encoding: "utf8", cwd: join(bench, "..") });
  assert.equal(r.status, 0, r.stderr);
  assert.match(r.stdout, /code by crate/);
  const [, full] = /web wasm: +(\d+) B/.exec(r.stdout) ?? [];
  const [, pruned] = /pruned to those exports: +(\d+) B/.exec(r.stdout) ?? [];
  assert.ok(Number(pruned) > 0 && Number(pruned) < Number(full), r.stdout);
});
