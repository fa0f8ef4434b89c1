//! Crash safety: writers keep getting acknowledgements while the server is killed with SIGKILL at
//! a random moment; after a restart every acknowledged write is present.

mod common;

use common::*;
use rand::Rng;
use serde_json::json;

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn acknowledged_writes_survive_sigkill_at_a_random_moment() {
    let dir = tempfile::tempdir().expect("tempdir");
    let c = client();
    let mut s = Server::start_in(dir.path());
    let me = register_and_login(&s, &c, "crash@example.com").await;
    // Kill after a random number of acknowledgements, while four writers are mid-flight.
    let kill_after = rand::thread_rng().gen_range(50..400);
    let acked = insert_until_sigkill(&mut s, &me.access_token, ("crash", "log"), |id| json!({"_id": id, "pad": "x".repeat(200)}), kill_after).await;

    let s = Server::start_in(dir.path());
    let me = login(&s, &c, "crash@example.com").await;
    let (st, docs) = mongo(&s, &c, &me.access_token, "find", json!({"database": "crash", "collection": "log", "project": {"_id": 1}})).await;
    assert_eq!(st, 200);
    let present: std::collections::HashSet<&str> = docs.as_array().expect("array").iter().filter_map(|d| d["_id"].as_str()).collect();
    let lost: Vec<&String> = acked.iter().filter(|id| !present.contains(id.as_str())).collect();
    assert!(lost.is_empty(), "{} of {} acknowledged writes lost: {lost:?}", lost.len(), acked.len());
}
