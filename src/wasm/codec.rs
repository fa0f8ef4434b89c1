//! Bindings to `codec.js`, the EJSON fast paths that run in the JS engine: one call per request
//! argument (encode) or per answer (decode) instead of one wasm↔JS crossing per value. Each
//! declines (`None`) what it does not cover, and the caller falls back to `convert`.

use js_sys::Promise;
use wasm_bindgen::prelude::*;

#[wasm_bindgen(module = "/src/wasm/codec.js")]
extern "C" {
    #[wasm_bindgen(js_name = setBson)]
    fn codec_set_bson(bson: &JsValue);
    #[wasm_bindgen(js_name = encode)]
    fn codec_encode(value: &JsValue, kind: u32) -> Option<Vec<u8>>;
    #[wasm_bindgen(js_name = decode)]
    fn codec_decode(text: &str) -> JsValue;
    /// See `call` in codec.js.
    #[wasm_bindgen(js_name = call)]
    pub(crate) fn codec_call(
        fetch: &JsValue,
        url: &JsValue,
        token: &JsValue,
        fresh_until_ms: f64,
        timeout_ms: Option<u32>,
        plan: &JsValue,
        a0: &JsValue,
        a1: &JsValue,
        options: &JsValue,
        resume: &JsValue,
    ) -> Option<Promise>;
}

/// Hands the npm `bson` module to the JS codec (without it, both paths decline).
pub(crate) fn set_bson(bson: &JsValue) {
    codec_set_bson(bson);
}

/// What an argument must be.
#[derive(Clone, Copy)]
pub(crate) enum Kind {
    /// A document (a plain object).
    Document = 1,
    /// An array of documents.
    DocumentList = 2,
}

/// Canonical EJSON text of `value`, if it is of `kind` and the fast path covers it.
pub(crate) fn encode(value: &JsValue, kind: Kind) -> Option<String> {
    // UTF-8 bytes (TextEncoder, then a memcpy into wasm memory) cross faster than a JS string.
    String::from_utf8(codec_encode(value, kind as u32)?).ok()
}

/// The relaxed-EJSON JS value of `text`, if the fast path covers it.
pub(crate) fn decode(text: &str) -> Option<JsValue> {
    let value = codec_decode(text);
    (!value.is_undefined()).then_some(value)
}

/// Differential tests: the fast paths must give exactly what the Rust path gives (or decline).
/// A small stand-in for npm `bson` (no imports, so the tests run in Node and in browsers).
#[cfg(test)]
mod tests {
    use wasm_bindgen::prelude::*;
    use wasm_bindgen_test::wasm_bindgen_test;

    use super::{decode, encode, Kind};
    use crate::ejson;
    use crate::wasm::convert::{set_bson, to_js, to_value};

