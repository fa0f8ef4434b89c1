//! Server settings: command-line flags, `REALM_*` environment variables and an optional JSON
//! config file (`--config FILE`, keys = the long flag names). A flag or variable beats the file,
//! the file beats the default.

use super::{DEFAULT_ACCESS_TOKEN_TTL_SECS, DEFAULT_REFRESH_TOKEN_TTL_SECS};
use crate::store::{IndexSpec, Namespace};
use clap::Parser;
use serde::Deserialize;
use std::net::SocketAddr;
use crate::watch::LogLimits;
use std::path::{Path, PathBuf};
use std::time::Duration;

/// Default request body limit.
pub const DEFAULT_MAX_BODY_BYTES: usize = 16 * 1024 * 1024;

/// Local MongoDB Atlas App Services server for realm-wasm and realm-web.
#[derive(Parser, Debug, Default, Deserialize)]
#[command(version, about)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
pub struct Flags {
    /// JSON file with any of these settings (keys are the long flag names).
    #[arg(long, env = "REALM_CONFIG")]
    #[serde(skip)]
    pub config: Option<PathBuf>,
    /// Address to listen on (port 0 picks a free port) [default: 127.0.0.1:9090].
    #[arg(long, env = "REALM_LISTEN")]
    pub listen: Option<SocketAddr>,
    /// Data directory, created if missing [default: ./realm-data].
    #[arg(long, env = "REALM_DATA")]
    pub data: Option<PathBuf>,
    /// App Services app export to serve (realm_config.json, auth/…); without it the built-in demo app.
    #[arg(long, env = "REALM_APP")]
    pub app: Option<PathBuf>,
    /// Access-token lifetime in seconds [default: 1800].
    #[arg(long, env = "REALM_ACCESS_TOKEN_TTL")]
    pub access_token_ttl: Option<u64>,
    /// Refresh-token (session) lifetime in seconds [default: 5184000 = 60 days].
    #[arg(long, env = "REALM_REFRESH_TOKEN_TTL")]
    pub refresh_token_ttl: Option<u64>,
    /// HS256 access-token signing key (≥ 32 bytes); generated and kept in the data directory if not given.
    #[arg(long, env = "REALM_SIGNING_KEY", hide_env_values = true)]
    pub signing_key: Option<String>,
    /// Allowed CORS origin (repeatable, or comma-separated in the variable); default: any origin.
    #[arg(long = "cors-origin", env = "REALM_CORS_ORIGINS", value_delimiter = ',')]
    #[serde(default)]
    pub cors_origins: Vec<String>,
    /// Largest accepted request body in bytes [default: 16777216].
    #[arg(long, env = "REALM_MAX_BODY_BYTES")]
    pub max_body_bytes: Option<usize>,
    /// http:// URL that receives every confirmation / password-reset link as a JSON POST.
    #[arg(long, env = "REALM_EMAIL_WEBHOOK")]
    pub email_webhook: Option<String>,
    /// Address of the admin API (off unless given together with --admin-token).
    #[arg(long, env = "REALM_ADMIN_LISTEN")]
    pub admin_listen: Option<SocketAddr>,
    /// Bearer token the admin API requires.
    #[arg(long, env = "REALM_ADMIN_TOKEN", hide_env_values = true)]
    pub admin_token: Option<String>,
    /// Failed logins allowed per account per minute [default: 10].
    #[arg(long, env = "REALM_LOGIN_LIMIT_PER_ACCOUNT")]
    pub login_limit_per_account: Option<u32>,
    /// Failed logins allowed per client address per minute [default: 60].
    #[arg(long, env = "REALM_LOGIN_LIMIT_PER_ADDRESS")]
    pub login_limit_per_address: Option<u32>,
    /// Public base URL clients reach this server at (answered by /location) [default: the listen address].
    #[arg(long, env = "REALM_PUBLIC_URL")]
    pub public_url: Option<String>,
    /// Most bytes (MB) one request may build per result, write or aggregation stage [default: 100].
    #[arg(long, env = "REALM_MAX_STAGE_MB")]
    pub max_stage_mb: Option<usize>,
    /// Most bytes (MB) all requests together may build at once [default: 1024].
    #[arg(long, env = "REALM_QUERY_MEMORY_MB")]
    pub query_memory_mb: Option<usize>,
    /// Longest a MongoDB operation may run, in seconds [default: 60].
    #[arg(long, env = "REALM_QUERY_TIMEOUT")]
    pub query_timeout: Option<u64>,
    /// Most change events kept for watch resumption [default: 10000].
    #[arg(long, env = "REALM_CHANGE_LOG_EVENTS")]
    pub change_log_events: Option<usize>,
    /// Most document bytes (MB) the change-event log keeps [default: 64].
    #[arg(long, env = "REALM_CHANGE_LOG_MB")]
    pub change_log_mb: Option<usize>,
    /// Most simultaneous client connections; more wait to be accepted [default: 1024].
    #[arg(long, env = "REALM_MAX_CONNECTIONS")]
    pub max_connections: Option<usize>,
    /// Seconds a client has to send a request's headers, and an idle connection is kept [default: 30].
    #[arg(long, env = "REALM_HEADER_TIMEOUT")]
    pub header_timeout: Option<u64>,
    /// Seconds a client has to send a request's body [default: 60].
    #[arg(long, env = "REALM_BODY_TIMEOUT")]
    pub body_timeout: Option<u64>,
    /// Secondary index `db.coll:path[:unique]` (repeatable, or comma-separated in the variable);
    /// `_id` is always indexed. Added to those an app export declares in `indexes.json` files.
    #[arg(long = "index", env = "REALM_WASM_INDEXES", value_delimiter = ',')]
    #[serde(default)]
    pub indexes: Vec<String>,
    /// Time limit of one function call in seconds [default: 120].
    #[arg(long, env = "REALM_FUNCTION_TIMEOUT")]
    pub function_timeout: Option<u64>,
    /// Memory limit of one function runtime in MB [default: 128].
    #[arg(long, env = "REALM_FUNCTION_MEMORY_MB")]
    pub function_memory_mb: Option<usize>,
    /// Function runtimes, i.e. functions running at once [default: 4 per core, at least 4].
    #[arg(long, env = "REALM_FUNCTION_POOL")]
    pub function_pool: Option<usize>,
    /// Password / API-key hashes computed at once (each ~19 MiB) [default: number of CPUs].
    #[arg(long, env = "REALM_MAX_CONCURRENT_HASHES")]
    pub max_concurrent_hashes: Option<usize>,
    /// Requests per client address per minute to register, confirm/send, confirm/call, reset,
    /// reset/send and reset/call [default: 60].
    #[arg(long, env = "REALM_ACCOUNT_LIMIT_PER_ADDRESS")]
    pub account_limit_per_address: Option<u32>,
    /// Confirmation / password-reset emails per email address per hour [default: 5].
    #[arg(long, env = "REALM_EMAIL_LIMIT_PER_ACCOUNT")]
    pub email_limit_per_account: Option<u32>,
    /// Most change-journal entries kept for database triggers that lag behind (a trigger further
    /// behind resumes after the gap or is suspended) [default: 1000000].
    #[arg(long, env = "REALM_TRIGGER_JOURNAL_EVENTS")]
    pub trigger_journal_events: Option<u64>,
    /// Tests only: the server's clock starts at this time (seconds since the epoch, or RFC 3339)
    /// and moves only through the admin API's `PUT /test/clock`.
    #[arg(long, env = "REALM_TEST_CLOCK", hide = true)]
    pub test_clock: Option<String>,
}

