// The name-minification build step (scripts/minify-wasm-names.mjs): the glue is rewritten from
// binaryen's mapping where its syntax tree says, and anything that would not link is an error.
// (The package every other suite tests is built with it.)
import { test } from "node:test";
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { minifyGlue } from "../../scripts/minify-wasm-names.mjs";
import { repoRoot } from "./helpers.mjs";

const GLUE = `
let wasm;
export function f(x) { return wasm.app_new(x) + wasm.memory.buffer.byteLength; }
const other = { app_new: 1 }; other.app_new;
function __wbg_get_imports() {
    const import0 = {
        __proto__: null,
        __wbg_log_0123456789abcdef: function(a) { console.log(a); },
        __wbg_unused_fedcba9876543210: function() {},
        "__wbindgen_init_externref_table": function() {},
    };
    return {
        __proto__: null,
        "./x_bg.js": import0,
        "./snippets/s.js": import1,
    };
}
`;
const MAPPING = {
  imports: [["./x_bg.js", "__wbg_log_0123456789abcdef", "a"], ["./x_bg.js", "__wbindgen_init_externref_table", "b"], ["./snippets/s.js", "decode", "c"]],
  exports: [["app_new", "d"], ["memory", "e"]],
};
const WASM = { module: "a", wasmImports: ["a", "b", "c"], wasmExports: ["d", "e"] };

test("imports, the imports object and wasm.<export> reads get the mapping's names", () => {
  const out = minifyGlue(GLUE, MAPPING, WASM);
  assert.match(out, /return wasm\.d\(x\) \+ wasm\.e\.buffer\.byteLength;/);
  assert.match(out, /const other = \{ app_new: 1 \}; other\.app_new;/, "only reads of `wasm` are renamed");
  assert.match(out, /"a": function\(a\) \{ console\.log\(a\); \}/);
  assert.match(out, /"b": function\(\) \{\}/);
  assert.doesNotMatch(out, /__wbg_unused/, "an import the wasm no longer has is dropped");
  assert.match(out, /return \{ __proto__: null, "a": Object\.assign\(\{ __proto__: null \}, import0, \{ "c": import1\["decode"\] \}\) \};/);
  // The rewritten imports object links: evaluate it with a stand-in snippet.
  const imports = new Function("import1", `${out.slice(out.indexOf("function __wbg_get_imports"))}; return __wbg_get_imports();`)({ decode: "D" });
  assert.deepEqual(Object.keys(imports.a).sort(), ["a", "b", "c"]);
  assert.equal(imports.a.c, "D");
});

test("anything that would not link is an error, never a guess", () => {
  assert.throws(() => minifyGlue(GLUE.replace("wasm.app_new(x)", "wasm.app_gone(x)"), MAPPING, WASM), /reads wasm\.app_gone, which the wasm does not export/);
  assert.throws(() => minifyGlue(GLUE, MAPPING, { ...WASM, wasmImports: ["a", "b", "c", "z"] }), /imports a\.z, which the rewritten glue does not provide/);
  assert.throws(() => minifyGlue(GLUE, MAPPING, { ...WASM, wasmExports: ["d"] }), /wasm\.e is no export/);
  assert.throws(() => minifyGlue("let wasm;", MAPPING, WASM), /no function __wbg_get_imports/);
});

test("the built package has short names in the wasm and its glue", () => {
  for (const dir of ["node", "web"]) {
    const module = new WebAssembly.Module(readFileSync(join(repoRoot, "pkg", dir, "realm_wasm_bg.wasm")));
    const names = [...WebAssembly.Module.imports(module), ...WebAssembly.Module.exports(module)].map((e) => e.name);
    assert.ok(names.every((n) => n.length <= 3), `long names left in pkg/${dir}: ${names.filter((n) => n.length > 3).join(", ")}`);
    assert.doesNotMatch(readFileSync(join(repoRoot, "pkg", dir, "realm_wasm.js"), "utf8"), /__wbg_[a-z_]+_[0-9a-f]{16}/);
  }
});
