//! Issue 10's authentication defects, each reproduced over HTTP against the real binary: raced login
//! limits, unauthenticated hashing and spam, revocation gaps, custom-token claims, enumeration,
//! case-variant emails, token uniqueness and app-bound sessions.

mod common;
mod engine_common;

use common::auth::*;
use common::*;
use engine_common::*;
use serde_json::{json, Value};
use std::time::Duration;

const PW: &str = "password1";
const ADMIN_TOKEN: &str = "admin-token-for-tests-0123456789";

fn fixture_server(data: &std::path::Path, hook: &Webhook, extra: &[&str]) -> Server {
    let app = fixture_app();
    let mut args = vec!["--app", app.to_str().expect("utf8"), "--email-webhook", hook.url.as_str()];
    args.extend_from_slice(extra);
    Server::start_with(data, &args)
}

fn userpass(s: &Server, route: &str) -> String {
    s.app_url(&format!("/auth/providers/local-userpass/{route}"))
}

async fn login_pw(s: &Server, c: &reqwest::Client, email: &str, pw: &str) -> (u16, Value) {
    post(c, &userpass(s, "login"), None, &json!({"username": email, "password": pw})).await
}

fn session_of(r: &Value) -> Session {
    let field = |k: &str| r[k].as_str().unwrap_or_else(|| panic!("{k} missing in {r}")).to_string();
    Session { user_id: field("user_id"), access_token: field("access_token"), refresh_token: field("refresh_token"), device_id: field("device_id") }
}

/// Registers `email` on the fixture app and confirms it with the webhook's link.
async fn register_confirmed(s: &Server, c: &reqwest::Client, hook: &mut Webhook, email: &str) {
    let (st, r) = post(c, &userpass(s, "register"), None, &json!({"email": email, "password": PW})).await;
    assert_eq!(st, 201, "{r}");
    let mail = hook.next().await;
    let (st, r) = post(c, &userpass(s, "confirm"), None, &json!({"token": mail["token"], "tokenId": mail["tokenId"]})).await;
    assert_eq!(st, 204, "{r}");
}

/// The status of `GET /auth/profile` with an access token, and of `POST /auth/session` with a refresh token.
async fn token_statuses(s: &Server, c: &reqwest::Client, session: &Session) -> (u16, u16) {
    let at = send(c.get(s.url("/auth/profile")).bearer_auth(&session.access_token)).await.0;
    let rt = send(c.post(s.url("/auth/session")).bearer_auth(&session.refresh_token)).await.0;
    (at, rt)
}

/// Sends `n` logins at once; returns how many answered each status.
async fn parallel_logins(s: &Server, c: &reqwest::Client, bodies: Vec<Value>) -> std::collections::BTreeMap<u16, usize> {
    let url = userpass(s, "login");
    let calls: Vec<_> = bodies
        .into_iter()
        .map(|b| {
            let (c, url) = (c.clone(), url.clone());
            tokio::spawn(async move { post(&c, &url, None, &b).await })
        })
        .collect();
    let mut counts = std::collections::BTreeMap::new();
    for call in calls {
        let call = call.await;
        let (st, r) = call.expect("task");
        assert!(st == 401 || st == 429, "{st} {r}");
        *counts.entry(st).or_insert(0) += 1;
    }
    counts
}

// Item 4: the attempt is reserved before the password is hashed, so parallel guesses cannot all
// slip under the limit.
#[tokio::test]
async fn parallel_wrong_passwords_check_at_most_the_limit() {
    let tmp = tempfile::tempdir().expect("tmp");
    let s = Server::start_with(tmp.path(), &["--login-limit-per-account", "5", "--login-limit-per-address", "1000"]);
    let c = client();
    register_and_login(&s, &c, "raced@example.com").await;
    let bodies = (0..100).map(|i| json!({"username": "raced@example.com", "password": format!("guess-{i}")})).collect();
    let counts = parallel_logins(&s, &c, bodies).await;
    assert!(counts.get(&401).copied().unwrap_or(0) <= 5, "passwords checked per account: {counts:?}");
    assert!(counts.get(&429).copied().unwrap_or(0) >= 95, "{counts:?}");

    let tmp = tempfile::tempdir().expect("tmp");
    let s = Server::start_with(tmp.path(), &["--login-limit-per-account", "1000", "--login-limit-per-address", "10"]);
    let bodies = (0..100).map(|i| json!({"username": format!("nobody-{i}@example.com"), "password": "guess-123"})).collect();
    let counts = parallel_logins(&s, &c, bodies).await;
    assert!(counts.get(&401).copied().unwrap_or(0) <= 10, "passwords checked per address: {counts:?}");
}

