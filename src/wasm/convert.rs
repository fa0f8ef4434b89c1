//! JS values ↔ the EJSON value model, including npm `bson` (v4) class instances.
//!
//! JS → EJSON follows realm-web's canonical serialization (protocol §0.3); EJSON → JS follows
//! its relaxed deserialization (§0.4). Without a `bson` module (see `__setBson`) BSON-only types
//! come back as plain EJSON-shaped objects such as `{ $oid: "…" }`.

use std::cell::RefCell;
use std::rc::Rc;

use js_sys::{Array, Date, Function, Object, Reflect, Uint8Array, JSON};
use wasm_bindgen::prelude::*;
use wasm_bindgen::JsCast;

use super::codec::{self, Kind};
use crate::ejson::{self, Document, ObjectId, Value};
use crate::error::{Error, Result};
use crate::mongo::Reply;

const MAX_DEPTH: usize = 100;
const MAX_SAFE_INTEGER: f64 = 9_007_199_254_740_991.0;

/// The parts of the npm `bson` module the SDK uses.
struct Bson {
    object_id: Function,
    long: Function,
    long_from_string: Function,
    decimal128: Function,
    decimal128_from_string: Function,
    ejson: JsValue,
    ejson_deserialize: Function,
}

thread_local! {
    /// The module as handed to `__setBson`; its parts are looked up on first use, so a lazy
    /// facade (pkg/index.cjs) loads `bson` only when a BSON value is first built or read.
    static BSON_MODULE: RefCell<Option<JsValue>> = const { RefCell::new(None) };
    static BSON: RefCell<Option<Rc<Bson>>> = const { RefCell::new(None) };
}

fn function(target: &JsValue, name: &str) -> Option<Function> {
    Reflect::get(target, &JsValue::from_str(name)).ok()?.dyn_into::<Function>().ok()
}

/// Remembers the npm `bson` module (v4) used to build and recognise BSON values.
#[wasm_bindgen(js_name = "__setBson")]
pub fn set_bson(#[wasm_bindgen(unchecked_param_type = "unknown")] bson: JsValue) -> Result<(), JsError> {
    if !bson.is_object() {
        return Err(JsError::new("__setBson expects the npm `bson` module (v4): require(\"bson\")"));
    }
    super::codec::set_bson(&bson);
    BSON_MODULE.with(|m| *m.borrow_mut() = Some(bson));
    BSON.with(|b| *b.borrow_mut() = None);
    Ok(())
}

/// The parts of the `bson` module, looked up once; `None` without a (usable) module.
fn bson() -> Option<Rc<Bson>> {
    if let Some(ready) = BSON.with(|b| b.borrow().clone()) {
        return Some(ready);
    }
    let module = BSON_MODULE.with(|m| m.borrow().clone())?;
    let long = function(&module, "Long")?;
    let decimal128 = function(&module, "Decimal128")?;
    let ejson = Reflect::get(&module, &JsValue::from_str("EJSON")).ok()?;
    let parts = Rc::new(Bson {
        object_id: function(&module, "ObjectId")?,
        long_from_string: function(&long, "fromString")?,
        long,
        decimal128_from_string: function(&decimal128, "fromString")?,
        decimal128,
        ejson_deserialize: function(&ejson, "deserialize")?,
        ejson,
    });
    BSON.with(|b| *b.borrow_mut() = Some(parts.clone()));
    Some(parts)
}

fn invalid(what: impl Into<String>) -> Error {
    Error::InvalidArgument(what.into())
}

fn get(target: &JsValue, key: &str) -> JsValue {
    Reflect::get(target, &JsValue::from_str(key)).unwrap_or(JsValue::UNDEFINED)
}

fn call_method0(target: &JsValue, name: &str) -> Result<JsValue> {
    let f = function(target, name).ok_or_else(|| invalid(format!("BSON value without a {name}() method")))?;
    f.call0(target).map_err(|e| invalid(format!("{name}() failed: {}", describe(&e))))
}

