//! Where secondary indexes are declared: `db.coll:path[:unique]` strings (the `--index` flag, the
//! `indexes` config key, `REALM_WASM_INDEXES`) and, as our extension to the App Services export
//! format, `data_sources/<service>/<db>/<coll>/indexes.json`.

use super::{IndexSpec, Namespace, StoreError};
use crate::config::DataSource;
use bson::Bson;

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

/// The indexes a MongoDB data source of the export declares in its `<db>/<coll>/indexes.json`
/// files: a JSON array of `{"key": {"<path>": 1}, "unique": true}` (MongoDB's `createIndex` shape,
/// single-field keys only; `name` and other options are ignored).
pub fn indexes_of(source: &DataSource) -> Result<Vec<(Namespace, IndexSpec)>, StoreError> {
    let mut out = Vec::new();
    for coll in &source.collections {
        let Some(file) = &coll.indexes else { continue };
        let bad = |reason: String| StoreError::InvalidIndex(format!("{}: {reason}", file.path.display()));
        let entries = file.value.as_array().ok_or_else(|| bad("must be a JSON array of {\"key\": {\"path\": 1}, \"unique\": bool}".into()))?;
        let ns = Namespace::new(&coll.database, &coll.collection)?;
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
        let base = dir.path().join("data_sources/local");
        let coll = base.join("shop/items");
        std::fs::create_dir_all(&coll).expect("mkdir");
        std::fs::write(base.join("config.json"), r#"{"name": "mongodb-atlas", "type": "mongodb-atlas"}"#).expect("write");
        std::fs::write(coll.join("indexes.json"), r#"[{"key": {"sku": 1}, "unique": true, "name": "sku_1"}, {"key": {"price": -1}}]"#).expect("write");
        let read = || {
            let sources = crate::config::load_data_sources(dir.path()).expect("sources");
            indexes_of(&sources[0])
        };
        let found = read().expect("indexes");
        let ns = Namespace::new("shop", "items").expect("ns");
        assert_eq!(
            found,
            vec![(ns.clone(), IndexSpec { path: "sku".into(), unique: true }), (ns.clone(), IndexSpec { path: "price".into(), unique: false })]
        );

        let merged = merge_indexes(found.iter().cloned().chain(parse_indexes("shop.items:sku:unique,shop.items:tag").expect("parse"))).expect("merge");
        assert_eq!(merged.len(), 3);
        assert!(merge_indexes(found.into_iter().chain(parse_indexes("shop.items:sku").expect("parse"))).is_err());

        for bad in [r#"{"key": {"a": 1}}"#, r#"[{"key": {"a": 1, "b": 1}}]"#, r#"[{"key": {"a": "text"}}]"#, r#"[{"key": {"a": 1}, "unique": "yes"}]"#] {
            std::fs::write(coll.join("indexes.json"), bad).expect("write");
            let e = read().expect_err(bad).to_string();
            assert!(e.contains("indexes.json"), "{e}");
        }
    }
}
