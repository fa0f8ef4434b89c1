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

const UTF8 = new TextEncoder();

// The npm `bson` module (v4), set once by `__setBson`; without it both functions decline.
let B = null;
let ObjectId = null;

export function setBson(bson) {
  B = bson;
  ObjectId = null;
}

// --- encoding: JS value → canonical EJSON text ------------------------------------------------
// One walk builds the canonical wrappers ({$numberInt: "5"} …) as a JSON-ready tree and the engine's
// JSON.stringify writes it: 3× faster than concatenating the text piece by piece (ropes, GC) for
// many documents (insertMany). A document argument's fields, and those of documents nested in it,
// are written directly, though: for the small documents of single calls that saves building and
// stringifying a tree (a third of their encoding); arrays and BSON values still go through the tree.

// Canonical EJSON of `value` as UTF-8 bytes. `kind`: 0 any value, 1 a document (a plain object),
// 2 an array of documents.
export function encode(value, kind) {
  const text = encodeText(value, kind);
  return text === undefined ? undefined : UTF8.encode(text);
}

function encodeText(value, kind) {
  if (B === null) return undefined;
  try {
    if (isDocument(value)) return kind === 2 ? undefined : documentText(value, 0);
    if (kind === 1 || (kind === 2 && !(Array.isArray(value) && value.every(isDocument)))) return undefined;
    return JSON.stringify(canonical(value, 0));
  } catch {
    return undefined;
  }
}

// A plain document's text, written directly; what `canonical` would give (fields set to undefined
// left out at the top level, null below).
function documentText(v, depth) {
  if (depth > MAX_DEPTH) throw SLOW;
  const keys = Object.keys(v);
  if (keys.length > 0 && WRAPPERS.has(keys[0])) throw SLOW; // EJSON-shaped: the Rust path checks it
  let text = "{";
  let separator = "";
  for (let i = 0; i < keys.length; i++) {
    const key = keys[i];
    const item = v[key];
    if (item === undefined && depth === 0) continue;
    text += separator + keyText(key) + valueText(item, depth + 1);
    separator = ",";
  }
  return text + "}";
}

// `"key":`, remembered for the first KEY_TEXTS keys seen: field names repeat from call to call, and
// the lookup is cheaper than checking and quoting the key again (a quarter of a small document's encoding).
const KEY_TEXTS = 1024;
const keyTexts = new Map();

function keyText(key) {
  let text = keyTexts.get(key);
  if (text === undefined) {
    text = quote(string(key)) + ":";
    if (keyTexts.size < KEY_TEXTS) keyTexts.set(key, text);
  }
  return text;
}

// Plain values and documents written directly; arrays and everything else by the tree walk.
function valueText(v, depth) {
  switch (typeof v) {
    case "string":
      return quote(string(v));
    case "number":
      return numberText(v);
    case "boolean":
      return v ? "true" : "false";
    case "undefined":
      return "null";
  }
  return isDocument(v) ? documentText(v, depth) : JSON.stringify(canonical(v, depth));
}

