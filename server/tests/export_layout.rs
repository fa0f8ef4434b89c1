//! An export laid out as `appservices pull` writes it, whose data source is not called
//! `mongodb-atlas` (issue 11 item 3): its rules apply under its own service name, and parts this
//! server does not serve (GraphQL, Sync, schemas) are reported, not fatal.

mod common;
mod engine_common;

use common::*;
use engine_common::anonymous;
use serde_json::json;
use std::path::PathBuf;

#[tokio::test]
async fn a_data_source_is_served_under_the_name_its_config_gives() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let app = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/pull-app");
    let s = Server::start_with(tmp.path(), &["--app", app.to_str().expect("utf-8")]);
    assert_eq!(s.app, "pull-app-qwert");
    let c = client();
    let (alice, bob) = (anonymous(&s, &c).await, anonymous(&s, &c).await);
    let call = |service: &'static str, name: &'static str, arg: serde_json::Value| {
        json!({"name": name, "arguments": [arg], "service": service})
    };
    let items = |extra: serde_json::Value| {
        let mut v = json!({"database": "app", "collection": "items"});
        v.as_object_mut().expect("object").extend(extra.as_object().expect("object").clone());
        v
    };
    let url = s.app_url("/functions/call");
    let (st, r) = post(&c, &url, Some(&alice.access_token), &call("local-mongodb", "insertOne", items(json!({"document": {"owner_id": alice.user_id, "n": 1}})))).await;
    assert_eq!(st, 200, "the rules of data_sources/local-mongodb apply: {r}");
    let (st, r) = post(&c, &url, Some(&alice.access_token), &call("local-mongodb", "insertOne", items(json!({"document": {"owner_id": "someone else"}})))).await;
    assert_error(st, &r, 403, "NotPermitted");
    let (st, r) = post(&c, &url, Some(&bob.access_token), &call("local-mongodb", "find", items(json!({})))).await;
    assert_eq!((st, r), (200, json!([])), "bob sees none of alice's items");
    let (st, r) = post(&c, &url, Some(&alice.access_token), &call("local-mongodb", "count", items(json!({})))).await;
    assert_eq!((st, int(&r)), (200, 1));
    let (st, r) = post(&c, &url, Some(&alice.access_token), &call("mongodb-atlas", "find", items(json!({})))).await;
    assert_error(st, &r, 404, "ServiceNotFound");
}

/// Issue 11 item 4: `findOneAndUpdate` with a replacement document (no operators) replaces, and
/// upserts with `upsert`, as Atlas accepted it — realm-web's own test sends
/// `findOneAndUpdate({name: "Bob"}, {name: "Bobby"}, {returnNewDocument: true})`.
#[tokio::test]
async fn find_one_and_update_with_a_replacement_replaces_and_upserts() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let app = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/pull-app");
    let s = Server::start_with(tmp.path(), &["--app", app.to_str().expect("utf-8")]);
    let c = client();
    let alice = anonymous(&s, &c).await;
    let url = s.app_url("/functions/call");
    let call = |name: &str, arg: serde_json::Value| {
        let mut a = json!({"database": "app", "collection": "items"});
        a.as_object_mut().expect("object").extend(arg.as_object().expect("object").clone());
        json!({"name": name, "arguments": [a], "service": "local-mongodb"})
    };
    let me = alice.user_id.clone();
    let (st, _) = post(&c, &url, Some(&alice.access_token), &call("insertOne", json!({"document": {"_id": 1, "owner_id": me, "name": "Bob", "age": 40}}))).await;
    assert_eq!(st, 200);
    let replace = json!({"filter": {"name": "Bob"}, "update": {"owner_id": me, "name": "Bobby"}, "returnNewDocument": true});
    let (st, r) = post(&c, &url, Some(&alice.access_token), &call("findOneAndUpdate", replace)).await;
    assert_eq!((st, &r), (200, &json!({"_id": {"$numberInt": "1"}, "owner_id": me, "name": "Bobby"})), "replaced whole: `age` is gone");
    let upsert = json!({"filter": {"name": "Carol"}, "update": {"owner_id": me, "name": "Carol"}, "upsert": true, "returnNewDocument": true});
    let (st, r) = post(&c, &url, Some(&alice.access_token), &call("findOneAndUpdate", upsert)).await;
    assert_eq!(st, 200, "{r}");
    assert_eq!((r["name"].as_str(), r["owner_id"].as_str(), r.get("_id").is_some()), (Some("Carol"), Some(me.as_str()), true), "{r}");
    let (st, r) = post(&c, &url, Some(&alice.access_token), &call("count", json!({}))).await;
    assert_eq!((st, int(&r)), (200, 2));
    // Operators and plain fields mixed stay refused, as on Atlas.
    let mixed = json!({"filter": {"name": "Carol"}, "update": {"$set": {"a": 1}, "b": 2}});
    let (st, r) = post(&c, &url, Some(&alice.access_token), &call("findOneAndUpdate", mixed)).await;
    assert_eq!(st, 400, "{r}");
}