/// The admin API's address and token.
#[derive(Debug, Clone)]
pub struct AdminSettings {
    /// Where it listens.
    pub listen: SocketAddr,
    /// Required bearer token.
    pub token: String,
}

/// Resolved settings.
#[derive(Debug, Clone)]
pub struct ServerSettings {
    /// Listen address.
    pub listen: SocketAddr,
    /// Data directory.
    pub data: PathBuf,
    /// App export, if any.
    pub app: Option<PathBuf>,
    /// Access-token lifetime (s).
    pub access_token_ttl_secs: u64,
    /// Refresh-token lifetime (s).
    pub refresh_token_ttl_secs: u64,
    /// Signing key given by the operator.
    pub signing_key: Option<String>,
    /// Allowed CORS origins (empty: any).
    pub cors_origins: Vec<String>,
    /// Body size cap.
    pub max_body_bytes: usize,
    /// Webhook for confirmation / reset links.
    pub email_webhook: Option<String>,
    /// Admin API, if enabled.
    pub admin: Option<AdminSettings>,
    /// Failed logins per account per minute.
    pub login_limit_per_account: u32,
    /// Failed logins per client address per minute.
    pub login_limit_per_address: u32,
    /// Declared secondary indexes (flags, variable or config file).
    pub indexes: Vec<(Namespace, IndexSpec)>,
    /// Public base URL (`http://host:port`) for /location, if configured.
    pub public_url: Option<String>,
    /// Resource limits.
    pub limits: Limits,
    /// Time limit of one function call (s).
    pub function_timeout_secs: u64,
    /// Memory limit of one function runtime (MB).
    pub function_memory_mb: usize,
    /// Function runtimes.
    pub function_pool: usize,
    /// Password / API-key hashes computed at once.
    pub max_concurrent_hashes: usize,
    /// Unauthenticated email/password requests per client address per minute.
    pub account_limit_per_address: u32,
    /// Confirmation / reset emails per email address per hour.
    pub email_limit_per_account: u32,
    /// Most change-journal entries kept for lagging database triggers.
    pub trigger_journal_events: u64,
    /// Tests only: the clock starts here (s since the epoch) and is set through the admin API.
    pub test_clock: Option<u64>,
}

