//! The [`Transport`] over `fetch`: called as `fetch(url, init)` exactly like realm-web calls it
//! (so a realm-web `fetch` override works unchanged), through `globalThis.fetch` or the App's
//! override, in one JS call (`http.js`) that also reads the answer. The timeout aborts the request
//! through an `AbortController` *and* rejects on its own, so a fetch that ignores the signal still
//! times out.

use std::cell::Cell;
use std::rc::Rc;

use js_sys::{Array, Function, Promise, Reflect};
use wasm_bindgen::prelude::*;
use wasm_bindgen::JsCast;
use wasm_bindgen_futures::JsFuture;
use web_sys::AbortController;

use super::convert::describe;
use crate::error::{Error, Result};
use crate::transport::{ByteStream, LocalBoxFuture, Request, Response, Streamed, Transport};

#[wasm_bindgen(module = "/src/wasm/http.js")]
extern "C" {
    #[wasm_bindgen(catch)]
    fn exchange(
        fetch: &JsValue,
        url: &str,
        method: &str,
        headers: &str,
        body: &JsValue,
        signal: &JsValue,
        streaming: bool,
    ) -> std::result::Result<Promise, JsValue>;
}

#[wasm_bindgen]
extern "C" {
    #[wasm_bindgen(js_name = setTimeout)]
    fn set_timeout(callback: &Function, ms: f64) -> JsValue;
    #[wasm_bindgen(js_name = clearTimeout)]
    fn clear_timeout(id: &JsValue);
}

thread_local! {
    /// A rejection handler that does nothing.
    static IGNORE: Closure<dyn FnMut(JsValue)> = Closure::new(|_: JsValue| {});
}

/// Sends requests with `fetch`.
pub(crate) struct FetchTransport {
    /// The App config's `fetch` override.
    pub fetch: Option<Function>,
}

impl Transport for FetchTransport {
    fn send(&self, request: Request) -> LocalBoxFuture<'static, Result<Response>> {
        let fetch = self.fetch.clone();
        Box::pin(async move { Ok(send(fetch, request, false).await?.0) })
    }

    fn stream(&self, request: Request) -> LocalBoxFuture<'static, Result<Streamed>> {
        let fetch = self.fetch.clone();
        let url = request.url.clone();
        Box::pin(async move {
            let (response, raw) = send(fetch, request, true).await?;
            if !response.ok() {
                return Ok(Streamed::Failed(response));
            }
            let body = get(&raw, "body");
            let reader = get(&body, "getReader")
                .dyn_into::<Function>()
                .ok()
                .and_then(|f| f.call0(&body).ok())
                .ok_or_else(|| Error::Network {
                    method: "GET".to_owned(),
                    url: url.clone(),
                    message: "the response has no readable body (the fetch in use does not stream)".to_owned(),
                })?;
            Ok(Streamed::Body(Rc::new(BodyReader { reader, url })))
        })
    }

    fn now_ms(&self) -> Option<f64> {
        Some(js_sys::Date::now())
    }

    fn as_any(&self) -> Option<&dyn std::any::Any> {
        Some(self)
    }
}

fn get(target: &JsValue, key: &str) -> JsValue {
    if target.is_object() {
        Reflect::get(target, &JsValue::from_str(key)).unwrap_or(JsValue::UNDEFINED)
    } else {
        JsValue::UNDEFINED
    }
}

/// A `ReadableStream` reader over a streaming response body.
struct BodyReader {
    reader: JsValue,
    url: String,
}

impl ByteStream for BodyReader {
    fn read(&self) -> LocalBoxFuture<'static, Result<Option<Vec<u8>>>> {
        let reader = self.reader.clone();
        let url = self.url.clone();
        Box::pin(async move {
            let lost = |e: JsValue| Error::Network { method: "GET".to_owned(), url: url.clone(), message: describe(&e) };
            let read: Function = get(&reader, "read").dyn_into().map_err(&lost)?;
            let promise = read.call0(&reader).map_err(&lost)?;
            let chunk = JsFuture::from(Promise::resolve(&promise)).await.map_err(&lost)?;
            if get(&chunk, "done").is_truthy() {
                return Ok(None);
            }
            Ok(Some(js_sys::Uint8Array::new(&get(&chunk, "value")).to_vec()))
        })
    }

    fn cancel(&self) {
        if let Ok(cancel) = get(&self.reader, "cancel").dyn_into::<Function>() {
            if let Ok(p) = cancel.call0(&self.reader) {
                // A rejected cancel (the body already failed) is of no interest.
                IGNORE.with(|ignore| {
                    let _ = Promise::resolve(&p).catch(ignore);
                });
            }
        }
    }
}

/// A pending timeout: aborts the request and rejects `expired`; cleared on drop.
struct Timeout {
    id: JsValue,
    expired: Promise,
    fired: Rc<Cell<bool>>,
    _callback: Closure<dyn FnMut()>,
    _ignore: Closure<dyn FnMut(JsValue)>,
}

