// realm-wasm entry for browsers and bundlers: an ES module that instantiates the wasm with a
// top-level await, so importers can use the API right away (no manual init call).
import init, * as wasm from "./web/realm_wasm.js";
import * as BSON from "./bson.mjs";
import { Decimal128, EJSON, Long, ObjectId } from "bson";

await init({ module_or_path: new URL("./web/realm_wasm_bg.wasm", import.meta.url) });
// Only the parts the SDK uses, so that bundlers can leave the rest of `bson` out of an app that
// does not import `BSON` itself.
wasm.__setBson({ Decimal128, EJSON, Long, ObjectId });

// The list below is filled in by scripts/build-pkg.sh from the Node entry's exports.
export const { /*@EXPORT_NAMES@*/ } = wasm.__publicApi(wasm);
export { BSON };
