//! `context.http.get|post|put|patch|delete|head(request)` on reqwest: the request document as
//! App Services describes it, the response as `{status, statusCode, contentLength, headers,
//! cookies, body}` with the body as a `BSON.Binary`.

use super::{HostError, HostFuture, ScriptError};
use bson::{doc, spec::BinarySubtype, Binary, Bson, Document};
use std::time::Duration;

/// The two clients: one that follows redirects, one that does not (reqwest sets it per client).
pub struct HttpClients {
    follow: reqwest::Client,
    stay: reqwest::Client,
}

impl HttpClients {
    /// Builds both clients.
    pub fn new() -> Result<HttpClients, reqwest::Error> {
        Ok(HttpClients {
            follow: reqwest::Client::builder().redirect(reqwest::redirect::Policy::limited(10)).build()?,
            stay: reqwest::Client::builder().redirect(reqwest::redirect::Policy::none()).build()?,
        })
    }
}

fn bad(message: impl Into<String>) -> ScriptError {
    ScriptError(format!("context.http: {}", message.into()))
}

fn text(v: &Bson) -> Option<String> {
    match v {
        Bson::String(s) => Some(s.clone()),
        Bson::Int32(i) => Some(i.to_string()),
        Bson::Int64(i) => Some(i.to_string()),
        Bson::Double(d) => Some(d.to_string()),
        Bson::Boolean(b) => Some(b.to_string()),
        _ => None,
    }
}

/// `{Name: value | [values]}` as (name, value) pairs.
fn pairs(doc: Option<&Document>, what: &str) -> Result<Vec<(String, String)>, ScriptError> {
    let mut out = Vec::new();
    for (k, v) in doc.into_iter().flatten() {
        match v {
            Bson::Array(items) => {
                for item in items {
                    out.push((k.clone(), text(item).ok_or_else(|| bad(format!("{what}.{k} must hold strings")))?));
                }
            }
            other => out.push((k.clone(), text(other).ok_or_else(|| bad(format!("{what}.{k} must be a string or an array of strings")))?)),
        }
    }
    Ok(out)
}

fn url_of(spec: &Document) -> Result<reqwest::Url, ScriptError> {
    if let Ok(u) = spec.get_str("url") {
        return reqwest::Url::parse(u).map_err(|e| bad(format!("invalid url {u:?}: {e}")));
    }
    let host = spec.get_str("host").map_err(|_| bad("the request needs a url, or a host (with scheme, path, query…)"))?;
    let scheme = spec.get_str("scheme").unwrap_or("http");
    let mut url = reqwest::Url::parse(&format!("{scheme}://{host}")).map_err(|e| bad(format!("invalid scheme/host: {e}")))?;
    if let Ok(path) = spec.get_str("path") {
        url.set_path(path);
    }
    let query = pairs(spec.get_document("query").ok(), "query")?;
    if !query.is_empty() {
        url.query_pairs_mut().extend_pairs(query);
    }
    if let Ok(fragment) = spec.get_str("fragment") {
        url.set_fragment(Some(fragment));
    }
    if let Ok(user) = spec.get_str("username") {
        url.set_username(user).map_err(|_| bad("cannot set a username on this url"))?;
        url.set_password(spec.get_str("password").ok()).map_err(|_| bad("cannot set a password on this url"))?;
    }
    Ok(url)
}

/// Builds the request of `spec` and returns the future that performs it.
pub fn request(clients: &HttpClients, method: &str, spec: &Document, max_body: usize, timeout: Duration) -> Result<HostFuture<Bson>, ScriptError> {
    let method = reqwest::Method::from_bytes(method.as_bytes()).map_err(|_| bad(format!("unknown method {method}")))?;
    let url = url_of(spec)?;
    if url.scheme() != "http" {
        return Err(bad(format!("{}:// URLs are not supported by this build of realm-wasm-server (no TLS client): use http://", url.scheme())));
    }
    if spec.get("digestAuth").is_some_and(|v| v.as_bool() == Some(true)) {
        return Err(bad("digestAuth is not supported"));
    }
    let follow = spec.get_bool("followRedirects").unwrap_or(false);
    let client = if follow { &clients.follow } else { &clients.stay };
    let mut req = client.request(method, url).timeout(timeout);
    for (name, value) in pairs(spec.get_document("headers").ok(), "headers")? {
        req = req.header(name, value);
    }
    let cookies = pairs(spec.get_document("cookies").ok(), "cookies")?;
    if !cookies.is_empty() {
        let line: Vec<String> = cookies.iter().map(|(k, v)| format!("{k}={v}")).collect();
        req = req.header(reqwest::header::COOKIE, line.join("; "));
    }
    if let Ok(form) = spec.get_document("form") {
        let body: String = reqwest::Url::parse("http://x/")
            .map(|mut u| {
                u.query_pairs_mut().extend_pairs(pairs(Some(form), "form").unwrap_or_default());
                u.query().unwrap_or_default().to_string()
            })
            .unwrap_or_default();
        req = req.header(reqwest::header::CONTENT_TYPE, "application/x-www-form-urlencoded").body(body);
    } else {
        match spec.get("body") {
            None | Some(Bson::Null) => {}
            Some(Bson::Binary(b)) => req = req.body(b.bytes.clone()),
            Some(Bson::String(s)) => req = req.body(s.clone()),
            Some(other) => req = req.body(other.clone().into_relaxed_extjson().to_string()),
        }
    }
    Ok(Box::pin(async move {
        let failed = |e: reqwest::Error| HostError { code: "HTTPError".into(), message: format!("context.http: {e}") };
        let mut res = req.send().await.map_err(failed)?;
        let status = res.status();
        let mut headers = Document::new();
        for name in res.headers().keys() {
            let values: Vec<Bson> = res.headers().get_all(name).iter().map(|v| Bson::String(String::from_utf8_lossy(v.as_bytes()).into_owned())).collect();
            headers.insert(canonical_header(name.as_str()), values);
        }
        let mut cookies = Document::new();
        for v in res.headers().get_all(reqwest::header::SET_COOKIE) {
            let line = String::from_utf8_lossy(v.as_bytes());
            if let Some((name, rest)) = line.split_once('=') {
                let value = rest.split(';').next().unwrap_or_default();
                cookies.insert(name.trim(), doc! {"value": value});
            }
        }
        let mut body = Vec::new();
        while let Some(chunk) = res.chunk().await.map_err(failed)? {
            if body.len() + chunk.len() > max_body {
                return Err(HostError { code: "HTTPError".into(), message: format!("context.http: the response body is larger than {max_body} bytes") });
            }
            body.extend_from_slice(&chunk);
        }
        Ok(Bson::Document(doc! {
            "status": format!("{} {}", status.as_u16(), status.canonical_reason().unwrap_or("")).trim_end().to_string(),
            "statusCode": i32::from(status.as_u16()),
            "contentLength": body.len() as i64,
            "headers": headers,
            "cookies": cookies,
            "body": Binary { subtype: BinarySubtype::Generic, bytes: body },
        }))
    }))
}

/// `content-type` → `Content-Type`, as App Services shows header names.
pub(super) fn canonical_header(name: &str) -> String {
    name.split('-')
        .map(|part| {
            let mut c = part.chars();
            c.next().map(|f| f.to_ascii_uppercase().to_string() + c.as_str()).unwrap_or_default()
        })
        .collect::<Vec<_>>()
        .join("-")
}