// Item 6: the routes that hash or send mail without a session share a per-address budget.
#[tokio::test]
async fn unauthenticated_account_routes_are_limited_per_address() {
    let tmp = tempfile::tempdir().expect("tmp");
    let hook = Webhook::start().await;
    let s = fixture_server(tmp.path(), &hook, &["--account-limit-per-address", "5"]);
    let c = client();
    let bogus = json!({"token": "00", "tokenId": "000000000000000000000000", "password": "new-password"});
    for _ in 0..3 {
        let (st, r) = post(&c, &userpass(&s, "reset"), None, &bogus).await;
        assert_error(st, &r, 400, "BadRequest");
    }
    assert_eq!(post(&c, &userpass(&s, "reset/send"), None, &json!({"email": "a@example.com"})).await.0, 204);
    assert_eq!(post(&c, &userpass(&s, "register"), None, &json!({"email": "b@example.com", "password": PW})).await.0, 201);
    for (route, body) in [
        ("register", json!({"email": "c@example.com", "password": PW})),
        ("reset", bogus.clone()),
        ("reset/send", json!({"email": "a@example.com"})),
        ("reset/call", json!({"email": "a@example.com", "password": PW, "arguments": []})),
        ("confirm/send", json!({"email": "a@example.com"})),
        ("confirm/call", json!({"email": "a@example.com"})),
    ] {
        let (st, r) = post(&c, &userpass(&s, route), None, &body).await;
        assert_error(st, &r, 429, "TooManyRequests");
    }
    // Logins have their own limits.
    assert_eq!(post(&c, &s.app_url("/auth/providers/anon-user/login"), None, &json!({})).await.0, 200);
}

async fn expect_session_ended(w: &mut Watch, what: &str) {
    let event = tokio::time::timeout(Duration::from_secs(20), w.next_event())
        .await
        .unwrap_or_else(|_| panic!("the watch stayed open after {what}"));
    let (kind, body) = event.unwrap_or_else(|| panic!("the watch ended without an error event after {what}"));
    assert_eq!(kind, "error", "{what}: {body}");
    assert_eq!(body["error_code"], "InvalidSession", "{what}: {body}");
    let end = tokio::time::timeout(Duration::from_secs(20), w.next_event()).await.expect("stream end");
    assert!(end.is_none(), "{what}: the stream goes on after its error");
}

// Item 7: an open watch ends, with the error a client sees when its session ends, when the user is
// disabled or deleted and when its session is revoked or logged out.
#[tokio::test]
async fn watch_streams_end_with_their_session() {
    let tmp = tempfile::tempdir().expect("tmp");
    let s = Server::start_with(tmp.path(), &["--admin-listen", "127.0.0.1:0", "--admin-token", ADMIN_TOKEN]);
    let admin = s.admin.clone().expect("admin");
    let c = client();
    let arg = json!({"database": "w", "collection": "revoked"});
    let users = format!("{admin}/users");

    let me = register_and_login(&s, &c, "disabled@example.com").await;
    let mut w = Watch::open(&s, &c, &me.access_token, arg.clone()).await;
    let mut other = Watch::open(&s, &c, &anonymous(&s, &c).await.access_token, arg.clone()).await;
    assert_eq!(send(c.put(format!("{users}/{}/disable", me.user_id)).bearer_auth(ADMIN_TOKEN)).await.0, 204);
    expect_session_ended(&mut w, "disabling the user").await;

    let me = register_and_login(&s, &c, "deleted@example.com").await;
    let mut w = Watch::open(&s, &c, &me.access_token, arg.clone()).await;
    assert_eq!(send(c.delete(format!("{users}/{}", me.user_id)).bearer_auth(ADMIN_TOKEN)).await.0, 204);
    expect_session_ended(&mut w, "deleting the user").await;

    let me = register_and_login(&s, &c, "self-deleted@example.com").await;
    let mut w = Watch::open(&s, &c, &me.access_token, arg.clone()).await;
    assert_eq!(send(c.delete(s.url("/auth/delete")).bearer_auth(&me.access_token)).await.0, 204);
    expect_session_ended(&mut w, "the user deleting themselves").await;

    let me = register_and_login(&s, &c, "revoked@example.com").await;
    let mut w = Watch::open(&s, &c, &me.access_token, arg.clone()).await;
    assert_eq!(send(c.delete(format!("{users}/{}/sessions", me.user_id)).bearer_auth(ADMIN_TOKEN)).await.0, 200);
    expect_session_ended(&mut w, "revoking the sessions").await;

    let me = register_and_login(&s, &c, "logged-out@example.com").await;
    let mut w = Watch::open(&s, &c, &me.access_token, arg.clone()).await;
    assert_eq!(send(c.delete(s.url("/auth/session")).bearer_auth(&me.refresh_token)).await.0, 204);
    expect_session_ended(&mut w, "logging out").await;

    // Someone else's watch was not touched by any of it.
    let at = anonymous(&s, &c).await.access_token;
    assert_eq!(mongo(&s, &c, &at, "insertOne", json!({"database": "w", "collection": "revoked", "document": {"_id": 1}})).await.0, 200);
    let (kind, event) = other.next_event().await.expect("event");
    assert_eq!((kind.as_str(), &event["operationType"]), ("message", &json!("insert")));
}

