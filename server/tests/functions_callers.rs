//! Functions the server calls itself, over HTTP against a real server serving the
//! `functions-server` export: the custom-function auth provider, function-based email
//! confirmation and password reset, the user creation function, `%function` in rules; and client
//! calls as the App Services docs describe them (run as the user under the rules vs as system,
//! error shapes, streaming, hostile functions next to good calls).

mod common;
mod engine_common;

use common::*;
use engine_common::{anonymous, Watch};
use serde_json::{json, Value};
use std::path::PathBuf;

fn fixture() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/functions-server")
}

fn start(extra: &[&str]) -> (Server, tempfile::TempDir) {
    let tmp = tempfile::tempdir().expect("tempdir");
    let app = fixture();
    let mut args = vec!["--app", app.to_str().expect("utf-8")];
    args.extend_from_slice(extra);
    let s = Server::start_with(tmp.path(), &args);
    (s, tmp)
}

async fn call(s: &Server, c: &reqwest::Client, at: &str, name: &str, args: Value) -> (u16, Value) {
    post(c, &s.app_url("/functions/call"), Some(at), &json!({"name": name, "arguments": args})).await
}

async fn login_with(s: &Server, c: &reqwest::Client, provider: &str, body: Value) -> (u16, Value) {
    post(c, &s.app_url(&format!("/auth/providers/{provider}/login")), None, &body).await
}

fn userpass(email: &str, password: &str) -> Value {
    json!({"username": email, "password": password, "options": {"device": {"sdkVersion": "2.0.1"}}})
}

async fn register(s: &Server, c: &reqwest::Client, email: &str) -> (u16, Value) {
    post(c, &s.app_url("/auth/providers/local-userpass/register"), None, &json!({"email": email, "password": "password1"})).await
}

/// What the fixture's confirmation / reset function "mailed" to `email` (read as system).
async fn mail(s: &Server, c: &reqwest::Client, at: &str, email: &str, kind: &str) -> Value {
    let (st, m) = call(s, c, at, "mail", json!([email, kind])).await;
    assert_eq!(st, 200, "{m}");
    m
}

#[tokio::test]
async fn the_custom_function_provider_logs_users_in_by_external_id() {
    let (s, _tmp) = start(&[]);
    let c = client();
    let creds = |name: &str, secret: &str| json!({"username": name, "secret": secret, "options": {"device": {"sdkVersion": "2.0.1"}}});
    let (st, first) = login_with(&s, &c, "custom-function", creds("ada", "open sesame")).await;
    assert_eq!(st, 200, "{first}");
    let (st, again) = login_with(&s, &c, "custom-function", creds("ada", "open sesame")).await;
    assert_eq!(st, 200, "{again}");
    assert_eq!(first["user_id"], again["user_id"], "the same external id logs in the same user");
    let (st, other) = login_with(&s, &c, "custom-function", creds("bob", "open sesame")).await;
    assert_eq!(st, 200);
    assert_ne!(other["user_id"], first["user_id"]);
    let at = first["access_token"].as_str().expect("at");
    let (st, profile) = send(c.get(s.url("/auth/profile")).bearer_auth(at)).await;
    assert_eq!(st, 200);
    assert_eq!(profile["identities"][0]["provider_type"], "custom-function", "{profile}");
    assert_eq!(profile["identities"][0]["id"], "ext-ada", "{profile}");
    // `{id, name}` names the user too.
    let mut named = creds("cy", "open sesame");
    named["asObject"] = json!(true);
    let (_, r) = login_with(&s, &c, "custom-function", named).await;
    let (_, profile) = send(c.get(s.url("/auth/profile")).bearer_auth(r["access_token"].as_str().expect("at"))).await;
    assert_eq!((&profile["identities"][0]["id"], &profile["data"]["name"]), (&json!("ext-cy"), &json!("User cy")), "{profile}");
    // A throw is a 401 carrying the thrown message.
    let (st, r) = login_with(&s, &c, "custom-function", creds("ada", "guess")).await;
    assert_error(st, &r, 401, "AuthError");
    assert_eq!(r["error"], "wrong secret for ada");
}

