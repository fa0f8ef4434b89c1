//! Watch streams over HTTP (protocol §6.3/§11): change events for insert/update/replace/delete,
//! `ids` and `filter` arguments, percent-escaping, resume by token, and clear errors.

mod common;
mod engine_common;

use common::*;
use engine_common::*;
use serde_json::{json, Value};

fn ns(extra: Value) -> Value {
    let mut v = json!({"database": "w", "collection": "c"});
    if let (Some(o), Some(e)) = (v.as_object_mut(), extra.as_object()) {
        o.extend(e.clone());
    }
    v
}

#[tokio::test]
async fn change_events_ids_filter_escaping_and_resume() {
    let s = Server::start();
    let c = client();
    let me = register_and_login(&s, &c, "watcher@example.com").await;
    let at = me.access_token.as_str();
    let mut all = Watch::open(&s, &c, at, ns(json!({}))).await;
    let mut by_id = Watch::open(&s, &c, at, ns(json!({"ids": [{"$numberInt": "2"}]}))).await;
    let mut inserts = Watch::open(&s, &c, at, ns(json!({"filter": {"operationType": "insert", "fullDocument.a": {"$gte": 2}}}))).await;

    let call = |name: &'static str, arg: Value| mongo(&s, &c, at, name, ns(arg));
    assert_eq!(call("insertOne", json!({"document": {"_id": 1, "a": 1, "s": "100% %0A done\nnext"}})).await.0, 200);
    assert_eq!(call("insertOne", json!({"document": {"_id": 2, "a": 2}})).await.0, 200);
    assert_eq!(call("updateOne", json!({"query": {"_id": 2}, "update": {"$set": {"b": 1}, "$unset": {"a": ""}}})).await.0, 200);
    assert_eq!(call("findOneAndReplace", json!({"filter": {"_id": 1}, "update": {"r": true}})).await.0, 200);
    assert_eq!(call("deleteOne", json!({"query": {"_id": 2}})).await.0, 200);

    let mut events = Vec::new();
    for _ in 0..5 {
        let (kind, e) = all.next_event().await.expect("event");
        assert_eq!(kind, "message");
        events.push(e);
    }
    let ops: Vec<&str> = events.iter().map(|e| e["operationType"].as_str().unwrap_or_default()).collect();
    assert_eq!(ops, ["insert", "insert", "update", "replace", "delete"]);
    assert_eq!(events[0]["fullDocument"]["s"], "100% %0A done\nnext", "percent-escaping round trip");
    assert_eq!(events[0]["ns"], json!({"db": "w", "coll": "c"}));
    assert_eq!(events[2]["updateDescription"], json!({"updatedFields": {"b": 1}, "removedFields": ["a"]}));
    assert_eq!(events[2]["fullDocument"], json!({"_id": 2, "b": 1}));
    assert_eq!(events[3]["fullDocument"], json!({"_id": 1, "r": true}));
    assert_eq!(events[4]["documentKey"], json!({"_id": 2}));
    assert!(events[4].get("fullDocument").is_none());

    let mine: Vec<String> = {
        let mut v = Vec::new();
        for _ in 0..3 {
            v.push(by_id.next_event().await.expect("id event").1["operationType"].as_str().unwrap_or_default().to_string());
        }
        v
    };
    assert_eq!(mine, ["insert", "update", "delete"]);
    let (_, only) = inserts.next_event().await.expect("filtered event");
    assert_eq!(only["documentKey"], json!({"_id": 2}));

    // Resume after the second event: the third and later follow, without loss.
    let token = events[1]["_id"].clone();
    let mut resumed = Watch::open(&s, &c, at, ns(json!({"resumeAfter": token}))).await;
    let (_, first) = resumed.next_event().await.expect("resumed event");
    assert_eq!(first["_id"], events[2]["_id"]);
    assert_eq!(first["operationType"], "update");

    // A token that is not ours is refused up front with a clear error.
    let resp = c.get(watch_url(&s, &ns(json!({"resumeAfter": {"_data": "zz"}})))).bearer_auth(at).send().await.expect("send");
    let (st, body) = decode(resp).await;
    assert_eq!((st, body["error_code"].as_str()), (400, Some("ChangeStreamHistoryLost")), "{body}");
    assert!(body["error"].as_str().is_some_and(|e| e.contains("resume token")));
}

