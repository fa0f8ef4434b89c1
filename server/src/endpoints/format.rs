//! Answer bodies in JSON or EJSON: the request's `Accept` header picks (`application/json`,
//! `application/ejson`), else the endpoint's `return_type`. EJSON is canonical; JSON converts BSON
//! types as the Data API documented (`data-api/data-formats.txt`).

use crate::config::ReturnType;
use axum::http::{header, HeaderMap};
use base64::Engine;
use bson::Bson;
use serde_json::{json, Map, Value};

/// The format the request asks for in `Accept`, else `default`.
pub(super) fn negotiate(headers: &HeaderMap, default: ReturnType) -> ReturnType {
    for value in headers.get_all(header::ACCEPT) {
        let Ok(text) = value.to_str() else { continue };
        for media in text.split(',') {
            match media.split(';').next().unwrap_or_default().trim().to_ascii_lowercase().as_str() {
                "application/ejson" => return ReturnType::Ejson,
                "application/json" => return ReturnType::Json,
                _ => {}
            }
        }
    }
    default
}

/// `value` encoded in `format`, with its content type.
pub(super) fn encode(value: Bson, format: ReturnType) -> (Vec<u8>, &'static str) {
    match format {
        ReturnType::Json => (to_json(&value).to_string().into_bytes(), "application/json"),
        ReturnType::Ejson => (value.into_canonical_extjson().to_string().into_bytes(), "application/ejson"),
    }
}

/// A BSON value as the Data API's plain JSON shows it: an ObjectId as its hex string, a date as
/// an ISO-8601 string with milliseconds, every number as a number (a non-finite double as its
/// name), Decimal128 as a string, binary data as `{"Subtype", "Data"}` (base64), a regular
/// expression as `{"Pattern", "Options"}`, a timestamp as `{"T", "I"}`, MinKey and MaxKey as `{}`.
pub fn to_json(value: &Bson) -> Value {
    match value {
        Bson::Double(d) => serde_json::Number::from_f64(*d).map_or_else(|| Value::String(non_finite(*d)), Value::Number),
        Bson::String(s) | Bson::Symbol(s) | Bson::JavaScriptCode(s) => Value::String(s.clone()),
        Bson::Array(items) => Value::Array(items.iter().map(to_json).collect()),
        Bson::Document(d) => Value::Object(d.iter().map(|(k, v)| (k.clone(), to_json(v))).collect::<Map<_, _>>()),
        Bson::Boolean(b) => Value::Bool(*b),
        Bson::Null | Bson::Undefined => Value::Null,
        Bson::RegularExpression(r) => json!({"Pattern": r.pattern, "Options": r.options}),
        Bson::JavaScriptCodeWithScope(c) => json!({"Code": c.code, "Scope": to_json(&Bson::Document(c.scope.clone()))}),
        Bson::Int32(n) => json!(n),
        Bson::Int64(n) => json!(n),
        Bson::Timestamp(t) => json!({"T": t.time, "I": t.increment}),
        Bson::Binary(b) => json!({"Subtype": u8::from(b.subtype), "Data": base64::engine::general_purpose::STANDARD.encode(&b.bytes)}),
        Bson::ObjectId(id) => Value::String(id.to_hex()),
        Bson::DateTime(d) => iso_date(*d).map_or_else(|| json!(d.timestamp_millis()), Value::String),
        Bson::Decimal128(d) => Value::String(d.to_string()),
        Bson::MinKey | Bson::MaxKey => json!({}),
        other @ Bson::DbPointer(_) => other.clone().into_relaxed_extjson(),
    }
}

fn non_finite(d: f64) -> String {
    match d {
        d if d.is_nan() => "NaN".into(),
        d if d > 0.0 => "Infinity".into(),
        _ => "-Infinity".into(),
    }
}

/// `2022-01-12T02:33:23.067Z` (always three fraction digits, as JavaScript writes dates); `None`
/// outside years 0–9999.
fn iso_date(d: bson::DateTime) -> Option<String> {
    let text = d.try_to_rfc3339_string().ok()?;
    let stem = text.strip_suffix('Z')?;
    let (whole, fraction) = stem.split_once('.').unwrap_or((stem, ""));
    Some(format!("{whole}.{:0<3}Z", &fraction[..fraction.len().min(3)]))
}

#[cfg(test)]
mod tests {
    use super::*;
    use axum::http::HeaderValue;
    use bson::{doc, oid::ObjectId, spec::BinarySubtype, Binary, DateTime, Decimal128, Regex, Timestamp};
    use std::str::FromStr;

    #[test]
    fn json_follows_the_data_api_table() {
        let oid = ObjectId::parse_str("5d505646cf6d4fe581014ab2").expect("oid");
        let d = doc! {
            "oid": oid, "date": DateTime::from_millis(1_641_954_803_067), "whole": DateTime::from_millis(1_641_954_803_000),
            "i32": 10, "i64": 50_i64, "dbl": 10.5, "dec": Decimal128::from_str("9823.1297").expect("dec"),
            "bin": Binary { subtype: BinarySubtype::Uuid, bytes: vec![1, 2, 3] }, "min": Bson::MinKey, "max": Bson::MaxKey,
            "re": Regex { pattern: "^H".into(), options: "i".into() }, "ts": Timestamp { time: 1_565_545_664, increment: 1 },
            "nan": f64::NAN, "nested": [{"a": Bson::Null}],
        };
        assert_eq!(
            to_json(&Bson::Document(d)),
            json!({
                "oid": "5d505646cf6d4fe581014ab2", "date": "2022-01-12T02:33:23.067Z", "whole": "2022-01-12T02:33:23.000Z",
                "i32": 10, "i64": 50, "dbl": 10.5, "dec": "9823.1297", "bin": {"Subtype": 4, "Data": "AQID"},
                "min": {}, "max": {}, "re": {"Pattern": "^H", "Options": "i"}, "ts": {"T": 1_565_545_664, "I": 1},
                "nan": "NaN", "nested": [{"a": null}],
            })
        );
        assert_eq!(to_json(&Bson::DateTime(DateTime::from_millis(i64::MAX))), json!(i64::MAX), "beyond year 9999: milliseconds");
    }

    #[test]
    fn accept_header_or_default() {
        let h = |v: &'static str| {
            let mut m = HeaderMap::new();
            m.insert(header::ACCEPT, HeaderValue::from_static(v));
            m
        };
        assert_eq!(negotiate(&HeaderMap::new(), ReturnType::Ejson), ReturnType::Ejson);
        assert_eq!(negotiate(&h("application/ejson"), ReturnType::Json), ReturnType::Ejson);
        assert_eq!(negotiate(&h("text/html, Application/JSON;q=0.9"), ReturnType::Ejson), ReturnType::Json);
        assert_eq!(negotiate(&h("*/*"), ReturnType::Ejson), ReturnType::Ejson);
        let (body, ct) = encode(Bson::Document(doc! {"n": 1}), ReturnType::Ejson);
        assert_eq!((String::from_utf8(body).expect("utf-8"), ct), (r#"{"n":{"$numberInt":"1"}}"#.to_string(), "application/ejson"));
    }
}
