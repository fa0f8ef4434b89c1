// The globals of an App Services function: BSON, EJSON, utils, Buffer, TextEncoder/TextDecoder,
// atob/btoa, console, timers, require and context. Evaluated (as precompiled bytecode) in every
// call's fresh context; most globals are made on first use, so a function that does not touch
// them does not pay for them. `native(op, ...args)` is the Rust side of this one call
// (server/src/functions/natives.rs).

const native = globalThis.__native;
delete globalThis.__native;

const lazy = (name, make) => {
  Object.defineProperty(globalThis, name, {
    configurable: true,
    enumerable: false,
    get() {
      const value = make();
      Object.defineProperty(globalThis, name, { value, writable: true, configurable: true, enumerable: false });
      return value;
    },
    set(value) {
      Object.defineProperty(globalThis, name, { value, writable: true, configurable: true, enumerable: false });
    },
  });
};

const isBytes = (v) => v instanceof Uint8Array;
const bytesOf = (v, what) => {
  if (typeof v === "string") return native("utf8Encode", v);
  if (isBytes(v)) return v;
  if (v instanceof ArrayBuffer) return new Uint8Array(v);
  if (v && isBytes(v.buffer) && typeof v.sub_type === "number") return v.buffer;
  throw new TypeError(`${what}: expected a string, a BSON.Binary or bytes`);
};

// ---- BSON -------------------------------------------------------------------------------------
let bsonNs = null;
const bson = () => bsonNs || (bsonNs = makeBson());