// Item 9: every revocation reaches the access tokens of the sessions it ends.
#[tokio::test]
async fn revocation_reaches_access_tokens() {
    let tmp = tempfile::tempdir().expect("tmp");
    let mut hook = Webhook::start().await;
    let s = fixture_server(tmp.path(), &hook, &["--admin-listen", "127.0.0.1:0", "--admin-token", ADMIN_TOKEN]);
    let admin = s.admin.clone().expect("admin");
    let c = client();
    let email = "gaps@example.com";
    register_confirmed(&s, &c, &mut hook, email).await;
    let me = session_of(&login_pw(&s, &c, email, PW).await.1);

    // Logout ends the access token too.
    let phone = session_of(&login_pw(&s, &c, email, PW).await.1);
    assert_eq!(send(c.delete(s.url("/auth/session")).bearer_auth(&phone.refresh_token)).await.0, 204);
    assert_eq!(token_statuses(&s, &c, &phone).await, (401, 401), "after logout");
    assert_eq!(token_statuses(&s, &c, &me).await.0, 200, "other sessions live on");

    // Sessions opened with an API key end when the key is disabled or deleted.
    let keys = s.url("/auth/api_keys");
    let (_, key) = send(c.post(&keys).bearer_auth(&me.refresh_token).json(&json!({"name": "k"}))).await;
    let (kid, secret) = (key["_id"].as_str().expect("id"), key["key"].as_str().expect("key"));
    let key_login = s.app_url("/auth/providers/api-key/login");
    let by_key = session_of(&post(&c, &key_login, None, &json!({"key": secret})).await.1);
    assert_eq!(send(c.put(format!("{keys}/{kid}/disable")).bearer_auth(&me.refresh_token)).await.0, 204);
    assert_eq!(token_statuses(&s, &c, &by_key).await, (401, 401), "after disabling the API key");
    assert_eq!(send(c.put(format!("{keys}/{kid}/enable")).bearer_auth(&me.refresh_token)).await.0, 204);
    let by_key = session_of(&post(&c, &key_login, None, &json!({"key": secret})).await.1);
    assert_eq!(send(c.delete(format!("{keys}/{kid}")).bearer_auth(&me.refresh_token)).await.0, 204);
    assert_eq!(token_statuses(&s, &c, &by_key).await, (401, 401), "after deleting the API key");
    assert_eq!(token_statuses(&s, &c, &me).await.0, 200, "the owner's own session lives on");

    // A password reset ends every session of the user.
    let laptop = session_of(&login_pw(&s, &c, email, PW).await.1);
    assert_eq!(post(&c, &userpass(&s, "reset/send"), None, &json!({"email": email})).await.0, 204);
    let mail = hook.next().await;
    let body = json!({"token": mail["token"], "tokenId": mail["tokenId"], "password": "new-password"});
    assert_eq!(post(&c, &userpass(&s, "reset"), None, &body).await.0, 204);
    assert_eq!(token_statuses(&s, &c, &me).await, (401, 401), "after a password reset");
    assert_eq!(token_statuses(&s, &c, &laptop).await, (401, 401), "after a password reset");

    // Admin revoke ends access tokens; a disabled-then-enabled user's old tokens stay dead.
    let me = session_of(&login_pw(&s, &c, email, "new-password").await.1);
    let user = format!("{admin}/users/{}", me.user_id);
    assert_eq!(send(c.delete(format!("{user}/sessions")).bearer_auth(ADMIN_TOKEN)).await.0, 200);
    assert_eq!(token_statuses(&s, &c, &me).await, (401, 401), "after admin revoke");
    let me = session_of(&login_pw(&s, &c, email, "new-password").await.1);
    assert_eq!(send(c.put(format!("{user}/disable")).bearer_auth(ADMIN_TOKEN)).await.0, 204);
    assert_eq!(send(c.put(format!("{user}/enable")).bearer_auth(ADMIN_TOKEN)).await.0, 204);
    assert_eq!(token_statuses(&s, &c, &me).await, (401, 401), "after disable + enable");
    let (st, r) = login_pw(&s, &c, email, "new-password").await;
    assert_eq!(st, 200, "enabled users log in again: {r}");
}

