//! Helpers for the engine tests: anonymous users and watch streams read as SSE.

#![allow(dead_code)]

use super::common::*;
use base64::Engine;
use serde_json::{json, Value};

/// Logs in a fresh anonymous user.
pub async fn anonymous(s: &Server, c: &reqwest::Client) -> Session {
    let (st, r) = post(c, &s.app_url("/auth/providers/anon-user/login"), None, &json!({})).await;
    assert_eq!(st, 200, "anonymous login: {r}");
    let field = |k: &str| r[k].as_str().unwrap_or_else(|| panic!("{k} missing")).to_string();
    Session { user_id: field("user_id"), access_token: field("access_token"), refresh_token: field("refresh_token"), device_id: field("device_id") }
}

/// An open watch stream.
pub struct Watch {
    resp: reqwest::Response,
    buf: String,
}

/// The streaming request URL for `watch` with `arg` (as realm-web builds it).
pub fn watch_url(s: &Server, arg: &Value) -> String {
    let body = json!({"name": "watch", "arguments": [arg], "service": "mongodb-atlas"}).to_string();
    let b64 = base64::engine::general_purpose::STANDARD.encode(body);
    let enc: String = b64.chars().map(|ch| match ch {
        '+' => "%2B".to_string(),
        '/' => "%2F".to_string(),
        '=' => "%3D".to_string(),
        c => c.to_string(),
    }).collect();
    s.app_url(&format!("/functions/call?baas_request={enc}"))
}

impl Watch {
    /// Opens a watch and waits for the opening comment (so later writes are seen).
    pub async fn open(s: &Server, c: &reqwest::Client, at: &str, arg: Value) -> Watch {
        let resp = c.get(watch_url(s, &arg)).bearer_auth(at).header("accept", "text/event-stream").send().await.expect("watch");
        assert_eq!(resp.status().as_u16(), 200, "watch status");
        let mut w = Watch { resp, buf: String::new() };
        let first = w.next_block().await.expect("opening comment");
        assert!(first.starts_with(':'), "first block {first:?}");
        w
    }

    /// The next SSE block (text up to a blank line), or None when the stream ends.
    async fn next_block(&mut self) -> Option<String> {
        loop {
            if let Some(i) = self.buf.find("\n\n") {
                let block = self.buf[..i].to_string();
                self.buf.drain(..i + 2);
                return Some(block);
            }
            let chunk = self.resp.chunk().await.expect("chunk")?;
            self.buf.push_str(std::str::from_utf8(&chunk).expect("utf-8"));
        }
    }

    /// The next event as (event type, un-escaped data), skipping comments.
    pub async fn next_event(&mut self) -> Option<(String, Value)> {
        loop {
            let block = self.next_block().await?;
            let mut kind = "message".to_string();
            let mut data = Vec::new();
            for line in block.lines() {
                if let Some(v) = line.strip_prefix("event: ") {
                    kind = v.to_string();
                } else if let Some(v) = line.strip_prefix("data: ") {
                    data.push(v.to_string());
                }
            }
            if data.is_empty() {
                continue;
            }
            let raw = data.join("\n").replace("%0A", "\n").replace("%0D", "\r").replace("%25", "%");
            return Some((kind, serde_json::from_str(&raw).expect("event JSON")));
        }
    }
}
