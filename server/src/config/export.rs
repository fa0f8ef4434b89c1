//! Reads an App Services app export (the folder `appservices pull` / `realm-cli export` writes):
//! `realm_config.json` or `root_config.json`, `auth/providers.json`, `auth/custom_user_data.json`,
//! `data_sources/*/config.json` (service name). Rules files are left to `rules`.
//!
//! Unknown keys are logged as warnings; a present but invalid value stops start-up with an error
//! naming the file, the key and the reason. Secret values (custom-token signing keys) are not part
//! of an export: they come from `REALM_SECRET_<NAME>` or the folder's `secrets.json` (`{name: value}`).

use super::{
    AppConfig, CustomTokenConfig, CustomUserData, JwtAlgorithm, MetadataField, UserpassConfig, DEFAULT_ACCESS_TOKEN_TTL_SECS,
    DEFAULT_REFRESH_TOKEN_TTL_SECS,
};
use serde_json::{Map, Value};
use std::path::{Path, PathBuf};

/// An invalid app export: which file, which key, why.
#[derive(Debug, thiserror::Error, PartialEq)]
#[error("{}: {key}: {reason}", file.display())]
pub struct ConfigError {
    /// The offending file.
    pub file: PathBuf,
    /// Dotted key path inside it (`-` for the file as a whole).
    pub key: String,
    /// What is wrong.
    pub reason: String,
}

/// One JSON object of a config file, remembering where it came from and which keys were read.
pub(super) struct Obj<'a> {
    file: &'a Path,
    prefix: String,
    map: &'a Map<String, Value>,
    known: Vec<&'static str>,
}