// Item 10: a configured audience requires `aud`; a token is refused before its `nbf`.
#[tokio::test]
async fn custom_tokens_need_aud_and_respect_nbf() {
    let tmp = tempfile::tempdir().expect("tmp");
    let hook = Webhook::start().await;
    let s = fixture_server(tmp.path(), &hook, &[]);
    let c = client();
    let login = s.app_url("/auth/providers/custom-token/login");
    let mut no_aud = claims("jwt-1", "a@b.c");
    no_aud.as_object_mut().expect("object").remove("aud");
    let (st, r) = post(&c, &login, None, &json!({"token": custom_jwt(no_aud)})).await;
    assert_error(st, &r, 401, "AuthError");
    let mut later = claims("jwt-1", "a@b.c");
    later["nbf"] = json!(now() + 3600);
    let (st, r) = post(&c, &login, None, &json!({"token": custom_jwt(later)})).await;
    assert_error(st, &r, 401, "AuthError");
    let mut valid = claims("jwt-1", "a@b.c");
    valid["nbf"] = json!(now() - 10);
    let (st, r) = post(&c, &login, None, &json!({"token": custom_jwt(valid)})).await;
    assert_eq!(st, 200, "{r}");
}

// Item 11: the email routes answer an unknown address as they answer a known one.
#[tokio::test]
async fn email_routes_do_not_reveal_accounts() {
    let tmp = tempfile::tempdir().expect("tmp");
    let mut hook = Webhook::start().await;
    let s = fixture_server(tmp.path(), &hook, &[]);
    let c = client();
    register_confirmed(&s, &c, &mut hook, "known@example.com").await;
    let (st, _) = post(&c, &userpass(&s, "register"), None, &json!({"email": "pending@example.com", "password": PW})).await;
    assert_eq!(st, 201);
    hook.next().await;

    let answer = |route: &'static str, email: &'static str| {
        let c = c.clone();
        let url = userpass(&s, route);
        async move {
            let body = json!({"email": email, "password": "another-password", "arguments": []});
            let (st, r) = post(&c, &url, None, &body).await;
            (st, r["error_code"].clone(), r["error"].as_str().map(|e| e.replace(email, "<email>")))
        }
    };
    // Resets answer as for a confirmed account, confirmations as for a pending one.
    for route in ["reset/send", "reset/call"] {
        assert_eq!(answer(route, "nobody@example.com").await, answer(route, "known@example.com").await, "{route}");
    }
    for route in ["confirm/send", "confirm/call"] {
        assert_eq!(answer(route, "nobody@example.com").await, answer(route, "pending@example.com").await, "{route}");
    }
    assert_eq!(answer("reset/send", "nobody@example.com").await.0, 204);
    // Only the known address got mail: a reset link and a second confirmation link.
    let kinds = [hook.next().await, hook.next().await];
    let mut got: Vec<(String, String)> = kinds.iter().map(|m| (m["kind"].as_str().unwrap_or_default().into(), m["email"].as_str().unwrap_or_default().into())).collect();
    got.sort();
    assert_eq!(got, [("confirmation".into(), "pending@example.com".into()), ("reset".into(), "known@example.com".into())]);
}

