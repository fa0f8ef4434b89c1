//! Extractors: EJSON request bodies and bearer tokens, rejecting into `ApiError`.

use super::error::ApiError;
use super::AppState;
use crate::auth::AccessClaims;
use axum::body::Bytes;
use axum::extract::{ConnectInfo, FromRequest, FromRequestParts, Request};
use axum::http::request::Parts;
use axum::http::{header, HeaderMap, StatusCode};
use std::net::{IpAddr, SocketAddr};
use bson::{Bson, Document};

/// A JSON object body decoded from (canonical or relaxed) extended JSON.
pub struct EjsonBody(pub Document);

impl FromRequest<AppState> for EjsonBody {
    type Rejection = ApiError;

    async fn from_request(req: Request, state: &AppState) -> Result<Self, Self::Rejection> {
        // The whole body within --body-timeout: a client trickling bytes does not hold a slot.
        let limit = state.settings.limits.body_timeout;
        let read = tokio::time::timeout(limit, Bytes::from_request(req, state))
            .await
            .map_err(|_| ApiError::new(StatusCode::REQUEST_TIMEOUT, "RequestTimeout", format!("the request body did not arrive within {} s", limit.as_secs())))?;
        let bytes = read.map_err(|rejection| {
            let status = rejection.status();
            if status == StatusCode::PAYLOAD_TOO_LARGE {
                ApiError::new(status, "BadRequest", "request body too large")
            } else {
                ApiError::bad_request(format!("failed to read request body: {rejection}"))
            }
        })?;
        parse_ejson_object(&bytes).map(EjsonBody)
    }
}

/// Parses bytes as a JSON object in extended JSON.
pub fn parse_ejson_object(bytes: &[u8]) -> Result<Document, ApiError> {
    if bytes.iter().all(|b| b.is_ascii_whitespace()) {
        return Err(ApiError::bad_request("expected a JSON object body, got an empty body"));
    }
    let mut value: serde_json::Value =
        serde_json::from_slice(bytes).map_err(|e| ApiError::bad_request(format!("invalid JSON body: {e}")))?;
    if DOUBLE_ENCODED.is_match(bytes) {
        unwrap_double_encoded(&mut value);
    }
    if !value.is_object() {
        return Err(ApiError::bad_request("expected the JSON body to be an object"));
    }
    match Bson::try_from(value) {
        Ok(Bson::Document(d)) => Ok(d),
        Ok(other) => Err(ApiError::bad_request(format!("expected an object, got {other}"))),
        Err(e) => Err(ApiError::bad_request(format!("invalid extended JSON: {e}"))),
    }
}