#[tokio::test]
async fn the_user_creation_function_runs_before_the_first_token() {
    let (s, _tmp) = start(&[]);
    let c = client();
    let (st, r) = login_with(&s, &c, "custom-function", json!({"username": "dee", "secret": "open sesame"})).await;
    assert_eq!(st, 200, "{r}");
    let claims = jwt_payload(r["access_token"].as_str().expect("at"));
    assert_eq!(claims["user_data"]["created_by"], "onCreate", "the first token carries the custom data the function wrote: {claims}");
    assert_eq!(claims["user_data"]["provider"], "custom-function");
    let anon = anonymous(&s, &c).await;
    assert_eq!(jwt_payload(&anon.access_token)["user_data"]["provider"], "anon-user");
    let (_, r) = login_with(&s, &c, "custom-function", json!({"username": "dee", "secret": "open sesame"})).await;
    let (st, n) = call(&s, &c, r["access_token"].as_str().expect("at"), "notesAsSystem", json!(["count"])).await;
    assert_eq!(st, 200, "{n}");
    // The function throws for this one: no user, no session.
    let (st, r) = login_with(&s, &c, "custom-function", json!({"username": "refused", "secret": "open sesame"})).await;
    assert_error(st, &r, 400, "FunctionExecutionError");
    assert!(r["error"].as_str().is_some_and(|e| e.contains("this user may not be created")), "{r}");
    let (st, _) = login_with(&s, &c, "custom-function", json!({"username": "refused", "secret": "open sesame"})).await;
    assert_eq!(st, 400, "refused again: it was never created");
}

#[tokio::test]
async fn the_confirmation_function_decides() {
    let (s, _tmp) = start(&[]);
    let c = client();
    let reader = anonymous(&s, &c).await.access_token;
    // success: confirmed at once.
    assert_eq!(register(&s, &c, "auto1@example.com").await.0, 201);
    assert_eq!(login_with(&s, &c, "local-userpass", userpass("auto1@example.com", "password1")).await.0, 200);
    let sent = mail(&s, &c, &reader, "auto1@example.com", "confirm").await;
    assert!(sent["token"].as_str().is_some_and(|t| t.len() >= 32) && sent["tokenId"].is_string(), "{sent}");
    // pending: confirmed with the token the function got.
    assert_eq!(register(&s, &c, "link1@example.com").await.0, 201);
    let (st, r) = login_with(&s, &c, "local-userpass", userpass("link1@example.com", "password1")).await;
    assert_error(st, &r, 401, "AuthError");
    let sent = mail(&s, &c, &reader, "link1@example.com", "confirm").await;
    let (st, r) = post(&c, &s.app_url("/auth/providers/local-userpass/confirm"), None, &json!({"token": sent["token"], "tokenId": sent["tokenId"]})).await;
    assert_eq!(st, 204, "{r}");
    assert_eq!(login_with(&s, &c, "local-userpass", userpass("link1@example.com", "password1")).await.0, 200);
    // pending, then confirmed by running the function again (retryCustomConfirmation).
    assert_eq!(register(&s, &c, "retry1@example.com").await.0, 201);
    assert_eq!(login_with(&s, &c, "local-userpass", userpass("retry1@example.com", "password1")).await.0, 401);
    let (st, r) = post(&c, &s.app_url("/auth/providers/local-userpass/confirm/call"), None, &json!({"email": "retry1@example.com"})).await;
    assert_eq!(st, 204, "{r}");
    assert_eq!(login_with(&s, &c, "local-userpass", userpass("retry1@example.com", "password1")).await.0, 200);
    let (st, r) = post(&c, &s.app_url("/auth/providers/local-userpass/confirm/call"), None, &json!({"email": "retry1@example.com"})).await;
    assert_error(st, &r, 409, "UserAlreadyConfirmed");
    // fail, or a throw: no account, and the address can register again.
    for email in ["nope1@example.com", "throw1@example.com"] {
        for _ in 0..2 {
            let (st, r) = register(&s, &c, email).await;
            assert_error(st, &r, 400, "FunctionExecutionError");
            assert_eq!(r["error"], format!("failed to confirm user \"{email}\""));
        }
        let (st, _) = login_with(&s, &c, "local-userpass", userpass(email, "password1")).await;
        assert_eq!(st, 401, "no account for {email}");
    }
    // The confirmation function replaces links: confirm/send refuses.
    let (st, _) = post(&c, &s.app_url("/auth/providers/local-userpass/confirm/send"), None, &json!({"email": "link2@example.com"})).await;
    assert_eq!(st, 400);
}

