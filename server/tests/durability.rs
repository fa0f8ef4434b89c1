//! Acknowledged writes, users and sessions survive SIGKILL; SIGTERM exits cleanly.

mod common;
use common::*;
use serde_json::json;

#[tokio::test]
async fn acknowledged_write_survives_sigkill() {
    let dir = tempfile::tempdir().expect("tempdir");
    let c = client();
    let (me, id) = {
        let mut s = Server::start_in(dir.path());
        let me = register_and_login(&s, &c, "durable@example.com").await;
        let doc = json!({"database": "app", "collection": "users", "document": {"userID": me.user_id, "favoriteColor": "green"}});
        let (st, r) = mongo(&s, &c, &me.access_token, "insertOne", doc).await;
        assert_eq!(st, 200, "{r}");
        let upd = json!({"database": "app", "collection": "users", "query": {}, "update": {"$inc": {"visits": {"$numberInt": "1"}}}});
        assert_eq!(mongo(&s, &c, &me.access_token, "updateOne", upd).await.0, 200);
        // SIGKILL: no chance to flush anything that was not already durable.
        s.child.kill().expect("kill");
        s.child.wait().expect("wait");
        (me, r["insertedId"].clone())
    };

    let s = Server::start_in(dir.path());
    // The session (hashed refresh token) and the signing key survived: refresh works.
    let (st, r) = decode(c.post(s.url("/auth/session")).bearer_auth(&me.refresh_token).send().await.expect("refresh")).await;
    assert!((200..300).contains(&st), "{r}");
    let at = r["access_token"].as_str().expect("at").to_string();
    assert_eq!(jwt_payload(&at)["user_data"]["favoriteColor"], "green");
    // The old access token is still valid too (same persisted key).
    let (st, doc) = mongo(&s, &c, &me.access_token, "findOne", json!({"database": "app", "collection": "users", "query": {"_id": id}})).await;
    assert_eq!(st, 200, "{doc}");
    assert_eq!(doc["favoriteColor"], "green");
    assert_eq!(int(&doc["visits"]), 1);
    // The user can log in again with the stored password hash.
    let again = login(&s, &c, "durable@example.com").await;
    assert_eq!(again.user_id, me.user_id);
}

#[cfg(unix)]
#[tokio::test]
async fn sigterm_exits_cleanly() {
    let mut s = Server::start();
    let c = client();
    let (st, _) = decode(c.get(s.app_url("/location")).send().await.expect("location")).await;
    assert_eq!(st, 200);
    let pid = i32::try_from(s.child.id()).expect("pid");
    // SAFETY: sending a signal to our own child process.
    assert_eq!(unsafe { libc::kill(pid, libc::SIGTERM) }, 0);
    let status = s.child.wait().expect("wait");
    assert!(status.success(), "exit status {status:?}");
}