function makeBson() {
  const HEX = /^[0-9a-fA-F]{24}$/;
  const toHex = (bytes) => native("hexEncode", bytes);

  class ObjectId {
    constructor(id) {
      let hex;
      if (id === undefined || id === null) hex = native("oid");
      else if (id instanceof ObjectId) hex = id.toHexString();
      else if (typeof id === "string" && HEX.test(id)) hex = id.toLowerCase();
      else if (isBytes(id) && id.length === 12) hex = toHex(id);
      else if (id && typeof id.toHexString === "function") hex = String(id.toHexString());
      else throw new TypeError("BSON.ObjectId: expected a 24-character hex string, 12 bytes or nothing");
      Object.defineProperty(this, "__hex", { value: hex });
    }
    static isValid(id) {
      return (typeof id === "string" && HEX.test(id)) || id instanceof ObjectId || (isBytes(id) && id.length === 12);
    }
    static createFromHexString(hex) { return new ObjectId(hex); }
    static createFromTime(seconds) {
      const t = (seconds >>> 0).toString(16).padStart(8, "0");
      return new ObjectId(t + "0000000000000000");
    }
    static generate() { return new ObjectId(); }
    toHexString() { return this.__hex; }
    toString() { return this.__hex; }
    toJSON() { return this.__hex; }
    get id() { return native("hexDecode", this.__hex); }
    getTimestamp() { return new Date(parseInt(this.__hex.slice(0, 8), 16) * 1000); }
    equals(other) {
      if (other === null || other === undefined) return false;
      try { return new ObjectId(other).toHexString() === this.__hex; } catch (e) { return false; }
    }
    get _bsontype() { return "ObjectId"; }
    [Symbol.for("nodejs.util.inspect.custom")]() { return `new ObjectId("${this.__hex}")`; }
  }

  const TWO32 = 4294967296;
  class Long {
    constructor(low = 0, high = 0, unsigned = false) {
      if (typeof low === "bigint") return Long.fromBigInt(low, unsigned);
      if (typeof low === "string") return Long.fromString(low, unsigned);
      this.low = low | 0;
      this.high = high | 0;
      this.unsigned = !!unsigned;
    }
    static fromBigInt(v, unsigned) {
      const n = BigInt.asIntN(64, BigInt(v));
      return new Long(Number(n & 0xffffffffn) | 0, Number(n >> 32n) | 0, unsigned);
    }
    static fromNumber(n, unsigned) {
      if (!Number.isFinite(n)) return new Long(0, 0, unsigned);
      return Long.fromBigInt(BigInt(Math.trunc(n)), unsigned);
    }
    static fromInt(n, unsigned) { return Long.fromNumber(n | 0, unsigned); }
    static fromString(s, unsigned, radix = 10) {
      if (typeof unsigned === "number") { radix = unsigned; unsigned = false; }
      const text = String(s).trim();
      const neg = text.startsWith("-");
      const digits = neg ? text.slice(1) : text;
      let v = 0n;
      for (const c of digits.toLowerCase()) {
        const d = parseInt(c, radix);
        if (Number.isNaN(d)) throw new TypeError(`BSON.Long.fromString: ${JSON.stringify(s)} is not a number`);
        v = v * BigInt(radix) + BigInt(d);
      }
      return Long.fromBigInt(neg ? -v : v, unsigned);
    }
    static fromBits(low, high, unsigned) { return new Long(low, high, unsigned); }
    static isLong(v) { return v instanceof Long; }
    toBigInt() {
      const n = (BigInt(this.high) << 32n) | BigInt(this.low >>> 0);
      return this.unsigned ? BigInt.asUintN(64, n) : BigInt.asIntN(64, n);
    }
    toNumber() { return this.high * TWO32 + (this.low >>> 0); }
    toInt() { return this.low; }
    toString(radix = 10) { return this.toBigInt().toString(radix); }
    toJSON() { return this.toNumber(); }
    valueOf() { return this.toNumber(); }
    getHighBits() { return this.high; }
    getLowBits() { return this.low; }
    isZero() { return this.high === 0 && this.low === 0; }
    isNegative() { return !this.unsigned && this.high < 0; }
    equals(o) { return Long.from(o).toBigInt() === this.toBigInt(); }
    compare(o) { const a = this.toBigInt(), b = Long.from(o).toBigInt(); return a < b ? -1 : a > b ? 1 : 0; }
    add(o) { return Long.fromBigInt(this.toBigInt() + Long.from(o).toBigInt()); }
    subtract(o) { return Long.fromBigInt(this.toBigInt() - Long.from(o).toBigInt()); }
    multiply(o) { return Long.fromBigInt(this.toBigInt() * Long.from(o).toBigInt()); }
    div(o) { return Long.fromBigInt(this.toBigInt() / Long.from(o).toBigInt()); }
    modulo(o) { return Long.fromBigInt(this.toBigInt() % Long.from(o).toBigInt()); }
    negate() { return Long.fromBigInt(-this.toBigInt()); }
    static from(v) {
      if (v instanceof Long) return v;
      if (typeof v === "bigint") return Long.fromBigInt(v);
      if (typeof v === "string") return Long.fromString(v);
      return Long.fromNumber(Number(v));
    }
    get _bsontype() { return "Long"; }
  }
  Long.ZERO = new Long(0, 0);
  Long.ONE = new Long(1, 0);
  Long.MAX_VALUE = new Long(-1, 0x7fffffff);
  Long.MIN_VALUE = new Long(0, -0x80000000);

  class Int32 {
    constructor(value) { this.value = Number(value) | 0; }
    valueOf() { return this.value; }
    toJSON() { return this.value; }
    toString(radix) { return this.value.toString(radix); }
    get _bsontype() { return "Int32"; }
  }

  class Double {
    constructor(value) { this.value = Number(value); }
    valueOf() { return this.value; }
    toJSON() { return this.value; }
    toString(radix) { return this.value.toString(radix); }
    get _bsontype() { return "Double"; }
  }

  class Decimal128 {
    constructor(bytes) {
      if (typeof bytes === "string") return Decimal128.fromString(bytes);
      if (!isBytes(bytes) || bytes.length !== 16) throw new TypeError("BSON.Decimal128: expected 16 bytes or a string");
      this.bytes = new Uint8Array(bytes);
    }
    static fromString(s) { return new Decimal128(native("decimalParse", String(s))); }
    toString() { return native("decimalFormat", this.bytes); }
    toJSON() { return { $numberDecimal: this.toString() }; }
    get _bsontype() { return "Decimal128"; }
  }

  class Binary {
    constructor(buffer, subType = 0) {
      if (buffer === undefined || buffer === null) buffer = new Uint8Array(0);
      else if (typeof buffer === "string") buffer = native("utf8Encode", buffer);
      else if (buffer instanceof ArrayBuffer) buffer = new Uint8Array(buffer);
      else if (Array.isArray(buffer)) buffer = Uint8Array.from(buffer);
      else if (!isBytes(buffer)) throw new TypeError("BSON.Binary: expected bytes, a string or an array of numbers");
      this.buffer = new Uint8Array(buffer);
      this.sub_type = subType & 0xff;
      this.position = this.buffer.length;
    }
    static fromHex(hex, subType) { return new Binary(native("hexDecode", String(hex)), subType); }
    static fromBase64(b64, subType) { return new Binary(native("b64Decode", String(b64)), subType); }
    static createFromHexString(hex, subType) { return Binary.fromHex(hex, subType); }
    static createFromBase64(b64, subType) { return Binary.fromBase64(b64, subType); }
    length() { return this.buffer.length; }
    value() { return this.buffer; }
    read(position, length) { return this.buffer.subarray(position, position + length); }
    text() { return native("utf8Decode", this.buffer, false); }
    toHex() { return native("hexEncode", this.buffer); }
    toBase64() { return native("b64Encode", this.buffer); }
    toString(encoding) {
      if (encoding === "hex") return this.toHex();
      if (encoding === "base64") return this.toBase64();
      return this.text();
    }
    toJSON() { return this.toBase64(); }
    get _bsontype() { return "Binary"; }
  }
  Object.assign(Binary, {
    SUBTYPE_DEFAULT: 0, SUBTYPE_FUNCTION: 1, SUBTYPE_BYTE_ARRAY: 2, SUBTYPE_UUID_OLD: 3, SUBTYPE_UUID: 4,
    SUBTYPE_MD5: 5, SUBTYPE_ENCRYPTED: 6, SUBTYPE_COLUMN: 7, SUBTYPE_USER_DEFINED: 128,
  });

  const UUID_TEXT = /^[0-9a-fA-F]{8}-?[0-9a-fA-F]{4}-?[0-9a-fA-F]{4}-?[0-9a-fA-F]{4}-?[0-9a-fA-F]{12}$/;
  class UUID extends Binary {
    constructor(input) {
      let bytes;
      if (input === undefined || input === null) bytes = native("uuid");
      else if (typeof input === "string" && UUID_TEXT.test(input)) bytes = native("hexDecode", input.replace(/-/g, ""));
      else if (isBytes(input) && input.length === 16) bytes = input;
      else if (input instanceof Binary && input.buffer.length === 16) bytes = input.buffer;
      else throw new TypeError("BSON.UUID: expected a UUID string, 16 bytes or nothing");
      super(bytes, 4);
    }
    static generate() { return new UUID(); }
    static isValid(v) { return (typeof v === "string" && UUID_TEXT.test(v)) || (isBytes(v) && v.length === 16); }
    toHexString(dashes = true) {
      const h = this.toHex();
      return dashes ? `${h.slice(0, 8)}-${h.slice(8, 12)}-${h.slice(12, 16)}-${h.slice(16, 20)}-${h.slice(20)}` : h;
    }
    toString(encoding) { return encoding ? super.toString(encoding) : this.toHexString(); }
    toJSON() { return this.toHexString(); }
    equals(o) { try { return new UUID(o).toHex() === this.toHex(); } catch (e) { return false; } }
    toBinary() { return new Binary(this.buffer, 4); }
  }

  class Timestamp {
    constructor(low, high) {
      if (low && typeof low === "object" && !(low instanceof Long)) { this.t = low.t >>> 0; this.i = low.i >>> 0; }
      else if (low instanceof Long) { this.t = low.high >>> 0; this.i = low.low >>> 0; }
      else { this.i = (low || 0) >>> 0; this.t = (high || 0) >>> 0; }
    }
    getHighBits() { return this.t; }
    getLowBits() { return this.i; }
    toString() { return `Timestamp(${this.t}, ${this.i})`; }
    toJSON() { return { $timestamp: { t: this.t, i: this.i } }; }
    get _bsontype() { return "Timestamp"; }
  }

  class BSONRegExp {
    constructor(pattern, options = "") {
      this.pattern = String(pattern);
      this.options = [...String(options)].sort().join("");
    }
    toRegExp() { return new RegExp(this.pattern, this.options.replace(/[^imsu]/g, "")); }
    toString() { return `/${this.pattern}/${this.options}`; }
    get _bsontype() { return "BSONRegExp"; }
  }

  class MinKey { get _bsontype() { return "MinKey"; } toJSON() { return { $minKey: 1 }; } }
  class MaxKey { get _bsontype() { return "MaxKey"; } toJSON() { return { $maxKey: 1 }; } }

  class Code {
    constructor(code, scope) {
      this.code = String(code);
      this.scope = scope === undefined ? null : scope;
    }
    toJSON() { return this.scope ? { code: this.code, scope: this.scope } : { code: this.code }; }
    get _bsontype() { return "Code"; }
  }

  return Object.freeze({
    ObjectId, ObjectID: ObjectId, Long, Int32, Double, Decimal128, Binary, UUID, Timestamp,
    BSONRegExp, MinKey, MaxKey, Code,
  });
}

