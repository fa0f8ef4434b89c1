//! Extended JSON: the SDK's BSON value model, canonical encoding for request bodies and
//! relaxed-or-canonical decoding for responses (protocol §0.3, §0.4).
//!
//! Decoding never panics: malformed type wrappers (`{"$oid": 5}`, `{"$date": "soon"}`, a
//! wrapper key with extra keys …) are reported as [`Error::Decode`].

use std::fmt::Write as _;

use crate::b64;
use crate::error::{Error, Result};
use crate::json::{self, Json};

/// A 12-byte MongoDB ObjectId.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct ObjectId(pub [u8; 12]);

impl ObjectId {
    /// Parses 24 hex digits (either case).
    pub fn parse_hex(hex: &str) -> Result<ObjectId> {
        let bytes = hex.as_bytes();
        if bytes.len() != 24 {
            return Err(Error::decode(format!("ObjectId: expected 24 hex digits, got {}", quoted(hex))));
        }
        let mut out = [0u8; 12];
        for (i, pair) in bytes.chunks(2).enumerate() {
            let hi = hex_digit(pair[0]);
            let lo = hex_digit(pair[1]);
            match (hi, lo) {
                (Some(hi), Some(lo)) => out[i] = hi << 4 | lo,
                _ => {
                    return Err(Error::decode(format!("ObjectId: expected 24 hex digits, got {}", quoted(hex))))
                }
            }
        }
        Ok(ObjectId(out))
    }

    /// The lowercase 24-digit hex form.
    pub fn to_hex(&self) -> String {
        let mut s = String::with_capacity(24);
        for b in self.0 {
            let _ = write!(s, "{b:02x}");
        }
        s
    }
}

fn hex_digit(c: u8) -> Option<u8> {
    match c {
        b'0'..=b'9' => Some(c - b'0'),
        b'a'..=b'f' => Some(c - b'a' + 10),
        b'A'..=b'F' => Some(c - b'A' + 10),
        _ => None,
    }
}

/// An ordered document (key order is significant in MongoDB, e.g. for sorts).
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Document(pub Vec<(String, Value)>);

impl Document {
    /// An empty document.
    pub fn new() -> Document {
        Document(Vec::new())
    }

    /// Appends (or replaces) a key.
    pub fn insert(&mut self, key: impl Into<String>, value: impl Into<Value>) {
        let key = key.into();
        let value = value.into();
        if let Some(slot) = self.0.iter_mut().find(|(k, _)| *k == key) {
            slot.1 = value;
        } else {
            self.0.push((key, value));
        }
    }

    /// Builder-style [`Document::insert`].
    pub fn with(mut self, key: impl Into<String>, value: impl Into<Value>) -> Document {
        self.insert(key, value);
        self
    }

    /// Looks up a key.
    pub fn get(&self, key: &str) -> Option<&Value> {
        self.0.iter().find(|(k, _)| k == key).map(|(_, v)| v)
    }

    /// Removes a key, returning its value.
    pub fn remove(&mut self, key: &str) -> Option<Value> {
        let idx = self.0.iter().position(|(k, _)| k == key)?;
        Some(self.0.remove(idx).1)
    }

    /// Number of keys.
    pub fn len(&self) -> usize {
        self.0.len()
    }

    /// True when the document has no keys.
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// Iterates over the entries in order.
    pub fn iter(&self) -> impl Iterator<Item = (&String, &Value)> {
        self.0.iter().map(|(k, v)| (k, v))
    }
}

/// A BSON value as carried over EJSON.
#[derive(Debug, Clone, PartialEq)]
pub enum Value {
    /// `null` (also what JS `undefined` becomes).
    Null,
    /// `true` / `false`.
    Bool(bool),
    /// A UTF-8 string.
    String(String),
    /// `$numberInt`.
    Int32(i32),
    /// `$numberLong`.
    Int64(i64),
    /// `$numberDouble`.
    Double(f64),
    /// `$numberDecimal`, kept in its string form.
    Decimal128(String),
    /// `$oid`.
    ObjectId(ObjectId),
    /// `$date`, milliseconds since the Unix epoch.
    DateTime(i64),
    /// `$binary`.
    Binary {
        /// BSON binary subtype.
        subtype: u8,
        /// Raw bytes.
        bytes: Vec<u8>,
    },
    /// `$timestamp`.
    Timestamp {
        /// Seconds.
        t: u32,
        /// Increment.
        i: u32,
    },
    /// `$regularExpression`.
    Regex {
        /// The pattern.
        pattern: String,
        /// Flags, e.g. `i`.
        options: String,
    },
    /// `$minKey`.
    MinKey,
    /// `$maxKey`.
    MaxKey,
    /// A JSON array.
    Array(Vec<Value>),
    /// A JSON object that is not a type wrapper.
    Document(Document),
    /// Canonical EJSON text encoded elsewhere (the wasm layer encodes arguments in the JS
    /// engine), written verbatim into request bodies; never produced by decoding.
    Raw(String),
}