#[tokio::test]
async fn streaming_errors_are_json() {
    let s = Server::start();
    let c = client();
    let me = register_and_login(&s, &c, "watch-errors@example.com").await;
    let resp = c.get(watch_url(&s, &ns(json!({})))).send().await.expect("send");
    let (st, body) = decode(resp).await;
    assert_eq!((st, body["error_code"].as_str()), (401, Some("InvalidSession")));
    let resp = c.get(s.app_url("/functions/call?baas_request=!!!")).bearer_auth(&me.access_token).send().await.expect("send");
    assert_eq!(decode(resp).await.0, 400);
    let resp = c.get(watch_url(&s, &json!({"database": "w"}))).bearer_auth(&me.access_token).send().await.expect("send");
    let (st, body) = decode(resp).await;
    assert_eq!((st, body["error_code"].as_str()), (400, Some("InvalidParameter")), "{body}");
    // realm-core style: the token as baas_at.
    let url = format!("{}&baas_at={}", watch_url(&s, &ns(json!({}))), me.access_token);
    let resp = c.get(url).send().await.expect("send");
    assert_eq!(resp.status().as_u16(), 200);
    assert_eq!(resp.headers()["content-type"], "text/event-stream");
}

#[tokio::test]
async fn update_descriptions_name_nested_paths() {
    let s = Server::start();
    let c = client();
    let me = register_and_login(&s, &c, "paths@example.com").await;
    let at = me.access_token.as_str();
    let arg = |extra: Value| {
        let mut v = json!({"database": "w", "collection": "paths"});
        v.as_object_mut().expect("object").extend(extra.as_object().cloned().unwrap_or_default());
        v
    };
    let mut w = Watch::open(&s, &c, at, arg(json!({}))).await;
    let doc = json!({"_id": 1, "a": {"b": 1, "c": {"d": 1}}, "x": {"y": 1, "z": 1}, "arr": [1], "r": {"old": 1}});
    assert_eq!(mongo(&s, &c, at, "insertOne", arg(json!({"document": doc}))).await.0, 200);
    let updates = [
        json!({"$set": {"a.b": 2}}),
        json!({"$unset": {"x.y": ""}}),
        json!({"$inc": {"a.c.d": 5}}),
        json!({"$push": {"arr": 2}}),
        json!({"$rename": {"r.old": "r.new"}, "$max": {"a.c.d": 10}}),
        json!({"$set": {"n.m": true}}),
    ];
    for u in &updates {
        let (st, r) = mongo(&s, &c, at, "updateOne", arg(json!({"query": {"_id": 1}, "update": u}))).await;
        assert_eq!(st, 200, "{u}: {r}");
    }
    assert_eq!(mongo(&s, &c, at, "findOneAndReplace", arg(json!({"filter": {"_id": 1}, "update": {"k": 1}}))).await.0, 200);

    let (_, insert) = w.next_event().await.expect("insert");
    assert_eq!(insert["operationType"], "insert");
    let want = [
        json!({"updatedFields": {"a.b": 2}, "removedFields": []}),
        json!({"updatedFields": {}, "removedFields": ["x.y"]}),
        json!({"updatedFields": {"a.c.d": 6}, "removedFields": []}),
        json!({"updatedFields": {"arr": [1, 2]}, "removedFields": []}),
        json!({"updatedFields": {"r.new": 1, "a.c.d": 10}, "removedFields": ["r.old"]}),
        json!({"updatedFields": {"n": {"m": true}}, "removedFields": []}),
    ];
    for (u, want) in updates.iter().zip(want) {
        let (_, e) = w.next_event().await.expect("update");
        assert_eq!(e["operationType"], "update", "{u}");
        assert_eq!(e["updateDescription"], want, "{u}");
    }
    let (_, replace) = w.next_event().await.expect("replace");
    assert_eq!(replace["operationType"], "replace");
    assert!(replace.get("updateDescription").is_none(), "{replace}");
}
