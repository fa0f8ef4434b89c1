// Where the bytes of the wasm go: `node bench/wasm-size.mjs [file.wasm]` builds (or reads) a copy of
// the package's wasm with its name section kept (as scripts/build-pkg.sh builds it: target features
// stripped, wasm-bindgen, wasm-opt -Os, but with names) and prints the sections, the code size per
// crate and the largest functions.
//
// `node bench/wasm-size.mjs --first-find` also measures what a browser's first `find` needs of it: the
// wasm exports the bench's small app (App, logIn, collection.find) calls, observed through the Node
// build with the canned fetch (its wasm is the web build's), and the wasm with every other export removed (binaryen's
// remove-unused-module-elements) — the most any split of the wasm into a first part and a part
// loaded later could take off the first download (issue 15).
import { execFileSync } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { createRequire } from "node:module";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { gzipSync, constants as zlib } from "node:zlib";

const root = join(dirname(fileURLToPath(import.meta.url)), "..");
const argv = process.argv.slice(2);
const FIRST_FIND = argv.includes("--first-find");
let file = argv.find((a) => !a.startsWith("--"));
const dir = mkdtempSync(join(tmpdir(), "wasm-size-"));
const features = ["bulk-memory", "nontrapping-float-to-int", "sign-ext", "mutable-globals", "reference-types", "multivalue"].map((f) => `--enable-${f}`);
const wasmOpt = join(root, "node_modules/.bin/wasm-opt");
if (!file) {
  // The build strips the target-features section before wasm-bindgen (the package is built without
  // reference types, but the prebuilt standard library claims them); -g keeps the names.
  const stripped = join(dir, "stripped.wasm");
  execFileSync(wasmOpt, [join(root, "target/wasm32-unknown-unknown/wasm-release/realm_wasm.wasm"), "-g", ...features, "--strip-target-features", "-o", stripped]);
  execFileSync("wasm-bindgen", ["--target", "web", "--keep-debug", "--out-dir", dir, "--out-name", "m", stripped]);
  execFileSync(wasmOpt, ["-Os", "--converge", "-g", ...features, join(dir, "m_bg.wasm"), "-o", join(dir, "o.wasm")]);
  file = join(dir, "o.wasm");
}
const buf = readFileSync(file);

let pos = 8;
const leb = () => { let r = 0, s = 0, b; do { b = buf[pos++]; r += (b & 0x7f) * 2 ** s; s += 7; } while (b & 0x80); return r; };
const str = () => { const n = leb(); const t = buf.toString("utf8", pos, pos + n); pos += n; return t; };
const sections = [], bodies = [], names = new Map();
let imported = 0;
const kinds = ["custom", "type", "import", "function", "table", "memory", "global", "export", "start", "element", "code", "data", "datacount"];
while (pos < buf.length) {
  const id = buf[pos++], size = leb(), start = pos, end = pos + size;
  let name = kinds[id] ?? `#${id}`;
  if (id === 0) name = `custom "${str()}"`;
  sections.push({ name, size });
  if (id === 2) { for (let n = leb(); n > 0; n--) { str(); str(); const k = buf[pos++]; if (k === 0) { leb(); imported++; } else if (k === 1) { pos++; const f = leb(); leb(); if (f & 1) leb(); } else if (k === 2) { const f = leb(); leb(); if (f & 1) leb(); } else if (k === 3) { pos += 2; } } }
  if (id === 10) for (let n = leb(); n > 0; n--) { const s = leb(); bodies.push(s); pos += s; }
  if (name === 'custom "name"') while (pos < end) { const sub = buf[pos++], len = leb(), e = pos + len; if (sub === 1) for (let n = leb(); n > 0; n--) { const i = leb(); names.set(i, str()); } pos = e; }
  pos = end;
}
const total = buf.length;
const pct = (n) => `${(n / total * 100).toFixed(1)}%`;
console.log(`${file}: ${total} bytes`);
for (const s of sections.sort((a, b) => b.size - a.size)) console.log(`  ${String(s.size).padStart(8)}  ${pct(s.size).padStart(6)}  ${s.name}`);
const fns = bodies.map((size, i) => ({ size, name: names.get(i + imported) ?? `func${i + imported}` }));
const crate = (n) => {
  const m = /^(?:<)?(?:_<)?([a-z_][a-z0-9_]*)(?:\[[0-9a-f]+\])?::/.exec(n.replace(/^<&?(mut )?/, ""));
  return m ? m[1] : n.startsWith("__wbg") || n.startsWith("__wbindgen") ? "wasm-bindgen glue" : "(other)";
};
const byCrate = new Map();
for (const f of fns) byCrate.set(crate(f.name), (byCrate.get(crate(f.name)) ?? 0) + f.size);
console.log("\ncode by crate (function bodies):");
for (const [c, s] of [...byCrate].sort((a, b) => b[1] - a[1]).slice(0, 15)) console.log(`  ${String(s).padStart(8)}  ${pct(s).padStart(6)}  ${c}`);
console.log("\nlargest functions:");
for (const f of fns.sort((a, b) => b.size - a.size).slice(0, 20)) console.log(`  ${String(f.size).padStart(8)}  ${pct(f.size).padStart(6)}  ${f.name.slice(0, 120)}`);