impl Value {
    /// The document inside, if this is one.
    pub fn as_document(&self) -> Option<&Document> {
        match self {
            Value::Document(d) => Some(d),
            _ => None,
        }
    }

    /// The string inside, if this is one.
    pub fn as_str(&self) -> Option<&str> {
        match self {
            Value::String(s) => Some(s),
            _ => None,
        }
    }

    /// Any numeric value as f64.
    pub fn as_f64(&self) -> Option<f64> {
        match self {
            Value::Int32(n) => Some(f64::from(*n)),
            Value::Int64(n) => Some(*n as f64),
            Value::Double(n) => Some(*n),
            _ => None,
        }
    }
}

impl From<&str> for Value {
    fn from(s: &str) -> Value {
        Value::String(s.to_owned())
    }
}
impl From<String> for Value {
    fn from(s: String) -> Value {
        Value::String(s)
    }
}
impl From<i32> for Value {
    fn from(n: i32) -> Value {
        Value::Int32(n)
    }
}
impl From<i64> for Value {
    fn from(n: i64) -> Value {
        Value::Int64(n)
    }
}
impl From<f64> for Value {
    fn from(n: f64) -> Value {
        Value::Double(n)
    }
}
impl From<bool> for Value {
    fn from(b: bool) -> Value {
        Value::Bool(b)
    }
}
impl From<Document> for Value {
    fn from(d: Document) -> Value {
        Value::Document(d)
    }
}
impl From<Vec<Value>> for Value {
    fn from(a: Vec<Value>) -> Value {
        Value::Array(a)
    }
}
impl From<ObjectId> for Value {
    fn from(o: ObjectId) -> Value {
        Value::ObjectId(o)
    }
}

// ---------------------------------------------------------------------------------------------
// Decoding

/// Parses JSON text holding relaxed or canonical EJSON.
pub fn parse(text: &str) -> Result<Value> {
    let json = json::parse(text).map_err(|e| Error::decode(format!("JSON response: {e}")))?;
    from_json(json)
}

/// Converts parsed JSON holding relaxed or canonical EJSON into a [`Value`].
pub fn from_json(json: Json) -> Result<Value> {
    Ok(match json {
        Json::Null => Value::Null,
        Json::Bool(b) => Value::Bool(b),
        Json::String(s) => Value::String(s),
        Json::Int(n) => match i32::try_from(n) {
            Ok(small) => Value::Int32(small),
            Err(_) => Value::Int64(n),
        },
        Json::Float(n) => Value::Double(n),
        Json::Array(items) => Value::Array(items.into_iter().map(from_json).collect::<Result<_>>()?),
        Json::Object(entries) => object_from_json(entries)?,
    })
}

const WRAPPER_KEYS: [&str; 11] = [
    "$oid",
    "$date",
    "$numberInt",
    "$numberLong",
    "$numberDouble",
    "$numberDecimal",
    "$binary",
    "$timestamp",
    "$regularExpression",
    "$minKey",
    "$maxKey",
];

/// True for the keys that introduce an EJSON type wrapper (`$oid`, `$date`, …).
pub fn is_wrapper_key(key: &str) -> bool {
    WRAPPER_KEYS.contains(&key)
}

