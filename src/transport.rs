//! The HTTP seam: plain request/response structs and the async [`Transport`] trait that the
//! fetch-based transport (in `wasm/`) and the tests' fake transport implement.

use std::future::Future;
use std::pin::Pin;

use crate::error::Result;

/// A boxed, non-`Send` future (everything in the SDK runs on one JS thread).
pub type LocalBoxFuture<'a, T> = Pin<Box<dyn Future<Output = T> + 'a>>;

/// HTTP methods the protocol uses.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Method {
    /// GET
    Get,
    /// POST
    Post,
    /// PUT
    Put,
    /// DELETE
    Delete,
}

impl Method {
    /// The method name as sent on the wire.
    pub fn as_str(self) -> &'static str {
        match self {
            Method::Get => "GET",
            Method::Post => "POST",
            Method::Put => "PUT",
            Method::Delete => "DELETE",
        }
    }
}

/// One HTTP request, fully built by the fetcher.
#[derive(Debug, Clone, PartialEq)]
pub struct Request {
    /// Method.
    pub method: Method,
    /// Absolute URL.
    pub url: String,
    /// Header name/value pairs in sending order.
    pub headers: Vec<(&'static str, String)>,
    /// Body text (canonical EJSON), if any.
    pub body: Option<String>,
    /// Abort after this many milliseconds, if set.
    pub timeout_ms: Option<u32>,
}

impl Request {
    /// The value of a header, if present (names compare case-insensitively).
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }
}

/// One HTTP response, body fully read.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Response {
    /// Status code.
    pub status: u16,
    /// Status text (may be empty).
    pub status_text: String,
    /// The `Content-Type` header, if present.
    pub content_type: Option<String>,
    /// The body text.
    pub body: String,
}

impl Response {
    /// A JSON response with the given status and body.
    pub fn json(status: u16, body: impl Into<String>) -> Response {
        Response {
            status,
            status_text: String::new(),
            content_type: Some("application/json".to_owned()),
            body: body.into(),
        }
    }

    /// True for any 2xx status.
    pub fn ok(&self) -> bool {
        (200..300).contains(&self.status)
    }
}

/// A response body read chunk by chunk (server-sent events).
pub trait ByteStream {
    /// The next chunk; `None` at the end of the body. Errors are network errors.
    fn read(&self) -> LocalBoxFuture<'static, Result<Option<Vec<u8>>>>;
    /// Stops reading and closes the connection; a pending `read` ends with `None`.
    fn cancel(&self);
}

/// The answer to a streaming request: a body to read, or an error response read in full.
pub enum Streamed {
    /// A 2xx answer.
    Body(std::rc::Rc<dyn ByteStream>),
    /// Any other answer.
    Failed(Response),
}

/// Sends requests. Errors are [`crate::Error::Network`] or [`crate::Error::Timeout`];
/// HTTP error statuses are returned as ordinary responses.
pub trait Transport {
    /// Sends one request and reads the whole response body.
    fn send(&self, request: Request) -> LocalBoxFuture<'static, Result<Response>>;
    /// Sends one request and returns once the response headers arrived (the timeout covers
    /// only that part).
    fn stream(&self, request: Request) -> LocalBoxFuture<'static, Result<Streamed>>;
    /// Milliseconds since the epoch, when the platform has a clock (for the proactive refresh).
    fn now_ms(&self) -> Option<f64> {
        None
    }
    /// The concrete transport, for a platform layer that has a faster path through it.
    fn as_any(&self) -> Option<&dyn std::any::Any> {
        None
    }
}
