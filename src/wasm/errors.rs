//! The one place SDK errors become JS values: `MongoDBRealmError` (a real `Error` whose
//! prototype chain is `MongoDBRealmError.prototype` → `Error.prototype`) for HTTP failures,
//! `WatchError` (same construction) for change streams, `TypeError` for bad arguments and plain
//! `Error`s with the SDK's message for everything else. Also the panic hook: a residual panic
//! throws a readable `Error` instead of only trapping with "unreachable".

use std::cell::RefCell;

use js_sys::{Object, Reflect};
use wasm_bindgen::prelude::*;

use crate::error::Error;

/// An HTTP request failed: `method`, `url`, `statusCode`, `statusText`, `error`, `errorCode`
/// and `link` describe it; `message` reads
/// `Request failed (<METHOD> <url>): <error> (status <code> <text>)`. Instances are real `Error`s.
#[wasm_bindgen]
pub struct MongoDBRealmError {
    _private: u8,
}

/// A change stream failed: `code` is the server's `error_code` (or `bad bson parse`,
/// `unknown`, `stream truncated`, `connection lost`). Instances are real `Error`s.
#[wasm_bindgen]
pub struct WatchError {
    _private: u8,
}

thread_local! {
    static PROTOTYPE: RefCell<Option<Object>> = const { RefCell::new(None) };
    static WATCH_PROTOTYPE: RefCell<Option<Object>> = const { RefCell::new(None) };
}

/// `MongoDBRealmError.prototype`, chained to `Error.prototype` on first use.
fn prototype() -> Object {
    chained(&PROTOTYPE, || JsValue::from(MongoDBRealmError { _private: 0 }))
}

/// `WatchError.prototype`, chained to `Error.prototype` on first use.
fn watch_prototype() -> Object {
    chained(&WATCH_PROTOTYPE, || JsValue::from(WatchError { _private: 0 }))
}

fn chained(slot: &'static std::thread::LocalKey<RefCell<Option<Object>>>, make: impl FnOnce() -> JsValue) -> Object {
    slot.with(|p| {
        if let Some(proto) = p.borrow().as_ref() {
            return proto.clone();
        }
        let marker = make();
        let proto = Object::get_prototype_of(&marker);
        let error_proto = Object::get_prototype_of(&js_sys::Error::new(""));
        Object::set_prototype_of(&proto, &error_proto);
        // The marker instance stays alive (and unused) with the cached prototype.
        std::mem::forget(marker);
        *p.borrow_mut() = Some(proto.clone());
        proto
    })
}

fn opt(value: &Option<String>) -> JsValue {
    value.as_deref().map(JsValue::from_str).unwrap_or(JsValue::UNDEFINED)
}

/// Converts an SDK error into the JS value a promise rejects with.
pub(crate) fn to_js_error(err: Error) -> JsValue {
    let message = err.to_string();
    if let Error::InvalidArgument(what) = &err {
        return js_sys::TypeError::new(what).into();
    }
    let js_error = js_sys::Error::new(&message);
    if let Error::Watch { code, message } = &err {
        Object::set_prototype_of(&js_error, &watch_prototype());
        let _ = Reflect::set(&js_error, &JsValue::from_str("code"), &JsValue::from_str(code));
        let _ = Reflect::set(&js_error, &JsValue::from_str("message"), &JsValue::from_str(message));
        let _ = Reflect::set(&js_error, &JsValue::from_str("name"), &JsValue::from_str("WatchError"));
    }
    if let Error::Service { method, url, status, status_text, error, error_code, link } = &err {
        Object::set_prototype_of(&js_error, &prototype());
        let fields: [(&str, JsValue); 7] = [
            ("method", JsValue::from_str(method)),
            ("url", JsValue::from_str(url)),
            ("statusText", JsValue::from_str(status_text)),
            ("statusCode", JsValue::from_f64(f64::from(*status))),
            ("error", opt(error)),
            ("errorCode", opt(error_code)),
            ("link", opt(link)),
        ];
        for (key, value) in fields {
            let _ = Reflect::set(&js_error, &JsValue::from_str(key), &value);
        }
    }
    js_error.into()
}

#[wasm_bindgen(typescript_custom_section)]
const TS_REALM_ERROR: &'static str = r#"
/** The fields of a failed HTTP request (merged into the `MongoDBRealmError` class). */
export interface MongoDBRealmError extends Error {
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
"#;

#[wasm_bindgen(typescript_custom_section)]
const TS_WATCH_ERROR: &'static str = r#"
/** The fields of a failed change stream (merged into the `WatchError` class). */
export interface WatchError extends Error {
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
