//! The default app's rules as a matrix over HTTP: owner / other user / anonymous ×
//! read / insert / update / delete / watch on the owner-only `app.users`.

mod common;
mod engine_common;

use common::*;
use engine_common::*;
use serde_json::{json, Value};

fn users(extra: Value) -> Value {
    let mut v = json!({"database": "app", "collection": "users"});
    if let (Some(o), Some(e)) = (v.as_object_mut(), extra.as_object()) {
        o.extend(e.clone());
    }
    v
}

#[tokio::test]
async fn owner_other_anonymous_matrix() {
    let s = Server::start();
    let c = client();
    let owner = register_and_login(&s, &c, "owner@example.com").await;
    let other = register_and_login(&s, &c, "other@example.com").await;
    let anon = anonymous(&s, &c).await;
    let (st, r) = mongo(&s, &c, &owner.access_token, "insertOne", users(json!({"document": {"userID": owner.user_id, "secret": 1}}))).await;
    assert_eq!(st, 200, "{r}");
    let id = r["insertedId"].clone();
    let mut watches = Vec::new();
    for who in [&owner, &other, &anon] {
        watches.push(Watch::open(&s, &c, &who.access_token, users(json!({}))).await);
    }

    for (who, is_owner) in [(&other, false), (&anon, false), (&owner, true)] {
        let at = who.access_token.as_str();
        let label = if is_owner { "owner" } else { "non-owner" };
        // read
        let (_, found) = mongo(&s, &c, at, "find", users(json!({"query": {"_id": id}}))).await;
        assert_eq!(found.as_array().map(Vec::len), Some(usize::from(is_owner)), "{label} read");
        let (_, n) = mongo(&s, &c, at, "count", users(json!({}))).await;
        assert_eq!(int(&n), i64::from(is_owner), "{label} count");
        let (_, agg) = mongo(&s, &c, at, "aggregate", users(json!({"pipeline": [{"$match": {}}]}))).await;
        assert_eq!(agg.as_array().map(Vec::len), Some(usize::from(is_owner)), "{label} aggregate");
        // insert: only a document the caller owns
        let (st, _) = mongo(&s, &c, at, "insertOne", users(json!({"document": {"userID": owner.user_id}}))).await;
        assert_eq!(st, if is_owner { 200 } else { 403 }, "{label} insert for the owner");
        let (st, _) = mongo(&s, &c, at, "insertOne", users(json!({"document": {"userID": who.user_id, "mine": true}}))).await;
        assert_eq!(st, 200, "{label} insert of its own document");
        // update
        let (_, r) = mongo(&s, &c, at, "updateOne", users(json!({"query": {"_id": id}, "update": {"$inc": {"secret": 1}}}))).await;
        assert_eq!(int(&r["matchedCount"]), i64::from(is_owner), "{label} update");
        let (st, _) = mongo(&s, &c, at, "findOneAndUpdate", users(json!({"filter": {"_id": id}, "update": {"$set": {"userID": "thief"}}}))).await;
        assert_eq!(st, if is_owner { 403 } else { 200 }, "{label} cannot give the document away / sees nothing");
        // delete
        let (_, r) = mongo(&s, &c, at, "deleteMany", users(json!({"query": {"_id": id}}))).await;
        assert_eq!(int(&r["deletedCount"]), i64::from(is_owner), "{label} delete");
        if is_owner {
            let (st, _) = mongo(&s, &c, at, "insertOne", users(json!({"document": {"_id": id, "userID": owner.user_id}}))).await;
            assert_eq!(st, 200);
        }
    }
    // watch: each user sees events of its own documents only (the first one each sees is its
    // own insert, never the other users' inserts that came before).
    let mut seen = Vec::new();
    for (w, who) in watches.iter_mut().zip([&owner, &other, &anon]) {
        let (_, e) = w.next_event().await.expect("event");
        assert_eq!(e["fullDocument"]["userID"].as_str(), Some(who.user_id.as_str()), "{e}");
        seen.push(e["operationType"].as_str().unwrap_or_default().to_string());
    }
    assert_eq!(seen, ["insert", "insert", "insert"]);
}