// ---- EJSON ------------------------------------------------------------------------------------
const relaxedOf = (options) => !(options && options.relaxed === false);
const EJSON = {
  stringify(value, replacer, space, options) {
    if (space !== null && typeof space === "object" && options === undefined) { options = space; space = undefined; }
    if (replacer !== null && typeof replacer === "object" && !Array.isArray(replacer) && options === undefined) {
      options = replacer; replacer = undefined;
    }
    const text = native("ejsonStringify", value, relaxedOf(options));
    if (text === undefined || (replacer === undefined && space === undefined)) return text;
    return JSON.stringify(JSON.parse(text), replacer, space);
  },
  parse(text, options) { return native("ejsonParse", String(text), relaxedOf(options)); },
  serialize(value, options) { return JSON.parse(EJSON.stringify(value, options)); },
  deserialize(value, options) { return EJSON.parse(JSON.stringify(value), options); },
};

// ---- Buffer, text, base64 ---------------------------------------------------------------------
let BufferClass = null;
function makeBuffer() {
  class Buffer extends Uint8Array {
    static from(value, encodingOrOffset, length) {
      if (typeof value === "string") {
        const enc = (encodingOrOffset || "utf8").toLowerCase();
        let bytes;
        if (enc === "hex") bytes = native("hexDecode", value);
        else if (enc === "base64" || enc === "base64url") bytes = native("b64Decode", value);
        else if (enc === "latin1" || enc === "binary" || enc === "ascii") bytes = Uint8Array.from(value, (c) => c.charCodeAt(0) & 0xff);
        else if (enc === "utf8" || enc === "utf-8") bytes = native("utf8Encode", value);
        else throw new TypeError(`Buffer.from: unknown encoding ${enc}`);
        return Buffer.wrap(bytes);
      }
      if (value instanceof ArrayBuffer) return new Buffer(value, encodingOrOffset || 0, length === undefined ? value.byteLength - (encodingOrOffset || 0) : length);
      if (isBytes(value) || Array.isArray(value)) { const b = new Buffer(value.length); b.set(value); return b; }
      if (value && isBytes(value.buffer) && typeof value.sub_type === "number") return Buffer.from(value.buffer);
      if (value && value.type === "Buffer" && Array.isArray(value.data)) return Buffer.from(value.data);
      throw new TypeError("Buffer.from: expected a string, an array, bytes or an ArrayBuffer");
    }
    static wrap(bytes) { return new Buffer(bytes.buffer, bytes.byteOffset, bytes.length); }
    static alloc(size, fill = 0) { const b = new Buffer(size); if (fill !== 0) b.fill(typeof fill === "string" ? fill.charCodeAt(0) : fill); return b; }
    static allocUnsafe(size) { return new Buffer(size); }
    static isBuffer(v) { return v instanceof Buffer; }
    static byteLength(s, enc) { return typeof s === "string" ? Buffer.from(s, enc).length : s.byteLength; }
    static concat(list, total) {
      const size = total === undefined ? list.reduce((n, b) => n + b.length, 0) : total;
      const out = Buffer.alloc(size);
      let at = 0;
      for (const b of list) { if (at >= size) break; out.set(b.subarray(0, size - at), at); at += b.length; }
      return out;
    }
    toString(encoding = "utf8", start = 0, end = this.length) {
      const part = this.subarray(start, end);
      const enc = String(encoding).toLowerCase();
      if (enc === "hex") return native("hexEncode", part);
      if (enc === "base64") return native("b64Encode", part);
      if (enc === "latin1" || enc === "binary" || enc === "ascii") return String.fromCharCode(...part);
      return native("utf8Decode", part, false);
    }
    toJSON() { return { type: "Buffer", data: Array.from(this) }; }
    equals(other) { return other.length === this.length && this.every((b, i) => b === other[i]); }
    slice(start, end) { return this.subarray(start, end); }
    subarray(start, end) { const s = Uint8Array.prototype.subarray.call(this, start, end); return new Buffer(s.buffer, s.byteOffset, s.length); }
    write(string, offset = 0) { const b = native("utf8Encode", string); this.set(b.subarray(0, this.length - offset), offset); return Math.min(b.length, this.length - offset); }
  }
  return Buffer;
}
const buffer = () => BufferClass || (BufferClass = makeBuffer());

