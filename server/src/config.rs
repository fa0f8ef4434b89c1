//! Typed app configuration: the built-in default app, or one read from an App Services app
//! export (`export`), plus the server's own settings (`settings`).

mod data_sources;
mod endpoints;
mod export;
mod functions;
mod settings;
#[cfg(test)]
mod test_files;
mod triggers;
mod values;

pub use data_sources::{load_data_sources, DataSource, JsonFile, MONGODB_ATLAS};
pub use endpoints::{load_endpoints, DataApiConfig, EndpointDef, EndpointsConfig, ReturnType, Validation, ENDPOINT_METHODS};
pub use export::{load_export, ConfigError};
pub use functions::{demo_functions, load_functions, FunctionDef, RunAsScript, RunAsSetting};
pub(crate) use settings::parse_time;
pub use settings::{Flags, Limits, ServerSettings};
pub use triggers::{load_triggers, AuthOperation, DatabaseTrigger, ScheduledTrigger, TriggerDef, TriggerKind};
#[cfg(test)]
pub use triggers::{OperationType, Schedule};
pub use values::{load_values, Values};

use std::path::PathBuf;

/// Id of the built-in default app.
pub const DEFAULT_APP_ID: &str = "realm-wasm-demo";

/// Default access-token lifetime (App Services: 30 minutes).
pub const DEFAULT_ACCESS_TOKEN_TTL_SECS: u64 = 30 * 60;
/// Default refresh-token lifetime (App Services: 60 days).
pub const DEFAULT_REFRESH_TOKEN_TTL_SECS: u64 = 60 * 24 * 60 * 60;

/// Where custom user data lives.
#[derive(Debug, Clone)]
pub struct CustomUserData {
    /// Database name.
    pub database: String,
    /// Collection name.
    pub collection: String,
    /// Field holding the owning user's id.
    pub user_id_field: String,
    /// `on_user_creation_function_name`: runs once with each new user before their first token.
    pub on_user_creation_function: Option<String>,
}

/// The `local-userpass` provider's settings (names as in `auth/providers.json`).
#[derive(Debug, Clone, Default)]
pub struct UserpassConfig {
    /// Users are confirmed at registration.
    pub auto_confirm: bool,
    /// Base of the confirmation link (`?token=…&tokenId=…` is appended).
    pub email_confirmation_url: Option<String>,
    /// Base of the reset link.
    pub reset_password_url: Option<String>,
    /// Confirmation runs a server function instead of sending a link.
    pub run_confirmation_function: bool,
    /// Name of that function.
    pub confirmation_function_name: Option<String>,
    /// Password reset runs a server function (`reset/call`).
    pub run_reset_function: bool,
    /// Name of that function.
    pub reset_function_name: Option<String>,
}

/// JWT signing algorithms accepted for `custom-token`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum JwtAlgorithm {
    /// HMAC SHA-256 with a shared secret.
    Hs256,
    /// RSA SHA-256 with a PEM public key.
    Rs256,
}

/// One `metadata_fields` entry: JWT claim `name` (dotted path) → profile `data.field_name`.
#[derive(Debug, Clone, PartialEq)]
pub struct MetadataField {
    /// Claim path in the JWT.
    pub name: String,
    /// Key in the profile's `data` (defaults to `name`).
    pub field_name: String,
    /// Login fails when the claim is missing.
    pub required: bool,
}

/// The `custom-token` provider's settings.
#[derive(Debug, Clone)]
pub struct CustomTokenConfig {
    /// Signing algorithm.
    pub algorithm: JwtAlgorithm,
    /// Verification keys (HS256 secrets or RS256 PEM public keys); any one may match.
    pub keys: Vec<String>,
    /// Accepted audiences (empty: `aud` is not checked).
    pub audience: Vec<String>,
    /// Claims copied into the profile.
    pub metadata_fields: Vec<MetadataField>,
}

/// An App Services app as this server serves it.
#[derive(Debug, Clone)]
pub struct AppConfig {
    /// Client app id (path segment).
    pub app_id: String,
    /// App name.
    pub name: String,
    /// `deployment_model` of the location answer.
    pub deployment_model: String,
    /// `location` of the location answer.
    pub location: String,
    /// Whether anonymous login is enabled.
    pub anon_enabled: bool,
    /// Email/password provider, if enabled.
    pub userpass: Option<UserpassConfig>,
    /// Whether user API keys are enabled.
    pub api_key_enabled: bool,
    /// Custom JWT provider, if enabled.
    pub custom_token: Option<CustomTokenConfig>,
    /// `custom-function` provider, if enabled: its `authFunctionName`.
    pub custom_function: Option<String>,
    /// Name of the MongoDB service (`mongodb-atlas`).
    pub mongo_service: String,
    /// Custom user data settings, if enabled.
    pub custom_user_data: Option<CustomUserData>,
    /// Access-token lifetime in seconds.
    pub access_token_ttl_secs: u64,
    /// Refresh-token (session) lifetime in seconds.
    pub refresh_token_ttl_secs: u64,
    /// The app export this config was read from.
    pub export_dir: Option<PathBuf>,
    /// The export's data sources (files read, meaning given by `rules` and `store`).
    pub data_sources: Vec<DataSource>,
}

impl AppConfig {
    /// The built-in default app (`realm-wasm-demo`).
    pub fn default_app() -> AppConfig {
        AppConfig {
            app_id: DEFAULT_APP_ID.to_string(),
            name: DEFAULT_APP_ID.to_string(),
            deployment_model: "LOCAL".into(),
            location: "local".into(),
            anon_enabled: true,
            userpass: Some(UserpassConfig { auto_confirm: true, ..UserpassConfig::default() }),
            api_key_enabled: true,
            custom_token: None,
            custom_function: None,
            mongo_service: "mongodb-atlas".to_string(),
            custom_user_data: Some(CustomUserData {
                database: "app".into(),
                collection: "users".into(),
                user_id_field: "userID".into(),
                on_user_creation_function: None,
            }),
            access_token_ttl_secs: DEFAULT_ACCESS_TOKEN_TTL_SECS,
            refresh_token_ttl_secs: DEFAULT_REFRESH_TOKEN_TTL_SECS,
            export_dir: None,
            data_sources: Vec::new(),
        }
    }
}