    #[wasm_bindgen(inline_js = r#"
class ObjectId {
  constructor(h) { if (typeof h !== "string" || !/^[0-9a-fA-F]{24}$/.test(h)) throw new Error("bad id"); this.h = h.toLowerCase(); }
  get _bsontype() { return "ObjectID"; }
  toHexString() { return this.h; }
}
class Long {
  constructor(low, high) { this.low = low | 0; this.high = high | 0; }
  get _bsontype() { return "Long"; }
  static fromString(s) { const b = BigInt(s); return new Long(Number(BigInt.asIntN(32, b)), Number(BigInt.asIntN(32, b >> 32n))); }
  toString() { return (BigInt(this.high) * 4294967296n + BigInt(this.low >>> 0)).toString(); }
}
class Decimal128 {
  constructor(s) { this.s = s; }
  get _bsontype() { return "Decimal128"; }
  static fromString(s) { return new Decimal128(s); }
  toString() { return this.s; }
}
export function fakeBson() {
  return { ObjectId, Long, Decimal128, EJSON: { deserialize(v) { return { deserialized: v }; } } };
}
export function same(a, b) {
  if (typeof a !== typeof b) return false;
  if (typeof a !== "object" || a === null || b === null) return Object.is(a, b);
  if (Object.getPrototypeOf(a) !== Object.getPrototypeOf(b)) return false;
  if (a instanceof Date) return Object.is(a.getTime(), b.getTime());
  if (a instanceof ObjectId || a instanceof Long || a instanceof Decimal128) return a.toString() === b.toString() && a.h === b.h;
  const ka = Reflect.ownKeys(a), kb = Reflect.ownKeys(b);
  return ka.length === kb.length && ka.every((k, i) => k === kb[i] && same(a[k], b[k]));
}
export function samples() {
  const nested = [[1, [2, [3, []]]]];
  const deep = {}; let at = deep; for (let i = 0; i < 150; i++) { at.x = {}; at = at.x; }
  const cyclic = { a: 1 }; cyclic.self = cyclic;
  return [
    { neg0: -0, nan: NaN, inf: Infinity, ninf: -Infinity, i32max: 2147483647, i32min: -2147483648,
      over: 2147483648, under: -2147483649, safe: 2 ** 53 - 1, p53: 2 ** 53, p53b: 2 ** 53 + 2, half: 1.5,
      e21: 1e21, tiny: 1e-7, e16: 1e16, big: 1.5e300, frac: 0.1 + 0.2 },
    { nested, t: true, f: false, n: null, u: undefined, inner: { u: undefined, a: [undefined] } },
    { before1970: new Date(-86400001), epoch: new Date(0), later: new Date(Date.UTC(2024, 1, 29, 12)) },
    { "$foo": 1, "$set": { "a.b": "x" }, "": "empty", "quote\"key": "tab\tline\nnul\u0000 é 😀" },
    JSON.parse('{"__proto__": {"$numberInt": 1}, "x": {"__proto__": [1, 2]}}'),
    JSON.parse('{"__proto__": {"a": 1}, "x": {"__proto__": [1, 2]}}'),
    { _id: new ObjectId("65A1B2C3D4E5F6A700000001"), l: Long.fromString("1099511627776"),
      lmax: Long.fromString("9223372036854775807"), lmin: Long.fromString("-9223372036854775808") },
    { d: Decimal128.fromString("1.5") },
    { 2: "two", 1: "one", b: "b", a: "a" },
    { date: new Date(NaN) },
    { big: 10n },
    { f() {} },
    { bytes: new Uint8Array([1, 2]) },
    { lone: "\ud800" },
    { $oid: "65a1b2c3d4e5f6a700000001" },
    deep,
    cyclic,
    [{ a: 1 }, { b: [new Date(5)] }],
  ];
}
"#)]
    extern "C" {
        #[wasm_bindgen(js_name = fakeBson)]
        fn fake_bson() -> JsValue;
        fn same(a: &JsValue, b: &JsValue) -> bool;
        fn samples() -> js_sys::Array;
    }

    fn setup() {
        set_bson(fake_bson()).expect("fake bson accepted");
    }

    #[wasm_bindgen_test]
    fn encode_matches_the_rust_path() {
        setup();
        let mut fast = 0;
        for (i, sample) in samples().iter().enumerate() {
            let kind = if js_sys::Array::is_array(&sample) { Kind::DocumentList } else { Kind::Document };
            let rust = to_value(&sample);
            match encode(&sample, kind) {
                Some(text) => {
                    fast += 1;
                    let ours = ejson::parse(&text).unwrap_or_else(|e| panic!("sample {i}: {e}: {text}"));
                    let rust = rust.unwrap_or_else(|e| panic!("sample {i}: Rust path failed ({e}) where the fast path did not"));
                    assert_eq!(ejson::to_canonical_string(&ours), ejson::to_canonical_string(&rust), "sample {i}");
                }
                // Declined: the Rust path takes it (and reports what it cannot store).
                None => {}
            }
        }
        assert!(fast >= 8, "the fast path took only {fast} samples");
    }

