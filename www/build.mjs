// Bundles www/app.js (which imports "realm-wasm") into www/dist/ with esbuild, copies index.html,
// and copies the wasm file(s) the bundle loads via `new URL("…", import.meta.url)` next to it.
//
//   node www/build.mjs                 # bundles against ../pkg/browser.mjs (run `make build` first)
//   node www/build.mjs --sdk realm-web # same page against realm-web 2.0.1 (for comparison/debugging)
//
// Also usable as a module: `await build({ sdk })` → { outdir, sdk }.
import * as esbuild from "esbuild";
import { copyFileSync, existsSync, mkdirSync, readFileSync, rmSync } from "node:fs";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";

const here = dirname(fileURLToPath(import.meta.url));
const root = resolve(here, "..");
export const outdir = join(here, "dist");
const pkgDir = join(root, "pkg");

function sdkEntry(sdk) {
  if (sdk === "realm-web") return join(root, "node_modules", "realm-web", "dist", "bundle.dom.es.js");
  if (sdk !== "realm-wasm") throw new Error(`unknown --sdk ${sdk} (realm-wasm or realm-web)`);
  const entry = join(pkgDir, "browser.mjs");
  if (!existsSync(entry)) throw new Error(`${entry} does not exist: build the package first (make build / bash scripts/build-pkg.sh)`);
  return entry;
}

export async function build({ sdk = "realm-wasm", quiet = false } = {}) {
  const entry = sdkEntry(sdk);
  rmSync(outdir, { recursive: true, force: true });
  mkdirSync(outdir, { recursive: true });
  await esbuild.build({
    entryPoints: [join(here, "app.js")],
    outfile: join(outdir, "app.js"),
    bundle: true,
    format: "esm",
    target: "es2022",
    platform: "browser",
    sourcemap: true,
    alias: { "realm-wasm": entry },
    logLevel: quiet ? "warning" : "info",
  });
  copyFileSync(join(here, "index.html"), join(outdir, "index.html"));

  // esbuild leaves `new URL("./web/realm_wasm_bg.wasm", import.meta.url)` untouched; put every such
  // file where that URL points (relative to dist/app.js), taken from the same place relative to the entry.
  const bundle = readFileSync(join(outdir, "app.js"), "utf8");
  const assetRe = /new URL\(\s*["'`]([^"'`]+\.wasm)["'`]\s*,\s*import\.meta\.url\s*\)/g;
  const copied = new Set();
  for (const [, rel] of bundle.matchAll(assetRe)) {
    if (copied.has(rel)) continue;
    const candidates = [join(dirname(entry), rel), join(pkgDir, rel), join(pkgDir, "web", rel)];
    const source = candidates.find((c) => existsSync(c));
    if (!source) throw new Error(`bundle references ${rel} but none of ${candidates.join(", ")} exists`);
    const target = join(outdir, rel);
    mkdirSync(dirname(target), { recursive: true });
    copyFileSync(source, target);
    copied.add(rel);
  }
  if (sdk === "realm-wasm" && copied.size === 0) {
    throw new Error("the realm-wasm bundle references no .wasm file via new URL(…, import.meta.url); cannot place it");
  }
  if (!quiet) console.log(`www: built ${outdir} against ${sdk}${copied.size ? ` (+ ${[...copied].join(", ")})` : ""}`);
  return { outdir, sdk };
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  const i = process.argv.indexOf("--sdk");
  const sdk = i >= 0 ? process.argv[i + 1] : "realm-wasm";
  try {
    await build({ sdk });
  } catch (err) {
    console.error(`www build failed: ${err.message}`);
    process.exit(1);
  }
}
