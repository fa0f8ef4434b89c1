//! Ordered `insertMany` over HTTP, as MongoDB's default: the documents before the first refused
//! one (duplicate `_id` in the collection or in the batch, unique-index key) stay inserted,
//! durable and watched; it and the rest are not; the answer is the duplicate-key error.

mod common;
mod engine_common;

use common::*;
use engine_common::*;
use serde_json::{json, Value};

fn ids(docs: &Value) -> Vec<String> {
    docs.as_array().expect("array").iter().map(|d| d["_id"].as_str().unwrap_or_default().to_string()).collect()
}

fn assert_duplicate((st, r): &(u16, Value), key: &str) {
    assert_error(*st, r, 400, "MongoDBError");
    let msg = r["error"].as_str().unwrap_or_default();
    assert!(msg.contains("E11000 duplicate key") && msg.contains(key), "{r}");
}

#[tokio::test]
async fn insert_many_keeps_the_documents_before_a_duplicate() {
    let tmp = tempfile::tempdir().expect("tmp");
    let data = tmp.path().join("data");
    let c = client();
    {
        let s = Server::start_in(&data);
        let me = anonymous(&s, &c).await;
        let at = me.access_token.as_str();
        let ns = |coll: &str, extra: Value| {
            let mut v = json!({"database": "ordered", "collection": coll});
            v.as_object_mut().expect("object").extend(extra.as_object().cloned().unwrap_or_default());
            v
        };
        let mut watch = Watch::open(&s, &c, at, ns("c", json!({}))).await;

        // Duplicate of an earlier document of the same batch.
        let r = mongo(&s, &c, at, "insertMany", ns("c", json!({"documents": [{"_id": "a"}, {"_id": "b"}, {"_id": "a", "dup": true}, {"_id": "c"}]}))).await;
        assert_duplicate(&r, "a");
        let (st, found) = mongo(&s, &c, at, "find", ns("c", json!({"query": {}}))).await;
        assert_eq!(st, 200, "{found}");
        assert_eq!(ids(&found), ["a", "b"]);
        let (st, n) = mongo(&s, &c, at, "count", ns("c", json!({"query": {}}))).await;
        assert_eq!((st, int(&n)), (200, 2));
        for want in ["a", "b"] {
            let (_, e) = watch.next_event().await.expect("event");
            assert_eq!((e["operationType"].as_str(), e["documentKey"]["_id"].as_str()), (Some("insert"), Some(want)));
        }

        // Duplicate of a document already in the collection.
        let r = mongo(&s, &c, at, "insertMany", ns("c", json!({"documents": [{"_id": "d"}, {"_id": "b"}, {"_id": "e"}]}))).await;
        assert_duplicate(&r, "b");
        let (_, found) = mongo(&s, &c, at, "find", ns("c", json!({"query": {}}))).await;
        assert_eq!(ids(&found), ["a", "b", "d"]);

        // A refused first document inserts nothing.
        let r = mongo(&s, &c, at, "insertMany", ns("c", json!({"documents": [{"_id": "a"}, {"_id": "f"}]}))).await;
        assert_duplicate(&r, "a");
        let (_, n) = mongo(&s, &c, at, "count", ns("c", json!({"query": {}}))).await;
        assert_eq!(int(&n), 3);

        // The next event is the one for "d": nothing was emitted for refused documents.
        let (st, _) = mongo(&s, &c, at, "insertOne", ns("c", json!({"document": {"_id": "g"}}))).await;
        assert_eq!(st, 200);
        for want in ["d", "g"] {
            let (_, e) = watch.next_event().await.expect("event");
            assert_eq!(e["documentKey"]["_id"].as_str(), Some(want));
        }
    }
    // The kept documents were durable when the error was answered.
    let s = Server::start_in(&data);
    let me = anonymous(&s, &c).await;
    let (_, found) = mongo(&s, &c, &me.access_token, "find", json!({"database": "ordered", "collection": "c", "query": {}})).await;
    assert_eq!(ids(&found), ["a", "b", "d", "g"]);
}

#[tokio::test]
async fn insert_many_stops_at_a_unique_index_violation() {
    let tmp = tempfile::tempdir().expect("tmp");
    let s = Server::start_with(tmp.path(), &["--index", "shop.items:sku:unique"]);
    let c = client();
    let me = anonymous(&s, &c).await;
    let at = me.access_token.as_str();
    let arg = |extra: Value| {
        let mut v = json!({"database": "shop", "collection": "items"});
        v.as_object_mut().expect("object").extend(extra.as_object().cloned().unwrap_or_default());
        v
    };
    let docs = json!([{"_id": "1", "sku": "x"}, {"_id": "2", "sku": "y"}, {"_id": "3", "sku": "x"}, {"_id": "4", "sku": "z"}]);
    let r = mongo(&s, &c, at, "insertMany", arg(json!({"documents": docs}))).await;
    assert_duplicate(&r, "sku");
    let (_, found) = mongo(&s, &c, at, "find", arg(json!({"query": {}}))).await;
    assert_eq!(ids(&found), ["1", "2"]);
    let (_, n) = mongo(&s, &c, at, "count", arg(json!({"query": {}}))).await;
    assert_eq!(int(&n), 2);
}