const NEEDS_ESCAPE = /["\\\u0000-\u001f]/;

// A string as JSON.stringify writes it.
function quote(s) {
  return NEEDS_ESCAPE.test(s) ? JSON.stringify(s) : '"' + s + '"';
}

function isDocument(v) {
  return typeof v === "object" && v !== null && !Array.isArray(v) && !(v instanceof Date) &&
    v._bsontype === undefined && !ArrayBuffer.isView(v);
}

// The `$numberDouble` text, as the Rust encoder writes it: 5.0, 1.5, 1e21, -0.0, NaN, Infinity.
function double(n) {
  if (n !== n) return "NaN";
  if (n === Infinity) return "Infinity";
  if (n === -Infinity) return "-Infinity";
  if (n === 0 && 1 / n < 0) return "-0.0";
  const s = String(n);
  return s.includes("e") ? s.replace("e+", "e") : s.includes(".") ? s : s + ".0";
}

// 1: Int32, 2: Int64 (a safe integer beyond Int32), 0: Double.
function numberType(n) {
  if (!Number.isInteger(n)) return 0;
  if (n >= -2147483648 && n <= 2147483647) return 1;
  return n >= -9007199254740991 && n <= 9007199254740991 ? 2 : 0;
}

function number(n) {
  switch (numberType(n)) {
    case 1:
      return { $numberInt: String(n | 0) };
    case 2:
      return { $numberLong: String(n) };
    default:
      return { $numberDouble: double(n) };
  }
}

// JSON.stringify(number(n)), written directly.
function numberText(n) {
  switch (numberType(n)) {
    case 1:
      return '{"$numberInt":"' + (n | 0) + '"}';
    case 2:
      return '{"$numberLong":"' + n + '"}';
    default:
      return '{"$numberDouble":"' + double(n) + '"}';
  }
}

function string(s) {
  // Lone surrogates: the Rust path decides (it sees them replaced by U+FFFD).
  if (!s.isWellFormed()) throw SLOW;
  return s;
}

function canonical(v, depth) {
  if (depth > MAX_DEPTH) throw SLOW;
  switch (typeof v) {
    case "string":
      return string(v);
    case "number":
      return number(v);
    case "boolean":
      return v;
    case "undefined":
      return null;
    case "object":
      break;
    default:
      throw SLOW; // bigint, function, symbol
  }
  if (v === null) return null;
  if (Array.isArray(v)) {
    const out = new Array(v.length);
    for (let i = 0; i < v.length; i++) out[i] = canonical(v[i], depth + 1);
    return out;
  }
  if (v instanceof Date) {
    const ms = v.getTime();
    if (ms !== ms) throw SLOW;
    return { $date: { $numberLong: String(ms) } };
  }
  const type = v._bsontype;
  if (type !== undefined) return bson(v, type);
  if (ArrayBuffer.isView(v)) throw SLOW;
  const keys = Object.keys(v);
  if (keys.length > 0 && WRAPPERS.has(keys[0])) throw SLOW; // EJSON-shaped: the Rust path checks it
  const out = {};
  for (let i = 0; i < keys.length; i++) {
    const key = keys[i];
    const item = v[key];
    if (item === undefined && depth === 0) continue;
    const value = canonical(item, depth + 1);
    if (key === "__proto__") {
      Object.defineProperty(out, key, { value, enumerable: true, writable: true, configurable: true });
    } else {
      out[string(key)] = value;
    }
  }
  return out;
}

function bson(v, type) {
  switch (type) {
    case "ObjectId":
    case "ObjectID": {
      const hex = v.toHexString();
      if (typeof hex !== "string" || !/^[0-9a-f]{24}$/.test(hex)) throw SLOW;
      return { $oid: hex };
    }
    case "Long": {
      // Within ±2^53 the number's decimal form is the Long's (Long.toString divides in JS, slowly).
      const n = v.high * 4294967296 + (v.low >>> 0);
      if (Number.isSafeInteger(n)) return { $numberLong: String(n) };
      const text = v.toString();
      if (typeof text !== "string" || !INTEGER.test(text)) throw SLOW;
      return { $numberLong: text };
    }
    case "Int32": {
      const n = v.valueOf();
      if (!Number.isInteger(n) || n < -2147483648 || n > 2147483647) throw SLOW;
      return { $numberInt: String(n | 0) };
    }
    case "Double": {
      const n = v.valueOf();
      if (typeof n !== "number") throw SLOW;
      return { $numberDouble: double(n) };
    }
    default:
      throw SLOW; // Decimal128, Binary, Timestamp, BSONRegExp, MinKey, MaxKey: rare, Rust path
  }
}

// --- decoding: EJSON text → JS values (relaxed, with bson classes) ---------------------------

// Number wrappers become plain numbers in the text itself, before JSON.parse: fewer objects to
// build and to walk (a third of the decode time for typical documents). The pattern only matches a
// whole single-key wrapper whose `{` follows `:`, `[` or `,`; in valid JSON that is always
// structural (a string cannot hold an unescaped `"`), and the values it takes are exactly those the
// Rust decoder turns into the same numbers (no "-0" integers, at most 15 digits for $numberLong).
const NUMBER_WRAPPER =
  /([:,[])\{"\$number(?:Int":"(-?[1-9][0-9]{0,8}|0)|Long":"(-?[1-9][0-9]{0,14}|0)|Double":"(-?[0-9]+(?:\.[0-9]+)?(?:[eE][-+]?[0-9]+)?))"\}/g;

const REGEX_MIN = 256;

export function decode(text) {
  if (B === null) return undefined;
  try {
    // Looked up on first use: B may be a facade that loads `bson` then.
    if (ObjectId === null) ObjectId = B.ObjectId;
    // Short answers (insertOne's, updateOne's …) decode faster without the regex: `wrapper` takes them.
    const plain = text.length < REGEX_MIN || text.indexOf('{"$number') === -1 ? text : text.replace(NUMBER_WRAPPER, "$1$2$3$4");
    return dec(JSON.parse(plain), 0);
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
      if (key.charCodeAt(0) === 36 /* $ */) {
        const value = wrapper(v, key);
        if (value !== undefined) return value;
      }
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

function single(v) {
  let n = 0;
  for (const _ in v) if (++n > 1) return false;
  return n === 1;
}

function int64(text) {
  if (typeof text !== "string" || !INTEGER.test(text)) throw SLOW;
  const n = Number(text);
  // Beyond 2^53 the Rust path builds a Long.
  if (!Number.isSafeInteger(n)) throw SLOW;
  return n + 0; // "-0" → 0
}

// The value of a type wrapper; `undefined` when `key` is no wrapper key (e.g. `$set`). Legacy
// `$binary`, the rare types and anything malformed go to the Rust path (SLOW).
function wrapper(v, key) {
  const x = v[key];
  switch (key) {
    case "$oid":
      if (typeof x === "string" && x.length === 24 && single(v)) return new ObjectId(x);
      break;
    case "$numberInt":
      if (single(v)) {
        const n = int64(x);
        if (n >= -2147483648 && n <= 2147483647) return n;
      }
      break;
    case "$numberLong":
      if (single(v)) return int64(x);
      break;
    case "$numberDouble":
      if (typeof x === "string" && single(v)) {
        if (DOUBLE.test(x)) return Number(x);
        if (x === "NaN") return NaN;
        if (x === "Infinity") return Infinity;
        if (x === "-Infinity") return -Infinity;
      }
      break;
    case "$date":
      if (!single(v)) break;
      if (typeof x === "object" && x !== null && single(x) && "$numberLong" in x) return new Date(int64(x.$numberLong));
      if (typeof x === "number" && Number.isSafeInteger(x)) return new Date(x);
      break;
    default:
      if (!WRAPPERS.has(key)) return undefined;
  }
  throw SLOW;
}

// --- a whole MongoDB call in one JS call (src/wasm/mongo.rs) ----------------------------------
// For a `functions/call` that can go out at once (location known, token not due for a refresh),
// the body is written here from the method's frame (src/mongo/layout.rs) around the arguments
// encoded above, sent with `fetch` exactly as http.js's `exchange` and the Rust transport send it
// (the app's timeout armed the same way: an AbortController plus a racing rejection), and a 2xx
// JSON answer is decoded here: no promise of Rust's, no bytes copied into wasm memory and back.
// Anything else (an error status, another content type, a network error or timeout, an answer the
// decoder declines) goes to `resume(body, url, token, head)`, the Rust continuation, with what
// `exchange` would have resolved to (`{ error, timedOut }` when fetch threw or rejected), so
// errors and the refresh-and-retry on 401 stay exactly the usual ones.
//
// `plan`: [prefix, suffix, then per argument its key text (`,"query":`), source and option name].
// Returns undefined without sending anything when an argument is not one the encoder covers or
// the options are no plain object: the Rust path then owns the errors.

const FILTER = 0, FIRST = 1, SECOND = 2, DOCUMENTS = 3, VALUE = 4, FLAG = 5;
const LATIN1_BLANK = /^[\t\n\v\f\r ]*$/;

function requestBody(plan, a0, a1, options) {
  if (options === null) options = undefined;
  if (options !== undefined && (typeof options !== "object" || Array.isArray(options))) return undefined;
  let body = plan[0];
  for (let i = 2; i < plan.length; i += 3) {
    let text;
    switch (plan[i + 1]) {
      case FILTER:
        text = a0 === undefined || a0 === null ? "{}" : encodeText(a0, 1);
        break;
      case FIRST:
        text = encodeText(a0, 1);
        break;
      case SECOND:
        text = encodeText(a1, 1);
        break;
      case DOCUMENTS:
        text = encodeText(a0, 2);
        break;
      default: {
        const value = options === undefined ? undefined : options[plan[i + 2]];
        if (value === undefined) continue;
        text = plan[i + 1] === FLAG ? (value ? "true" : "false") : encodeText(value, 0);
      }
    }
    if (text === undefined) return undefined;
    body += plan[i] + text;
  }
  return body + plan[1];
}

export function call(fetch, url, token, freshUntil, timeoutMs, plan, a0, a1, options, resume) {
  // The token is due for a refresh (Date.now is the Rust transport's clock too): the usual path.
  if (!(Date.now() < freshUntil)) return undefined;
  let body;
  try {
    body = requestBody(plan, a0, a1, options);
  } catch {
    return undefined; // an options getter threw
  }
  if (body === undefined) return undefined;
  const init = {
    method: "POST",
    headers: { Accept: "application/json", "Content-Type": "application/json", Authorization: "Bearer " + token },
    body,
  };
  let timer;
  if (timeoutMs !== undefined) {
    if (typeof AbortController !== "function") return undefined;
    timer = new Timer(timeoutMs);
    init.signal = timer.controller.signal;
  }
  return finish(fetch, url, init, timer, token, resume);
}

async function finish(fetch, url, init, timer, token, resume) {
  let head = null;
  try {
    // As http.js's `exchange`: fetch, then the whole answer; null when fetch gave no object.
    const sent = fetch === undefined ? globalThis.fetch(url, init) : fetch(url, init);
    const response = await (timer === undefined ? sent : timer.race(sent));
    if (response !== null && typeof response === "object") {
      head = { status: response.status, statusText: response.statusText, contentType: response.headers.get("content-type"), text: undefined };
      // text(): the same UTF-8 decoding (BOM dropped, bad sequences replaced) as the Rust side's.
      const text = response.text();
      head.text = await (timer === undefined ? text : timer.race(text));
    }
  } catch (error) {
    return resume(init.body, url, token, { error, timedOut: timer !== undefined && timer.fired });
  } finally {
    if (timer !== undefined) clearTimeout(timer.id);
  }
  if (head !== null && Number.isInteger(head.status) && head.status >= 200 && head.status < 300) {
    const type = head.contentType;
    // No content type: no content (null), as the core reads it.
    if (typeof type !== "string") return null;
    if (type.startsWith("application/json")) {
      if (LATIN1_BLANK.test(head.text)) return null;
      const value = decode(head.text);
      if (value !== undefined) return value;
    }
  }
  return resume(init.body, url, token, head);
}

// The app's timeout, as src/wasm/fetch.rs arms it: aborts the request and rejects on its own, so a
// fetch that ignores the signal still times out.
class Timer {
  constructor(ms) {
    this.controller = new AbortController();
    this.fired = false;
    this.expired = new Promise((_resolve, reject) => {
      this.id = setTimeout(() => {
        this.fired = true;
        this.controller.abort();
        reject("timeout");
      }, ms);
    });
    // The losing rejection of the race must not surface as an unhandled rejection.
    this.expired.catch(() => {});
  }

  race(promise) {
    return Promise.race([promise, this.expired]);
  }
}
