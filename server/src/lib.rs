//! realm-wasm-server: a local MongoDB Atlas App Services server speaking the client protocol
//! that realm-web 2.x uses (location, auth, sessions, profile, `mongodb-atlas` functions).
//!
//! Layers call only downward: `http` → `auth`/`service` → `rules`/`query`/`store`.

mod auth;
mod config;
mod endpoints;
mod functions;
mod host;
mod http;
mod query;
mod rules;
mod service;
mod store;
mod triggers;
mod watch;

use std::future::Future;
use std::net::SocketAddr;
use std::sync::Arc;

// What embedders (main.rs, the integration tests, the functions bench) use; everything else is
// private to the crate.
pub use auth::Clock;
pub use config::{load_data_sources, load_export, load_functions, load_values, AppConfig, Flags, FunctionDef, Limits, ServerSettings, Values, DEFAULT_APP_ID};
pub use functions::{
    AppInfo, CallEnv, CanEvaluate, FunctionError, FunctionHost, Functions, HostError, HostFuture, Limits as FunctionLimits, RequestInfo, RunAs, UserInfo, runtime_builder,
};
pub use http::{admin_router, router, ApiError, AppState};
pub use rules::{RuleSet, UserContext};
pub use service::{CallLimits, CallResult, Caller, Engine, ServiceError};
pub use store::{open_database, RedbStore, Store};
pub use watch::ChangeLog;

