//! The export's data sources: each folder of `data_sources/` has a `config.json` naming a service
//! and its type (the folder is named after the service by `appservices pull`, but only
//! `config.json` counts). A MongoDB data source holds `default_rule.json` and, per collection,
//! `<database>/<collection>/rules.json` — plus, as our extension, `indexes.json`. This module only
//! reads the files; `rules` and `store` give them meaning.

use super::export::{error, read_json};
use super::ConfigError;
use serde_json::Value;
use std::path::{Path, PathBuf};

/// The data source type this server serves.
pub const MONGODB_ATLAS: &str = "mongodb-atlas";

/// A JSON file of the export, kept with its path for error messages.
#[derive(Debug, Clone, PartialEq)]
pub struct JsonFile {
    /// Where it was read.
    pub path: PathBuf,
    /// Its contents.
    pub value: Value,
}

/// The files of one collection.
#[derive(Debug, Clone, PartialEq)]
pub struct CollectionFiles {
    /// Database name (from the folder).
    pub database: String,
    /// Collection name (from the folder).
    pub collection: String,
    /// `rules.json`.
    pub rules: Option<JsonFile>,
    /// `indexes.json` (our extension: `[{"key": {"path": 1}, "unique": true}]`).
    pub indexes: Option<JsonFile>,
}

/// One linked data source.
#[derive(Debug, Clone, PartialEq)]
pub struct DataSource {
    /// The service name clients address (`mongoClient("<name>")`).
    pub name: String,
    /// Its type (`mongodb-atlas`, `mongodb-datafederation`, …).
    pub kind: String,
    /// `default_rule.json`.
    pub default_rule: Option<JsonFile>,
    /// Per-collection files, sorted by namespace.
    pub collections: Vec<CollectionFiles>,
}

/// Files a collection folder may hold that this server reads, and those it knows but ignores.
const COLLECTION_FILES: [&str; 2] = ["rules.json", "indexes.json"];
const IGNORED_COLLECTION_FILES: [&str; 2] = ["schema.json", "relationships.json"];

/// Reads every data source of the export in `dir` (none when there is no `data_sources/`).
pub fn load_data_sources(dir: &Path) -> Result<Vec<DataSource>, ConfigError> {
    let base = dir.join("data_sources");
    let Ok(entries) = std::fs::read_dir(&base) else { return Ok(Vec::new()) };
    let mut folders: Vec<PathBuf> = entries.filter_map(|e| e.ok()).map(|e| e.path()).filter(|p| p.is_dir()).collect();
    folders.sort();
    let mut sources: Vec<DataSource> = Vec::new();
    for folder in folders {
        let file = folder.join("config.json");
        let Some(value) = read_json(&file)? else {
            tracing::warn!(folder = %folder.display(), "data source without config.json: ignored");
            continue;
        };
        let Value::Object(map) = &value else { return Err(error(&file, "-", "must be a JSON object")) };
        let name = match map.get("name") {
            Some(Value::String(n)) if !n.is_empty() => n.clone(),
            _ => return Err(error(&file, "name", "must be a non-empty string")),
        };
        let kind = match map.get("type") {
            Some(Value::String(t)) => t.clone(),
            _ => return Err(error(&file, "type", "must be a string")),
        };
        if sources.iter().any(|s| s.name == name) {
            return Err(error(&file, "name", format!("a second data source named {name:?}")));
        }
        if kind != MONGODB_ATLAS {
            tracing::warn!(file = %file.display(), "data source {name:?} of type {kind:?} is not supported: calls to it answer ServiceNotFound");
        }
        sources.push(DataSource {
            default_rule: read_json(&folder.join("default_rule.json"))?.map(|value| JsonFile { path: folder.join("default_rule.json"), value }),
            collections: collections(&folder)?,
            name,
            kind,
        });
    }
    Ok(sources)
}

