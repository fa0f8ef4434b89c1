// realm-wasm entry for browsers and bundlers: an ES module that instantiates the wasm with a
// top-level await, so importers can use the API right away (no manual init call).
import init, * as wasm from "./web/realm_wasm.js";
import * as BSON from "bson";

await init({ module_or_path: new URL("./web/realm_wasm_bg.wasm", import.meta.url) });
wasm.__setBson(BSON);

// The list below is filled in by scripts/build-pkg.sh from the wasm-bindgen exports.
export { /*@EXPORT_NAMES@*/ } from "./web/realm_wasm.js";
export { BSON };
