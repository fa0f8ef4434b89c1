//! The server at the socket, as a hostile client meets it (issue 10 items 5, 12, 13, 14): idle,
//! half-sent and trickling connections, too many connections, requests hyper cannot parse, the
//! Host header, namespace names, NUL in field names, and secrets in the access log.

mod common;
mod engine_common;

use common::*;
use engine_common::anonymous;
use serde_json::{json, Value};
use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::process::{Command, Stdio};
use std::time::Duration;

fn server_with(flags: &[&str]) -> (Server, tempfile::TempDir) {
    let tmp = tempfile::tempdir().expect("tempdir");
    let s = Server::start_with(tmp.path(), flags);
    (s, tmp)
}

fn connect(s: &Server) -> TcpStream {
    let addr = s.base.trim_start_matches("http://");
    let tcp = TcpStream::connect(addr).expect("connect");
    // A guard against a hang in the test itself, far above every server timeout used here.
    tcp.set_read_timeout(Some(Duration::from_secs(60))).expect("timeout");
    tcp
}

/// Reads until the server closes the connection; returns what it sent.
fn read_to_close(mut tcp: TcpStream) -> String {
    let mut out = Vec::new();
    match tcp.read_to_end(&mut out) {
        Ok(_) => String::from_utf8_lossy(&out).into_owned(),
        Err(e) if e.kind() == std::io::ErrorKind::ConnectionReset => String::from_utf8_lossy(&out).into_owned(),
        Err(e) => panic!("the server kept the connection open: {e}"),
    }
}

/// Status and JSON body of a raw HTTP/1.1 answer.
fn parse_answer(raw: &str) -> (u16, Value) {
    let (head, body) = raw.split_once("\r\n\r\n").unwrap_or_else(|| panic!("no HTTP answer: {raw:?}"));
    let status = head.split(' ').nth(1).and_then(|s| s.parse().ok()).expect("status");
    assert!(head.to_ascii_lowercase().contains("content-type: application/json"), "{head}");
    (status, serde_json::from_str(body).unwrap_or_else(|e| panic!("{e}: {body:?}")))
}

#[test]
fn idle_and_half_sent_connections_are_closed() {
    let (s, _tmp) = server_with(&["--header-timeout", "1"]);
    let idle = connect(&s);
    assert_eq!(read_to_close(idle), "", "an idle connection is closed without an answer");
    let mut half = connect(&s);
    half.write_all(b"GET /api/client/v2.0/app/realm-wasm-demo/location HTTP/1.1\r\nHost: x\r\n").expect("write");
    read_to_close(half);
    // A keep-alive connection that went quiet after a request is closed too.
    let mut kept = connect(&s);
    kept.write_all(b"GET /api/client/v2.0/app/realm-wasm-demo/location HTTP/1.1\r\nHost: x\r\n\r\n").expect("write");
    let answer = read_to_close(kept);
    assert!(answer.starts_with("HTTP/1.1 200"), "{answer}");
}

#[test]
fn a_trickling_body_times_out_with_an_error_answer() {
    let (s, _tmp) = server_with(&["--body-timeout", "1"]);
    let mut tcp = connect(&s);
    let head = "POST /api/client/v2.0/app/realm-wasm-demo/auth/providers/anon-user/login HTTP/1.1\r\nHost: x\r\ncontent-type: application/json\r\ncontent-length: 100\r\n\r\n{";
    tcp.write_all(head.as_bytes()).expect("write");
    let (status, body) = parse_answer(&read_to_close(tcp));
    assert_eq!((status, body["error_code"].as_str()), (408, Some("RequestTimeout")), "{body}");
}

#[tokio::test]
async fn connections_beyond_the_limit_wait_for_a_slot() {
    let (s, _tmp) = server_with(&["--max-connections", "2"]);
    let c = client();
    let url = s.app_url("/location");
    let holders: Vec<TcpStream> = (0..2).map(|_| connect(&s)).collect();
    let waiting = tokio::spawn({
        let c = c.clone();
        async move { c.get(url).send().await.map(|r| r.status().as_u16()) }
    });
    // Both slots are held by idle connections: the third is not served while they stay open.
    let early = tokio::time::timeout(Duration::from_millis(700), async { while !waiting.is_finished() { tokio::task::yield_now().await } }).await;
    assert!(early.is_err(), "a third connection was served while two idle ones held both slots");
    drop(holders);
    assert_eq!(waiting.await.expect("join").expect("answer"), 200);
}

#[test]
fn requests_hyper_cannot_parse_get_json_errors() {
    let s = Server::start();
    let cases: Vec<(Vec<u8>, u16)> = vec![
        (b"GARBAGE\r\n\r\n".to_vec(), 400),
        (b"GET / HTTP/9.9\r\nHost: x\r\n\r\n".to_vec(), 400),
        (b"GET / HTTP/1.1\r\nHo st: x\r\n\r\n".to_vec(), 400),
        (format!("GET /{} HTTP/1.1\r\nHost: x\r\n\r\n", "a".repeat(70_000)).into_bytes(), 414),
        (format!("GET / HTTP/1.1\r\nHost: x\r\nx-big: {}\r\n\r\n", "b".repeat(300_000)).into_bytes(), 431),
    ];
    for (request, want) in cases {
        let mut tcp = connect(&s);
        let _ = tcp.write_all(&request);
        let raw = read_to_close(tcp);
        let (status, body) = parse_answer(&raw);
        assert_eq!(status, want, "{}: {raw}", String::from_utf8_lossy(&request[..40.min(request.len())]));
        assert!(body["error"].as_str().is_some_and(|e| !e.is_empty()) && body["error_code"].is_string(), "{body}");
    }
}

