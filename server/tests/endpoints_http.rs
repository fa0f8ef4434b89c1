//! HTTPS endpoints and the Data API against a real server serving the `endpoints-app` export:
//! the `(request, response)` objects, every validation method and kind of authentication, run-as
//! settings, `can_evaluate`, both answer formats, the app's rules, and the documented errors.

mod common;

use common::auth::{claims, custom_jwt};
use common::*;
use hmac::{Hmac, Mac};
use reqwest::{Method, RequestBuilder};
use serde_json::{json, Value};
use sha2::Sha256;
use std::path::{Path, PathBuf};

const APP_ID: &str = "endpoints-app-abcde";

fn fixture() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/endpoints-app")
}

fn start() -> (Server, tempfile::TempDir) {
    start_app(&fixture())
}

fn start_app(app: &Path) -> (Server, tempfile::TempDir) {
    let tmp = tempfile::tempdir().expect("tempdir");
    let s = Server::start_with(tmp.path(), &["--app", app.to_str().expect("utf-8")]);
    assert_eq!(s.app, APP_ID);
    (s, tmp)
}

/// A copy of the fixture export with `files` (relative path → content) replaced.
fn variant(files: &[(&str, &str)]) -> tempfile::TempDir {
    let tmp = tempfile::tempdir().expect("tempdir");
    copy_dir(&fixture(), tmp.path());
    for (rel, text) in files {
        std::fs::write(tmp.path().join(rel), text).expect("write");
    }
    tmp
}

fn copy_dir(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).expect("mkdir");
    for entry in std::fs::read_dir(from).expect("read_dir") {
        let entry = entry.expect("entry");
        let target = to.join(entry.file_name());
        if entry.path().is_dir() {
            copy_dir(&entry.path(), &target);
        } else {
            std::fs::copy(entry.path(), target).expect("copy");
        }
    }
}

fn endpoint(s: &Server, route: &str) -> String {
    format!("{}/app/{}/endpoint{}", s.base, s.app, route)
}

/// Sends and reads (status, headers, body text).
async fn raw(req: RequestBuilder) -> (u16, reqwest::header::HeaderMap, String) {
    let resp = req.send().await.expect("send");
    let (status, headers) = (resp.status().as_u16(), resp.headers().clone());
    (status, headers, resp.text().await.expect("body"))
}

/// Sends and parses the JSON (or EJSON) answer.
async fn call(req: RequestBuilder) -> (u16, Value) {
    let (status, _, text) = raw(req).await;
    let body = if text.is_empty() { Value::Null } else { serde_json::from_str(&text).unwrap_or_else(|e| panic!("not JSON ({e}): {text}")) };
    (status, body)
}

fn assert_error(got: (u16, Value), status: u16, code: &str, message: &str) {
    assert_eq!(got.0, status, "{}", got.1);
    assert_eq!(got.1["error_code"], code, "{}", got.1);
    assert!(got.1["error"].as_str().unwrap_or_default().contains(message), "{} does not say {message:?}", got.1);
}

/// A registered, logged-in email/password user.
async fn user(s: &Server, c: &reqwest::Client, tag: &str) -> (Session, String) {
    let email = format!("{tag}-{}@example.com", std::process::id());
    (register_and_login(s, c, &email).await, email)
}

/// A new API key of `session`'s user.
async fn api_key(s: &Server, c: &reqwest::Client, session: &Session) -> String {
    let (st, key) = call(c.post(s.url("/auth/api_keys")).bearer_auth(&session.refresh_token).json(&json!({"name": "endpoints"}))).await;
    assert_eq!(st, 201, "{key}");
    key["key"].as_str().expect("key").to_string()
}

fn sign(body: &str, secret: &str) -> String {
    let mut mac = Hmac::<Sha256>::new_from_slice(secret.as_bytes()).expect("key");
    mac.update(body.as_bytes());
    hex::encode(mac.finalize().into_bytes())
}

