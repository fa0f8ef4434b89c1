// The package's browser entry (pkg/browser.mjs + the wasm-opt'd pkg/web/realm_wasm_bg.wasm), bundled
// by esbuild like an app would, runs in headless Chromium against a real server: top-level-await
// init, login, BSON classes, MongoDBRealmError.
import { test, after } from "node:test";
import assert from "node:assert/strict";
import { createServer } from "node:http";
import { copyFileSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { extname, join } from "node:path";
import { build } from "esbuild";
import { chromium } from "playwright-core";
import { useServer, repoRoot } from "./helpers.mjs";

const server = useServer();
const outdir = mkdtempSync(join(tmpdir(), "realm-wasm-browser-"));
let site, browser;
after(async () => {
  await browser?.close();
  await new Promise((done) => (site ? site.close(done) : done()));
  rmSync(outdir, { recursive: true, force: true });
});

function serve(dir) {
  const types = { ".html": "text/html", ".js": "text/javascript", ".wasm": "application/wasm" };
  const http = createServer((req, res) => {
    const path = new URL(req.url, "http://localhost").pathname;
    const file = join(dir, path === "/" ? "index.html" : path);
    try {
      const body = readFileSync(file);
      res.writeHead(200, { "content-type": types[extname(file)] ?? "application/octet-stream" });
      res.end(body);
    } catch {
      res.writeHead(404);
      res.end();
    }
  });
  return new Promise((resolve) => http.listen(0, "127.0.0.1", () => resolve(http)));
}

test("pkg/browser.mjs works in headless Chromium when bundled with esbuild", async () => {
  const result = await build({
    entryPoints: [join(repoRoot, "tests", "node", "fixtures", "browser-entry.mjs")],
    outfile: join(outdir, "app.js"),
    bundle: true,
    format: "esm",
    platform: "browser",
    metafile: true,
    logLevel: "error",
  });
  // An app bundling the package sees no warnings from it (wasm-bindgen's glue once listed one
  // snippet module several times in its imports object).
  assert.deepEqual(result.warnings.map((w) => w.text), []);
  const inputs = Object.keys(result.metafile.inputs);
  assert.ok(inputs.some((i) => i.endsWith("pkg/browser.mjs")), `bundled the browser entry: ${inputs.join(", ")}`);
  assert.ok(!inputs.some((i) => i.endsWith("index.cjs") || i.includes("pkg/node/")), "no Node entry in the browser bundle");
  mkdirSync(join(outdir, "web"));
  copyFileSync(join(repoRoot, "pkg", "web", "realm_wasm_bg.wasm"), join(outdir, "web", "realm_wasm_bg.wasm"));
  writeFileSync(join(outdir, "index.html"), '<!doctype html><title>loading</title><script type="module" src="./app.js"></script>');
  site = await serve(outdir);

  browser = await chromium.launch({
    executablePath: "/usr/bin/chromium",
    headless: true,
    args: ["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update", "--disable-sync", "--no-first-run"],
  });
  const page = await browser.newPage();
  const problems = [];
  page.on("pageerror", (err) => problems.push(err.message));
  const query = `baseUrl=${encodeURIComponent(server.baseUrl)}&appId=${encodeURIComponent(server.appId)}`;
  await page.goto(`http://127.0.0.1:${site.address().port}/?${query}`);
  await page.waitForFunction(() => /^(DONE|ERROR) /.test(document.title));
  const title = await page.title();
  assert.deepEqual(problems, []);
  assert.match(title, /^DONE /, title);
  assert.deepEqual(JSON.parse(title.slice(5)), { objectId: true, date: true, decimal: true, array: true, typedError: true });
});