/// A short description of a thrown JS value.
pub(crate) fn describe(e: &JsValue) -> String {
    if let Some(s) = e.as_string() {
        return s;
    }
    let message = get(e, "message").as_string();
    let cause = get(e, "cause");
    let cause_text = if cause.is_undefined() || cause.is_null() {
        None
    } else {
        get(&cause, "message").as_string().or_else(|| get(&cause, "code").as_string()).or_else(|| cause.as_string())
    };
    match (message, cause_text) {
        (Some(m), Some(c)) => format!("{m} ({c})"),
        (Some(m), None) => m,
        // `String(e)` (JsValue's `Debug` would bring wasm-bindgen's debug-string machinery along).
        (None, _) => super::api::string_of(e),
    }
}

/// Converts a JS value into the EJSON model (canonical rules of §0.3).
pub(crate) fn to_value(js: &JsValue) -> Result<Value> {
    to_value_at(js, 0)
}

/// Converts a JS value that must be a document (an object, not an array).
pub(crate) fn to_document(js: &JsValue, what: &str) -> Result<Document> {
    match to_value(js)? {
        Value::Document(d) => Ok(d),
        _ => Err(invalid(format!("{what} must be an object, e.g. {{ field: value }}"))),
    }
}

/// Like [`to_document`], but `undefined`/`null` give `None`.
pub(crate) fn to_optional_document(js: &JsValue, what: &str) -> Result<Option<Document>> {
    if js.is_undefined() || js.is_null() {
        Ok(None)
    } else {
        to_document(js, what).map(Some)
    }
}

/// A document argument: canonical EJSON text from the JS fast path ([`Value::Raw`]), or else
/// converted value by value (which also reports what is wrong with it).
pub(crate) fn encode_document(js: &JsValue, what: &str) -> Result<Value> {
    match codec::encode(js, Kind::Document) {
        Some(text) => Ok(Value::Raw(text)),
        None => to_document(js, what).map(Value::Document),
    }
}

/// Like [`encode_document`], but `undefined`/`null` give `None`.
pub(crate) fn encode_optional_document(js: &JsValue, what: &str) -> Result<Option<Value>> {
    if js.is_undefined() || js.is_null() {
        Ok(None)
    } else {
        encode_document(js, what).map(Some)
    }
}

/// An array-of-documents argument (insertMany, aggregate), like [`encode_document`].
pub(crate) fn encode_document_list(js: &JsValue, what: &str) -> Result<Value> {
    if let Some(text) = codec::encode(js, Kind::DocumentList) {
        return Ok(Value::Raw(text));
    }
    match to_value(js)? {
        Value::Array(items) if items.iter().all(|d| matches!(d, Value::Document(_))) => Ok(Value::Array(items)),
        _ => Err(invalid(format!("{what} must be an array of documents"))),
    }
}

/// A collection call's answer as JS: `JSON.parse` and one walk in the JS fast path, or else
/// decoded in Rust and converted value by value (which also reports malformed EJSON).
pub(crate) fn reply_to_js(reply: &Reply) -> Result<JsValue> {
    match reply.text() {
        None => Ok(JsValue::NULL),
        Some(text) => match codec::decode(text) {
            Some(value) => Ok(value),
            None => Ok(to_js(&reply.value()?)),
        },
    }
}

fn number(n: f64) -> Value {
    if n.fract() == 0.0 && n.is_finite() {
        if n >= f64::from(i32::MIN) && n <= f64::from(i32::MAX) {
            return Value::Int32(n as i32);
        }
        if n.abs() <= MAX_SAFE_INTEGER {
            return Value::Int64(n as i64);
        }
    }
    Value::Double(n)
}

