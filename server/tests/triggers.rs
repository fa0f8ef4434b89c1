//! Triggers against a real server serving the `triggers-app` export: database triggers fired by
//! writes sent over HTTP (event shapes, match/project, ordering of 1,000 concurrent inserts,
//! failures), the admin API (list, disable/enable, persisted), scheduled triggers on the test
//! clock (catch-up and skip across a restart), authentication triggers, and a SIGKILL in the
//! middle of a stream of events (nothing handled is lost or repeated but the one in flight).

mod common;
mod engine_common;

use bson::{doc, Bson, Document};
use common::*;
use engine_common::anonymous;
use serde_json::{json, Value};
use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

const TOKEN: &str = "admin-token-for-triggers-0123456789";
/// 2030-01-01T00:00:30Z.
const T0: u64 = 1_893_456_030;

fn fixture() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/triggers-app")
}

fn start_at(data: &Path, clock: u64) -> Server {
    start_with(data, clock, &[])
}

fn start_with(data: &Path, clock: u64, extra: &[&str]) -> Server {
    let app = fixture();
    let clock = clock.to_string();
    let mut args = vec!["--app", app.to_str().expect("utf-8"), "--admin-listen", "127.0.0.1:0", "--admin-token", TOKEN, "--test-clock", &clock];
    args.extend_from_slice(extra);
    Server::start_with(data, &args)
}

async fn admin(s: &Server, c: &reqwest::Client, method: reqwest::Method, path: &str, body: Option<Value>) -> (u16, Value) {
    let url = format!("{}{path}", s.admin.as_deref().expect("admin API"));
    let mut req = c.request(method, url).bearer_auth(TOKEN);
    if let Some(b) = body {
        req = req.json(&b);
    }
    send(req).await
}

async fn triggers(s: &Server, c: &reqwest::Client) -> HashMap<String, Value> {
    let (st, list) = admin(s, c, reqwest::Method::GET, "/triggers", None).await;
    assert_eq!(st, 200, "{list}");
    list.as_array().expect("array").iter().map(|t| (t["name"].as_str().expect("name").to_string(), t.clone())).collect()
}

