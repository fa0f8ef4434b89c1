//! The whole auth and user API over HTTP, against the real binary serving the fixture app export:
//! email/password with confirmation and reset links from the webhook, custom-token, linking,
//! API keys, sessions, deletion, and the errors of each step.

mod common;
use common::auth::*;
use common::*;
use serde_json::{json, Value};

const PW: &str = "password1";

fn start(data: &std::path::Path, webhook: &Webhook, extra: &[&str]) -> Server {
    let app = fixture_app();
    let mut args = vec!["--app", app.to_str().expect("utf8"), "--email-webhook", webhook.url.as_str()];
    args.extend_from_slice(extra);
    Server::start_with(data, &args)
}

async fn login_userpass(s: &Server, c: &reqwest::Client, email: &str, pw: &str) -> (u16, Value) {
    post(c, &s.app_url("/auth/providers/local-userpass/login"), None, &json!({"username": email, "password": pw})).await
}

/// Registers `email` and confirms it with the link the webhook receives.
async fn register_confirmed(s: &Server, c: &reqwest::Client, hook: &mut Webhook, email: &str) {
    let (st, r) = post(c, &s.app_url("/auth/providers/local-userpass/register"), None, &json!({"email": email, "password": PW})).await;
    assert_eq!(st, 201, "{r}");
    let mail = hook.next().await;
    assert_eq!((mail["kind"].as_str(), mail["email"].as_str()), (Some("confirmation"), Some(email)));
    let body = json!({"token": mail["token"], "tokenId": mail["tokenId"]});
    let (st, r) = post(c, &s.app_url("/auth/providers/local-userpass/confirm"), None, &body).await;
    assert_eq!(st, 204, "{r}");
}

