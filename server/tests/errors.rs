//! Bad input answers with the right 4xx and a `{error, error_code, link}` JSON body, never a 500.

mod common;
use common::*;
use serde_json::{json, Value};

fn assert_error(st: u16, body: &Value, want_status: u16, want_code: &str) {
    assert_eq!(st, want_status, "{body}");
    assert_eq!(body["error_code"], want_code, "{body}");
    assert!(body["error"].as_str().is_some_and(|e| !e.is_empty()), "{body}");
    assert!(body.get("link").is_some(), "{body}");
}

async fn raw_post(c: &reqwest::Client, url: &str, token: Option<&str>, body: &'static str) -> (u16, Value) {
    let mut req = c.post(url).header("content-type", "application/json").body(body);
    if let Some(t) = token {
        req = req.bearer_auth(t);
    }
    decode(req.send().await.expect("send")).await
}

#[tokio::test]
async fn auth_errors() {
    let s = Server::start();
    let c = client();
    let reg = s.app_url("/auth/providers/local-userpass/register");
    // Public provider routes ignore an unrelated Authorization header.
    let resp = c
        .post(&reg)
        .bearer_auth("some-other-users-expired-token")
        .json(&json!({"email": "x@example.com", "password": "password1"}))
        .send()
        .await
        .expect("register");
    assert!(resp.status().is_success());
    let (st, r) = post(&c, &reg, None, &json!({"email": "x@example.com", "password": "password1"})).await;
    assert_error(st, &r, 409, "AccountNameInUse");
    let (st, r) = post(&c, &reg, None, &json!({"email": "y@example.com", "password": "short"})).await;
    assert_error(st, &r, 400, "BadRequest");
    let long = "p".repeat(129);
    let (st, r) = post(&c, &reg, None, &json!({"email": "y@example.com", "password": long})).await;
    assert_error(st, &r, 400, "BadRequest");
    let (st, r) = post(&c, &reg, None, &json!({"email": "not-an-email", "password": "password1"})).await;
    assert_error(st, &r, 400, "BadRequest");
    let (st, r) = post(&c, &reg, None, &json!({"email": 5, "password": "password1"})).await;
    assert_error(st, &r, 400, "BadRequest");

    let login = s.app_url("/auth/providers/local-userpass/login");
    let (st, r) = post(&c, &login, None, &json!({"username": "x@example.com", "password": "wrong-password"})).await;
    assert_error(st, &r, 401, "InvalidPassword");
    let (st, r) = post(&c, &login, None, &json!({"username": "nobody@example.com", "password": "password1"})).await;
    assert_error(st, &r, 401, "InvalidPassword");
    let (st, r) = post(&c, &login, None, &json!({"username": ["x"], "password": "password1"})).await;
    assert_error(st, &r, 400, "BadRequest");
    let (st, r) = post(&c, &s.app_url("/auth/providers/oauth2-google/login"), None, &json!({"authCode": "x"})).await;
    assert_error(st, &r, 404, "AuthProviderNotFound");

    // Tokens: missing, garbage, "null", a refresh token used as access token, forged signature.
    let me = login_ok(&s, &c).await;
    for token in [None, Some("garbage"), Some("null"), Some(me.refresh_token.as_str())] {
        let mut req = c.get(s.url("/auth/profile"));
        if let Some(t) = token {
            req = req.bearer_auth(t);
        }
        let (st, r) = decode(req.send().await.expect("profile")).await;
        assert_error(st, &r, 401, "InvalidSession");
        assert!(r["error"].as_str().is_some_and(|e| e.starts_with("invalid session")));
    }
    let mut parts: Vec<String> = me.access_token.split('.').map(str::to_string).collect();
    parts[2] = "AAAA".into();
    let forged = parts.join(".");
    let (st, r) = mongo(&s, &c, &forged, "find", json!({"database": "a", "collection": "b"})).await;
    assert_error(st, &r, 401, "InvalidSession");
    let (st, r) = decode(c.post(s.url("/auth/session")).bearer_auth(&me.access_token).send().await.expect("refresh")).await;
    assert_error(st, &r, 401, "InvalidSession");
}

async fn login_ok(s: &Server, c: &reqwest::Client) -> Session {
    login(s, c, "x@example.com").await
}

