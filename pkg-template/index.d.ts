// Typings of realm-wasm: the wasm-bindgen generated declarations (internal `__` functions are
// removed from them by scripts/build-pkg.sh) plus the npm `bson` module re-exported as `BSON`.
export * from "./node/realm_wasm.js";
export * as BSON from "bson";
