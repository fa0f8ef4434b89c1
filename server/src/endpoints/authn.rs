//! Who may call an endpoint and who it runs as.
//!
//! - Validation (`validation_method`): `?secret=` equal to the secret, or `Endpoint-Signature:
//!   sha256=<hex HMAC-SHA256 of the raw body>`; compared in constant time, before anything costlier.
//! - Application authentication, in the documented order: `Authorization: Bearer <access token>`,
//!   else the credential headers `email` + `password`, `apiKey`, `jwtTokenString`. Credentials are
//!   checked without creating a session; valid credentials of nobody create the user only with
//!   `create_user_on_auth`.
//! - `can_evaluate`, with `%%user`, `%%request` and `%%values`.

use super::request::query_pairs;
use super::{EndpointError, Endpoints};
use crate::auth::{AccessClaims, AuthError};
use crate::config::Validation;
use crate::functions::{RequestInfo, UserInfo};
use crate::rules::{ExpressionInputs, UserContext};
use axum::http::{header, HeaderMap};
use bson::{doc, Bson, Document};
use hmac::{Hmac, Mac};
use sha2::{Digest, Sha256};
use std::net::IpAddr;
use subtle::ConstantTimeEq;

/// Checks the request's `?secret=` or `Endpoint-Signature` against the endpoint's secret.
pub(super) fn validate(validation: &Validation, query: Option<&str>, headers: &HeaderMap, body: &[u8]) -> Result<(), EndpointError> {
    match validation {
        Validation::None => Ok(()),
        Validation::SecretAsQueryParam(secret) => {
            let pairs = query_pairs(query);
            let given = pairs.iter().find(|(k, _)| k == "secret").map(|(_, v)| v.as_str());
            // Digests compared, so that neither the secret's content nor its length shows in the timing.
            let digest = |s: &str| Sha256::digest(s.as_bytes());
            match given {
                Some(v) if bool::from(digest(v).ct_eq(&digest(secret.expose()))) => Ok(()),
                Some(_) => Err(EndpointError::Unauthorized("the 'secret' query parameter does not match the endpoint's secret".into())),
                None => Err(EndpointError::Unauthorized("this endpoint requires the 'secret' query parameter (SECRET_AS_QUERY_PARAM)".into())),
            }
        }
        Validation::VerifyPayload(secret) => {
            let Some(value) = headers.get("endpoint-signature") else {
                return Err(EndpointError::Unauthorized("this endpoint requires an 'Endpoint-Signature: sha256=<hex HMAC-SHA256 of the body>' header (VERIFY_PAYLOAD)".into()));
            };
            // `curl -H "Endpoint-Signature::sha256=…"` (as the docs write it) sends the value with a leading ':'.
            let given = value.to_str().unwrap_or_default().trim().trim_start_matches(':').trim();
            let hex_given = given.strip_prefix("sha256=").unwrap_or(given).to_ascii_lowercase();
            let mut mac = Hmac::<Sha256>::new_from_slice(secret.expose().as_bytes()).map_err(|e| EndpointError::Unauthorized(e.to_string()))?;
            mac.update(body);
            let expected = hex::encode(mac.finalize().into_bytes());
            if bool::from(hex_given.as_bytes().ct_eq(expected.as_bytes())) {
                Ok(())
            } else {
                Err(EndpointError::Unauthorized("the Endpoint-Signature header does not match the request body signed with the endpoint's secret".into()))
            }
        }
    }
}

/// A caller found by application authentication.
pub(super) struct Caller {
    /// User id.
    pub id: String,
    /// The access token's claims, when a bearer token was used (they hold the custom data).
    pub claims: Option<AccessClaims>,
}

fn header_text<'a>(headers: &'a HeaderMap, name: &str) -> Result<Option<&'a str>, EndpointError> {
    match headers.get(name) {
        None => Ok(None),
        Some(v) => v.to_str().map(Some).map_err(|_| EndpointError::InvalidParameter(format!("the '{name}' header is not valid text"))),
    }
}

impl Endpoints {
    /// Application authentication from the request's headers.
    pub(super) async fn authenticate(&self, headers: &HeaderMap, client: Option<IpAddr>, create_user: bool) -> Result<Caller, EndpointError> {
        if let Some(value) = header_text(headers, header::AUTHORIZATION.as_str())? {
            let token = value.strip_prefix("Bearer ").or_else(|| value.strip_prefix("bearer ")).map(str::trim);
            if let Some(token) = token {
                // A signature check and one cached read: inline, as for the client API.
                let claims = self.auth.verify_access_token(token)?;
                return Ok(Caller { id: claims.sub.clone(), claims: Some(claims) });
            }
        }
        let (email, password) = (header_text(headers, "email")?, header_text(headers, "password")?);
        let (provider, credentials) = match (email, password, header_text(headers, "apikey")?, header_text(headers, "jwttokenstring")?) {
            (Some(email), Some(password), _, _) => ("local-userpass", doc! {"username": email, "password": password}),
            (Some(_), None, _, _) | (None, Some(_), _, _) => {
                return Err(EndpointError::MissingParameter("must specify some form of authentication (either email+password, api-key, or jwt) in the request header or body".into()))
            }
            (None, None, Some(key), _) => ("api-key", doc! {"key": key}),
            (None, None, None, Some(token)) => ("custom-token", doc! {"token": token}),
            (None, None, None, None) => return Err(EndpointError::InvalidParameter("no authentication methods were specified".into())),
        };
        let auth = self.auth.clone();
        // Password hashing and redb writes: off the async threads.
        let found = tokio::task::spawn_blocking(move || auth.authenticate(provider, &credentials, client, create_user))
            .await
            .map_err(|e| AuthError::Internal(format!("authentication task failed: {e}")))?;
        match found {
            Ok(id) => Ok(Caller { id, claims: None }),
            // Wrong credentials and credentials of nobody look the same to the caller.
            Err(AuthError::UserNotFound | AuthError::InvalidPassword | AuthError::AuthFailed(_) | AuthError::Unauthorized) => Err(EndpointError::UserNotFound),
            Err(e) => Err(e.into()),
        }
    }

