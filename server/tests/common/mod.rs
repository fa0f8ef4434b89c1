//! Test harness: runs the real `realm-wasm-server` binary on a free loopback port.

#![allow(dead_code)]

use base64::Engine;
use serde_json::{json, Value};
use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};

pub const APP: &str = "realm-wasm-demo";

/// A running server process (killed on drop).
pub struct Server {
    pub child: Child,
    pub base: String,
    pub data: PathBuf,
    /// The served app id (from the start-up line).
    pub app: String,
    /// Base URL of the admin API, when enabled.
    pub admin: Option<String>,
    _tmp: Option<tempfile::TempDir>,
}

impl Server {
    /// Starts on a fresh temporary data directory.
    pub fn start() -> Server {
        let tmp = tempfile::tempdir().expect("tempdir");
        let mut s = Server::start_in(tmp.path());
        s._tmp = Some(tmp);
        s
    }

    /// Starts on `data` and waits for the start-up line.
    pub fn start_in(data: &Path) -> Server {
        let s = Server::start_with(data, &[]);
        assert_eq!(s.app, APP);
        s
    }

    /// Starts on `data` with extra flags; reads the admin line too when `--admin-listen` is given.
    pub fn start_with(data: &Path, extra: &[&str]) -> Server {
        Server::start_with_env(data, extra, &[])
    }

    /// `start_with`, with extra environment variables for the server process.
    pub fn start_with_env(data: &Path, extra: &[&str], env: &[(&str, &str)]) -> Server {
        let mut child = Command::new(env!("CARGO_BIN_EXE_realm-wasm-server"))
            .args(["--listen", "127.0.0.1:0", "--data"])
            .arg(data)
            .args(extra)
            .envs(env.iter().copied())
            .env("RUST_LOG", "warn")
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .expect("spawn server");
        let stdout = child.stdout.take().expect("stdout");
        let mut reader = BufReader::new(stdout);
        let mut line = String::new();
        reader.read_line(&mut line).expect("read start-up line");
        let line = line.trim_end();
        let prefix = "realm-wasm-server listening on ";
        assert!(line.starts_with(prefix), "unexpected start-up line: {line:?}");
        let rest = &line[prefix.len()..];
        let (base, app) = rest.split_once(' ').expect("app id part");
        let app = app.strip_prefix("app_id=").expect("app_id=").to_string();
        assert!(base.starts_with("http://127.0.0.1:"), "{base}");
        let admin = extra.contains(&"--admin-listen").then(|| {
            let mut admin_line = String::new();
            reader.read_line(&mut admin_line).expect("read admin line");
            let prefix = "realm-wasm-server admin API on ";
            admin_line.trim_end().strip_prefix(prefix).expect("admin line").to_string()
        });
        Server { child, base: base.to_string(), data: data.to_path_buf(), app, admin, _tmp: None }
    }

    pub fn url(&self, path: &str) -> String {
        format!("{}/api/client/v2.0{}", self.base, path)
    }

