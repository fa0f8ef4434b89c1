//! A watch stream ends when its access token expires (issue 10 item 7). The server runs in-process
//! with an injected clock, over real HTTP on loopback, so expiry comes from moving the clock — no
//! waiting, no sleeps.

use base64::Engine;
use realm_wasm_server::Clock;
use realm_wasm_server::ServerSettings;
use serde_json::{json, Value};
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::time::Duration;

/// A clock the test moves; sleepers wake when it passes their deadline.
struct TestClock(tokio::sync::watch::Sender<u64>);

impl Clock for TestClock {
    fn now(&self) -> u64 {
        *self.0.borrow()
    }

    fn sleep_until(&self, at: u64) -> Pin<Box<dyn Future<Output = ()> + Send>> {
        let mut now = self.0.subscribe();
        Box::pin(async move {
            if now.wait_for(|t| *t >= at).await.is_err() {
                std::future::pending::<()>().await;
            }
        })
    }
}

impl TestClock {
    fn advance(&self, secs: u64) {
        self.0.send_modify(|t| *t += secs);
    }
}

/// Reads SSE blocks off a streaming response.
struct Events {
    resp: reqwest::Response,
    buf: String,
}

impl Events {
    /// The next event with data as (type, JSON), skipping comments; `None` at the end of the stream.
    async fn next(&mut self) -> Option<(String, Value)> {
        loop {
            while let Some(i) = self.buf.find("\n\n") {
                let block: String = self.buf.drain(..i + 2).collect();
                let mut kind = "message".to_string();
                let mut data = None;
                for line in block.lines() {
                    if let Some(v) = line.strip_prefix("event: ") {
                        kind = v.to_string();
                    } else if let Some(v) = line.strip_prefix("data: ") {
                        data = Some(v.replace("%0A", "\n").replace("%0D", "\r").replace("%25", "%"));
                    }
                }
                if let Some(data) = data {
                    return Some((kind, serde_json::from_str(&data).expect("event JSON")));
                }
            }
            let chunk = self.resp.chunk().await.expect("chunk")?;
            self.buf.push_str(std::str::from_utf8(&chunk).expect("utf-8"));
        }
    }
}

#[tokio::test]
async fn watch_ends_when_its_access_token_expires() {
    let tmp = tempfile::tempdir().expect("tmp");
    let clock = Arc::new(TestClock(tokio::sync::watch::Sender::new(1_700_000_000)));
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let addr = listener.local_addr().expect("addr");
    let mut settings = ServerSettings::new(addr, tmp.path().to_path_buf());
    settings.access_token_ttl_secs = 60;
    let state = realm_wasm_server::open_state_with_clock(&settings, addr, clock.clone()).expect("state");
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let server = tokio::spawn(realm_wasm_server::serve(listener, state, async {
        let _ = stopped.await;
    }));

    let c = reqwest::Client::new();
    let api = format!("http://{addr}/api/client/v2.0/app/{}", realm_wasm_server::DEFAULT_APP_ID);
    let login = c.post(format!("{api}/auth/providers/anon-user/login")).json(&json!({})).send().await.expect("login");
    let me: Value = login.json().await.expect("login body");
    let at = me["access_token"].as_str().expect("at").to_string();

    let arg = json!({"database": "w", "collection": "expiring"});
    let call = json!({"name": "watch", "arguments": [arg], "service": "mongodb-atlas"}).to_string();
    let request = base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(call);
    let resp = c.get(format!("{api}/functions/call?baas_request={request}")).bearer_auth(&at).send().await.expect("watch");
    assert_eq!(resp.status().as_u16(), 200);
    let mut events = Events { resp, buf: String::new() };

    // Halfway to expiry the stream still delivers.
    clock.advance(30);
    let insert = json!({"name": "insertOne", "arguments": [{"database": "w", "collection": "expiring", "document": {"_id": 1}}], "service": "mongodb-atlas"});
    let r = c.post(format!("{api}/functions/call")).bearer_auth(&at).json(&insert).send().await.expect("insert");
    assert_eq!(r.status().as_u16(), 200);
    let (kind, event) = tokio::time::timeout(Duration::from_secs(20), events.next()).await.expect("event in time").expect("event");
    assert_eq!((kind.as_str(), &event["operationType"]), ("message", &json!("insert")));

    // At expiry it ends with the error a client sees when its session ends.
    clock.advance(30);
    let end = tokio::time::timeout(Duration::from_secs(20), events.next()).await.expect("the watch stayed open after its token expired");
    let (kind, error) = end.expect("an error event before the end");
    assert_eq!(kind, "error", "{error}");
    assert_eq!(error["error_code"], "InvalidSession", "{error}");
    assert!(error["error"].as_str().is_some_and(|e| e.contains("expired")), "{error}");
    assert!(tokio::time::timeout(Duration::from_secs(20), events.next()).await.expect("end").is_none());

    drop((events, c));
    let _ = stop.send(());
    drop(server);
}
