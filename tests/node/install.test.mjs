// The built package installs into a fresh directory like a published one (`npm install <repo>/pkg`,
// copying it and fetching `bson` from the registry), and both `require` and `import` work there.
import { test, after } from "node:test";
import assert from "node:assert/strict";
import { mkdtempSync, rmSync, writeFileSync, lstatSync, existsSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { run, repoRoot } from "./helpers.mjs";

const dir = mkdtempSync(join(tmpdir(), "realm-wasm-install-"));
after(() => rmSync(dir, { recursive: true, force: true }));

const script = `
  const Realm = require("realm-wasm");
  const app = new Realm.App({ id: "install-test", baseUrl: "http://127.0.0.1:9" });
  if (app.id !== "install-test") throw new Error("App.id");
  if (typeof Realm.Credentials.anonymous !== "function") throw new Error("Credentials");
  if (!(new Realm.BSON.ObjectId() instanceof require("bson").ObjectId)) throw new Error("BSON");
  console.log("require ok:", require.resolve("realm-wasm"));
`;
const moduleScript = `
  import * as Realm from "realm-wasm";
  import { createRequire } from "node:module";
  const cjs = createRequire(import.meta.url)("realm-wasm");
  if (Realm.App !== cjs.App) throw new Error("ESM and CJS entries differ");
  const app = new Realm.App("install-test-esm");
  if (app.id !== "install-test-esm") throw new Error("App.id");
  console.log("import ok:", import.meta.resolve("realm-wasm"));
`;

test("npm install <repo>/pkg into a fresh directory; require and import work", async () => {
  writeFileSync(join(dir, "package.json"), JSON.stringify({ name: "fresh-consumer", version: "1.0.0", private: true }));
  // --install-links: copy the package (as a registry install would) instead of symlinking pkg/.
  const install = await run("npm", ["install", "--install-links", "--no-audit", "--no-fund", join(repoRoot, "pkg")], { cwd: dir });
  assert.equal(install.code, 0, install.stdout + install.stderr);
  const installed = join(dir, "node_modules", "realm-wasm");
  assert.ok(!lstatSync(installed).isSymbolicLink(), "the package was copied");
  assert.ok(existsSync(join(dir, "node_modules", "bson", "package.json")), "bson was installed as a dependency");
  for (const file of ["index.cjs", "index.mjs", "browser.mjs", "index.d.ts", "node/realm_wasm_bg.wasm", "web/realm_wasm_bg.wasm", "README.md"]) {
    assert.ok(existsSync(join(installed, file)), `${file} is in the installed package`);
  }
  assert.ok(!existsSync(join(installed, ".build-stamp")), "build files stay out of the package");

  writeFileSync(join(dir, "use.cjs"), script);
  const required = await run(process.execPath, ["use.cjs"], { cwd: dir });
  assert.equal(required.code, 0, required.stderr);
  assert.match(required.stdout, /require ok: .*realm-wasm-install-.*index\.cjs/);

  writeFileSync(join(dir, "use.mjs"), moduleScript);
  const imported = await run(process.execPath, ["use.mjs"], { cwd: dir });
  assert.equal(imported.code, 0, imported.stderr);
  assert.match(imported.stdout, /import ok: file:.*realm-wasm-install-.*index\.mjs/);
});
