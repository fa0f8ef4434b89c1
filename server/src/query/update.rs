//! Update documents: operator updates (`$set`, `$unset`, `$inc`) and replacements.

use super::filter::Filter;
use super::path::{get_exact, set_path, unset_path};
use super::value::values_equal;
use super::QueryError;
use bson::{Bson, Document};

/// A parsed update.
#[derive(Debug, Clone, PartialEq)]
pub enum Update {
    /// Operator update, applied in order.
    Ops(Vec<Op>),
    /// Whole-document replacement (the `_id` is kept).
    Replace(Document),
}

/// One field-level update operation.
#[derive(Debug, Clone, PartialEq)]
pub enum Op {
    Set(String, Bson),
    Unset(String),
    Inc(String, Bson),
}

impl Op {
    fn path(&self) -> &str {
        match self {
            Op::Set(p, _) | Op::Unset(p) | Op::Inc(p, _) => p,
        }
    }
}

impl Update {
    /// Parses an update document; unsupported operators are an error naming them.
    pub fn parse(update: &Document) -> Result<Update, QueryError> {
        let is_ops = update.keys().next().is_some_and(|k| k.starts_with('$'));
        if !is_ops {
            if let Some(k) = update.keys().find(|k| k.starts_with('$')) {
                return Err(QueryError::BadValue(format!(
                    "replacement document must not contain operators (found {k})"
                )));
            }
            return Ok(Update::Replace(update.clone()));
        }
        let mut ops = Vec::new();
        for (op, arg) in update {
            let Bson::Document(fields) = arg else {
                if op.starts_with('$') && !matches!(op.as_str(), "$set" | "$unset" | "$inc") {
                    return Err(QueryError::Unsupported(op.clone()));
                }
                return Err(QueryError::BadValue(format!("Modifiers operate on fields but we found another type instead: {op}")));
            };
            for (path, value) in fields {
                ops.push(match op.as_str() {
                    "$set" => Op::Set(path.clone(), value.clone()),
                    "$unset" => Op::Unset(path.clone()),
                    "$inc" => {
                        if super::value::as_f64(value).is_none() {
                            return Err(QueryError::BadValue(format!(
                                "Cannot increment with non-numeric argument: {{{path}: {value}}}"
                            )));
                        }
                        Op::Inc(path.clone(), value.clone())
                    }
                    other if other.starts_with('$') => return Err(QueryError::Unsupported(other.to_string())),
                    other => {
                        return Err(QueryError::BadValue(format!("Unknown modifier: {other}. Expected a valid update modifier or pipeline-style update")))
                    }
                });
            }
        }
        if ops.is_empty() {
            return Err(QueryError::BadValue("update document must contain at least one field".into()));
        }
        for (i, a) in ops.iter().enumerate() {
            if a.path() == "_id" || a.path().starts_with("_id.") {
                return Err(QueryError::Conflict(
                    "Performing an update on the path '_id' would modify the immutable field '_id'".into(),
                ));
            }
            for b in &ops[i + 1..] {
                if conflicts(a.path(), b.path()) {
                    return Err(QueryError::Conflict(format!(
                        "Updating the path '{}' would create a conflict at '{}'",
                        b.path(),
                        a.path()
                    )));
                }
            }
        }
        Ok(Update::Ops(ops))
    }

    /// Applies the update to `doc`; returns whether the document changed.
    pub fn apply(&self, doc: &mut Document) -> Result<bool, QueryError> {
        match self {
            Update::Replace(replacement) => {
                let id = doc.get("_id").cloned();
                let mut new_doc = Document::new();
                if let Some(id) = &id {
                    if let Some(rid) = replacement.get("_id") {
                        if !values_equal(rid, id) {
                            return Err(QueryError::Conflict(
                                "the (immutable) field '_id' was found to have been altered".into(),
                            ));
                        }
                    }
                    new_doc.insert("_id", id.clone());
                }
                for (k, v) in replacement {
                    if k != "_id" || id.is_none() {
                        new_doc.insert(k.clone(), v.clone());
                    }
                }
                let changed = new_doc != *doc;
                *doc = new_doc;
                Ok(changed)
            }
            Update::Ops(ops) => {
                let before = doc.clone();
                for op in ops {
                    apply_op(doc, op)?;
                }
                Ok(*doc != before)
            }
        }
    }

