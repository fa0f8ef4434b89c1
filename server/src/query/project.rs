//! Projection (inclusion/exclusion of dotted paths, `$slice`, `$elemMatch`, positional `$`) and sort.

use super::filter::{positional_index, Filter};
use super::value::{as_i64, compare_values};
use super::QueryError;
use bson::{Bson, Document};
use std::cmp::Ordering;

/// What a projection does with one path.
#[derive(Debug, Clone)]
enum Spec {
    Flag,
    Slice(Option<i64>, i64),
    ElemMatch(Filter),
    Positional,
}

/// Projection paths as a tree of field names.
#[derive(Debug, Clone, Default)]
struct Tree(Vec<(String, Entry)>);

#[derive(Debug, Clone)]
enum Entry {
    Leaf(Spec, String),
    Node(Tree),
}

impl Tree {
    fn get(&self, key: &str) -> Option<&Entry> {
        self.0.iter().find(|(k, _)| k == key).map(|(_, e)| e)
    }

    fn insert(&mut self, parts: &[&str], spec: Spec, full: &str) -> Result<(), QueryError> {
        let (head, tail) = parts.split_first().ok_or_else(|| QueryError::BadValue("empty projection path".into()))?;
        let collision = || QueryError::BadValue(format!("Path collision at {full}"));
        match self.0.iter_mut().find(|(k, _)| k == head) {
            None if tail.is_empty() => self.0.push((head.to_string(), Entry::Leaf(spec, full.to_string()))),
            None => {
                let mut t = Tree::default();
                t.insert(tail, spec, full)?;
                self.0.push((head.to_string(), Entry::Node(t)));
            }
            Some((_, Entry::Node(t))) if !tail.is_empty() => t.insert(tail, spec, full)?,
            Some(_) => return Err(collision()),
        }
        Ok(())
    }
}

/// A parsed projection.
#[derive(Debug, Clone)]
pub struct Projection {
    include: bool,
    tree: Tree,
    keep_id: bool,
}

fn flag(path: &str, v: &Bson) -> Result<Option<bool>, QueryError> {
    Ok(match v {
        Bson::Boolean(b) => Some(*b),
        Bson::Int32(_) | Bson::Int64(_) | Bson::Double(_) => Some(super::value::truthy(v)),
        Bson::Document(d) if d.keys().next().is_some_and(|k| k.starts_with('$')) => None,
        _ => return Err(QueryError::Unsupported(format!("projection expression for '{path}' ({v})"))),
    })
}

fn parse_special(path: &str, d: &Document) -> Result<Spec, QueryError> {
    let (op, arg) = d.iter().next().ok_or_else(|| QueryError::BadValue("empty projection operator".into()))?;
    match (op.as_str(), arg) {
        ("$slice", Bson::Array(a)) if a.len() == 2 => match (as_i64(&a[0]), as_i64(&a[1])) {
            (Some(skip), Some(n)) if n > 0 => Ok(Spec::Slice(Some(skip), n)),
            _ => Err(QueryError::BadValue("$slice limit must be positive".into())),
        },
        ("$slice", v) => as_i64(v)
            .map(|n| Spec::Slice(None, n))
            .ok_or_else(|| QueryError::BadValue(format!("$slice only supports numbers and [skip, limit] arrays ({path})"))),
        ("$elemMatch", Bson::Document(q)) => Ok(Spec::ElemMatch(Filter::parse(q)?)),
        ("$elemMatch", _) => Err(QueryError::BadValue("elemMatch: Invalid argument, object required.".into())),
        (other, _) => Err(QueryError::Unsupported(other.to_string())),
    }
}

impl Projection {
    /// Parses a projection; mixing inclusion and exclusion (other than `_id`) is an error.
    pub fn parse(spec: &Document) -> Result<Projection, QueryError> {
        let mut include: Option<bool> = None;
        let mut specials_include = false;
        let mut tree = Tree::default();
        let mut keep_id = true;
        let mut id_flag = None;
        for (path, v) in spec {
            if path.starts_with('$') {
                return Err(QueryError::Unsupported(path.clone()));
            }
            let (key, entry) = match path.strip_suffix(".$") {
                Some(array_path) => {
                    if !flag(path, v)?.unwrap_or(false) {
                        return Err(QueryError::BadValue(format!("positional projection '{path}' must be an inclusion")));
                    }
                    specials_include = true;
                    (array_path, Spec::Positional)
                }
                None => match flag(path, v)? {
                    Some(on) if path == "_id" => {
                        keep_id = on;
                        id_flag = Some(on);
                        continue;
                    }
                    Some(on) => {
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
                        (path.as_str(), Spec::Flag)
                    }
                    None => {
                        let s = match v {
                            Bson::Document(d) => parse_special(path, d)?,
                            _ => return Err(QueryError::BadValue(format!("invalid projection for '{path}'"))),
                        };
                        if matches!(s, Spec::ElemMatch(_)) {
                            specials_include = true;
                        }
                        (path.as_str(), s)
                    }
                },
            };
            let parts: Vec<&str> = key.split('.').collect();
            tree.insert(&parts, entry, key)?;
        }
        if specials_include && include == Some(false) {
            return Err(QueryError::BadValue("Cannot use $elemMatch or positional projection in an exclusion projection".into()));
        }
        // `{_id: 1}` alone is an inclusion projection of just `_id`.
        let include = include.unwrap_or(specials_include || (id_flag == Some(true) && tree.0.is_empty()));
        Ok(Projection { include, tree, keep_id })
    }