/// What one request, and all of them together, may take.
#[derive(Debug, Clone, PartialEq)]
pub struct Limits {
    /// Bytes one request may build per result, write or aggregation stage.
    pub max_stage_bytes: usize,
    /// Bytes all requests together may build at once.
    pub query_memory_bytes: usize,
    /// Longest a MongoDB operation may run.
    pub query_timeout: Duration,
    /// Bounds of the change-event log.
    pub change_log: LogLimits,
    /// Most simultaneous client connections.
    pub max_connections: usize,
    /// Time to send request headers; also how long an idle connection is kept.
    pub header_timeout: Duration,
    /// Time to send a request body.
    pub body_timeout: Duration,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            max_stage_bytes: crate::query::DEFAULT_STAGE_BYTES,
            query_memory_bytes: crate::query::DEFAULT_POOL_BYTES,
            query_timeout: Duration::from_secs(60),
            change_log: LogLimits::default(),
            max_connections: 1024,
            header_timeout: Duration::from_secs(30),
            body_timeout: Duration::from_secs(60),
        }
    }
}

/// Settings that cannot be used.
#[derive(Debug, thiserror::Error)]
#[error("{source_name}: {key}: {reason}")]
pub struct SettingsError {
    /// Flag/variable or config file.
    pub source_name: String,
    /// The setting.
    pub key: String,
    /// Why.
    pub reason: String,
}

impl ServerSettings {
    /// Defaults for everything (the built-in app on `listen`, data in `data`).
    pub fn new(listen: SocketAddr, data: PathBuf) -> ServerSettings {
        ServerSettings {
            listen,
            data,
            app: None,
            access_token_ttl_secs: DEFAULT_ACCESS_TOKEN_TTL_SECS,
            refresh_token_ttl_secs: DEFAULT_REFRESH_TOKEN_TTL_SECS,
            signing_key: None,
            cors_origins: Vec::new(),
            max_body_bytes: DEFAULT_MAX_BODY_BYTES,
            email_webhook: None,
            admin: None,
            login_limit_per_account: 10,
            login_limit_per_address: 60,
            indexes: Vec::new(),
            public_url: None,
            limits: Limits::default(),
            function_timeout_secs: crate::functions::DEFAULT_TIMEOUT_SECS,
            function_memory_mb: crate::functions::DEFAULT_MEMORY_MB,
            function_pool: crate::functions::default_pool_size(),
            max_concurrent_hashes: crate::auth::default_max_concurrent_hashes(),
            account_limit_per_address: 60,
            email_limit_per_account: 5,
            trigger_journal_events: crate::triggers::DEFAULT_JOURNAL_EVENTS,
            test_clock: None,
        }
    }