fn object_from_json(entries: Vec<(String, Json)>) -> Result<Value> {
    let wrapper = entries
        .first()
        .and_then(|(k, _)| WRAPPER_KEYS.iter().find(|w| **w == k.as_str()).copied());
    let Some(key) = wrapper else {
        let mut doc = Document(Vec::with_capacity(entries.len()));
        for (k, v) in entries {
            doc.0.push((k, from_json(v)?));
        }
        return Ok(Value::Document(doc));
    };
    // Legacy binary form: {"$binary": "<base64>", "$type": "<hex>"}.
    if key == "$binary" && entries.len() == 2 && json::get(&entries, "$type").is_some() {
        let base64 = json::get(&entries, "$binary").and_then(Json::as_str);
        let subtype = json::get(&entries, "$type").and_then(Json::as_str);
        return match (base64, subtype) {
            (Some(b), Some(t)) => binary(b, t),
            _ => Err(malformed("$binary", "legacy form needs string $binary and $type")),
        };
    }
    if entries.len() != 1 {
        return Err(malformed(key, "a type wrapper must be the only key of its object"));
    }
    let Some(inner) = entries.into_iter().next().map(|(_, v)| v) else {
        return Err(malformed(key, "missing value"));
    };
    wrapper_value(key, inner)
}

fn malformed(key: &str, why: &str) -> Error {
    Error::decode(format!("EJSON: malformed `{key}` wrapper: {why}"))
}

fn wrapper_value(key: &str, inner: Json) -> Result<Value> {
    use Json as J;
    match (key, inner) {
        ("$oid", J::String(s)) => Ok(Value::ObjectId(
            ObjectId::parse_hex(&s).map_err(|_| malformed(key, "expected 24 hex digits"))?,
        )),
        ("$numberInt", J::String(s)) => s
            .parse::<i32>()
            .map(Value::Int32)
            .map_err(|_| malformed(key, "expected a 32-bit integer string")),
        ("$numberLong", J::String(s)) => s
            .parse::<i64>()
            .map(Value::Int64)
            .map_err(|_| malformed(key, "expected a 64-bit integer string")),
        ("$numberDouble", J::String(s)) => parse_double(&s)
            .map(Value::Double)
            .ok_or_else(|| malformed(key, "expected a number string, NaN, Infinity or -Infinity")),
        ("$numberDecimal", J::String(s)) => {
            if is_decimal_string(&s) {
                Ok(Value::Decimal128(s))
            } else {
                Err(malformed(key, "expected a decimal number string"))
            }
        }
        ("$date", inner) => date_value(inner).map(Value::DateTime),
        ("$binary", J::Object(m)) => {
            if m.len() != 2 {
                return Err(malformed(key, "expected exactly base64 and subType"));
            }
            match (
                json::get(&m, "base64").and_then(|v| v.as_str()),
                json::get(&m, "subType").and_then(|v| v.as_str()),
            ) {
                (Some(b), Some(t)) => binary(b, t),
                _ => Err(malformed(key, "expected string base64 and subType")),
            }
        }
        ("$timestamp", J::Object(m)) => {
            let part = |name: &str| {
                json::get(&m, name)
                    .and_then(Json::as_i64)
                    .and_then(|n| u32::try_from(n).ok())
            };
            match (part("t"), part("i"), m.len()) {
                (Some(t), Some(i), 2) => Ok(Value::Timestamp { t, i }),
                _ => Err(malformed(key, "expected {t, i} with unsigned 32-bit integers")),
            }
        }
        ("$regularExpression", J::Object(m)) => match (
            json::get(&m, "pattern").and_then(|v| v.as_str()),
            json::get(&m, "options").and_then(|v| v.as_str()),
            m.len(),
        ) {
            (Some(p), Some(o), 2) => Ok(Value::Regex {
                pattern: p.to_owned(),
                options: o.to_owned(),
            }),
            _ => Err(malformed(key, "expected {pattern, options} strings")),
        },
        ("$minKey", J::Int(1)) => Ok(Value::MinKey),
        ("$maxKey", J::Int(1)) => Ok(Value::MaxKey),
        (key, _) => Err(malformed(key, "unexpected value type")),
    }
}

fn binary(base64: &str, subtype: &str) -> Result<Value> {
    let sub = if (1..=2).contains(&subtype.len()) {
        u8::from_str_radix(subtype, 16).ok()
    } else {
        None
    };
    let Some(subtype) = sub else {
        return Err(malformed("$binary", "subType must be 1-2 hex digits"));
    };
    let bytes = b64::decode_standard(base64).map_err(|_| malformed("$binary", "invalid base64"))?;
    Ok(Value::Binary { subtype, bytes })
}