#[tokio::test]
async fn the_reset_function_decides() {
    let (s, _tmp) = start(&[]);
    let c = client();
    let reader = anonymous(&s, &c).await.access_token;
    let email = "auto-reset@example.com";
    assert_eq!(register(&s, &c, email).await.0, 201);
    let reset = |password: &str, args: Value| {
        let (c, url) = (c.clone(), s.app_url("/auth/providers/local-userpass/reset/call"));
        let body = json!({"email": email, "password": password, "arguments": args});
        async move { post(&c, &url, None, &body).await }
    };
    // success: the password changes at once; the function got the documented first argument and
    // the client's arguments after it.
    let (st, r) = reset("password2", json!(["approve", {"$numberInt": "42"}, "x"])).await;
    assert_eq!(st, 204, "{r}");
    let sent = mail(&s, &c, &reader, email, "reset").await;
    assert_eq!(sent["more"], json!([{"$numberInt": "42"}, "x"]), "{sent}");
    assert_eq!((&sent["currentPasswordValid"], int(&sent["passwordLength"])), (&json!(false), 9), "{sent}");
    assert_eq!(login_with(&s, &c, "local-userpass", userpass(email, "password1")).await.0, 401);
    assert_eq!(login_with(&s, &c, "local-userpass", userpass(email, "password2")).await.0, 200);
    let (st, _) = reset("password2", json!(["approve"])).await;
    assert_eq!(st, 204);
    assert_eq!(mail(&s, &c, &reader, email, "reset").await["currentPasswordValid"], true, "the same password again");
    // pending: the password changes when the token is used.
    assert_eq!(reset("password3", json!(["later"])).await.0, 204);
    assert_eq!(login_with(&s, &c, "local-userpass", userpass(email, "password2")).await.0, 200, "unchanged while pending");
    let sent = mail(&s, &c, &reader, email, "reset").await;
    let body = json!({"token": sent["token"], "tokenId": sent["tokenId"], "password": "password3"});
    let (st, r) = post(&c, &s.app_url("/auth/providers/local-userpass/reset"), None, &body).await;
    assert_eq!(st, 204, "{r}");
    assert_eq!(login_with(&s, &c, "local-userpass", userpass(email, "password3")).await.0, 200);
    // fail, or a throw (of a non-Error even): refused.
    for decision in ["deny", "throw"] {
        let (st, r) = reset("password4", json!([decision])).await;
        assert_error(st, &r, 400, "FunctionExecutionError");
        assert_eq!(r["error"], format!("failed to reset password for user \"{email}\""));
    }
    assert_eq!(login_with(&s, &c, "local-userpass", userpass(email, "password3")).await.0, 200, "unchanged");
    // Reset links are off while a reset function is configured.
    let (st, r) = post(&c, &s.app_url("/auth/providers/local-userpass/reset/send"), None, &json!({"email": email})).await;
    assert_eq!((st, r["error"].as_str()), (400, Some("please use reset password via function")));
}

/// Three users of the `%function`-ruled `shop.items`: a red member, a blue admin member, a
/// stranger. What each sees and may write is decided by functions reading `app.members`.
#[tokio::test]
async fn function_rules_decide_roles_filters_and_fields() {
    let (s, _tmp) = start(&[]);
    let c = client();
    let (red, blue, stranger) = (anonymous(&s, &c).await, anonymous(&s, &c).await, anonymous(&s, &c).await);
    assert_eq!(call(&s, &c, &red.access_token, "join", json!(["red"])).await.0, 200);
    assert_eq!(call(&s, &c, &blue.access_token, "join", json!(["blue", true])).await.0, 200);
    let items = json!([{"_id": 1, "name": "r1", "team": "red", "secret": "s1"}, {"_id": 2, "name": "b1", "team": "blue", "secret": "s2"}]);
    assert_eq!(call(&s, &c, &red.access_token, "seed", json!([items])).await.0, 200);
    let mut watch = Watch::open(&s, &c, &red.access_token, json!({"database": "shop", "collection": "items"})).await;
    let shop = |extra: Value| {
        let mut v = json!({"database": "shop", "collection": "items"});
        v.as_object_mut().expect("object").extend(extra.as_object().expect("object").clone());
        v
    };
    let (_, r) = mongo(&s, &c, &red.access_token, "find", shop(json!({"query": {}}))).await;
    assert_eq!(r, json!([{"_id": {"$numberInt": "1"}, "name": "r1", "team": "red"}]), "red: its team's items, without the secret");
    let (_, r) = mongo(&s, &c, &blue.access_token, "find", shop(json!({"query": {}}))).await;
    assert_eq!(r, json!([{"_id": {"$numberInt": "2"}, "name": "b1", "team": "blue", "secret": "s2"}]), "blue is an admin: the secret too");
    let (_, r) = mongo(&s, &c, &stranger.access_token, "find", shop(json!({"query": {}}))).await;
    assert_eq!(r, json!([]), "no role applies to a stranger (the function's throw makes the filter false)");
    let (st, r) = mongo(&s, &c, &red.access_token, "insertOne", shop(json!({"document": {"_id": 3, "name": "r2", "team": "red"}}))).await;
    assert_eq!(st, 200, "{r}");
    let (st, _) = mongo(&s, &c, &red.access_token, "insertOne", shop(json!({"document": {"_id": 4, "name": "b2", "team": "blue"}}))).await;
    assert_eq!(st, 403, "outside red's write filter");
    let (st, _) = mongo(&s, &c, &stranger.access_token, "insertOne", shop(json!({"document": {"_id": 5, "name": "x", "team": "red"}}))).await;
    assert_eq!(st, 403, "no role for a stranger");
    let (_, r) = mongo(&s, &c, &blue.access_token, "deleteMany", shop(json!({"query": {}}))).await;
    assert_eq!(int(&r["deletedCount"]), 1, "blue deletes blue items only");
    let (_, n) = mongo(&s, &c, &red.access_token, "count", shop(json!({}))).await;
    assert_eq!(int(&n), 2);
    let (_, agg) = mongo(&s, &c, &red.access_token, "aggregate", shop(json!({"pipeline": [{"$sort": {"_id": 1}}, {"$project": {"name": 1}}]}))).await;
    assert_eq!(agg, json!([{"_id": {"$numberInt": "1"}, "name": "r1"}, {"_id": {"$numberInt": "3"}, "name": "r2"}]));
    // The watch opened by red saw its own insert, not blue's delete of a blue item.
    let (_, e) = watch.next_event().await.expect("event");
    assert_eq!((e["operationType"].as_str(), &e["fullDocument"]["name"]), (Some("insert"), &json!("r2")), "{e}");
}

