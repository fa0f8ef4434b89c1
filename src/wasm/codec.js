// The EJSON fast paths, run by the JS engine: request arguments → canonical EJSON text in one walk,
// and answers → JS values with the engine's JSON.parse plus one walk that replaces the type
// wrappers. One call per argument or answer instead of one wasm↔JS crossing per value.
//
// Both functions cover the common shapes and return `undefined` for anything else (rare BSON types,
// malformed wrappers, more than MAX_DEPTH levels, getters that throw …); the caller then takes
// the Rust path (src/wasm/convert.rs), which owns the exact semantics and the error messages.
// What they produce is exactly what that Rust path produces (pinned by the tests in codec.rs).

const MAX_DEPTH = 100;
const SLOW = new Error("realm-wasm codec: slow path");
const WRAPPERS = new Set([
  "$oid", "$date", "$numberInt", "$numberLong", "$numberDouble", "$numberDecimal",
  "$binary", "$timestamp", "$regularExpression", "$minKey", "$maxKey",
]);
const INTEGER = /^-?[0-9]{1,19}$/;
const DOUBLE = /^-?[0-9]+(\.[0-9]+)?([eE][-+]?[0-9]+)?$/;

// The npm `bson` module (v4), set once by `__setBson`; without it both functions decline.
let B = null;

export function setBson(bson) {
  B = bson;
}

// --- encoding: JS value → canonical EJSON text ------------------------------------------------

// `kind`: 0 any value, 1 a document (a plain object), 2 an array of documents.
export function encode(value, kind) {
  if (B === null) return undefined;
  try {
    if (kind === 1 && !isDocument(value)) return undefined;
    if (kind === 2 && !(Array.isArray(value) && value.every(isDocument))) return undefined;
    return enc(value, 0);
  } catch {
    return undefined;
  }
}

function isDocument(v) {
  return typeof v === "object" && v !== null && !Array.isArray(v) && !(v instanceof Date) &&
    v._bsontype === undefined && !ArrayBuffer.isView(v);
}

function double(n) {
  if (n !== n) return "NaN";
  if (n === Infinity) return "Infinity";
  if (n === -Infinity) return "-Infinity";
  if (n === 0 && 1 / n < 0) return "-0.0";
  const s = String(n);
  return s.includes("e") ? s.replace("e+", "e") : s.includes(".") ? s : s + ".0";
}

function number(n) {
  if (Number.isInteger(n)) {
    if (n >= -2147483648 && n <= 2147483647) return '{"$numberInt":"' + (n | 0) + '"}';
    if (n >= -9007199254740991 && n <= 9007199254740991) return '{"$numberLong":"' + n + '"}';
  }
  return '{"$numberDouble":"' + double(n) + '"}';
}

function string(s) {
  // Lone surrogates: the Rust path decides (it sees them replaced by U+FFFD).
  if (!s.isWellFormed()) throw SLOW;
  return JSON.stringify(s);
}

function enc(v, depth) {
  if (depth > MAX_DEPTH) throw SLOW;
  switch (typeof v) {
    case "string":
      return string(v);
    case "number":
      return number(v);
    case "boolean":
      return v ? "true" : "false";
    case "undefined":
      return "null";
    case "object":
      break;
    default:
      throw SLOW; // bigint, function, symbol
  }
  if (v === null) return "null";
  if (Array.isArray(v)) {
    let out = "[";
    for (let i = 0; i < v.length; i++) {
      if (i > 0) out += ",";
      out += enc(v[i], depth + 1);
    }
    return out + "]";
  }
  if (v instanceof Date) {
    const ms = v.getTime();
    if (ms !== ms) throw SLOW;
    return '{"$date":{"$numberLong":"' + ms + '"}}';
  }
  const type = v._bsontype;
  if (type !== undefined) return bson(v, type);
  if (ArrayBuffer.isView(v)) throw SLOW;
  const keys = Object.keys(v);
  if (keys.length > 0 && WRAPPERS.has(keys[0])) throw SLOW;
  let out = "{";
  let first = true;
  for (let i = 0; i < keys.length; i++) {
    const key = keys[i];
    const item = v[key];
    if (item === undefined && depth === 0) continue;
    out += (first ? "" : ",") + string(key) + ":" + enc(item, depth + 1);
    first = false;
  }
  return out + "}";
}