/// Start-up failures.
#[derive(Debug, thiserror::Error)]
pub enum StartError {
    /// Storage could not be opened.
    #[error(transparent)]
    Store(#[from] store::StoreError),
    /// Auth tables / signing key could not be opened.
    #[error(transparent)]
    Auth(#[from] auth::AuthError),
    /// The app export is invalid.
    #[error("invalid app export: {0}")]
    Config(#[from] config::ConfigError),
    /// The app export's rules are invalid.
    #[error("invalid rules in the app export: {0}")]
    Rules(#[from] rules::RulesError),
    /// Socket trouble.
    #[error("io error: {0}")]
    Io(#[from] std::io::Error),
}

/// Opens the data directory and builds the state for the configured app (real clock).
pub fn open_state(settings: &ServerSettings, listen_addr: SocketAddr) -> Result<AppState, StartError> {
    open_state_with_clock(settings, listen_addr, Arc::new(auth::SystemClock))
}

/// `open_state` with an injected clock (tests expire tokens without waiting); `--test-clock`
/// replaces it with a clock set through the admin API.
pub fn open_state_with_clock(
    settings: &ServerSettings,
    listen_addr: SocketAddr,
    clock: Arc<dyn auth::Clock>,
) -> Result<AppState, StartError> {
    let test_clock = settings.test_clock.map(|t| Arc::new(triggers::TestClock::new(t)));
    let clock: Arc<dyn auth::Clock> = match &test_clock {
        Some(c) => c.clone(),
        None => clock,
    };
    let mut app = match &settings.app {
        Some(dir) => config::load_export(dir)?,
        None => AppConfig::default_app(),
    };
    app.access_token_ttl_secs = settings.access_token_ttl_secs;
    app.refresh_token_ttl_secs = settings.refresh_token_ttl_secs;
    // Every MongoDB data source's rules are validated before anything is opened; an export
    // without data sources serves its one service with no rules (every namespace denied).
    let mut services = std::collections::HashMap::new();
    let mut declared = Vec::new();
    for source in app.data_sources.iter().filter(|d| d.kind == config::MONGODB_ATLAS) {
        services.insert(source.name.clone(), Arc::new(rules::RuleSet::from_data_source(source)?));
        // Our `indexes.json` extension.
        declared.extend(store::indexes_of(source)?);
    }
    if services.is_empty() {
        let rules = if app.export_dir.is_some() { rules::RuleSet::default() } else { rules::RuleSet::default_app() };
        services.insert(app.mongo_service.clone(), Arc::new(rules));
    }
    for (name, rules) in &services {
        if let Some(warning) = rules.open_access_warning() {
            tracing::warn!(service = %name, "{warning}");
        }
    }
    let app = Arc::new(app);
    let db = store::open_database(&settings.data)?;
    // Indexes from the settings plus those the export declares.
    let indexes = store::merge_indexes(settings.indexes.iter().cloned().chain(declared))?;
    // The export's functions and triggers: a trigger naming a missing function stops start-up,
    // and the journal records what the database triggers watch from the first write on.
    let (defs, values) = match &app.export_dir {
        Some(dir) => (config::load_functions(dir)?, config::load_values(dir)?),
        None => (config::demo_functions(), config::Values::default()),
    };
    let trigger_defs = match &app.export_dir {
        Some(dir) => {
            let names: Vec<&str> = services.keys().map(String::as_str).collect();
            config::load_triggers(dir, &|f| defs.iter().any(|d| d.name == f), &names)?
        }
        None => Vec::new(),
    };
    let redb = Arc::new(store::RedbStore::open_with_indexes(db.clone(), indexes)?);
    redb.set_journal_scope(triggers::journal_scope(&trigger_defs));
    let store: Arc<dyn store::Store> = redb.clone();
    let options = auth::AuthOptions {
        signing_key: settings.signing_key.clone(),
        outbox: auth::Outbox::new(settings.email_webhook.clone()),
        login_limit_per_account: settings.login_limit_per_account,
        login_limit_per_address: settings.login_limit_per_address,
        clock: clock.clone(),
        max_concurrent_hashes: settings.max_concurrent_hashes,
        account_limit_per_address: settings.account_limit_per_address,
        email_limit_per_account: settings.email_limit_per_account,
    };
    let auth = Arc::new(auth::Auth::open(db, app.clone(), store.clone(), options)?);
    let changes = Arc::new(watch::ChangeLog::new(settings.limits.change_log));
    let engine = Arc::new(service::Engine::new(store.clone(), services.clone(), (&settings.limits).into(), settings.limits.query_memory_bytes, changes));
    let value_doc: bson::Document = values.values.iter().map(|(k, v)| (k.clone(), v.clone())).collect();
    let host = Arc::new(host::ServerHost::new(engine.clone(), auth.clone(), value_doc.clone()));
    let endpoint_config = match &app.export_dir {
        Some(dir) => config::load_endpoints(dir)?,
        None => config::EndpointsConfig::default(),
    };
    let scripts = endpoint_config.run_as_scripts();
    let limits = functions::Limits::from_settings(settings);
    let functions = Arc::new(functions::Functions::with_run_as_scripts(defs, scripts, values, functions::AppInfo::from_config(&app), host, limits)?);
    check_function_names(&app, &services, &functions)?;
    auth.set_functions(Arc::new(host::AuthFunctionRunner::new(&functions)));
    engine.set_rule_functions(Arc::new(host::RuleFunctionRunner::new(&functions, value_doc.clone())));
    if services.values().any(|r| r.calls_functions()) {
        functions.prepare_rule_runtimes();
    }
    let endpoints = Arc::new(endpoints::Endpoints::new(endpoint_config, functions.clone(), engine.clone(), auth.clone(), value_doc)?);
    let trigger_options = triggers::TriggerOptions { clock, test_clock, journal_max_events: settings.trigger_journal_events };
    let triggers = Arc::new(triggers::Triggers::new(trigger_defs, redb, store, functions.clone(), trigger_options)?);
    if triggers.has_auth_triggers() {
        auth.set_events(triggers.auth_events());
    }
    Ok(AppState { app, auth, listen_addr, settings: Arc::new(settings.clone()), engine, functions, endpoints, triggers })
}

/// Every function the export names (auth providers, the user creation function, `%function` in
/// rules) must exist: a missing one stops start-up naming the file and key.
fn check_function_names(app: &AppConfig, services: &std::collections::HashMap<String, Arc<rules::RuleSet>>, functions: &functions::Functions) -> Result<(), StartError> {
    let dir = app.export_dir.clone().unwrap_or_default();
    let missing = |file: std::path::PathBuf, key: &str, name: &str| config::ConfigError {
        file,
        key: key.to_string(),
        reason: format!("function '{name}' does not exist (functions/config.json and functions/ define the app's functions)"),
    };
    let providers = dir.join("auth").join("providers.json");
    let mut named: Vec<(std::path::PathBuf, &str, &str)> = Vec::new();
    if let Some(name) = &app.custom_function {
        named.push((providers.clone(), "custom-function.config.authFunctionName", name));
    }
    if let Some(up) = &app.userpass {
        if let (true, Some(name)) = (up.run_confirmation_function, &up.confirmation_function_name) {
            named.push((providers.clone(), "local-userpass.config.confirmationFunctionName", name));
        }
        if let (true, Some(name)) = (up.run_reset_function, &up.reset_function_name) {
            named.push((providers.clone(), "local-userpass.config.resetFunctionName", name));
        }
    }
    if let Some(name) = app.custom_user_data.as_ref().and_then(|c| c.on_user_creation_function.as_deref()) {
        named.push((dir.join("auth").join("custom_user_data.json"), "on_user_creation_function_name", name));
    }
    for (file, key, name) in named {
        if !functions.contains(name) {
            return Err(missing(file, key, name).into());
        }
    }
    for rules in services.values() {
        for call in rules.function_calls("", "", true) {
            if !functions.contains(&call.name) {
                return Err(StartError::Rules(rules::RulesError { file: call.file.clone(), key: call.key.clone(), reason: format!("%function: function '{}' does not exist", call.name) }));
            }
        }
    }
    Ok(())
}

/// The line printed on stdout once the server accepts connections.
pub fn startup_line(addr: SocketAddr, app_id: &str) -> String {
    format!("realm-wasm-server listening on http://{addr} app_id={app_id}")
}

/// The line printed on stdout once the admin API accepts connections.
pub fn admin_startup_line(addr: SocketAddr) -> String {
    format!("realm-wasm-server admin API on http://{addr}")
}

/// Serves `state` on an already bound listener until `shutdown` resolves.
pub async fn serve(
    listener: tokio::net::TcpListener,
    state: AppState,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    state.auth.spawn_purger();
    let limits = state.settings.limits.clone();
    // Triggers run while the server serves, and stop (letting running functions finish) after.
    let triggers = state.triggers.clone();
    triggers.start();
    let served = http::serve(listener, router(state), &limits, shutdown).await;
    triggers.stop(std::time::Duration::from_secs(5)).await;
    served
}

/// Serves the admin API for `state` on its own listener until `shutdown` resolves.
pub async fn serve_admin(
    listener: tokio::net::TcpListener,
    state: AppState,
    token: String,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    let limits = state.settings.limits.clone();
    http::serve(listener, admin_router(state, token), &limits, shutdown).await
}