impl<'a> Obj<'a> {
    pub(super) fn new(file: &'a Path, prefix: String, value: &'a Value) -> Result<Obj<'a>, ConfigError> {
        match value {
            Value::Object(map) => Ok(Obj { file, prefix, map, known: Vec::new() }),
            _ => Err(error(file, if prefix.is_empty() { "-" } else { &prefix }, "must be a JSON object")),
        }
    }

    pub(super) fn path(&self, key: &str) -> String {
        if self.prefix.is_empty() {
            key.to_string()
        } else {
            format!("{}.{key}", self.prefix)
        }
    }

    pub(super) fn err(&self, key: &str, reason: impl Into<String>) -> ConfigError {
        error(self.file, &self.path(key), reason)
    }

    pub(super) fn get(&mut self, key: &'static str) -> Option<&'a Value> {
        self.known.push(key);
        self.map.get(key).filter(|v| !v.is_null())
    }

    pub(super) fn string(&mut self, key: &'static str) -> Result<Option<String>, ConfigError> {
        match self.get(key) {
            None => Ok(None),
            Some(Value::String(s)) => Ok(Some(s.clone())),
            Some(_) => Err(self.err(key, "must be a string")),
        }
    }

    pub(super) fn bool(&mut self, key: &'static str) -> Result<Option<bool>, ConfigError> {
        match self.get(key) {
            None => Ok(None),
            Some(Value::Bool(b)) => Ok(Some(*b)),
            Some(_) => Err(self.err(key, "must be true or false")),
        }
    }

    pub(super) fn strings(&mut self, key: &'static str) -> Result<Vec<String>, ConfigError> {
        match self.get(key) {
            None => Ok(Vec::new()),
            Some(Value::String(s)) => Ok(vec![s.clone()]),
            Some(Value::Array(items)) => items
                .iter()
                .map(|v| v.as_str().map(str::to_string).ok_or_else(|| self.err(key, "must be an array of strings")))
                .collect(),
            Some(_) => Err(self.err(key, "must be an array of strings")),
        }
    }

    pub(super) fn object(&mut self, key: &'static str) -> Result<Option<Obj<'a>>, ConfigError> {
        let path = self.path(key);
        match self.get(key) {
            None => Ok(None),
            Some(v) => Obj::new(self.file, path, v).map(Some),
        }
    }

    /// Warns about keys nobody read.
    pub(super) fn finish(self) {
        for key in self.map.keys().filter(|k| !self.known.contains(&k.as_str())) {
            tracing::warn!(file = %self.file.display(), key = %self.path(key), "unknown key ignored");
        }
    }
}

pub(super) fn error(file: &Path, key: &str, reason: impl Into<String>) -> ConfigError {
    ConfigError { file: file.to_path_buf(), key: key.to_string(), reason: reason.into() }
}

pub(super) fn read_json(file: &Path) -> Result<Option<Value>, ConfigError> {
    match std::fs::read_to_string(file) {
        Ok(text) => serde_json::from_str(&text).map(Some).map_err(|e| error(file, "-", format!("invalid JSON: {e}"))),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
        Err(e) => Err(error(file, "-", format!("cannot read: {e}"))),
    }
}

/// Reads the app export in `dir` into an `AppConfig` (token lifetimes are the defaults; the
/// server settings override them).
pub fn load_export(dir: &Path) -> Result<AppConfig, ConfigError> {
    if !dir.is_dir() {
        return Err(error(dir, "-", "is not a directory"));
    }
    let mut app = AppConfig {
        app_id: String::new(),
        name: String::new(),
        deployment_model: "LOCAL".into(),
        location: "local".into(),
        anon_enabled: false,
        userpass: None,
        api_key_enabled: false,
        custom_token: None,
        custom_function: None,
        mongo_service: "mongodb-atlas".into(),
        custom_user_data: None,
        access_token_ttl_secs: DEFAULT_ACCESS_TOKEN_TTL_SECS,
        refresh_token_ttl_secs: DEFAULT_REFRESH_TOKEN_TTL_SECS,
        export_dir: Some(dir.to_path_buf()),
        data_sources: Vec::new(),
    };
    read_root(dir, &mut app)?;
    let secrets = super::values::Secrets::load(dir)?;
    read_providers(&dir.join("auth").join("providers.json"), &mut app, &|name| secrets.get(name))?;
    read_data_sources(dir, &mut app)?;
    read_custom_user_data(&dir.join("auth").join("custom_user_data.json"), &mut app)?;
    warn_unknown_entries(dir);
    Ok(app)
}

fn read_root(dir: &Path, app: &mut AppConfig) -> Result<(), ConfigError> {
    let candidates = [dir.join("realm_config.json"), dir.join("root_config.json"), dir.join("config.json")];
    let mut found = None;
    for file in &candidates {
        if let Some(v) = read_json(file)? {
            found = Some((file.clone(), v));
            break;
        }
    }
    let Some((file, value)) = found else {
        return Err(error(&candidates[0], "-", "missing: an app export has realm_config.json or root_config.json"));
    };
    let mut root = Obj::new(&file, String::new(), &value)?;
    let app_id = root.string("app_id")?;
    let name = root.string("name")?;
    app.app_id = match (app_id, &name) {
        (Some(id), _) if !id.is_empty() => id,
        (_, Some(name)) if !name.is_empty() => {
            tracing::warn!(file = %file.display(), "no app_id: serving the app under its name {name:?}");
            name.clone()
        }
        _ => return Err(root.err("app_id", "required (or at least a non-empty name)")),
    };
    if !app.app_id.chars().all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_') {
        return Err(root.err("app_id", "may only contain letters, digits, '-' and '_'"));
    }
    app.name = name.unwrap_or_else(|| app.app_id.clone());
    if let Some(m) = root.string("deployment_model")? {
        app.deployment_model = m;
    }
    if let Some(l) = root.string("location")? {
        app.location = l;
    }
    // Known keys this server has no use for.
    for key in ["config_version", "environment", "provider_region", "allowed_request_origins", "sync"] {
        root.get(key);
    }
    root.finish();
    Ok(())
}

const PROVIDER_TYPES: [&str; 5] = ["anon-user", "local-userpass", "api-key", "custom-token", "custom-function"];