    /// The caller as functions see them (`context.user`); custom data only when asked for.
    pub(super) async fn user_info(&self, id: &str, with_custom_data: bool) -> Result<UserInfo, EndpointError> {
        let (auth, id) = (self.auth.clone(), id.to_string());
        let info = tokio::task::spawn_blocking(move || -> Result<UserInfo, AuthError> {
            let profile = auth.profile(&id)?;
            let custom_data = if with_custom_data { auth.custom_data(&id)? } else { None };
            Ok(crate::host::user_info(&profile, custom_data.as_ref()))
        })
        .await
        .map_err(|e| AuthError::Internal(format!("user lookup failed: {e}")))?;
        info.map_err(|e| match e {
            AuthError::UserNotFound => EndpointError::UserNotFound,
            other => other.into(),
        })
    }

    /// The rule context of an authenticated caller of `service`: profile and custom data are read
    /// only when the service's rules use them (a bearer token carries the custom data).
    pub(super) async fn rule_context(&self, service: &str, caller: &Caller) -> Result<UserContext, EndpointError> {
        let rules = self.engine.rules(service)?;
        let (needs_profile, needs_custom_data) = (rules.needs_profile(), rules.needs_custom_data());
        // Only a profile read, or custom data that no token carries, needs the user's records.
        if !(needs_profile || needs_custom_data && caller.claims.is_none()) {
            let custom_data = match &caller.claims {
                Some(c) if needs_custom_data => json_doc(c.user_data.as_ref()),
                _ => Document::new(),
            };
            return Ok(UserContext::new(&caller.id, Document::new(), custom_data, Vec::new()));
        }
        let user = self.user_info(&caller.id, needs_custom_data && caller.claims.is_none()).await?;
        let mut context = crate::host::rule_context(&user);
        if let Some(claims) = caller.claims.as_ref().filter(|_| needs_custom_data) {
            context.custom_data = json_doc(claims.user_data.as_ref());
        }
        Ok(context)
    }

    /// Evaluates an endpoint's `can_evaluate`.
    pub(super) fn can_evaluate(&self, expression: Option<&Bson>, user: Option<&UserContext>, request: &RequestInfo) -> Result<(), EndpointError> {
        let Some(expression) = expression else { return Ok(()) };
        let request = request.to_document();
        let inputs = ExpressionInputs { user, args: &[], request: Some(&request), values: Some(&self.values) };
        if crate::rules::evaluate(expression, &inputs) {
            Ok(())
        } else {
            Err(EndpointError::NotPermitted("the endpoint's can_evaluate expression does not allow this request".into()))
        }
    }
}

fn json_doc(v: Option<&serde_json::Value>) -> Document {
    match v.cloned().map(Bson::try_from) {
        Some(Ok(Bson::Document(d))) => d,
        _ => Document::new(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use axum::http::HeaderValue;

    /// A validation of `method` with the secret "12345" (secrets are made by the config reader only).
    fn secret_validation(method: &str) -> Validation {
        let tmp = tempfile::tempdir().expect("tmp");
        std::fs::create_dir_all(tmp.path().join("https_endpoints")).expect("mkdir");
        std::fs::write(tmp.path().join("secrets.json"), r#"{"s": "12345"}"#).expect("write");
        let config = format!(r#"[{{"route": "/a", "http_method": "POST", "function_name": "f", "validation_method": "{method}", "secret_name": "s"}}]"#);
        std::fs::write(tmp.path().join("https_endpoints/config.json"), config).expect("write");
        crate::config::load_endpoints(tmp.path()).expect("load").custom[0].validation.clone()
    }

    #[test]
    fn secret_and_signature() {
        let none = HeaderMap::new();
        let query = |v: &str| format!("a=1&secret={v}");
        let by_query = secret_validation("SECRET_AS_QUERY_PARAM");
        assert!(validate(&by_query, Some(&query("12345")), &none, b"").is_ok());
        assert!(matches!(validate(&by_query, Some(&query("1234")), &none, b""), Err(EndpointError::Unauthorized(_))));
        assert!(matches!(validate(&by_query, None, &none, b""), Err(EndpointError::Unauthorized(m)) if m.contains("requires")));
        let signed = secret_validation("VERIFY_PAYLOAD");
        let body = br#"{"message":"Hello!"}"#;
        let mut mac = Hmac::<Sha256>::new_from_slice(b"12345").expect("key");
        mac.update(body);
        let hex_sig = hex::encode(mac.finalize().into_bytes());
        for value in [format!("sha256={hex_sig}"), format!(":sha256={}", hex_sig.to_uppercase())] {
            let mut h = HeaderMap::new();
            h.insert("endpoint-signature", HeaderValue::from_str(&value).expect("value"));
            assert!(validate(&signed, None, &h, body).is_ok(), "{value}");
            assert!(matches!(validate(&signed, None, &h, b"{}"), Err(EndpointError::Unauthorized(_))), "another body");
        }
        assert!(matches!(validate(&signed, None, &none, body), Err(EndpointError::Unauthorized(m)) if m.contains("requires")));
        assert!(validate(&Validation::None, None, &none, body).is_ok());
    }
}