    /// Parses the process's flags and environment, then the config file they name.
    pub fn from_env() -> Result<ServerSettings, SettingsError> {
        ServerSettings::resolve(Flags::parse())
    }

    /// Merges flags (already holding environment values) over the config file over defaults.
    pub fn resolve(flags: Flags) -> Result<ServerSettings, SettingsError> {
        let file = match &flags.config {
            Some(path) => read_file(path)?,
            None => Flags::default(),
        };
        let source = flags.config.as_ref().map_or("flags".to_string(), |p| format!("flags or {}", p.display()));
        let bad = |key: &str, reason: &str| SettingsError { source_name: source.clone(), key: key.into(), reason: reason.into() };
        let defaults = ServerSettings::new(
            "127.0.0.1:9090".parse().map_err(|_| bad("listen", "bad default"))?,
            PathBuf::from("./realm-data"),
        );
        let s = ServerSettings {
            listen: flags.listen.or(file.listen).unwrap_or(defaults.listen),
            data: flags.data.or(file.data).unwrap_or(defaults.data),
            app: flags.app.or(file.app),
            access_token_ttl_secs: flags.access_token_ttl.or(file.access_token_ttl).unwrap_or(defaults.access_token_ttl_secs),
            refresh_token_ttl_secs: flags.refresh_token_ttl.or(file.refresh_token_ttl).unwrap_or(defaults.refresh_token_ttl_secs),
            signing_key: flags.signing_key.or(file.signing_key),
            cors_origins: if flags.cors_origins.is_empty() { file.cors_origins } else { flags.cors_origins },
            max_body_bytes: flags.max_body_bytes.or(file.max_body_bytes).unwrap_or(defaults.max_body_bytes),
            email_webhook: flags.email_webhook.or(file.email_webhook),
            admin: match (flags.admin_listen.or(file.admin_listen), flags.admin_token.or(file.admin_token)) {
                (None, None) => None,
                (Some(listen), Some(token)) if token.len() >= 16 => Some(AdminSettings { listen, token }),
                (Some(_), Some(_)) => return Err(bad("admin-token", "must be at least 16 characters")),
                _ => return Err(bad("admin-listen", "the admin API needs both --admin-listen and --admin-token")),
            },
            login_limit_per_account: flags
                .login_limit_per_account
                .or(file.login_limit_per_account)
                .unwrap_or(defaults.login_limit_per_account),
            login_limit_per_address: flags
                .login_limit_per_address
                .or(file.login_limit_per_address)
                .unwrap_or(defaults.login_limit_per_address),
            indexes: crate::store::parse_indexes(&if flags.indexes.is_empty() { file.indexes } else { flags.indexes }.join(","))
                .map_err(|e| bad("index", &e.to_string()))?,
            public_url: flags.public_url.or(file.public_url).map(|u| u.trim_end_matches('/').to_string()),
            limits: {
                let d = Limits::default();
                let mb = |v: Option<usize>, dflt: usize| v.map_or(Ok(dflt), |n| n.checked_mul(1024 * 1024).ok_or(()));
                let positive = |key: &str, v: Option<usize>| match v {
                    Some(0) => Err(bad(key, "must be at least 1")),
                    other => Ok(other),
                };
                let secs = |key: &str, v: Option<u64>, dflt: Duration| match v {
                    Some(0) => Err(bad(key, "must be at least 1 second")),
                    Some(n) => Ok(Duration::from_secs(n)),
                    None => Ok(dflt),
                };
                Limits {
                    max_stage_bytes: mb(positive("max-stage-mb", flags.max_stage_mb.or(file.max_stage_mb))?, d.max_stage_bytes).map_err(|()| bad("max-stage-mb", "too large"))?,
                    query_memory_bytes: mb(positive("query-memory-mb", flags.query_memory_mb.or(file.query_memory_mb))?, d.query_memory_bytes).map_err(|()| bad("query-memory-mb", "too large"))?,
                    query_timeout: secs("query-timeout", flags.query_timeout.or(file.query_timeout), d.query_timeout)?,
                    change_log: LogLimits {
                        events: positive("change-log-events", flags.change_log_events.or(file.change_log_events))?.unwrap_or(d.change_log.events),
                        bytes: mb(positive("change-log-mb", flags.change_log_mb.or(file.change_log_mb))?, d.change_log.bytes).map_err(|()| bad("change-log-mb", "too large"))?,
                    },
                    max_connections: positive("max-connections", flags.max_connections.or(file.max_connections))?.unwrap_or(d.max_connections),
                    header_timeout: secs("header-timeout", flags.header_timeout.or(file.header_timeout), d.header_timeout)?,
                    body_timeout: secs("body-timeout", flags.body_timeout.or(file.body_timeout), d.body_timeout)?,
                }
            },
            function_timeout_secs: flags.function_timeout.or(file.function_timeout).unwrap_or(defaults.function_timeout_secs),
            function_memory_mb: flags.function_memory_mb.or(file.function_memory_mb).unwrap_or(defaults.function_memory_mb),
            function_pool: flags.function_pool.or(file.function_pool).unwrap_or(defaults.function_pool),
            max_concurrent_hashes: flags.max_concurrent_hashes.or(file.max_concurrent_hashes).unwrap_or(defaults.max_concurrent_hashes),
            account_limit_per_address: flags
                .account_limit_per_address
                .or(file.account_limit_per_address)
                .unwrap_or(defaults.account_limit_per_address),
            email_limit_per_account: flags.email_limit_per_account.or(file.email_limit_per_account).unwrap_or(defaults.email_limit_per_account),
            trigger_journal_events: flags.trigger_journal_events.or(file.trigger_journal_events).unwrap_or(defaults.trigger_journal_events),
            test_clock: match flags.test_clock.or(file.test_clock) {
                None => None,
                Some(t) => Some(parse_time(&t).ok_or_else(|| bad("test-clock", "must be seconds since the epoch or an RFC 3339 time"))?),
            },
        };
        if let Some(url) = &s.public_url {
            let ok = (url.starts_with("http://") || url.starts_with("https://"))
                && axum::http::Uri::try_from(url.as_str()).is_ok_and(|u| u.host().is_some() && u.path() == "/" && u.query().is_none());
            if !ok {
                return Err(bad("public-url", &format!("{url:?} is not a base URL like https://realm.example.com")));
            }
        }
        if s.access_token_ttl_secs == 0 || s.refresh_token_ttl_secs == 0 {
            return Err(bad("access-token-ttl / refresh-token-ttl", "must be at least 1 second"));
        }
        if s.signing_key.as_ref().is_some_and(|k| k.len() < 32) {
            return Err(bad("signing-key", "must be at least 32 bytes"));
        }
        if s.email_webhook.as_ref().is_some_and(|u| !u.starts_with("http://")) {
            return Err(bad("email-webhook", "must be an http:// URL (https is not built in)"));
        }
        if let Some(bad_origin) = s.cors_origins.iter().find(|o| {
            !(o.starts_with("http://") || o.starts_with("https://")) || axum::http::HeaderValue::from_str(o).is_err()
        }) {
            return Err(bad("cors-origin", &format!("{bad_origin:?} is not an origin like https://my.app")));
        }
        if s.max_body_bytes < 1024 {
            return Err(bad("max-body-bytes", "must be at least 1024"));
        }
        if s.login_limit_per_account == 0 || s.login_limit_per_address == 0 {
            return Err(bad("login-limit-per-account / login-limit-per-address", "must be at least 1"));
        }
        if s.trigger_journal_events == 0 {
            return Err(bad("trigger-journal-events", "must be at least 1"));
        }
        if s.function_timeout_secs == 0 || s.function_memory_mb < 8 || s.function_pool == 0 {
            return Err(bad("function-timeout / function-memory-mb / function-pool", "must be at least 1 s, 8 MB and 1 runtime"));
        }
        if s.max_concurrent_hashes == 0 || s.account_limit_per_address == 0 || s.email_limit_per_account == 0 {
            return Err(bad("max-concurrent-hashes / account-limit-per-address / email-limit-per-account", "must be at least 1"));
        }
        Ok(s)
    }
}