    /// Builds the document an upsert inserts: equality fields of `filter`, then the update.
    pub fn upsert_document(&self, filter: &Filter) -> Result<Document, QueryError> {
        let mut seed = Document::new();
        if let Update::Ops(_) = self {
            for (path, value) in filter.equalities() {
                set_path(&mut seed, path, value.clone()).map_err(QueryError::Conflict)?;
            }
        } else if let Some((_, id)) = filter.equalities().into_iter().find(|(p, _)| *p == "_id") {
            seed.insert("_id", id.clone());
        }
        self.apply(&mut seed)?;
        Ok(seed)
    }
}

fn conflicts(a: &str, b: &str) -> bool {
    a == b || b.starts_with(&format!("{a}.")) || a.starts_with(&format!("{b}."))
}

fn apply_op(doc: &mut Document, op: &Op) -> Result<(), QueryError> {
    match op {
        Op::Set(path, value) => set_path(doc, path, value.clone()).map_err(QueryError::Conflict),
        Op::Unset(path) => {
            unset_path(doc, path);
            Ok(())
        }
        Op::Inc(path, by) => {
            let new_value = match get_exact(doc, path) {
                None => by.clone(),
                Some(current) => add(current, by).ok_or_else(|| {
                    QueryError::Conflict(format!(
                        "Cannot apply $inc to a value of non-numeric type. {{_id: {}}} has the field '{path}' of non-numeric type {}",
                        doc.get("_id").map(|v| v.to_string()).unwrap_or_default(),
                        type_name(current)
                    ))
                })?,
            };
            set_path(doc, path, new_value).map_err(QueryError::Conflict)
        }
    }
}

fn type_name(v: &Bson) -> &'static str {
    match v {
        Bson::String(_) => "string",
        Bson::Document(_) => "object",
        Bson::Array(_) => "array",
        Bson::Boolean(_) => "bool",
        Bson::Null => "null",
        Bson::ObjectId(_) => "objectId",
        Bson::DateTime(_) => "date",
        _ => "other",
    }
}