#[tokio::test]
async fn location_comes_from_configuration_not_the_host_header() {
    let s = Server::start();
    let c = client();
    let (st, r) = send(c.get(s.app_url("/location")).header("host", "evil.example")).await;
    assert_eq!(st, 200);
    assert_eq!(r["hostname"], s.base.as_str(), "{r}");
    let (s2, _tmp) = server_with(&["--public-url", "https://realm.example.com/"]);
    let (st, r) = send(c.get(s2.app_url("/location")).header("host", "evil.example")).await;
    assert_eq!((st, r["hostname"].as_str(), r["ws_hostname"].as_str()), (200, Some("https://realm.example.com"), Some("wss://realm.example.com")));
}

#[tokio::test]
async fn namespace_names_follow_mongodb_rules_and_nul_field_names_are_refused() {
    let s = Server::start();
    let c = client();
    let at = anonymous(&s, &c).await.access_token;
    let long = "n".repeat(8 * 1024 * 1024);
    for (db, coll) in [("db", "system.users"), ("db", ".."), ("db", " "), ("a b", "c"), ("db", long.as_str()), (long.as_str(), "c")] {
        let (st, r) = mongo(&s, &c, &at, "insertOne", json!({"database": db, "collection": coll, "document": {"a": 1}})).await;
        assert_error(st, &r, 400, "InvalidParameter");
    }
    for doc in [json!({"a\u{0}b": 1}), json!({"a": {"b\u{0}": 1}})] {
        let (st, r) = mongo(&s, &c, &at, "insertOne", json!({"database": "db", "collection": "c", "document": doc})).await;
        assert_error(st, &r, 400, "MongoDBError");
    }
    let (st, r) = mongo(&s, &c, &at, "insertOne", json!({"database": "db", "collection": "c", "document": {"_id": 1}})).await;
    assert_eq!(st, 200, "{r}");
    let (st, r) = mongo(&s, &c, &at, "updateOne", json!({"database": "db", "collection": "c", "query": {"_id": 1}, "update": {"$set": {"x\u{0}": 1}}})).await;
    assert_error(st, &r, 400, "MongoDBError");
}

#[tokio::test]
async fn tokens_and_passwords_never_reach_the_log() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let mut child = Command::new(env!("CARGO_BIN_EXE_realm-wasm-server"))
        .args(["--listen", "127.0.0.1:0", "--data"])
        .arg(tmp.path())
        .env("RUST_LOG", "debug")
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn");
    let mut line = String::new();
    BufReader::new(child.stdout.take().expect("stdout")).read_line(&mut line).expect("start-up line");
    let base = line.split_whitespace().nth(3).expect("base url").to_string();
    let app = |p: &str| format!("{base}/api/client/v2.0/app/realm-wasm-demo{p}");
    let c = client();
    let password = "hunter2-secret-password";
    let (st, _) = post(&c, &app("/auth/providers/local-userpass/register"), None, &json!({"email": "log@example.com", "password": password})).await;
    assert_eq!(st, 201);
    let (st, r) = post(&c, &app("/auth/providers/local-userpass/login"), None, &json!({"username": "log@example.com", "password": password})).await;
    assert_eq!(st, 200, "{r}");
    let (at, rt) = (r["access_token"].as_str().expect("at").to_string(), r["refresh_token"].as_str().expect("rt").to_string());
    // The streaming route takes the access token in the query string, as realm-web sends it.
    use base64::Engine;
    let request = json!({"name": "watch", "arguments": [{"database": "db", "collection": "c"}], "service": "mongodb-atlas"}).to_string();
    let encoded = base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(request);
    let url = app(&format!("/functions/call?baas_request={encoded}&baas_at={at}"));
    let resp = c.get(&url).send().await.expect("watch");
    assert_eq!(resp.status().as_u16(), 200);
    drop(resp);
    let (st, _) = send(c.post(format!("{base}/api/client/v2.0/auth/session")).bearer_auth(&rt)).await;
    assert_eq!(st, 201);
    let (st, _) = send(c.get(format!("{base}/api/client/v2.0/auth/profile?token={at}")).bearer_auth(&at)).await;
    assert_eq!(st, 200);
    let _ = child.kill();
    let mut log = String::new();
    child.stderr.take().expect("stderr").read_to_string(&mut log).expect("log");
    let _ = child.wait();
    assert!(log.contains("/functions/call"), "the access log names the path: {log}");
    for secret in [at.as_str(), rt.as_str(), password] {
        assert!(!log.contains(secret), "a secret reached the log: {secret}");
    }
}