class TextEncoder {
  get encoding() { return "utf-8"; }
  encode(s = "") { return native("utf8Encode", String(s)); }
}
class TextDecoder {
  constructor(label = "utf-8", options = {}) {
    if (!/^utf-?8$/i.test(label)) throw new RangeError(`TextDecoder: only utf-8 is supported, not ${label}`);
    this.fatal = !!options.fatal;
  }
  get encoding() { return "utf-8"; }
  decode(bytes) {
    if (bytes === undefined) return "";
    const view = bytes instanceof ArrayBuffer ? new Uint8Array(bytes) : new Uint8Array(bytes.buffer, bytes.byteOffset, bytes.byteLength);
    return native("utf8Decode", view, this.fatal);
  }
}

function btoa(s) {
  s = String(s);
  const bytes = new Uint8Array(s.length);
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    if (c > 255) throw new DOMException("btoa: the string contains characters outside Latin-1", "InvalidCharacterError");
    bytes[i] = c;
  }
  return native("b64Encode", bytes);
}
function atob(s) {
  const bytes = native("b64Decode", String(s).replace(/[\t\n\f\r ]/g, ""));
  let out = "";
  for (let i = 0; i < bytes.length; i += 4096) out += String.fromCharCode(...bytes.subarray(i, i + 4096));
  return out;
}