// Item 11: links to one address are limited, whether or not it has an account.
#[tokio::test]
async fn email_links_are_limited_per_address() {
    let tmp = tempfile::tempdir().expect("tmp");
    let mut hook = Webhook::start().await;
    let s = fixture_server(tmp.path(), &hook, &["--email-limit-per-account", "3", "--account-limit-per-address", "1000"]);
    let c = client();
    register_confirmed(&s, &c, &mut hook, "victim@example.com").await;
    for email in ["victim@example.com", "VICTIM@example.com", "Victim@Example.com"] {
        assert_eq!(post(&c, &userpass(&s, "reset/send"), None, &json!({"email": email})).await.0, 204, "{email}");
        assert_eq!(post(&c, &userpass(&s, "reset/send"), None, &json!({"email": "nobody@example.com"})).await.0, 204);
    }
    for email in ["victim@example.com", "nobody@example.com"] {
        let (st, r) = post(&c, &userpass(&s, "reset/send"), None, &json!({"email": email})).await;
        assert_error(st, &r, 429, "TooManyRequests");
    }
    for _ in 0..3 {
        let mail = hook.next().await;
        assert_eq!((mail["kind"].as_str(), mail["email"].as_str()), (Some("reset"), Some("victim@example.com")), "case variants reach the account's own address");
    }
}

// Item 11: an address differing only in case is the same account.
#[tokio::test]
async fn emails_are_compared_without_case() {
    let tmp = tempfile::tempdir().expect("tmp");
    let s = Server::start_with(tmp.path(), &[]);
    let c = client();
    let victim = register_and_login(&s, &c, "victim@ex.com").await;
    let (st, r) = post(&c, &s.app_url("/auth/providers/local-userpass/register"), None, &json!({"email": "VICTIM@EX.COM", "password": "attacker-pw"})).await;
    assert_error(st, &r, 409, "AccountNameInUse");
    let (st, r) = login_pw(&s, &c, "Victim@Ex.Com", PW).await;
    assert_eq!((st, r["user_id"].as_str()), (200, Some(victim.user_id.as_str())), "{r}");
    let (st, r) = login_pw(&s, &c, "VICTIM@EX.COM", "attacker-pw").await;
    assert_error(st, &r, 401, "InvalidPassword");
}

// Item 14: every access token is unique, even two for one session in one second.
#[tokio::test]
async fn access_tokens_carry_a_unique_id() {
    let s = Server::start();
    let c = client();
    let me = register_and_login(&s, &c, "jti@example.com").await;
    let (mut ids, mut tokens) = (std::collections::HashSet::new(), std::collections::HashSet::new());
    tokens.insert(me.access_token.clone());
    for _ in 0..5 {
        let (st, r) = send(c.post(s.url("/auth/session")).bearer_auth(&me.refresh_token)).await;
        assert_eq!(st, 201);
        let at = r["access_token"].as_str().expect("at").to_string();
        let jti = jwt_payload(&at)["jti"].as_str().map(str::to_string).expect("jti claim");
        assert!(ids.insert(jti), "jti repeated");
        assert!(tokens.insert(at), "access token repeated");
    }
}

// Item 14: a data directory reused with another app does not let the old app's sessions in.
#[tokio::test]
async fn sessions_belong_to_their_app() {
    let tmp = tempfile::tempdir().expect("tmp");
    let c = client();
    let old = {
        let s = Server::start_in(tmp.path());
        register_and_login(&s, &c, "old-app@example.com").await
    };
    let hook = Webhook::start().await;
    let s = fixture_server(tmp.path(), &hook, &[]);
    let (st, r) = send(c.post(s.url("/auth/session")).bearer_auth(&old.refresh_token)).await;
    assert_error(st, &r, 401, "InvalidSession");
    let (st, r) = send(c.get(s.url("/auth/api_keys")).bearer_auth(&old.refresh_token)).await;
    assert_error(st, &r, 401, "InvalidSession");
    drop(s);
    let s = Server::start_in(tmp.path());
    let (st, r) = send(c.post(s.url("/auth/session")).bearer_auth(&old.refresh_token)).await;
    assert_eq!(st, 201, "its own app still takes it: {r}");
}
