//! Helpers for the auth tests: the fixture app export, a webhook that receives the server's
//! confirmation / reset links, custom JWTs.

use serde_json::{json, Value};
use std::path::PathBuf;
use tokio::sync::mpsc;

/// The exported App Services app checked in under tests/fixtures.
pub fn fixture_app() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/auth-app")
}

/// Its custom-token key (fixture secrets.json).
pub const FIXTURE_JWT_KEY: &str = "fixture-only-hs256-key-not-a-real-secret-0123456789";

/// A local HTTP endpoint collecting the JSON bodies POSTed to it.
pub struct Webhook {
    pub url: String,
    rx: mpsc::UnboundedReceiver<Value>,
}

impl Webhook {
    pub async fn start() -> Webhook {
        let (tx, rx) = mpsc::unbounded_channel();
        let app = axum::Router::new().route(
            "/mail",
            axum::routing::post(move |axum::Json(v): axum::Json<Value>| {
                let tx = tx.clone();
                async move {
                    let _ = tx.send(v);
                    axum::http::StatusCode::NO_CONTENT
                }
            }),
        );
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("bind");
        let url = format!("http://{}/mail", listener.local_addr().expect("addr"));
        tokio::spawn(async move { axum::serve(listener, app).await });
        Webhook { url, rx }
    }

    /// The next message (fails the test if none arrives within 20 s).
    pub async fn next(&mut self) -> Value {
        tokio::time::timeout(std::time::Duration::from_secs(20), self.rx.recv())
            .await
            .expect("no webhook message within 20 s")
            .expect("webhook closed")
    }
}

/// An HS256 JWT for the fixture's custom-token provider.
pub fn custom_jwt(claims: Value) -> String {
    use jsonwebtoken::{encode, EncodingKey, Header};
    encode(&Header::default(), &claims, &EncodingKey::from_secret(FIXTURE_JWT_KEY.as_bytes())).expect("sign")
}

/// Seconds since the epoch.
pub fn now() -> u64 {
    std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).expect("clock").as_secs()
}

/// Standard claims for `sub`, valid for ten minutes.
pub fn claims(sub: &str, email: &str) -> Value {
    json!({"sub": sub, "aud": "fixture-app-abcde", "exp": now() + 600, "iat": now(), "email": email, "profile": {"name": "Jet"}})
}

/// A copy of the fixture export (laid out as `appservices pull` writes it) whose
/// `auth/providers.json` `edit` changes.
pub fn fixture_with(edit: impl FnOnce(&mut Value)) -> tempfile::TempDir {
    fn copy(from: &std::path::Path, to: &std::path::Path) {
        std::fs::create_dir_all(to).expect("mkdir");
        for entry in std::fs::read_dir(from).expect("read fixture") {
            let entry = entry.expect("entry");
            let target = to.join(entry.file_name());
            if entry.file_type().expect("type").is_dir() {
                copy(&entry.path(), &target);
            } else {
                std::fs::copy(entry.path(), target).expect("copy");
            }
        }
    }
    let dir = tempfile::tempdir().expect("tmp");
    copy(&fixture_app(), dir.path());
    let path = dir.path().join("auth/providers.json");
    let mut providers: Value = serde_json::from_str(&std::fs::read_to_string(&path).expect("providers")).expect("json");
    edit(&mut providers);
    std::fs::write(&path, serde_json::to_string_pretty(&providers).expect("json")).expect("write providers");
    dir
}