// ---- console ----------------------------------------------------------------------------------
const show = (v) => {
  if (typeof v === "string") return v;
  if (v instanceof Error) return v.stack ? `${v.name}: ${v.message}\n${v.stack}` : `${v.name}: ${v.message}`;
  if (v === undefined || typeof v === "function" || typeof v === "symbol" || typeof v === "bigint") return String(v);
  try { const t = native("ejsonStringify", v, true); return t === undefined ? String(v) : t; } catch (e) { return String(v); }
};
const log = (level) => (...args) => native("log", level, args.map(show).join(" "));
const console = {
  log: log("info"), info: log("info"), debug: log("debug"), trace: log("debug"), warn: log("warn"), error: log("error"),
};

// ---- timers -----------------------------------------------------------------------------------
const timers = new Map();
function setTimeout(fn, ms = 0, ...args) {
  if (typeof fn !== "function") throw new TypeError("setTimeout: the callback must be a function");
  const id = native("timer", Number(ms) || 0);
  timers.set(id, { fn, args });
  return id;
}
function setInterval(fn, ms = 0, ...args) {
  if (typeof fn !== "function") throw new TypeError("setInterval: the callback must be a function");
  const every = Math.max(1, Number(ms) || 0);
  const id = native("timer", every);
  timers.set(id, { fn, args, every });
  return id;
}
function clearTimeout(id) {
  if (timers.delete(id)) native("clearTimer", id);
}
const fire = (id) => {
  const t = timers.get(id);
  if (!t) return;
  if (t.every) native("rearm", id, t.every); else timers.delete(id);
  t.fn(...t.args);
};

