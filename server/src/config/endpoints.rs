//! The export's HTTPS endpoints: `https_endpoints/config.json` (current exports) or
//! `http_endpoints/config.json` (config version 20210101), an array of custom endpoints, and
//! `data_api_config.json` beside it (the generated Data API endpoints; absent: the Data API is off).
//!
//! Secrets named by `secret_name` are resolved here, from the same store as `values/` and signing
//! keys (`REALM_SECRET_<NAME>`, then `secrets.json`). Invalid values stop start-up naming the file
//! and key; unknown keys warn. Whether each endpoint's function exists is checked when the
//! endpoints are served (`endpoints::Endpoints::new`), where the functions are known.

use super::export::{error, read_json, ConfigError, Obj};
use super::functions::{read_can_evaluate, read_run_as};
use super::values::Secrets;
use super::{RunAsScript, RunAsSetting};
use bson::Bson;
use serde_json::Value;
use std::path::{Path, PathBuf};

/// The methods a custom endpoint may answer (plus `*`, any of them).
pub const ENDPOINT_METHODS: [&str; 5] = ["GET", "POST", "PUT", "PATCH", "DELETE"];

/// Data API versions App Services had, oldest first.
pub const DATA_API_VERSIONS: [&str; 2] = ["beta", "v1"];

/// A secret's value; never printed.
#[derive(Clone, PartialEq)]
pub struct Secret(String);

impl Secret {
    /// The value, for comparing with what a request carries.
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl std::fmt::Debug for Secret {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Secret(<redacted>)")
    }
}

/// How a request proves it may call the endpoint, besides authentication (`validation_method`).
#[derive(Debug, Clone, PartialEq)]
pub enum Validation {
    /// `NO_VALIDATION`.
    None,
    /// `SECRET_AS_QUERY_PARAM`: `?secret=<the secret>`.
    SecretAsQueryParam(Secret),
    /// `VERIFY_PAYLOAD`: `Endpoint-Signature: sha256=<hex HMAC-SHA256 of the body with the secret>`.
    VerifyPayload(Secret),
}

/// The format of answers when the request's `Accept` names neither (`return_type`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ReturnType {
    /// Plain JSON (ObjectIds as hex strings, dates as ISO strings, …).
    Json,
    /// Canonical extended JSON.
    Ejson,
}

/// One custom HTTPS endpoint.
#[derive(Debug, Clone, PartialEq)]
pub struct EndpointDef {
    /// The config file and the entry's key (`[i]`), for errors found later.
    pub file: PathBuf,
    /// `[i]`.
    pub key: String,
    /// `/my/route`.
    pub route: String,
    /// `GET`, `POST`, …; `None` for `*` (any method).
    pub method: Option<String>,
    /// The function answering it.
    pub function_name: String,
    /// `validation_method` and its secret.
    pub validation: Validation,
    /// The function's `response` (or return value) is the answer; if false, `204 No Content`.
    pub respond_result: bool,
    /// `context.user.custom_data` is filled (else `{}`).
    pub fetch_custom_user_data: bool,
    /// Valid credentials without a user create one.
    pub create_user_on_auth: bool,
    /// Default answer format.
    pub return_type: ReturnType,
    /// Switched off: answers as if absent.
    pub disabled: bool,
    /// Who the function runs as, when the endpoint says (else the function's own setting).
    pub run_as: Option<RunAsSetting>,
    /// `can_evaluate` rule expression (`%%user`, `%%request`, `%%values`).
    pub can_evaluate: Option<Bson>,
}

/// `data_api_config.json`.
#[derive(Debug, Clone, PartialEq)]
pub struct DataApiConfig {
    /// The file, for messages.
    pub file: PathBuf,
    /// Switched off.
    pub disabled: bool,
    /// Versions served (`beta`, `v1`).
    pub versions: Vec<String>,
    /// Default answer format.
    pub return_type: ReturnType,
    /// Valid credentials without a user create one.
    pub create_user_on_auth: bool,
    /// Who the operations run as (default: the authenticated caller).
    pub run_as: RunAsSetting,
    /// `can_evaluate` rule expression.
    pub can_evaluate: Option<Bson>,
    /// `validation_method` and its secret.
    pub validation: Validation,
}

/// The export's endpoints.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct EndpointsConfig {
    /// Custom endpoints, in file order.
    pub custom: Vec<EndpointDef>,
    /// The Data API, when configured.
    pub data_api: Option<DataApiConfig>,
}

