//! The SDK's one error type: every fallible operation in the crate returns [`Error`].

/// Everything that can go wrong in the SDK.
///
/// Messages say what happened and, where possible, what to do about it.
/// `Service` renders exactly like realm-web's `MongoDBRealmError` (protocol §10.2).
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum Error {
    /// The server answered with a non-2xx status.
    #[error("{}", service_message(method, url, *status, status_text, error.as_deref()))]
    Service {
        /// Request method, e.g. `POST`.
        method: String,
        /// Full request URL including any query string.
        url: String,
        /// HTTP status code.
        status: u16,
        /// HTTP status text (may be empty).
        status_text: String,
        /// The body's `error` field, if it was a string.
        error: Option<String>,
        /// The body's `error_code` field, if it was a string.
        error_code: Option<String>,
        /// The body's `link` field, if it was a string.
        link: Option<String>,
    },
    /// The request never got an HTTP answer (connection refused, DNS, CORS, aborted …).
    #[error("Network request {method} {url} failed: {message} (is the server at the App's baseUrl running and reachable, and does it send CORS headers?)")]
    Network {
        /// Request method.
        method: String,
        /// Request URL.
        url: String,
        /// What fetch reported.
        message: String,
    },
    /// The request took longer than the App's `timeout`.
    #[error("Request {method} {url} timed out after {timeout_ms} ms (raise the App's `timeout` option or check the server)")]
    Timeout {
        /// Request method.
        method: String,
        /// Request URL.
        url: String,
        /// The configured timeout.
        timeout_ms: u32,
    },
    /// The caller passed something the SDK cannot use.
    #[error("Invalid argument: {0}")]
    InvalidArgument(String),
    /// A server answer or a token could not be decoded.
    #[error("Could not decode {0}")]
    Decode(String),
    /// The operation needs a logged-in user, but the user has no tokens.
    #[error("User is not logged in: log in again with app.logIn(credentials) before calling this method")]
    NotLoggedIn,
    /// A change stream (`watch`) failed (protocol §11): an `error` event, a malformed event, a
    /// truncated stream.
    #[error("Watch failed ({code}): {message}")]
    Watch {
        /// `error_code` of an error event, `bad bson parse`, `unknown` or `stream truncated`.
        code: String,
        /// What went wrong.
        message: String,
    },
    /// The user was removed from the app.
    #[error("User was removed from the app: log in again with app.logIn(credentials)")]
    UserRemoved,
}

/// Formats a service error message exactly like realm-web's `MongoDBRealmError` (protocol §10.2).
pub fn service_message(
    method: &str,
    url: &str,
    status: u16,
    status_text: &str,
    error: Option<&str>,
) -> String {
    let summary = if status_text.is_empty() {
        format!("status {status}")
    } else {
        format!("status {status} {status_text}")
    };
    match error {
        Some(error) => format!("Request failed ({method} {url}): {error} ({summary})"),
        None => format!("Request failed ({method} {url}): ({summary})"),
    }
}

impl Error {
    /// True for a 401 answer that asks the client to refresh its session (protocol §4.4).
    pub fn is_invalid_session(&self) -> bool {
        matches!(self, Error::Service { status: 401, error, error_code, .. }
            if error_code.as_deref() == Some("InvalidSession") || error.as_deref() == Some("unauthorized"))
    }

    pub(crate) fn decode(what: impl Into<String>) -> Error {
        Error::Decode(what.into())
    }
}

/// Result alias used throughout the crate.
pub type Result<T, E = Error> = std::result::Result<T, E>;

#[cfg(test)]
mod tests {
    use super::*;

    fn service(error: Option<&str>, status_text: &str) -> Error {
        Error::Service {
            method: "POST".into(),
            url: "http://localhost:1234/api/client/v2.0/app/my-app/functions/call".into(),
            status: 404,
            status_text: status_text.into(),
            error: error.map(str::to_owned),
            error_code: Some("FunctionNotFound".into()),
            link: None,
        }
    }

    #[test]
    fn service_message_matches_realm_web() {
        assert_eq!(
            service(Some("function not found: 'nope'"), "").to_string(),
            "Request failed (POST http://localhost:1234/api/client/v2.0/app/my-app/functions/call): function not found: 'nope' (status 404)"
        );
        assert_eq!(
            service(None, "Not Found").to_string(),
            "Request failed (POST http://localhost:1234/api/client/v2.0/app/my-app/functions/call): (status 404 Not Found)"
        );
        assert_eq!(
            service(Some("x"), "Not Found").to_string(),
            "Request failed (POST http://localhost:1234/api/client/v2.0/app/my-app/functions/call): x (status 404 Not Found)"
        );
    }

    #[test]
    fn invalid_session_detection() {
        let mut e = service(None, "");
        assert!(!e.is_invalid_session());
        if let Error::Service { status, error_code, .. } = &mut e {
            *status = 401;
            *error_code = Some("InvalidSession".into());
        }
        assert!(e.is_invalid_session());
        let e = Error::Service {
            method: "GET".into(),
            url: "u".into(),
            status: 401,
            status_text: String::new(),
            error: Some("unauthorized".into()),
            error_code: None,
            link: None,
        };
        assert!(e.is_invalid_session());
        assert!(Error::NotLoggedIn.to_string().contains("User is not logged in"));
    }
}