#[tokio::test]
async fn endpoint_functions_get_request_and_response() {
    let (s, _tmp) = start();
    let c = client();
    assert_eq!(call(c.get(endpoint(&s, "/hello?name=Ada"))).await, (200, json!({"greeting": "Hello, Ada!"})));
    assert_eq!(call(c.get(endpoint(&s, "/hello")).header("accept", "application/ejson")).await, (200, json!({"greeting": "Hello, world!"})));

    // `*` answers every method; the request as the function sees it.
    for method in [Method::GET, Method::POST, Method::PUT, Method::PATCH, Method::DELETE] {
        let (st, r) = call(c.request(method.clone(), endpoint(&s, "/echo?a=1&b=x%20y&a=2&secret=kept")).header("X-Tag", "one").header("x-tag", "two").body("payload")).await;
        assert_eq!(st, 200, "{method}: {r}");
        assert_eq!(r["query"], json!({"a": "1", "b": "x y", "secret": "kept"}), "first occurrence of each parameter");
        assert_eq!(r["headers"]["X-Tag"], json!(["one", "two"]));
        assert_eq!((r["body"].as_str(), r["bodyIsBinary"].as_bool()), (Some("payload"), Some(true)));
        assert_eq!(r["request"], json!({"httpMethod": method.as_str(), "webhookUrl": "/echo", "rawQueryString": "a=1&b=x%20y&a=2&secret=kept", "action": "echo", "remoteIPAddress": "127.0.0.1"}));
        assert_eq!((r["user"]["type"].as_str(), r["system"].as_bool()), (Some("system"), Some(true)), "run_as_system: the system user");
    }
    let (_, r) = call(c.get(endpoint(&s, "/echo"))).await;
    assert_eq!((r["body"].clone(), r["bodyIsBinary"].clone(), r["query"].clone()), (Value::Null, json!(false), json!({})), "no body: undefined");
    // The function's status and headers, with its return value as the body.
    let (st, headers, text) = raw(c.get(endpoint(&s, "/echo?status=202&header=yes"))).await;
    assert_eq!((st, headers["x-echo"].to_str().ok(), headers["content-type"].to_str().ok()), (202, Some("yes"), Some("application/json")), "{text}");
    // A body the function set goes out as it is, error status and all.
    let (st, headers, text) = raw(c.get(endpoint(&s, "/teapot"))).await;
    assert_eq!((st, text.as_str(), headers["content-type"].to_str().ok()), (418, "I'm a teapot", Some("text/plain")));
    let cache: Vec<&str> = headers.get_all("cache-control").iter().filter_map(|v| v.to_str().ok()).collect();
    assert_eq!(cache, ["max-age=600", "min-fresh=60"], "addHeader appends");
    // The documentation's example.
    let (st, _, text) = raw(c.post(endpoint(&s, "/custom")).header("content-type", "application/json").body(r#"{ "foo": "bar" }"#)).await;
    let saved: Value = serde_json::from_str(&text).expect("json");
    assert_eq!((st, saved["message"].as_str()), (201, Some("Successfully saved the request body")), "{text}");
    assert!(saved["insertedId"].as_str().is_some_and(|id| id.len() == 24), "{text}");
    assert_eq!(raw(c.post(endpoint(&s, "/custom"))).await.2, "Request body was not defined.");
    // respond_result false: 204 without a body.
    let (st, _, text) = raw(c.post(endpoint(&s, "/silent")).body("x")).await;
    assert_eq!((st, text.as_str()), (204, ""));
    // A private function answers its endpoint; a throw is FunctionExecutionError.
    assert_eq!(call(c.get(endpoint(&s, "/private"))).await, (200, json!({"private": true})));
    assert_error(call(c.get(endpoint(&s, "/fail"))).await, 400, "FunctionExecutionError", "boom");
    // Unknown, disabled, wrong method, other app.
    assert_error(call(c.get(endpoint(&s, "/nope"))).await, 404, "NotFound", "no endpoint at /nope");
    assert_error(call(c.get(endpoint(&s, "/disabled"))).await, 404, "NotFound", "no endpoint");
    assert_error(call(c.delete(endpoint(&s, "/hello"))).await, 405, "MethodNotAllowed", "GET");
    assert_error(call(c.get(format!("{}/app/other-app/endpoint/hello", s.base))).await, 404, "AppNotFound", "other-app");
}

#[tokio::test]
async fn both_answer_formats() {
    let (s, _tmp) = start();
    let c = client();
    let ejson = json!({
        "oid": {"$oid": "5d505646cf6d4fe581014ab2"}, "date": {"$date": {"$numberLong": "1641954803067"}}, "int": {"$numberInt": "10"},
        "long": {"$numberLong": "50"}, "double": {"$numberDouble": "10.5"}, "decimal": {"$numberDecimal": "9823.1297"},
        "binary": {"$binary": {"base64": "AQID", "subType": "05"}}, "nested": [{"min": {"$minKey": 1}}],
    });
    let json_form = json!({
        "oid": "5d505646cf6d4fe581014ab2", "date": "2022-01-12T02:33:23.067Z", "int": 10, "long": 50, "double": 10.5,
        "decimal": "9823.1297", "binary": {"Subtype": 5, "Data": "AQID"}, "nested": [{"min": {}}],
    });
    let (st, headers, text) = raw(c.get(endpoint(&s, "/types"))).await;
    assert_eq!((st, headers["content-type"].to_str().ok()), (200, Some("application/ejson")), "return_type EJSON is the default");
    assert_eq!(serde_json::from_str::<Value>(&text).expect("json"), ejson);
    assert_eq!(call(c.get(endpoint(&s, "/types")).header("accept", "application/json")).await, (200, json_form.clone()), "Accept wins");
    assert_eq!(call(c.get(endpoint(&s, "/types")).header("accept", "text/html")).await, (200, ejson.clone()), "an Accept naming neither: the default");
    // The Data API's default here is JSON; Accept: application/ejson gives canonical EJSON.
    let (session, _) = user(&s, &c, "formats").await;
    let doc = json!({"_id": {"$oid": "5d505646cf6d4fe581014ab2"}, "date": {"$date": {"$numberLong": "1641954803067"}}, "long": {"$numberLong": "50"}, "n": 1});
    let action = |name: &str| endpoint(&s, &format!("/data/v1/action/{name}"));
    let ns = json!({"dataSource": "mongodb-atlas", "database": "app", "collection": "public"});
    let with = |extra: Value| {
        let mut b = ns.clone();
        b.as_object_mut().expect("object").extend(extra.as_object().expect("object").clone());
        b
    };
    let (st, r) = call(c.post(action("insertOne")).bearer_auth(&session.access_token).header("content-type", "application/ejson").json(&with(json!({"document": doc})))).await;
    assert_eq!((st, r), (200, json!({"insertedId": "5d505646cf6d4fe581014ab2"})));
    let find = with(json!({"filter": {"_id": {"$oid": "5d505646cf6d4fe581014ab2"}}}));
    let (_, r) = call(c.post(action("findOne")).bearer_auth(&session.access_token).json(&find)).await;
    assert_eq!(r, json!({"document": {"_id": "5d505646cf6d4fe581014ab2", "date": "2022-01-12T02:33:23.067Z", "long": 50, "n": 1}}));
    let (_, headers, text) = raw(c.post(action("findOne")).bearer_auth(&session.access_token).header("accept", "application/ejson").json(&find)).await;
    assert_eq!(headers["content-type"].to_str().ok(), Some("application/ejson"));
    let expected = json!({"document": {"_id": {"$oid": "5d505646cf6d4fe581014ab2"}, "date": {"$date": {"$numberLong": "1641954803067"}}, "long": {"$numberLong": "50"}, "n": {"$numberInt": "1"}}});
    assert_eq!(serde_json::from_str::<Value>(&text).expect("json"), expected);
}

#[tokio::test]
async fn validation_methods() {
    let (s, _tmp) = start();
    let c = client();
    let (st, r) = call(c.post(endpoint(&s, "/secret?x=1&secret=12345&y=2")).body("{}")).await;
    assert_eq!(st, 200, "{r}");
    assert_eq!((r["query"].clone(), r["request"]["rawQueryString"].clone()), (json!({"x": "1", "y": "2"}), json!("x=1&y=2")), "the secret never reaches the function");
    assert_error(call(c.post(endpoint(&s, "/secret?secret=1234"))).await, 401, "Unauthorized", "does not match");
    assert_error(call(c.post(endpoint(&s, "/secret"))).await, 401, "Unauthorized", "requires the 'secret' query parameter");

    let body = r#"{ "message": "Hello!" }"#;
    let signature = sign(body, "12345");
    let (st, r) = call(c.post(endpoint(&s, "/signed")).header("Endpoint-Signature", format!("sha256={signature}")).body(body)).await;
    assert_eq!((st, r["body"].as_str()), (200, Some(body)), "{r}");
    // As the docs' curl example writes it: `-H "Endpoint-Signature::sha256=…"` (the value starts with ':').
    let (st, _) = call(c.post(endpoint(&s, "/signed")).header("Endpoint-Signature", format!(":sha256={signature}")).body(body)).await;
    assert_eq!(st, 200);
    assert_error(call(c.post(endpoint(&s, "/signed")).header("Endpoint-Signature", format!("sha256={signature}")).body("{}")).await, 401, "Unauthorized", "does not match");
    assert_error(call(c.post(endpoint(&s, "/signed")).body(body)).await, 401, "Unauthorized", "Endpoint-Signature");
}

#[tokio::test]
async fn application_authentication_kinds_and_errors() {
    let (s, c) = (start(), client());
    let (s, _tmp) = s;
    let whoami = endpoint(&s, "/whoami");
    let (session, email) = user(&s, &c, "whoami").await;
    // Custom user data, readable by its owner through the Data API.
    let data = json!({"dataSource": "mongodb-atlas", "database": "app", "collection": "users", "document": {"userID": session.user_id, "plan": "pro"}});
    let (st, r) = call(c.post(endpoint(&s, "/data/v1/action/insertOne")).bearer_auth(&session.access_token).json(&data)).await;
    assert_eq!(st, 200, "{r}");
    let me = |r: &Value| (r["id"].as_str().map(str::to_string), r["type"].clone(), r["system"].clone());
    let mine = (Some(session.user_id.clone()), json!("normal"), json!(false));

    // 1. Bearer access token.
    let (st, r) = call(c.get(&whoami).bearer_auth(&session.access_token)).await;
    assert_eq!((st, me(&r)), (200, mine.clone()), "{r}");
    assert_eq!((r["email"].as_str(), r["customData"]["plan"].as_str()), (Some(email.as_str()), Some("pro")), "fetch_custom_user_data: true");
    assert!(!r["headerNames"].as_array().expect("names").iter().any(|n| n == "Authorization"), "credentials stay out of the function's reach: {r}");
    assert_error(call(c.get(&whoami).bearer_auth("not-a-token")).await, 401, "InvalidSession", "invalid session");
    // 2. email + password headers.
    let (st, r) = call(c.get(&whoami).header("email", &email).header("password", "password1")).await;
    assert_eq!((st, me(&r)), (200, mine.clone()), "{r}");
    let names = r["headerNames"].as_array().expect("names");
    assert!(!names.iter().any(|n| n == "Email" || n == "Password"), "{r}");
    assert_error(call(c.get(&whoami).header("email", &email).header("password", "wrong")).await, 401, "InvalidSession", "invalid session: error finding user for endpoint");
    assert_error(
        call(c.get(&whoami).header("email", &email)).await,
        400,
        "MissingParameter",
        "must specify some form of authentication (either email+password, api-key, or jwt) in the request header or body",
    );
    // 3. apiKey header.
    let key = api_key(&s, &c, &session).await;
    let (st, r) = call(c.get(&whoami).header("apiKey", &key)).await;
    assert_eq!((st, me(&r)), (200, mine.clone()), "{r}");
    assert_error(call(c.get(&whoami).header("apiKey", "0".repeat(64))).await, 401, "InvalidSession", "error finding user for endpoint");
    // 4. jwtTokenString: a user who logged in with the JWT before.
    let jwt = custom_jwt(json!({"sub": "ext-42", "aud": APP_ID, "exp": claims("x", "y")["exp"], "email": "jet@example.com"}));
    assert_error(call(c.get(&whoami).header("jwtTokenString", &jwt)).await, 401, "InvalidSession", "invalid session: error finding user for endpoint");
    let (st, login) = post(&c, &s.app_url("/auth/providers/custom-token/login"), None, &json!({"token": jwt})).await;
    assert_eq!(st, 200, "{login}");
    let (st, r) = call(c.get(&whoami).header("jwtTokenString", &jwt)).await;
    assert_eq!((st, r["id"].clone(), r["email"].clone()), (200, login["user_id"].clone(), json!("jet@example.com")), "{r}");
    // No credentials at all.
    assert_error(call(c.get(&whoami)).await, 400, "InvalidParameter", "no authentication methods were specified");
    // create_user_on_auth: valid credentials of nobody make a user (POST /whoami has it, and no custom data).
    let fresh = custom_jwt(json!({"sub": "ext-new", "aud": APP_ID, "exp": claims("x", "y")["exp"]}));
    let (st, r) = call(c.post(&whoami).header("jwtTokenString", &fresh)).await;
    assert_eq!((st, r["type"].clone()), (200, json!("normal")), "{r}");
    let created = r["id"].as_str().expect("id").to_string();
    let (_, again) = call(c.post(&whoami).header("jwtTokenString", &fresh)).await;
    assert_eq!(again["id"].as_str(), Some(created.as_str()), "the same user the second time");
    let (_, r) = call(c.post(&whoami).bearer_auth(&session.access_token)).await;
    assert_eq!(r["customData"], json!({}), "fetch_custom_user_data: false");
    let never_logged_in = format!("unused-{}@example.com", std::process::id());
    let (st, _) = post(&c, &s.app_url("/auth/providers/local-userpass/register"), None, &json!({"email": never_logged_in, "password": "password1"})).await;
    assert!(st < 300);
    assert_error(call(c.get(&whoami).header("email", &never_logged_in).header("password", "password1")).await, 401, "InvalidSession", "error finding user");
    let (st, r) = call(c.post(&whoami).header("email", &never_logged_in).header("password", "password1")).await;
    assert_eq!((st, r["email"].as_str()), (200, Some(never_logged_in.as_str())), "{r}");
}

#[tokio::test]
async fn run_as_settings_and_can_evaluate() {
    let (s, _tmp) = start();
    let c = client();
    let (session, _) = user(&s, &c, "runas").await;
    // The endpoint's run_as_system overrides its function's application authentication.
    let (st, r) = call(c.get(endpoint(&s, "/as/system"))).await;
    assert_eq!((st, r["type"].clone(), r["system"].clone(), r["id"].clone()), (200, json!("system"), json!(true), Value::Null), "{r}");
    // A script picks the user (here from a header), or the system.
    let (st, r) = call(c.get(endpoint(&s, "/as/script")).header("X-Run-As", &session.user_id)).await;
    assert_eq!((st, r["system"].clone()), (200, json!(false)), "{r}");
    let (_, r) = call(c.get(endpoint(&s, "/as/script"))).await;
    assert_eq!(r["system"], json!(true), "{{runAsSystem: true}}: {r}");
    assert_error(call(c.get(endpoint(&s, "/as/script")).header("X-Run-As", "5d505646cf6d4fe581014ab2")).await, 400, "FunctionExecutionError", "does not exist");
    // can_evaluate: the endpoint's, then the function's.
    let (st, r) = call(c.get(endpoint(&s, "/guarded?allow=yes"))).await;
    assert_eq!(st, 200, "{r}");
    assert_error(call(c.get(endpoint(&s, "/guarded?allow=no"))).await, 403, "NotPermitted", "can_evaluate");
    assert_eq!(call(c.get(endpoint(&s, "/guarded/function"))).await, (200, json!("allowed")));
    assert_error(call(c.post(endpoint(&s, "/guarded/function"))).await, 403, "FunctionExecutionError", "can_evaluate");

    // A fixed user id (known only once the user exists: the export is written, the server restarted).
    let data = s.data.clone();
    drop(s);
    let endpoints = std::fs::read_to_string(fixture().join("https_endpoints/config.json")).expect("read");
    let fixed = endpoints.replacen(
        r#""run_as_system": true}"#,
        &format!(r#""run_as_user_id": "{}"}}"#, session.user_id),
        1,
    );
    assert_ne!(fixed, endpoints);
    let data_api = format!(r#"{{"run_as_user_id": "{}"}}"#, session.user_id);
    let app = variant(&[("https_endpoints/config.json", &fixed), ("https_endpoints/data_api_config.json", &data_api)]);
    let s = Server::start_with(&data, &["--app", app.path().to_str().expect("utf-8")]);
    let (st, r) = call(c.get(endpoint(&s, "/as/system"))).await;
    assert_eq!((st, r["id"].as_str(), r["system"].clone()), (200, Some(session.user_id.as_str()), json!(false)), "{r}");
    // The Data API as that user: no credentials, that user's rules.
    let insert = |owner: &str| json!({"dataSource": "mongodb-atlas", "database": "app", "collection": "notes", "document": {"owner_id": owner}});
    let (st, r) = call(c.post(endpoint(&s, "/data/v1/action/insertOne")).json(&insert(&session.user_id))).await;
    assert_eq!(st, 200, "{r}");
    assert_error(call(c.post(endpoint(&s, "/data/v1/action/insertOne")).json(&insert("someone else"))).await, 403, "NotPermitted", "");
}

#[tokio::test]
async fn rules_apply_to_what_endpoints_do() {
    let (s, _tmp) = start();
    let c = client();
    let (ada, _) = user(&s, &c, "ada").await;
    let (bob, _) = user(&s, &c, "bob").await;
    let note = |session: &Session, body: Value| c.post(endpoint(&s, "/notes")).bearer_auth(&session.access_token).json(&body);
    assert_eq!(call(note(&ada, json!({"text": "ada's"}))).await, (200, json!({"visible": ["ada's"]})));
    assert_eq!(call(note(&bob, json!({"text": "bob's"}))).await, (200, json!({"visible": ["bob's"]})), "bob sees only his own");
    let (st, r) = call(note(&bob, json!({"text": "forged", "owner_id": ada.user_id}))).await;
    assert_eq!(st, 403, "a note for someone else is refused: {r}");
    // The same rules through the Data API.
    let find = json!({"dataSource": "mongodb-atlas", "database": "app", "collection": "notes", "filter": {}, "projection": {"_id": 0, "text": 1}});
    let (_, r) = call(c.post(endpoint(&s, "/data/v1/action/find")).bearer_auth(&ada.access_token).json(&find)).await;
    assert_eq!(r, json!({"documents": [{"text": "ada's"}]}));
    let delete = json!({"dataSource": "mongodb-atlas", "database": "app", "collection": "notes", "filter": {}});
    assert_eq!(call(c.post(endpoint(&s, "/data/v1/action/deleteMany")).bearer_auth(&bob.access_token).json(&delete)).await, (200, json!({"deletedCount": 1})));
    let (_, r) = call(c.post(endpoint(&s, "/data/v1/action/find")).bearer_auth(&ada.access_token).json(&find)).await;
    assert_eq!(r, json!({"documents": [{"text": "ada's"}]}), "bob's deleteMany deleted only his own note");
    let locked = json!({"dataSource": "mongodb-atlas", "database": "app", "collection": "locked", "filter": {}});
    let (st, r) = call(c.post(endpoint(&s, "/data/v1/action/find")).json(&locked).header("apiKey", "x")).await;
    assert_eq!(st, 401, "{r}");
    let (st, r) = call(c.post(endpoint(&s, "/data/v1/action/find")).bearer_auth(&ada.access_token).json(&locked)).await;
    assert_eq!((st, r), (200, json!({"documents": []})), "nothing readable");
    let locked_insert = json!({"dataSource": "mongodb-atlas", "database": "app", "collection": "locked", "document": {"a": 1}});
    assert_error(call(c.post(endpoint(&s, "/data/v1/action/insertOne")).bearer_auth(&ada.access_token).json(&locked_insert)).await, 403, "NotPermitted", "");
    let insert = json!({"dataSource": "mongodb-atlas", "database": "app", "collection": "notes", "document": {"text": "x", "owner_id": bob.user_id}});
    assert_error(call(c.post(endpoint(&s, "/data/v1/action/insertOne")).bearer_auth(&ada.access_token).json(&insert)).await, 403, "NotPermitted", "");
}

#[tokio::test]
async fn data_api_every_action() {
    let (s, _tmp) = start();
    let c = client();
    let (session, email) = user(&s, &c, "actions").await;
    let key = api_key(&s, &c, &session).await;
    let action = |name: &str| endpoint(&s, &format!("/data/v1/action/{name}"));
    let ns = json!({"dataSource": "mongodb-atlas", "database": "app", "collection": "public"});
    let body = |extra: Value| {
        let mut b = ns.clone();
        b.as_object_mut().expect("object").extend(extra.as_object().expect("object").clone());
        b
    };
    // Requests authenticate in each way (the answers do not depend on it); credential headers are
    // checked by password hashing, slow in a debug build, so most use the access token.
    let auths: [Box<dyn Fn(RequestBuilder) -> RequestBuilder>; 3] = [
        Box::new(|r| r.header("email", &email).header("password", "password1")),
        Box::new(|r| r.header("apiKey", &key)),
        Box::new(|r| r.bearer_auth(&session.access_token)),
    ];
    let mut n = 0;
    let mut run = |name: &str, extra: Value| {
        n += 1;
        let req = auths[n.min(2)](c.post(action(name)).header("content-type", "application/json").json(&body(extra)));
        call(req)
    };
    let docs = json!([{"_id": 1, "status": "open", "text": "Mop"}, {"_id": 2, "status": "open", "text": "Clean"}, {"_id": 3, "status": "done", "text": "Cook"}]);
    assert_eq!(run("insertMany", json!({"documents": docs})).await, (200, json!({"insertedIds": [1, 2, 3]})));
    assert_eq!(run("insertOne", json!({"document": {"_id": 4, "status": "open", "text": "Shop"}})).await, (200, json!({"insertedId": 4})));
    assert_eq!(run("findOne", json!({"filter": {"_id": 2}, "projection": {"text": 1}})).await, (200, json!({"document": {"_id": 2, "text": "Clean"}})));
    assert_eq!(run("findOne", json!({"filter": {"_id": 99}})).await, (200, json!({"document": null})));
    let (st, r) = run("find", json!({"filter": {"status": "open"}, "sort": {"text": 1}, "skip": 1, "limit": 2, "projection": {"_id": 0, "text": 1}})).await;
    assert_eq!((st, r), (200, json!({"documents": [{"text": "Mop"}, {"text": "Shop"}]})));
    assert_eq!(run("find", json!({"filter": {"status": "none"}})).await, (200, json!({"documents": []})));
    assert_eq!(run("updateOne", json!({"filter": {"_id": 1}, "update": {"$set": {"status": "done"}}})).await, (200, json!({"matchedCount": 1, "modifiedCount": 1})));
    let (st, r) = run("updateOne", json!({"filter": {"_id": 5}, "update": {"$set": {"text": "New"}}, "upsert": true})).await;
    assert_eq!((st, r), (200, json!({"matchedCount": 0, "modifiedCount": 0, "upsertedId": 5})));
    assert_eq!(run("updateMany", json!({"filter": {"status": "open"}, "update": {"$set": {"status": "later"}}})).await, (200, json!({"matchedCount": 2, "modifiedCount": 2})));
    assert_eq!(run("replaceOne", json!({"filter": {"_id": 3}, "replacement": {"text": "Cook dinner"}})).await, (200, json!({"matchedCount": 1, "modifiedCount": 1})));
    assert_eq!(run("findOne", json!({"filter": {"_id": 3}})).await, (200, json!({"document": {"_id": 3, "text": "Cook dinner"}})));
    let (st, r) = run("aggregate", json!({"pipeline": [{"$match": {"status": {"$exists": true}}}, {"$group": {"_id": "$status", "count": {"$sum": 1}}}, {"$sort": {"_id": 1}}]})).await;
    assert_eq!((st, r), (200, json!({"documents": [{"_id": "done", "count": 1}, {"_id": "later", "count": 2}]})));
    assert_eq!(run("deleteOne", json!({"filter": {"status": "later"}})).await, (200, json!({"deletedCount": 1})));
    assert_eq!(run("deleteMany", json!({"filter": {}})).await, (200, json!({"deletedCount": 4})));
}

#[tokio::test]
async fn data_api_errors() {
    let (s, _tmp) = start();
    let c = client();
    let (session, _) = user(&s, &c, "errors").await;
    let action = |name: &str| endpoint(&s, &format!("/data/v1/action/{name}"));
    let find = json!({"dataSource": "mongodb-atlas", "database": "app", "collection": "public", "filter": {}});
    assert_error(call(c.post(action("find")).json(&find)).await, 400, "InvalidParameter", "no authentication methods were specified");
    assert_error(call(c.post(action("find")).header("password", "x").json(&find)).await, 400, "MissingParameter", "either email+password");
    assert_error(call(c.post(action("find")).bearer_auth("x.y.z").json(&find)).await, 401, "InvalidSession", "invalid session");
    let authed = |name: &str| c.post(action(name)).bearer_auth(&session.access_token);
    assert_error(call(authed("drop").json(&find)).await, 404, "NotFound", "no Data API action \"drop\"");
    assert_error(call(authed("find").body("{not json")).await, 400, "InvalidParameter", "not valid JSON");
    assert_error(call(authed("find")).await, 400, "InvalidParameter", "expected a JSON object");
    assert_error(call(authed("find").json(&json!({"database": "app", "collection": "public"}))).await, 400, "MissingParameter", "dataSource");
    assert_error(call(authed("find").json(&json!({"dataSource": "nope", "database": "app", "collection": "public"}))).await, 400, "InvalidParameter", "data source \"nope\" does not exist");
    assert_error(call(authed("insertOne").json(&json!({"dataSource": "mongodb-atlas", "database": "app", "collection": "public"}))).await, 400, "MissingParameter", "insertOne requires 'document'");
    assert_error(call(authed("deleteMany").json(&json!({"dataSource": "mongodb-atlas", "database": "app", "collection": "public"}))).await, 400, "MissingParameter", "deleteMany requires 'filter'");
    assert_error(call(authed("find").json(&json!({"dataSource": "mongodb-atlas", "database": "app", "collection": "public", "filter": {"a": {"$near": 1}}}))).await, 400, "MongoDBError", "$near");
    assert_error(call(authed("find").json(&json!({"dataSource": "mongodb-atlas", "database": "app", "collection": "public", "limit": 50001}))).await, 400, "InvalidParameter", "50000");
    assert_error(call(authed("find").json(&json!({"dataSource": "mongodb-atlas", "database": "bad$name", "collection": "public"}))).await, 400, "InvalidParameter", "");
    assert_error(call(c.put(action("find")).bearer_auth(&session.access_token).json(&find)).await, 405, "MethodNotAllowed", "POST");
    assert_error(call(c.post(endpoint(&s, "/data/v2/action/find")).bearer_auth(&session.access_token).json(&find)).await, 404, "NotFound", "version \"v2\"");
    // A duplicate _id is MongoDB's error, as for the SDK.
    let insert = json!({"dataSource": "mongodb-atlas", "database": "app", "collection": "public", "document": {"_id": "dup"}});
    assert_eq!(call(authed("insertOne").json(&insert)).await.0, 200);
    assert_error(call(authed("insertOne").json(&insert)).await, 400, "MongoDBError", "E11000");
}

#[tokio::test]
async fn data_api_configuration() {
    let c = client();
    let find = json!({"dataSource": "mongodb-atlas", "database": "app", "collection": "notes", "filter": {}});
    let action = |s: &Server, name: &str| endpoint(s, &format!("/data/v1/action/{name}"));
    // run_as_system with a secret, EJSON by default: no credentials, every note.
    let app = variant(&[("https_endpoints/data_api_config.json", r#"{"versions": ["v1"], "return_type": "EJSON", "run_as_system": true, "validation_method": "SECRET_AS_QUERY_PARAM", "secret_name": "hookSecret"}"#)]);
    let (s, _tmp) = start_app(app.path());
    let insert = json!({"dataSource": "mongodb-atlas", "database": "app", "collection": "notes", "document": {"_id": 1, "owner_id": "someone"}});
    assert_error(call(c.post(action(&s, "insertOne")).json(&insert)).await, 401, "Unauthorized", "secret");
    let (st, r) = call(c.post(format!("{}?secret=12345", action(&s, "insertOne"))).json(&insert)).await;
    assert_eq!((st, r), (200, json!({"insertedId": {"$numberInt": "1"}})), "as system, past the rules; EJSON");
    drop(s);
    // A script decides; can_evaluate sees the request.
    let config = r#"{"run_as_user_id_script_source": "exports = (request) => ({ runAsSystem: request.headers['X-Admin'] !== undefined })", "can_evaluate": {"%%request.httpMethod": "POST"}}"#;
    let app = variant(&[("https_endpoints/data_api_config.json", config)]);
    let (s, _tmp) = start_app(app.path());
    assert_eq!(call(c.post(format!("{}?secret=ignored", action(&s, "insertOne"))).header("X-Admin", "1").json(&insert)).await, (200, json!({"insertedId": 1})));
    let (st, r) = call(c.post(action(&s, "find")).json(&find)).await;
    assert_eq!((st, r["error_code"].as_str()), (400, Some("FunctionExecutionError")), "the script returned neither an id nor runAsSystem: true: {r}");
    assert_error(call(c.get(action(&s, "find")).header("X-Admin", "1").json(&find)).await, 403, "NotPermitted", "can_evaluate");
    drop(s);
    // Disabled; and only the listed versions.
    let app = variant(&[("https_endpoints/data_api_config.json", r#"{"disabled": true}"#)]);
    let (s, _tmp) = start_app(app.path());
    assert_error(call(c.post(action(&s, "find")).json(&find)).await, 404, "NotFound", "disabled");
    drop(s);
    let app = variant(&[("https_endpoints/data_api_config.json", r#"{"versions": ["beta"], "run_as_system": true}"#)]);
    let (s, _tmp) = start_app(app.path());
    assert_error(call(c.post(action(&s, "find")).json(&find)).await, 404, "NotFound", "not enabled");
    assert_eq!(call(c.post(endpoint(&s, "/data/beta/action/find")).json(&find)).await, (200, json!({"documents": []})));
    drop(s);
    // No data_api_config.json: no Data API.
    let app = variant(&[]);
    std::fs::remove_file(app.path().join("https_endpoints/data_api_config.json")).expect("rm");
    let (s, _tmp) = start_app(app.path());
    assert_error(call(c.post(action(&s, "find")).json(&find)).await, 404, "NotFound", "data_api_config.json");
}

#[tokio::test]
async fn the_older_layout_is_served_and_bad_configs_stop_start_up() {
    let app = variant(&[]);
    std::fs::rename(app.path().join("https_endpoints"), app.path().join("http_endpoints")).expect("rename");
    let (s, _tmp) = start_app(app.path());
    assert_eq!(call(client().get(endpoint(&s, "/hello?name=Old"))).await, (200, json!({"greeting": "Hello, Old!"})));
    drop(s);
    let bad = variant(&[("https_endpoints/config.json", r#"[{"route": "/x", "http_method": "GET", "function_name": "missing"}]"#)]);
    let tmp = tempfile::tempdir().expect("tmp");
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_realm-wasm-server"))
        .args(["--listen", "127.0.0.1:0", "--data"])
        .arg(tmp.path())
        .arg("--app")
        .arg(bad.path())
        .output()
        .expect("run");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success());
    assert!(stderr.contains("https_endpoints/config.json") && stderr.contains("[0].function_name") && stderr.contains("missing"), "{stderr}");
}