    /// An inclusion projection of nothing but (optionally) `_id`: the base of computed `$project` fields.
    pub(crate) fn only_id(keep_id: bool) -> Projection {
        Projection { include: true, tree: Tree::default(), keep_id }
    }

    /// Applies the projection to one document (`query` resolves positional `$`).
    pub fn apply(&self, doc: &Document, query: Option<&Filter>) -> Document {
        let mut out = if self.include {
            let mut out = Document::new();
            if self.keep_id {
                if let Some(id) = doc.get("_id") {
                    out.insert("_id", id.clone());
                }
            }
            include_doc(doc, &self.tree, doc, query, &mut out);
            out
        } else {
            exclude_doc(doc, &self.tree)
        };
        if !self.keep_id {
            out.remove("_id");
        }
        out
    }
}

fn special(value: &Bson, spec: &Spec, full: &str, root: &Document, query: Option<&Filter>) -> Option<Bson> {
    let Bson::Array(items) = value else {
        return matches!(spec, Spec::Flag | Spec::Slice(..)).then(|| value.clone());
    };
    Some(match spec {
        Spec::Flag => value.clone(),
        Spec::Slice(skip, n) => Bson::Array(slice(items, *skip, *n)),
        Spec::ElemMatch(f) => {
            let hit = items.iter().find(|i| matches!(i, Bson::Document(d) if f.matches(d)))?;
            Bson::Array(vec![hit.clone()])
        }
        Spec::Positional => {
            let i = positional_index(root, full, items, query)?;
            Bson::Array(vec![items[i].clone()])
        }
    })
}

fn slice(items: &[Bson], skip: Option<i64>, n: i64) -> Vec<Bson> {
    let len = items.len() as i64;
    let (start, count) = match skip {
        None if n >= 0 => (0, n),
        None => ((len + n).max(0), n.saturating_neg()),
        Some(s) if s >= 0 => (s.min(len), n),
        Some(s) => ((len + s).max(0), n),
    };
    items.iter().skip(start as usize).take(count.max(0) as usize).cloned().collect()
}

fn include_doc(doc: &Document, tree: &Tree, root: &Document, query: Option<&Filter>, out: &mut Document) {
    for (k, v) in doc {
        match tree.get(k) {
            None => {}
            Some(Entry::Leaf(spec, full)) => {
                if let Some(p) = special(v, spec, full, root, query) {
                    out.insert(k.clone(), p);
                }
            }
            Some(Entry::Node(sub)) => {
                if let Some(p) = include_value(v, sub, root, query) {
                    out.insert(k.clone(), p);
                }
            }
        }
    }
}

fn include_value(v: &Bson, tree: &Tree, root: &Document, query: Option<&Filter>) -> Option<Bson> {
    match v {
        Bson::Document(d) => {
            let mut o = Document::new();
            include_doc(d, tree, root, query, &mut o);
            Some(Bson::Document(o))
        }
        Bson::Array(items) => Some(Bson::Array(items.iter().filter_map(|i| include_value(i, tree, root, query)).collect())),
        _ => None,
    }
}

fn exclude_doc(doc: &Document, tree: &Tree) -> Document {
    let mut out = Document::new();
    for (k, v) in doc {
        match tree.get(k) {
            None => {
                out.insert(k.clone(), v.clone());
            }
            Some(Entry::Leaf(Spec::Slice(skip, n), _)) => {
                out.insert(k.clone(), match v {
                    Bson::Array(items) => Bson::Array(slice(items, *skip, *n)),
                    other => other.clone(),
                });
            }
            Some(Entry::Leaf(..)) => {}
            Some(Entry::Node(sub)) => {
                out.insert(k.clone(), exclude_value(v, sub));
            }
        }
    }
    out
}

fn exclude_value(v: &Bson, tree: &Tree) -> Bson {
    match v {
        Bson::Document(d) => Bson::Document(exclude_doc(d, tree)),
        Bson::Array(items) => Bson::Array(items.iter().map(|i| exclude_value(i, tree)).collect()),
        other => other.clone(),
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
        self.compare_keys(&self.keys(a), &self.keys(b))
    }

    /// The path and direction when the sort has exactly one key.
    pub fn single(&self) -> Option<(&str, bool)> {
        match self.0.as_slice() {
            [(path, asc)] => Some((path.as_str(), *asc)),
            _ => None,
        }
    }

    /// The sort keys of one document (extract once, then compare many times).
    pub fn keys(&self, doc: &Document) -> Vec<Bson> {
        self.0.iter().map(|(path, asc)| sort_key(doc, path, *asc)).collect()
    }

    /// Compares keys from [`SortSpec::keys`].
    pub fn compare_keys(&self, a: &[Bson], b: &[Bson]) -> Ordering {
        for ((ka, kb), (_, asc)) in a.iter().zip(b).zip(&self.0) {
            let o = compare_values(ka, kb);
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
            // An empty array sorts below null and missing (MongoDB sort order).
            Bson::Array(_) => flat.push(&Bson::MinKey),
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
            assert_eq!(Projection::parse(&spec).expect("parse").apply(&d, None), want, "projection {spec}");
        }
        assert!(Projection::parse(&doc! {"a": 1, "b": 0}).is_err());
        assert!(matches!(Projection::parse(&doc! {"a": {"$meta": "textScore"}}), Err(QueryError::Unsupported(_))));
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