/// Waits until every enabled database trigger has handled everything in the journal.
async fn settle(s: &Server, c: &reqwest::Client) {
    let deadline = Instant::now() + Duration::from_secs(120);
    loop {
        let all = triggers(s, c).await;
        let busy: Vec<&Value> = all.values().filter(|t| t["type"] == "DATABASE" && t["state"] == "enabled" && t["pending_events"] != 0).collect();
        if busy.is_empty() {
            return;
        }
        assert!(Instant::now() < deadline, "triggers still busy: {busy:?}");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

/// Every document of `trig.<coll>` in natural order, as BSON.
async fn all(s: &Server, c: &reqwest::Client, at: &str, coll: &str) -> Vec<Document> {
    let (st, r) = mongo(s, c, at, "find", json!({"database": "trig", "collection": coll, "query": {}})).await;
    assert_eq!(st, 200, "{r}");
    match Bson::try_from(r).expect("EJSON") {
        Bson::Array(items) => items.into_iter().map(|d| d.as_document().cloned().expect("document")).collect(),
        other => panic!("not an array: {other}"),
    }
}

/// Waits until `trig.<coll>` holds `n` documents (authentication triggers run after the answer).
async fn until_count(s: &Server, c: &reqwest::Client, at: &str, coll: &str, n: usize) -> Vec<Document> {
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let docs = all(s, c, at, coll).await;
        if docs.len() >= n {
            assert_eq!(docs.len(), n, "{docs:?}");
            return docs;
        }
        assert!(Instant::now() < deadline, "{coll} has {} documents, waiting for {n}", docs.len());
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

async fn call(s: &Server, c: &reqwest::Client, at: &str, op: &str, arg: Value) -> Value {
    let mut arg = arg;
    arg["database"] = json!("trig");
    let (st, r) = mongo(s, c, at, op, arg).await;
    assert_eq!(st, 200, "{op}: {r}");
    r
}

#[tokio::test]
async fn database_trigger_events_are_shaped_as_app_services_did() {
    let tmp = tempfile::tempdir().expect("tmp");
    let s = start_at(tmp.path(), T0);
    let c = client();
    let at = anonymous(&s, &c).await.access_token;
    call(&s, &c, &at, "insertOne", json!({"collection": "orders", "document": {"_id": 1, "item": "tea", "qty": 1}})).await;
    call(&s, &c, &at, "updateOne", json!({"collection": "orders", "query": {"_id": 1}, "update": {"$set": {"qty": 2}, "$unset": {"item": ""}}})).await;
    call(&s, &c, &at, "findOneAndReplace", json!({"collection": "orders", "filter": {"_id": 1}, "update": {"sku": "x"}})).await;
    call(&s, &c, &at, "deleteOne", json!({"collection": "orders", "query": {"_id": 1}})).await;
    call(&s, &c, &at, "insertOne", json!({"collection": "unwatched", "document": {"_id": 1}})).await;
    settle(&s, &c).await;
    let seen = all(&s, &c, &at, "seen").await;
    let events: Vec<&Document> = seen.iter().map(|d| d.get_document("event").expect("event")).collect();
    let ops: Vec<&str> = events.iter().map(|e| e.get_str("operationType").expect("op")).collect();
    assert_eq!(ops, ["insert", "update", "replace", "delete"], "{events:?}");
    for e in &events {
        assert_eq!(e.get_document("ns"), Ok(&doc! {"db": "trig", "coll": "orders"}));
        assert_eq!(e.get_document("documentKey"), Ok(&doc! {"_id": 1}));
        assert!(matches!(e.get("clusterTime"), Some(Bson::Timestamp(_))), "{e}");
        let token = e.get_document("_id").and_then(|t| t.get_str("_data")).expect("resume token");
        assert!(token.len() == 16 && token.chars().all(|c| c.is_ascii_hexdigit()), "{token}");
    }
    let tokens: Vec<&str> = events.iter().map(|e| e.get_document("_id").and_then(|t| t.get_str("_data")).expect("token")).collect();
    assert!(tokens.windows(2).all(|w| w[0] < w[1]), "tokens grow in commit order: {tokens:?}");
    let (insert, update, replace, delete) = (events[0], events[1], events[2], events[3]);
    assert_eq!(insert.get_document("fullDocument"), Ok(&doc! {"_id": 1, "item": "tea", "qty": 1}));
    assert!(!insert.contains_key("fullDocumentBeforeChange") && !insert.contains_key("updateDescription"));
    assert_eq!(update.get_document("updateDescription"), Ok(&doc! {"updatedFields": {"qty": 2}, "removedFields": ["item"], "truncatedArrays": []}));
    assert_eq!(update.get_document("fullDocument"), Ok(&doc! {"_id": 1, "qty": 2}), "full_document: true");
    assert_eq!(update.get_document("fullDocumentBeforeChange"), Ok(&doc! {"_id": 1, "item": "tea", "qty": 1}));
    assert_eq!(replace.get_document("fullDocument"), Ok(&doc! {"_id": 1, "sku": "x"}));
    assert_eq!(replace.get_document("fullDocumentBeforeChange"), Ok(&doc! {"_id": 1, "qty": 2}));
    assert!(!delete.contains_key("fullDocument"));
    assert_eq!(delete.get_document("fullDocumentBeforeChange"), Ok(&doc! {"_id": 1, "sku": "x"}));
    let audit = all(&s, &c, &at, "filtered").await;
    assert!(audit.is_empty(), "orders-audit is disabled in the export: {audit:?}");
}

#[tokio::test]
async fn an_ordered_trigger_sees_1000_concurrent_inserts_once_each_in_commit_order() {
    let tmp = tempfile::tempdir().expect("tmp");
    let s = start_at(tmp.path(), T0);
    let c = client();
    let at = anonymous(&s, &c).await.access_token;
    let inserts = (0..1000).map(|i| {
        let (s, c, at) = (&s, c.clone(), at.clone());
        async move { call(s, &c, &at, "insertOne", json!({"collection": "orders", "document": {"_id": i, "n": i}})).await }
    });
    futures_util::future::join_all(inserts).await;
    settle(&s, &c).await;
    // The collection's natural order is the order the inserts were applied and committed in.
    let committed: Vec<Bson> = all(&s, &c, &at, "orders").await.iter().map(|d| d.get("_id").cloned().expect("_id")).collect();
    let seen = all(&s, &c, &at, "seen").await;
    let keys: Vec<Bson> = seen.iter().map(|d| d.get("key").cloned().expect("key")).collect();
    assert_eq!(committed.len(), 1000);
    assert_eq!(keys, committed, "every insert exactly once, in commit order");
    let tokens: Vec<&str> = seen.iter().map(|d| d.get_str("token").expect("token")).collect();
    assert!(tokens.windows(2).all(|w| w[0] < w[1]), "one at a time, in journal order");
}

#[tokio::test]
async fn match_project_and_failing_functions() {
    let tmp = tempfile::tempdir().expect("tmp");
    let s = start_at(tmp.path(), T0);
    let c = client();
    let at = anonymous(&s, &c).await.access_token;
    call(&s, &c, &at, "insertOne", json!({"collection": "items", "document": {"_id": 1, "keep": true, "n": 5, "other": "x"}})).await;
    call(&s, &c, &at, "insertOne", json!({"collection": "items", "document": {"_id": 2, "keep": false, "n": 6}})).await;
    // Without full_document an update event has no fullDocument: the match cannot see `keep`.
    call(&s, &c, &at, "updateOne", json!({"collection": "items", "query": {"_id": 2}, "update": {"$set": {"keep": true}}})).await;
    call(&s, &c, &at, "insertOne", json!({"collection": "items", "document": {"_id": 3, "keep": true, "n": 7}})).await;
    for (id, fail) in [("a", false), ("b", true), ("c", false)] {
        call(&s, &c, &at, "insertOne", json!({"collection": "jobs", "document": {"_id": id, "fail": fail}})).await;
    }
    settle(&s, &c).await;
    let filtered: Vec<Document> = all(&s, &c, &at, "filtered").await.iter().map(|d| d.get_document("event").cloned().expect("event")).collect();
    assert_eq!(filtered.len(), 2, "{filtered:?}");
    for (e, (id, n)) in filtered.iter().zip([(1, 5), (3, 7)]) {
        let mut e = e.clone();
        assert!(e.remove("_id").is_some(), "the resume token is kept by an inclusion projection");
        assert_eq!(e, doc! {"operationType": "insert", "documentKey": {"_id": id}, "fullDocument": {"n": n}});
    }
    let mut handled: Vec<String> = all(&s, &c, &at, "flaky_seen").await.iter().map(|d| d.get_str("key").expect("key").to_string()).collect();
    handled.sort();
    assert_eq!(handled, ["a", "c"], "the trigger goes on after a failing event");
    let jobs = &triggers(&s, &c).await["jobs"];
    assert_eq!((jobs["handled"].as_u64(), jobs["failed"].as_u64()), (Some(3), Some(1)), "{jobs}");
    let error = &jobs["last_error"];
    assert!(error["message"].as_str().is_some_and(|m| m.contains("refused b")), "{error}");
    assert!(error["event_id"].as_str().is_some_and(|id| id.len() == 16), "{error}");
}

#[tokio::test]
async fn the_admin_api_lists_disables_and_enables_triggers_persistently() {
    let tmp = tempfile::tempdir().expect("tmp");
    let c = client();
    let s = start_at(tmp.path(), T0);
    let (st, r) = send(c.get(format!("{}/triggers", s.admin.as_deref().expect("admin")))).await;
    assert_error(st, &r, 401, "Unauthorized");
    let list = triggers(&s, &c).await;
    let mut names: Vec<&str> = list.keys().map(String::as_str).collect();
    names.sort();
    assert_eq!(names, ["every-minute", "every-minute-skip", "items", "jobs", "on-create", "on-login-delete", "orders", "orders-audit"]);
    assert_eq!((list["orders"]["type"].as_str(), list["orders"]["function_name"].as_str(), list["orders"]["state"].as_str()), (Some("DATABASE"), Some("recordEvent"), Some("enabled")));
    assert_eq!((list["orders-audit"]["state"].as_str(), list["orders-audit"]["enabled"].as_bool()), (Some("disabled"), Some(false)));
    assert_eq!(list["on-create"]["type"], "AUTHENTICATION");
    assert_eq!(list["every-minute"]["next_run"], "2030-01-01T00:01:00Z");
    let (st, r) = admin(&s, &c, reqwest::Method::PUT, "/triggers/nope/disable", None).await;
    assert_error(st, &r, 404, "NotFound");

    let at = anonymous(&s, &c).await.access_token;
    call(&s, &c, &at, "insertOne", json!({"collection": "orders", "document": {"_id": "before"}})).await;
    settle(&s, &c).await;
    let (st, r) = admin(&s, &c, reqwest::Method::PUT, "/triggers/orders/disable", None).await;
    assert_eq!((st, r["state"].as_str()), (200, Some("disabled")), "{r}");
    let position = r["position"].clone();
    call(&s, &c, &at, "insertOne", json!({"collection": "orders", "document": {"_id": "while-disabled"}})).await;
    assert_eq!(all(&s, &c, &at, "seen").await.len(), 1);
    assert_eq!(triggers(&s, &c).await["orders"]["position"], position, "a disabled trigger takes no events");
    drop(s);

    // A restart keeps the admin's choice.
    let s = start_at(tmp.path(), T0);
    let list = triggers(&s, &c).await;
    assert_eq!(list["orders"]["state"], "disabled");
    assert_eq!(list["orders"]["pending_events"], 1);
    let (st, r) = admin(&s, &c, reqwest::Method::PUT, "/triggers/orders/enable", None).await;
    assert_eq!((st, r["state"].as_str()), (200, Some("enabled")), "{r}");
    // skip_catchup_events is off: the event from while it was disabled is handled now.
    settle(&s, &c).await;
    let keys: Vec<String> = all(&s, &c, &at, "seen").await.iter().map(|d| d.get_str("key").expect("key").to_string()).collect();
    assert_eq!(keys, ["before", "while-disabled"]);
    // A trigger disabled in the export starts at the journal's head when enabled.
    let (st, _) = admin(&s, &c, reqwest::Method::PUT, "/triggers/orders-audit/enable", None).await;
    assert_eq!(st, 200);
    call(&s, &c, &at, "insertOne", json!({"collection": "orders", "document": {"_id": "after"}})).await;
    settle(&s, &c).await;
    let audit: Vec<Bson> = all(&s, &c, &at, "filtered").await.iter().map(|d| d.get_document("event").expect("event").get_document("documentKey").expect("key").get("_id").cloned().expect("id")).collect();
    assert_eq!(audit, vec![Bson::String("after".into())]);
}

/// Sets the test clock; answered once the scheduled triggers did the runs due by then.
async fn set_clock(s: &Server, c: &reqwest::Client, t: u64) {
    let (st, r) = admin(s, c, reqwest::Method::PUT, "/test/clock", Some(json!({"now": t}))).await;
    assert_eq!(st, 204, "{r}");
}

async fn tick_counts(s: &Server, c: &reqwest::Client, at: &str) -> (usize, usize) {
    (all(s, c, at, "ticks").await.len(), all(s, c, at, "ticks_skip").await.len())
}

#[tokio::test]
async fn a_trigger_further_behind_than_the_journal_keeps_is_suspended_or_resumes_after_the_gap() {
    let tmp = tempfile::tempdir().expect("tmp");
    let c = client();
    let bound = ["--trigger-journal-events", "5"];
    let s = start_with(tmp.path(), T0, &bound);
    let at = anonymous(&s, &c).await.access_token;
    for name in ["orders", "items"] {
        let (st, r) = admin(&s, &c, reqwest::Method::PUT, &format!("/triggers/{name}/disable"), None).await;
        assert_eq!(st, 200, "{r}");
    }
    for i in 0..10 {
        call(&s, &c, &at, "insertOne", json!({"collection": "orders", "document": {"_id": i}})).await;
    }
    for i in 0..10 {
        call(&s, &c, &at, "insertOne", json!({"collection": "items", "document": {"_id": i, "keep": true, "n": i}})).await;
    }
    drop(s);
    // At start the journal keeps only the newest 5 entries (items 5 to 9).
    let s = start_with(tmp.path(), T0, &bound);
    for name in ["orders", "items"] {
        let (st, r) = admin(&s, &c, reqwest::Method::PUT, &format!("/triggers/{name}/enable"), None).await;
        assert_eq!(st, 200, "{r}");
    }
    let deadline = Instant::now() + Duration::from_secs(60);
    let orders = loop {
        let orders = triggers(&s, &c).await["orders"].clone();
        if orders["state"] == "suspended" {
            break orders;
        }
        assert!(Instant::now() < deadline, "not suspended: {orders}");
        tokio::time::sleep(Duration::from_millis(20)).await;
    };
    assert!(orders["suspended_reason"].as_str().is_some_and(|r| r.contains("ChangeStreamHistoryLost")), "{orders}");
    { let seen = all(&s, &c, &at, "seen").await; assert!(seen.is_empty(), "a suspended trigger runs nothing: {seen:?} {orders}"); }
    // tolerate_resume_errors: items resumes at the oldest event kept.
    settle(&s, &c).await;
    let ns: Vec<i32> = all(&s, &c, &at, "filtered").await.iter().map(|d| d.get_document("event").expect("event").get_document("fullDocument").expect("doc").get_i32("n").expect("n")).collect();
    assert_eq!(ns, [5, 6, 7, 8, 9]);
    // Enabling the suspended trigger again resumes it at the newest event.
    let (st, r) = admin(&s, &c, reqwest::Method::PUT, "/triggers/orders/enable", None).await;
    assert_eq!((st, r["state"].as_str()), (200, Some("enabled")), "{r}");
    call(&s, &c, &at, "insertOne", json!({"collection": "orders", "document": {"_id": "new"}})).await;
    settle(&s, &c).await;
    let keys: Vec<String> = all(&s, &c, &at, "seen").await.iter().map(|d| d.get_str("key").expect("key").to_string()).collect();
    assert_eq!(keys, ["new"]);
}

#[tokio::test]
async fn scheduled_triggers_fire_on_the_test_clock_and_catch_up_or_skip_after_a_restart() {
    let tmp = tempfile::tempdir().expect("tmp");
    let c = client();
    let s = start_at(tmp.path(), T0);
    let at = anonymous(&s, &c).await.access_token;
    set_clock(&s, &c, T0 + 29).await;
    assert_eq!(tick_counts(&s, &c, &at).await, (0, 0), "00:00:59: not yet");
    set_clock(&s, &c, T0 + 30).await;
    assert_eq!(tick_counts(&s, &c, &at).await, (1, 1), "00:01:00: both fire");
    let list = triggers(&s, &c).await;
    assert_eq!((list["every-minute"]["last_run"].as_str(), list["every-minute"]["next_run"].as_str()), (Some("2030-01-01T00:01:00Z"), Some("2030-01-01T00:02:00Z")));
    set_clock(&s, &c, T0 + 45).await;
    assert_eq!(tick_counts(&s, &c, &at).await, (1, 1), "00:01:15: nothing new");
    set_clock(&s, &c, T0 + 160).await;
    assert_eq!(tick_counts(&s, &c, &at).await, (3, 2), "00:03:10: 00:02 and 00:03 run; the skipping trigger runs only the latest");
    let ticks = all(&s, &c, &at, "ticks").await;
    assert!(ticks.iter().all(|t| t.get_i32("args") == Ok(0)), "a scheduled function gets no arguments: {ticks:?}");
    drop(s); // SIGKILL

    // Down from 00:03:10 to 00:06:30: three runs were missed.
    let s = start_at(tmp.path(), T0 + 360);
    set_clock(&s, &c, T0 + 360).await;
    assert_eq!(tick_counts(&s, &c, &at).await, (6, 2), "00:04, 00:05 and 00:06 are caught up; skip_catchup_events skips them");
    set_clock(&s, &c, T0 + 390).await;
    assert_eq!(tick_counts(&s, &c, &at).await, (7, 3), "00:07:00");
    let (st, r) = admin(&s, &c, reqwest::Method::PUT, "/triggers/every-minute/disable", None).await;
    assert_eq!(st, 200, "{r}");
    set_clock(&s, &c, T0 + 510).await;
    assert_eq!(tick_counts(&s, &c, &at).await, (7, 4), "00:09:00: a disabled trigger does not run; the skipping one runs only 00:09, not 00:08");
}

#[tokio::test]
async fn authentication_triggers_get_create_login_and_delete_events() {
    let tmp = tempfile::tempdir().expect("tmp");
    let s = start_at(tmp.path(), T0);
    let c = client();
    let anon = anonymous(&s, &c).await;
    let events = until_count(&s, &c, &anon.access_token, "auth_events", 1).await;
    assert_eq!((events[0].get_str("operationType"), events[0].get_str("userId")), (Ok("CREATE"), Ok(anon.user_id.as_str())));
    assert_eq!(events[0].get_array("providers"), Ok(&vec![Bson::String("anon-user".into())]));
    assert_eq!(events[0].get_bool("isDate"), Ok(true));
    assert_eq!(events[0].get_datetime("time").map(|d| d.timestamp_millis()), Ok(T0 as i64 * 1000), "the server's (test) clock");

    let me = register_and_login(&s, &c, "trigger-user@example.com").await;
    login(&s, &c, "trigger-user@example.com").await;
    let events = until_count(&s, &c, &anon.access_token, "auth_events", 4).await;
    // Authentication triggers run asynchronously: their functions may finish in any order.
    let mut mine: Vec<&str> = events.iter().filter(|e| e.get_str("userId") == Ok(me.user_id.as_str())).map(|e| e.get_str("operationType").expect("op")).collect();
    mine.sort();
    assert_eq!(mine, ["CREATE", "LOGIN", "LOGIN"]);
    let login_event = events.iter().find(|e| e.get_str("operationType") == Ok("LOGIN")).expect("login");
    assert_eq!(login_event.get_array("providers"), Ok(&vec![Bson::String("local-userpass".into())]));
    let user = login_event.get_document("user").expect("user");
    assert_eq!(user.get_str("id"), Ok(me.user_id.as_str()));
    assert_eq!(user.get_document("data").and_then(|d| d.get_str("email")), Ok("trigger-user@example.com"));
    assert_eq!(user.get_array("identities").map(Vec::len), Ok(1));

    let (st, r) = send(c.delete(s.url("/auth/delete")).bearer_auth(&me.access_token)).await;
    assert!((200..300).contains(&st), "{st} {r}");
    let events = until_count(&s, &c, &anon.access_token, "auth_events", 5).await;
    let delete = events.iter().find(|e| e.get_str("operationType") == Ok("DELETE")).expect("delete event");
    assert_eq!((delete.get_str("operationType"), delete.get_str("userId")), (Ok("DELETE"), Ok(me.user_id.as_str())));
    assert_eq!(delete.get_array("providers"), Ok(&vec![Bson::String("local-userpass".into())]));
    // An anonymous login is not a local-userpass LOGIN: on-login-delete did not fire for it.
    assert_eq!(events.iter().filter(|e| e.get_str("operationType") == Ok("LOGIN")).count(), 2);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn after_sigkill_no_handled_event_is_lost_or_repeated_but_the_one_in_flight() {
    use rand::Rng;
    let tmp = tempfile::tempdir().expect("tmp");
    let c = client();
    let mut s = start_at(tmp.path(), T0);
    let at = anonymous(&s, &c).await.access_token;
    let kill_after = rand::thread_rng().gen_range(100..400);
    insert_until_sigkill(&mut s, &at, ("trig", "orders"), |id| json!({"_id": id}), kill_after).await;

    let s = start_at(tmp.path(), T0);
    settle(&s, &c).await;
    let orders: Vec<String> = all(&s, &c, &at, "orders").await.iter().map(|d| d.get_str("_id").expect("_id").to_string()).collect();
    assert!(orders.len() >= kill_after, "{} orders", orders.len());
    let mut runs: HashMap<String, usize> = HashMap::new();
    for d in all(&s, &c, &at, "seen").await {
        *runs.entry(d.get_str("key").expect("key").to_string()).or_default() += 1;
    }
    let lost: Vec<&String> = orders.iter().filter(|k| !runs.contains_key(*k)).collect();
    assert!(lost.is_empty(), "events never handled: {lost:?}");
    assert!(runs.keys().all(|k| orders.contains(k)), "events for documents that do not exist");
    let repeated: Vec<(&String, &usize)> = runs.iter().filter(|(_, n)| **n > 1).collect();
    assert!(repeated.len() <= 1 && repeated.iter().all(|(_, n)| **n == 2), "only the event in flight may run twice: {repeated:?}");
}