fn date_value(inner: Json) -> Result<i64> {
    use Json as J;
    match inner {
        J::Object(m) if m.len() == 1 => match json::get(&m, "$numberLong").and_then(|v| v.as_str()) {
            Some(s) => s
                .parse::<i64>()
                .map_err(|_| malformed("$date", "$numberLong must hold a 64-bit integer string")),
            None => Err(malformed("$date", "expected {\"$numberLong\": \"<ms>\"}")),
        },
        J::String(s) => parse_iso8601(&s)
            .ok_or_else(|| malformed("$date", "expected an ISO-8601 date like 2020-01-01T00:00:00Z")),
        J::Int(n) => Ok(n),
        J::Float(_) => Err(malformed("$date", "expected integer milliseconds")),
        _ => Err(malformed("$date", "unexpected value type")),
    }
}

fn parse_double(s: &str) -> Option<f64> {
    match s {
        "NaN" => return Some(f64::NAN),
        "Infinity" => return Some(f64::INFINITY),
        "-Infinity" => return Some(f64::NEG_INFINITY),
        _ => {}
    }
    let looks_numeric = !s.is_empty()
        && s.bytes().any(|c| c.is_ascii_digit())
        && s
            .bytes()
            .all(|c| c.is_ascii_digit() || matches!(c, b'+' | b'-' | b'.' | b'e' | b'E'));
    if looks_numeric {
        crate::float::parse(s)
    } else {
        None
    }
}

fn is_decimal_string(s: &str) -> bool {
    matches!(s, "NaN" | "Infinity" | "-Infinity" | "Inf" | "-Inf")
        || parse_double(s).is_some_and(f64::is_finite)
}

