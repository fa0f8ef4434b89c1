//! The app's own functions over HTTP (`POST …/functions/call` without a service), as realm-web and
//! realm-wasm call them, against a real server serving the `functions-app` export.

mod common;
mod engine_common;

use common::*;
use engine_common::anonymous;
use serde_json::{json, Value};
use std::path::PathBuf;

fn start() -> (Server, tempfile::TempDir) {
    let tmp = tempfile::tempdir().expect("tempdir");
    let app = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/functions-app");
    let s = Server::start_with(tmp.path(), &["--app", app.to_str().expect("utf-8")]);
    (s, tmp)
}

/// Functions run on the server's async worker threads; one that computes for long hands their
/// other work to another thread (functions/pool.rs). So with more endless functions running than
/// the server has worker threads, requests that need no function are still answered while they
/// run, not after their time limit.
#[tokio::test(flavor = "multi_thread")]
async fn endless_functions_do_not_stall_other_requests() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let app = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/functions-app");
    let flags = ["--app", app.to_str().expect("utf-8"), "--function-timeout", "120", "--function-pool", "4"];
    let s = std::sync::Arc::new(Server::start_with_env(tmp.path(), &flags, &[("TOKIO_WORKER_THREADS", "2")]));
    let c = client();
    let at = anonymous(&s, &c).await.access_token;
    let spinning: Vec<_> = (0..4)
        .map(|_| {
            let (s, at) = (s.clone(), at.clone());
            tokio::spawn(async move { call(&s, &client(), &at, "spin", json!([])).await })
        })
        .collect();
    // Enough round trips that the spinning calls have started well before the last one.
    for _ in 0..200 {
        let (st, r) = send(c.get(s.app_url("/location"))).await;
        assert_eq!(st, 200, "{r}");
        let (st, r) = mongo(&s, &c, &at, "count", json!({"database": "app", "collection": "notes", "query": {}})).await;
        assert_eq!(st, 200, "{r}");
    }
    for call in &spinning {
        assert!(!call.is_finished(), "an endless function ended (its time limit is 120 s) before the other requests were answered");
    }
}

/// One native operation (here the default sort of a large array) never reaches the interrupt
/// handler, so it holds its worker until it ends. The first such call marks its function, and the
/// function's later calls hand the worker's other tasks away before they start: with as many of them
/// running as the server has worker threads, other requests are answered while they sort.
#[tokio::test(flavor = "multi_thread")]
async fn a_function_that_held_its_thread_no_longer_stalls_other_requests() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let app = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/functions-app");
    let flags = ["--app", app.to_str().expect("utf-8"), "--function-pool", "4"];
    let s = std::sync::Arc::new(Server::start_with_env(tmp.path(), &flags, &[("TOKIO_WORKER_THREADS", "2")]));
    let c = client();
    let at = anonymous(&s, &c).await.access_token;
    let values = json!([(0..400_000u32).map(|i| (i * 7919) % 400_000).collect::<Vec<_>>()]);
    let (st, r) = call(&s, &c, &at, "sortValues", values.clone()).await;
    assert_eq!((st, r), (200, json!({"$numberInt": "400000"})), "the first call sorts, holding its thread throughout");
    let sorting: Vec<_> = (0..2)
        .map(|_| {
            let (s, at, values) = (s.clone(), at.clone(), values.clone());
            tokio::spawn(async move { call(&s, &client(), &at, "sortValues", values).await })
        })
        .collect();
    for _ in 0..100 {
        let (st, r) = send(c.get(s.app_url("/location"))).await;
        assert_eq!(st, 200, "{r}");
    }
    for call in &sorting {
        assert!(!call.is_finished(), "a sort ended before the other requests were answered");
    }
    for call in sorting {
        assert_eq!(call.await.expect("join"), (200, json!({"$numberInt": "400000"})));
    }
}

async fn call(s: &Server, c: &reqwest::Client, at: &str, name: &str, args: Value) -> (u16, Value) {
    post(c, &s.app_url("/functions/call"), Some(at), &json!({"name": name, "arguments": args})).await
}

#[tokio::test]
async fn user_functions_answer_over_http() {
    let (s, _tmp) = start();
    let c = client();
    let at = anonymous(&s, &c).await.access_token;
    let (st, r) = call(&s, &c, &at, "sum", json!([{"$numberInt": "2"}, {"$numberInt": "3"}])).await;
    assert_eq!((st, r), (200, json!({"$numberInt": "5"})));
    let (st, r) = call(&s, &c, &at, "echo", json!([{"$oid": "5f0c5b2e8f1b2a3c4d5e6f70"}, {"$numberLong": "7"}])).await;
    assert_eq!(st, 200, "{r}");
    assert_eq!(r["kinds"], json!(["ObjectId", "Long"]), "{r}");
    assert_eq!(r["args"][0], json!({"$oid": "5f0c5b2e8f1b2a3c4d5e6f70"}), "an ObjectId comes back an ObjectId");
    for (name, status, code) in [("util/secret", 404, "FunctionNotFound"), ("nope", 404, "FunctionNotFound"), ("closed", 403, "FunctionExecutionError")] {
        let (st, r) = call(&s, &c, &at, name, json!([])).await;
        assert_error(st, &r, status, code);
    }
    let (st, r) = call(&s, &c, &at, "callsSecret", json!([])).await;
    assert_eq!(st, 200, "a public function may call a private one: {r}");
}