#[tokio::test]
async fn fixture_app_auth_api() {
    let tmp = tempfile::tempdir().expect("tmp");
    let mut hook = Webhook::start().await;
    let s = start(tmp.path(), &hook, &[]);
    let c = client();
    assert_eq!(s.app, "fixture-app-abcde");
    let (st, loc) = send(c.get(s.app_url("/location"))).await;
    assert_eq!(st, 200);
    assert_eq!((loc["deployment_model"].as_str(), loc["location"].as_str()), (Some("GLOBAL"), Some("US-VA")));

    // Register: pending until confirmed; errors for each misuse.
    let email = "jet@example.com";
    let reg = s.app_url("/auth/providers/local-userpass/register");
    let (st, _) = post(&c, &reg, None, &json!({"email": email, "password": PW})).await;
    assert_eq!(st, 201);
    let mail = hook.next().await;
    let url = mail["url"].as_str().expect("url");
    assert!(url.starts_with("http://localhost:3000/confirm?token="), "{url}");
    let (st, r) = post(&c, &reg, None, &json!({"email": email, "password": PW})).await;
    assert_error(st, &r, 409, "AccountNameInUse");
    let (st, r) = login_userpass(&s, &c, email, PW).await;
    assert_error(st, &r, 401, "AuthError");
    assert!(r["error"].as_str().is_some_and(|e| e.contains("confirmation required")), "{r}");
    let confirm = s.app_url("/auth/providers/local-userpass/confirm");
    let (st, r) = post(&c, &confirm, None, &json!({"token": "nope", "tokenId": mail["tokenId"]})).await;
    assert_error(st, &r, 400, "BadRequest");
    let (st, r) = post(&c, &confirm, None, &json!({"token": mail["token"]})).await;
    assert_error(st, &r, 400, "BadRequest");
    // confirm/send issues a second link; either link confirms, then both are spent.
    let (st, _) = post(&c, &s.app_url("/auth/providers/local-userpass/confirm/send"), None, &json!({"email": email})).await;
    assert_eq!(st, 204);
    let second = hook.next().await;
    let (st, _) = post(&c, &confirm, None, &json!({"token": second["token"], "tokenId": second["tokenId"]})).await;
    assert_eq!(st, 204);
    let (st, r) = post(&c, &confirm, None, &json!({"token": mail["token"], "tokenId": mail["tokenId"]})).await;
    assert_error(st, &r, 409, "UserAlreadyConfirmed");
    let (st, r) = post(&c, &s.app_url("/auth/providers/local-userpass/confirm/send"), None, &json!({"email": email})).await;
    assert_error(st, &r, 409, "UserAlreadyConfirmed");
    // An unknown address answers as a pending account would (nothing is sent): no account enumeration.
    let (st, _) = post(&c, &s.app_url("/auth/providers/local-userpass/confirm/send"), None, &json!({"email": "x@example.com"})).await;
    assert_eq!(st, 204);
    let (st, r) = post(&c, &s.app_url("/auth/providers/local-userpass/confirm/call"), None, &json!({"email": email})).await;
    assert_error(st, &r, 409, "UserAlreadyConfirmed");

    // Login, profile, device id.
    let (st, r) = login_userpass(&s, &c, email, "wrong-password").await;
    assert_error(st, &r, 401, "InvalidPassword");
    let device = "65aaaaaaaaaaaaaaaaaaaaaa";
    let body = json!({"username": email, "password": PW, "options": {"device": {"deviceId": {"$oid": device}, "platform": "node"}}});
    let (st, me) = post(&c, &s.app_url("/auth/providers/local-userpass/login"), None, &body).await;
    assert_eq!(st, 200, "{me}");
    assert_eq!(me["device_id"], device);
    let (uid, at, rt) = (me["user_id"].as_str().expect("uid"), me["access_token"].as_str().expect("at"), me["refresh_token"].as_str().expect("rt"));
    assert_eq!(jwt_payload(at)["baas_device_id"], device);
    let (st, p) = send(c.get(s.url("/auth/profile")).bearer_auth(at)).await;
    assert_eq!(st, 200);
    assert_eq!(p["data"]["email"], email);
    assert_eq!(p["identities"][0]["provider_type"], "local-userpass");

    // Custom user data from the export's custom_user_data.json lands in the next access token.
    let doc = json!({"database": "app", "collection": "users", "document": {"userID": uid, "plan": "gold"}});
    assert_eq!(mongo(&s, &c, at, "insertOne", doc).await.0, 200);
    let (st, r) = send(c.post(s.url("/auth/session")).bearer_auth(rt)).await;
    assert_eq!(st, 201);
    let at = r["access_token"].as_str().expect("at").to_string();
    assert_eq!(jwt_payload(&at)["user_data"]["plan"], "gold");

    // Link a custom-token identity: same user, metadata fields in the profile.
    let link_url = format!("{}?link=true", s.app_url("/auth/providers/custom-token/login"));
    let token = custom_jwt(claims("ext-1", "jet@corp.example"));
    let (st, r) = post(&c, &link_url, None, &json!({"token": token})).await;
    assert_error(st, &r, 401, "InvalidSession");
    let (st, r) = post(&c, &link_url, Some(&at), &json!({"token": token})).await;
    assert_eq!(st, 200, "{r}");
    assert_eq!(r["user_id"], uid);
    let (_, p) = send(c.get(s.url("/auth/profile")).bearer_auth(&at)).await;
    assert_eq!(p["identities"].as_array().map(Vec::len), Some(2), "{p}");
    assert_eq!(p["data"]["name"], "Jet");
    let (st, r) = post(&c, &s.app_url("/auth/providers/custom-token/login"), None, &json!({"token": token})).await;
    assert_eq!((st, r["user_id"].as_str()), (200, Some(uid)), "the linked identity logs in as the user");

    // custom-token errors: wrong audience, missing required metadata, expired, bad signature.
    let login_jwt = s.app_url("/auth/providers/custom-token/login");
    let mut wrong_aud = claims("ext-2", "a@b.c");
    wrong_aud["aud"] = json!("another-app");
    let mut no_email = claims("ext-2", "a@b.c");
    no_email.as_object_mut().expect("obj").remove("email");
    let mut expired = claims("ext-2", "a@b.c");
    expired["exp"] = json!(now() - 10);
    let forged = {
        use jsonwebtoken::{encode, EncodingKey, Header};
        encode(&Header::default(), &claims("ext-2", "a@b.c"), &EncodingKey::from_secret(b"some-other-key-some-other-key-xx")).expect("sign")
    };
    for token in [custom_jwt(wrong_aud), custom_jwt(no_email), custom_jwt(expired), forged, "garbage".into()] {
        let (st, r) = post(&c, &login_jwt, None, &json!({"token": token})).await;
        assert_error(st, &r, 401, "AuthError");
    }

    // API keys, all with the refresh token.
    let keys = s.url("/auth/api_keys");
    let (st, r) = send(c.post(&keys).bearer_auth(&at).json(&json!({"name": "k"}))).await;
    assert_error(st, &r, 401, "InvalidSession");
    let (st, key) = send(c.post(&keys).bearer_auth(rt).json(&json!({"name": "server-key"}))).await;
    assert_eq!(st, 201, "{key}");
    let (kid, secret) = (key["_id"].as_str().expect("id"), key["key"].as_str().expect("secret"));
    assert_eq!(key["disabled"], false);
    let (st, r) = send(c.post(&keys).bearer_auth(rt).json(&json!({"name": "server-key"}))).await;
    assert_error(st, &r, 409, "APIKeyAlreadyExists");
    let (st, r) = send(c.post(&keys).bearer_auth(rt).json(&json!({"name": 5}))).await;
    assert_error(st, &r, 400, "BadRequest");
    let (st, list) = send(c.get(&keys).bearer_auth(rt)).await;
    assert_eq!((st, list.as_array().map(Vec::len)), (200, Some(1)));
    assert!(list[0].get("key").is_none(), "the secret is shown once: {list}");
    let (st, one) = send(c.get(format!("{keys}/{kid}")).bearer_auth(rt)).await;
    assert_eq!((st, one["name"].as_str()), (200, Some("server-key")));
    let (st, r) = send(c.get(format!("{keys}/000000000000000000000000")).bearer_auth(rt)).await;
    assert_error(st, &r, 404, "APIKeyNotFound");
    let key_login = s.app_url("/auth/providers/api-key/login");
    let (st, r) = post(&c, &key_login, None, &json!({"key": secret})).await;
    assert_eq!((st, r["user_id"].as_str()), (200, Some(uid)), "{r}");
    assert_eq!(send(c.put(format!("{keys}/{kid}/disable")).bearer_auth(rt)).await.0, 204);
    let (st, r) = post(&c, &key_login, None, &json!({"key": secret})).await;
    assert_error(st, &r, 401, "AuthError");
    assert_eq!(send(c.put(format!("{keys}/{kid}/enable")).bearer_auth(rt)).await.0, 204);
    assert_eq!(post(&c, &key_login, None, &json!({"key": secret})).await.0, 200);
    assert_eq!(send(c.delete(format!("{keys}/{kid}")).bearer_auth(rt)).await.0, 204);
    let (st, r) = post(&c, &key_login, None, &json!({"key": secret})).await;
    assert_error(st, &r, 401, "AuthError");

    // Password reset by link; the link is single-use; password rules apply.
    let reset_send = s.app_url("/auth/providers/local-userpass/reset/send");
    assert_eq!(post(&c, &reset_send, None, &json!({"email": "nobody@example.com"})).await.0, 204, "as for a known address");
    assert_eq!(post(&c, &reset_send, None, &json!({"email": email})).await.0, 204);
    let mail = hook.next().await;
    assert_eq!(mail["kind"], "reset");
    assert!(mail["url"].as_str().is_some_and(|u| u.starts_with("http://localhost:3000/reset?token=")));
    let reset = s.app_url("/auth/providers/local-userpass/reset");
    let (st, r) = post(&c, &reset, None, &json!({"token": mail["token"], "tokenId": mail["tokenId"], "password": "short"})).await;
    assert_error(st, &r, 400, "BadRequest");
    let (st, _) = post(&c, &reset, None, &json!({"token": mail["token"], "tokenId": mail["tokenId"], "password": "new-password"})).await;
    assert_eq!(st, 204);
    let (st, _) = post(&c, &reset, None, &json!({"token": mail["token"], "tokenId": mail["tokenId"], "password": "newer-password"})).await;
    assert_eq!(st, 400, "single use");
    assert_eq!(login_userpass(&s, &c, email, PW).await.0, 401);
    // The reset ended the sessions opened with the old password.
    assert_eq!(send(c.get(s.url("/auth/profile")).bearer_auth(&at)).await.0, 401);
    let (st, me) = login_userpass(&s, &c, email, "new-password").await;
    assert_eq!(st, 200);
    let (at, rt) = (me["access_token"].as_str().expect("at").to_string(), me["refresh_token"].as_str().expect("rt"));
    let (st, r) = post(&c, &s.app_url("/auth/providers/local-userpass/reset/call"), None, &json!({"email": email, "password": "pw-123456", "arguments": []})).await;
    assert_error(st, &r, 400, "BadRequest");

    // A token of another app (the built-in demo app on another server) is refused here.
    let other = Server::start();
    let stranger = register_and_login(&other, &c, "stranger@example.com").await;
    let (st, r) = send(c.get(s.url("/auth/profile")).bearer_auth(&stranger.access_token)).await;
    assert_error(st, &r, 401, "InvalidSession");

    // Delete the user: its tokens stop working at once; logging out its RT still succeeds.
    assert_eq!(send(c.delete(s.url("/auth/delete")).bearer_auth(&at)).await.0, 204);
    let (st, r) = send(c.get(s.url("/auth/profile")).bearer_auth(&at)).await;
    assert_error(st, &r, 401, "InvalidSession");
    let (st, r) = send(c.post(s.url("/auth/session")).bearer_auth(rt)).await;
    assert_error(st, &r, 401, "InvalidSession");
    assert_eq!(send(c.delete(s.url("/auth/session")).bearer_auth(rt)).await.0, 204);
    assert_eq!(login_userpass(&s, &c, email, "new-password").await.0, 401);
}

