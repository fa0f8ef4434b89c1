//! Issue 11 items 5 and 6: what Atlas answered, answered the same way — against copies of the fixture
//! export laid out as `appservices pull` writes them. The texts are the ones realm-web's, realm-js's,
//! realm-core's, realm-dotnet's and realm-dart's test suites match on.

mod common;
mod engine_common;

use common::auth::*;
use common::*;
use engine_common::*;
use serde_json::{json, Value};

const PW: &str = "password1";

fn serve(export: &std::path::Path, data: &std::path::Path, hook: &Webhook) -> Server {
    Server::start_with(data, &["--app", export.to_str().expect("utf8"), "--email-webhook", hook.url.as_str()])
}

fn route(s: &Server, r: &str) -> String {
    s.app_url(&format!("/auth/providers/local-userpass/{r}"))
}

/// Asserts an error answer's status, code and exact message.
fn assert_atlas(st: u16, body: &Value, status: u16, code: &str, message: &str) {
    assert_error(st, body, status, code);
    assert_eq!(body["error"], message, "{body}");
}

// Item 5: an empty audience (as exports write it) means no audience check.
#[tokio::test]
async fn an_empty_custom_token_audience_checks_nothing() {
    for audience in [json!(""), json!([])] {
        let export = fixture_with(|p| p["custom-token"]["config"]["audience"] = audience.clone());
        let (data, hook) = (tempfile::tempdir().expect("tmp"), Webhook::start().await);
        let s = serve(export.path(), data.path(), &hook);
        let c = client();
        let login = s.app_url("/auth/providers/custom-token/login");
        let mut no_aud = claims("aud-less", "a@b.c");
        no_aud.as_object_mut().expect("object").remove("aud");
        let mut other_aud = claims("aud-other", "a@b.c");
        other_aud["aud"] = json!("some-other-app");
        for token in [no_aud, other_aud] {
            let (st, r) = post(&c, &login, None, &json!({"token": custom_jwt(token)})).await;
            assert_eq!(st, 200, "audience {audience}: {r}");
        }
    }
}

// Item 6: email/password answers.
#[tokio::test]
async fn email_password_errors_use_atlas_wording() {
    let c = client();
    // autoConfirm, as realm-web's own test app.
    let export = fixture_with(|p| p["local-userpass"]["config"]["autoConfirm"] = json!(true));
    let (data, hook) = (tempfile::tempdir().expect("tmp"), Webhook::start().await);
    let s = serve(export.path(), data.path(), &hook);
    let email = "gilfoil@testing.mongodb.com";
    assert_eq!(post(&c, &route(&s, "register"), None, &json!({"email": email, "password": PW})).await.0, 201);
    let (st, r) = post(&c, &route(&s, "register"), None, &json!({"email": email, "password": PW})).await;
    assert_atlas(st, &r, 409, "AccountNameInUse", "name already in use");
    let (st, r) = post(&c, &route(&s, "register"), None, &json!({"email": "short@example.com", "password": "pw"})).await;
    assert_atlas(st, &r, 400, "BadRequest", "password must be between 6 and 128 characters");
    let (st, r) = post(&c, &route(&s, "confirm"), None, &json!({"token": "e30=", "tokenId": "some-token-id"})).await;
    assert_atlas(st, &r, 400, "BadRequest", "invalid token data");
    let (st, r) = post(&c, &route(&s, "confirm/send"), None, &json!({"email": email})).await;
    assert_atlas(st, &r, 409, "UserAlreadyConfirmed", "already confirmed");
    let (st, r) = post(&c, &route(&s, "confirm/call"), None, &json!({"email": email})).await;
    assert_atlas(st, &r, 400, "BadRequest", &format!("cannot run confirmation for {email}: automatic confirmation is enabled"));
    let (st, r) = post(&c, &route(&s, "reset"), None, &json!({"token": "token_sample", "tokenId": "token_id_sample", "password": PW})).await;
    assert_atlas(st, &r, 400, "BadRequest", "invalid token data");
    let (st, r) = post(&c, &route(&s, "login"), None, &json!({"username": email, "password": "boogeyman"})).await;
    assert_atlas(st, &r, 401, "InvalidPassword", "invalid username/password");
    // Logging in after deleteUser: realm-dart's test expects `unauthorized`, 401.
    let (_, me) = post(&c, &route(&s, "login"), None, &json!({"username": email, "password": PW})).await;
    assert_eq!(send(c.delete(s.url("/auth/delete")).bearer_auth(me["access_token"].as_str().expect("at"))).await.0, 204);
    let (st, r) = post(&c, &route(&s, "login"), None, &json!({"username": email, "password": PW})).await;
    assert_atlas(st, &r, 401, "AuthError", "unauthorized");
    assert_eq!(post(&c, &route(&s, "register"), None, &json!({"email": email, "password": "another-pw"})).await.0, 201, "the address is free again");
    assert_eq!(post(&c, &route(&s, "login"), None, &json!({"username": email, "password": "another-pw"})).await.0, 200);
    drop(s);

    // Reset and confirmation through functions that answer `fail`: Atlas's texts for a failed function.
    let export = fixture_with(|p| {
        let cfg = &mut p["local-userpass"]["config"];
        cfg["runResetFunction"] = json!(true);
        cfg["resetFunctionName"] = json!("resetFunc");
        cfg["runConfirmationFunction"] = json!(true);
        cfg["confirmationFunctionName"] = json!("confirmFunc");
    });
    let functions = export.path().join("functions");
    let names = json!([{"name": "confirmFunc", "private": true}, {"name": "resetFunc", "private": true}]);
    std::fs::write(functions.join("config.json"), names.to_string()).expect("functions config");
    for name in ["confirmFunc", "resetFunc"] {
        std::fs::write(functions.join(format!("{name}.js")), "exports = () => ({ status: 'fail' });").expect("function source");
    }
    let data = tempfile::tempdir().expect("tmp");
    let s = serve(export.path(), data.path(), &hook);
    let (st, r) = post(&c, &route(&s, "register"), None, &json!({"email": email, "password": PW})).await;
    assert_atlas(st, &r, 400, "FunctionExecutionError", &format!("failed to confirm user \"{email}\""));
    let (st, r) = post(&c, &route(&s, "reset/send"), None, &json!({"email": email})).await;
    assert_atlas(st, &r, 400, "BadRequest", "please use reset password via function");
    let body = json!({"email": email, "password": "my-new-password", "arguments": ["some-argument"]});
    let (st, r) = post(&c, &route(&s, "reset/call"), None, &body).await;
    assert_atlas(st, &r, 400, "FunctionExecutionError", &format!("failed to reset password for user \"{email}\""));
}

