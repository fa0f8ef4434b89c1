//! `GET …/functions/call?baas_request=…`: the streaming function call (protocol §6.3) serving
//! `watch` as server-sent events (§11). A watch lives as long as its access token: when the token
//! expires or its session ends (logout, revoke, disable, delete…) the stream sends an
//! `InvalidSession` error event and closes.

use super::error::ApiError;
use super::extract::{parse_ejson_object, StreamUser};
use super::AppState;
use crate::auth::Auth;
use crate::service::{ChangeStream, ServiceError, StreamItem};
use axum::body::{Body, Bytes};
use axum::extract::{Query, State};
use axum::http::header;
use axum::response::{IntoResponse, Response};
use base64::Engine;
use bson::{Bson, Document};
use std::sync::Arc;
use std::time::Duration;

/// Silence after which a `:` comment is sent (Node's fetch drops bodies idle for 300 s).
pub const KEEP_ALIVE: Duration = Duration::from_secs(20);

#[derive(serde::Deserialize)]
pub(super) struct StreamQuery {
    baas_request: Option<String>,
}

fn decode_request(raw: &str) -> Result<Document, ApiError> {
    let bytes = base64::engine::general_purpose::STANDARD
        .decode(raw.trim())
        .or_else(|_| base64::engine::general_purpose::URL_SAFE_NO_PAD.decode(raw.trim().trim_end_matches('=')))
        .map_err(|e| ApiError::bad_request(format!("baas_request is not base64: {e}")))?;
    parse_ejson_object(&bytes)
}

pub(super) async fn call_function_streaming(
    State(state): State<AppState>,
    Query(query): Query<StreamQuery>,
    user: StreamUser,
) -> Result<Response, ApiError> {
    // Subscribed right after the check, so a revocation after it is not missed (the check is
    // repeated whenever a revocation happens).
    let revocations = state.auth.revocations();
    let request = decode_request(query.baas_request.as_deref().ok_or_else(|| ApiError::bad_request("'baas_request' is required"))?)?;
    let name = request.get_str("name").map_err(|_| ApiError::bad_request("'name' must be a string"))?;
    let service = match request.get("service") {
        Some(Bson::String(s)) => s.clone(),
        _ => return Err(super::user_function_streaming(&state, name)),
    };
    let (with_profile, with_custom_data) = state.engine.rules(&service)?.needs();
    if name != "watch" {
        return Err(ServiceError::FunctionNotFound(format!("{name}' (only watch streams)")).into());
    }
    let arguments = match request.get("arguments") {
        Some(Bson::Array(a)) => a.clone(),
        None => Vec::new(),
        Some(_) => return Err(ApiError::bad_request("'arguments' must be an array")),
    };
    let caller = state.auth.rule_context(&user.claims, with_profile, with_custom_data)?;
    let changes = state.engine.watch(caller, &service, &arguments).await?;
    let session = Session { expires: state.auth.sleep_until(user.claims.exp), auth: state.auth.clone(), token: user.token, revocations };
    let sse = Sse { changes, session, opened: false, done: false };
    let body = Body::from_stream(futures_util::stream::unfold(sse, |mut s| async move {
        let chunk = s.next_chunk().await?;
        Some((Ok::<Bytes, std::convert::Infallible>(Bytes::from(chunk)), s))
    }));
    Ok(([(header::CONTENT_TYPE, "text/event-stream"), (header::CACHE_CONTROL, "no-cache")], body).into_response())
}

/// The access token a watch was opened with, and what can end it.
struct Session {
    auth: Arc<Auth>,
    token: String,
    /// Changes when any session ends: the token is checked again.
    revocations: tokio::sync::watch::Receiver<u64>,
    /// Resolves at the token's expiry.
    expires: std::pin::Pin<Box<dyn std::future::Future<Output = ()> + Send>>,
}

impl Session {
    /// Waits until the token stops being valid; returns the error message saying why.
    async fn ended(&mut self) -> String {
        loop {
            tokio::select! {
                changed = self.revocations.changed() => {
                    if changed.is_err() {
                        return "invalid session: the server is shutting down".into();
                    }
                }
                () = &mut self.expires => {}
            }
            match self.auth.verify_access_token(&self.token) {
                Ok(claims) => self.expires = self.auth.sleep_until(claims.exp),
                Err(e) => return e.to_string(),
            }
        }
    }
}

/// A change stream as server-sent events: an opening comment, the events, a `:` comment after
/// `KEEP_ALIVE` of silence, and an `error` event when the stream cannot go on.
struct Sse {
    changes: ChangeStream,
    session: Session,
    opened: bool,
    done: bool,
}

impl Sse {
    /// The next SSE chunk, or `None` at the end.
    async fn next_chunk(&mut self) -> Option<String> {
        if self.done {
            return None;
        }
        if !self.opened {
            self.opened = true;
            return Some(":\n\n".into());
        }
        // `biased`: a session that ended wins over events still waiting to be sent.
        let item = tokio::select! {
            biased;
            why = self.session.ended() => {
                self.done = true;
                return Some(sse_error("InvalidSession", &why));
            }
            item = self.changes.next(KEEP_ALIVE) => item,
        };
        Some(match item {
            StreamItem::Change(change) => sse_data(&change),
            StreamItem::Idle => ":\n\n".into(),
            StreamItem::Lost(why) => {
                self.done = true;
                sse_error("ChangeStreamHistoryLost", &why)
            }
        })
    }
}

/// One SSE `data` event, percent-escaped as realm-web's parser expects (`%` → `%25`, LF, CR).
fn sse_data(event: &Document) -> String {
    let json = Bson::Document(event.clone()).into_relaxed_extjson().to_string();
    format!("data: {}\n\n", escape(&json))
}

/// One SSE `error` event.
fn sse_error(code: &str, message: &str) -> String {
    let json = serde_json::json!({"error": message, "error_code": code}).to_string();
    format!("event: error\ndata: {}\n\n", escape(&json))
}

fn escape(s: &str) -> String {
    s.replace('%', "%25").replace('\n', "%0A").replace('\r', "%0D")
}

#[cfg(test)]
mod tests {
    use super::*;
    use bson::doc;

    #[test]
    fn sse_escaping() {
        let line = sse_data(&doc! {"s": "100%\nx"});
        assert_eq!(line, "data: {\"s\":\"100%25\\nx\"}\n\n");
        assert!(sse_error("E", "bad %").starts_with("event: error\ndata: {"));
    }
}