/// A function running as its user cannot read or write what the rules deny that user; a system
/// function can (`app.notes`: each user reads and writes only its own notes).
#[tokio::test]
async fn run_as_user_functions_obey_the_rules_and_system_functions_bypass_them() {
    let (s, _tmp) = start(&[]);
    let c = client();
    let (a, b) = (anonymous(&s, &c).await, anonymous(&s, &c).await);
    for (who, n) in [(&a, 1), (&b, 2)] {
        let (st, r) = call(&s, &c, &who.access_token, "notes", json!(["insert", {"_id": n, "owner_id": who.user_id, "text": "mine"}])).await;
        assert_eq!(st, 200, "{r}");
    }
    let ids = |v: &Value| -> Vec<i64> { v.as_array().map(|a| a.iter().map(|d| int(&d["_id"])).collect()).unwrap_or_default() };
    // (function, sees both users' notes)
    for (function, system) in [("notes", false), ("notesAsSystem", true)] {
        let at = a.access_token.as_str();
        let label = if system { "system" } else { "as user a" };
        let (_, found) = call(&s, &c, at, function, json!(["find"])).await;
        assert_eq!(ids(&found), if system { vec![1, 2] } else { vec![1] }, "{label}: find");
        let (_, one) = call(&s, &c, at, function, json!(["findOne", {"_id": 2}])).await;
        assert_eq!(one.is_null(), !system, "{label}: findOne of b's note");
        let (_, n) = call(&s, &c, at, function, json!(["count"])).await;
        assert_eq!(int(&n), if system { 2 } else { 1 }, "{label}: count");
        let (_, r) = call(&s, &c, at, function, json!(["update", {"_id": 2}, {"$set": {"seen": label}}])).await;
        assert_eq!(int(&r["matchedCount"]), i64::from(system), "{label}: update b's note");
        let (st, r) = call(&s, &c, at, function, json!(["insert", {"owner_id": b.user_id, "text": "forged"}])).await;
        if system {
            assert_eq!(st, 200, "{label}: insert for b: {r}");
        } else {
            assert_error(st, &r, 400, "FunctionExecutionError");
            assert!(r["error"].as_str().is_some_and(|e| e.contains("insert not permitted")), "{label}: {r}");
        }
        let (st, r) = call(&s, &c, at, function, json!(["replace", {"_id": 2}, {"owner_id": b.user_id, "text": label}])).await;
        assert_eq!(st, 200, "{r}");
        assert_eq!(r.is_null(), !system, "{label}: replace b's note");
        let (_, r) = call(&s, &c, at, function, json!(["delete", {"_id": 2, "never": "matches"}])).await;
        assert_eq!(int(&r["deletedCount"]), 0);
    }
    let (_, r) = call(&s, &c, &a.access_token, "notes", json!(["delete", {"_id": 2}])).await;
    assert_eq!(int(&r["deletedCount"]), 0, "a cannot delete b's note");
    let (_, found) = call(&s, &c, &b.access_token, "notes", json!(["find", {"_id": 2}])).await;
    assert_eq!(found[0]["text"], "system", "only the system function changed b's note: {found}");
    let (_, r) = call(&s, &c, &a.access_token, "notesAsSystem", json!(["delete", {"_id": 2}])).await;
    assert_eq!(int(&r["deletedCount"]), 1, "the system deletes it");
}