// Item 6: API key and linking answers.
#[tokio::test]
async fn api_key_and_link_errors_use_atlas_wording() {
    let c = client();
    let export = fixture_with(|p| p["local-userpass"]["config"]["autoConfirm"] = json!(true));
    let (data, hook) = (tempfile::tempdir().expect("tmp"), Webhook::start().await);
    let s = serve(export.path(), data.path(), &hook);
    let me = register_and_login(&s, &c, "keys@example.com").await;
    let keys = s.url("/auth/api_keys");
    let (st, r) = send(c.post(&keys).bearer_auth(&me.refresh_token).json(&json!({"name": "My very cool key"}))).await;
    assert_error(st, &r, 400, "InvalidParameter");
    assert!(r["error"].as_str().is_some_and(|e| e.contains("can only contain ASCII letters, numbers, underscores, and hyphens")), "{r}");
    let missing = "65aaaaaaaaaaaaaaaaaaaaaa";
    let (st, r) = send(c.put(format!("{keys}/{missing}/disable")).bearer_auth(&me.refresh_token)).await;
    assert_error(st, &r, 404, "APIKeyNotFound");
    assert!(r["error"].as_str().is_some_and(|e| e.contains("doesn't exist") && e.contains(missing)), "{r}");
    assert_eq!(send(c.delete(format!("{keys}/{missing}")).bearer_auth(&me.refresh_token)).await.0, 204, "deleting a missing key is a no-op");
    let (_, key) = send(c.post(&keys).bearer_auth(&me.refresh_token).json(&json!({"name": "my-api-key"}))).await;
    let kid = key["_id"].as_str().expect("id");
    assert_eq!(send(c.put(format!("{keys}/{kid}/disable")).bearer_auth(&me.refresh_token)).await.0, 204);
    let key_login = s.app_url("/auth/providers/api-key/login");
    let (st, r) = post(&c, &key_login, None, &json!({"key": key["key"]})).await;
    assert_atlas(st, &r, 401, "AuthError", "invalid API key");

    // Linking.
    let link = |provider: &str| format!("{}?link=true", s.app_url(&format!("/auth/providers/{provider}/login")));
    let (st, r) = post(&c, &link("anon-user"), Some(&me.access_token), &json!({})).await;
    assert_atlas(st, &r, 400, "BadRequest", "linking an anonymous identity is not allowed");
    assert_eq!(post(&c, &route(&s, "register"), None, &json!({"email": "unused@example.com", "password": PW})).await.0, 201);
    let (st, r) = post(&c, &link("local-userpass"), Some(&me.access_token), &json!({"username": "unused@example.com", "password": PW})).await;
    assert_atlas(st, &r, 400, "BadRequest", "linking a local-userpass identity is not allowed when one is already linked");
    register_and_login(&s, &c, "second@example.com").await;
    let anon = anonymous(&s, &c).await;
    let (st, r) = post(&c, &link("local-userpass"), Some(&anon.access_token), &json!({"username": "second@example.com", "password": PW})).await;
    assert_atlas(st, &r, 409, "AccountNameInUse", "a user already exists with the specified provider");
}
