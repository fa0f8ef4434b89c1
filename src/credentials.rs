//! Credentials: which provider to log in with and the payload sent to it (protocol §2.1).

use crate::ejson::{Document, Value};

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
}

impl Credentials {
    /// Anonymous credentials (an existing active anonymous user is reused).
    pub fn anonymous() -> Credentials {
        Credentials {
            provider_name: ANONYMOUS.to_owned(),
            provider_type: ANONYMOUS.to_owned(),
            payload: Document::new(),
        }
    }

    /// Email/password credentials; the email is sent as `username`.
    pub fn email_password(email: &str, password: &str) -> Credentials {
        Credentials {
            provider_name: EMAIL_PASSWORD.to_owned(),
            provider_type: EMAIL_PASSWORD.to_owned(),
            payload: Document::new()
                .with("username", Value::from(email))
                .with("password", Value::from(password)),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ejson::to_canonical_string;

    #[test]
    fn payloads() {
        let c = Credentials::email_password("a@b.c", "pw");
        assert_eq!(c.provider_name, "local-userpass");
        assert_eq!(
            to_canonical_string(&Value::Document(c.payload)),
            r#"{"username":"a@b.c","password":"pw"}"#
        );
        let a = Credentials::anonymous();
        assert_eq!((a.provider_name.as_str(), a.payload.len()), ("anon-user", 0));
    }
}
