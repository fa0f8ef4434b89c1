//! Projection (inclusion/exclusion of dotted paths) and multi-key sort.

use super::path::{get_exact, set_path, unset_path};
use super::value::compare_values;
use super::QueryError;
use bson::{Bson, Document};
use std::cmp::Ordering;

/// A parsed projection.
#[derive(Debug, Clone, PartialEq)]
pub struct Projection {
    include: bool,
    paths: Vec<String>,
    keep_id: bool,
}

fn flag(path: &str, v: &Bson) -> Result<bool, QueryError> {
    match v {
        Bson::Boolean(b) => Ok(*b),
        Bson::Int32(i) => Ok(*i != 0),
        Bson::Int64(i) => Ok(*i != 0),
        Bson::Double(d) => Ok(*d != 0.0),
        Bson::Document(d) if d.keys().next().is_some_and(|k| k.starts_with('$')) => {
            Err(QueryError::Unsupported(d.keys().next().cloned().unwrap_or_default()))
        }
        _ => Err(QueryError::BadValue(format!("unsupported projection value for '{path}': {v}"))),
    }
}

impl Projection {
    /// Parses a projection; mixing inclusion and exclusion (other than `_id`) is an error.
    pub fn parse(spec: &Document) -> Result<Projection, QueryError> {
        let mut include = None;
        let mut paths = Vec::new();
        let mut keep_id = true;
        let mut id_flag = None;
        for (path, v) in spec {
            if path.starts_with('$') {
                return Err(QueryError::Unsupported(path.clone()));
            }
            let on = flag(path, v)?;
            if path == "_id" {
                keep_id = on;
                id_flag = Some(on);
                continue;
            }
            match include {
                Some(mode) if mode != on => {
                    return Err(QueryError::BadValue(format!(
                        "Cannot do {} on field {path} in {} projection",
                        if on { "inclusion" } else { "exclusion" },
                        if mode { "inclusion" } else { "exclusion" }
                    )))
                }
                _ => include = Some(on),
            }
            paths.push(path.clone());
        }
        // `{_id: 1}` alone is an inclusion projection of just `_id`.
        let include = include.unwrap_or(id_flag == Some(true));
        Ok(Projection { include, paths, keep_id })
    }

    /// Applies the projection to one document.
    pub fn apply(&self, doc: &Document) -> Document {
        if self.include {
            let mut out = Document::new();
            if self.keep_id {
                if let Some(id) = doc.get("_id") {
                    out.insert("_id", id.clone());
                }
            }
            for p in &self.paths {
                if let Some(v) = get_exact(doc, p) {
                    // Paths were read from a document, so setting them again cannot fail.
                    let _ = set_path(&mut out, p, v.clone());
                }
            }
            out
        } else {
            let mut out = doc.clone();
            for p in &self.paths {
                unset_path(&mut out, p);
            }
            if !self.keep_id {
                out.remove("_id");
            }
            out
        }
    }
}

/// A parsed sort specification: (path, ascending) pairs in priority order.
#[derive(Debug, Clone, PartialEq)]
pub struct SortSpec(Vec<(String, bool)>);

impl SortSpec {
    /// Parses `{field: 1 | -1, …}`.
    pub fn parse(spec: &Document) -> Result<SortSpec, QueryError> {
        let mut keys = Vec::new();
        for (path, v) in spec {
            let dir = match v {
                Bson::Int32(1) | Bson::Int64(1) => true,
                Bson::Int32(-1) | Bson::Int64(-1) => false,
                Bson::Double(d) if *d == 1.0 => true,
                Bson::Double(d) if *d == -1.0 => false,
                Bson::Document(d) if d.keys().next().is_some_and(|k| k.starts_with('$')) => {
                    return Err(QueryError::Unsupported(d.keys().next().cloned().unwrap_or_default()))
                }
                _ => return Err(QueryError::BadValue(format!("bad sort direction for '{path}': {v}"))),
            };
            keys.push((path.clone(), dir));
        }
        Ok(SortSpec(keys))
    }

    /// Compares two documents under this sort (missing fields sort as null; arrays by their
    /// smallest element ascending, largest descending).
    pub fn compare(&self, a: &Document, b: &Document) -> Ordering {
        for (path, asc) in &self.0 {
            let (ka, kb) = (sort_key(a, path, *asc), sort_key(b, path, *asc));
            let o = compare_values(&ka, &kb);
            let o = if *asc { o } else { o.reverse() };
            if o != Ordering::Equal {
                return o;
            }
        }
        Ordering::Equal
    }
}

fn sort_key(doc: &Document, path: &str, asc: bool) -> Bson {
    let values = super::path::lookup(doc, path);
    let mut flat: Vec<&Bson> = Vec::new();
    for v in values {
        match v {
            Bson::Array(items) if !items.is_empty() => flat.extend(items.iter()),
            other => flat.push(other),
        }
    }
    let pick = if asc {
        flat.into_iter().min_by(|x, y| compare_values(x, y))
    } else {
        flat.into_iter().max_by(|x, y| compare_values(x, y))
    };
    pick.cloned().unwrap_or(Bson::Null)
}

#[cfg(test)]
mod tests {
    use super::*;
    use bson::doc;

    #[test]
    fn projections() {
        let d = doc! {"_id": 1, "a": 1, "b": {"c": 2, "d": 3}, "e": 4};
        let table = vec![
            (doc! {"a": 1}, doc! {"_id": 1, "a": 1}),
            (doc! {"a": 1, "_id": 0}, doc! {"a": 1}),
            (doc! {"b.c": true}, doc! {"_id": 1, "b": {"c": 2}}),
            (doc! {"a": 0, "b.d": 0}, doc! {"_id": 1, "b": {"c": 2}, "e": 4}),
            (doc! {"_id": 0}, doc! {"a": 1, "b": {"c": 2, "d": 3}, "e": 4}),
            (doc! {}, d.clone()),
            (doc! {"_id": 1}, doc! {"_id": 1}),
        ];
        for (spec, want) in table {
            assert_eq!(Projection::parse(&spec).expect("parse").apply(&d), want, "projection {spec}");
        }
        assert!(Projection::parse(&doc! {"a": 1, "b": 0}).is_err());
        assert_eq!(
            Projection::parse(&doc! {"a": {"$slice": 1}}),
            Err(QueryError::Unsupported("$slice".into()))
        );
    }

    #[test]
    fn sorting() {
        let mut docs = [
            doc! {"_id": 1, "a": 2, "b": "x"},
            doc! {"_id": 2, "a": 1},
            doc! {"_id": 3, "a": 2, "b": "a"},
            doc! {"_id": 4},
            doc! {"_id": 5, "a": 1.5},
        ];
        let s = SortSpec::parse(&doc! {"a": -1, "b": 1}).expect("sort");
        docs.sort_by(|x, y| s.compare(x, y));
        let ids: Vec<i32> = docs.iter().map(|d| d.get_i32("_id").expect("id")).collect();
        assert_eq!(ids, vec![3, 1, 5, 2, 4]);
        assert!(SortSpec::parse(&doc! {"a": 2}).is_err());
    }
}
