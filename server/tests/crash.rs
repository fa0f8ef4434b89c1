//! Crash safety: writers keep getting acknowledgements while the server is killed with SIGKILL at
//! a random moment; after a restart every acknowledged write is present.

mod common;

use common::*;
use rand::Rng;
use serde_json::json;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use tokio::sync::Notify;

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn acknowledged_writes_survive_sigkill_at_a_random_moment() {
    let dir = tempfile::tempdir().expect("tempdir");
    let c = client();
    let mut s = Server::start_in(dir.path());
    let me = register_and_login(&s, &c, "crash@example.com").await;
    // Kill after a random number of acknowledgements, while four writers are mid-flight.
    let kill_after = rand::thread_rng().gen_range(50..400);
    let acked = Arc::new(Mutex::new(Vec::<String>::new()));
    let count = Arc::new(AtomicUsize::new(0));
    let reached = Arc::new(Notify::new());
    let base = s.app_url("/functions/call");
    let writers: Vec<_> = (0..4)
        .map(|w| {
            let (c, base, at) = (client(), base.clone(), me.access_token.clone());
            let (acked, count, reached) = (acked.clone(), count.clone(), reached.clone());
            tokio::spawn(async move {
                for i in 0.. {
                    let id = format!("w{w}-{i}");
                    let body = json!({"name": "insertOne", "service": "mongodb-atlas", "arguments": [
                        {"database": "crash", "collection": "log", "document": {"_id": id, "pad": "x".repeat(200)}}
                    ]});
                    // After the kill, requests fail: the writer stops.
                    let Ok(resp) = c.post(&base).bearer_auth(&at).json(&body).send().await else { return };
                    if resp.status().as_u16() != 200 {
                        return;
                    }
                    if resp.text().await.is_err() {
                        return;
                    }
                    acked.lock().expect("lock").push(id);
                    if count.fetch_add(1, Ordering::SeqCst) + 1 == kill_after {
                        reached.notify_one();
                    }
                }
            })
        })
        .collect();
    reached.notified().await;
    s.child.kill().expect("SIGKILL");
    s.child.wait().expect("wait");
    for w in writers {
        w.await.expect("writer");
    }
    let acked = acked.lock().expect("lock").clone();
    assert!(acked.len() >= kill_after, "{} acknowledged", acked.len());

    let s = Server::start_in(dir.path());
    let me = login(&s, &c, "crash@example.com").await;
    let (st, docs) = mongo(&s, &c, &me.access_token, "find", json!({"database": "crash", "collection": "log", "project": {"_id": 1}})).await;
    assert_eq!(st, 200);
    let present: std::collections::HashSet<&str> = docs.as_array().expect("array").iter().filter_map(|d| d["_id"].as_str()).collect();
    let lost: Vec<&String> = acked.iter().filter(|id| !present.contains(id.as_str())).collect();
    assert!(lost.is_empty(), "{} of {} acknowledged writes lost: {lost:?}", lost.len(), acked.len());
}
