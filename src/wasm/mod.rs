//! The JS face of the SDK — the only module that imports wasm-bindgen, js-sys and web-sys:
//! JS classes wrapping the core, the fetch transport, storage adapters, JS ↔ EJSON
//! conversion, errors → JS, and the TypeScript declarations the generated `.d.ts` needs.

mod api;
mod classes;
mod codec;
mod convert;
mod errors;
mod executor;
mod fetch;
mod mongo;
mod storage;
mod types;
mod user;

pub use classes::{Credentials, EmailPasswordAuth, JsApp};
pub use convert::set_bson;
pub use mongo::{ChangeStream, MongoDB, MongoDBCollection, MongoDBDatabase};
pub use user::{ApiKeyAuth, User};

use wasm_bindgen::prelude::*;

// Talc instead of std's dlmalloc: a drop-in allocator for single-threaded wasm, ~5 KB less code.
#[cfg(not(target_feature = "atomics"))]
#[global_allocator]
static ALLOCATOR: talc::wasm::WasmDynamicTalc = talc::wasm::new_wasm_dynamic_allocator();

#[wasm_bindgen]
extern "C" {
    /// `globalThis` itself (`js_sys::global()` probes `window` first, which SSR shims may trap).
    #[wasm_bindgen(thread_local_v2, js_name = globalThis)]
    static GLOBAL_THIS: JsValue;
}

/// `globalThis`.
pub(crate) fn global_this() -> JsValue {
    GLOBAL_THIS.with(JsValue::clone)
}
