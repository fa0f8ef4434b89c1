// Where the bytes of the wasm go: `node bench/wasm-size.mjs [file.wasm]` builds (or reads) a copy of
// the package's wasm with its name section kept (wasm-bindgen + wasm-opt -Oz -g, as scripts/build-pkg.sh
// does but with names) and prints the sections, the code size per crate and the largest functions.
import { execFileSync } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";

const root = join(dirname(fileURLToPath(import.meta.url)), "..");
let file = process.argv[2];
const dir = mkdtempSync(join(tmpdir(), "wasm-size-"));
if (!file) {
  const bin = join(root, "node_modules/.bin");
  execFileSync("wasm-bindgen", ["--target", "web", "--keep-debug", "--out-dir", dir, "--out-name", "m",
    join(root, "target/wasm32-unknown-unknown/wasm-release/realm_wasm.wasm")]);
  const features = ["bulk-memory", "nontrapping-float-to-int", "sign-ext", "mutable-globals", "reference-types", "multivalue"];
  execFileSync(join(bin, "wasm-opt"), ["-Oz", "-g", ...features.map((f) => `--enable-${f}`), join(dir, "m_bg.wasm"), "-o", join(dir, "o.wasm")]);
  file = join(dir, "o.wasm");
}
const buf = readFileSync(file);
rmSync(dir, { recursive: true, force: true });

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
