//! The export's `values/*.json` (what `context.values.get` answers), the current environment's
//! `environments/<tag>.json` values (`context.environment`), and the secret store that resolves
//! `from_secret` values and provider signing keys alike.
//!
//! Secrets are never part of an export (App Services does not write their values to disk): here
//! they come from `REALM_SECRET_<NAME>` (the name upper-cased, other characters as `_`) or from
//! the export folder's `secrets.json` (`{name: value}`), the variable winning.

use super::export::{error, read_json, ConfigError, Obj};
use bson::{Bson, Document};
use serde_json::Value;
use std::collections::BTreeMap;
use std::path::Path;

/// The secret store of an export.
pub(crate) struct Secrets {
    file: Option<Value>,
}

impl Secrets {
    /// Reads `secrets.json` (if any) of the export in `dir`.
    pub(crate) fn load(dir: &Path) -> Result<Secrets, ConfigError> {
        Ok(Secrets { file: read_json(&dir.join("secrets.json"))? })
    }

    /// The variable that holds secret `name`.
    pub(crate) fn env_name(name: &str) -> String {
        format!("REALM_SECRET_{}", name.to_ascii_uppercase().replace(|c: char| !c.is_ascii_alphanumeric(), "_"))
    }

    /// The value of secret `name`, if it has one.
    pub(crate) fn get(&self, name: &str) -> Option<String> {
        std::env::var(Secrets::env_name(name))
            .ok()
            .or_else(|| self.file.as_ref()?.get(name)?.as_str().map(str::to_string))
    }
}

/// The app's values (secrets resolved) and its environment.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Values {
    /// Value name → value.
    pub values: BTreeMap<String, Bson>,
    /// `context.environment.tag` (`""` when the app has none).
    pub environment_tag: String,
    /// `context.environment.values`: the current environment's `values`.
    pub environment_values: Document,
}

impl Values {
    /// `context.values.get(name)`.
    pub fn get(&self, name: &str) -> Option<&Bson> {
        self.values.get(name)
    }
}

const ENVIRONMENT_TAGS: [&str; 5] = ["", "development", "testing", "qa", "production"];

/// Reads `values/*.json` and the current environment of the export in `dir`.
///
/// A value file is `{"name", "value", "from_secret"?, "id"?}`; with `from_secret` the value names a
/// secret, which must have a value. The environment tag is the root config's `environment` key;
/// its values come from `environments/<tag>.json` (`no-environment.json` for the empty tag).
pub fn load_values(dir: &Path) -> Result<Values, ConfigError> {
    let secrets = Secrets::load(dir)?;
    let mut out = Values::default();
    let mut files: Vec<_> = match std::fs::read_dir(dir.join("values")) {
        Ok(entries) => entries.filter_map(|e| e.ok()).map(|e| e.path()).filter(|p| p.extension().is_some_and(|x| x == "json")).collect(),
        Err(_) => Vec::new(),
    };
    files.sort();
    for file in files {
        let Some(json) = read_json(&file)? else { continue };
        let mut v = Obj::new(&file, String::new(), &json)?;
        let stem = file.file_stem().and_then(|s| s.to_str()).unwrap_or_default().to_string();
        let name = v.string("name")?.filter(|n| !n.is_empty()).unwrap_or(stem);
        v.string("id")?;
        let from_secret = v.bool("from_secret")?.unwrap_or(false);
        let raw = v.get("value").cloned().unwrap_or(Value::Null);
        let value = if from_secret {
            let Value::String(secret) = &raw else { return Err(v.err("value", "must name a secret (a string) when from_secret is true")) };
            let resolved = secrets.get(secret).ok_or_else(|| {
                v.err("value", format!("secret {secret:?} has no value: set {} or add it to secrets.json", Secrets::env_name(secret)))
            })?;
            Bson::String(resolved)
        } else {
            Bson::try_from(raw).map_err(|e| v.err("value", format!("not a valid (extended) JSON value: {e}")))?
        };
        v.finish();
        if out.values.insert(name.clone(), value).is_some() {
            return Err(error(&file, "name", format!("value {name:?} is defined twice")));
        }
    }
    out.environment_tag = environment_tag(dir)?;
    let env_file = dir.join("environments").join(match out.environment_tag.as_str() {
        "" => "no-environment.json".to_string(),
        tag => format!("{tag}.json"),
    });
    if let Some(json) = read_json(&env_file)? {
        let mut e = Obj::new(&env_file, String::new(), &json)?;
        if let Some(values) = e.get("values") {
            match Bson::try_from(values.clone()) {
                Ok(Bson::Document(d)) => out.environment_values = d,
                _ => return Err(e.err("values", "must be a JSON object")),
            }
        }
        e.finish();
    }
    Ok(out)
}

/// The root config's `environment` (one of App Services' five tags).
fn environment_tag(dir: &Path) -> Result<String, ConfigError> {
    for name in ["realm_config.json", "root_config.json", "config.json"] {
        let file = dir.join(name);
        let Some(json) = read_json(&file)? else { continue };
        return match json.get("environment") {
            None | Some(Value::Null) => Ok(String::new()),
            Some(Value::String(tag)) if ENVIRONMENT_TAGS.contains(&tag.as_str()) => Ok(tag.clone()),
            Some(_) => Err(error(&file, "environment", "must be one of \"\", \"development\", \"testing\", \"qa\", \"production\"")),
        };
    }
    Ok(String::new())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::test_files::write;
    use std::fs;

    #[test]
    fn values_secrets_and_environment() {
        let tmp = tempfile::tempdir().expect("tmp");
        let d = tmp.path();
        write(d, "realm_config.json", r#"{"app_id": "a", "environment": "qa"}"#);
        write(d, "values/plain.json", r#"{"name": "plain", "value": {"n": 1, "list": ["x"]}, "from_secret": false}"#);
        write(d, "values/apiKey.json", r#"{"id": "1", "name": "apiKey", "value": "apiKeySecret", "from_secret": true}"#);
        write(d, "secrets.json", r#"{"apiKeySecret": "s3cr3t"}"#);
        write(d, "environments/qa.json", r#"{"values": {"base": "https://qa.example"}}"#);
        let v = load_values(d).expect("load");
        assert_eq!(v.get("plain"), Some(&Bson::Document(bson::doc! {"n": 1, "list": ["x"]})));
        assert_eq!(v.get("apiKey"), Some(&Bson::String("s3cr3t".into())));
        assert_eq!(v.environment_tag, "qa");
        assert_eq!(v.environment_values, bson::doc! {"base": "https://qa.example"});

        write(d, "values/apiKey.json", r#"{"name": "apiKey", "value": "nowhere", "from_secret": true}"#);
        let e = load_values(d).expect_err("missing secret");
        assert!(e.file.ends_with("values/apiKey.json") && e.key == "value", "{e}");
        assert!(e.reason.contains("REALM_SECRET_NOWHERE"), "{e}");
        write(d, "values/apiKey.json", r#"{"name": "apiKey", "value": 1, "from_secret": "yes"}"#);
        assert_eq!(load_values(d).expect_err("bad bool").key, "from_secret");
        write(d, "values/apiKey.json", r#"{"name": "plain", "value": 1}"#);
        assert!(load_values(d).expect_err("twice").reason.contains("twice"));
        fs::remove_file(d.join("values/apiKey.json")).expect("rm");
        write(d, "realm_config.json", r#"{"app_id": "a", "environment": "staging"}"#);
        assert_eq!(load_values(d).expect_err("tag").key, "environment");
    }
}
