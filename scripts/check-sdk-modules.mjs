// Checks the layering of the SDK core (src/, without src/wasm/ and the test-only src/testing.rs):
// no module may use `wasm` (the JS face sits on top of the core, never under it), and the
// top-level modules' uses of each other (`crate::x`, `super::x`, outside comments and
// `#[cfg(test)] mod tests`) must form no cycle. Run by `make test` through tests/node/sdk-modules.test.mjs; by hand:
// `node scripts/check-sdk-modules.mjs` (prints the problems, exits 1 if any).
import { readdirSync, readFileSync } from "node:fs";
import { join, relative, dirname } from "node:path";
import { fileURLToPath } from "node:url";

const root = join(dirname(fileURLToPath(import.meta.url)), "..");

/** The core's files: module path (`app`, `mongo`, `mongo::watch`) → source text. */
export function coreSources(srcDir = join(root, "src")) {
  const files = new Map();
  const walk = (dir) => {
    for (const entry of readdirSync(dir, { withFileTypes: true })) {
      const path = join(dir, entry.name);
      if (entry.isDirectory()) {
        if (relative(srcDir, path) !== "wasm") walk(path);
      } else if (entry.name.endsWith(".rs")) {
        const rel = relative(srcDir, path).replace(/\.rs$/, "").replace(/\/mod$/, "");
        if (rel !== "lib" && rel !== "testing") files.set(rel.split("/").join("::"), readFileSync(path, "utf8"));
      }
    }
  };
  walk(srcDir);
  return files;
}

/** `text` without comments and without `#[cfg(test)] mod … { … }` blocks. */
function code(text) {
  let out = text.replace(/\/\/[^\n]*/g, "");
  for (;;) {
    const at = out.search(/#\[cfg\(test\)\]\s*mod\s+\w+\s*\{/);
    if (at < 0) return out;
    let depth = 0;
    let end = out.indexOf("{", at);
    for (; end < out.length; end++) {
      if (out[end] === "{") depth++;
      else if (out[end] === "}" && --depth === 0) break;
    }
    out = out.slice(0, at) + out.slice(end + 1);
  }
}

/** The modules `module` (whose source is `text`) uses, among `known`. */
function uses(module, text, known) {
  const found = new Set();
  const resolve = (path) => {
    // The longest known module the path starts with: `mongo::watch::ChangeStream` → `mongo::watch`.
    const parts = path.split("::");
    for (let n = parts.length; n > 0; n--) {
      const candidate = parts.slice(0, n).join("::");
      if (known.has(candidate) || candidate === "wasm") return candidate;
    }
    return null;
  };
  const body = code(text);
  const parent = module.includes("::") ? module.slice(0, module.lastIndexOf("::")) : null;
  for (const m of body.matchAll(/\bcrate((?:::[a-z_][a-z0-9_]*)+)/g)) {
    const target = resolve(m[1].slice(2));
    if (target) found.add(target);
  }
  for (const m of body.matchAll(/\bsuper((?:::[a-z_][a-z0-9_]*)*)/g)) {
    // `super` of `mongo::watch` is `mongo`; of a top-level module, the crate root (not a module here).
    if (parent === null) continue;
    const target = resolve(parent + m[1]);
    if (target) found.add(target);
  }
  // `use` groups: `use crate::{a, b::c}` / `use super::{x, y}`.
  for (const m of body.matchAll(/\b(crate|super)::\{([^}]*)\}/g)) {
    const base = m[1] === "crate" ? "" : parent === null ? null : parent + "::";
    if (base === null) continue;
    for (const item of m[2].split(",")) {
      const target = resolve(base + item.trim().split(/\s/)[0]);
      if (target) found.add(target);
    }
  }
  if (/\/src\/wasm\//.test(body)) found.add("wasm");
  found.delete(module);
  return found;
}

/**
 * Problems of the module graph of `sources` (module → text): uses of `wasm`, and cycles among the
 * top-level modules (a submodule's uses count as its top-level module's; `mongo::watch` using
 * `mongo::sse` is inside `mongo`).
 */
export function checkModules(sources) {
  const known = new Set(sources.keys());
  const top = (module) => module.split("::")[0];
  const graph = new Map();
  for (const [module, text] of sources) {
    const targets = graph.get(top(module)) ?? new Set();
    for (const target of uses(module, text, known)) if (top(target) !== top(module)) targets.add(top(target));
    graph.set(top(module), targets);
  }
  const problems = [];
  for (const [module, targets] of graph) {
    if (targets.has("wasm")) problems.push(`${module} uses wasm (the core must not depend on the JS layer)`);
  }
  // Depth-first search; a back edge closes a cycle, reported once by its module list.
  const state = new Map();
  const stack = [];
  const seen = new Set();
  const visit = (module) => {
    state.set(module, "open");
    stack.push(module);
    for (const next of [...(graph.get(module) ?? [])].sort()) {
      if (!graph.has(next)) continue;
      if (state.get(next) === "open") {
        const cycle = stack.slice(stack.indexOf(next));
        const key = [...cycle].sort().join(",");
        if (!seen.has(key)) {
          seen.add(key);
          problems.push(`import cycle: ${[...cycle, next].join(" -> ")}`);
        }
      } else if (!state.has(next)) {
        visit(next);
      }
    }
    stack.pop();
    state.set(module, "done");
  };
  for (const module of [...graph.keys()].sort()) if (!state.has(module)) visit(module);
  return { graph, problems };
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  const { problems } = checkModules(coreSources());
  for (const p of problems) console.error(p);
  if (problems.length > 0) process.exit(1);
  console.log("SDK core: no import cycles, no use of wasm/");
}
