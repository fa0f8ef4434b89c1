//! `GET …/functions/call?baas_request=…`: the streaming function call (protocol §6.3) serving
//! `watch` as server-sent events (§11), plus the caller's rule context. A watch lives as long as
//! its access token: when the token expires or its session ends (logout, revoke, disable, delete…)
//! the stream sends an `InvalidSession` error event and closes.

use super::error::ApiError;
use super::extract::parse_ejson_object;
use super::AppState;
use crate::auth::{AccessClaims, Auth};
use crate::rules::UserContext;
use crate::service::WatchSpec;
use crate::watch::{sse_data, sse_error, ChangeLog};
use axum::body::{Body, Bytes};
use axum::extract::{Path, Query, State};
use axum::http::{header, HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use base64::Engine;
use bson::{Bson, Document};
use std::collections::VecDeque;
use std::sync::Arc;
use std::time::Duration;

/// Silence after which a `:` comment is sent (Node's fetch drops bodies idle for 300 s).
pub const KEEP_ALIVE: Duration = Duration::from_secs(20);

#[derive(serde::Deserialize)]
pub(super) struct StreamQuery {
    baas_request: Option<String>,
    baas_at: Option<String>,
}

/// The rule context of the caller: custom data and profile are fetched only if the rules use them.
pub(super) async fn user_context(state: &AppState, service: &str, claims: &AccessClaims) -> Result<UserContext, ApiError> {
    let rules = state.engine.rules(service)?;
    let json_doc = |v: Option<&serde_json::Value>| match v.cloned().map(Bson::try_from) {
        Some(Ok(Bson::Document(d))) => d,
        _ => Document::new(),
    };
    let custom_data = if rules.needs_custom_data() { json_doc(claims.user_data.as_ref()) } else { Document::new() };
    let (data, identities) = if rules.needs_profile() {
        // One redb read: cheaper inline than a blocking-pool hop (as for the token check).
        let profile = state.auth.profile(&claims.sub)?;
        let identities = match profile.get("identities").cloned().map(Bson::try_from) {
            Some(Ok(Bson::Array(a))) => a,
            _ => Vec::new(),
        };
        (json_doc(profile.get("data")), identities)
    } else {
        (Document::new(), Vec::new())
    };
    Ok(UserContext::new(&claims.sub, data, custom_data, identities))
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
    Path(app_id): Path<String>,
    Query(query): Query<StreamQuery>,
    headers: HeaderMap,
) -> Result<Response, ApiError> {
    super::check_app(&state, &app_id)?;
    let token = match (headers.get(header::AUTHORIZATION).and_then(|v| v.to_str().ok()), &query.baas_at) {
        (Some(h), _) => h.strip_prefix("Bearer ").or_else(|| h.strip_prefix("bearer ")).unwrap_or(h).trim().to_string(),
        (None, Some(at)) => at.clone(),
        (None, None) => return Err(ApiError::invalid_session("missing Authorization header or baas_at")),
    };
    let auth = state.auth.clone();
    // Subscribed before the check, so a revocation right after it is not missed.
    let revocations = auth.revocations();
    let checked = token.clone();
    let claims = tokio::task::spawn_blocking(move || auth.verify_access_token(&checked)).await??;
    let request = decode_request(query.baas_request.as_deref().ok_or_else(|| ApiError::bad_request("'baas_request' is required"))?)?;
    let name = request.get_str("name").map_err(|_| ApiError::bad_request("'name' must be a string"))?;
    let service = match request.get("service") {
        Some(Bson::String(s)) => s.clone(),
        _ => return Err(super::user_function_streaming(&state, name)),
    };
    let rules = state.engine.rules(&service)?.clone();
    if name != "watch" {
        return Err(ApiError::new(StatusCode::NOT_FOUND, "FunctionNotFound", format!("streaming function not found: '{name}' (only watch streams)")));
    }
    let arguments = match request.get("arguments") {
        Some(Bson::Array(a)) => a.clone(),
        None => Vec::new(),
        Some(_) => return Err(ApiError::bad_request("'arguments' must be an array")),
    };
    let spec = WatchSpec::parse(&rules, &arguments)?;
    let start = match &spec.resume_after {
        Some(token) => state
            .changes
            .resume_point(token)
            .map_err(|e| ApiError::new(StatusCode::BAD_REQUEST, "ChangeStreamHistoryLost", e.to_string()))?,
        None => state.changes.head(),
    };
    let user = user_context(&state, &service, &claims).await?;
    // `%function` results are resolved once, when the stream opens.
    let user = state.engine.with_rule_functions(&service, &spec.ns.db, &spec.ns.coll, false, &user).await.unwrap_or(user);
    let session = Session { expires: state.auth.sleep_until(claims.exp), auth: state.auth.clone(), token, revocations };
    let watcher = Watcher {
        log: state.changes.clone(),
        rules,
        user,
        spec,
        session,
        cursor: start,
        queue: VecDeque::new(),
        opened: false,
        done: false,
    };
    let body = Body::from_stream(futures_util::stream::unfold(watcher, |mut w| async move {
        let chunk = w.next_chunk().await?;
        Some((Ok::<Bytes, std::convert::Infallible>(Bytes::from(chunk)), w))
    }));
    Ok((
        [(header::CONTENT_TYPE, "text/event-stream"), (header::CACHE_CONTROL, "no-cache")],
        body,
    )
        .into_response())
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

/// One watch stream's state.
struct Watcher {
    log: Arc<ChangeLog>,
    rules: Arc<crate::rules::RuleSet>,
    user: UserContext,
    spec: WatchSpec,
    session: Session,
    cursor: u64,
    queue: VecDeque<String>,
    opened: bool,
    done: bool,
}

impl Watcher {
    /// The next SSE chunk: a queued event, an opening/keep-alive comment, or `None` at the end.
    /// The error event that ends a stream whose session is over; nothing queued is sent after it.
    fn end_session(&mut self, why: &str) -> String {
        self.done = true;
        self.queue.clear();
        sse_error("InvalidSession", why)
    }

    async fn next_chunk(&mut self) -> Option<String> {
        if !self.opened {
            self.opened = true;
            return Some(":\n\n".into());
        }
        loop {
            if !self.done {
                // A stream that always has events to send checks its session here, without waiting.
                let ended = tokio::select! {
                    biased;
                    why = self.session.ended() => Some(why),
                    () = std::future::ready(()) => None,
                };
                if let Some(why) = ended {
                    return Some(self.end_session(&why));
                }
            }
            if let Some(c) = self.queue.pop_front() {
                return Some(c);
            }
            if self.done {
                return None;
            }
            let log = self.log.clone();
            let changed = log.changed();
            tokio::pin!(changed);
            changed.as_mut().enable();
            match self.log.after(self.cursor) {
                Err(e) => {
                    self.done = true;
                    return Some(sse_error("ChangeStreamHistoryLost", &e.to_string()));
                }
                Ok(events) if !events.is_empty() => {
                    for e in events {
                        self.cursor = e.seq;
                        if let Some(change) = self.spec.render(&self.rules, &self.user, &e) {
                            self.queue.push_back(sse_data(&change));
                        }
                    }
                }
                Ok(_) => {
                    tokio::select! {
                        () = changed => {}
                        () = tokio::time::sleep(KEEP_ALIVE) => return Some(":\n\n".into()),
                        why = self.session.ended() => return Some(self.end_session(&why)),
                    }
                }
            }
        }
    }
}
