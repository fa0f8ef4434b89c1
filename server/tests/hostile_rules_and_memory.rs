//! Seeded random hostile input against the two defences of issue 10's high findings: rule
//! expansions fed with generated operator-shaped values (custom data written by the attacker), and
//! generated pipelines and updates built to multiply memory. Every answer must be a 2xx or a 4xx
//! JSON error, no tenant may reach another's documents, and the server's peak memory stays bounded.

mod common;
mod engine_common;

use common::*;
use engine_common::anonymous;
use rand::rngs::StdRng;
use rand::seq::SliceRandom;
use rand::{Rng, SeedableRng};
use serde_json::{json, Value};
use std::path::PathBuf;

fn coll(db: &str, name: &str, extra: Value) -> Value {
    let mut v = json!({"database": db, "collection": name});
    if let (Some(o), Some(e)) = (v.as_object_mut(), extra.as_object()) {
        o.extend(e.clone());
    }
    v
}

/// A value an attacker might store where a rule expects a team name.
fn hostile_value(rng: &mut StdRng, depth: u32) -> Value {
    let ops = ["$exists", "$ne", "$gt", "$gte", "$lt", "$in", "$nin", "$regex", "$not", "$elemMatch", "$where", "$expr", "$type", "$size", "$all", "$or", "$and"];
    let leaf = |rng: &mut StdRng| -> Value {
        match rng.gen_range(0..9) {
            0 => json!(true),
            1 => json!(""),
            2 => json!("$team"),
            3 => json!("%%root.team"),
            4 => json!({"$regularExpression": {"pattern": ".*", "options": "s"}}),
            5 => Value::Null,
            6 => json!(0),
            7 => json!("red"),
            _ => json!(["red", "green"]),
        }
    };
    if depth == 0 || rng.gen_bool(0.3) {
        return leaf(rng);
    }
    match rng.gen_range(0..4) {
        0 | 1 => {
            let mut o = serde_json::Map::new();
            for _ in 0..rng.gen_range(1..3) {
                let op = *ops.choose(rng).expect("op");
                o.insert(op.to_string(), hostile_value(rng, depth - 1));
            }
            Value::Object(o)
        }
        2 => Value::Array((0..rng.gen_range(1..4)).map(|_| hostile_value(rng, depth - 1)).collect()),
        _ => json!({"team": hostile_value(rng, depth - 1)}),
    }
}

#[tokio::test]
async fn generated_custom_data_never_reaches_another_team() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let app = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/tenants-app");
    let s = Server::start_with(tmp.path(), &["--app", app.to_str().expect("utf-8")]);
    let c = client();
    let victim = anonymous(&s, &c).await;
    let (st, r) = mongo(&s, &c, &victim.access_token, "insertOne", coll("app", "users", json!({"document": {"userID": victim.user_id, "team": "blue"}}))).await;
    assert_eq!(st, 200, "{r}");
    let (st, r) = send(c.post(s.url("/auth/session")).bearer_auth(&victim.refresh_token)).await;
    assert_eq!(st, 201, "{r}");
    let blue = r["access_token"].as_str().expect("token").to_string();
    for i in 0..4 {
        let (st, r) = mongo(&s, &c, &blue, "insertOne", coll("app", "docs", json!({"document": {"team": "blue", "i": i}}))).await;
        assert_eq!(st, 200, "{r}");
    }
    let mut rng = StdRng::seed_from_u64(0x007e_4a17);
    let attacker = anonymous(&s, &c).await;
    let (st, r) = mongo(&s, &c, &attacker.access_token, "insertOne", coll("app", "users", json!({"document": {"_id": "mine", "userID": attacker.user_id, "team": "x"}}))).await;
    assert_eq!(st, 200, "{r}");
    let mut tried = 0;
    while tried < 120 {
        let team = hostile_value(&mut rng, 3);
        if team == json!("blue") {
            continue;
        }
        tried += 1;
        let (st, r) = mongo(&s, &c, &attacker.access_token, "updateOne", coll("app", "users", json!({"query": {"_id": "mine"}, "update": {"$set": {"team": team}}}))).await;
        assert!(st == 200 || (400..500).contains(&st), "{st} {r}");
        let (st, r) = send(c.post(s.url("/auth/session")).bearer_auth(&attacker.refresh_token)).await;
        assert_eq!(st, 201, "{r}");
        let at = r["access_token"].as_str().expect("token").to_string();
        let (st, r) = mongo(&s, &c, &at, "find", coll("app", "docs", json!({"query": {}}))).await;
        assert_eq!(st, 200, "{r}");
        assert!(r.as_array().expect("array").iter().all(|d| d["team"] != "blue"), "team {team} read the blue team's documents: {r}");
        let (st, r) = mongo(&s, &c, &at, "deleteMany", coll("app", "docs", json!({"query": {"team": "blue"}}))).await;
        assert_eq!((st, int(&r["deletedCount"])), (200, 0), "team {team} deleted the blue team's documents");
    }
    let (st, r) = mongo(&s, &c, &blue, "count", coll("app", "docs", json!({}))).await;
    assert_eq!((st, int(&r)), (200, 4));
}