fn to_value_at(js: &JsValue, depth: usize) -> Result<Value> {
    if depth > MAX_DEPTH {
        return Err(invalid("document nested more than 100 levels deep (is it cyclic?)"));
    }
    if js.is_null() || js.is_undefined() {
        return Ok(Value::Null);
    }
    if let Some(b) = js.as_bool() {
        return Ok(Value::Bool(b));
    }
    if let Some(n) = js.as_f64() {
        return Ok(number(n));
    }
    if let Some(s) = js.as_string() {
        return Ok(Value::String(s));
    }
    if js.is_bigint() {
        let big: &js_sys::BigInt = js.unchecked_ref();
        let text = big.to_string(10).map(String::from).unwrap_or_default();
        return text
            .parse::<i64>()
            .map(Value::Int64)
            .map_err(|_| invalid(format!("BigInt {text} does not fit in 64 bits")));
    }
    if !js.is_object() {
        return Err(invalid("functions and symbols cannot be stored in documents"));
    }
    if Array::is_array(js) {
        let array: &Array = js.unchecked_ref();
        let mut items = Vec::with_capacity(array.length() as usize);
        for i in 0..array.length() {
            items.push(to_value_at(&array.get(i), depth + 1)?);
        }
        return Ok(Value::Array(items));
    }
    if let Some(date) = js.dyn_ref::<Date>() {
        let ms = date.get_time();
        if !ms.is_finite() {
            return Err(invalid("Invalid Date cannot be stored"));
        }
        return Ok(Value::DateTime(ms as i64));
    }
    let bson_type = get(js, "_bsontype");
    if let Some(kind) = bson_type.as_string() {
        return bson_to_value(js, &kind);
    }
    if let Some(bytes) = js.dyn_ref::<Uint8Array>() {
        return Ok(Value::Binary { subtype: 0, bytes: bytes.to_vec() });
    }
    let object: &Object = js.unchecked_ref();
    let keys = Object::keys(object);
    let first = keys.get(0).as_string();
    if first.as_deref().is_some_and(ejson::is_wrapper_key) {
        // An EJSON-shaped plain object such as { $oid: "…" }: decode it strictly.
        let text = JSON::stringify(js).map_err(|e| invalid(describe(&e)))?;
        return ejson::parse(&String::from(text)).map_err(|e| invalid(e.to_string()));
    }
    let mut doc = Document(Vec::with_capacity(keys.length() as usize));
    for i in 0..keys.length() {
        let key = keys.get(i);
        let value = Reflect::get(js, &key).map_err(|e| invalid(describe(&e)))?;
        if value.is_undefined() && depth == 0 {
            continue;
        }
        doc.0.push((key.as_string().unwrap_or_default(), to_value_at(&value, depth + 1)?));
    }
    Ok(Value::Document(doc))
}

fn bson_to_value(js: &JsValue, kind: &str) -> Result<Value> {
    let text = |name: &str| -> Result<String> {
        call_method0(js, name)?
            .as_string()
            .ok_or_else(|| invalid(format!("{kind}.{name}() did not return a string")))
    };
    match kind {
        "ObjectId" | "ObjectID" => ObjectId::parse_hex(&text("toHexString")?)
            .map(Value::ObjectId)
            .map_err(|e| invalid(e.to_string())),
        "Long" => text("toString")?
            .parse::<i64>()
            .map(Value::Int64)
            .map_err(|_| invalid("Long.toString() is not a 64-bit integer")),
        "Decimal128" => Ok(Value::Decimal128(text("toString")?)),
        "Int32" => {
            let n = call_method0(js, "valueOf")?.as_f64().unwrap_or(f64::NAN);
            if n.fract() == 0.0 && n >= f64::from(i32::MIN) && n <= f64::from(i32::MAX) {
                Ok(Value::Int32(n as i32))
            } else {
                Err(invalid("Int32 value out of range"))
            }
        }
        "Double" => Ok(Value::Double(call_method0(js, "valueOf")?.as_f64().unwrap_or(f64::NAN))),
        _ => {
            // Binary, Timestamp, BSONRegExp, MinKey, MaxKey …: via their own canonical EJSON.
            let f = function(js, "toExtendedJSON")
                .ok_or_else(|| invalid(format!("unsupported BSON type {kind}")))?;
            let options = Object::new();
            let _ = Reflect::set(&options, &JsValue::from_str("relaxed"), &JsValue::FALSE);
            let wrapper = f.call1(js, &options).map_err(|e| invalid(describe(&e)))?;
            let text = JSON::stringify(&wrapper).map_err(|e| invalid(describe(&e)))?;
            ejson::parse(&String::from(text)).map_err(|e| invalid(format!("BSON {kind}: {e}")))
        }
    }
}