/// Seconds since the epoch, or an RFC 3339 time.
pub(crate) fn parse_time(text: &str) -> Option<u64> {
    text.parse::<u64>().ok().or_else(|| bson::DateTime::parse_rfc3339_str(text).ok().and_then(|d| u64::try_from(d.timestamp_millis() / 1000).ok()))
}

fn read_file(path: &Path) -> Result<Flags, SettingsError> {
    let bad = |reason: String| SettingsError { source_name: path.display().to_string(), key: "-".into(), reason };
    let text = std::fs::read_to_string(path).map_err(|e| bad(format!("cannot read: {e}")))?;
    serde_json::from_str(&text).map_err(|e| bad(format!("invalid settings: {e}")))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn flags_beat_file_beats_defaults() {
        let tmp = tempfile::tempdir().expect("tmp");
        let file = tmp.path().join("settings.json");
        std::fs::write(&file, r#"{"listen": "127.0.0.1:7000", "access-token-ttl": 60, "cors-origins": ["http://a"]}"#).expect("write");
        let flags = Flags::try_parse_from(["x", "--config", file.to_str().expect("utf8"), "--access-token-ttl", "5"]).expect("parse");
        let s = ServerSettings::resolve(flags).expect("resolve");
        assert_eq!(s.listen.port(), 7000);
        assert_eq!(s.access_token_ttl_secs, 5);
        assert_eq!(s.refresh_token_ttl_secs, DEFAULT_REFRESH_TOKEN_TTL_SECS);
        assert_eq!(s.cors_origins, vec!["http://a".to_string()]);
        assert!(s.admin.is_none());

        std::fs::write(&file, r#"{"lisen": "127.0.0.1:7000"}"#).expect("write");
        let flags = Flags::try_parse_from(["x", "--config", file.to_str().expect("utf8")]).expect("parse");
        assert!(ServerSettings::resolve(flags).expect_err("unknown key").reason.contains("lisen"));
        let flags = Flags::try_parse_from(["x", "--cors-origin", "my.app"]).expect("parse");
        assert_eq!(ServerSettings::resolve(flags).expect_err("origin").key, "cors-origin");
        let flags = Flags::try_parse_from(["x", "--admin-listen", "127.0.0.1:0"]).expect("parse");
        assert_eq!(ServerSettings::resolve(flags).expect_err("no token").key, "admin-listen");
    }

    #[test]
    fn indexes_from_flags_or_file() {
        let tmp = tempfile::tempdir().expect("tmp");
        let file = tmp.path().join("settings.json");
        std::fs::write(&file, r#"{"indexes": ["shop.items:sku:unique", "shop.items:price"]}"#).expect("write");
        let flags = Flags::try_parse_from(["x", "--config", file.to_str().expect("utf8")]).expect("parse");
        let s = ServerSettings::resolve(flags).expect("resolve");
        let paths: Vec<_> = s.indexes.iter().map(|(ns, i)| (ns.to_string(), i.path.as_str(), i.unique)).collect();
        assert_eq!(paths, vec![("shop.items".into(), "sku", true), ("shop.items".into(), "price", false)]);
        let flags = Flags::try_parse_from(["x", "--config", file.to_str().expect("utf8"), "--index", "a.b:c", "--index", "a.b:d:unique"]).expect("parse");
        let s = ServerSettings::resolve(flags).expect("resolve");
        assert_eq!(s.indexes.iter().map(|(_, i)| i.path.as_str()).collect::<Vec<_>>(), ["c", "d"], "flags replace the file's list");
        let flags = Flags::try_parse_from(["x", "--index", "nodot:c"]).expect("parse");
        assert_eq!(ServerSettings::resolve(flags).expect_err("bad index").key, "index");
    }
}
