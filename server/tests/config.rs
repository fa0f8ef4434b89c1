//! Start-up configuration: the fixture app export loads; invalid exports and settings stop
//! start-up with a message naming the file, the key and the reason; unknown keys only warn.

mod common;
use common::auth::fixture_app;
use common::*;
use std::path::Path;
use std::process::{Command, Stdio};

/// Runs the server expecting it to refuse to start; returns its stderr.
fn refused(args: &[&str]) -> String {
    let data = tempfile::tempdir().expect("tmp");
    let out = Command::new(env!("CARGO_BIN_EXE_realm-wasm-server"))
        .args(["--listen", "127.0.0.1:0", "--data"])
        .arg(data.path())
        .args(args)
        .env("RUST_LOG", "warn")
        .stdin(Stdio::null())
        .output()
        .expect("run");
    assert!(!out.status.success(), "started although it should not: {args:?}");
    assert!(out.stdout.is_empty(), "no start-up line");
    String::from_utf8_lossy(&out.stderr).into_owned()
}

/// A copy of the fixture export with `rel` replaced by `text`.
fn broken_copy(dir: &Path, rel: &str, text: &str) {
    let src = fixture_app();
    for entry in walk(&src) {
        let to = dir.join(entry.strip_prefix(&src).expect("prefix"));
        std::fs::create_dir_all(to.parent().expect("parent")).expect("mkdir");
        std::fs::copy(&entry, &to).expect("copy");
    }
    std::fs::write(dir.join(rel), text).expect("write");
}

fn walk(dir: &Path) -> Vec<std::path::PathBuf> {
    let mut out = Vec::new();
    for e in std::fs::read_dir(dir).expect("read_dir") {
        let p = e.expect("entry").path();
        if p.is_dir() {
            out.extend(walk(&p));
        } else {
            out.push(p);
        }
    }
    out
}

#[test]
fn fixture_export_loads() {
    let tmp = tempfile::tempdir().expect("tmp");
    let app = fixture_app();
    let s = Server::start_with(tmp.path(), &["--app", app.to_str().expect("utf8")]);
    assert_eq!(s.app, "fixture-app-abcde");
    let cfg = realm_wasm_server::load_export(&app).expect("load");
    assert!(cfg.anon_enabled && cfg.api_key_enabled);
    let up = cfg.userpass.expect("userpass");
    assert!(!up.auto_confirm);
    assert_eq!(up.email_confirmation_url.as_deref(), Some("http://localhost:3000/confirm"));
    let ct = cfg.custom_token.expect("custom-token");
    assert_eq!(ct.audience, vec!["fixture-app-abcde".to_string()]);
    assert_eq!(ct.metadata_fields.len(), 2);
    let cud = cfg.custom_user_data.expect("custom user data");
    assert_eq!((cud.database.as_str(), cud.collection.as_str(), cud.user_id_field.as_str()), ("app", "users", "userID"));
    assert_eq!(cfg.export_dir.as_deref(), Some(app.as_path()));
}

#[test]
fn invalid_exports_name_file_key_and_reason() {
    let cases = [
        ("auth/providers.json", r#"{"local-userpass": {"type": "local-userpass", "config": {"autoConfirm": 1}}}"#, "local-userpass.config.autoConfirm"),
        ("auth/providers.json", r#"{"custom-token": {"type": "custom-token", "config": {"signingAlgorithm": "PS512"}}}"#, "signingAlgorithm"),
        ("auth/custom_user_data.json", r#"{"enabled": true, "database_name": "app"}"#, "collection_name"),
        ("realm_config.json", "{\"app_id\": \"bad id!\"}", "app_id"),
        ("realm_config.json", "{oops", "invalid JSON"),
    ];
    for (rel, text, key) in cases {
        let dir = tempfile::tempdir().expect("tmp");
        broken_copy(dir.path(), rel, text);
        let err = refused(&["--app", dir.path().to_str().expect("utf8")]);
        assert!(err.contains(rel) && err.contains(key), "{rel}: expected {key} in {err}");
    }
    let missing = refused(&["--app", "/nonexistent/app-export"]);
    assert!(missing.contains("/nonexistent/app-export"), "{missing}");
}

#[test]
fn bad_settings_stop_startup() {
    assert!(refused(&["--admin-listen", "127.0.0.1:0"]).contains("admin-token"));
    assert!(refused(&["--signing-key", "short"]).contains("signing-key"));
    assert!(refused(&["--email-webhook", "https://example.com/hook"]).contains("email-webhook"));
    let dir = tempfile::tempdir().expect("tmp");
    let file = dir.path().join("settings.json");
    std::fs::write(&file, r#"{"acess-token-ttl": 5}"#).expect("write");
    assert!(refused(&["--config", file.to_str().expect("utf8")]).contains("acess-token-ttl"));
}

#[test]
fn unknown_keys_only_warn() {
    let dir = tempfile::tempdir().expect("tmp");
    broken_copy(dir.path(), "auth/custom_user_data.json", r#"{"enabled": false, "some_future_key": true}"#);
    let data = tempfile::tempdir().expect("tmp");
    let s = Server::start_with(data.path(), &["--app", dir.path().to_str().expect("utf8")]);
    assert_eq!(s.app, "fixture-app-abcde");
}
