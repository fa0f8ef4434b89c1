//! The [`Transport`] over `fetch`: called as `fetch(url, init)` exactly like realm-web calls it
//! (so a realm-web `fetch` override works unchanged), through `globalThis.fetch` or the App's
//! override. Responses are read with gloo-net. The timeout aborts the request through an
//! `AbortController` *and* rejects on its own, so a fetch that ignores the signal still times out.

use std::cell::Cell;
use std::rc::Rc;

use gloo_net::http::Response as GlooResponse;
use js_sys::{Array, Function, Object, Promise, Reflect};
use wasm_bindgen::prelude::*;
use wasm_bindgen::JsCast;
use wasm_bindgen_futures::JsFuture;
use web_sys::AbortController;

use super::convert::describe;
use crate::error::{Error, Result};
use crate::transport::{LocalBoxFuture, Request, Response, Transport};

#[wasm_bindgen]
extern "C" {
    #[wasm_bindgen(catch, js_name = fetch)]
    fn global_fetch(url: &str, init: &Object) -> std::result::Result<JsValue, JsValue>;
    #[wasm_bindgen(js_name = setTimeout)]
    fn set_timeout(callback: &Function, ms: f64) -> JsValue;
    #[wasm_bindgen(js_name = clearTimeout)]
    fn clear_timeout(id: &JsValue);
}

/// Sends requests with `fetch`.
pub(crate) struct FetchTransport {
    /// The App config's `fetch` override.
    pub fetch: Option<Function>,
}

impl Transport for FetchTransport {
    fn send(&self, request: Request) -> LocalBoxFuture<'static, Result<Response>> {
        let fetch = self.fetch.clone();
        Box::pin(send(fetch, request))
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

fn init_object(request: &Request, signal: Option<&web_sys::AbortSignal>) -> Object {
    let init = Object::new();
    let headers = Object::new();
    for (name, value) in &request.headers {
        let _ = Reflect::set(&headers, &JsValue::from_str(name), &JsValue::from_str(value));
    }
    let _ = Reflect::set(&init, &"method".into(), &request.method.as_str().into());
    let _ = Reflect::set(&init, &"headers".into(), &headers);
    if let Some(body) = &request.body {
        let _ = Reflect::set(&init, &"body".into(), &JsValue::from_str(body));
    }
    if let Some(signal) = signal {
        let _ = Reflect::set(&init, &"signal".into(), signal);
    }
    init
}

async fn send(fetch: Option<Function>, request: Request) -> Result<Response> {
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
    let init = init_object(&request, timeout.as_ref().map(|(_, signal)| signal));
    let fail = |e: JsValue| match &timeout {
        Some((t, _)) if t.fired.get() => Error::Timeout {
            method: method.to_owned(),
            url: request.url.clone(),
            timeout_ms: request.timeout_ms.unwrap_or(0),
        },
        _ => network(describe(&e)),
    };
    let bounded = |promise: Promise| match &timeout {
        Some((t, _)) => t.race(&promise),
        None => promise,
    };

    let returned = match &fetch {
        Some(f) => f.call2(&JsValue::UNDEFINED, &JsValue::from_str(&request.url), &init),
        None => global_fetch(&request.url, &init),
    }
    .map_err(&fail)?;
    let response = JsFuture::from(bounded(Promise::resolve(&returned))).await.map_err(&fail)?;
    if !response.is_object() {
        return Err(network("fetch did not resolve to a Response object".to_owned()));
    }
    // Structural access: a Response from a polyfill or another realm works too.
    let response: web_sys::Response = response.unchecked_into();
    let text = response.text().map_err(&fail)?;
    let response = GlooResponse::from(response);
    let status = response.status();
    let status_text = response.status_text();
    let content_type = response.headers().get("content-type");
    let body = JsFuture::from(bounded(text)).await.map_err(&fail)?.as_string().unwrap_or_default();
    Ok(Response { status, status_text, content_type, body })
}
