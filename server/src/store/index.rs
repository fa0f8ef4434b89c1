//! Secondary indexes over one field path: a set of (key in MongoDB's value order, document sequence
//! number) pairs, so equal keys keep natural order and no per-key allocation is needed.
//!
//! Arrays are indexed by element (multikey), a missing field as null, as MongoDB does. An index
//! that has seen an array cannot give sort order (a document would appear once per element).

use crate::query::compare_values;
use bson::{Bson, Document};
use std::cmp::Ordering;
use std::collections::BTreeSet;
use std::ops::Bound;

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
    pub entries: BTreeSet<(Key, u64)>,
    /// Documents currently holding an array at the path.
    pub array_docs: usize,
}

impl Index {
    pub fn new(spec: IndexSpec) -> Index {
        Index { spec, entries: BTreeSet::new(), array_docs: 0 }
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
            self.entries.insert((k, seq));
        }
    }

    pub fn remove(&mut self, seq: u64, doc: &Document) {
        let (keys, array) = self.keys_of(doc);
        self.array_docs -= usize::from(array);
        for k in keys {
            self.entries.remove(&(k, seq));
        }
    }

    /// A key of `doc` already held by another document (for unique indexes).
    pub fn conflict(&self, doc: &Document, own: Option<u64>) -> Option<Bson> {
        if !self.spec.unique {
            return None;
        }
        let (keys, _) = self.keys_of(doc);
        keys.into_iter()
            .find(|k| self.range(Bound::Included(&k.0), Bound::Included(&k.0)).any(|(_, s)| Some(s) != own))
            .map(|k| k.0)
    }

    /// Entries between the bounds in key order, or reversed key order; equal keys always keep
    /// natural order (as an in-memory sort does).
    pub fn walk<'a>(&'a self, lower: Bound<&Bson>, upper: Bound<&Bson>, reverse: bool) -> Box<dyn Iterator<Item = (&'a Key, u64)> + 'a> {
        if !reverse {
            return Box::new(self.range(lower, upper));
        }
        let mut rev = self.range(lower, upper).rev().peekable();
        let mut run: Vec<(&Key, u64)> = Vec::new();
        Box::new(std::iter::from_fn(move || {
            if run.is_empty() {
                let first = rev.next()?;
                run.push(first);
                while let Some(next) = rev.next_if(|(k, _)| *k == first.0) {
                    run.push(next);
                }
            }
            run.pop()
        }))
    }

    /// Entries whose key lies between the bounds, in (key, natural) order.
    pub fn range(&self, lower: Bound<&Bson>, upper: Bound<&Bson>) -> impl DoubleEndedIterator<Item = (&Key, u64)> + '_ {
        let lo = match lower {
            Bound::Included(v) => Bound::Included((Key(v.clone()), 0)),
            Bound::Excluded(v) => Bound::Excluded((Key(v.clone()), u64::MAX)),
            Bound::Unbounded => Bound::Unbounded,
        };
        let hi = match upper {
            Bound::Included(v) => Bound::Included((Key(v.clone()), u64::MAX)),
            Bound::Excluded(v) => Bound::Excluded((Key(v.clone()), 0)),
            Bound::Unbounded => Bound::Unbounded,
        };
        let empty = matches!((&lo, &hi), (Bound::Included(a) | Bound::Excluded(a), Bound::Included(b) | Bound::Excluded(b)) if a > b);
        let range = if empty { None } else { Some(self.entries.range((lo, hi))) };
        range.into_iter().flatten().map(|(k, s)| (k, *s))
    }
}
