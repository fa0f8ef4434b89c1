//! The [`Transport`] over `fetch`: requests built with gloo-net, sent through `globalThis.fetch`
//! or the App's `fetch` override, with the timeout enforced by an `AbortController` and
//! `setTimeout` (works in Node and browsers; no `window`).

use std::cell::Cell;
use std::rc::Rc;

use gloo_net::http::{Method as GlooMethod, RequestBuilder};
use js_sys::{Function, Promise};
use wasm_bindgen::prelude::*;
use wasm_bindgen::JsCast;
use wasm_bindgen_futures::JsFuture;
use web_sys::AbortController;

use super::convert::describe;
use crate::error::{Error, Result};
use crate::transport::{LocalBoxFuture, Method, Request, Response, Transport};

#[wasm_bindgen]
extern "C" {
    #[wasm_bindgen(catch, js_name = fetch)]
    fn global_fetch(request: &web_sys::Request) -> std::result::Result<JsValue, JsValue>;
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

/// A pending `setTimeout` that aborts the request; cleared on drop.
struct Timer {
    id: JsValue,
    _callback: Closure<dyn FnMut()>,
}

impl Drop for Timer {
    fn drop(&mut self) {
        clear_timeout(&self.id);
    }
}

async fn send(fetch: Option<Function>, request: Request) -> Result<Response> {
    let method = request.method.as_str().to_owned();
    let url = request.url.clone();
    let network = |message: String| Error::Network { method: method.clone(), url: url.clone(), message };

    let mut builder = RequestBuilder::new(&request.url).method(match request.method {
        Method::Get => GlooMethod::GET,
        Method::Post => GlooMethod::POST,
        Method::Put => GlooMethod::PUT,
        Method::Delete => GlooMethod::DELETE,
    });
    for (name, value) in &request.headers {
        builder = builder.header(name, value);
    }
    let controller = match request.timeout_ms {
        Some(_) => Some(AbortController::new().map_err(|e| network(describe(&e)))?),
        None => None,
    };
    let signal = controller.as_ref().map(AbortController::signal);
    builder = builder.abort_signal(signal.as_ref());
    let built = match request.body {
        Some(body) => builder.body(JsValue::from_str(&body)),
        None => builder.build(),
    }
    .map_err(|e| network(e.to_string()))?;
    let web_request: web_sys::Request = built.into();

    let timed_out = Rc::new(Cell::new(false));
    let _timer = match (request.timeout_ms, controller) {
        (Some(ms), Some(controller)) => {
            let flag = timed_out.clone();
            let callback = Closure::<dyn FnMut()>::new(move || {
                flag.set(true);
                controller.abort();
            });
            let id = set_timeout(callback.as_ref().unchecked_ref(), f64::from(ms));
            Some(Timer { id, _callback: callback })
        }
        _ => None,
    };
    let fail = |e: JsValue| {
        if timed_out.get() {
            Error::Timeout { method: method.clone(), url: url.clone(), timeout_ms: request.timeout_ms.unwrap_or(0) }
        } else {
            network(describe(&e))
        }
    };

    let returned = match &fetch {
        Some(f) => f.call1(&JsValue::UNDEFINED, &web_request),
        None => global_fetch(&web_request),
    }
    .map_err(&fail)?;
    let response = JsFuture::from(Promise::resolve(&returned)).await.map_err(&fail)?;
    if !response.is_object() {
        return Err(network("fetch did not resolve to a Response".to_owned()));
    }
    let response: web_sys::Response = response.unchecked_into();
    let status = response.status();
    let status_text = response.status_text();
    let content_type = response.headers().get("content-type").ok().flatten();
    let text_promise = response.text().map_err(&fail)?;
    let body = JsFuture::from(text_promise).await.map_err(&fail)?.as_string().unwrap_or_default();
    Ok(Response { status, status_text, content_type, body })
}
