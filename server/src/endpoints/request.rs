//! What an endpoint's function and `can_evaluate` see of a request: the `request` argument
//! (`{query, headers, body}`) and `context.request`.
//!
//! The `secret` query parameter of `SECRET_AS_QUERY_PARAM` never reaches them (App Services strips
//! it from `rawQueryString` too), nor do the credentials the server itself checked.

use super::Request;
use crate::functions::RequestInfo;
use axum::http::header;
use bson::spec::BinarySubtype;
use bson::{doc, Binary, Document};

/// The request headers that carry application credentials.
pub(super) const CREDENTIAL_HEADERS: [&str; 5] = ["authorization", "email", "password", "apikey", "jwttokenstring"];

/// The query string's parameters, decoded, in order.
pub(super) fn query_pairs(raw: Option<&str>) -> Vec<(String, String)> {
    raw.map(|q| form_urlencoded::parse(q.as_bytes()).into_owned().collect()).unwrap_or_default()
}

/// The query string without its `secret` parameter (order kept, encoding untouched).
fn raw_query_without_secret(raw: Option<&str>) -> String {
    let Some(raw) = raw else { return String::new() };
    raw.split('&')
        .filter(|pair| {
            let key = pair.split('=').next().unwrap_or_default();
            form_urlencoded::parse(key.as_bytes()).next().is_none_or(|(k, _)| k != "secret")
        })
        .collect::<Vec<_>>()
        .join("&")
}

/// The request as the function sees it.
pub(super) struct Seen {
    /// `request.query`: the first value of each parameter but `secret`.
    pub query: Document,
    /// Header name → values, without the stripped ones.
    pub headers: Vec<(String, Vec<String>)>,
    /// `context.request`.
    pub info: RequestInfo,
}

impl Seen {
    /// What the function may see of `req`: `strip_secret` when the endpoint validates the
    /// `secret` query parameter, `strip_credentials` when the server authenticated the caller from
    /// the request's headers (both stay out of the function's reach, as out of logs).
    pub(super) fn new(req: &Request, route: &str, action: &str, strip_secret: bool, strip_credentials: bool) -> Seen {
        let mut query = Document::new();
        for (k, v) in query_pairs(req.query.as_deref()) {
            if !(query.contains_key(&k) || strip_secret && k == "secret") {
                query.insert(k, v);
            }
        }
        let visible = req.headers.iter().filter(|(name, _)| !(**name == header::COOKIE || (strip_credentials && CREDENTIAL_HEADERS.contains(&name.as_str()))));
        let headers = RequestInfo::group_headers(visible.map(|(name, value)| (name.as_str(), value.as_bytes())));
        let text = |h: header::HeaderName| req.headers.get(h).and_then(|v| v.to_str().ok()).map(str::to_string);
        let info = RequestInfo {
            remote_ip_address: req.client.map(|ip| ip.to_string()).unwrap_or_default(),
            request_headers: headers.clone(),
            http_method: req.method.to_string(),
            webhook_url: Some(route.to_string()),
            raw_query_string: match strip_secret {
                true => raw_query_without_secret(req.query.as_deref()),
                false => req.query.clone().unwrap_or_default(),
            },
            http_referrer: text(header::REFERER),
            http_user_agent: text(header::USER_AGENT),
            service: None,
            action: Some(action.to_string()),
        };
        Seen { query, headers, info }
    }

    /// The function's `request` argument: `{query, headers, body}` (`body` a `BSON.Binary`, absent
    /// without a body).
    pub(super) fn argument(&self, body: &[u8]) -> Document {
        let mut headers = Document::new();
        for (name, values) in &self.headers {
            headers.insert(name.clone(), values.clone());
        }
        let mut d = doc! {"query": self.query.clone(), "headers": headers};
        if !body.is_empty() {
            d.insert("body", Binary { subtype: BinarySubtype::Generic, bytes: body.to_vec() });
        }
        d
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use axum::http::{HeaderMap, HeaderValue, Method};

    #[test]
    fn query_headers_and_context_request() {
        let mut headers = HeaderMap::new();
        headers.append("x-tag", HeaderValue::from_static("a"));
        headers.append("x-tag", HeaderValue::from_static("b"));
        headers.insert("content-type", HeaderValue::from_static("application/json"));
        headers.insert("apikey", HeaderValue::from_static("k"));
        headers.insert("authorization", HeaderValue::from_static("Bearer t"));
        headers.insert("cookie", HeaderValue::from_static("c=1"));
        headers.insert("user-agent", HeaderValue::from_static("curl/8"));
        let req = Request {
            method: Method::POST,
            route: "/hook".into(),
            query: Some("b=2&secret=s%3D1&a=1&b=3&msg=hello%20there".into()),
            headers,
            body: b"{}".to_vec(),
            client: Some("127.0.0.1".parse().expect("ip")),
        };
        let seen = Seen::new(&req, "/hook", "hookFn", true, true);
        assert_eq!(seen.query, doc! {"b": "2", "a": "1", "msg": "hello there"}, "first occurrence, decoded, no secret");
        let names: Vec<&str> = seen.headers.iter().map(|(n, _)| n.as_str()).collect();
        assert_eq!(names, ["X-Tag", "Content-Type", "User-Agent"], "credentials and cookies stripped");
        assert_eq!(seen.headers[0].1, vec!["a".to_string(), "b".to_string()]);
        assert_eq!(seen.info.raw_query_string, "b=2&a=1&b=3&msg=hello%20there");
        assert_eq!((seen.info.webhook_url.as_deref(), seen.info.action.as_deref(), seen.info.http_method.as_str()), (Some("/hook"), Some("hookFn"), "POST"));
        assert_eq!((seen.info.remote_ip_address.as_str(), seen.info.http_user_agent.as_deref()), ("127.0.0.1", Some("curl/8")));
        let arg = seen.argument(&req.body);
        assert_eq!(arg.get_binary_generic("body").map(|b| b.as_slice()), Ok(&b"{}"[..]));
        assert!(!seen.argument(b"").contains_key("body"), "no body: undefined");
        let kept = Seen::new(&req, "/hook", "hookFn", false, false);
        assert!(kept.headers.iter().any(|(n, v)| n == "Authorization" && v == &vec!["Bearer t".to_string()]), "a system endpoint's function sees Authorization");
        assert_eq!(kept.query.get_str("secret"), Ok("s=1"), "without secret validation, `secret` is an ordinary parameter");
        assert_eq!(kept.info.raw_query_string, "b=2&secret=s%3D1&a=1&b=3&msg=hello%20there");
    }
}