#[tokio::test]
async fn malformed_requests() {
    let s = Server::start();
    let c = client();
    let me = register_and_login(&s, &c, "m@example.com").await;
    let at = Some(me.access_token.as_str());
    let call = s.app_url("/functions/call");

    for bad in ["{", "not json", "", "[1,2]", "42", "{\"name\": {\"$numberInt\": \"x\"}}"] {
        let (st, r) = raw_post(&c, &call, at, bad).await;
        assert_error(st, &r, 400, "BadRequest");
    }
    let (st, r) = raw_post(&c, &s.app_url("/auth/providers/local-userpass/register"), None, "{oops").await;
    assert_error(st, &r, 400, "BadRequest");
    let (st, r) = raw_post(&c, &s.app_url("/auth/providers/anon-user/login"), None, "[]").await;
    assert_error(st, &r, 400, "BadRequest");

    let cases: Vec<(Value, u16, &str)> = vec![
        (json!({"name": 5, "arguments": [], "service": "mongodb-atlas"}), 400, "BadRequest"),
        (json!({"name": "find", "arguments": "x", "service": "mongodb-atlas"}), 400, "BadRequest"),
        (json!({"name": "find", "arguments": [], "service": 7}), 400, "BadRequest"),
        (json!({"name": "find", "arguments": [1], "service": "mongodb-atlas"}), 400, "InvalidParameter"),
        (json!({"name": "find", "arguments": [], "service": "mongodb-atlas"}), 400, "InvalidParameter"),
        (json!({"name": "find", "arguments": [{"database": 1, "collection": "c"}], "service": "mongodb-atlas"}), 400, "InvalidParameter"),
        (json!({"name": "find", "arguments": [{"database": "d", "collection": "c", "query": 3}], "service": "mongodb-atlas"}), 400, "InvalidParameter"),
        (json!({"name": "find", "arguments": [{"database": "d", "collection": "c", "limit": "ten"}], "service": "mongodb-atlas"}), 400, "InvalidParameter"),
        (json!({"name": "insertOne", "arguments": [{"database": "d", "collection": "c"}], "service": "mongodb-atlas"}), 400, "InvalidParameter"),
        (json!({"name": "insertMany", "arguments": [{"database": "d", "collection": "c", "documents": [1]}], "service": "mongodb-atlas"}), 400, "InvalidParameter"),
        (json!({"name": "updateOne", "arguments": [{"database": "d", "collection": "c", "query": {}, "update": {"$set": {"_id": 1}}}], "service": "mongodb-atlas"}), 400, "MongoDBError"),
        (json!({"name": "find", "arguments": [{"database": "d", "collection": "c"}], "service": "other-svc"}), 404, "ServiceNotFound"),
        (json!({"name": "myFunction", "arguments": []}), 404, "FunctionNotFound"),
        (json!({"name": "nope", "arguments": [{}], "service": "mongodb-atlas"}), 404, "FunctionNotFound"),
        (json!({"name": "watch", "arguments": [{"database": "d", "collection": "c"}], "service": "mongodb-atlas"}), 400, "FunctionNotFound"),
        (json!({"name": "aggregate", "arguments": [{"database": "d", "collection": "c", "pipeline": {}}], "service": "mongodb-atlas"}), 400, "InvalidParameter"),
    ];
    for (body, status, code) in cases {
        let (st, r) = post(&c, &call, at, &body).await;
        assert_eq!((st, r["error_code"].as_str()), (status, Some(code)), "{body} → {r}");
    }

    // Unsupported operators are named in the error.
    for (name, arg, op) in [
        ("find", json!({"query": {"a": {"$near": [0, 0]}}}), "$near"),
        ("count", json!({"query": {"$where": "true"}}), "$where"),
        ("updateMany", json!({"query": {}, "update": {"$bit": {"a": {"and": 1}}}}), "$bit"),
        ("deleteOne", json!({"query": {"a": {"$geoWithin": {}}}}), "$geoWithin"),
        ("aggregate", json!({"pipeline": [{"$out": "x"}]}), "$out"),
        ("aggregate", json!({"pipeline": [{"$project": {"x": {"$zip": {}}}}]}), "$zip"),
    ] {
        let mut arg = arg;
        arg["database"] = json!("d");
        arg["collection"] = json!("c");
        let (st, r) = mongo(&s, &c, &me.access_token, name, arg).await;
        assert_error(st, &r, 400, "MongoDBError");
        assert!(r["error"].as_str().is_some_and(|e| e.contains(op)), "{r}");
    }

    // Duplicate _id.
    let doc = json!({"database": "d", "collection": "c", "document": {"_id": "same"}});
    assert_eq!(mongo(&s, &c, &me.access_token, "insertOne", doc.clone()).await.0, 200);
    let (st, r) = mongo(&s, &c, &me.access_token, "insertOne", doc).await;
    assert_error(st, &r, 400, "MongoDBError");

    // Wrong app id, unknown routes, wrong methods.
    let (st, r) = decode(c.get(format!("{}/api/client/v2.0/app/other-app/location", s.base)).send().await.expect("send")).await;
    assert_error(st, &r, 404, "AppNotFound");
    let (st, r) = post(&c, &format!("{}/api/client/v2.0/app/other-app/functions/call", s.base), at, &json!({"name": "find", "arguments": [], "service": "mongodb-atlas"})).await;
    assert_error(st, &r, 404, "AppNotFound");
    for path in ["/", "/nope", "/api/client/v2.0/app/realm-wasm-demo/nothing", "/api/client/v2.0/auth/nothing"] {
        let (st, r) = decode(c.get(format!("{}{}", s.base, path)).send().await.expect("send")).await;
        assert_error(st, &r, 404, "NotFound");
    }
    let (st, r) = decode(c.put(s.url("/auth/profile")).send().await.expect("send")).await;
    assert_error(st, &r, 405, "MethodNotAllowed");

    // Oversized bodies are refused with a JSON 413 (announced size; the body is never sent, so
    // the early answer cannot race with a half-written request).
    let (st, r) = oversized_request(&s, &me.access_token).await;
    assert_eq!(st, 413, "{r}");
    assert!(r["error"].is_string(), "{r}");

    // The server is still healthy.
    let (st, _) = mongo(&s, &c, &me.access_token, "count", json!({"database": "d", "collection": "c"})).await;
    assert_eq!(st, 200);
}

