//! Where secondary indexes are declared: `db.coll:path[:unique]` strings (the `--index` flag, the
//! `indexes` config key, `REALM_WASM_INDEXES`) and, as our extension to the App Services export
//! format, `data_sources/mongodb-atlas/<db>/<coll>/indexes.json`.

use super::{IndexSpec, Namespace, StoreError};
use bson::Bson;
use std::path::Path;

/// Parses a comma-separated list of `db.coll:path[:unique]` index declarations.
pub fn parse_indexes(list: &str) -> Result<Vec<(Namespace, IndexSpec)>, StoreError> {
    list.split(',')
        .filter(|e| !e.trim().is_empty())
        .map(|e| {
            let (db, coll, spec) = IndexSpec::parse(e).map_err(StoreError::InvalidIndex)?;
            Ok((Namespace::new(&db, &coll)?, spec))
        })
        .collect()
}

/// Reads every `data_sources/mongodb-atlas/<db>/<coll>/indexes.json` of the export at `app_dir`:
/// a JSON array of `{"key": {"<path>": 1}, "unique": true}` (MongoDB's `createIndex` shape,
/// single-field keys only; `name` and other options are ignored).
pub fn export_indexes(app_dir: &Path) -> Result<Vec<(Namespace, IndexSpec)>, StoreError> {
    let base = app_dir.join("data_sources").join("mongodb-atlas");
    let mut out = Vec::new();
    let Ok(dbs) = std::fs::read_dir(&base) else { return Ok(out) };
    let mut files = Vec::new();
    for db in dbs.flatten().filter(|e| e.path().is_dir()) {
        for coll in std::fs::read_dir(db.path()).into_iter().flatten().flatten() {
            let file = coll.path().join("indexes.json");
            if file.is_file() {
                files.push((db.file_name().to_string_lossy().into_owned(), coll.file_name().to_string_lossy().into_owned(), file));
            }
        }
    }
    files.sort();
    for (db, coll, file) in files {
        let bad = |reason: String| StoreError::InvalidIndex(format!("{}: {reason}", file.display()));
        let text = std::fs::read_to_string(&file).map_err(|e| bad(format!("cannot read: {e}")))?;
        let json: serde_json::Value = serde_json::from_str(&text).map_err(|e| bad(format!("invalid JSON: {e}")))?;
        let entries = json.as_array().ok_or_else(|| bad("must be a JSON array of {\"key\": {\"path\": 1}, \"unique\": bool}".into()))?;
        let ns = Namespace::new(&db, &coll)?;
        for (i, entry) in entries.iter().enumerate() {
            let key = entry.get("key").and_then(|k| k.as_object()).ok_or_else(|| bad(format!("[{i}].key must be an object")))?;
            let fields: Vec<_> = key.iter().collect();
            let (path, direction) = match fields.as_slice() {
                [(path, direction)] => (path.to_string(), *direction),
                _ => return Err(bad(format!("[{i}].key must name exactly one field (compound indexes are not supported)"))),
            };
            if !matches!(Bson::try_from(direction.clone()), Ok(Bson::Int32(1 | -1) | Bson::Int64(1 | -1))) || path.is_empty() {
                return Err(bad(format!("[{i}].key: {path:?} must map to 1 or -1")));
            }
            let unique = match entry.get("unique") {
                None => false,
                Some(serde_json::Value::Bool(b)) => *b,
                Some(_) => return Err(bad(format!("[{i}].unique must be true or false"))),
            };
            out.push((ns.clone(), IndexSpec { path, unique }));
        }
    }
    Ok(out)
}

/// Joins declarations from several sources; the same index declared twice counts once, the same
/// path declared both unique and not is refused.
pub fn merge_indexes(sources: impl IntoIterator<Item = (Namespace, IndexSpec)>) -> Result<Vec<(Namespace, IndexSpec)>, StoreError> {
    let mut out: Vec<(Namespace, IndexSpec)> = Vec::new();
    for (ns, spec) in sources {
        match out.iter().find(|(n, s)| *n == ns && s.path == spec.path) {
            Some((_, s)) if s.unique == spec.unique => {}
            Some(_) => return Err(StoreError::InvalidIndex(format!("index on {ns}.{} declared both unique and not unique", spec.path))),
            None => out.push((ns, spec)),
        }
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn export_files_and_merging() {
        let dir = tempfile::tempdir().expect("tmp");
        let coll = dir.path().join("data_sources/mongodb-atlas/shop/items");
        std::fs::create_dir_all(&coll).expect("mkdir");
        std::fs::write(coll.join("indexes.json"), r#"[{"key": {"sku": 1}, "unique": true, "name": "sku_1"}, {"key": {"price": -1}}]"#).expect("write");
        let found = export_indexes(dir.path()).expect("indexes");
        let ns = Namespace::new("shop", "items").expect("ns");
        assert_eq!(
            found,
            vec![(ns.clone(), IndexSpec { path: "sku".into(), unique: true }), (ns.clone(), IndexSpec { path: "price".into(), unique: false })]
        );
        assert!(export_indexes(&dir.path().join("missing")).expect("no export dir").is_empty());

        let merged = merge_indexes(found.iter().cloned().chain(parse_indexes("shop.items:sku:unique,shop.items:tag").expect("parse"))).expect("merge");
        assert_eq!(merged.len(), 3);
        assert!(merge_indexes(found.into_iter().chain(parse_indexes("shop.items:sku").expect("parse"))).is_err());

        for bad in [r#"{"key": {"a": 1}}"#, r#"[{"key": {"a": 1, "b": 1}}]"#, r#"[{"key": {"a": "text"}}]"#, r#"[{"key": {"a": 1}, "unique": "yes"}]"#] {
            std::fs::write(coll.join("indexes.json"), bad).expect("write");
            let e = export_indexes(dir.path()).expect_err(bad).to_string();
            assert!(e.contains("indexes.json"), "{e}");
        }
    }
}