impl EndpointsConfig {
    /// The `run_as_user_id_script_source`s, named `endpoint <METHOD> <route>` and `data api`: they
    /// run in the functions runtime.
    pub fn run_as_scripts(&self) -> Vec<RunAsScript> {
        let key = "run_as_user_id_script_source";
        let custom = self.custom.iter().filter_map(|e| match &e.run_as {
            Some(RunAsSetting::Script(source)) => {
                Some(RunAsScript { name: e.script_name(), source: source.clone(), file: e.file.clone(), key: format!("{}.{key}", e.key) })
            }
            _ => None,
        });
        let data_api = self.data_api.iter().filter_map(|d| match &d.run_as {
            RunAsSetting::Script(source) => {
                Some(RunAsScript { name: DataApiConfig::SCRIPT_NAME.to_string(), source: source.clone(), file: d.file.clone(), key: key.to_string() })
            }
            _ => None,
        });
        custom.chain(data_api).collect()
    }
}

impl EndpointDef {
    /// The name of this endpoint's run-as script in the functions runtime.
    pub fn script_name(&self) -> String {
        format!("endpoint {} {}", self.method.as_deref().unwrap_or("*"), self.route)
    }
}

impl DataApiConfig {
    /// The name of the Data API's run-as script in the functions runtime.
    pub const SCRIPT_NAME: &'static str = "data api";
}

/// Reads the endpoints of the export in `dir`: `https_endpoints/`, else `http_endpoints/`.
pub fn load_endpoints(dir: &Path) -> Result<EndpointsConfig, ConfigError> {
    let current = dir.join("https_endpoints");
    let legacy = dir.join("http_endpoints");
    warn_legacy_webhooks(&legacy);
    let folder = if current.is_dir() { current } else { legacy.clone() };
    if folder != legacy && legacy.join("config.json").is_file() {
        tracing::warn!(file = %legacy.join("config.json").display(), "ignored: https_endpoints/ is used");
    }
    let secrets = Secrets::load(dir)?;
    let custom_file = folder.join("config.json");
    let mut custom = Vec::new();
    if let Some(json) = read_json(&custom_file)? {
        let Value::Array(items) = &json else { return Err(error(&custom_file, "-", "must be a JSON array of endpoint configs")) };
        for (i, item) in items.iter().enumerate() {
            let key = format!("[{i}]");
            let def = read_endpoint(Obj::new(&custom_file, key.clone(), item)?, &secrets, &custom_file, key)?;
            if let Some(other) = custom.iter().find(|o: &&EndpointDef| o.route == def.route && o.method == def.method) {
                return Err(error(&custom_file, &format!("{}.route", def.key), format!("{} {} is also defined by {}", def.method.as_deref().unwrap_or("*"), def.route, other.key)));
            }
            custom.push(def);
        }
    }
    let data_file = folder.join("data_api_config.json");
    let data_api = match read_json(&data_file)? {
        Some(json) => Some(read_data_api(Obj::new(&data_file, String::new(), &json)?, &secrets, &data_file)?),
        None => None,
    };
    if let Some(d) = data_api.as_ref().filter(|d| !d.disabled) {
        for e in custom.iter().filter(|e| e.route.starts_with("/data/")) {
            if d.versions.iter().any(|v| e.route.starts_with(&format!("/data/{v}/action/"))) {
                tracing::warn!(file = %e.file.display(), key = %e.key, "route {} is served by the Data API, not this endpoint", e.route);
            }
        }
    }
    Ok(EndpointsConfig { custom, data_api })
}

/// Deprecated HTTP services (`http_endpoints/<service>/incoming_webhooks/`) are not served.
fn warn_legacy_webhooks(legacy: &Path) {
    let Ok(entries) = std::fs::read_dir(legacy) else { return };
    for service in entries.filter_map(|e| e.ok()).map(|e| e.path()).filter(|p| p.is_dir()) {
        if service.join("incoming_webhooks").is_dir() {
            tracing::warn!(folder = %service.display(), "deprecated incoming webhooks are not served: move them to HTTPS endpoints (https_endpoints/config.json)");
        }
    }
}