// ---------------------------------------------------------------------------------------------

fn set(target: &Object, key: &str, value: &JsValue) {
    if key == "__proto__" {
        let descriptor = Object::new();
        let _ = Reflect::set(&descriptor, &JsValue::from_str("value"), value);
        for flag in ["writable", "enumerable", "configurable"] {
            let _ = Reflect::set(&descriptor, &JsValue::from_str(flag), &JsValue::TRUE);
        }
        Object::define_property(target, &JsValue::from_str(key), &descriptor);
    } else {
        let _ = Reflect::set(target, &JsValue::from_str(key), value);
    }
}

/// Converts an EJSON value into JS (relaxed rules of §0.4; bson classes when available).
pub(crate) fn to_js(value: &Value) -> JsValue {
    to_js_with(value, bson().as_deref())
}

fn construct(ctor: &Function, arg: &JsValue) -> Option<JsValue> {
    Reflect::construct(ctor, &Array::of1(arg)).ok()
}

fn plain_wrapper(value: &Value) -> JsValue {
    JSON::parse(&ejson::to_canonical_string(value)).unwrap_or(JsValue::NULL)
}

fn to_js_with(value: &Value, bson: Option<&Bson>) -> JsValue {
    match value {
        Value::Null => JsValue::NULL,
        Value::Bool(b) => JsValue::from_bool(*b),
        Value::String(s) => JsValue::from_str(s),
        Value::Int32(n) => JsValue::from_f64(f64::from(*n)),
        Value::Double(n) => JsValue::from_f64(*n),
        Value::Int64(n) => {
            let f = *n as f64;
            match bson {
                Some(b) if f.abs() > MAX_SAFE_INTEGER => b
                    .long_from_string
                    .call1(&b.long, &JsValue::from_str(&n.to_string()))
                    .unwrap_or(JsValue::from_f64(f)),
                _ => JsValue::from_f64(f),
            }
        }
        Value::Decimal128(s) => match bson {
            Some(b) => b
                .decimal128_from_string
                .call1(&b.decimal128, &JsValue::from_str(s))
                .unwrap_or_else(|_| plain_wrapper(value)),
            None => plain_wrapper(value),
        },
        Value::ObjectId(oid) => match bson {
            Some(b) => construct(&b.object_id, &JsValue::from_str(&oid.to_hex())).unwrap_or_else(|| plain_wrapper(value)),
            None => plain_wrapper(value),
        },
        Value::DateTime(ms) => Date::new(&JsValue::from_f64(*ms as f64)).into(),
        Value::Binary { .. } | Value::Timestamp { .. } | Value::Regex { .. } | Value::MinKey | Value::MaxKey => {
            let wrapper = plain_wrapper(value);
            match bson {
                Some(b) => {
                    let options = Object::new();
                    let _ = Reflect::set(&options, &JsValue::from_str("relaxed"), &JsValue::TRUE);
                    b.ejson_deserialize
                        .call2(&b.ejson, &wrapper, &options)
                        .unwrap_or(wrapper)
                }
                None => wrapper,
            }
        }
        // Only request arguments are raw; decoded for completeness.
        Value::Raw(text) => ejson::parse(text).map(|v| to_js_with(&v, bson)).unwrap_or(JsValue::NULL),
        Value::Array(items) => {
            let array = Array::new_with_length(items.len() as u32);
            for (i, item) in items.iter().enumerate() {
                array.set(i as u32, to_js_with(item, bson));
            }
            array.into()
        }
        Value::Document(doc) => {
            let object = Object::new();
            for (k, v) in doc.iter() {
                set(&object, k, &to_js_with(v, bson));
            }
            object.into()
        }
    }
}
