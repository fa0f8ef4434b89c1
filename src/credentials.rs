//! Credentials: which provider to log in with and the payload sent to it (protocol §2.1).

use crate::ejson::{Document, Value};
use crate::error::{Error, Result};

/// Provider name of anonymous users.
pub const ANONYMOUS: &str = "anon-user";
/// Provider name of email/password users.
pub const EMAIL_PASSWORD: &str = "local-userpass";

/// What `app.logIn` sends: the provider and its payload fields.
#[derive(Debug, Clone, PartialEq)]
pub struct Credentials {
    /// Provider name used in the login URL.
    pub provider_name: String,
    /// Provider type (equals the name for built-in providers).
    pub provider_type: String,
    /// Payload fields, sent at the top level of the login body.
    pub payload: Document,
    /// Anonymous only: reuse a known anonymous user instead of logging in again.
    pub reuse: bool,
}

impl Credentials {
    fn new(provider: &str, payload: Document) -> Credentials {
        Credentials {
            provider_name: provider.to_owned(),
            provider_type: provider.to_owned(),
            payload,
            reuse: false,
        }
    }

    /// Anonymous credentials; with `reuse` an existing active anonymous user is reused.
    pub fn anonymous(reuse: bool) -> Credentials {
        Credentials { reuse, ..Credentials::new(ANONYMOUS, Document::new()) }
    }

    /// Email/password credentials; the email is sent as `username`.
    pub fn email_password(email: &str, password: &str) -> Credentials {
        Credentials::new(
            EMAIL_PASSWORD,
            Document::new().with("username", email).with("password", password),
        )
    }

    /// An API key (provider `api-key`).
    pub fn api_key(key: &str) -> Credentials {
        Credentials::new("api-key", Document::new().with("key", key))
    }

    /// A custom JWT (provider `custom-token`).
    pub fn jwt(token: &str) -> Credentials {
        Credentials::new("custom-token", Document::new().with("token", token))
    }

    /// A custom-function payload (provider `custom-function`); its fields go at the top level.
    pub fn function(payload: Document) -> Credentials {
        Credentials::new("custom-function", payload)
    }

    /// Google with an `authCode` or an `idToken` (sent as `id_token`); no redirect flow.
    pub fn google(auth_code: Option<&str>, id_token: Option<&str>) -> Result<Credentials> {
        let payload = match (auth_code, id_token) {
            (Some(code), None) => Document::new().with("authCode", code),
            (None, Some(token)) => Document::new().with("id_token", token),
            _ => {
                return Err(Error::InvalidArgument(
                    "Credentials.google expects exactly one of { authCode } or { idToken }".to_owned(),
                ))
            }
        };
        Ok(Credentials::new("oauth2-google", payload))
    }

    /// Facebook with an access token.
    pub fn facebook(access_token: &str) -> Credentials {
        Credentials::new("oauth2-facebook", Document::new().with("accessToken", access_token))
    }

    /// Apple with an id token (sent as `id_token`).
    pub fn apple(id_token: &str) -> Credentials {
        Credentials::new("oauth2-apple", Document::new().with("id_token", id_token))
    }

    /// The login body: the payload fields, then `options.device` (§2.1).
    pub(crate) fn login_body(&self, device: Document) -> Value {
        let mut body = self.payload.clone();
        body.insert("options", Document::new().with("device", device));
        Value::Document(body)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ejson::to_canonical_string;

    fn wire(c: &Credentials) -> (String, String) {
        (c.provider_name.clone(), to_canonical_string(&Value::Document(c.payload.clone())))
    }

    #[test]
    fn payloads() {
        let s = |a: &str, b: &str| (a.to_owned(), b.to_owned());
        assert_eq!(wire(&Credentials::email_password("a@b.c", "pw")), s("local-userpass", r#"{"username":"a@b.c","password":"pw"}"#));
        assert_eq!(wire(&Credentials::anonymous(true)), s("anon-user", "{}"));
        assert_eq!(wire(&Credentials::api_key("k")), s("api-key", r#"{"key":"k"}"#));
        assert_eq!(wire(&Credentials::jwt("t")), s("custom-token", r#"{"token":"t"}"#));
        assert_eq!(
            wire(&Credentials::function(Document::new().with("n", 42))),
            s("custom-function", r#"{"n":{"$numberInt":"42"}}"#)
        );
        assert_eq!(wire(&Credentials::google(Some("c"), None).unwrap()), s("oauth2-google", r#"{"authCode":"c"}"#));
        assert_eq!(wire(&Credentials::google(None, Some("i")).unwrap()), s("oauth2-google", r#"{"id_token":"i"}"#));
        assert!(Credentials::google(None, None).is_err());
        assert!(Credentials::google(Some("c"), Some("i")).is_err());
        assert_eq!(wire(&Credentials::facebook("f")), s("oauth2-facebook", r#"{"accessToken":"f"}"#));
        assert_eq!(wire(&Credentials::apple("i")), s("oauth2-apple", r#"{"id_token":"i"}"#));
    }

    #[test]
    fn a_payload_options_field_is_overwritten() {
        let c = Credentials::function(Document::new().with("options", 1).with("x", "y"));
        let body = to_canonical_string(&c.login_body(Document::new()));
        assert_eq!(body, r#"{"options":{"device":{}},"x":"y"}"#);
    }
}