fn read_endpoint(mut o: Obj<'_>, secrets: &Secrets, file: &Path, key: String) -> Result<EndpointDef, ConfigError> {
    let route = o.string("route")?.ok_or_else(|| o.err("route", "required"))?;
    if !route.starts_with('/') || route.contains(['?', '#']) || route.chars().any(|c| c.is_whitespace() || c.is_control()) {
        return Err(o.err("route", format!("{route:?} is not a route: it starts with '/' and holds no spaces, '?' or '#'")));
    }
    let method = match o.string("http_method")?.map(|m| m.to_ascii_uppercase()) {
        None => return Err(o.err("http_method", "required (GET, POST, PUT, PATCH, DELETE or *)")),
        Some(m) if m == "*" || m == "ANY" => None,
        Some(m) if ENDPOINT_METHODS.contains(&m.as_str()) => Some(m),
        Some(m) => return Err(o.err("http_method", format!("{m:?} is not one of GET, POST, PUT, PATCH, DELETE, *"))),
    };
    let function_name = o.string("function_name")?.filter(|n| !n.is_empty()).ok_or_else(|| o.err("function_name", "required"))?;
    let validation = read_validation(&mut o, secrets)?;
    let respond_result = o.bool("respond_result")?.unwrap_or(true);
    let fetch_custom_user_data = o.bool("fetch_custom_user_data")?.unwrap_or(false);
    let create_user_on_auth = o.bool("create_user_on_auth")?.unwrap_or(false);
    let return_type = read_return_type(&mut o)?;
    let disabled = o.bool("disabled")?.unwrap_or(false);
    let run_as = read_run_as(&mut o)?;
    let can_evaluate = read_can_evaluate(&mut o)?;
    o.string("id")?;
    o.string("function_id")?;
    o.finish();
    Ok(EndpointDef { file: file.to_path_buf(), key, route, method, function_name, validation, respond_result, fetch_custom_user_data, create_user_on_auth, return_type, disabled, run_as, can_evaluate })
}

fn read_data_api(mut o: Obj<'_>, secrets: &Secrets, file: &Path) -> Result<DataApiConfig, ConfigError> {
    let disabled = o.bool("disabled")?.unwrap_or(false);
    let versions = match o.get("versions") {
        None => vec!["v1".to_string()],
        Some(_) => o.strings("versions")?,
    };
    let mut last = None;
    for v in &versions {
        let Some(rank) = DATA_API_VERSIONS.iter().position(|k| k == v) else {
            return Err(o.err("versions", format!("{v:?} is not a Data API version (beta, v1)")));
        };
        if last.is_some_and(|l| l >= rank) {
            return Err(o.err("versions", "must list versions once each, in ascending order (beta, v1)"));
        }
        last = Some(rank);
    }
    let return_type = read_return_type(&mut o)?;
    let create_user_on_auth = o.bool("create_user_on_auth")?.unwrap_or(false);
    let run_as = read_run_as(&mut o)?.unwrap_or(RunAsSetting::Caller);
    let can_evaluate = read_can_evaluate(&mut o)?;
    let validation = read_validation(&mut o, secrets)?;
    o.finish();
    Ok(DataApiConfig { file: file.to_path_buf(), disabled, versions, return_type, create_user_on_auth, run_as, can_evaluate, validation })
}

/// `return_type`: `JSON` (the default) or `EJSON`.
fn read_return_type(o: &mut Obj<'_>) -> Result<ReturnType, ConfigError> {
    match o.string("return_type")?.map(|t| t.to_ascii_uppercase()).as_deref() {
        None | Some("JSON") => Ok(ReturnType::Json),
        Some("EJSON") => Ok(ReturnType::Ejson),
        Some(other) => Err(o.err("return_type", format!("{other:?} is not JSON or EJSON"))),
    }
}

