//! JSON text → a plain tree ([`Json`]), the reader under `ejson::parse`, JWT payloads and error bodies.
//!
//! It replaces `serde_json` (with `preserve_order`) in the SDK: the wasm build shipped ~35 KB of serde
//! machinery, IndexMap and float formatting for what is only ever "parse to a tree". Semantics kept
//! from serde_json: RFC 8259 strictly (no trailing commas, no leading zeros, no lone surrogates),
//! object keys in document order with a repeated key replacing the value in place, integers without
//! fraction or exponent as `i64` when they fit, a nesting limit of 127, numbers beyond the `f64`
//! range rejected, and errors worded `<what> at line L column C`.

/// A parsed JSON value.
#[derive(Debug, Clone, PartialEq)]
pub enum Json {
    /// `null`.
    Null,
    /// `true` / `false`.
    Bool(bool),
    /// A number without fraction or exponent that fits an `i64`.
    Int(i64),
    /// Any other number.
    Float(f64),
    /// A string.
    String(String),
    /// An array.
    Array(Vec<Json>),
    /// An object, keys in document order (each key once).
    Object(Vec<(String, Json)>),
}

impl Json {
    /// The string, if this is one.
    pub fn as_str(&self) -> Option<&str> {
        match self {
            Json::String(s) => Some(s),
            _ => None,
        }
    }

    /// The integer, if this is an integer that fits an `i64`.
    pub fn as_i64(&self) -> Option<i64> {
        match self {
            Json::Int(n) => Some(*n),
            _ => None,
        }
    }

    /// Any number as `f64`.
    pub fn as_f64(&self) -> Option<f64> {
        match self {
            Json::Int(n) => Some(*n as f64),
            Json::Float(n) => Some(*n),
            _ => None,
        }
    }

    /// The value of `key`, if this is an object holding it.
    pub fn get(&self, key: &str) -> Option<&Json> {
        match self {
            Json::Object(entries) => get(entries, key),
            _ => None,
        }
    }
}

/// The value of `key` among an object's entries.
pub fn get<'a>(entries: &'a [(String, Json)], key: &str) -> Option<&'a Json> {
    entries.iter().find(|(k, _)| k == key).map(|(_, v)| v)
}

/// Parses one JSON value (surrounding whitespace allowed); the error is serde_json-style text.
pub fn parse(text: &str) -> Result<Json, String> {
    let mut p = Parser { text, bytes: text.as_bytes(), pos: 0, depth: 0 };
    let value = p.value()?;
    p.skip_ws();
    if p.pos < p.bytes.len() {
        return Err(p.error("trailing characters"));
    }
    Ok(value)
}

/// serde_json's nesting limit: 128 levels are refused.
const MAX_DEPTH: u32 = 127;

struct Parser<'a> {
    text: &'a str,
    bytes: &'a [u8],
    pos: usize,
    depth: u32,
}

