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