    #[wasm_bindgen_test]
    fn encode_declines_what_the_rust_path_rejects() {
        setup();
        for (i, sample) in samples().iter().enumerate() {
            if to_value(&sample).is_err() {
                assert!(encode(&sample, Kind::Document).is_none(), "sample {i}");
            }
        }
        // Not a document / not a list of documents.
        assert!(encode(&JsValue::from(5), Kind::Document).is_none());
        assert!(encode(&js_sys::Array::new().into(), Kind::Document).is_none());
        assert!(encode(&js_sys::Array::of1(&JsValue::from(1)).into(), Kind::DocumentList).is_none());
        assert!(encode(&js_sys::Date::new_0().into(), Kind::Document).is_none());
    }

    const TEXTS: [&str; 12] = [
        r#"{"a":{"$numberInt":"5"},"b":{"$numberDouble":"-0.0"},"c":{"$numberDouble":"NaN"},"d":{"$numberDouble":"Infinity"},"e":{"$numberDouble":"-Infinity"},"f":{"$numberInt":"-2147483648"},"g":{"$numberInt":"2147483647"},"h":{"$numberLong":"9007199254740991"},"i":{"$numberLong":"-0"},"j":{"$numberInt":"-0"},"k":[[{"$numberLong":"-9007199254740991"},{"$numberDouble":"1e21"}]],"l":{"$numberDouble":"-0"},"m":{"$numberDouble":"5"}}"#,
        r#"{"d":{"$date":{"$numberLong":"-86400001"}},"e":{"$date":"1969-12-31T00:00:00Z"},"f":{"$date":-5}}"#,
        r#"{"$foo":1,"$set":{"x":{"$oid":"65a1b2c3d4e5f6a700000001"}},"y":{"a":1,"$oid":"x"}}"#,
        r#"{"__proto__":{"$numberInt":"1"},"x":{"__proto__":[1]}}"#,
        r#"{"_id":{"$oid":"65A1B2C3D4E5F6A700000001"},"big":{"$numberLong":"9007199254740993"}}"#,
        r#"{"b":{"$binary":"AAE=","$type":"00"},"m":{"$numberDecimal":"1.5"},"t":{"$timestamp":{"t":1,"i":2}}}"#,
        r#"{ "a" : { "$numberInt" : "5" }, "s": ":{\"$numberInt\":\"5\"}", "n": [1, 2.5, -1.25e-7] }"#,
        r#"[{"$numberInt":"1"},{"$numberInt":"007"},{"$numberDouble":"007"},{"$numberInt":"2147483648"}]"#,
        r#"{"a":{"$numberInt":"1","b":2}}"#,
        r#"{"a":{"$oid":5}}"#,
        r#"null"#,
        r#""text""#,
    ];

    #[wasm_bindgen_test]
    fn decode_matches_the_rust_path() {
        setup();
        let mut fast = 0;
        // Each text also inside a long one: short answers are decoded without the number regex.
        let pad = "x".repeat(300);
        let long: Vec<String> = TEXTS.iter().map(|text| format!(r#"[{text},"{pad}"]"#)).collect();
        for text in TEXTS.iter().copied().chain(long.iter().map(String::as_str)) {
            let rust = ejson::parse(text);
            match decode(text) {
                Some(ours) => {
                    fast += 1;
                    let rust = rust.unwrap_or_else(|e| panic!("{text}: Rust path failed ({e}) where the fast path did not"));
                    assert!(same(&ours, &to_js(&rust)), "{text}");
                }
                None => {}
            }
        }
        assert!(fast >= 12, "the fast path took only {fast} texts");
    }

    #[wasm_bindgen_test]
    fn decode_declines_malformed_and_deep_input() {
        setup();
        for text in [r#"{"a":{"$numberInt":"2147483648"}}"#, r#"{"a":{"$numberInt":"1","b":2}}"#, r#"{"a":{"$oid":5}}"#, "{", ""] {
            assert!(ejson::parse(text).is_err(), "{text}");
            assert!(decode(text).is_none(), "{text}");
        }
        let deep = format!("{}1{}", "[".repeat(5000), "]".repeat(5000));
        assert!(decode(&deep).is_none());
        assert!(ejson::parse(&deep).is_err(), "the Rust path reports it instead of overflowing");
    }
}