#[tokio::test]
async fn malformed_auth_requests_get_4xx() {
    let tmp = tempfile::tempdir().expect("tmp");
    let hook = Webhook::start().await;
    let s = start(tmp.path(), &hook, &[]);
    let c = client();
    let p = |route: &str| s.app_url(&format!("/auth/providers/{route}"));
    let cases: Vec<(String, &str)> = vec![
        (p("local-userpass/login"), "[]"),
        (p("local-userpass/login"), "{\"username\": 1}"),
        (p("local-userpass/confirm"), "{\"token\": {\"$numberInt\": \"1\"}, \"tokenId\": \"x\"}"),
        (p("local-userpass/reset/call"), "{\"email\": \"a@b.c\", \"password\": \"pw1234\", \"arguments\": 3}"),
        (p("custom-token/login"), "{\"token\": null}"),
        (p("api-key/login"), "{\"key\": \"short\"}"),
        (p("api-key/login"), "{not json"),
        (p("oauth2-google/login"), "{}"),
    ];
    for (url, body) in cases {
        let (st, r) = send(c.post(&url).header("content-type", "application/json").body(body)).await;
        assert!((400..500).contains(&st), "{url} {body}: {st} {r}");
        assert!(r["error_code"].is_string(), "{r}");
    }
    let (st, r) = send(c.put(s.url("/auth/api_keys/x/enable")).bearer_auth("not-a-session")).await;
    assert_error(st, &r, 401, "InvalidSession");
    let (st, r) = send(c.delete(s.url("/auth/delete"))).await;
    assert_error(st, &r, 401, "InvalidSession");
}

