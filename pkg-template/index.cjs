// realm-wasm entry for Node's `require` (and the target of the ESM entry index.mjs).
// Loads the wasm-bindgen module synchronously (no init call), hands it the npm `bson` module so
// BSON values come back as bson classes, and exports the public API plus `BSON`.
"use strict";
const wasm = require("./node/realm_wasm.js");
const BSON = require("bson");

wasm.__setBson(BSON);

for (const name of Object.keys(wasm)) {
  if (!name.startsWith("__")) exports[name] = wasm[name];
}
exports.BSON = BSON;