fn read_providers(file: &Path, app: &mut AppConfig, secret: &dyn Fn(&str) -> Option<String>) -> Result<(), ConfigError> {
    let Some(value) = read_json(file)? else {
        tracing::warn!(file = %file.display(), "missing: no authentication provider is enabled");
        return Ok(());
    };
    let Value::Object(map) = &value else { return Err(error(file, "-", "must be a JSON object")) };
    for (name, provider) in map {
        let mut p = Obj::new(file, name.clone(), provider)?;
        let kind = p.string("type")?.unwrap_or_else(|| name.clone());
        p.string("name")?;
        let disabled = p.bool("disabled")?.unwrap_or(false);
        if !PROVIDER_TYPES.contains(&kind.as_str()) {
            tracing::warn!(file = %file.display(), provider = %name, "provider type {kind:?} is not supported: its logins answer AuthProviderNotFound");
            continue;
        }
        if kind != *name {
            return Err(p.err("name", format!("provider {name:?} of type {kind:?}: realm-web addresses providers by type, so the name must equal the type")));
        }
        if disabled {
            p.finish();
            continue;
        }
        match kind.as_str() {
            "anon-user" => app.anon_enabled = true,
            "api-key" => app.api_key_enabled = true,
            "local-userpass" => app.userpass = Some(read_userpass(&mut p)?),
            "custom-function" => app.custom_function = Some(read_custom_function(&mut p)?),
            _ => app.custom_token = Some(read_custom_token(&mut p, secret)?),
        }
        // App Services writes these for every provider; they carry nothing for the supported ones.
        for key in ["redirect_uris", "domain_restrictions"] {
            p.get(key);
        }
        p.finish();
    }
    Ok(())
}

fn read_userpass(p: &mut Obj<'_>) -> Result<UserpassConfig, ConfigError> {
    let Some(mut c) = p.object("config")? else { return Err(p.err("config", "required for local-userpass")) };
    let url = |c: &mut Obj<'_>, key: &'static str| -> Result<Option<String>, ConfigError> {
        match c.string(key)? {
            Some(u) if u.is_empty() => Ok(None),
            Some(u) if !(u.starts_with("http://") || u.starts_with("https://")) => {
                Err(c.err(key, format!("{u:?} is not an http(s) URL")))
            }
            other => Ok(other),
        }
    };
    let cfg = UserpassConfig {
        auto_confirm: c.bool("autoConfirm")?.unwrap_or(false),
        email_confirmation_url: url(&mut c, "emailConfirmationUrl")?,
        reset_password_url: url(&mut c, "resetPasswordUrl")?,
        run_confirmation_function: c.bool("runConfirmationFunction")?.unwrap_or(false),
        confirmation_function_name: c.string("confirmationFunctionName")?.filter(|s| !s.is_empty()),
        run_reset_function: c.bool("runResetFunction")?.unwrap_or(false),
        reset_function_name: c.string("resetFunctionName")?.filter(|s| !s.is_empty()),
    };
    for key in ["confirmEmailSubject", "resetPasswordSubject"] {
        c.get(key);
    }
    if cfg.run_confirmation_function && cfg.confirmation_function_name.is_none() {
        return Err(c.err("confirmationFunctionName", "required when runConfirmationFunction is true"));
    }
    if cfg.run_reset_function && cfg.reset_function_name.is_none() {
        return Err(c.err("resetFunctionName", "required when runResetFunction is true"));
    }
    if !cfg.auto_confirm && !cfg.run_confirmation_function && cfg.email_confirmation_url.is_none() {
        return Err(c.err("emailConfirmationUrl", "required unless autoConfirm or runConfirmationFunction is true"));
    }
    if !cfg.run_reset_function && cfg.reset_password_url.is_none() {
        return Err(c.err("resetPasswordUrl", "required unless runResetFunction is true"));
    }
    c.finish();
    Ok(cfg)
}

/// The `custom-function` provider: the function that turns a login payload into a user id.
fn read_custom_function(p: &mut Obj<'_>) -> Result<String, ConfigError> {
    let Some(mut c) = p.object("config")? else { return Err(p.err("config", "required for custom-function (authFunctionName)")) };
    let name = c.string("authFunctionName")?.filter(|n| !n.is_empty()).ok_or_else(|| c.err("authFunctionName", "required: the function that logs users in"))?;
    // The export also carries the function's internal id, which names nothing here.
    c.get("authFunctionId");
    c.finish();
    Ok(name)
}