    pub fn app_url(&self, path: &str) -> String {
        format!("{}/api/client/v2.0/app/{}{}", self.base, self.app, path)
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// A logged-in user as the login response describes it.
#[derive(Debug, Clone)]
pub struct Session {
    pub user_id: String,
    pub access_token: String,
    pub refresh_token: String,
    pub device_id: String,
}

pub fn client() -> reqwest::Client {
    reqwest::Client::new()
}

/// POSTs a JSON body and returns (status, parsed JSON body or Null).
pub async fn post(c: &reqwest::Client, url: &str, token: Option<&str>, body: &Value) -> (u16, Value) {
    let mut req = c.post(url).header("content-type", "application/json").body(body.to_string());
    if let Some(t) = token {
        req = req.bearer_auth(t);
    }
    let resp = req.send().await.expect("send");
    decode(resp).await
}

pub async fn decode(resp: reqwest::Response) -> (u16, Value) {
    let status = resp.status().as_u16();
    let ct = resp
        .headers()
        .get("content-type")
        .map(|v| v.to_str().expect("ct").to_string());
    let text = resp.text().await.expect("body");
    let body = match ct {
        Some(ct) if ct.starts_with("application/json") => serde_json::from_str(&text).expect("valid JSON body"),
        Some(ct) => panic!("unexpected content-type {ct}: {text}"),
        None => {
            assert!(text.is_empty(), "body without content-type: {text}");
            Value::Null
        }
    };
    (status, body)
}

/// Registers and logs in an email/password user.
pub async fn register_and_login(s: &Server, c: &reqwest::Client, email: &str) -> Session {
    let (st, body) = post(c, &s.app_url("/auth/providers/local-userpass/register"), None, &json!({"email": email, "password": "password1"})).await;
    assert!((200..300).contains(&st), "register: {st} {body}");
    login(s, c, email).await
}

pub async fn login(s: &Server, c: &reqwest::Client, email: &str) -> Session {
    let body = json!({
        "username": email, "password": "password1",
        "options": {"device": {"sdkVersion": "2.0.1", "platform": "node", "platformVersion": "20.20.2", "unknownField": {"$numberInt": "1"}}}
    });
    let (st, r) = post(c, &s.app_url("/auth/providers/local-userpass/login"), None, &body).await;
    assert_eq!(st, 200, "login: {r}");
    let field = |k: &str| r[k].as_str().unwrap_or_else(|| panic!("{k} missing in {r}")).to_string();
    Session {
        user_id: field("user_id"),
        access_token: field("access_token"),
        refresh_token: field("refresh_token"),
        device_id: field("device_id"),
    }
}

/// Calls a `mongodb-atlas` function with one argument document.
pub async fn mongo(s: &Server, c: &reqwest::Client, at: &str, name: &str, arg: Value) -> (u16, Value) {
    let body = json!({"name": name, "arguments": [arg], "service": "mongodb-atlas"});
    post(c, &s.app_url("/functions/call"), Some(at), &body).await
}

/// Decodes a JWT's payload (no signature check).
pub fn jwt_payload(token: &str) -> Value {
    let parts: Vec<&str> = token.split('.').collect();
    assert_eq!(parts.len(), 3, "JWT shape");
    let bytes = base64::engine::general_purpose::URL_SAFE_NO_PAD.decode(parts[1]).expect("base64url");
    serde_json::from_slice(&bytes).expect("payload JSON")
}

/// Reads a relaxed/canonical EJSON integer.
pub fn int(v: &Value) -> i64 {
    if let Some(n) = v.as_i64() {
        return n;
    }
    for k in ["$numberInt", "$numberLong"] {
        if let Some(s) = v[k].as_str() {
            return s.parse().expect("int");
        }
    }
    panic!("not an integer: {v}")
}

pub mod auth;

/// Sends a request and decodes the answer.
pub async fn send(req: reqwest::RequestBuilder) -> (u16, Value) {
    decode(req.send().await.expect("send")).await
}

/// Asserts an error answer's status and `error_code`.
pub fn assert_error(st: u16, body: &Value, want_status: u16, want_code: &str) {
    assert_eq!(st, want_status, "{body}");
    assert_eq!(body["error_code"], want_code, "{body}");
    assert!(body["error"].as_str().is_some_and(|e| !e.is_empty()), "{body}");
}

/// Four writers insert `document(id)` into `db.coll` through `s` (ids `w<writer>-<n>`) until
/// `kill_after` inserts were acknowledged, then the server is killed with SIGKILL mid-flight.
/// Returns the ids whose insert was acknowledged (at least `kill_after`).
pub async fn insert_until_sigkill(
    s: &mut Server,
    token: &str,
    (db, coll): (&str, &str),
    document: fn(&str) -> Value,
    kill_after: usize,
) -> Vec<String> {
    use std::sync::atomic::{AtomicUsize, Ordering};
    use std::sync::{Arc, Mutex};
    let acked = Arc::new(Mutex::new(Vec::<String>::new()));
    let count = Arc::new(AtomicUsize::new(0));
    let reached = Arc::new(tokio::sync::Notify::new());
    let url = s.app_url("/functions/call");
    let writers: Vec<_> = (0..4)
        .map(|w| {
            let (c, url, token, db, coll) = (client(), url.clone(), token.to_string(), db.to_string(), coll.to_string());
            let (acked, count, reached) = (acked.clone(), count.clone(), reached.clone());
            tokio::spawn(async move {
                for i in 0.. {
                    let id = format!("w{w}-{i}");
                    let body = json!({"name": "insertOne", "service": "mongodb-atlas", "arguments": [
                        {"database": db, "collection": coll, "document": document(&id)}
                    ]});
                    // After the kill, requests fail: the writer stops.
                    let Ok(resp) = c.post(&url).bearer_auth(&token).json(&body).send().await else { return };
                    if resp.status().as_u16() != 200 || resp.text().await.is_err() {
                        return;
                    }
                    acked.lock().expect("lock").push(id);
                    if count.fetch_add(1, Ordering::SeqCst) + 1 == kill_after {
                        reached.notify_one();
                    }
                }
            })
        })
        .collect();
    reached.notified().await;
    s.child.kill().expect("SIGKILL");
    s.child.wait().expect("wait");
    for w in writers {
        w.await.expect("writer");
    }
    let acked = acked.lock().expect("lock").clone();
    assert!(acked.len() >= kill_after, "{} acknowledged", acked.len());
    acked
}