/// `validation_method` (the docs also write `verification_method`) and `secret_name`.
fn read_validation(o: &mut Obj<'_>, secrets: &Secrets) -> Result<Validation, ConfigError> {
    let (key, method) = match (o.string("validation_method")?, o.string("verification_method")?) {
        (Some(m), _) => ("validation_method", m),
        (None, Some(m)) => ("verification_method", m),
        (None, None) => ("validation_method", "NO_VALIDATION".to_string()),
    };
    let secret_name = o.string("secret_name")?.filter(|s| !s.is_empty());
    let secret = |o: &Obj<'_>| -> Result<Secret, ConfigError> {
        let name = secret_name.as_deref().ok_or_else(|| o.err("secret_name", format!("required with {method}")))?;
        let value = secrets.get(name).ok_or_else(|| {
            o.err("secret_name", format!("secret {name:?} has no value: set {} or add it to secrets.json", Secrets::env_name(name)))
        })?;
        if value.is_empty() {
            return Err(o.err("secret_name", format!("secret {name:?} is empty")));
        }
        Ok(Secret(value))
    };
    match method.as_str() {
        "NO_VALIDATION" => Ok(Validation::None),
        "SECRET_AS_QUERY_PARAM" => Ok(Validation::SecretAsQueryParam(secret(o)?)),
        "VERIFY_PAYLOAD" => Ok(Validation::VerifyPayload(secret(o)?)),
        other => Err(o.err(key, format!("{other:?} is not NO_VALIDATION, SECRET_AS_QUERY_PARAM or VERIFY_PAYLOAD"))),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::test_files::write;

    #[test]
    fn current_layout_every_field() {
        let tmp = tempfile::tempdir().expect("tmp");
        let d = tmp.path();
        assert_eq!(load_endpoints(d).expect("none"), EndpointsConfig::default());
        write(d, "secrets.json", r#"{"hookSecret": "s3cr3t"}"#);
        write(d, "https_endpoints/config.json", r#"[
            {"route": "/hello", "http_method": "GET", "function_name": "hello", "validation_method": "NO_VALIDATION",
             "respond_result": true, "fetch_custom_user_data": true, "create_user_on_auth": false, "disabled": false, "return_type": "EJSON"},
            {"route": "/hook/in", "http_method": "*", "function_name": "hook", "validation_method": "SECRET_AS_QUERY_PARAM", "secret_name": "hookSecret",
             "respond_result": false, "run_as_system": true, "can_evaluate": {"%%request.httpMethod": "POST"}},
            {"route": "/hook/signed", "http_method": "post", "function_name": "hook", "verification_method": "VERIFY_PAYLOAD", "secret_name": "hookSecret",
             "run_as_user_id_script_source": "exports = () => ({runAsSystem: true})", "disabled": true}
        ]"#);
        write(d, "https_endpoints/data_api_config.json", r#"{"disabled": false, "versions": ["beta", "v1"], "return_type": "EJSON",
            "create_user_on_auth": true, "run_as_user_id": "u1", "can_evaluate": {}, "validation_method": "NO_VALIDATION"}"#);
        let c = load_endpoints(d).expect("load");
        assert_eq!(c.custom.len(), 3);
        let (hello, hook, signed) = (&c.custom[0], &c.custom[1], &c.custom[2]);
        assert_eq!((hello.route.as_str(), hello.method.as_deref(), hello.function_name.as_str()), ("/hello", Some("GET"), "hello"));
        assert_eq!((hello.validation.clone(), hello.respond_result, hello.fetch_custom_user_data, hello.return_type), (Validation::None, true, true, ReturnType::Ejson));
        assert_eq!((hello.run_as.clone(), hello.can_evaluate.clone(), hello.key.as_str()), (None, None, "[0]"));
        assert_eq!(hook.method, None, "* is any method");
        assert_eq!(hook.validation, Validation::SecretAsQueryParam(Secret("s3cr3t".into())));
        assert_eq!((hook.respond_result, hook.run_as.clone(), hook.return_type), (false, Some(RunAsSetting::System), ReturnType::Json));
        assert_eq!(hook.can_evaluate, Some(Bson::Document(bson::doc! {"%%request.httpMethod": "POST"})));
        assert_eq!((signed.method.as_deref(), signed.disabled), (Some("POST"), true));
        assert_eq!(signed.validation, Validation::VerifyPayload(Secret("s3cr3t".into())), "verification_method is read too");
        assert_eq!(format!("{:?}", signed.validation), "VerifyPayload(Secret(<redacted>))", "a secret is never printed");
        let api = c.data_api.as_ref().expect("data api");
        assert_eq!((api.disabled, api.versions.clone(), api.return_type, api.create_user_on_auth), (false, vec!["beta".to_string(), "v1".to_string()], ReturnType::Ejson, true));
        assert_eq!((api.run_as.clone(), api.can_evaluate.clone()), (RunAsSetting::UserId("u1".into()), None));
        let scripts = c.run_as_scripts();
        assert_eq!(scripts.len(), 1);
        assert_eq!((scripts[0].name.as_str(), scripts[0].source.as_str()), ("endpoint POST /hook/signed", "exports = () => ({runAsSystem: true})"));
        assert_eq!(scripts[0].key, "[2].run_as_user_id_script_source");
    }

    #[test]
    fn older_layout_and_defaults() {
        let tmp = tempfile::tempdir().expect("tmp");
        let d = tmp.path();
        write(d, "http_endpoints/config.json", r#"[{"route": "/a", "http_method": "PUT", "function_name": "f"}]"#);
        write(d, "http_endpoints/data_api_config.json", "{}");
        let c = load_endpoints(d).expect("load");
        let a = &c.custom[0];
        assert_eq!((a.validation.clone(), a.respond_result, a.fetch_custom_user_data, a.create_user_on_auth, a.disabled), (Validation::None, true, false, false, false));
        let api = c.data_api.expect("data api");
        assert_eq!((api.versions, api.return_type, api.run_as, api.disabled), (vec!["v1".to_string()], ReturnType::Json, RunAsSetting::Caller, false));
        // The current folder wins over the older one.
        write(d, "https_endpoints/config.json", r#"[{"route": "/b", "http_method": "GET", "function_name": "g"}]"#);
        let c = load_endpoints(d).expect("load");
        assert_eq!((c.custom.len(), c.custom[0].route.as_str(), c.data_api.is_none()), (1, "/b", true));
    }

    #[test]
    fn bad_configs_name_file_and_key() {
        let tmp = tempfile::tempdir().expect("tmp");
        let d = tmp.path();
        let bad = |json: &str| {
            write(d, "https_endpoints/config.json", json);
            load_endpoints(d).expect_err(json)
        };
        let e = bad(r#"[{"route": "/a", "http_method": "GET"}]"#);
        assert!(e.file.ends_with("https_endpoints/config.json") && e.key == "[0].function_name", "{e}");
        assert_eq!(bad(r#"[{"route": "a", "http_method": "GET", "function_name": "f"}]"#).key, "[0].route");
        assert_eq!(bad(r#"[{"route": "/a b", "http_method": "GET", "function_name": "f"}]"#).key, "[0].route");
        assert_eq!(bad(r#"[{"route": "/a", "http_method": "HEAD", "function_name": "f"}]"#).key, "[0].http_method");
        assert_eq!(bad(r#"[{"route": "/a", "function_name": "f"}]"#).key, "[0].http_method");
        assert_eq!(bad(r#"[{"route": "/a", "http_method": "GET", "function_name": "f", "respond_result": "yes"}]"#).key, "[0].respond_result");
        assert_eq!(bad(r#"[{"route": "/a", "http_method": "GET", "function_name": "f", "return_type": "XML"}]"#).key, "[0].return_type");
        assert_eq!(bad(r#"[{"route": "/a", "http_method": "GET", "function_name": "f", "validation_method": "MAGIC"}]"#).key, "[0].validation_method");
        let e = bad(r#"[{"route": "/a", "http_method": "GET", "function_name": "f", "validation_method": "VERIFY_PAYLOAD"}]"#);
        assert_eq!((e.key.as_str(), e.reason.contains("required")), ("[0].secret_name", true));
        let e = bad(r#"[{"route": "/a", "http_method": "GET", "function_name": "f", "validation_method": "VERIFY_PAYLOAD", "secret_name": "nowhere"}]"#);
        assert!(e.key == "[0].secret_name" && e.reason.contains("REALM_SECRET_NOWHERE"), "{e}");
        assert_eq!(bad(r#"[{"route": "/a", "http_method": "GET", "function_name": "f", "run_as_user_id": "u", "run_as_user_id_script_source": "x"}]"#).key, "[0].run_as_user_id");
        assert_eq!(bad(r#"[{"route": "/a", "http_method": "GET", "function_name": "f", "can_evaluate": 1}]"#).key, "[0].can_evaluate");
        let e = bad(r#"[{"route": "/a", "http_method": "GET", "function_name": "f"}, {"route": "/a", "http_method": "get", "function_name": "g"}]"#);
        assert!(e.key == "[1].route" && e.reason.contains("[0]"), "{e}");
        assert!(bad(r#"{"route": "/a"}"#).reason.contains("array"));
        write(d, "https_endpoints/config.json", "[]");
        let data = |json: &str| {
            write(d, "https_endpoints/data_api_config.json", json);
            load_endpoints(d).expect_err(json)
        };
        let e = data(r#"{"versions": ["v2"]}"#);
        assert!(e.file.ends_with("data_api_config.json") && e.key == "versions", "{e}");
        assert_eq!(data(r#"{"versions": ["v1", "beta"]}"#).key, "versions");
        assert_eq!(data(r#"{"return_type": "BSON"}"#).key, "return_type");
        assert_eq!(data(r#"{"disabled": 0}"#).key, "disabled");
        assert_eq!(data(r#"{"validation_method": "SECRET_AS_QUERY_PARAM"}"#).key, "secret_name");
    }
}
