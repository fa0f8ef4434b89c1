//! Typed app configuration and the built-in default app.

/// Id of the built-in default app.
pub const DEFAULT_APP_ID: &str = "realm-wasm-demo";

/// Where custom user data lives.
#[derive(Debug, Clone)]
pub struct CustomUserData {
    /// Database name.
    pub database: String,
    /// Collection name.
    pub collection: String,
    /// Field holding the owning user's id.
    pub user_id_field: String,
}

/// One collection rule: documents are owned by the user whose id is in `owner_field`.
#[derive(Debug, Clone)]
pub struct OwnerRule {
    /// Database name.
    pub database: String,
    /// Collection name.
    pub collection: String,
    /// Field compared with the caller's user id.
    pub owner_field: String,
}

/// An App Services app as this server serves it.
#[derive(Debug, Clone)]
pub struct AppConfig {
    /// Client app id (path segment).
    pub app_id: String,
    /// Whether anonymous login is enabled.
    pub anon_enabled: bool,
    /// Whether email/password is enabled.
    pub userpass_enabled: bool,
    /// Email/password users are confirmed at registration.
    pub auto_confirm: bool,
    /// Name of the MongoDB service (`mongodb-atlas`).
    pub mongo_service: String,
    /// Custom user data settings, if enabled.
    pub custom_user_data: Option<CustomUserData>,
    /// Owner rules; collections without a rule are open to every logged-in user.
    pub owner_rules: Vec<OwnerRule>,
    /// Access-token lifetime in seconds.
    pub access_token_ttl_secs: u64,
}

impl AppConfig {
    /// The built-in default app (`realm-wasm-demo`).
    pub fn default_app() -> AppConfig {
        AppConfig {
            app_id: DEFAULT_APP_ID.to_string(),
            anon_enabled: true,
            userpass_enabled: true,
            auto_confirm: true,
            mongo_service: "mongodb-atlas".to_string(),
            custom_user_data: Some(CustomUserData {
                database: "app".into(),
                collection: "users".into(),
                user_id_field: "userID".into(),
            }),
            owner_rules: vec![OwnerRule {
                database: "app".into(),
                collection: "users".into(),
                owner_field: "userID".into(),
            }],
            access_token_ttl_secs: 30 * 60,
        }
    }
}
