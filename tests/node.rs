//! wasm-bindgen-test suite run in Node (`wasm-pack test --node`) against a real server.
#![cfg(target_arch = "wasm32")]

mod common;

use wasm_bindgen_test::wasm_bindgen_test;

#[wasm_bindgen_test]
async fn custom_user_data_flow() {
    common::custom_user_data_flow().await;
}

#[wasm_bindgen_test]
async fn wrong_password_rejects_with_realm_error() {
    common::wrong_password_rejects_with_realm_error().await;
}

#[wasm_bindgen_test]
async fn fetch_override_and_timeout() {
    common::fetch_override_and_timeout().await;
}

#[wasm_bindgen_test]
async fn values_round_trip() {
    common::values_round_trip().await;
}

#[wasm_bindgen_test]
async fn watch_over_streaming_fetch() {
    common::watch_over_streaming_fetch().await;
}

#[wasm_bindgen_test]
async fn watch_against_server() {
    common::watch_against_server().await;
}
