//! Attempts to read or modify another user's `app.users` document in the default app through every
//! path a client has: query tricks, aggregation stages reaching into `users`, upserts and renames that
//! would hand a document to someone else, mixed batches, watch filters and counts.

mod common;
mod engine_common;

use common::*;
use engine_common::*;
use serde_json::{json, Value};

const SECRET: &str = "VICTIM-SECRET-7f3a";

fn ns(db: &str, coll: &str, extra: Value) -> Value {
    let mut v = json!({"database": db, "collection": coll});
    if let (Some(o), Some(e)) = (v.as_object_mut(), extra.as_object()) {
        o.extend(e.clone());
    }
    v
}

fn users(extra: Value) -> Value {
    ns("app", "users", extra)
}

/// Whether a write answer changed nothing (or was refused).
fn no_effect(st: u16, r: &Value) -> bool {
    if st == 403 || st == 400 {
        return true;
    }
    if st != 200 {
        return false;
    }
    if r.is_null() {
        return true;
    }
    let zero = |k: &str| r.get(k).is_none_or(|v| int(v) == 0);
    r.get("upsertedId").is_none() && r.get("insertedId").is_none() && r.get("insertedIds").is_none() && zero("matchedCount") && zero("modifiedCount") && zero("deletedCount")
}

#[tokio::test]
async fn another_users_document_stays_out_of_reach() {
    let s = Server::start();
    let c = client();
    let victim = register_and_login(&s, &c, "victim@example.com").await;
    let thief = register_and_login(&s, &c, "thief@example.com").await;
    let (v, t) = (victim.user_id.as_str(), thief.user_id.as_str());
    let at = thief.access_token.as_str();

    let (st, r) = mongo(&s, &c, &victim.access_token, "insertOne", users(json!({"document": {"userID": v, "secret": SECRET, "ref": "k"}}))).await;
    assert_eq!(st, 200, "{r}");
    let victim_id = r["insertedId"].clone();
    let (st, r) = mongo(&s, &c, at, "insertOne", users(json!({"document": {"userID": t, "other": v, "mine": 1}}))).await;
    assert_eq!(st, 200, "{r}");
    let own_id = r["insertedId"].clone();
    // An open collection in the same database to start $lookup-like stages from.
    let (st, r) = mongo(&s, &c, at, "insertOne", ns("app", "open", json!({"document": {"k": "k", "uid": v}}))).await;
    assert_eq!(st, 200, "{r}");

    // The thief's watch on the victim's documents, opened before anything happens.
    let mut watch = Watch::open(&s, &c, at, users(json!({"filter": {"fullDocument.userID": v}}))).await;
    let mut watch_all = Watch::open(&s, &c, at, users(json!({}))).await;

    // Reads: nothing may carry the victim's secret.
    let reads: Vec<(&str, Value)> = vec![
        ("find", users(json!({"query": {}}))),
        ("find", users(json!({"query": {"_id": victim_id}}))),
        ("find", users(json!({"query": {"$or": [{"userID": v}, {"userID": t}]}}))),
        ("find", users(json!({"query": {"$or": [{"_id": victim_id}, {"secret": {"$exists": true}}]}}))),
        ("find", users(json!({"query": {"$nor": [{"userID": t}]}}))),
        ("find", users(json!({"query": {"userID": {"$ne": t}}}))),
        ("find", users(json!({"query": {"userID": {"$in": [v, t]}}}))),
        ("find", users(json!({"query": {"$expr": true}}))),
        ("find", users(json!({"query": {"$expr": {"$eq": ["$userID", v]}}}))),
        ("find", users(json!({"query": {"$expr": {"$or": [{"$eq": ["$userID", v]}, true]}}}))),
        ("find", users(json!({"query": {"$and": [{"$or": [{"userID": v}]}, {"$nor": [{"x": 1}]}]}}))),
        ("findOne", users(json!({"query": {"userID": v}}))),
        ("findOne", users(json!({"query": {}, "sort": {"secret": -1}}))),
        ("findOneAndUpdate", users(json!({"filter": {"userID": v}, "update": {"$set": {"seen": 1}}, "returnNewDocument": true}))),
        ("findOneAndUpdate", users(json!({"filter": {"_id": victim_id}, "update": {"$set": {"seen": 1}}}))),
        ("findOneAndReplace", users(json!({"filter": {"_id": victim_id}, "update": {"userID": t}}))),
        ("findOneAndDelete", users(json!({"filter": {"_id": victim_id}}))),
        ("aggregate", users(json!({"pipeline": [{"$match": {}}]}))),
        ("aggregate", users(json!({"pipeline": [{"$match": {"$expr": true}}]}))),
        ("aggregate", users(json!({"pipeline": [{"$group": {"_id": "$secret"}}]}))),
        ("aggregate", users(json!({"pipeline": [{"$facet": {"all": [{"$match": {}}]}}]}))),
        ("aggregate", users(json!({"pipeline": [{"$lookup": {"from": "users", "pipeline": [], "as": "everyone"}}]}))),
        ("aggregate", users(json!({"pipeline": [{"$lookup": {"from": "users", "localField": "other", "foreignField": "userID", "as": "j"}}]}))),
        ("aggregate", ns("app", "open", json!({"pipeline": [{"$lookup": {"from": "users", "localField": "uid", "foreignField": "userID", "as": "j"}}]}))),
        ("aggregate", ns("app", "open", json!({"pipeline": [{"$lookup": {"from": "users", "localField": "k", "foreignField": "ref", "as": "j"}}]}))),
        ("aggregate", ns("app", "open", json!({"pipeline": [{"$lookup": {"from": "users", "pipeline": [{"$match": {}}], "as": "j"}}]}))),
        ("aggregate", ns("app", "open", json!({"pipeline": [{"$lookup": {"from": "users", "let": {"u": "$uid"}, "pipeline": [{"$match": {"$expr": {"$eq": ["$userID", "$$u"]}}}], "as": "j"}}]}))),
        ("aggregate", ns("app", "open", json!({"pipeline": [{"$facet": {"x": [{"$lookup": {"from": "users", "pipeline": [], "as": "j"}}]}}]}))),
        ("aggregate", ns("app", "open", json!({"pipeline": [{"$lookup": {"from": "open", "pipeline": [{"$lookup": {"from": "users", "pipeline": [], "as": "deep"}}], "as": "j"}}]}))),
        ("aggregate", ns("app", "open", json!({"pipeline": [{"$unionWith": {"coll": "users"}}]}))),
        ("aggregate", ns("app", "open", json!({"pipeline": [{"$unionWith": "users"}]}))),
        ("aggregate", ns("app", "open", json!({"pipeline": [{"$graphLookup": {"from": "users", "startWith": "$uid", "connectFromField": "userID", "connectToField": "userID", "as": "g"}}]}))),
        ("aggregate", users(json!({"pipeline": [{"$out": "open"}]}))),
        ("aggregate", users(json!({"pipeline": [{"$merge": {"into": "open"}}]}))),
        ("aggregate", ns("app", "open", json!({"pipeline": [{"$lookup": {"from": "users", "pipeline": [], "as": "j"}}, {"$out": "stolen"}]}))),
    ];
    for (op, arg) in &reads {
        let (st, r) = mongo(&s, &c, at, op, arg.clone()).await;
        assert!(st < 500, "{op} {arg}: {st} {r}");
        assert!(!r.to_string().contains(SECRET), "{op} {arg} leaked: {r}");
    }
    for q in [json!({}), json!({"userID": v}), json!({"$or": [{"userID": v}, {"userID": t}]}), json!({"$expr": true})] {
        let (st, n) = mongo(&s, &c, at, "count", users(json!({"query": q}))).await;
        assert_eq!(st, 200, "{n}");
        let own = i64::from(q.get("userID").is_none());
        assert_eq!(int(&n), own, "count {q}");
    }
    // Nothing was copied out to an open collection.
    for coll in ["open", "stolen"] {
        let (_, r) = mongo(&s, &c, at, "find", ns("app", coll, json!({"query": {}}))).await;
        assert!(!r.to_string().contains(SECRET), "copied into {coll}: {r}");
    }

    // An array `userID` such as `[thief, victim]` would match both users' `{userID: id}` queries;
    // the owner rule compares whole values, so such a document belongs to nobody and can't be made.
    // Writes that would touch the victim's document or create one owned by someone else.
    let writes: Vec<(&str, Value)> = vec![
        ("updateOne", users(json!({"query": {"_id": victim_id}, "update": {"$set": {"secret": "overwritten"}}}))),
        ("updateMany", users(json!({"query": {}, "update": {"$set": {"userID": v}}}))),
        ("updateMany", users(json!({"query": {"$or": [{"userID": v}, {"userID": t}]}, "update": {"$set": {"hijacked": true, "userID": v}}}))),
        ("updateOne", users(json!({"query": {"_id": own_id}, "update": {"$rename": {"other": "userID"}}}))),
        ("updateOne", users(json!({"query": {"_id": own_id}, "update": {"$unset": {"userID": ""}}}))),
        ("updateOne", users(json!({"query": {"userID": v}, "update": {"$set": {"x": 1}}, "upsert": true}))),
        ("updateOne", users(json!({"query": {"userID": "nobody"}, "update": {"$set": {"userID": v}}, "upsert": true}))),
        ("updateOne", users(json!({"query": {"_id": victim_id}, "update": {"$setOnInsert": {"userID": t}}, "upsert": true}))),
        ("findOneAndUpdate", users(json!({"filter": {"userID": v}, "update": {"$set": {"x": 1}}, "upsert": true}))),
        ("findOneAndUpdate", users(json!({"filter": {"userID": "nobody"}, "update": {"$set": {"userID": v, "secret": "planted"}}, "upsert": true}))),
        ("findOneAndUpdate", users(json!({"filter": {"_id": own_id}, "update": {"$set": {"userID": v}}}))),
        ("findOneAndReplace", users(json!({"filter": {"_id": own_id}, "update": {"mine": 2}}))),
        ("findOneAndReplace", users(json!({"filter": {"_id": own_id}, "update": {"userID": v}}))),
        ("findOneAndReplace", users(json!({"filter": {"_id": victim_id}, "update": {"userID": t}, "upsert": true}))),
        ("findOneAndReplace", users(json!({"filter": {"userID": "nobody"}, "update": {"userID": v}, "upsert": true}))),
        ("findOneAndReplace", users(json!({"filter": {"userID": "nobody"}, "update": {"x": 1}, "upsert": true}))),
        ("updateOne", users(json!({"query": {"_id": own_id}, "update": {"$set": {"userID": [t, v]}}}))),
        ("updateOne", users(json!({"query": {"_id": own_id}, "update": {"$set": {"userID": [v]}}}))),
        ("findOneAndReplace", users(json!({"filter": {"_id": own_id}, "update": {"userID": [t, v], "secret": "planted"}}))),
        ("insertOne", users(json!({"document": {"userID": [t, v], "secret": "planted"}}))),
        ("insertMany", users(json!({"documents": [{"userID": [v, t], "batch": 3}]}))),
        ("insertOne", users(json!({"document": {"x": 1}}))),
        ("insertOne", users(json!({"document": {"userID": v}}))),
        ("insertOne", users(json!({"document": {"_id": victim_id, "userID": t}}))),
        ("insertMany", users(json!({"documents": [{"userID": t, "batch": 1}, {"userID": v, "batch": 1}]}))),
        ("insertMany", users(json!({"documents": [{"userID": t, "batch": 2}, {"batch": 2}]}))),
        ("deleteOne", users(json!({"query": {"_id": victim_id}}))),
        ("deleteMany", users(json!({"query": {"userID": v}}))),
        ("findOneAndDelete", users(json!({"filter": {"userID": v}}))),
    ];
    for (op, arg) in &writes {
        let (st, r) = mongo(&s, &c, at, op, arg.clone()).await;
        assert!(no_effect(st, &r), "{op} {arg}: {st} {r}");
        assert!(!r.to_string().contains(SECRET), "{op} {arg} leaked: {r}");
    }

    // The victim's document is exactly as written, and the victim owns nothing else.
    let (st, mine) = mongo(&s, &c, &victim.access_token, "find", users(json!({"query": {}}))).await;
    assert_eq!(st, 200, "{mine}");
    let mine = mine.as_array().expect("array").clone();
    assert_eq!(mine.len(), 1, "victim's view: {mine:?}");
    assert_eq!(mine[0]["secret"], SECRET);
    assert_eq!(mine[0]["_id"], victim_id);
    assert!(mine[0].get("seen").is_none() && mine[0].get("hijacked").is_none(), "{mine:?}");
    // The thief's own document is untouched by the refused writes, and no batch left a partial insert.
    let (_, theirs) = mongo(&s, &c, at, "find", users(json!({"query": {}}))).await;
    let theirs = theirs.as_array().expect("array").clone();
    assert_eq!(theirs.len(), 1, "thief's view: {theirs:?}");
    assert_eq!(theirs[0]["userID"], t);

    // The victim's custom data (looked up by exact userID) is still the victim's own document.
    let (st, r) = decode(c.post(s.url("/auth/session")).bearer_auth(&victim.refresh_token).send().await.expect("refresh")).await;
    assert_eq!(st, 201, "{r}");
    let data = &jwt_payload(r["access_token"].as_str().expect("access_token"))["user_data"];
    assert_eq!(data["secret"], SECRET, "victim's custom data: {data}");

    // The watches saw nothing of the victim: the first event is the thief's own insert.
    let (st, r) = mongo(&s, &c, &victim.access_token, "updateOne", users(json!({"query": {"_id": victim_id}, "update": {"$set": {"n": 1}}}))).await;
    assert_eq!(st, 200, "{r}");
    let (st, r) = mongo(&s, &c, at, "insertOne", users(json!({"document": {"userID": t, "marker": "end"}}))).await;
    assert_eq!(st, 200, "{r}");
    let (_, e) = watch_all.next_event().await.expect("event");
    assert_eq!(e["fullDocument"]["marker"], "end", "{e}");
    let (st, r) = mongo(&s, &c, at, "updateOne", users(json!({"query": {"marker": "end"}, "update": {"$set": {"userID": t}}}))).await;
    assert_eq!(st, 200, "{r}");
    drop(watch_all);
    // The filtered watch matches only the victim's documents: it must stay silent.
    let quiet = tokio::time::timeout(std::time::Duration::from_millis(500), watch.next_event()).await;
    if let Ok(Some((_, e))) = quiet {
        panic!("watch filtered on the victim's userID saw {e}");
    }
}