function bson(v, type) {
  switch (type) {
    case "ObjectId":
    case "ObjectID": {
      const hex = v.toHexString();
      if (typeof hex !== "string" || !/^[0-9a-f]{24}$/.test(hex)) throw SLOW;
      return '{"$oid":"' + hex + '"}';
    }
    case "Long": {
      const text = v.toString();
      if (typeof text !== "string" || !INTEGER.test(text)) throw SLOW;
      return '{"$numberLong":"' + text + '"}';
    }
    case "Int32": {
      const n = v.valueOf();
      if (!Number.isInteger(n) || n < -2147483648 || n > 2147483647) throw SLOW;
      return '{"$numberInt":"' + (n | 0) + '"}';
    }
    case "Double": {
      const n = v.valueOf();
      if (typeof n !== "number") throw SLOW;
      return '{"$numberDouble":"' + double(n) + '"}';
    }
    default:
      throw SLOW; // Decimal128, Binary, Timestamp, BSONRegExp, MinKey, MaxKey: rare, Rust path
  }
}

// --- decoding: EJSON text → JS values (relaxed, with bson classes) ---------------------------

export function decode(text) {
  if (B === null) return undefined;
  try {
    return dec(JSON.parse(text), 0);
  } catch {
    return undefined;
  }
}

function dec(v, depth) {
  if (typeof v !== "object" || v === null) return v;
  if (depth > MAX_DEPTH) throw SLOW;
  if (Array.isArray(v)) {
    for (let i = 0; i < v.length; i++) {
      const item = v[i];
      if (typeof item === "object" && item !== null) v[i] = dec(item, depth + 1);
    }
    return v;
  }
  let first = true;
  for (const key in v) {
    if (first) {
      first = false;
      if (key.charCodeAt(0) === 36 /* $ */ && WRAPPERS.has(key)) return wrapper(v, key);
    }
    const item = v[key];
    if (typeof item === "object" && item !== null) {
      const out = dec(item, depth + 1);
      // An own `__proto__` data property (JSON.parse makes one) is set like any other key.
      if (out !== item) v[key] = out;
    }
  }
  return v;
}

function onlyKey(v) {
  let n = 0;
  for (const _ in v) n++;
  return n === 1;
}

function int64(text) {
  if (typeof text !== "string" || !INTEGER.test(text)) throw SLOW;
  const n = Number(text);
  // Beyond 2^53 the Rust path builds a Long.
  if (!Number.isSafeInteger(n)) throw SLOW;
  return n + 0; // "-0" → 0
}

function wrapper(v, key) {
  if (!onlyKey(v)) throw SLOW; // legacy $binary, or malformed: the Rust path decides
  const x = v[key];
  switch (key) {
    case "$oid":
      if (typeof x === "string" && x.length === 24) return new B.ObjectId(x);
      break;
    case "$numberInt": {
      const n = int64(x);
      if (n >= -2147483648 && n <= 2147483647) return n;
      break;
    }
    case "$numberLong":
      return int64(x);
    case "$numberDouble":
      if (typeof x !== "string") break;
      if (DOUBLE.test(x)) return Number(x);
      if (x === "NaN") return NaN;
      if (x === "Infinity") return Infinity;
      if (x === "-Infinity") return -Infinity;
      break;
    case "$date":
      if (typeof x === "object" && x !== null && onlyKey(x) && "$numberLong" in x) return new Date(int64(x.$numberLong));
      if (typeof x === "number" && Number.isSafeInteger(x)) return new Date(x);
      break;
  }
  throw SLOW;
}
