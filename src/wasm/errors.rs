//! The one place SDK errors become JS values: `MongoDBRealmError` (realm-web's class, in
//! `api.js`) for HTTP failures, `WatchError` for change streams, `TypeError` for bad arguments and
//! plain `Error`s with the SDK's message for everything else. Also the panic hook: a residual
//! panic throws a readable `Error` instead of only trapping with "unreachable".

use wasm_bindgen::prelude::*;

use super::api;
use crate::error::Error;

/// Converts an SDK error into the JS value a promise rejects with.
pub(crate) fn to_js_error(err: Error) -> JsValue {
    match &err {
        Error::InvalidArgument(what) => js_sys::TypeError::new(what).into(),
        Error::Watch { code, message } => api::WatchError::new(code, message).into(),
        Error::Service { method, url, status, status_text, error, error_code, link } => {
            api::MongoDBRealmError::new(method, url, *status, status_text, error.as_deref(), error_code.as_deref(), link.as_deref())
                .into()
        }
        _ => js_sys::Error::new(&err.to_string()).into(),
    }
}

#[wasm_bindgen(typescript_custom_section)]
const TS_ERRORS: &'static str = r#"
/** An HTTP request failed; `message` reads `Request failed (<METHOD> <url>): <error> (status <code> <text>)`. */
export declare class MongoDBRealmError extends Error {
  /**
   * The error for a non-2xx `response` (its JSON `error`, `error_code` and `link`, when it has them).
   * Like realm-web's, it is returned, not thrown.
   */
  static fromRequestAndResponse(
    url: string,
    request: { method?: string },
    response: { status: number; statusText: string; headers: { get(name: string): string | null }; json(): Promise<any> },
  ): Promise<MongoDBRealmError>;
  constructor(method: string, url: string, statusCode: number, statusText: string, error?: string, errorCode?: string, link?: string);
  /** Request method, e.g. "POST". */
  readonly method: string;
  /** Full request URL. */
  readonly url: string;
  /** HTTP status code, e.g. 401. */
  readonly statusCode: number;
  /** HTTP status text (may be ""). */
  readonly statusText: string;
  /** The server's `error` message, if any. */
  readonly error: string | undefined;
  /** The server's `error_code`, e.g. "InvalidSession", if any. */
  readonly errorCode: string | undefined;
  /** Link to the server's logs, if any. */
  readonly link: string | undefined;
}

/** A change stream failed. */
export declare class WatchError extends Error {
  constructor(code: string, message: string);
  /** The server's `error_code`, or "bad bson parse", "unknown", "stream truncated", "connection lost". */
  readonly code: string;
}
"#;

/// Makes a panic throw a JS `Error` naming it (instead of only an "unreachable" trap); called
/// whenever an App is created.
pub(crate) fn install_panic_hook() {
    static ONCE: std::sync::Once = std::sync::Once::new();
    ONCE.call_once(|| {
        std::panic::set_hook(Box::new(|info| {
            wasm_bindgen::throw_str(&format!("realm-wasm internal error (please report it): {info}"));
        }));
    });
}
