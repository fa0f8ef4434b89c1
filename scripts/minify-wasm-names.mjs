// Short import/export names for the wasm module and its wasm-bindgen glue (a build step of
// scripts/build-pkg.sh; issue 15). wasm-bindgen names every import `__wbg_<name>_<16 hex>` and every
// export `<class>_<method>`, in the wasm and again in the glue: ~4 KB of a gzipped download.
//
//   node scripts/minify-wasm-names.mjs DIR/realm_wasm_bg.wasm DIR/realm_wasm.js
//
// 1. binaryen's `wasm-opt --minify-imports-and-exports-and-modules` renames them in the wasm (all
//    imports then come from one module) and prints its mapping (JSON);
// 2. the glue is rewritten from that mapping at the places its syntax tree (@babel/parser) shows:
//    the keys of the imports object `__wbg_get_imports` builds, the object it returns (now one
//    module holding the glue's imports and the snippets' functions the wasm imports directly), and
//    every `wasm.<export>` access;
// 3. the result is checked: every import of the new wasm is provided by the new imports object, and
//    every `wasm.<name>` the glue reads is an export of the new wasm. Anything the rewrite does not
//    recognise is an error, never a guess.
import { execFileSync } from "node:child_process";
import { readFileSync, writeFileSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { parse } from "@babel/parser";

const root = join(dirname(fileURLToPath(import.meta.url)), "..");
const WASM_OPT_FEATURES = [
  "--enable-bulk-memory", "--enable-nontrapping-float-to-int", "--enable-sign-ext",
  "--enable-mutable-globals", "--enable-reference-types", "--enable-multivalue",
];

/** Every AST node under `node`, with its parent. */
function* nodes(node, parent = null) {
  if (node === null || typeof node !== "object") return;
  if (Array.isArray(node)) {
    for (const child of node) yield* nodes(child, parent);
    return;
  }
  if (typeof node.type !== "string") return;
  yield [node, parent];
  for (const key of Object.keys(node)) {
    if (key === "loc" || key === "start" || key === "end" || key === "extra" || key === "leadingComments" || key === "trailingComments") continue;
    yield* nodes(node[key], node);
  }
}

const keyName = (key) => (key.type === "Identifier" ? key.name : key.type === "StringLiteral" ? key.value : undefined);
const isWasmAccess = (n) => n.type === "MemberExpression" && !n.computed && n.object.type === "Identifier" && n.object.name === "wasm" && n.property.type === "Identifier";

/**
 * The glue `source` rewritten for the minified module. `mapping`: binaryen's (`imports`: [module,
 * name, short], `exports`: [name, short]); `module`: the one import module of the minified wasm;
 * `wasmImports` / `wasmExports`: the minified wasm's import and export names, for the checks.
 */
export function minifyGlue(source, mapping, { module, wasmImports, wasmExports }) {
  const ast = parse(source, { sourceType: "unambiguous", allowReturnOutsideFunction: true });
  const edits = [];
  const exportShort = new Map(mapping.exports.map(([name, short]) => [name, short]));
  const importShort = new Map(mapping.imports.map(([mod, name, short]) => [`${mod}\0${name}`, short]));

  // 1. `wasm.<export>` accesses.
  const exportsRead = new Set();
  for (const [n] of nodes(ast.program)) {
    if (!isWasmAccess(n)) continue;
    const short = exportShort.get(n.property.name);
    if (short === undefined) throw new Error(`the glue reads wasm.${n.property.name}, which the wasm does not export`);
    edits.push([n.property.start, n.property.end, short]);
    exportsRead.add(short);
  }

  // 2. The imports object: `function __wbg_get_imports() { const import0 = {…}; return {…}; }`.
  const getImports = [...nodes(ast.program)].map(([n]) => n).find((n) => n.type === "FunctionDeclaration" && n.id?.name === "__wbg_get_imports");
  if (!getImports) throw new Error("no function __wbg_get_imports in the glue");
  const body = getImports.body.body;
  const ret = body.at(-1);
  if (ret?.type !== "ReturnStatement" || ret.argument?.type !== "ObjectExpression") throw new Error("__wbg_get_imports does not end in `return {…}`");
  const glueObjects = new Map(); // identifier of a glue imports object → its module
  const namespaces = new Map(); // identifier of a snippet namespace → its module
  const provided = new Set();
  for (const p of ret.argument.properties) {
    const key = p.type === "ObjectProperty" ? keyName(p.key) : undefined;
    if (key === "__proto__") continue;
    if (key === undefined || p.value.type !== "Identifier") throw new Error(`unexpected entry in the imports object of __wbg_get_imports`);
    const local = body.find((s) => s.type === "VariableDeclaration" && s.declarations.some((d) => d.id.name === p.value.name));
    if (local) glueObjects.set(p.value.name, key);
    else namespaces.set(p.value.name, key);
  }
  for (const statement of body.slice(0, -1)) {
    if (statement.type !== "VariableDeclaration") continue;
    for (const d of statement.declarations) {
      const mod = glueObjects.get(d.id.name);
      if (mod === undefined) continue;
      if (d.init?.type !== "ObjectExpression") throw new Error(`${d.id.name} is no object literal`);
      for (const p of d.init.properties) {
        const name = p.type === "ObjectProperty" || p.type === "ObjectMethod" ? keyName(p.key) : undefined;
        if (name === "__proto__") continue;
        if (name === undefined || p.computed) throw new Error(`unexpected member of ${d.id.name}`);
        const short = importShort.get(`${mod}\0${name}`);
        if (short === undefined) {
          // An import wasm-opt removed as unused: its function goes too.
          edits.push([p.start, source[p.end] === "," ? p.end + 1 : p.end, ""]);
        } else {
          edits.push([p.key.start, p.key.end, JSON.stringify(short)]);
          provided.add(short);
        }
      }
    }
  }
  // The one module: the glue's objects and, under their short names, the snippets' functions.
  const direct = mapping.imports.filter(([mod]) => [...namespaces.values()].includes(mod));
  const byModule = new Map([...namespaces].map(([id, mod]) => [mod, id]));
  const entries = direct.map(([mod, name, short]) => {
    provided.add(short);
    return `${JSON.stringify(short)}: ${byModule.get(mod)}[${JSON.stringify(name)}]`;
  });
  const merged = `Object.assign(${[`{ __proto__: null }`, ...glueObjects.keys(), `{ ${entries.join(", ")} }`].join(", ")})`;
  edits.push([ret.argument.start, ret.argument.end, `{ __proto__: null, ${JSON.stringify(module)}: ${merged} }`]);

  // 3. Checks against the minified wasm.
  for (const name of wasmImports) if (!provided.has(name)) throw new Error(`the wasm imports ${module}.${name}, which the rewritten glue does not provide`);
  const exported = new Set(wasmExports);
  for (const short of exportsRead) if (!exported.has(short)) throw new Error(`wasm.${short} is no export of the minified wasm`);

  let out = source;
  for (const [start, end, text] of edits.sort((a, b) => b[0] - a[0])) out = out.slice(0, start) + text + out.slice(end);
  return out;
}

/** Minifies `wasmPath` in place and rewrites `gluePath` to match; returns the byte counts. */
export function minifyPackage(wasmPath, gluePath, wasmOpt = join(root, "node_modules", ".bin", "wasm-opt")) {
  const before = readFileSync(wasmPath).length;
  const printed = execFileSync(wasmOpt, [wasmPath, ...WASM_OPT_FEATURES, "--minify-imports-and-exports-and-modules", "-o", wasmPath], {
    encoding: "utf8",
    maxBuffer: 16 * 1024 * 1024,
  });
  const mapping = JSON.parse(printed.slice(printed.indexOf("{")));
  const module = new WebAssembly.Module(readFileSync(wasmPath));
  const imports = WebAssembly.Module.imports(module);
  const modules = [...new Set(imports.map((i) => i.module))];
  if (modules.length !== 1) throw new Error(`expected one import module after minification, got ${modules.join(", ")}`);
  const glue = readFileSync(gluePath, "utf8");
  const out = minifyGlue(glue, mapping, {
    module: modules[0],
    wasmImports: imports.map((i) => i.name),
    wasmExports: WebAssembly.Module.exports(module).map((e) => e.name),
  });
  writeFileSync(gluePath, out);
  return { wasm: [before, readFileSync(wasmPath).length], glue: [glue.length, out.length] };
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  const [wasmPath, gluePath] = process.argv.slice(2);
  if (!wasmPath || !gluePath) {
    console.error("usage: node scripts/minify-wasm-names.mjs DIR/x_bg.wasm DIR/x.js");
    process.exit(2);
  }
  const { wasm, glue } = minifyPackage(wasmPath, gluePath);
  console.error(`[minify-wasm-names] ${wasmPath}: ${wasm[0]} -> ${wasm[1]} bytes; ${gluePath}: ${glue[0]} -> ${glue[1]} characters`);
}