#[tokio::test]
async fn cors_on_success_error_and_preflight() {
    let s = Server::start();
    let c = client();
    let origin = "http://localhost:5173";

    let resp = c.get(s.app_url("/location")).header("origin", origin).send().await.expect("location");
    assert_eq!(resp.status(), 200);
    assert_eq!(resp.headers()["access-control-allow-origin"], origin);

    let resp = c.get(s.url("/auth/profile")).header("origin", origin).send().await.expect("profile");
    assert_eq!(resp.status(), 401);
    assert_eq!(resp.headers()["access-control-allow-origin"], origin);

    let resp = c.get(format!("{}/unknown", s.base)).send().await.expect("unknown");
    assert_eq!(resp.status(), 404);
    assert_eq!(resp.headers()["access-control-allow-origin"], "*");

    for path in ["/api/client/v2.0/auth/profile", "/api/client/v2.0/app/realm-wasm-demo/functions/call", "/api/client/v2.0/auth/session"] {
        let resp = c
            .request(reqwest::Method::OPTIONS, format!("{}{}", s.base, path))
            .header("origin", origin)
            .header("access-control-request-method", "DELETE")
            .header("access-control-request-headers", "authorization,content-type")
            .send()
            .await
            .expect("preflight");
        assert!(resp.status().is_success(), "{}", resp.status());
        let h = resp.headers();
        assert_eq!(h["access-control-allow-origin"], origin);
        let methods = h["access-control-allow-methods"].to_str().expect("methods").to_uppercase();
        for m in ["GET", "POST", "PUT", "DELETE"] {
            assert!(methods.contains(m), "{methods}");
        }
        let headers = h["access-control-allow-headers"].to_str().expect("headers").to_lowercase();
        assert!(headers.contains("authorization") && headers.contains("content-type"), "{headers}");
        assert!(h.contains_key("access-control-max-age"));
    }
}

/// Sends only the head of a POST announcing a 17 MiB body and reads the answer.
async fn oversized_request(s: &Server, token: &str) -> (u16, Value) {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let addr = s.base.trim_start_matches("http://").to_string();
    let mut sock = tokio::net::TcpStream::connect(&addr).await.expect("connect");
    let head = format!(
        "POST /api/client/v2.0/app/{APP}/functions/call HTTP/1.1\r\nHost: {addr}\r\nAuthorization: Bearer {token}\r\n\
         Content-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
        17 * 1024 * 1024
    );
    sock.write_all(head.as_bytes()).await.expect("write head");
    let mut raw = Vec::new();
    sock.read_to_end(&mut raw).await.expect("read answer");
    let text = String::from_utf8_lossy(&raw).to_string();
    let status: u16 = text.split(' ').nth(1).and_then(|c| c.parse().ok()).expect("status line");
    assert!(text.to_lowercase().contains("content-type: application/json"), "{text}");
    let body = text.split("\r\n\r\n").nth(1).unwrap_or_default();
    (status, serde_json::from_str(body).unwrap_or(Value::Null))
}