fn read_custom_token(p: &mut Obj<'_>, secret: &dyn Fn(&str) -> Option<String>) -> Result<CustomTokenConfig, ConfigError> {
    let Some(mut c) = p.object("config")? else { return Err(p.err("config", "required for custom-token")) };
    let algorithm = match c.string("signingAlgorithm")?.as_deref() {
        None | Some("HS256") => JwtAlgorithm::Hs256,
        Some("RS256") => JwtAlgorithm::Rs256,
        Some(other) => return Err(c.err("signingAlgorithm", format!("{other:?} is not supported (HS256 or RS256)"))),
    };
    let audience = c.strings("audience")?;
    c.bool("requireAnyAudience")?;
    if c.bool("useJWKURI")?.unwrap_or(false) {
        return Err(c.err("useJWKURI", "JWK URIs are not supported: give the key through secret_config.signingKeys"));
    }
    c.get("jwkURI");
    c.finish();
    let Some(mut s) = p.object("secret_config")? else {
        return Err(p.err("secret_config", "required for custom-token (signingKeys names the key secrets)"));
    };
    let names = s.strings("signingKeys")?;
    if names.is_empty() {
        return Err(s.err("signingKeys", "must name at least one secret"));
    }
    let mut keys = Vec::new();
    for name in &names {
        let value = secret(name).ok_or_else(|| {
            s.err("signingKeys", format!("secret {name:?} has no value: set REALM_SECRET_{} or add it to secrets.json", name.to_ascii_uppercase()))
        })?;
        let usable = match algorithm {
            JwtAlgorithm::Hs256 => value.len() >= 32,
            JwtAlgorithm::Rs256 => is_rsa_public_key(&value),
        };
        if !usable {
            let why = match algorithm {
                JwtAlgorithm::Hs256 => "must be at least 32 characters for HS256",
                JwtAlgorithm::Rs256 => "is not a PEM RSA public key",
            };
            return Err(s.err("signingKeys", format!("secret {name:?} {why}")));
        }
        keys.push(value);
    }
    s.finish();
    let mut metadata_fields = Vec::new();
    if let Some(fields) = p.get("metadata_fields") {
        let Value::Array(items) = fields else { return Err(p.err("metadata_fields", "must be an array")) };
        for (i, item) in items.iter().enumerate() {
            let mut f = Obj::new(p.file, format!("{}.metadata_fields[{i}]", p.prefix), item)?;
            let name = f.string("name")?.filter(|n| !n.is_empty()).ok_or_else(|| f.err("name", "required"))?;
            let field_name = f.string("field_name")?.filter(|n| !n.is_empty()).unwrap_or_else(|| name.clone());
            let required = f.bool("required")?.unwrap_or(false);
            f.finish();
            metadata_fields.push(MetadataField { name, field_name, required });
        }
    }
    Ok(CustomTokenConfig { algorithm, keys, audience, metadata_fields })
}

fn read_custom_user_data(file: &Path, app: &mut AppConfig) -> Result<(), ConfigError> {
    let Some(value) = read_json(file)? else { return Ok(()) };
    let mut c = Obj::new(file, String::new(), &value)?;
    let enabled = c.bool("enabled")?.unwrap_or(false);
    let service = c.string("mongo_service_name")?;
    let database = c.string("database_name")?;
    let collection = c.string("collection_name")?;
    let field = c.string("user_id_field")?;
    let on_creation = c.string("on_user_creation_function_name")?.filter(|f| !f.is_empty());
    if on_creation.is_some() && !enabled {
        tracing::warn!(file = %file.display(), "on_user_creation_function_name is ignored: custom user data is not enabled");
    }
    if enabled {
        let need = |v: Option<String>, key: &'static str| {
            v.filter(|s| !s.is_empty()).ok_or_else(|| error(file, key, "required when enabled is true"))
        };
        let cud = CustomUserData {
            database: need(database, "database_name")?,
            collection: need(collection, "collection_name")?,
            user_id_field: need(field, "user_id_field")?,
            on_user_creation_function: on_creation,
        };
        crate::store::Namespace::new(&cud.database, &cud.collection)
            .map_err(|e| error(file, "database_name", e.to_string()))?;
        if let Some(s) = service.filter(|s| !s.is_empty()) {
            let known = app.data_sources.iter().any(|d| d.name == s && d.kind == super::data_sources::MONGODB_ATLAS);
            if !app.data_sources.is_empty() && !known {
                return Err(error(file, "mongo_service_name", format!("no mongodb-atlas data source is named {s:?} (see data_sources/*/config.json)")));
            }
            app.mongo_service = s;
        }
        app.custom_user_data = Some(cud);
    }
    c.finish();
    Ok(())
}

