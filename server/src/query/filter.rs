//! Query filters: parsed into an AST once, then matched against documents.

use super::path::lookup;
use super::value::{compare_values, type_rank, values_equal};
use super::QueryError;
use bson::{Bson, Document};
use std::cmp::Ordering;

/// A parsed query filter.
#[derive(Debug, Clone, PartialEq)]
pub enum Filter {
    /// All must match (also the implicit top level).
    And(Vec<Filter>),
    /// At least one must match.
    Or(Vec<Filter>),
    /// Conditions on one (dotted) field path; all must hold.
    Field(String, Vec<Cond>),
}

/// One condition on a field.
#[derive(Debug, Clone, PartialEq)]
pub enum Cond {
    Eq(Bson),
    Ne(Bson),
    Gt(Bson),
    Gte(Bson),
    Lt(Bson),
    Lte(Bson),
    In(Vec<Bson>),
    Nin(Vec<Bson>),
    Exists(bool),
}

impl Filter {
    /// Parses a MongoDB filter document; unsupported operators are an error naming them.
    pub fn parse(filter: &Document) -> Result<Filter, QueryError> {
        let mut parts = Vec::with_capacity(filter.len());
        for (key, value) in filter {
            parts.push(match key.as_str() {
                "$and" => Filter::And(parse_list("$and", value)?),
                "$or" => Filter::Or(parse_list("$or", value)?),
                k if k.starts_with('$') => return Err(QueryError::Unsupported(k.to_string())),
                k => Filter::Field(k.to_string(), parse_conds(value)?),
            });
        }
        Ok(if parts.len() == 1 { parts.remove(0) } else { Filter::And(parts) })
    }

    /// Whether `doc` matches.
    pub fn matches(&self, doc: &Document) -> bool {
        match self {
            Filter::And(fs) => fs.iter().all(|f| f.matches(doc)),
            Filter::Or(fs) => fs.iter().any(|f| f.matches(doc)),
            Filter::Field(path, conds) => {
                let values = lookup(doc, path);
                conds.iter().all(|c| c.holds(&values))
            }
        }
    }

    /// Top-level equality conditions (`{a: 1}`, `{a: {$eq: 1}}`, inside `$and`), used to seed upserts.
    pub fn equalities(&self) -> Vec<(&str, &Bson)> {
        let mut out = Vec::new();
        self.collect_equalities(&mut out);
        out
    }

    fn collect_equalities<'a>(&'a self, out: &mut Vec<(&'a str, &'a Bson)>) {
        match self {
            Filter::And(fs) => fs.iter().for_each(|f| f.collect_equalities(out)),
            Filter::Or(fs) if fs.len() == 1 => fs[0].collect_equalities(out),
            Filter::Or(_) => {}
            Filter::Field(path, conds) => {
                for c in conds {
                    if let Cond::Eq(v) = c {
                        out.push((path.as_str(), v));
                    }
                }
            }
        }
    }
}

fn parse_list(op: &str, value: &Bson) -> Result<Vec<Filter>, QueryError> {
    let Bson::Array(items) = value else {
        return Err(QueryError::BadValue(format!("{op} argument must be an array")));
    };
    if items.is_empty() {
        return Err(QueryError::BadValue(format!("{op} argument must be a non-empty array")));
    }
    items
        .iter()
        .map(|item| match item {
            Bson::Document(d) => Filter::parse(d),
            _ => Err(QueryError::BadValue(format!("{op} argument's entries must be objects"))),
        })
        .collect()
}