/// Days since 1970-01-01 for a proleptic Gregorian date (Howard Hinnant's algorithm).
fn days_from_civil(y: i64, m: i64, d: i64) -> i64 {
    let y = if m <= 2 { y - 1 } else { y };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let mp = (m + 9) % 12;
    let doy = (153 * mp + 2) / 5 + d - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

/// Parses `YYYY-MM-DDTHH:MM:SS[.fff…](Z|±HH:MM|±HHMM)` into milliseconds since the epoch.
pub(crate) fn parse_iso8601(s: &str) -> Option<i64> {
    let b = s.as_bytes();
    let num = |from: usize, len: usize| -> Option<i64> {
        let part = b.get(from..from + len)?;
        if part.iter().all(u8::is_ascii_digit) {
            std::str::from_utf8(part).ok()?.parse().ok()
        } else {
            None
        }
    };
    if b.len() < 20 || b[4] != b'-' || b[7] != b'-' || !matches!(b[10], b'T' | b't' | b' ') {
        return None;
    }
    if b[13] != b':' || b[16] != b':' {
        return None;
    }
    let (year, month, day) = (num(0, 4)?, num(5, 2)?, num(8, 2)?);
    let (hour, minute, second) = (num(11, 2)?, num(14, 2)?, num(17, 2)?);
    if !(1..=12).contains(&month) || !(1..=31).contains(&day) || hour > 23 || minute > 59 || second > 60 {
        return None;
    }
    let mut i = 19;
    let mut millis = 0i64;
    if b.get(i) == Some(&b'.') {
        i += 1;
        let start = i;
        while b.get(i).is_some_and(u8::is_ascii_digit) {
            i += 1;
        }
        if i == start {
            return None;
        }
        let frac = &s[start..i.min(start + 3)];
        millis = frac.parse::<i64>().ok()? * 10i64.pow(3 - frac.len() as u32);
    }
    let offset_minutes = match b.get(i)? {
        b'Z' | b'z' if i + 1 == b.len() => 0,
        sign @ (b'+' | b'-') => {
            let rest = &s[i + 1..];
            let (h, m) = match rest.len() {
                5 if rest.as_bytes()[2] == b':' => (num(i + 1, 2)?, num(i + 4, 2)?),
                4 => (num(i + 1, 2)?, num(i + 3, 2)?),
                _ => return None,
            };
            let total = h * 60 + m;
            if *sign == b'+' {
                total
            } else {
                -total
            }
        }
        _ => return None,
    };
    let days = days_from_civil(year, month, day);
    let secs = days * 86_400 + hour * 3600 + minute * 60 + second - offset_minutes * 60;
    Some(secs * 1000 + millis)
}

// ---------------------------------------------------------------------------------------------
// Encoding

/// Serializes a value as canonical EJSON text (what every request body uses, §0.3).
pub fn to_canonical_string(value: &Value) -> String {
    let mut out = String::with_capacity(64);
    write_canonical(&mut out, value);
    out
}

/// Appends the canonical EJSON form of `value` to `out`.
pub fn write_canonical(out: &mut String, value: &Value) {
    match value {
        Value::Null => out.push_str("null"),
        Value::Bool(true) => out.push_str("true"),
        Value::Bool(false) => out.push_str("false"),
        Value::String(s) => write_json_string(out, s),
        Value::Int32(n) => {
            let _ = write!(out, "{{\"$numberInt\":\"{n}\"}}");
        }
        Value::Int64(n) => {
            let _ = write!(out, "{{\"$numberLong\":\"{n}\"}}");
        }
        Value::Double(n) => {
            out.push_str("{\"$numberDouble\":\"");
            out.push_str(&format_double(*n));
            out.push_str("\"}");
        }
        Value::Decimal128(s) => {
            out.push_str("{\"$numberDecimal\":");
            write_json_string(out, s);
            out.push('}');
        }
        Value::ObjectId(oid) => {
            let _ = write!(out, "{{\"$oid\":\"{}\"}}", oid.to_hex());
        }
        Value::DateTime(ms) => {
            let _ = write!(out, "{{\"$date\":{{\"$numberLong\":\"{ms}\"}}}}");
        }
        Value::Binary { subtype, bytes } => {
            let b64 = b64::encode(bytes);
            let _ = write!(
                out,
                "{{\"$binary\":{{\"base64\":\"{b64}\",\"subType\":\"{subtype:02x}\"}}}}"
            );
        }
        Value::Timestamp { t, i } => {
            let _ = write!(out, "{{\"$timestamp\":{{\"t\":{t},\"i\":{i}}}}}");
        }
        Value::Regex { pattern, options } => {
            // A few letters: an insertion sort (`sort_unstable` costs ~4 KB of wasm).
            let mut opts: Vec<char> = Vec::with_capacity(options.len());
            for c in options.chars() {
                let at = opts.iter().position(|&o| o > c).unwrap_or(opts.len());
                opts.insert(at, c);
            }
            let opts: String = opts.into_iter().collect();
            out.push_str("{\"$regularExpression\":{\"pattern\":");
            write_json_string(out, pattern);
            out.push_str(",\"options\":");
            write_json_string(out, &opts);
            out.push_str("}}");
        }
        Value::Raw(text) => out.push_str(text),
        Value::MinKey => out.push_str("{\"$minKey\":1}"),
        Value::MaxKey => out.push_str("{\"$maxKey\":1}"),
        Value::Array(items) => {
            out.push('[');
            for (i, item) in items.iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                write_canonical(out, item);
            }
            out.push(']');
        }
        Value::Document(doc) => {
            out.push('{');
            for (i, (k, v)) in doc.0.iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                write_json_string(out, k);
                out.push(':');
                write_canonical(out, v);
            }
            out.push('}');
        }
    }
}

/// The `$numberDouble` string: `5.0`, `1.5`, `1e21`, `NaN`, `Infinity`, `-Infinity`, `-0.0`.
pub fn format_double(n: f64) -> String {
    if n.is_nan() {
        "NaN".to_owned()
    } else if n == f64::INFINITY {
        "Infinity".to_owned()
    } else if n == f64::NEG_INFINITY {
        "-Infinity".to_owned()
    } else {
        crate::float::shortest_text(n)
    }
}

/// `s` in double quotes, escaped as JSON: for error messages (what `{:?}` gives for ordinary text,
/// without core's `Debug` escaping, ~0.5 KB of wasm).
pub(crate) fn quoted(s: &str) -> String {
    let mut out = String::with_capacity(s.len() + 2);
    write_json_string(&mut out, s);
    out
}

/// Appends `s` as a JSON string literal.
pub fn write_json_string(out: &mut String, s: &str) {
    out.push('"');
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            c if (c as u32) < 0x20 => {
                let _ = write!(out, "\\u{:04x}", c as u32);
            }
            c => out.push(c),
        }
    }
    out.push('"');
}

#[cfg(test)]
mod tests {
    use super::*;

    fn roundtrip(v: &Value) -> Value {
        parse(&to_canonical_string(v)).expect("round trip")
    }

