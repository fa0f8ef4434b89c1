// realm-wasm entry for Node's `require` (and the target of the ESM entry index.mjs).
// Loads the wasm-bindgen module synchronously (no init call), hands it the npm `bson` module so
// BSON values come back as bson classes, and exports the public API plus `BSON`.
"use strict";
const wasm = require("./node/realm_wasm.js");

// `bson` takes longer to load than the SDK itself, and many calls (log-in, functions without BSON
// values) never need it: it is loaded on first use, through this facade and the `BSON` getter.
// `BSON` is the module plus realm-web's `ObjectID` alias (bson 4 had it; bson 5 dropped it).
let bson;
const BSON = () => (bson ??= withObjectID(require("bson")));
function withObjectID(module) {
  return { ...module, ObjectID: module.ObjectId };
}
wasm.__setBson({
  get ObjectId() { return BSON().ObjectId; },
  get Long() { return BSON().Long; },
  get Decimal128() { return BSON().Decimal128; },
  get EJSON() { return BSON().EJSON; },
});

Object.assign(exports, wasm.__publicApi(wasm));
Object.defineProperty(exports, "BSON", { enumerable: true, get: BSON });
