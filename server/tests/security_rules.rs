//! Tenants of one app against each other, over HTTP, with the `tenants-app` export: rule expansions
//! fed with operator-shaped custom data and token claims, and field-level read rules probed through
//! sorts and conditional updates. Each case is a reproduction from the security review (issue 10).

mod common;
mod engine_common;

use common::*;
use engine_common::anonymous;
use serde_json::{json, Value};
use std::path::PathBuf;

const JWT_KEY: &str = "tenants-fixture-hs256-key-not-a-real-secret-0123";

fn tenants_app() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/tenants-app")
}

fn start() -> Server {
    let tmp = tempfile::tempdir().expect("tempdir");
    let app = tenants_app();
    let s = Server::start_with(tmp.path(), &["--app", app.to_str().expect("utf-8")]);
    std::mem::forget(tmp); // the server owns the data directory until it is killed
    s
}

fn coll(name: &str, extra: Value) -> Value {
    let mut v = json!({"database": "app", "collection": name});
    if let (Some(o), Some(e)) = (v.as_object_mut(), extra.as_object()) {
        o.extend(e.clone());
    }
    v
}

/// A new access token for the session (it carries the current custom data).
async fn refreshed(s: &Server, c: &reqwest::Client, who: &Session) -> String {
    let (st, r) = send(c.post(s.url("/auth/session")).bearer_auth(&who.refresh_token)).await;
    assert_eq!(st, 201, "refresh: {r}");
    r["access_token"].as_str().expect("access_token").to_string()
}

async fn jwt_login(s: &Server, c: &reqwest::Client, sub: &str, email: Value) -> Session {
    use jsonwebtoken::{encode, EncodingKey, Header};
    let now = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).expect("clock").as_secs();
    let token = encode(&Header::default(), &json!({"sub": sub, "exp": now + 600, "email": email}), &EncodingKey::from_secret(JWT_KEY.as_bytes())).expect("sign");
    let (st, r) = post(c, &s.app_url("/auth/providers/custom-token/login"), None, &json!({"token": token})).await;
    assert_eq!(st, 200, "custom-token login: {r}");
    let field = |k: &str| r[k].as_str().expect(k).to_string();
    Session { user_id: field("user_id"), access_token: field("access_token"), refresh_token: field("refresh_token"), device_id: field("device_id") }
}

/// A member of `team` (custom data written by the user themself, as the rules allow).
async fn member(s: &Server, c: &reqwest::Client, team: Value) -> (Session, String) {
    let user = anonymous(s, c).await;
    let (st, r) = mongo(s, c, &user.access_token, "insertOne", coll("users", json!({"document": {"userID": user.user_id, "team": team}}))).await;
    assert_eq!(st, 200, "custom data: {r}");
    let at = refreshed(s, c, &user).await;
    (user, at)
}

#[tokio::test]
async fn custom_data_shaped_like_an_operator_matches_only_itself() {
    let s = start();
    let c = client();
    let (_, blue) = member(&s, &c, json!("blue")).await;
    for i in 0..3 {
        let (st, r) = mongo(&s, &c, &blue, "insertOne", coll("docs", json!({"document": {"team": "blue", "n": i}}))).await;
        assert_eq!(st, 200, "{r}");
    }
    for hostile in [json!({"$exists": true}), json!({"$ne": "red"}), json!({"$in": ["blue"]}), json!({"$regularExpression": {"pattern": ".*", "options": ""}}), json!({"$gt": ""})] {
        let (_, attacker) = member(&s, &c, hostile.clone()).await;
        let (st, r) = mongo(&s, &c, &attacker, "find", coll("docs", json!({"query": {}}))).await;
        assert_eq!((st, r.clone()), (200, json!([])), "team {hostile} read another team's documents");
        let (st, r) = mongo(&s, &c, &attacker, "count", coll("docs", json!({}))).await;
        assert_eq!(st, 200);
        assert_eq!(int(&r), 0, "team {hostile} counted another team's documents");
        let (st, r) = mongo(&s, &c, &attacker, "deleteMany", coll("docs", json!({"query": {}}))).await;
        assert_eq!(st, 200, "{r}");
        assert_eq!(int(&r["deletedCount"]), 0, "team {hostile} deleted another team's documents");
        let (st, r) = mongo(&s, &c, &attacker, "updateMany", coll("docs", json!({"query": {}, "update": {"$set": {"owned": true}}}))).await;
        assert_eq!(st, 200, "{r}");
        assert_eq!(int(&r["matchedCount"]), 0, "team {hostile} updated another team's documents");
    }
    let (st, r) = mongo(&s, &c, &blue, "count", coll("docs", json!({"query": {"owned": {"$exists": false}}}))).await;
    assert_eq!((st, int(&r)), (200, 3), "the blue team's documents are all there, untouched");
}

#[tokio::test]
async fn token_claims_shaped_like_an_operator_match_only_themselves() {
    let s = start();
    let c = client();
    let alice = jwt_login(&s, &c, "alice", json!("alice@corp.example")).await;
    let (st, r) = mongo(&s, &c, &alice.access_token, "insertOne", coll("mail", json!({"document": {"email": "alice@corp.example", "body": "private"}}))).await;
    assert_eq!(st, 200, "{r}");
    let mallory = jwt_login(&s, &c, "mallory", json!({"$exists": true})).await;
    let (st, r) = mongo(&s, &c, &mallory.access_token, "find", coll("mail", json!({}))).await;
    assert_eq!((st, r), (200, json!([])), "a claim {{$exists: true}} read alice's mail");
    let (st, r) = mongo(&s, &c, &mallory.access_token, "deleteMany", coll("mail", json!({"query": {}}))).await;
    assert_eq!((st, int(&r["deletedCount"])), (200, 0));
    let (st, r) = mongo(&s, &c, &alice.access_token, "count", coll("mail", json!({}))).await;
    assert_eq!((st, int(&r)), (200, 1));
}

