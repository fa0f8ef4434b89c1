//! realm-wasm: the MongoDB Atlas App Services client API (realm-web 2.x compatible) for Node
//! and browsers, written in Rust and compiled to WebAssembly.
//!
//! The core (everything outside `wasm/`) is plain Rust and talks HTTP through a
//! [`Transport`]; the `wasm` module wraps it in JS classes and a `fetch`-based transport.
//!
//! ```no_run
//! # async fn demo(transport: std::rc::Rc<dyn realm_wasm::Transport>) -> realm_wasm::Result<()> {
//! use realm_wasm::{App, AppConfig, Credentials, Document};
//! let mut config = AppConfig::new("realm-wasm-demo");
//! config.base_url = "http://127.0.0.1:9090".into();
//! let app = App::new(config, transport)?;
//! app.register_user("a@example.com", "secret1").await?;
//! let user = app.log_in(&Credentials::email_password("a@example.com", "secret1"), true).await?;
//! let users = user.mongo_client("mongodb-atlas").db("app").collection("users");
//! users.insert_one(Document::new().with("userID", user.id()).into()).await?;
//! let data = user.refresh_custom_data().await?;
//! # let _ = data; Ok(()) }
//! ```
#![warn(clippy::unwrap_used, clippy::expect_used)]
#![cfg_attr(test, allow(clippy::unwrap_used, clippy::expect_used))]
#![allow(clippy::result_large_err)]

mod app;
mod b64;
mod credentials;
pub mod ejson;
mod error;
mod fetcher;
mod flight;
mod float;
pub mod json;
pub mod jwt;
mod listeners;
mod mongo;
pub mod routes;
mod storage;
mod transport;
mod user;

#[cfg(test)]
mod testing;

/// The JS classes (exported to JS by wasm-bindgen; public so wasm tests can construct them).
#[cfg(target_arch = "wasm32")]
pub mod wasm;

pub use app::{App, AppConfig, DeviceInfo, DEFAULT_BASE_URL};
pub use credentials::Credentials;
pub use ejson::{Document, ObjectId, Value};
pub use error::{Error, Result};
pub use listeners::Listeners;
pub use mongo::{
    sse, ChangeStream, CountOptions, FindOneAndModifyOptions, FindOneOptions, FindOptions, MongoDBCollection,
    MongoDBDatabase, MongoDBService, Reply, UpdateOptions, WatchOptions,
};
pub use storage::{MemoryStorage, Storage};
pub use transport::{ByteStream, LocalBoxFuture, Method, Request, Response, Streamed, Transport};
pub use user::{Identity, Profile, User, UserState};
