//! Secondary indexes over one field path: key (in MongoDB's value order) → documents' sequence numbers.
//!
//! Arrays are indexed by element (multikey), a missing field as null, as MongoDB does. An index
//! that has seen an array cannot give sort order (a document would appear once per element).

use crate::query::compare_values;
use bson::{Bson, Document};
use std::cmp::Ordering;
use std::collections::{BTreeMap, BTreeSet};

/// A declared index.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IndexSpec {
    /// Dotted field path.
    pub path: String,
    /// At most one document per key.
    pub unique: bool,
}

impl IndexSpec {
    /// Parses `db.coll:path` or `db.coll:path:unique` (one entry of `REALM_WASM_INDEXES`).
    pub fn parse(entry: &str) -> Result<(String, String, IndexSpec), String> {
        let mut parts = entry.trim().split(':');
        let ns = parts.next().unwrap_or_default();
        let path = parts.next().unwrap_or_default();
        let unique = match parts.next() {
            None => false,
            Some("unique") => true,
            Some(other) => return Err(format!("index '{entry}': unknown option '{other}' (expected 'unique')")),
        };
        let (db, coll) = ns.split_once('.').ok_or_else(|| format!("index '{entry}': expected db.collection:path[:unique]"))?;
        if db.is_empty() || coll.is_empty() || path.is_empty() || parts.next().is_some() {
            return Err(format!("index '{entry}': expected db.collection:path[:unique]"));
        }
        Ok((db.to_string(), coll.to_string(), IndexSpec { path: path.to_string(), unique }))
    }
}

/// A BSON value ordered as MongoDB orders values.
#[derive(Debug, Clone)]
pub(super) struct Key(pub Bson);

impl PartialEq for Key {
    fn eq(&self, other: &Key) -> bool {
        self.cmp(other) == Ordering::Equal
    }
}
impl Eq for Key {}
impl PartialOrd for Key {
    fn partial_cmp(&self, other: &Key) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}
impl Ord for Key {
    fn cmp(&self, other: &Key) -> Ordering {
        compare_values(&self.0, &other.0)
    }
}

/// One index's entries.
#[derive(Debug)]
pub(super) struct Index {
    pub spec: IndexSpec,
    pub entries: BTreeMap<Key, BTreeSet<u64>>,
    /// Documents currently holding an array at the path.
    pub array_docs: usize,
}

impl Index {
    pub fn new(spec: IndexSpec) -> Index {
        Index { spec, entries: BTreeMap::new(), array_docs: 0 }
    }

    /// The keys `doc` has in this index, and whether it holds an array there.
    pub fn keys_of(&self, doc: &Document) -> (Vec<Key>, bool) {
        let values = crate::query::path_values(doc, &self.spec.path);
        let mut keys = Vec::new();
        let mut array = false;
        for v in values {
            match v {
                Bson::Array(items) => {
                    array = true;
                    keys.extend(items.iter().cloned().map(Key));
                }
                other => keys.push(Key(other.clone())),
            }
        }
        if keys.is_empty() {
            keys.push(Key(Bson::Null));
        }
        keys.sort();
        keys.dedup();
        (keys, array)
    }

    pub fn insert(&mut self, seq: u64, doc: &Document) {
        let (keys, array) = self.keys_of(doc);
        self.array_docs += usize::from(array);
        for k in keys {
            self.entries.entry(k).or_default().insert(seq);
        }
    }

    pub fn remove(&mut self, seq: u64, doc: &Document) {
        let (keys, array) = self.keys_of(doc);
        self.array_docs -= usize::from(array);
        for k in keys {
            if let Some(set) = self.entries.get_mut(&k) {
                set.remove(&seq);
                if set.is_empty() {
                    self.entries.remove(&k);
                }
            }
        }
    }

    /// A key of `doc` already held by another document (for unique indexes).
    pub fn conflict(&self, doc: &Document, own: Option<u64>) -> Option<Bson> {
        if !self.spec.unique {
            return None;
        }
        let (keys, _) = self.keys_of(doc);
        keys.into_iter()
            .find(|k| self.entries.get(k).is_some_and(|seqs| seqs.iter().any(|s| Some(*s) != own)))
            .map(|k| k.0)
    }
}
