//! realm-wasm-server: a local MongoDB Atlas App Services server speaking the client protocol
//! that realm-web 2.x uses (location, auth, sessions, profile, `mongodb-atlas` functions).
//!
//! Layers call only downward: `http` → `auth`/`service` → `rules`/`query`/`store`.

pub mod auth;
pub mod config;
pub mod http;
pub mod query;
pub mod rules;
pub mod service;
pub mod store;
pub mod watch;

use std::future::Future;
use std::net::SocketAddr;
use std::path::Path;
use std::sync::Arc;

pub use config::{AppConfig, DEFAULT_APP_ID};
pub use http::{router, AppState};

/// Start-up failures.
#[derive(Debug, thiserror::Error)]
pub enum StartError {
    /// Storage could not be opened.
    #[error(transparent)]
    Store(#[from] store::StoreError),
    /// Auth tables / signing key could not be opened.
    #[error(transparent)]
    Auth(#[from] auth::AuthError),
    /// Socket trouble.
    #[error("io error: {0}")]
    Io(#[from] std::io::Error),
}

/// Opens the data directory and builds the state for the default app.
pub fn open_state(data_dir: &Path, listen_addr: SocketAddr) -> Result<AppState, StartError> {
    let app = Arc::new(AppConfig::default_app());
    let db = store::open_database(data_dir)?;
    let indexes = store::parse_indexes(&std::env::var(store::INDEXES_ENV).unwrap_or_default())?;
    let store: Arc<dyn store::Store> = Arc::new(store::RedbStore::open_with_indexes(db.clone(), indexes)?);
    let auth = Arc::new(auth::Auth::open(db, app.clone(), store.clone())?);
    let rules = Arc::new(rules::RuleSet::default_app());
    if let Some(warning) = rules.open_access_warning() {
        tracing::warn!("{warning}");
    }
    let changes = Arc::new(watch::ChangeLog::default());
    store.set_observer(changes.clone());
    Ok(AppState { app, store, auth, listen_addr, rules, changes })
}

/// The line printed on stdout once the server accepts connections.
pub fn startup_line(addr: SocketAddr, app_id: &str) -> String {
    format!("realm-wasm-server listening on http://{addr} app_id={app_id}")
}

/// Serves `state` on an already bound listener until `shutdown` resolves.
pub async fn serve(
    listener: tokio::net::TcpListener,
    state: AppState,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    axum::serve(listener, router(state)).with_graceful_shutdown(shutdown).await
}