/// `<database>/<collection>/*.json` below a data source folder.
fn collections(folder: &Path) -> Result<Vec<CollectionFiles>, ConfigError> {
    let mut out = Vec::new();
    for db in sorted_dirs(folder)? {
        for coll in sorted_dirs(&db)? {
            let name = |p: &Path| p.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default();
            let read = |file: &str| -> Result<Option<JsonFile>, ConfigError> {
                let path = coll.join(file);
                Ok(read_json(&path)?.map(|value| JsonFile { path, value }))
            };
            for entry in std::fs::read_dir(&coll).map_err(|e| error(&coll, "-", format!("cannot read: {e}")))?.flatten() {
                let file = entry.file_name().to_string_lossy().into_owned();
                if IGNORED_COLLECTION_FILES.contains(&file.as_str()) {
                    tracing::warn!(file = %entry.path().display(), "{file} is not supported by realm-wasm-server: ignored");
                } else if !COLLECTION_FILES.contains(&file.as_str()) {
                    tracing::warn!(file = %entry.path().display(), "not part of an App Services export: ignored");
                }
            }
            out.push(CollectionFiles { database: name(&db), collection: name(&coll), rules: read("rules.json")?, indexes: read("indexes.json")? });
        }
    }
    Ok(out)
}

fn sorted_dirs(dir: &Path) -> Result<Vec<PathBuf>, ConfigError> {
    let entries = std::fs::read_dir(dir).map_err(|e| error(dir, "-", format!("cannot read: {e}")))?;
    let mut dirs: Vec<PathBuf> = entries.filter_map(|e| e.ok()).map(|e| e.path()).filter(|p| p.is_dir()).collect();
    dirs.sort();
    Ok(dirs)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn write(dir: &Path, rel: &str, text: &str) {
        let p = dir.join(rel);
        std::fs::create_dir_all(p.parent().expect("parent")).expect("mkdir");
        std::fs::write(p, text).expect("write");
    }

    #[test]
    fn data_sources_are_named_by_their_config_not_their_folder() {
        let tmp = tempfile::tempdir().expect("tmp");
        let d = tmp.path();
        assert!(load_data_sources(d).expect("none").is_empty());
        write(d, "data_sources/local-mongodb/config.json", r#"{"name": "local-mongodb", "type": "mongodb-atlas", "config": {}}"#);
        write(d, "data_sources/local-mongodb/default_rule.json", r#"{"roles": []}"#);
        write(d, "data_sources/local-mongodb/shop/orders/rules.json", r#"{"roles": []}"#);
        write(d, "data_sources/local-mongodb/shop/orders/schema.json", "{}");
        write(d, "data_sources/local-mongodb/shop/items/indexes.json", "[]");
        write(d, "data_sources/Cluster1/config.json", r#"{"name": "mongodb-datafederation", "type": "mongodb-datafederation"}"#);
        let sources = load_data_sources(d).expect("load");
        let names: Vec<(&str, &str)> = sources.iter().map(|s| (s.name.as_str(), s.kind.as_str())).collect();
        assert_eq!(names, [("mongodb-datafederation", "mongodb-datafederation"), ("local-mongodb", "mongodb-atlas")]);
        let local = &sources[1];
        assert!(local.default_rule.is_some());
        let colls: Vec<(&str, &str, bool, bool)> =
            local.collections.iter().map(|c| (c.database.as_str(), c.collection.as_str(), c.rules.is_some(), c.indexes.is_some())).collect();
        assert_eq!(colls, [("shop", "items", false, true), ("shop", "orders", true, false)]);

        write(d, "data_sources/other/config.json", r#"{"name": "local-mongodb", "type": "mongodb-atlas"}"#);
        assert!(load_data_sources(d).expect_err("twice").reason.contains("second data source"));
        write(d, "data_sources/other/config.json", r#"{"type": "mongodb-atlas"}"#);
        assert_eq!(load_data_sources(d).expect_err("nameless").key, "name");
    }
}