/// Wrappers realm-web encodes twice (below); most bodies have none, and are not walked.
static DOUBLE_ENCODED: std::sync::LazyLock<regex::bytes::Regex> =
    std::sync::LazyLock::new(|| regex::bytes::Regex::new(r#""\$(timestamp|minKey|maxKey)""#).expect("literal pattern"));

/// realm-web serializes each argument to extended JSON and then the whole body once more, so the
/// numbers inside `$timestamp`, `$minKey` and `$maxKey` arrive wrapped themselves
/// (`{"$timestamp": {"t": {"$numberInt": "1"}, …}}`, `{"$minKey": {"$numberInt": "1"}}`); they are
/// unwrapped back to the canonical form.
fn unwrap_double_encoded(v: &mut serde_json::Value) {
    use serde_json::Value;
    let number = |w: &Value| -> Option<Value> {
        let o = w.as_object().filter(|o| o.len() == 1)?;
        let text = o.get("$numberInt").or_else(|| o.get("$numberLong"))?.as_str()?;
        text.parse::<u64>().ok().map(Value::from)
    };
    match v {
        Value::Object(o) if o.len() == 1 && o.contains_key("$timestamp") => {
            if let Some(Value::Object(ts)) = o.get_mut("$timestamp") {
                for key in ["t", "i"] {
                    if let Some(n) = ts.get(key).and_then(number) {
                        ts.insert(key.to_string(), n);
                    }
                }
            }
        }
        Value::Object(o) if o.len() == 1 && (o.contains_key("$minKey") || o.contains_key("$maxKey")) => {
            for w in o.values_mut() {
                if let Some(n) = number(w) {
                    *w = n;
                }
            }
        }
        Value::Object(o) => o.values_mut().for_each(unwrap_double_encoded),
        Value::Array(a) => a.iter_mut().for_each(unwrap_double_encoded),
        _ => {}
    }
}

/// The raw bearer token of the `Authorization` header.
pub struct BearerToken(pub String);

impl<S: Send + Sync> FromRequestParts<S> for BearerToken {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, _state: &S) -> Result<Self, Self::Rejection> {
        bearer_token(&parts.headers).map(BearerToken)
    }
}

/// The caller's address (absent when the server was not started with connect info).
pub struct ClientIp(pub Option<IpAddr>);

impl<S: Send + Sync> FromRequestParts<S> for ClientIp {
    type Rejection = std::convert::Infallible;

    async fn from_request_parts(parts: &mut Parts, _state: &S) -> Result<Self, Self::Rejection> {
        Ok(ClientIp(parts.extensions.get::<ConnectInfo<SocketAddr>>().map(|c| c.0.ip())))
    }
}

/// The bearer token of `headers`, or 401 InvalidSession.
pub fn bearer_token(headers: &HeaderMap) -> Result<String, ApiError> {
    let value = headers
        .get(header::AUTHORIZATION)
        .ok_or_else(|| ApiError::invalid_session("missing Authorization header"))?;
    let value = value
        .to_str()
        .map_err(|_| ApiError::invalid_session("malformed Authorization header"))?;
    let token = value
        .strip_prefix("Bearer ")
        .or_else(|| value.strip_prefix("bearer "))
        .map(str::trim)
        .filter(|t| !t.is_empty() && *t != "null" && *t != "undefined")
        .ok_or_else(|| ApiError::invalid_session("expected 'Authorization: Bearer <token>'"))?;
    Ok(token.to_string())
}

/// A streaming caller (`GET …/functions/call`), authenticated by a valid access token from the
/// `Authorization` header or, for clients that cannot set headers on a stream (EventSource),
/// the `baas_at` query parameter; the token is kept so the stream can check it again.
pub struct StreamUser {
    /// The token's claims.
    pub claims: AccessClaims,
    /// The token.
    pub token: String,
}

impl FromRequestParts<AppState> for StreamUser {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, Self::Rejection> {
        let token = match bearer_token(&parts.headers) {
            Ok(t) => t,
            Err(missing) if parts.headers.get(header::AUTHORIZATION).is_none() => {
                let query = axum::extract::Query::<TokenQuery>::try_from_uri(&parts.uri).map_err(|e| ApiError::bad_request(e.body_text()))?;
                query.0.baas_at.filter(|t| !t.is_empty()).ok_or(missing)?
            }
            Err(malformed) => return Err(malformed),
        };
        let claims = state.auth.verify_access_token(&token)?;
        Ok(StreamUser { claims, token })
    }
}

#[derive(serde::Deserialize)]
struct TokenQuery {
    baas_at: Option<String>,
}

/// A caller authenticated by a valid access token.
pub struct AuthUser(pub AccessClaims);

impl FromRequestParts<AppState> for AuthUser {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, Self::Rejection> {
        let BearerToken(token) = BearerToken::from_request_parts(parts, state).await?;
        // Verification is a signature check plus one cached redb read: cheaper inline than a
        // blocking-pool hop (which cost ~75 µs of CPU per request in bench/server.mjs).
        let claims = state.auth.verify_access_token(&token)?;
        Ok(AuthUser(claims))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// What realm-web 2.0.1 sends for a Timestamp, MinKey and MaxKey (captured) decodes to them.
    #[test]
    fn realm_webs_double_encoded_wrappers_decode() {
        let body = br#"{"a":[{"$timestamp":{"t":{"$numberInt":"1700000000"},"i":{"$numberInt":"3"}}},{"$minKey":{"$numberInt":"1"}},{"$maxKey":{"$numberInt":"1"}},{"n":{"$minKey":{"$numberInt":"1"}}}],"b":{"$timestamp":{"t":1,"i":2}}}"#;
        let d = parse_ejson_object(body).expect("parses");
        let a = d.get_array("a").expect("a");
        assert_eq!(a[0], Bson::Timestamp(bson::Timestamp { time: 1_700_000_000, increment: 3 }));
        assert_eq!((&a[1], &a[2]), (&Bson::MinKey, &Bson::MaxKey));
        assert_eq!(a[3], Bson::Document(bson::doc! {"n": Bson::MinKey}));
        assert_eq!(d.get("b"), Some(&Bson::Timestamp(bson::Timestamp { time: 1, increment: 2 })), "the canonical form still works");
        assert!(parse_ejson_object(br#"{"x":{"$numberInt":"5"},"s":"$timestamp"}"#).is_ok());
    }
}
