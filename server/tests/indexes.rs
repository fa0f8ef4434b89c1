//! Indexes declared in configuration (flag, config file, app export) are built and enforced:
//! a unique one refuses a duplicate over HTTP with a 400 naming the index.

mod common;
mod engine_common;

use common::*;
use serde_json::{json, Value};

/// Inserts two documents with the same `sku` into `shop.items`; returns the second answer.
async fn insert_duplicate(s: &Server) -> (u16, Value) {
    let c = client();
    let me = engine_common::anonymous(s, &c).await;
    let insert = |sku: &str| json!({"database": "shop", "collection": "items", "document": {"sku": sku}});
    let (st, r) = mongo(s, &c, &me.access_token, "insertOne", insert("a-1")).await;
    assert_eq!(st, 200, "{r}");
    let (st, r) = mongo(s, &c, &me.access_token, "insertOne", insert("a-2")).await;
    assert_eq!(st, 200, "a different key is accepted: {r}");
    mongo(s, &c, &me.access_token, "insertOne", insert("a-1")).await
}

fn assert_duplicate_key((st, r): (u16, Value)) {
    assert_eq!(st, 400, "{r}");
    let msg = r["error"].as_str().unwrap_or_default();
    assert!(msg.contains("E11000 duplicate key") && msg.contains("sku") && msg.contains("a-1"), "{r}");
}

#[tokio::test]
async fn unique_index_from_the_flag_rejects_a_duplicate() {
    let tmp = tempfile::tempdir().expect("tmp");
    let s = Server::start_with(tmp.path(), &["--index", "shop.items:sku:unique"]);
    assert_duplicate_key(insert_duplicate(&s).await);
}

#[tokio::test]
async fn unique_index_from_the_config_file_rejects_a_duplicate() {
    let tmp = tempfile::tempdir().expect("tmp");
    let file = tmp.path().join("settings.json");
    std::fs::write(&file, r#"{"indexes": ["shop.items:price", "shop.items:sku:unique"]}"#).expect("write");
    let data = tmp.path().join("data");
    let s = Server::start_with(&data, &["--config", file.to_str().expect("utf8")]);
    assert_duplicate_key(insert_duplicate(&s).await);
}

#[tokio::test]
async fn without_a_declared_index_duplicates_are_accepted() {
    let s = Server::start();
    let (st, r) = insert_duplicate(&s).await;
    assert_eq!(st, 200, "{r}");
}

#[tokio::test]
async fn bad_index_declaration_stops_the_server_with_a_message() {
    let tmp = tempfile::tempdir().expect("tmp");
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_realm-wasm-server"))
        .args(["--listen", "127.0.0.1:0", "--data"])
        .arg(tmp.path())
        .args(["--index", "shop.items:sku:sparse"])
        .output()
        .expect("run");
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("index") && err.contains("sparse"), "{err}");
}

/// Copies a directory tree.
fn copy_dir(from: &std::path::Path, to: &std::path::Path) {
    std::fs::create_dir_all(to).expect("mkdir");
    for entry in std::fs::read_dir(from).expect("read_dir").flatten() {
        let target = to.join(entry.file_name());
        if entry.path().is_dir() {
            copy_dir(&entry.path(), &target);
        } else {
            std::fs::copy(entry.path(), target).expect("copy");
        }
    }
}

#[tokio::test]
async fn unique_index_from_the_app_export_rejects_a_duplicate() {
    let tmp = tempfile::tempdir().expect("tmp");
    let app = tmp.path().join("app");
    copy_dir(&common::auth::fixture_app(), &app);
    let items = app.join("data_sources/mongodb-atlas/shop/items");
    std::fs::create_dir_all(&items).expect("mkdir");
    let role = json!({"roles": [{"name": "all", "apply_when": {}, "read": true, "write": true, "insert": true, "delete": true, "search": true}]});
    std::fs::write(items.join("rules.json"), role.to_string()).expect("rules");
    std::fs::write(items.join("indexes.json"), r#"[{"key": {"sku": 1}, "unique": true}]"#).expect("indexes");
    let s = Server::start_with(&tmp.path().join("data"), &["--app", app.to_str().expect("utf8")]);
    assert_duplicate_key(insert_duplicate(&s).await);
}