/// A stage built to multiply what it is given.
fn greedy_stage(rng: &mut StdRng, depth: u32) -> Value {
    match rng.gen_range(0..8) {
        0 => json!({"$lookup": {"from": "c", "localField": "k", "foreignField": "k", "as": "j"}}),
        1 => json!({"$unwind": "$j"}),
        2 => json!({"$group": {"_id": null, "all": {"$push": "$$ROOT"}}}),
        3 => json!({"$addFields": {"twice": {"$concatArrays": [["$pad"], ["$pad"], ["$pad"], ["$pad"]]}, "s": {"$concat": ["$pad", "$pad", "$pad"]}}}),
        4 => json!({"$project": {"pad": 1, "k": 1, "copy": "$$ROOT"}}),
        5 if depth > 0 => {
            let facets: serde_json::Map<String, Value> = (0..rng.gen_range(1..4))
                .map(|i| (format!("f{i}"), Value::Array((0..rng.gen_range(1..3)).map(|_| greedy_stage(rng, depth - 1)).collect())))
                .collect();
            json!({"$facet": facets})
        }
        6 => json!({"$sort": {"pad": 1, "k": -1}}),
        _ => json!({"$replaceRoot": {"newRoot": {"a": "$$ROOT", "b": "$$ROOT"}}}),
    }
}

#[tokio::test]
async fn generated_greedy_pipelines_and_updates_stay_within_memory() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let s = Server::start_with(tmp.path(), &["--max-stage-mb", "16", "--query-memory-mb", "128"]);
    let c = client();
    let at = anonymous(&s, &c).await.access_token;
    let pad = "z".repeat(1024);
    let docs: Vec<Value> = (0..300).map(|i| json!({"_id": i, "k": i % 2, "pad": pad, "arr": []})).collect();
    let (st, r) = mongo(&s, &c, &at, "insertMany", coll("db", "c", json!({"documents": docs}))).await;
    assert_eq!(st, 200, "{r}");
    let mut rng = StdRng::seed_from_u64(0x006d_656d);
    let (mut refused, mut answered) = (0, 0);
    for _ in 0..60 {
        let pipeline: Vec<Value> = (0..rng.gen_range(1..5)).map(|_| greedy_stage(&mut rng, 2)).collect();
        let (st, r) = mongo(&s, &c, &at, "aggregate", coll("db", "c", json!({"pipeline": pipeline.clone()}))).await;
        match st {
            200 => answered += 1,
            400 | 503 => {
                assert!(r["error"].as_str().is_some_and(|e| !e.is_empty()), "{r}");
                refused += 1;
            }
            other => panic!("{other} for {pipeline:?}: {r}"),
        }
    }
    for _ in 0..20 {
        let set: serde_json::Map<String, Value> = (0..rng.gen_range(1..6)).map(|i| (format!("arr{i}.{}", rng.gen_range(0..3_000_000)), json!(1))).collect();
        let (st, r) = mongo(&s, &c, &at, "updateMany", coll("db", "c", json!({"query": {}, "update": {"$set": set}}))).await;
        assert!(st == 200 || st == 400 || st == 503, "{st} {r}");
    }
    assert!(refused > 0 && answered > 0, "the generator must hit both sides ({answered} answered, {refused} refused)");
    let status = std::fs::read_to_string(format!("/proc/{}/status", s.child.id())).expect("status");
    let peak_kb: u64 = status.lines().find(|l| l.starts_with("VmHWM:")).and_then(|l| l.split_whitespace().nth(1)).and_then(|v| v.parse().ok()).expect("VmHWM");
    assert!(peak_kb / 1024 < 600, "peak resident memory {} MB with a 128 MB query pool", peak_kb / 1024);
    let (st, _) = mongo(&s, &c, &at, "count", coll("db", "c", json!({}))).await;
    assert_eq!(st, 200, "the server still answers");
}