#[tokio::test]
async fn errors_answer_as_app_services() {
    let (s, _tmp) = start(&[]);
    let c = client();
    let at = anonymous(&s, &c).await.access_token;
    let (st, r) = call(&s, &c, &at, "sum", json!([2, 3])).await;
    assert_eq!((st, r), (200, json!({"$numberInt": "5"})));
    for name in ["nope", "hidden", "auth/login", "rules/isMember"] {
        let (st, r) = call(&s, &c, &at, name, json!([])).await;
        assert_error(st, &r, 404, "FunctionNotFound");
        assert_eq!(r["error"].as_str().map(|e| e.starts_with(&format!("function not found: '{name}'"))), Some(true), "{r}");
    }
    let (st, r) = call(&s, &c, &at, "throws", json!(["x"])).await;
    assert_error(st, &r, 400, "FunctionExecutionError");
    let thrown: Value = serde_json::from_str(r["error"].as_str().expect("error")).expect("the error is the thrown Error as JSON");
    assert_eq!(thrown, json!({"message": "bad input: x", "name": "TypeError"}));
    // Streaming: App Services streams service functions only.
    let streaming = |name: &str| {
        let body = json!({"name": name, "arguments": [1, 2]}).to_string();
        use base64::Engine;
        let b64 = base64::engine::general_purpose::STANDARD.encode(body);
        c.get(s.app_url(&format!("/functions/call?baas_request={}", b64.replace('+', "%2B").replace('/', "%2F").replace('=', "%3D")))).bearer_auth(&at)
    };
    let (st, r) = send(streaming("sum")).await;
    assert_error(st, &r, 400, "FunctionExecutionError");
    assert!(r["error"].as_str().is_some_and(|e| e.contains("callFunctionStreaming")), "{r}");
    let (st, r) = send(streaming("hidden")).await;
    assert_error(st, &r, 404, "FunctionNotFound");
}

/// Each hostile function answers its own clear error within its limit while good calls keep being
/// answered, and the server lives on.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn hostile_functions_fail_alone() {
    let (s, _tmp) = start(&["--function-timeout", "2"]);
    let c = client();
    let at = anonymous(&s, &c).await.access_token;
    let hostile = [
        ("hostile/loop", "ran longer than its time limit of 2 s"),
        ("hostile/memory", "used more memory than its limit of 128 MB"),
        ("hostile/recursion", "exceeded the maximum call stack depth"),
        ("hostile/neverSettles", "returned a Promise that never settles"),
        ("hostile/hugeResult", "is larger than 16777216 bytes"),
        ("hostile/throwValue", r#"{"code":7,"reason":"an object, not an Error"}"#),
    ];
    let bad = hostile.iter().map(|(name, want)| {
        let (s, c, at) = (&s, &c, &at);
        async move {
            let (st, r) = call(s, c, at, name, json!([])).await;
            assert_error(st, &r, 400, "FunctionExecutionError");
            assert!(r["error"].as_str().is_some_and(|e| e.contains(want)), "{name}: {r}");
        }
    });
    let good = (0..200).map(|i| {
        let (s, c, at) = (&s, &c, &at);
        async move {
            let (st, r) = call(s, c, at, "sum", json!([i, 1])).await;
            assert_eq!((st, int(&r)), (200, i64::from(i) + 1), "{r}");
        }
    });
    let (_, _) = tokio::join!(futures_util::future::join_all(bad), futures_util::future::join_all(good));
    let (st, r) = call(&s, &c, &at, "sum", json!([2, 3])).await;
    assert_eq!((st, r), (200, json!({"$numberInt": "5"})), "still serving after the faults");
}

#[tokio::test]
async fn the_demo_app_has_an_example_function() {
    let s = Server::start();
    let c = client();
    let at = anonymous(&s, &c).await.access_token;
    let (st, r) = call(&s, &c, &at, "sum", json!([2, 3])).await;
    assert_eq!((st, r), (200, json!({"$numberInt": "5"})));
}