// ---- require ----------------------------------------------------------------------------------
function require(name) {
  switch (String(name)) {
    case "buffer": case "node:buffer": return { Buffer: buffer() };
    case "bson": return bson();
    default:
      throw new Error(`require('${name}'): this module is not available to functions on realm-wasm-server ` +
        "(npm dependencies and Node built-ins are not supported; 'buffer' and 'bson' are)");
  }
}

// ---- host calls -------------------------------------------------------------------------------
const pending = new Map();
const hostCall = (op, ...args) => new Promise((resolve, reject) => {
  const id = native(op, ...args);
  pending.set(id, { resolve, reject });
});
const settle = (id, ok, value) => {
  const p = pending.get(id);
  if (!p) return;
  pending.delete(id);
  if (ok) { p.resolve(value); return; }
  const e = new Error(value.message);
  if (value.code) { e.code = value.code; e.errorCode = value.code; }
  p.reject(e);
};

// ---- context.services.get("mongodb-atlas") ------------------------------------------------------
const defined = (o) => { for (const k of Object.keys(o)) if (o[k] === undefined) delete o[k]; return o; };
const asNumber = (n) => (n !== null && typeof n === "object" && typeof n.toNumber === "function" ? n.toNumber() : n);
const notSupported = (what) => () => { throw new Error(`${what} is not supported by realm-wasm-server functions`); };

class Cursor {
  constructor(collection, kind, spec) { this._c = collection; this._kind = kind; this._spec = spec; this._buf = null; }
  sort(sort) { this._spec.sort = sort; return this; }
  skip(n) { this._spec.skip = n; return this; }
  limit(n) { this._spec.limit = n; return this; }
  project(p) { this._spec.projection = p; return this; }
  _run() {
    const s = this._spec;
    if (this._kind === "aggregate") return this._c._call("aggregate", { pipeline: s.pipeline });
    if (!s.skip) return this._c._call("find", defined({ query: s.query, project: s.projection, sort: s.sort, limit: s.limit }));
    const pipeline = [{ $match: s.query || {} }];
    if (s.sort) pipeline.push({ $sort: s.sort });
    pipeline.push({ $skip: s.skip });
    if (s.limit) pipeline.push({ $limit: Math.abs(s.limit) });
    if (s.projection) pipeline.push({ $project: s.projection });
    return this._c._call("aggregate", { pipeline });
  }
  toArray() { return this._buf ? Promise.resolve(this._buf.splice(0)) : this._run(); }
  _fill() { return this._buf ? Promise.resolve(this._buf) : this._run().then((a) => (this._buf = a)); }
  next() { return this._fill().then((b) => (b.length ? b.shift() : null)); }
  hasNext() { return this._fill().then((b) => b.length > 0); }
  async *[Symbol.asyncIterator]() { const b = await this._fill(); while (b.length) yield b.shift(); }
}