if (FIRST_FIND) await firstFind();
rmSync(dir, { recursive: true, force: true });

/** The exports the first find calls, and the package's web wasm pruned to them. */
async function firstFind() {
  const gz = (b) => gzipSync(b, { level: zlib.Z_BEST_COMPRESSION }).length;
  // The Node build's exports, observed while the bench's small app runs against the canned fetch.
  const called = new Set();
  const Instance = WebAssembly.Instance;
  WebAssembly.Instance = function (module, imports) {
    const exports = {};
    for (const [name, value] of Object.entries(new Instance(module, imports).exports)) {
      exports[name] = typeof value !== "function" ? value : function (...args) {
        called.add(name);
        return value.apply(this, args);
      };
    }
    return { exports };
  };
  const { cannedFetch, CANNED_HOST } = await import("./canned.mjs");
  const Realm = createRequire(import.meta.url)(join(root, "pkg", "index.cjs"));
  WebAssembly.Instance = Instance;
  const app = new Realm.App({ id: "my-app", baseUrl: CANNED_HOST, fetch: cannedFetch });
  const user = await app.logIn(Realm.Credentials.emailPassword("a@example.com", "password"));
  await user.mongoClient("mongodb-atlas").db("db").collection("items").find({});
  // The web build's wasm is the Node build's, byte for byte (only their glue differs).
  const webBytes = readFileSync(join(root, "pkg/web/realm_wasm_bg.wasm"));
  if (!webBytes.equals(readFileSync(join(root, "pkg/node/realm_wasm_bg.wasm")))) throw new Error("pkg/node and pkg/web hold different wasm");
  const webExports = WebAssembly.Module.exports(new WebAssembly.Module(webBytes));
  const keep = new Set(webExports.filter((e) => e.kind !== "function" || called.has(e.name)).map((e) => e.name));
  const binaryen = (await import("binaryen")).default;
  const module = binaryen.readBinary(webBytes);
  module.setFeatures(binaryen.Features.BulkMemory | binaryen.Features.NontrappingFPToInt | binaryen.Features.SignExt | binaryen.Features.MutableGlobals | binaryen.Features.ReferenceTypes | binaryen.Features.Multivalue);
  for (const e of webExports) if (!keep.has(e.name)) module.removeExport(e.name);
  module.runPasses(["remove-unused-module-elements"]);
  const pruned = module.emitBinary();
  module.dispose();
  const functions = webExports.filter((e) => e.kind === "function").length;
  console.log(`\nfirst find (App, logIn, find with the canned fetch): ${keep.size - (webExports.length - functions)} of ${functions} function exports called`);
  console.log(`  web wasm:                          ${String(webBytes.length).padStart(7)} B, gzip -9 ${gz(webBytes)} B`);
  console.log(`  pruned to those exports:           ${String(pruned.length).padStart(7)} B, gzip -9 ${gz(Buffer.from(pruned))} B`);
  console.log(`  the most a lazily loaded part could take off the first download: ${gz(webBytes) - gz(Buffer.from(pruned))} B gzip`);
}
