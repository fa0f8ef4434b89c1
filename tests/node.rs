//! wasm-bindgen-test suite run in Node (`wasm-pack test --node`) against a real server.
#![cfg(target_arch = "wasm32")]

#[macro_use]
mod common;

shared_suite!();