    #[test]
    fn canonical_scalars() {
        assert_eq!(to_canonical_string(&Value::Int32(5)), r#"{"$numberInt":"5"}"#);
        assert_eq!(to_canonical_string(&Value::Int64(2147483648)), r#"{"$numberLong":"2147483648"}"#);
        assert_eq!(to_canonical_string(&Value::Double(1.5)), r#"{"$numberDouble":"1.5"}"#);
        assert_eq!(to_canonical_string(&Value::Double(5.0)), r#"{"$numberDouble":"5.0"}"#);
        assert_eq!(to_canonical_string(&Value::Double(f64::NAN)), r#"{"$numberDouble":"NaN"}"#);
        assert_eq!(to_canonical_string(&Value::Double(f64::NEG_INFINITY)), r#"{"$numberDouble":"-Infinity"}"#);
        assert_eq!(to_canonical_string(&Value::DateTime(0)), r#"{"$date":{"$numberLong":"0"}}"#);
        assert_eq!(
            to_canonical_string(&Value::ObjectId(ObjectId::parse_hex("65AAAAAAAAAAAAAAAAAAAAAA").unwrap())),
            r#"{"$oid":"65aaaaaaaaaaaaaaaaaaaaaa"}"#
        );
        assert_eq!(to_canonical_string(&Value::Decimal128("1.1".into())), r#"{"$numberDecimal":"1.1"}"#);
        assert_eq!(
            to_canonical_string(&Value::Binary { subtype: 0, bytes: b"hi".to_vec() }),
            r#"{"$binary":{"base64":"aGk=","subType":"00"}}"#
        );
        assert_eq!(to_canonical_string(&Value::Timestamp { t: 1, i: 2 }), r#"{"$timestamp":{"t":1,"i":2}}"#);
        assert_eq!(
            to_canonical_string(&Value::Regex { pattern: "^a\"".into(), options: "mi".into() }),
            r#"{"$regularExpression":{"pattern":"^a\"","options":"im"}}"#
        );
        assert_eq!(to_canonical_string(&Value::MinKey), r#"{"$minKey":1}"#);
        assert_eq!(to_canonical_string(&Value::MaxKey), r#"{"$maxKey":1}"#);
        assert_eq!(to_canonical_string(&Value::String("a\n\u{1}é".into())), r#""a\n\u0001é""#);
    }

    #[test]
    fn canonical_document_keeps_key_order() {
        let doc = Document::new()
            .with("name", "insertOne")
            .with("arguments", vec![Value::Document(Document::new().with("b", 1).with("a", true))])
            .with("service", "mongodb-atlas");
        assert_eq!(
            to_canonical_string(&Value::Document(doc)),
            r#"{"name":"insertOne","arguments":[{"b":{"$numberInt":"1"},"a":true}],"service":"mongodb-atlas"}"#
        );
    }

    #[test]
    fn round_trips_every_type() {
        let values = vec![
            Value::Null,
            Value::Bool(true),
            Value::String("x".into()),
            Value::Int32(-7),
            Value::Int64(i64::MAX),
            Value::Double(2.5),
            Value::Double(-0.0),
            Value::Double(1e300),
            Value::Double(f64::INFINITY),
            Value::Decimal128("12345.6789".into()),
            Value::ObjectId(ObjectId([7; 12])),
            Value::DateTime(-1_000),
            Value::Binary { subtype: 4, bytes: vec![0, 255, 3] },
            Value::Timestamp { t: u32::MAX, i: 9 },
            Value::Regex { pattern: "a.*".into(), options: "i".into() },
            Value::MinKey,
            Value::MaxKey,
            Value::Array(vec![Value::Int32(1), Value::Null]),
            Value::Document(Document::new().with("z", Document::new().with("y", vec![Value::MaxKey]))),
        ];
        for v in &values {
            assert_eq!(&roundtrip(v), v, "{v:?}");
        }
        let nan = roundtrip(&Value::Double(f64::NAN));
        assert!(matches!(nan, Value::Double(n) if n.is_nan()));
    }

    #[test]
    fn relaxed_decoding() {
        let v = parse(r#"{"a":1,"b":4294967296,"c":1.5,"d":{"$date":"2020-01-02T03:04:05.678Z"},"e":{"$date":1000},"f":-3}"#).unwrap();
        let d = v.as_document().unwrap();
        assert_eq!(d.get("a"), Some(&Value::Int32(1)));
        assert_eq!(d.get("b"), Some(&Value::Int64(4294967296)));
        assert_eq!(d.get("c"), Some(&Value::Double(1.5)));
        assert_eq!(d.get("d"), Some(&Value::DateTime(1_577_934_245_678)));
        assert_eq!(d.get("e"), Some(&Value::DateTime(1000)));
        assert_eq!(d.get("f"), Some(&Value::Int32(-3)));
        assert_eq!(parse("18446744073709551615").unwrap(), Value::Double(18446744073709551615.0));
    }

    #[test]
    fn iso_dates() {
        assert_eq!(parse_iso8601("1970-01-01T00:00:00Z"), Some(0));
        assert_eq!(parse_iso8601("1969-12-31T23:59:59.9Z"), Some(-100));
        assert_eq!(parse_iso8601("2000-03-01T01:00:00+01:00"), Some(951_868_800_000));
        assert_eq!(parse_iso8601("2000-03-01T00:00:00-0130"), Some(951_868_800_000 + 90 * 60_000));
        assert_eq!(parse_iso8601("2000-13-01T00:00:00Z"), None);
        assert_eq!(parse_iso8601("2000-01-01T00:00:00"), None);
        assert_eq!(parse_iso8601("2000-01-01T00:00:00Zjunk"), None);
        assert_eq!(parse_iso8601("٢٠٠٠-01-01T00:00:00Z"), None);
    }

    #[test]
    fn query_operators_are_plain_documents() {
        let v = parse(r#"{"$set":{"a":{"$numberInt":"1"}},"$regex":"x","$options":"i"}"#).unwrap();
        let d = v.as_document().unwrap();
        assert_eq!(d.get("$set").and_then(Value::as_document).and_then(|d| d.get("a")), Some(&Value::Int32(1)));
        assert_eq!(d.get("$regex"), Some(&Value::String("x".into())));
    }

    #[test]
    fn legacy_binary() {
        assert_eq!(
            parse(r#"{"$binary":"aGk=","$type":"5"}"#).unwrap(),
            Value::Binary { subtype: 5, bytes: b"hi".to_vec() }
        );
    }

    #[test]
    fn malformed_wrappers_are_errors() {
        for bad in [
            r#"{"$oid":5}"#,
            r#"{"$oid":"123"}"#,
            r#"{"$oid":"zzzzzzzzzzzzzzzzzzzzzzzz"}"#,
            r#"{"$oid":"65aaaaaaaaaaaaaaaaaaaaaa","x":1}"#,
            r#"{"$numberInt":"2147483648"}"#,
            r#"{"$numberInt":5}"#,
            r#"{"$numberLong":"1.5"}"#,
            r#"{"$numberDouble":"abc"}"#,
            r#"{"$numberDouble":"inf"}"#,
            r#"{"$numberDecimal":"twelve"}"#,
            r#"{"$date":"soon"}"#,
            r#"{"$date":{"$numberLong":"x"}}"#,
            r#"{"$date":{"$numberInt":"1"}}"#,
            r#"{"$date":true}"#,
            r#"{"$binary":{"base64":"!!","subType":"00"}}"#,
            r#"{"$binary":{"base64":"aGk=","subType":"zzz"}}"#,
            r#"{"$binary":{"base64":"aGk="}}"#,
            r#"{"$timestamp":{"t":-1,"i":0}}"#,
            r#"{"$timestamp":{"t":1}}"#,
            r#"{"$regularExpression":{"pattern":1,"options":""}}"#,
            r#"{"$minKey":0}"#,
            r#"{"$maxKey":"1"}"#,
            r#"[{"a":{"$oid":null}}]"#,
        ] {
            let err = parse(bad).expect_err(bad);
            assert!(matches!(err, Error::Decode(_)), "{bad}: {err}");
        }
        assert!(matches!(parse("{"), Err(Error::Decode(_))));
        assert!(matches!(parse(""), Err(Error::Decode(_))));
    }

    #[test]
    fn raw_text_is_written_verbatim() {
        let doc = Document::new().with("a", Value::Raw(r#"{"x":{"$numberInt":"1"}}"#.to_owned()));
        assert_eq!(to_canonical_string(&Value::Document(doc)), r#"{"a":{"x":{"$numberInt":"1"}}}"#);
    }

    #[test]
    fn deep_nesting_does_not_overflow() {
        let text = "[".repeat(10_000) + &"]".repeat(10_000);
        assert!(parse(&text).is_err());
    }
}
