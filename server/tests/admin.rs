//! The admin API: off by default, token-protected, on its own address; disabling, revoking and
//! deleting take effect on the client API at once.

mod common;
use common::*;
use serde_json::json;

const TOKEN: &str = "admin-token-for-tests-0123456789";

#[tokio::test]
async fn admin_api_manages_users() {
    let tmp = tempfile::tempdir().expect("tmp");
    let s = Server::start_with(tmp.path(), &["--admin-listen", "127.0.0.1:0", "--admin-token", TOKEN]);
    let admin = s.admin.clone().expect("admin address");
    assert_ne!(admin, s.base, "separate listen address");
    let c = client();
    let me = register_and_login(&s, &c, "admin-target@example.com").await;

    // Token required, compared exactly.
    for token in [None, Some("wrong"), Some(&TOKEN[..TOKEN.len() - 1])] {
        let mut req = c.get(format!("{admin}/users"));
        if let Some(t) = token {
            req = req.bearer_auth(t);
        }
        let (st, r) = send(req).await;
        assert_error(st, &r, 401, "Unauthorized");
    }
    // The client API does not serve admin routes.
    assert_eq!(send(c.get(format!("{}/users", s.base)).bearer_auth(TOKEN)).await.0, 404);

    let (st, users) = send(c.get(format!("{admin}/users")).bearer_auth(TOKEN)).await;
    assert_eq!(st, 200);
    assert_eq!(users.as_array().map(Vec::len), Some(1));
    assert_eq!((users[0]["user_id"].as_str(), users[0]["disabled"].as_bool()), (Some(me.user_id.as_str()), Some(false)));
    assert_eq!(users[0]["data"]["email"], "admin-target@example.com");
    let (st, pending) = send(c.get(format!("{admin}/pending-confirmations")).bearer_auth(TOKEN)).await;
    assert_eq!((st, pending), (200, json!([])), "the demo app auto-confirms");

    // Disable: the access token stops working now, login is refused; enable: login works again.
    let user = format!("{admin}/users/{}", me.user_id);
    assert_eq!(send(c.put(format!("{user}/disable")).bearer_auth(TOKEN)).await.0, 204);
    let (st, r) = send(c.get(s.url("/auth/profile")).bearer_auth(&me.access_token)).await;
    assert_error(st, &r, 401, "InvalidSession");
    let body = json!({"username": "admin-target@example.com", "password": "password1"});
    let (st, r) = post(&c, &s.app_url("/auth/providers/local-userpass/login"), None, &body).await;
    assert_error(st, &r, 403, "UserDisabled");
    assert_eq!(send(c.put(format!("{user}/enable")).bearer_auth(TOKEN)).await.0, 204);
    let again = login(&s, &c, "admin-target@example.com").await;

    // Revoke sessions: the refresh token is dead.
    let (st, r) = send(c.delete(format!("{user}/sessions")).bearer_auth(TOKEN)).await;
    assert_eq!((st, r["revoked"].as_i64()), (200, Some(1)), "{r}");
    let (st, r) = send(c.post(s.url("/auth/session")).bearer_auth(&again.refresh_token)).await;
    assert_error(st, &r, 401, "InvalidSession");

    // Delete.
    assert_eq!(send(c.delete(&user).bearer_auth(TOKEN)).await.0, 204);
    let (st, r) = send(c.delete(&user).bearer_auth(TOKEN)).await;
    assert_error(st, &r, 404, "UserNotFound");
    let (_, users) = send(c.get(format!("{admin}/users")).bearer_auth(TOKEN)).await;
    assert_eq!(users, json!([]));
    let (st, r) = send(c.get(s.url("/auth/profile")).bearer_auth(&again.access_token)).await;
    assert_error(st, &r, 401, "InvalidSession");
}