class Collection {
  constructor(service, database, name) { this._service = service; this._db = database; this.name = name; }
  _call(op, extra) { return hostCall("mongo", this._service, op, Object.assign({ database: this._db, collection: this.name }, extra)); }
  find(query = {}, projection, options = {}) {
    return new Cursor(this, "find", { query, projection, sort: options.sort, skip: options.skip, limit: options.limit });
  }
  findOne(query = {}, projection, options = {}) { return this._call("findOne", defined({ query, project: projection, sort: options.sort })); }
  findOneAndUpdate(filter, update, o = {}) {
    return this._call("findOneAndUpdate", defined({ filter, update, sort: o.sort, projection: o.projection, upsert: o.upsert, returnNewDocument: o.returnNewDocument }));
  }
  findOneAndReplace(filter, replacement, o = {}) {
    return this._call("findOneAndReplace", defined({ filter, update: replacement, sort: o.sort, projection: o.projection, upsert: o.upsert, returnNewDocument: o.returnNewDocument }));
  }
  findOneAndDelete(filter = {}, o = {}) { return this._call("findOneAndDelete", defined({ filter, sort: o.sort, projection: o.projection })); }
  insertOne(document) { return this._call("insertOne", { document }); }
  insertMany(documents) { return this._call("insertMany", { documents }); }
  updateOne(query, update, o = {}) { return this._call("updateOne", defined({ query, update, upsert: o.upsert, arrayFilters: o.arrayFilters })); }
  updateMany(query, update, o = {}) { return this._call("updateMany", defined({ query, update, upsert: o.upsert, arrayFilters: o.arrayFilters })); }
  replaceOne(query, replacement, o = {}) {
    if (replacement && Object.keys(replacement).some((k) => k.startsWith("$"))) {
      return Promise.reject(new TypeError("replaceOne: the replacement must not contain update operators"));
    }
    return this._call("updateOne", defined({ query, update: replacement, upsert: o.upsert }));
  }
  deleteOne(query = {}) { return this._call("deleteOne", { query }); }
  deleteMany(query = {}) { return this._call("deleteMany", { query }); }
  aggregate(pipeline = []) { return new Cursor(this, "aggregate", { pipeline }); }
  count(query = {}, o = {}) { return this._call("count", defined({ query, limit: o.limit })).then(asNumber); }
  countDocuments(query = {}, o = {}) {
    if (!o.skip) return this.count(query, o);
    const pipeline = [{ $match: query }, { $skip: o.skip }];
    if (o.limit) pipeline.push({ $limit: o.limit });
    pipeline.push({ $count: "n" });
    return this._call("aggregate", { pipeline }).then((r) => (r.length ? asNumber(r[0].n) : 0));
  }
  estimatedDocumentCount() { return this.count({}); }
  distinct(field, query = {}) {
    if (typeof field !== "string" || field === "" || field.startsWith("$")) {
      return Promise.reject(new TypeError("distinct: the field must be a field path such as \"a.b\""));
    }
    const pipeline = [{ $match: query }, { $unwind: "$" + field }, { $group: { _id: "$" + field } }, { $sort: { _id: 1 } }];
    return this._call("aggregate", { pipeline }).then((r) => r.map((d) => d._id));
  }
  async bulkWrite(operations, o = {}) {
    const ordered = o.ordered !== false;
    const failures = [];
    for (const op of operations) {
      const [kind] = Object.keys(op);
      const a = op[kind] || {};
      const run = {
        insertOne: () => this.insertOne(a.document),
        updateOne: () => this.updateOne(a.filter, a.update, a),
        updateMany: () => this.updateMany(a.filter, a.update, a),
        replaceOne: () => this.replaceOne(a.filter, a.replacement, a),
        deleteOne: () => this.deleteOne(a.filter),
        deleteMany: () => this.deleteMany(a.filter),
      }[kind];
      if (!run) throw new TypeError(`bulkWrite: unknown operation ${kind}`);
      try { await run(); } catch (e) { if (ordered) throw e; failures.push(e); }
    }
    if (failures.length) throw new Error(`bulkWrite: ${failures.length} operation(s) failed: ${failures.map((e) => e.message).join("; ")}`);
    return null;
  }
  watch() { return notSupported("collection.watch()")(); }
}

const mongoClient = (service) => ({
  db: (name) => ({
    name,
    collection: (c) => new Collection(service, String(name), String(c)),
    getCollectionNames: notSupported("db.getCollectionNames()"),
  }),
  admin: () => ({ getDBNames: notSupported("admin().getDBNames()") }),
});