impl Parser<'_> {
    /// `what` at the current position, lines and columns counted from 1 (column 0 before a line's first byte).
    fn error(&self, what: &str) -> String {
        let upto = &self.bytes[..self.pos.min(self.bytes.len())];
        let line = 1 + upto.iter().filter(|&&b| b == b'\n').count();
        let column = upto.iter().rev().take_while(|&&b| b != b'\n').count();
        let mut out = String::from(what);
        out.push_str(" at line ");
        out.push_str(&line.to_string());
        out.push_str(" column ");
        out.push_str(&column.to_string());
        out
    }

    fn skip_ws(&mut self) {
        while let Some(b' ' | b'\t' | b'\n' | b'\r') = self.bytes.get(self.pos) {
            self.pos += 1;
        }
    }

    fn peek(&mut self) -> Option<u8> {
        self.skip_ws();
        self.bytes.get(self.pos).copied()
    }

    fn value(&mut self) -> Result<Json, String> {
        let Some(b) = self.peek() else {
            return Err(self.error("EOF while parsing a value"));
        };
        match b {
            b'n' => self.literal("null", Json::Null),
            b't' => self.literal("true", Json::Bool(true)),
            b'f' => self.literal("false", Json::Bool(false)),
            b'"' => {
                self.pos += 1;
                self.string().map(Json::String)
            }
            b'-' | b'0'..=b'9' => self.number(),
            b'[' => self.nested(Self::array),
            b'{' => self.nested(Self::object),
            _ => {
                self.pos += 1;
                Err(self.error("expected value"))
            }
        }
    }

    fn literal(&mut self, word: &str, value: Json) -> Result<Json, String> {
        for &expected in word.as_bytes() {
            match self.bytes.get(self.pos) {
                None => return Err(self.error("EOF while parsing a value")),
                Some(&b) => {
                    self.pos += 1;
                    if b != expected {
                        return Err(self.error("expected ident"));
                    }
                }
            }
        }
        Ok(value)
    }

    fn nested(&mut self, parse: fn(&mut Self) -> Result<Json, String>) -> Result<Json, String> {
        self.pos += 1;
        self.depth += 1;
        if self.depth > MAX_DEPTH {
            return Err(self.error("recursion limit exceeded"));
        }
        let value = parse(self);
        self.depth -= 1;
        value
    }

    fn array(&mut self) -> Result<Json, String> {
        let mut items = Vec::new();
        if self.peek() == Some(b']') {
            self.pos += 1;
            return Ok(Json::Array(items));
        }
        loop {
            items.push(self.value()?);
            match self.peek() {
                Some(b',') => {
                    self.pos += 1;
                    if self.peek() == Some(b']') {
                        return Err(self.error("trailing comma"));
                    }
                }
                Some(b']') => {
                    self.pos += 1;
                    return Ok(Json::Array(items));
                }
                Some(_) => return Err(self.error("expected `,` or `]`")),
                None => return Err(self.error("EOF while parsing a list")),
            }
        }
    }

    fn object(&mut self) -> Result<Json, String> {
        let mut entries: Vec<(String, Json)> = Vec::new();
        if self.peek() == Some(b'}') {
            self.pos += 1;
            return Ok(Json::Object(entries));
        }
        loop {
            match self.peek() {
                Some(b'"') => self.pos += 1,
                Some(_) => return Err(self.error("key must be a string")),
                None => return Err(self.error("EOF while parsing an object")),
            }
            let key = self.string()?;
            match self.peek() {
                Some(b':') => self.pos += 1,
                Some(_) => return Err(self.error("expected `:`")),
                None => return Err(self.error("EOF while parsing an object")),
            }
            let value = self.value()?;
            match entries.iter_mut().find(|(k, _)| *k == key) {
                Some(slot) => slot.1 = value,
                None => entries.push((key, value)),
            }
            match self.peek() {
                Some(b',') => {
                    self.pos += 1;
                    if self.peek() == Some(b'}') {
                        return Err(self.error("trailing comma"));
                    }
                }
                Some(b'}') => {
                    self.pos += 1;
                    return Ok(Json::Object(entries));
                }
                Some(_) => return Err(self.error("expected `,` or `}`")),
                None => return Err(self.error("EOF while parsing an object")),
            }
        }
    }

    /// The rest of a string whose opening quote was consumed.
    fn string(&mut self) -> Result<String, String> {
        let mut out = String::new();
        loop {
            let start = self.pos;
            while let Some(&b) = self.bytes.get(self.pos) {
                if b == b'"' || b == b'\\' || b < 0x20 {
                    break;
                }
                self.pos += 1;
            }
            // Stops only at ASCII bytes, so both ends are char boundaries.
            out.push_str(&self.text[start..self.pos]);
            let Some(&b) = self.bytes.get(self.pos) else {
                return Err(self.error("EOF while parsing a string"));
            };
            self.pos += 1;
            match b {
                b'"' => return Ok(out),
                b'\\' => self.escape(&mut out)?,
                _ => return Err(self.error("control character (\\u0000-\\u001F) found while parsing a string")),
            }
        }
    }

    fn escape(&mut self, out: &mut String) -> Result<(), String> {
        let Some(&b) = self.bytes.get(self.pos) else {
            return Err(self.error("EOF while parsing a string"));
        };
        self.pos += 1;
        let c = match b {
            b'"' => '"',
            b'\\' => '\\',
            b'/' => '/',
            b'b' => '\u{8}',
            b'f' => '\u{c}',
            b'n' => '\n',
            b'r' => '\r',
            b't' => '\t',
            b'u' => {
                let first = self.hex4()?;
                let code = match first {
                    0xD800..=0xDBFF => {
                        if self.bytes.get(self.pos..self.pos + 2) != Some(b"\\u") {
                            return Err(self.error("lone leading surrogate in hex escape"));
                        }
                        self.pos += 2;
                        let second = self.hex4()?;
                        if !(0xDC00..=0xDFFF).contains(&second) {
                            return Err(self.error("lone leading surrogate in hex escape"));
                        }
                        0x10000 + ((first - 0xD800) << 10) + (second - 0xDC00)
                    }
                    0xDC00..=0xDFFF => return Err(self.error("lone trailing surrogate in hex escape")),
                    _ => first,
                };
                char::from_u32(code).ok_or_else(|| self.error("invalid unicode code point"))?
            }
            _ => return Err(self.error("invalid escape")),
        };
        out.push(c);
        Ok(())
    }

    fn hex4(&mut self) -> Result<u32, String> {
        let mut n = 0;
        for _ in 0..4 {
            let Some(&b) = self.bytes.get(self.pos) else {
                return Err(self.error("EOF while parsing a string"));
            };
            self.pos += 1;
            let digit = (b as char).to_digit(16).ok_or_else(|| self.error("invalid escape"))?;
            n = n * 16 + digit;
        }
        Ok(n)
    }

    fn digits(&mut self) -> usize {
        let start = self.pos;
        while self.bytes.get(self.pos).is_some_and(u8::is_ascii_digit) {
            self.pos += 1;
        }
        self.pos - start
    }

    fn number(&mut self) -> Result<Json, String> {
        let start = self.pos;
        if self.bytes[self.pos] == b'-' {
            self.pos += 1;
        }
        let int_start = self.pos;
        match self.digits() {
            0 => return Err(self.error(if self.pos < self.bytes.len() { "invalid number" } else { "EOF while parsing a value" })),
            n if n > 1 && self.bytes[int_start] == b'0' => return Err(self.error("invalid number")),
            _ => {}
        }
        let mut integer = true;
        if self.bytes.get(self.pos) == Some(&b'.') {
            self.pos += 1;
            integer = false;
            if self.digits() == 0 {
                return Err(self.error("invalid number"));
            }
        }
        if let Some(b'e' | b'E') = self.bytes.get(self.pos) {
            self.pos += 1;
            integer = false;
            if let Some(b'+' | b'-') = self.bytes.get(self.pos) {
                self.pos += 1;
            }
            if self.digits() == 0 {
                return Err(self.error("invalid number"));
            }
        }
        let text = &self.text[start..self.pos];
        if integer {
            // `-0` is the integer 0 here, as realm-web's EJSON reads it (serde_json: the double -0.0).
            if let Ok(n) = text.parse::<i64>() {
                return Ok(Json::Int(n));
            }
        }
        match crate::float::parse(text) {
            Some(n) if n.is_finite() => Ok(Json::Float(n)),
            _ => Err(self.error("number out of range")),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn scalars_and_numbers() {
        assert_eq!(parse(" null "), Ok(Json::Null));
        assert_eq!(parse("true"), Ok(Json::Bool(true)));
        assert_eq!(parse("-0"), Ok(Json::Int(0)));
        assert_eq!(parse("-0.0"), Ok(Json::Float(-0.0)));
        assert_eq!(parse("9223372036854775807"), Ok(Json::Int(i64::MAX)));
        assert_eq!(parse("18446744073709551615"), Ok(Json::Float(18446744073709551615.0)));
        assert_eq!(parse("1.5e-7"), Ok(Json::Float(1.5e-7)));
        assert_eq!(parse("1E2"), Ok(Json::Float(100.0)));
        assert_eq!(parse(r#""a\"\\\/\b\f\n\r\t\u00e9\ud83d\ude00""#), Ok(Json::String("a\"\\/\u{8}\u{c}\n\r\té😀".into())));
    }

    #[test]
    fn objects_keep_order_and_the_last_repeated_value() {
        let v = parse(r#"{"b":1,"a":[],"b":{"c":null}}"#).unwrap();
        assert_eq!(
            v,
            Json::Object(vec![("b".into(), Json::Object(vec![("c".into(), Json::Null)])), ("a".into(), Json::Array(vec![]))])
        );
        assert_eq!(v.get("a"), Some(&Json::Array(vec![])));
    }

    #[test]
    fn rejects_what_serde_json_rejects() {
        for bad in [
            "", " ", "{", "[1,]", r#"{"a":1,}"#, "01", "1.", ".5", "1e", "+1", "-", "1e400", "-1e400", "nul", "tru",
            "[1 2]", r#"{"a" 1}"#, "{1:2}", r#""\x""#, r#""\ud800""#, r#""\udc00""#, r#""\ud800\u0041""#, "\"a\u{1}\"",
            "\"abc", "1 2", "NaN", "[", "[1", r#"{"a":"#,
        ] {
            assert!(parse(bad).is_err(), "{bad:?}");
        }
        assert!(parse(&("[".repeat(127) + &"]".repeat(127))).is_ok());
        assert_eq!(parse(&("[".repeat(128) + &"]".repeat(128))).unwrap_err(), "recursion limit exceeded at line 1 column 128");
    }

    /// serde_json's value, in our model (objects as key-sorted maps: serde_json without
    /// `preserve_order` sorts them; a repeated key keeps its last value in both).
    fn same(ours: &Json, theirs: &serde_json::Value) -> bool {
        use serde_json::Value as V;
        match (ours, theirs) {
            (Json::Null, V::Null) => true,
            (Json::Bool(a), V::Bool(b)) => a == b,
            (Json::Int(a), V::Number(b)) => b.as_i64() == Some(*a) || (*a == 0 && b.as_f64() == Some(0.0)), // `-0`
            // Ours rounds correctly (str::parse); serde_json without `float_roundtrip` may be one
            // unit in the last place off.
            (Json::Float(a), V::Number(b)) => {
                !b.is_i64() && b.as_f64().is_some_and(|b| a.to_bits().abs_diff(b.to_bits()) <= 1 && a.is_sign_negative() == b.is_sign_negative())
            }
            (Json::String(a), V::String(b)) => a == b,
            (Json::Array(a), V::Array(b)) => a.len() == b.len() && a.iter().zip(b).all(|(a, b)| same(a, b)),
            (Json::Object(a), V::Object(b)) => {
                let mut keys: Vec<&String> = a.iter().map(|(k, _)| k).collect();
                keys.sort();
                keys.len() == b.len()
                    && keys.iter().zip(b.keys()).all(|(a, b)| *a == b)
                    && a.iter().all(|(k, v)| same(v, &b[k.as_str()]))
            }
            _ => false,
        }
    }

    #[test]
    fn agrees_with_serde_json_on_generated_inputs() {
        // Texts glued from JSON fragments, good and bad, by a fixed xorshift sequence: each must be
        // accepted or refused as serde_json does, give the same value (but for `-0`, see `number`),
        // and never panic.
        const PIECES: &[&str] = &[
            "{", "}", "[", "]", ",", ":", " ", "\n", "\"a\"", "\"b\"", "\"\\u00e9\"", "\"\\ud83d\\ude00\"", "\"\\ud800\"",
            "\"é€😀\"", "\"\\n\\\"\"", "\"", "\\", "0", "-0", "7", "-12", "1.5", "1e3", "-2.5E-3", "01", "1.",
            "9223372036854775808", "18446744073709551616", "1e309", "true", "false", "null", "nul", "é", "\u{0}", "\t",
        ];
        let mut state = 0x2545_f491_4f6c_dd1d_u64;
        let mut next = move || {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            state
        };
        let (mut accepted, mut refused) = (0, 0);
        for _ in 0..200_000 {
            let len = 1 + next() % 12;
            let text: String = (0..len).map(|_| PIECES[(next() % PIECES.len() as u64) as usize]).collect();
            match (parse(&text), serde_json::from_str::<serde_json::Value>(&text)) {
                (Ok(ours), Ok(theirs)) => {
                    assert!(same(&ours, &theirs), "{text:?}: {ours:?} vs {theirs:?}");
                    accepted += 1;
                }
                (Err(_), Err(_)) => refused += 1,
                (ours, theirs) => panic!("{text:?}: ours {ours:?}, serde_json {theirs:?}"),
            }
        }
        assert!(accepted > 1_000 && refused > 1_000, "{accepted} accepted, {refused} refused");
    }

    #[test]
    fn error_positions() {
        assert_eq!(parse("").unwrap_err(), "EOF while parsing a value at line 1 column 0");
        assert_eq!(parse("{").unwrap_err(), "EOF while parsing an object at line 1 column 1");
        assert_eq!(parse("[1,\n x]").unwrap_err(), "expected value at line 2 column 2");
        assert_eq!(parse("{} x").unwrap_err(), "trailing characters at line 1 column 3");
    }
}
