//! Requests that would take the server's memory to gigabytes, as an anonymous user of the demo app
//! (issue 10 item 2): each must be refused or bounded, and the server's peak resident memory
//! (VmHWM in /proc) must stay far below what the unbounded version reached.

mod common;
mod engine_common;

use common::*;
use engine_common::anonymous;
use serde_json::{json, Value};

/// A /proc/<pid>/status field in MB (Linux).
fn proc_mb(s: &Server, field: &str) -> u64 {
    let status = std::fs::read_to_string(format!("/proc/{}/status", s.child.id())).expect("/proc status");
    let line = status.lines().find(|l| l.starts_with(field)).unwrap_or_else(|| panic!("{field} missing"));
    let kb: u64 = line.split_whitespace().nth(1).and_then(|v| v.parse().ok()).expect("kB value");
    kb / 1024
}

fn coll(extra: Value) -> Value {
    let mut v = json!({"database": "db", "collection": "c"});
    if let (Some(o), Some(e)) = (v.as_object_mut(), extra.as_object()) {
        o.extend(e.clone());
    }
    v
}

#[tokio::test]
async fn the_change_log_does_not_keep_every_version_of_a_big_document() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let s = Server::start_with(tmp.path(), &["--change-log-mb", "16"]);
    let c = client();
    let at = anonymous(&s, &c).await.access_token;
    let big = "x".repeat(1024 * 1024);
    let (st, r) = mongo(&s, &c, &at, "insertOne", coll(json!({"document": {"_id": 1, "n": 0, "blob": big}}))).await;
    assert_eq!(st, 200, "{r}");
    // Each $inc logs a 1 MB before image and a 1 MB after image: 300 of them are 600 MB unbounded.
    for _ in 0..300 {
        let (st, r) = mongo(&s, &c, &at, "updateOne", coll(json!({"query": {"_id": 1}, "update": {"$inc": {"n": 1}}}))).await;
        assert_eq!(st, 200, "{r}");
    }
    let rss = proc_mb(&s, "VmRSS:");
    assert!(rss < 250, "resident memory {rss} MB after 300 updates of a 1 MB document with a 16 MB change log");
}

#[tokio::test]
async fn array_padding_is_refused_before_it_is_allocated() {
    let s = Server::start();
    let c = client();
    let at = anonymous(&s, &c).await.access_token;
    let arrays: serde_json::Map<String, Value> = (0..8).map(|i| (format!("a{i}"), json!([]))).collect();
    let mut doc = Value::Object(arrays);
    doc["_id"] = json!(1);
    let (st, r) = mongo(&s, &c, &at, "insertOne", coll(json!({"document": doc}))).await;
    assert_eq!(st, 200, "{r}");
    let set: serde_json::Map<String, Value> = (0..8).map(|i| (format!("a{i}.1500000"), json!(1))).collect();
    let (st, r) = mongo(&s, &c, &at, "updateOne", coll(json!({"query": {"_id": 1}, "update": {"$set": set}}))).await;
    assert_error(st, &r, 400, "MongoDBError");
    assert!(r["error"].as_str().is_some_and(|e| e.contains("memory limit")), "{r}");
    let peak = proc_mb(&s, "VmHWM:");
    assert!(peak < 400, "peak resident memory {peak} MB (the unbounded update peaked at 1.95 GB)");
    // One modest padding still works.
    let (st, r) = mongo(&s, &c, &at, "updateOne", coll(json!({"query": {"_id": 1}, "update": {"$set": {"a0.1000": 1}}}))).await;
    assert_eq!((st, int(&r["modifiedCount"])), (200, 1), "{r}");
}

#[tokio::test]
async fn a_self_join_stops_at_the_stage_limit() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let s = Server::start_with(tmp.path(), &["--max-stage-mb", "32"]);
    let c = client();
    let at = anonymous(&s, &c).await.access_token;
    let pad = "y".repeat(1000);
    let docs: Vec<Value> = (0..600).map(|i| json!({"_id": i, "k": 1, "pad": pad})).collect();
    let (st, r) = mongo(&s, &c, &at, "insertMany", coll(json!({"documents": docs}))).await;
    assert_eq!(st, 200, "{r}");
    // 600 documents each joined with all 600: 360 MB of copies before $count.
    let pipeline = json!([{"$lookup": {"from": "c", "localField": "k", "foreignField": "k", "as": "all"}}, {"$count": "n"}]);
    let (st, r) = mongo(&s, &c, &at, "aggregate", coll(json!({"pipeline": pipeline}))).await;
    assert_error(st, &r, 400, "MongoDBError");
    assert!(r["error"].as_str().is_some_and(|e| e.contains("$lookup") && e.contains("memory limit")), "{r}");
    let peak = proc_mb(&s, "VmHWM:");
    assert!(peak < 250, "peak resident memory {peak} MB (the unbounded join peaked at 640 MB)");
    // A join that fits still answers.
    let small = json!([{"$match": {"_id": {"$lt": 3}}}, {"$lookup": {"from": "c", "localField": "_id", "foreignField": "_id", "as": "me"}}, {"$count": "n"}]);
    let (st, r) = mongo(&s, &c, &at, "aggregate", coll(json!({"pipeline": small}))).await;
    assert_eq!((st, int(&r[0]["n"])), (200, 3), "{r}");
    // Nested $concats double a string per level: 2^17 copies of the 1,000-byte field (131 MB) from
    // a 2.6 MB request.
    let mut e = json!("$pad");
    for _ in 0..17 {
        e = json!({"$concat": [e.clone(), e]});
    }
    let (st, r) = mongo(&s, &c, &at, "aggregate", coll(json!({"pipeline": [{"$limit": 1}, {"$project": {"x": e}}]}))).await;
    assert_error(st, &r, 400, "MongoDBError");
}