// ---- context.http -----------------------------------------------------------------------------
const httpCall = (method) => (request = {}) => {
  const r = Object.assign({}, request);
  if (r.body !== undefined && r.encodeBodyAsJSON) { r.body = EJSON.stringify(r.body); }
  else if (typeof r.body === "string") { r.body = native("utf8Encode", r.body); }
  return hostCall("http", method, r);
};

// ---- context ----------------------------------------------------------------------------------
function makeContext() {
  const services = native("env", "services");
  const ctx = {
    values: Object.freeze({ get: (name) => native("value", String(name)) }),
    functions: Object.freeze({ execute: (name, ...args) => native("load", String(name))(...args) }),
    services: Object.freeze({ get: (name) => (services.includes(name) ? mongoClient(name) : undefined) }),
    http: Object.freeze({
      get: httpCall("GET"), post: httpCall("POST"), put: httpCall("PUT"), patch: httpCall("PATCH"),
      delete: httpCall("DELETE"), head: httpCall("HEAD"),
    }),
    runningAsSystem: () => native("env", "system"),
  };
  for (const key of ["app", "environment", "user", "request"]) {
    let cached;
    Object.defineProperty(ctx, key, { enumerable: true, get: () => (cached === undefined ? (cached = native("env", key)) : cached) });
  }
  return ctx;
}

// ---- the globals ------------------------------------------------------------------------------
lazy("BSON", bson);
lazy("EJSON", () => EJSON);
lazy("Buffer", buffer);
lazy("utils", () => ({
  crypto: {
    hash: (fn, input) => new (bson().Binary)(native("hash", String(fn), bytesOf(input, "utils.crypto.hash"))),
    hmac: (input, secret, fn, format = "hex") => {
      const mac = native("hmac", String(fn), bytesOf(secret, "utils.crypto.hmac"), bytesOf(input, "utils.crypto.hmac"));
      if (format === "base64") return native("b64Encode", mac);
      if (format === "hex") return native("hexEncode", mac);
      throw new TypeError("utils.crypto.hmac: the output format must be \"hex\" or \"base64\"");
    },
    encrypt: (kind, message, key) => new (bson().Binary)(native("encrypt", String(kind), bytesOf(key, "utils.crypto.encrypt"), bytesOf(message, "utils.crypto.encrypt"))),
    decrypt: (kind, encrypted, key) => new (bson().Binary)(native("decrypt", String(kind), bytesOf(key, "utils.crypto.decrypt"), bytesOf(encrypted, "utils.crypto.decrypt"))),
    sign: (kind, message, privateKey, scheme = "pss") => new (bson().Binary)(native("sign", String(kind), bytesOf(message, "utils.crypto.sign"), String(privateKey), String(scheme))),
    verify: (kind, message, publicKey, signature, scheme = "pss") => native("verify", String(kind), bytesOf(message, "utils.crypto.verify"), String(publicKey), bytesOf(signature, "utils.crypto.verify"), String(scheme)),
  },
  jwt: {
    encode: (method, payload, secret, header) =>
      native("jwtEncode", String(method), EJSON.stringify(payload), String(secret), header === undefined ? undefined : EJSON.stringify(header)),
    decode: (token, key, returnHeader = false, accepted = []) => {
      const [header, payload] = native("jwtDecode", String(token), String(key), accepted.map(String));
      const body = EJSON.parse(payload);
      return returnHeader ? { header: EJSON.parse(header), payload: body } : body;
    },
  },
}));
lazy("context", makeContext);
Object.assign(globalThis, { TextEncoder, TextDecoder, atob, btoa, console, setTimeout, setInterval, clearTimeout, clearInterval: clearTimeout, setImmediate: (fn, ...a) => setTimeout(fn, 0, ...a), require });

// What the Rust side needs: settling host calls, firing timers, the BSON classes.
Object.defineProperty(globalThis, "__realm", {
  value: Object.freeze({ settle, fire, bson, bsonLoaded: () => bsonNs !== null }),
});