/// The MongoDB services: every `mongodb-atlas` data source; the first one (or the one named
/// `mongodb-atlas`) is the app's main service (custom user data, functions' default).
fn read_data_sources(dir: &Path, app: &mut AppConfig) -> Result<(), ConfigError> {
    app.data_sources = super::data_sources::load_data_sources(dir)?;
    let mongo: Vec<&str> = app.data_sources.iter().filter(|d| d.kind == super::data_sources::MONGODB_ATLAS).map(|d| d.name.as_str()).collect();
    if let Some(main) = mongo.iter().find(|n| **n == "mongodb-atlas").or(mongo.first()) {
        app.mongo_service = main.to_string();
    }
    Ok(())
}

/// Top-level entries of an export this server reads, and those it knows but does not serve.
const READ: [&str; 13] = [
    "realm_config.json", "root_config.json", "config.json", "secrets.json", "auth", "data_sources", "functions", "values",
    "environments", "triggers", "https_endpoints", "http_endpoints", "README.md",
];
const NOT_SERVED: [&str; 6] = ["graphql", "hosting", "sync", "services", "log_forwarders", "incoming_webhooks"];

/// Warns about what the export holds that this server does not serve or does not know.
fn warn_unknown_entries(dir: &Path) {
    let Ok(entries) = std::fs::read_dir(dir) else { return };
    for entry in entries.flatten() {
        let name = entry.file_name().to_string_lossy().into_owned();
        if READ.contains(&name.as_str()) || name.starts_with('.') {
            continue;
        }
        if NOT_SERVED.contains(&name.as_str()) {
            tracing::warn!(path = %entry.path().display(), "{name}/ is not supported by realm-wasm-server: ignored");
        } else {
            tracing::warn!(path = %entry.path().display(), "not part of an App Services export: ignored");
        }
    }
}

/// Whether `pem` is an RSA public key in PEM (SPKI or PKCS#1), the forms custom-token keys come in.
fn is_rsa_public_key(pem: &str) -> bool {
    use rsa::pkcs1::DecodeRsaPublicKey;
    use rsa::pkcs8::DecodePublicKey;
    rsa::RsaPublicKey::from_public_key_pem(pem.trim()).is_ok() || rsa::RsaPublicKey::from_pkcs1_pem(pem.trim()).is_ok()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::test_files::write;

    #[test]
    fn minimal_export_and_errors_name_file_and_key() {
        let tmp = tempfile::tempdir().expect("tmp");
        let d = tmp.path();
        assert!(load_export(d).expect_err("no root").to_string().contains("realm_config.json"));
        write(d, "realm_config.json", r#"{"app_id": "my-app-abcde", "name": "my-app", "weird": 1}"#);
        let app = load_export(d).expect("load");
        assert_eq!((app.app_id.as_str(), app.anon_enabled, app.userpass.is_none()), ("my-app-abcde", false, true));

        write(d, "auth/providers.json", r#"{"local-userpass": {"name": "local-userpass", "type": "local-userpass", "config": {"autoConfirm": "yes"}}}"#);
        let e = load_export(d).expect_err("bad bool");
        assert_eq!(e.key, "local-userpass.config.autoConfirm");
        assert!(e.file.ends_with("auth/providers.json"));

        write(d, "auth/providers.json", r#"{"custom-token": {"name": "custom-token", "type": "custom-token", "config": {"signingAlgorithm": "ES256"}}}"#);
        assert_eq!(load_export(d).expect_err("alg").key, "custom-token.config.signingAlgorithm");

        write(d, "auth/providers.json", r#"{"custom-token": {"name": "custom-token", "type": "custom-token", "config": {}, "secret_config": {"signingKeys": ["k"]}}}"#);
        assert!(load_export(d).expect_err("secret").reason.contains("\"k\" has no value"));
        write(d, "secrets.json", r#"{"k": "short"}"#);
        assert!(load_export(d).expect_err("short").reason.contains("at least 32"));

        write(d, "auth/custom_user_data.json", r#"{"enabled": true, "database_name": "db"}"#);
        write(d, "auth/providers.json", "{}");
        assert_eq!(load_export(d).expect_err("cud").key, "collection_name");
        write(d, "auth/custom_user_data.json", "[1]");
        assert_eq!(load_export(d).expect_err("cud").reason, "must be a JSON object");
        write(d, "auth/custom_user_data.json", "{not json");
        assert!(load_export(d).expect_err("json").reason.starts_with("invalid JSON"));
    }
}
