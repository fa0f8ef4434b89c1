// `Buffer`, `TextEncoder` and `TextDecoder`, made the first time a call uses one.
export default function (rt) {
  const { native, isBytes } = rt;

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

  return { Buffer: makeBuffer(), TextEncoder, TextDecoder };
}
