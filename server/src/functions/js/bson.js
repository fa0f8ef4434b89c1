// BSON classes (`BSON.*`), made the first time a call uses them.
export default function (rt) {
  const { native, isBytes } = rt;

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

  return makeBson();
}