fn parse_conds(value: &Bson) -> Result<Vec<Cond>, QueryError> {
    let ops = match value {
        Bson::Document(d) if d.keys().next().is_some_and(|k| k.starts_with('$')) => d,
        other => return Ok(vec![Cond::Eq(other.clone())]),
    };
    let mut conds = Vec::with_capacity(ops.len());
    for (op, arg) in ops {
        conds.push(match op.as_str() {
            "$eq" => Cond::Eq(arg.clone()),
            "$ne" => Cond::Ne(arg.clone()),
            "$gt" => Cond::Gt(arg.clone()),
            "$gte" => Cond::Gte(arg.clone()),
            "$lt" => Cond::Lt(arg.clone()),
            "$lte" => Cond::Lte(arg.clone()),
            "$in" | "$nin" => {
                let Bson::Array(items) = arg else {
                    return Err(QueryError::BadValue(format!("{op} needs an array")));
                };
                if op == "$in" {
                    Cond::In(items.clone())
                } else {
                    Cond::Nin(items.clone())
                }
            }
            "$exists" => Cond::Exists(truthy(arg)),
            other if other.starts_with('$') => return Err(QueryError::Unsupported(other.to_string())),
            other => {
                return Err(QueryError::BadValue(format!(
                    "unknown operator or mixed operator/field document: {other}"
                )))
            }
        });
    }
    Ok(conds)
}

fn truthy(v: &Bson) -> bool {
    match v {
        Bson::Boolean(b) => *b,
        Bson::Null | Bson::Undefined => false,
        Bson::Int32(i) => *i != 0,
        Bson::Int64(i) => *i != 0,
        Bson::Double(d) => *d != 0.0,
        _ => true,
    }
}

/// Equality of one reached value against a query value: direct, or any element of an array.
fn eq_one(value: &Bson, want: &Bson) -> bool {
    if values_equal(value, want) {
        return true;
    }
    matches!(value, Bson::Array(items) if items.iter().any(|i| values_equal(i, want)))
}

fn eq_any(values: &[&Bson], want: &Bson) -> bool {
    if *want == Bson::Null && values.is_empty() {
        return true; // null matches a missing field
    }
    values.iter().any(|v| eq_one(v, want))
}

/// Ordered comparison with type bracketing: only values of the same type class compare.
fn cmp_any(values: &[&Bson], want: &Bson, ok: fn(Ordering) -> bool) -> bool {
    let check = |v: &Bson| type_rank(v) == type_rank(want) && ok(compare_values(v, want));
    values.iter().any(|v| {
        check(v) || matches!(v, Bson::Array(items) if items.iter().any(&check))
    }) || (*want == Bson::Null && values.is_empty() && ok(Ordering::Equal))
}