impl Timeout {
    fn start(ms: u32, controller: AbortController) -> Timeout {
        let fired = Rc::new(Cell::new(false));
        let mut reject_slot: Option<Function> = None;
        let expired = Promise::new(&mut |_resolve, reject| reject_slot = Some(reject));
        // The losing rejection of a race must not surface as an unhandled rejection.
        let ignore = Closure::<dyn FnMut(JsValue)>::new(|_: JsValue| {});
        let _ = expired.catch(&ignore);
        let flag = fired.clone();
        let callback = Closure::<dyn FnMut()>::new(move || {
            flag.set(true);
            controller.abort();
            if let Some(reject) = &reject_slot {
                let _ = reject.call1(&JsValue::UNDEFINED, &JsValue::from_str("timeout"));
            }
        });
        let id = set_timeout(callback.as_ref().unchecked_ref(), f64::from(ms));
        Timeout { id, expired, fired, _callback: callback, _ignore: ignore }
    }

    /// `promise`, or a rejection once the timeout fires, whichever settles first.
    fn race(&self, promise: &Promise) -> Promise {
        Promise::race(&Array::of2(promise, &self.expired))
    }
}

impl Drop for Timeout {
    fn drop(&mut self) {
        clear_timeout(&self.id);
    }
}

/// `Name:value` lines, as `http.js` takes them (header values hold no newlines).
fn header_lines(request: &Request) -> String {
    let mut lines = String::new();
    for (name, value) in &request.headers {
        lines.push_str(name);
        lines.push(':');
        lines.push_str(value);
        lines.push('\n');
    }
    lines
}

/// Sends `request`; reads the body unless `streaming` and the answer is 2xx, in which case the
/// raw `Response` is returned for its body stream.
async fn send(fetch: Option<Function>, request: Request, streaming: bool) -> Result<(Response, JsValue)> {
    let method = request.method.as_str();
    let network = |message: String| Error::Network { method: method.to_owned(), url: request.url.clone(), message };

    let timeout = match request.timeout_ms {
        Some(ms) => {
            let controller = AbortController::new().map_err(|e| network(describe(&e)))?;
            let signal = controller.signal();
            Some((Timeout::start(ms, controller), signal))
        }
        None => None,
    };
    let fail = |e: JsValue| match &timeout {
        Some((t, _)) if t.fired.get() => Error::Timeout {
            method: method.to_owned(),
            url: request.url.clone(),
            timeout_ms: request.timeout_ms.unwrap_or(0),
        },
        _ => network(describe(&e)),
    };

    let signal = timeout.as_ref().map(|(_, signal)| JsValue::from(signal.clone())).unwrap_or(JsValue::UNDEFINED);
    let body = request.body.as_deref().map(JsValue::from_str).unwrap_or(JsValue::UNDEFINED);
    let exchanged = exchange(
        &fetch.map(JsValue::from).unwrap_or(JsValue::UNDEFINED),
        &request.url,
        method,
        &header_lines(&request),
        &body,
        &signal,
        streaming,
    )
    .map_err(&fail)?;
    // The timeout bounds the wait for the headers and, unless streaming, for the body.
    let exchanged = match &timeout {
        Some((t, _)) => t.race(&exchanged),
        None => exchanged,
    };
    let head = JsFuture::from(exchanged).await.map_err(&fail)?;
    let response = head_to_response(&head, method, &request.url)?;
    Ok((response, get(&head, "response")))
}

/// The [`Response`] of what `exchange` (http.js, or codec.js for the fast path) resolved to:
/// `null` (fetch gave no object) is an error.
pub(crate) fn head_to_response(head: &JsValue, method: &str, url: &str) -> Result<Response> {
    if head.is_null() {
        return Err(Error::Network {
            method: method.to_owned(),
            url: url.to_owned(),
            message: "fetch did not resolve to a Response object".to_owned(),
        });
    }
    let status = get(head, "status").as_f64().unwrap_or(0.0) as u16;
    let status_text = get(head, "statusText").as_string().unwrap_or_default();
    let content_type = get(head, "contentType").as_string();
    // `text`: read by the fast path (codec.js `call`) with `Response.text()`, which decodes as `utf8_text` does.
    let body = match get(head, "text").as_string() {
        Some(text) => text,
        None => match get(head, "bytes") {
            bytes if bytes.is_undefined() => String::new(),
            bytes => utf8_text(js_sys::Uint8Array::new(&bytes).to_vec()),
        },
    };
    Ok(Response { status, status_text, content_type, body })
}

/// What `Response.text()` makes of the bytes: UTF-8 with a leading BOM dropped, invalid sequences replaced.
fn utf8_text(bytes: Vec<u8>) -> String {
    let text = String::from_utf8(bytes).unwrap_or_else(|e| String::from_utf8_lossy(e.as_bytes()).into_owned());
    match text.strip_prefix('\u{feff}') {
        Some(rest) => rest.to_owned(),
        None => text,
    }
}
