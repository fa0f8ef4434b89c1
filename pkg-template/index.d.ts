// Typings of realm-wasm: the wasm-bindgen generated declarations (internal `__` functions are
// removed from them by scripts/build-pkg.sh) plus the npm `bson` module re-exported as `BSON`
// (with realm-web's `ObjectID` alias, see bson.d.ts).
export * from "./node/realm_wasm.js";
export * as BSON from "./bson.js";