impl Cond {
    fn holds(&self, values: &[&Bson]) -> bool {
        match self {
            Cond::Eq(v) => eq_any(values, v),
            Cond::Ne(v) => !eq_any(values, v),
            Cond::Gt(v) => cmp_any(values, v, |o| o == Ordering::Greater),
            Cond::Gte(v) => cmp_any(values, v, |o| o != Ordering::Less),
            Cond::Lt(v) => cmp_any(values, v, |o| o == Ordering::Less),
            Cond::Lte(v) => cmp_any(values, v, |o| o != Ordering::Greater),
            Cond::In(list) => list.iter().any(|v| eq_any(values, v)),
            Cond::Nin(list) => !list.iter().any(|v| eq_any(values, v)),
            Cond::Exists(want) => values.is_empty() != *want,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use bson::{doc, oid::ObjectId};

    fn docs() -> Vec<Document> {
        vec![
            doc! {"_id": 1, "name": "ann", "age": 30, "tags": ["a", "b"], "addr": {"city": "Oslo"}},
            doc! {"_id": 2, "name": "bob", "age": 25.0, "tags": ["b"], "addr": {"city": "Rome"}, "nick": null},
            doc! {"_id": 3, "name": "cy", "age": "old", "items": [{"q": 1}, {"q": 5}]},
            doc! {"_id": 4, "name": "dee", "age": 40_i64},
        ]
    }

    fn ids(filter: Document) -> Vec<i32> {
        let f = Filter::parse(&filter).expect("parse");
        docs()
            .iter()
            .filter(|d| f.matches(d))
            .map(|d| d.get_i32("_id").expect("id"))
            .collect()
    }

    #[test]
    fn table_of_filters() {
        let table: Vec<(Document, Vec<i32>)> = vec![
            (doc! {}, vec![1, 2, 3, 4]),
            (doc! {"name": "bob"}, vec![2]),
            (doc! {"age": 25}, vec![2]),
            (doc! {"age": {"$eq": 40}}, vec![4]),
            (doc! {"addr.city": "Oslo"}, vec![1]),
            (doc! {"addr": {"city": "Rome"}}, vec![2]),
            (doc! {"tags": "b"}, vec![1, 2]),
            (doc! {"tags": ["b"]}, vec![2]),
            (doc! {"nick": null}, vec![1, 2, 3, 4]),
            (doc! {"nick": {"$exists": true}}, vec![2]),
            (doc! {"nick": {"$exists": false}}, vec![1, 3, 4]),
            (doc! {"addr": {"$exists": 1}}, vec![1, 2]),
            (doc! {"name": {"$ne": "bob"}}, vec![1, 3, 4]),
            (doc! {"age": {"$gt": 25}}, vec![1, 4]),
            (doc! {"age": {"$gte": 25}}, vec![1, 2, 4]),
            (doc! {"age": {"$lt": 30}}, vec![2]),
            (doc! {"age": {"$lte": 30.0}}, vec![1, 2]),
            (doc! {"age": {"$gt": "a"}}, vec![3]),
            (doc! {"age": {"$gt": 20, "$lt": 35}}, vec![1, 2]),
            (doc! {"name": {"$in": ["ann", "dee", "zed"]}}, vec![1, 4]),
            (doc! {"tags": {"$in": ["a"]}}, vec![1]),
            (doc! {"name": {"$nin": ["ann", "dee"]}}, vec![2, 3]),
            (doc! {"items.q": 5}, vec![3]),
            (doc! {"items.q": {"$gt": 2}}, vec![3]),
            (doc! {"$or": [{"name": "ann"}, {"age": 40}]}, vec![1, 4]),
            (doc! {"$and": [{"tags": "b"}, {"age": {"$gte": 30}}]}, vec![1]),
            (doc! {"name": "ann", "age": 31}, vec![]),
            (doc! {"_id": {"$in": [2, 3]}, "$or": [{"name": "cy"}]}, vec![3]),
        ];
        for (filter, want) in table {
            assert_eq!(ids(filter.clone()), want, "filter {filter}");
        }
    }

    #[test]
    fn unsupported_operators_are_named() {
        let table = vec![
            (doc! {"a": {"$regex": "x"}}, "$regex"),
            (doc! {"$nor": [{"a": 1}]}, "$nor"),
            (doc! {"a": {"$elemMatch": {"b": 1}}}, "$elemMatch"),
            (doc! {"$where": "1"}, "$where"),
        ];
        for (filter, op) in table {
            assert_eq!(Filter::parse(&filter), Err(QueryError::Unsupported(op.to_string())));
        }
        assert!(matches!(Filter::parse(&doc! {"$or": 1}), Err(QueryError::BadValue(_))));
        assert!(matches!(Filter::parse(&doc! {"a": {"$in": 1}}), Err(QueryError::BadValue(_))));
    }

    #[test]
    fn equalities_for_upsert() {
        let oid = ObjectId::new();
        let f = Filter::parse(&doc! {"$and": [{"userID": "u1"}, {"a": {"$eq": 2}, "b": {"$gt": 1}}], "_id": oid})
            .expect("parse");
        let eq: Vec<(&str, Bson)> = f.equalities().into_iter().map(|(k, v)| (k, v.clone())).collect();
        assert_eq!(eq, vec![("userID", Bson::from("u1")), ("a", Bson::Int32(2)), ("_id", Bson::ObjectId(oid))]);
    }
}
