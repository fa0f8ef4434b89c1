//! The table-driven conformance suite (tests/conformance/cases.json: filters, projection, sort,
//! updates, pipelines with expected documents from the MongoDB manual), run over HTTP against a
//! real server. Every case gets its own database, so cases cannot interfere.

mod common;

use bson::Bson;
use common::*;
use serde_json::{json, Value};

/// Canonical extended JSON of a relaxed/canonical JSON value, so numbers compare with their BSON types.
fn canonical(v: &Value) -> Value {
    Bson::try_from(v.clone()).expect("expected value is valid extended JSON").into_canonical_extjson()
}

struct Runner<'a> {
    s: &'a Server,
    c: reqwest::Client,
    at: String,
    failures: Vec<String>,
    ran: usize,
}

impl Runner<'_> {
    async fn call(&self, name: &str, db: &str, mut arg: Value) -> (u16, Value) {
        arg["database"] = json!(db);
        if arg.get("collection").is_none() {
            arg["collection"] = json!("c");
        }
        mongo(self.s, &self.c, &self.at, name, arg).await
    }

    async fn seed(&self, db: &str, coll: &str, docs: &Value) {
        if docs.as_array().is_some_and(|d| !d.is_empty()) {
            let (st, r) = self.call("insertMany", db, json!({"collection": coll, "documents": docs})).await;
            assert_eq!(st, 200, "seeding {db}.{coll}: {r}");
        }
    }

    fn check(&mut self, what: String, got: (u16, Value), want: &Value) {
        self.ran += 1;
        if got.0 != 200 || got.1 != canonical(want) {
            self.failures.push(format!("{what}\n   got {} {}\n  want {}", got.0, got.1, canonical(want)));
        }
    }

    fn check_error(&mut self, what: String, got: (u16, Value), needle: &str) {
        self.ran += 1;
        let msg = got.1["error"].as_str().unwrap_or_default();
        if got.0 != 400 || !msg.contains(needle) {
            self.failures.push(format!("{what}\n   got {} {}\n  want 400 mentioning {needle:?}", got.0, got.1));
        }
    }
}

#[tokio::test]
async fn conformance_cases_over_http() {
    let s = Server::start();
    let c = client();
    let user = register_and_login(&s, &c, "conformance@example.com").await;
    let groups: Vec<Value> =
        serde_json::from_str(include_str!("conformance/cases.json")).expect("cases.json is valid JSON");
    let mut r = Runner { s: &s, c, at: user.access_token, failures: Vec::new(), ran: 0 };
    for (g, group) in groups.iter().enumerate() {
        let name = group["group"].as_str().unwrap_or_default();
        let docs = group.get("docs").cloned().unwrap_or(json!([]));
        // Read-only cases share one database per group.
        let db = format!("conf{g}");
        r.seed(&db, "c", &docs).await;
        if let Some(foreign) = group.get("foreign").and_then(Value::as_object) {
            for (coll, fdocs) in foreign {
                r.seed(&db, coll, fdocs).await;
            }
        }
        for case in group.get("cases").and_then(Value::as_array).into_iter().flatten() {
            let mut arg = json!({"query": case["filter"]});
            for (k, wire) in [("projection", "project"), ("sort", "sort"), ("limit", "limit")] {
                if let Some(v) = case.get(k) {
                    arg[wire] = v.clone();
                }
            }
            let want = match case.get("ids") {
                Some(ids) => {
                    let ids: Vec<&Value> = ids.as_array().expect("ids").iter().collect();
                    Value::Array(docs.as_array().expect("docs").iter().filter(|d| ids.contains(&&d["_id"])).cloned().collect())
                }
                None => case["expect"].clone(),
            };
            let got = r.call("find", &db, arg.clone()).await;
            r.check(format!("[{name}] find {arg}"), got, &want);
        }
        for case in group.get("filter_errors").and_then(Value::as_array).into_iter().flatten() {
            let arg = json!({"query": case["filter"]});
            let got = r.call("find", &db, arg.clone()).await;
            r.check_error(format!("[{name}] find {arg}"), got, case["error"].as_str().unwrap_or_default());
        }
        for case in group.get("pipelines").and_then(Value::as_array).into_iter().flatten() {
            let arg = json!({"pipeline": case["pipeline"]});
            let got = r.call("aggregate", &db, arg.clone()).await;
            let what = format!("[{name}] aggregate {}", case["pipeline"]);
            match case.get("error").and_then(Value::as_str) {
                Some(needle) => r.check_error(what, got, needle),
                None => r.check(what, got, &case["expect"]),
            }
        }
        for (i, case) in group.get("update_cases").and_then(Value::as_array).into_iter().flatten().enumerate() {
            let db = format!("conf{g}u{i}");
            r.seed(&db, "c", &case["docs"]).await;
            let mut arg = json!({"query": case["filter"], "update": case["update"]});
            for k in ["upsert", "arrayFilters"] {
                if let Some(v) = case.get(k) {
                    arg[k] = v.clone();
                }
            }
            let name_op = if case.get("many").and_then(Value::as_bool) == Some(true) { "updateMany" } else { "updateOne" };
            let got = r.call(name_op, &db, arg.clone()).await;
            r.check(format!("[{name}] {name_op} {arg} (result)"), got, &case["result"]);
            let after = r.call("find", &db, json!({})).await;
            r.check(format!("[{name}] {name_op} {arg} (documents after)"), after, &case["after"]);
        }
        for (i, case) in group.get("update_errors").and_then(Value::as_array).into_iter().flatten().enumerate() {
            let db = format!("conf{g}e{i}");
            r.seed(&db, "c", &case["docs"]).await;
            let arg = json!({"query": case["filter"], "update": case["update"]});
            let got = r.call("updateOne", &db, arg.clone()).await;
            r.check_error(format!("[{name}] updateOne {arg}"), got, case["error"].as_str().unwrap_or_default());
            let after = r.call("find", &db, json!({})).await;
            r.check(format!("[{name}] updateOne {arg} leaves the document unchanged"), after, &case["docs"]);
        }
    }
    assert!(r.ran >= 240, "only {} checks ran", r.ran);
    assert!(r.failures.is_empty(), "{} of {} conformance checks failed:\n{}", r.failures.len(), r.ran, r.failures.join("\n"));
}