/// Salaries as HR stores them, in an order unlike the natural (insertion) order; `salary` is indexed.
async fn payroll(s: &Server, c: &reqwest::Client) -> String {
    let hr = jwt_login(s, c, "hr", json!("hr@corp.example")).await;
    let docs: Vec<Value> = [("a", 3), ("b", 1), ("c", 5), ("d", 2), ("e", 4)].iter().map(|(n, pay)| json!({"_id": n, "name": n, "salary": pay})).collect();
    let (st, r) = mongo(s, c, &hr.access_token, "insertMany", coll("hr", json!({"documents": docs}))).await;
    assert_eq!(st, 200, "{r}");
    hr.access_token
}

fn names(v: &Value) -> Vec<String> {
    v.as_array().expect("array").iter().map(|d| d["name"].as_str().expect("name").to_string()).collect()
}

#[tokio::test]
async fn hidden_fields_do_not_order_results() {
    let s = start();
    let c = client();
    let hr = payroll(&s, &c).await;
    let (st, r) = mongo(&s, &c, &hr, "find", coll("hr", json!({"sort": {"salary": 1}}))).await;
    assert_eq!((st, names(&r)), (200, vec!["b", "d", "a", "e", "c"].into_iter().map(String::from).collect::<Vec<_>>()), "HR sees the salary order");
    let staff = anonymous(&s, &c).await.access_token;
    for dir in [1, -1] {
        let (st, r) = mongo(&s, &c, &staff, "find", coll("hr", json!({"sort": {"salary": dir}}))).await;
        assert_eq!(st, 200, "{r}");
        assert_eq!(names(&r), ["a", "b", "c", "d", "e"], "a sort on a hidden field must order as if it were absent (natural order), not by salary");
        assert!(r.as_array().expect("array").iter().all(|d| d.get("salary").is_none()));
        let (st, r) = mongo(&s, &c, &staff, "find", coll("hr", json!({"sort": {"salary": dir}, "limit": 1}))).await;
        assert_eq!((st, names(&r)), (200, vec!["a".to_string()]));
    }
    // findOneAndUpdate / findOneAndDelete pick "the first" by the caller's view of the sort field.
    let (st, r) = mongo(&s, &c, &staff, "findOneAndUpdate", coll("hr", json!({"filter": {}, "update": {"$set": {"name": "a"}}, "sort": {"salary": -1}}))).await;
    assert_eq!((st, r["_id"].clone()), (200, json!("a")), "findOneAndUpdate picked the top earner: {r}");
    let (st, r) = mongo(&s, &c, &staff, "findOneAndDelete", coll("hr", json!({"filter": {}, "sort": {"salary": 1}}))).await;
    assert_eq!((st, r["_id"].clone()), (200, json!("a")), "findOneAndDelete picked the lowest earner: {r}");
}

#[tokio::test]
async fn conditional_updates_do_not_reveal_hidden_values() {
    let s = start();
    let c = client();
    let hr = payroll(&s, &c).await;
    let staff = anonymous(&s, &c).await.access_token;
    // c earns 5: `$max` below and above that must answer the same.
    for probe in [0, 4, 5, 6, 1_000_000] {
        for op in ["$max", "$min", "$inc", "$set", "$unset", "$mul"] {
            let value = if op == "$unset" { json!("") } else { json!(probe) };
            let (st, r) = mongo(&s, &c, &staff, "updateOne", coll("hr", json!({"query": {"name": "c"}, "update": {op: {"salary": value}}}))).await;
            assert_eq!(st, 403, "{op} salary {probe}: {r}");
            assert_eq!(r["error_code"], "NotPermitted", "{r}");
        }
        let (st, r) = mongo(&s, &c, &staff, "updateOne", coll("hr", json!({"query": {"name": "c"}, "update": {"$rename": {"name": "salary"}}}))).await;
        assert_eq!(st, 403, "$rename onto a hidden field: {r}");
    }
    // A replacement rewrites every field, hidden ones included: refused whatever it holds.
    for salary in [json!(5), json!(6), Value::Null] {
        let mut doc = json!({"name": "c"});
        if !salary.is_null() {
            doc["salary"] = salary.clone();
        }
        let (st, r) = mongo(&s, &c, &staff, "updateOne", coll("hr", json!({"query": {"name": "c"}, "update": doc}))).await;
        assert_eq!(st, 403, "replacement with salary {salary}: {r}");
    }
    // What staff may write still works, and the salary is unchanged.
    let (st, r) = mongo(&s, &c, &staff, "updateOne", coll("hr", json!({"query": {"name": "c"}, "update": {"$set": {"name": "c2"}}}))).await;
    assert_eq!((st, int(&r["modifiedCount"])), (200, 1), "{r}");
    let (st, r) = mongo(&s, &c, &hr, "findOne", coll("hr", json!({"query": {"_id": "c"}}))).await;
    assert_eq!((st, int(&r["salary"])), (200, 5), "{r}");
}
