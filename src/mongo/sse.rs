//! Server-sent events as App Services' change streams send them (protocol §11): a streaming
//! line parser and the decoding of one event into a change event or a watch error.

use crate::ejson::{self, Value};
use crate::error::{Error, Result};

/// One dispatched event: its type (`""` when none was given) and its data lines joined by LF.
#[derive(Debug, Clone, PartialEq)]
pub struct SseEvent {
    /// The `event:` field.
    pub event: String,
    /// The `data:` fields.
    pub data: String,
}

/// Splits a byte stream into events; chunks may end anywhere, even inside a UTF-8 character.
#[derive(Debug, Default)]
pub struct SseParser {
    line: Vec<u8>,
    event: String,
    data: String,
    has_data: bool,
}

impl SseParser {
    /// Feeds a chunk; returns the events it completed.
    pub fn push(&mut self, chunk: &[u8]) -> Vec<SseEvent> {
        let mut events = Vec::new();
        for &byte in chunk {
            if byte == b'\n' {
                let mut line = std::mem::take(&mut self.line);
                if line.last() == Some(&b'\r') {
                    line.pop();
                }
                if let Some(event) = self.line_done(&String::from_utf8_lossy(&line)) {
                    events.push(event);
                }
            } else {
                self.line.push(byte);
            }
        }
        events
    }

    /// True when a partial line or an undispatched event is buffered (a cut-off stream).
    pub fn is_mid_event(&self) -> bool {
        !self.line.is_empty() || self.has_data
    }

    fn line_done(&mut self, line: &str) -> Option<SseEvent> {
        if line.is_empty() {
            let event = std::mem::take(&mut self.event);
            if !self.has_data {
                return None;
            }
            self.has_data = false;
            let mut data = std::mem::take(&mut self.data);
            if data.ends_with('\n') {
                data.pop();
            }
            return Some(SseEvent { event, data });
        }
        if line.starts_with(':') {
            return None;
        }
        let (field, value) = line.split_once(':')?;
        let value = value.strip_prefix(' ').unwrap_or(value);
        match field {
            "event" => self.event = value.to_owned(),
            "data" => {
                self.data.push_str(value);
                self.data.push('\n');
                self.has_data = true;
            }
            _ => {}
        }
        None
    }
}

/// `%25` → `%`, `%0A` → LF, `%0D` → CR; any other `%` sequence is kept as is.
pub fn unescape(data: &str) -> String {
    let mut out = String::with_capacity(data.len());
    let mut rest = data;
    while let Some(i) = rest.find('%') {
        out.push_str(&rest[..i]);
        let tail = &rest[i..];
        let replacement = match tail.get(1..3) {
            Some("25") => Some('%'),
            Some("0A") | Some("0a") => Some('\n'),
            Some("0D") | Some("0d") => Some('\r'),
            _ => None,
        };
        match replacement {
            Some(c) => {
                out.push(c);
                rest = &tail[3..];
            }
            None => {
                out.push('%');
                rest = &tail[1..];
            }
        }
    }
    out.push_str(rest);
    out
}

/// Turns an event into a change event (`Ok(Some)`), nothing (`Ok(None)`, other event types) or
/// a watch error (§11 steps 6–9).
pub fn decode(event: &SseEvent) -> Result<Option<Value>> {
    let data = unescape(&event.data);
    match event.event.as_str() {
        "" | "message" => match ejson::parse(&data) {
            Ok(v @ (Value::Document(_) | Value::Array(_))) => Ok(Some(v)),
            _ => Err(Error::Watch {
                code: "bad bson parse".to_owned(),
                message: format!("server returned malformed event: {data}"),
            }),
        },
        "error" => {
            let parsed = ejson::parse(&data).ok();
            let field = |k: &str| parsed.as_ref().and_then(Value::as_document).and_then(|d| d.get(k)).and_then(Value::as_str);
            match (field("error_code"), field("error")) {
                (Some(code), Some(message)) => Err(Error::Watch { code: code.to_owned(), message: message.to_owned() }),
                _ => Err(Error::Watch { code: "unknown".to_owned(), message: data }),
            }
        }
        _ => Ok(None),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ev(event: &str, data: &str) -> SseEvent {
        SseEvent { event: event.into(), data: data.into() }
    }

    #[test]
    fn lines_comments_fields_and_dispatch() {
        let mut p = SseParser::default();
        let stream = ":\n\ndata: {\"a\":1}\n\nevent: error\r\ndata:x\r\ndata: y\r\n\r\nid: 5\nretry: 1\nnocolon\n\n";
        assert_eq!(p.push(stream.as_bytes()), vec![ev("", "{\"a\":1}"), ev("error", "x\ny")]);
        assert!(!p.is_mid_event());
        // The event type is reset after each dispatch, also when no data was collected.
        assert_eq!(p.push(b"event: x\n\ndata: 1\n\n"), vec![ev("", "1")]);
    }

    #[test]
    fn chunks_split_anywhere_even_inside_characters() {
        let stream = "data: {\"s\":\"h\u{e9}llo \u{1f600}\"}\n\n".as_bytes();
        for split in 0..stream.len() {
            let mut p = SseParser::default();
            let mut events = p.push(&stream[..split]);
            events.extend(p.push(&stream[split..]));
            assert_eq!(events, vec![ev("", "{\"s\":\"h\u{e9}llo \u{1f600}\"}")], "split at {split}");
        }
    }

    #[test]
    fn cr_only_line_endings_do_not_dispatch_and_leave_the_parser_mid_event() {
        let mut p = SseParser::default();
        assert!(p.push(b"data: 1\r\r").is_empty());
        assert!(p.is_mid_event());
        let mut q = SseParser::default();
        q.push(b"data: 1\n");
        assert!(q.is_mid_event());
    }

    #[test]
    fn percent_unescaping() {
        assert_eq!(unescape("a%25b%0Ac%0Dd"), "a%b\nc\rd");
        assert_eq!(unescape("%41%2"), "%41%2");
        assert_eq!(unescape("100%"), "100%");
        assert_eq!(unescape("%%25"), "%%");
    }

    #[test]
    fn decoding_events() {
        let change = decode(&ev("", r#"{"operationType":"insert","n":{"$numberLong":"5"},"s":"50%25"}"#)).unwrap().unwrap();
        let d = change.as_document().unwrap();
        assert_eq!(d.get("n"), Some(&Value::Int64(5)));
        assert_eq!(d.get("s"), Some(&Value::from("50%")));
        assert!(decode(&ev("message", "[1]")).unwrap().is_some());
        assert_eq!(decode(&ev("other", "x")).unwrap(), None);
        assert_eq!(
            decode(&ev("", "5")).unwrap_err(),
            Error::Watch { code: "bad bson parse".into(), message: "server returned malformed event: 5".into() }
        );
        assert_eq!(
            decode(&ev("error", r#"{"error":"boom","error_code":"MongoDBError"}"#)).unwrap_err(),
            Error::Watch { code: "MongoDBError".into(), message: "boom".into() }
        );
        assert_eq!(decode(&ev("error", "raw")).unwrap_err(), Error::Watch { code: "unknown".into(), message: "raw".into() });
    }
}
