// Issue 12, item 5: the SDK core (src/ without src/wasm/) has no import cycles among its modules
// and does not use the wasm layer; scripts/check-sdk-modules.mjs does the reading.
import { test } from "node:test";
import assert from "node:assert/strict";
import { checkModules, coreSources } from "../../scripts/check-sdk-modules.mjs";

test("the SDK core's modules form no cycle and none uses wasm/", () => {
  const { graph, problems } = checkModules(coreSources());
  assert.deepEqual(problems, []);
  // The narrow contexts keep the fetcher under app and user, and user under mongo.
  for (const [module, forbidden] of [["fetcher", ["app", "user", "mongo"]], ["user", ["app", "mongo"]], ["ejson", ["wasm"]], ["json", ["ejson"]]]) {
    for (const target of forbidden) assert.ok(!graph.get(module).has(target), `${module} uses ${target}`);
  }
});

test("the check finds a cycle and a use of wasm (as the core had before issue 12)", () => {
  const sources = new Map([
    ["app", "use crate::fetcher::{self, Call};\n// crate::wasm in a comment is not a use\n"],
    ["fetcher", "use crate::user::User;\n"],
    ["user", "use crate::{app::App, error::Result};\n#[cfg(test)]\nmod tests {\n    use crate::mongo;\n}\n"],
    ["mongo", "pub(crate) mod watch;\n"],
    ["mongo::watch", "use super::super::user::User;\nfn f() { crate::user::x() }\n"],
    ["error", ""],
    ["ejson", "#[cfg(target_arch = \"wasm32\")]\nuse crate::wasm::number::format_double;\n"],
  ]);
  const { graph, problems } = checkModules(sources);
  assert.deepEqual(problems, ["ejson uses wasm (the core must not depend on the JS layer)", "import cycle: app -> fetcher -> user -> app"]);
  assert.ok(graph.get("mongo").has("user"), "a submodule's uses count as its module's");
  assert.ok(!graph.get("user").has("mongo"), "test modules are not counted");
});
