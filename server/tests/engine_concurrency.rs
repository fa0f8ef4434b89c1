//! Concurrent writers through HTTP: no lost updates, and findOneAndUpdate hands each document to
//! exactly one caller.

mod common;

use common::*;
use serde_json::{json, Value};
use std::collections::HashSet;

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn eight_clients_250_increments_each_end_at_2000() {
    let s = Server::start();
    let c = client();
    let me = register_and_login(&s, &c, "inc@example.com").await;
    let ns = json!({"database": "bench", "collection": "counters"});
    let mut insert = ns.clone();
    insert["document"] = json!({"_id": "c", "n": 0});
    assert_eq!(mongo(&s, &c, &me.access_token, "insertOne", insert).await.0, 200);
    let base = s.app_url("/functions/call");
    let tasks: Vec<_> = (0..8)
        .map(|_| {
            let (c, base, at) = (client(), base.clone(), me.access_token.clone());
            tokio::spawn(async move {
                let body = json!({"name": "updateOne", "service": "mongodb-atlas", "arguments": [
                    {"database": "bench", "collection": "counters", "query": {"_id": "c"}, "update": {"$inc": {"n": 1}}}
                ]});
                for _ in 0..250 {
                    let (st, r) = post(&c, &base, Some(&at), &body).await;
                    assert_eq!((st, int(&r["modifiedCount"])), (200, 1), "{r}");
                }
            })
        })
        .collect();
    for t in tasks {
        t.await.expect("task");
    }
    let mut find = ns.clone();
    find["query"] = json!({"_id": "c"});
    let (_, doc) = mongo(&s, &c, &me.access_token, "findOne", find).await;
    assert_eq!(int(&doc["n"]), 2000, "{doc}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn find_one_and_update_never_hands_a_document_to_two_callers() {
    let s = Server::start();
    let c = client();
    let me = register_and_login(&s, &c, "queue@example.com").await;
    let jobs: Vec<Value> = (0..200).map(|i| json!({"_id": i, "state": "new"})).collect();
    let seed = json!({"database": "q", "collection": "jobs", "documents": jobs});
    assert_eq!(mongo(&s, &c, &me.access_token, "insertMany", seed).await.0, 200);
    let base = s.app_url("/functions/call");
    let tasks: Vec<_> = (0..8)
        .map(|worker| {
            let (c, base, at) = (client(), base.clone(), me.access_token.clone());
            tokio::spawn(async move {
                let body = json!({"name": "findOneAndUpdate", "service": "mongodb-atlas", "arguments": [{
                    "database": "q", "collection": "jobs", "filter": {"state": "new"},
                    "update": {"$set": {"state": "taken", "by": worker}}, "sort": {"_id": 1}, "returnNewDocument": true
                }]});
                let mut mine = Vec::new();
                loop {
                    let (st, r) = post(&c, &base, Some(&at), &body).await;
                    assert_eq!(st, 200, "{r}");
                    if r.is_null() {
                        return mine;
                    }
                    assert_eq!((r["state"].as_str(), int(&r["by"])), (Some("taken"), worker));
                    mine.push(int(&r["_id"]));
                }
            })
        })
        .collect();
    let mut all = Vec::new();
    for t in tasks {
        all.extend(t.await.expect("task"));
    }
    let unique: HashSet<i64> = all.iter().copied().collect();
    assert_eq!((all.len(), unique.len()), (200, 200), "every job exactly once");
}