/// MongoDB numeric addition: int32 widens to int64 on overflow, any double makes a double.
fn add(a: &Bson, b: &Bson) -> Option<Bson> {
    Some(match (a, b) {
        (Bson::Int32(x), Bson::Int32(y)) => match x.checked_add(*y) {
            Some(s) => Bson::Int32(s),
            None => Bson::Int64(i64::from(*x) + i64::from(*y)),
        },
        (Bson::Int32(x), Bson::Int64(y)) | (Bson::Int64(y), Bson::Int32(x)) => {
            Bson::Int64(i64::from(*x).checked_add(*y)?)
        }
        (Bson::Int64(x), Bson::Int64(y)) => Bson::Int64(x.checked_add(*y)?),
        (x, y) => {
            let (fx, fy) = (super::value::as_f64(x)?, super::value::as_f64(y)?);
            Bson::Double(fx + fy)
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use bson::doc;

    fn run(start: Document, update: Document) -> Result<(Document, bool), QueryError> {
        let mut d = start;
        let changed = Update::parse(&update)?.apply(&mut d)?;
        Ok((d, changed))
    }

    #[test]
    fn table_of_updates() {
        let base = doc! {"_id": 1, "a": 1, "b": {"c": 2}, "s": "x"};
        let table: Vec<(Document, Document, bool)> = vec![
            (doc! {"$set": {"a": 5}}, doc! {"_id": 1, "a": 5, "b": {"c": 2}, "s": "x"}, true),
            (doc! {"$set": {"a": 1}}, base.clone(), false),
            (doc! {"$set": {"b.d": true}}, doc! {"_id": 1, "a": 1, "b": {"c": 2, "d": true}, "s": "x"}, true),
            (doc! {"$set": {"n.m": 1}}, doc! {"_id": 1, "a": 1, "b": {"c": 2}, "s": "x", "n": {"m": 1}}, true),
            (doc! {"$unset": {"s": ""}}, doc! {"_id": 1, "a": 1, "b": {"c": 2}}, true),
            (doc! {"$unset": {"zz": ""}}, base.clone(), false),
            (doc! {"$inc": {"a": 2}}, doc! {"_id": 1, "a": 3, "b": {"c": 2}, "s": "x"}, true),
            (doc! {"$inc": {"a": 0.5}}, doc! {"_id": 1, "a": 1.5, "b": {"c": 2}, "s": "x"}, true),
            (doc! {"$inc": {"new": 3_i64}}, doc! {"_id": 1, "a": 1, "b": {"c": 2}, "s": "x", "new": 3_i64}, true),
            (doc! {"$inc": {"a": 0}}, base.clone(), false),
            (doc! {"$set": {"s": "y"}, "$inc": {"b.c": 1}}, doc! {"_id": 1, "a": 1, "b": {"c": 3}, "s": "y"}, true),
            (doc! {"z": 1}, doc! {"_id": 1, "z": 1}, true),
            (doc! {"_id": 1, "a": 1, "b": {"c": 2}, "s": "x"}, base.clone(), false),
        ];
        for (update, want, changed) in table {
            assert_eq!(run(base.clone(), update.clone()), Ok((want, changed)), "update {update}");
        }
    }

    #[test]
    fn int32_overflow_widens() {
        let (d, _) = run(doc! {"a": i32::MAX}, doc! {"$inc": {"a": 1}}).expect("inc");
        assert_eq!(d.get("a"), Some(&Bson::Int64(i64::from(i32::MAX) + 1)));
    }

    #[test]
    fn rejected_updates() {
        let base = doc! {"_id": 1, "s": "x"};
        assert_eq!(Update::parse(&doc! {"$push": {"a": 1}}), Err(QueryError::Unsupported("$push".into())));
        assert_eq!(Update::parse(&doc! {"$rename": 1}), Err(QueryError::Unsupported("$rename".into())));
        assert!(matches!(Update::parse(&doc! {"$set": {"_id": 2}}), Err(QueryError::Conflict(_))));
        assert!(matches!(Update::parse(&doc! {"$set": {"a": 1}, "$unset": {"a": ""}}), Err(QueryError::Conflict(_))));
        assert!(matches!(Update::parse(&doc! {"$inc": {"a": "x"}}), Err(QueryError::BadValue(_))));
        assert!(matches!(Update::parse(&doc! {"a": 1, "$set": {"b": 1}}), Err(QueryError::BadValue(_))));
        assert!(matches!(Update::parse(&doc! {"$set": 5}), Err(QueryError::BadValue(_))));
        assert!(matches!(Update::parse(&doc! {}), Ok(Update::Replace(_))));
        assert!(matches!(run(base.clone(), doc! {"$inc": {"s": 1}}), Err(QueryError::Conflict(_))));
        assert!(matches!(run(base.clone(), doc! {"$set": {"s.t": 1}}), Err(QueryError::Conflict(_))));
        assert!(matches!(run(base, doc! {"_id": 2, "a": 1}), Err(QueryError::Conflict(_))));
    }

    #[test]
    fn upsert_seeds_equality_fields() {
        let f = Filter::parse(&doc! {"userID": "u1", "n": {"$gt": 1}, "a.b": 2}).expect("filter");
        let up = Update::parse(&doc! {"$set": {"color": "pink"}, "$inc": {"count": 1}}).expect("update");
        assert_eq!(
            up.upsert_document(&f).expect("seed"),
            doc! {"userID": "u1", "a": {"b": 2}, "color": "pink", "count": 1}
        );
        let rep = Update::parse(&doc! {"x": 1}).expect("replace");
        let f = Filter::parse(&doc! {"_id": 7, "y": 2}).expect("filter");
        assert_eq!(rep.upsert_document(&f).expect("seed"), doc! {"_id": 7, "x": 1});
    }
}
