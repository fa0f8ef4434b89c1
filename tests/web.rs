//! wasm-bindgen-test suite run in headless Chromium (`wasm-pack test --headless --chrome`) against a real server.
#![cfg(target_arch = "wasm32")]

#[macro_use]
mod common;

use common::{app_id, base_url, call, call_async, get, obj, s, unique_email};
use js_sys::Function;
use realm_wasm::wasm::{Credentials, JsApp};
use wasm_bindgen::prelude::*;
use wasm_bindgen_test::{wasm_bindgen_test, wasm_bindgen_test_configure};

wasm_bindgen_test_configure!(run_in_browser);

shared_suite!();

/// Browser sessions live in `localStorage` under realm-web's keys: sessions saved by realm-web
/// are picked up, and a login here is stored where realm-web would look for it.
#[wasm_bindgen_test]
async fn local_storage_sessions() {
    let storage = get(&global(), "localStorage");
    let put = |k: &str, v: &str| {
        call(&storage, "setItem", &[s(k), s(v)]);
    };
    let item = |k: &str| call(&storage, "getItem", &[s(k)]).as_string();
    // Saved by realm-web: picked up without any request.
    let id = format!("hydrate-{}", (js_sys::Math::random() * 1e9) as u64);
    let prefix = format!("realm-web:app({id}):");
    put(&format!("{prefix}userIds"), r#"["u1"]"#);
    put(&format!("{prefix}user(u1):accessToken"), "a.b.c");
    put(&format!("{prefix}user(u1):refreshToken"), "rt-saved");
    put(&format!("{prefix}user(u1):providerType"), "local-userpass");
    put(&format!("{prefix}user(u1):profile"), r#"{"type":"normal","identities":[{"id":"i1","providerType":"local-userpass"}],"data":{"email":"saved@example.com"}}"#);
    let hydrated = JsValue::from(JsApp::new(obj(&[("id", s(&id)), ("baseUrl", s("http://127.0.0.1:9"))])).expect("app"));
    let current = get(&hydrated, "currentUser");
    assert_eq!(get(&current, "id").as_string().as_deref(), Some("u1"));
    assert_eq!(get(&current, "refreshToken").as_string().as_deref(), Some("rt-saved"));
    assert_eq!(get(&get(&current, "profile"), "email").as_string().as_deref(), Some("saved@example.com"));

    // Saved here, against the real server.
    let app = JsValue::from(JsApp::new(obj(&[("id", s(app_id())), ("baseUrl", s(base_url()))])).expect("app"));
    let email = unique_email();
    let auth = get(&app, "emailPasswordAuth");
    call_async(&auth, "registerUser", &[obj(&[("email", s(&email)), ("password", s("secret123"))])]).await.expect("register");
    let credentials = JsValue::from(Credentials::email_password(s(&email), s("secret123")).unwrap());
    let user = call_async(&app, "logIn", &[credentials]).await.expect("logIn");
    let uid = get(&user, "id").as_string().expect("id");
    let prefix = format!("realm-web:app({}):", app_id());
    assert_eq!(item(&format!("{prefix}user({uid}):refreshToken")), get(&user, "refreshToken").as_string());
    assert!(item(&format!("{prefix}userIds")).expect("userIds").contains(&uid));
    call_async(&user, "logOut", &[]).await.expect("logOut");
    assert_eq!(item(&format!("{prefix}user({uid}):refreshToken")), None);
}

fn global() -> JsValue {
    Function::new_no_args("return globalThis").call0(&JsValue::UNDEFINED).expect("globalThis")
}