#[tokio::test]
async fn failed_logins_are_rate_limited_per_address() {
    let tmp = tempfile::tempdir().expect("tmp");
    let hook = Webhook::start().await;
    let s = start(tmp.path(), &hook, &["--login-limit-per-address", "3"]);
    let c = client();
    let anon = s.app_url("/auth/providers/anon-user/login");
    for _ in 0..5 {
        assert_eq!(post(&c, &anon, None, &json!({})).await.0, 200, "successful logins cost nothing");
    }
    for i in 0..3 {
        let (st, r) = login_userpass(&s, &c, &format!("guess{i}@example.com"), "guess-123").await;
        assert_error(st, &r, 401, "InvalidPassword");
    }
    let (st, r) = post(&c, &anon, None, &json!({})).await;
    assert_error(st, &r, 429, "TooManyRequests");
}

#[tokio::test]
async fn restart_keeps_users_sessions_api_keys_and_confirmations() {
    let tmp = tempfile::tempdir().expect("tmp");
    let mut hook = Webhook::start().await;
    let c = client();
    let (rt, secret, pending, uid) = {
        let s = start(tmp.path(), &hook, &[]);
        register_confirmed(&s, &c, &mut hook, "keep@example.com").await;
        let (_, me) = login_userpass(&s, &c, "keep@example.com", PW).await;
        let rt = me["refresh_token"].as_str().expect("rt").to_string();
        let (_, key) = send(c.post(s.url("/auth/api_keys")).bearer_auth(&rt).json(&json!({"name": "k"}))).await;
        let reg = s.app_url("/auth/providers/local-userpass/register");
        assert_eq!(post(&c, &reg, None, &json!({"email": "later@example.com", "password": PW})).await.0, 201);
        let pending = hook.next().await;
        (rt, key["key"].as_str().expect("secret").to_string(), pending, me["user_id"].clone())
    };
    let s = start(tmp.path(), &hook, &[]);
    let (st, r) = send(c.post(s.url("/auth/session")).bearer_auth(&rt)).await;
    assert_eq!(st, 201, "session survived: {r}");
    let (st, r) = post(&c, &s.app_url("/auth/providers/api-key/login"), None, &json!({"key": secret})).await;
    assert_eq!((st, &r["user_id"]), (200, &uid), "API key survived: {r}");
    let body = json!({"token": pending["token"], "tokenId": pending["tokenId"]});
    assert_eq!(post(&c, &s.app_url("/auth/providers/local-userpass/confirm"), None, &body).await.0, 204, "confirmation survived");
    assert_eq!(login_userpass(&s, &c, "later@example.com", PW).await.0, 200);
}
