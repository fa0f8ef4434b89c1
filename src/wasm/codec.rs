//! Bindings to `codec.js`, the EJSON fast paths that run in the JS engine: one call per request
//! argument (encode) or per answer (decode) instead of one wasm↔JS crossing per value. Each
//! declines (`None`) what it does not cover, and the caller falls back to `convert`.

use wasm_bindgen::prelude::*;

#[wasm_bindgen(module = "/src/wasm/codec.js")]
extern "C" {
    #[wasm_bindgen(js_name = setBson)]
    fn codec_set_bson(bson: &JsValue);
    #[wasm_bindgen(js_name = encode)]
    fn codec_encode(value: &JsValue, kind: u32) -> Option<String>;
    #[wasm_bindgen(js_name = decode)]
    fn codec_decode(text: &str) -> JsValue;
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
    codec_encode(value, kind as u32)
}

/// The relaxed-EJSON JS value of `text`, if the fast path covers it.
pub(crate) fn decode(text: &str) -> Option<JsValue> {
    let value = codec_decode(text);
    (!value.is_undefined()).then_some(value)
}
