//! Query filters: parsed into an AST once, then matched against documents.

use super::expr::Expr;
use super::path::lookup;
use super::value::{as_f64, compare_values, type_alias, type_code_alias, type_rank, values_equal};
use super::QueryError;
use bson::{Bson, Document};
use regex::Regex;
use std::cmp::Ordering;
use std::ops::Bound;

/// A parsed query filter.
#[derive(Debug, Clone)]
pub enum Filter {
    /// All must match (also the implicit top level).
    And(Vec<Filter>),
    /// At least one must match.
    Or(Vec<Filter>),
    /// None may match.
    Nor(Vec<Filter>),
    /// Conditions on one (dotted) field path; all must hold.
    Field(String, Vec<Cond>),
    /// An aggregation expression that must be truthy.
    Expr(Expr),
}

/// Index bounds for one path, within one BSON type class (`rank`).
#[derive(Debug, Clone, Copy)]
pub struct IndexBounds<'a> {
    /// The field path.
    pub path: &'a str,
    /// Lower bound.
    pub lower: Bound<&'a Bson>,
    /// Upper bound.
    pub upper: Bound<&'a Bson>,
    /// Type class of the bounds; keys of other classes never match.
    pub rank: Option<u8>,
}

/// One condition on a field.
#[derive(Debug, Clone)]
pub enum Cond {
    Eq(Bson),
    Ne(Bson),
    Gt(Bson),
    Gte(Bson),
    Lt(Bson),
    Lte(Bson),
    In(Vec<InItem>),
    Nin(Vec<InItem>),
    Exists(bool),
    Type(Vec<String>),
    Regex(Regex),
    Mod(i64, i64),
    All(Vec<Bson>),
    /// `$elemMatch` with a query on element documents, or with operators on element values.
    ElemMatch(Box<ElemMatch>),
    Size(i64),
    Not(Vec<Cond>),
}

/// An `$in`/`$nin` list entry: a value, or a regex matching strings.
#[derive(Debug, Clone)]
pub enum InItem {
    Value(Bson),
    Regex(Regex),
}

/// The two forms of `$elemMatch`.
#[derive(Debug, Clone)]
pub enum ElemMatch {
    Query(Filter),
    Conds(Vec<Cond>),
}

impl PartialEq for Filter {
    fn eq(&self, other: &Filter) -> bool {
        format!("{self:?}") == format!("{other:?}")
    }
}

impl Filter {
    /// Parses a MongoDB filter document; unsupported operators are an error naming them.
    pub fn parse(filter: &Document) -> Result<Filter, QueryError> {
        let mut parts = Vec::with_capacity(filter.len());
        for (key, value) in filter {
            parts.push(match key.as_str() {
                "$and" => Filter::And(parse_list("$and", value)?),
                "$or" => Filter::Or(parse_list("$or", value)?),
                "$nor" => Filter::Nor(parse_list("$nor", value)?),
                "$expr" => Filter::Expr(Expr::parse(value)?),
                "$comment" => continue,
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
            Filter::Nor(fs) => !fs.iter().any(|f| f.matches(doc)),
            Filter::Field(path, conds) => {
                let values = lookup(doc, path);
                conds.iter().all(|c| c.holds(&values))
            }
            Filter::Expr(e) => e.eval(doc).map(|v| super::value::truthy(&v)).unwrap_or(false),
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
            Filter::Field(path, conds) => {
                for c in conds {
                    if let Cond::Eq(v) = c {
                        out.push((path.as_str(), v));
                    }
                }
            }
            _ => {}
        }
    }

    /// Whether some condition is on `path` or below it (positional `$` needs one).
    fn mentions(&self, path: &str) -> bool {
        match self {
            Filter::And(fs) | Filter::Or(fs) | Filter::Nor(fs) => fs.iter().any(|f| f.mentions(path)),
            Filter::Field(p, _) => p == path || p.strip_prefix(path).is_some_and(|rest| rest.starts_with('.')),
            Filter::Expr(_) => false,
        }
    }

    /// Top-level equality/range conditions usable with an index: (path, lower, upper, type rank).
    /// Candidates must still be matched against the whole filter.
    pub fn index_bounds(&self) -> Vec<IndexBounds<'_>> {
        let mut out = Vec::new();
        for (path, conds) in self.top_fields() {
            let mut b = IndexBounds { path, lower: Bound::Unbounded, upper: Bound::Unbounded, rank: None };
            let mut usable = true;
            for c in conds {
                let (v, lower, upper) = match c {
                    Cond::Eq(v) => (v, Some(Bound::Included(v)), Some(Bound::Included(v))),
                    Cond::Gt(v) => (v, Some(Bound::Excluded(v)), None),
                    Cond::Gte(v) => (v, Some(Bound::Included(v)), None),
                    Cond::Lt(v) => (v, None, Some(Bound::Excluded(v))),
                    Cond::Lte(v) => (v, None, Some(Bound::Included(v))),
                    _ => continue,
                };
                if unlistable(v) {
                    usable = false;
                    break;
                }
                if b.rank.is_some_and(|r| r != type_rank(v)) {
                    usable = false;
                    break;
                }
                b.rank = Some(type_rank(v));
                if let Some(l) = lower {
                    b.lower = l;
                }
                if let Some(u) = upper {
                    b.upper = u;
                }
            }
            if usable && b.rank.is_some() {
                out.push(b);
            }
        }
        out
    }

    /// The field conditions at the top (the filter's own, or its `$and`'s fields): what an index
    /// lookup can serve, all of them having to hold.
    fn top_fields(&self) -> impl Iterator<Item = (&str, &[Cond])> {
        let fields: &[Filter] = match self {
            Filter::And(fs) => fs,
            f => std::slice::from_ref(f),
        };
        fields.iter().filter_map(|f| match f {
            Filter::Field(path, conds) => Some((path.as_str(), conds.as_slice())),
            _ => None,
        })
    }

    /// `$in` lists of plain values on top-level paths (`{path: {$in: [...]}}`, alone or among the
    /// fields of an `$and`): each value can be looked up as an equality. A list with a regex or a
    /// value an index cannot list is left out. (An empty list matches nothing, and yields no lookups.)
    pub fn in_lists(&self) -> Vec<(&str, Vec<&Bson>)> {
        let mut out = Vec::new();
        for (path, conds) in self.top_fields() {
            for c in conds {
                let Cond::In(items) = c else { continue };
                let values: Option<Vec<&Bson>> = items
                    .iter()
                    .map(|item| match item {
                        InItem::Value(v) if !unlistable(v) => Some(v),
                        _ => None,
                    })
                    .collect();
                if let Some(values) = values {
                    out.push((path, values));
                }
            }
        }
        out
    }

    /// The value an `_id` equality pins this filter to, if any (lets the store use its `_id` index).
    pub fn id_equality(&self) -> Option<&Bson> {
        self.equalities().into_iter().find(|(p, _)| *p == "_id").map(|(_, v)| v)
    }
}

/// Whole-array/document/null/bound values match in ways an element index cannot list.
fn unlistable(v: &Bson) -> bool {
    matches!(v, Bson::Array(_) | Bson::Document(_) | Bson::Null | Bson::Undefined | Bson::MinKey | Bson::MaxKey)
}

/// The first element of the array at `prefix` that the query matches on its own (positional `$`).
pub(crate) fn positional_index(root: &Document, prefix: &str, items: &[Bson], query: Option<&Filter>) -> Option<usize> {
    let query = query.filter(|q| q.mentions(prefix))?;
    (0..items.len()).find(|i| {
        let mut probe = root.clone();
        super::path::set_path(&mut probe, prefix, Bson::Array(vec![items[*i].clone()])).is_ok() && query.matches(&probe)
    })
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

/// Builds a regex from a pattern and MongoDB options (`i m s x`).
pub(crate) fn build_regex(pattern: &str, options: &str) -> Result<Regex, QueryError> {
    let mut flags = String::new();
    for c in options.chars() {
        match c {
            'i' | 'm' | 's' | 'x' => flags.push(c),
            'u' => {}
            other => return Err(QueryError::BadValue(format!("invalid flag in regex options: {other}"))),
        }
    }
    let full = if flags.is_empty() { pattern.to_string() } else { format!("(?{flags}){pattern}") };
    Regex::new(&full).map_err(|e| QueryError::BadValue(format!("invalid regular expression: {e}")))
}

fn is_operator_doc(value: &Bson) -> Option<&Document> {
    match value {
        Bson::Document(d) if d.keys().next().is_some_and(|k| k.starts_with('$')) => Some(d),
        _ => None,
    }
}

pub(crate) fn parse_conds(value: &Bson) -> Result<Vec<Cond>, QueryError> {
    let Some(ops) = is_operator_doc(value) else {
        return Ok(vec![match value {
            Bson::RegularExpression(r) => Cond::Regex(build_regex(&r.pattern, &r.options)?),
            other => Cond::Eq(other.clone()),
        }]);
    };
    let mut conds = Vec::with_capacity(ops.len());
    let options = match ops.get("$options") {
        None => None,
        Some(Bson::String(s)) => Some(s.as_str()),
        Some(_) => return Err(QueryError::BadValue("$options has to be a string".into())),
    };
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
                let items = items
                    .iter()
                    .map(|i| match i {
                        Bson::RegularExpression(r) => Ok(InItem::Regex(build_regex(&r.pattern, &r.options)?)),
                        v if is_operator_doc(v).is_some() => {
                            Err(QueryError::BadValue(format!("cannot nest $ under {op}")))
                        }
                        v => Ok(InItem::Value(v.clone())),
                    })
                    .collect::<Result<Vec<_>, _>>()?;
                if op == "$in" {
                    Cond::In(items)
                } else {
                    Cond::Nin(items)
                }
            }
            "$exists" => Cond::Exists(super::value::truthy(arg)),
            "$type" => Cond::Type(parse_types(arg)?),
            "$regex" => match arg {
                Bson::String(p) => Cond::Regex(build_regex(p, options.unwrap_or(""))?),
                Bson::RegularExpression(r) => {
                    Cond::Regex(build_regex(&r.pattern, options.unwrap_or(&r.options))?)
                }
                _ => return Err(QueryError::BadValue("$regex has to be a string".into())),
            },
            "$options" => {
                if !ops.contains_key("$regex") {
                    return Err(QueryError::BadValue("$options needs a $regex".into()));
                }
                continue;
            }
            "$mod" => {
                let parts: Option<Vec<i64>> = match arg {
                    Bson::Array(a) if a.len() == 2 => a.iter().map(|v| as_f64(v).map(|f| f.trunc() as i64)).collect(),
                    _ => None,
                };
                match parts.as_deref() {
                    Some([0, _]) => return Err(QueryError::BadValue("divisor cannot be 0".into())),
                    Some([d, r]) => Cond::Mod(*d, *r),
                    _ => {
                        return Err(QueryError::BadValue(
                            "malformed mod, needs to be an array of two numbers".into(),
                        ))
                    }
                }
            }
            "$all" => match arg {
                Bson::Array(a) => {
                    if a.iter().any(|v| is_operator_doc(v).is_some()) {
                        return Err(QueryError::Unsupported("$all with $elemMatch".into()));
                    }
                    Cond::All(a.clone())
                }
                _ => return Err(QueryError::BadValue("$all needs an array".into())),
            },
            "$elemMatch" => {
                let Bson::Document(d) = arg else {
                    return Err(QueryError::BadValue("$elemMatch needs an Object".into()));
                };
                let value_form = d
                    .keys()
                    .next()
                    .is_some_and(|k| k.starts_with('$') && !matches!(k.as_str(), "$and" | "$or" | "$nor" | "$expr"));
                Cond::ElemMatch(Box::new(if value_form {
                    ElemMatch::Conds(parse_conds(arg)?)
                } else {
                    ElemMatch::Query(Filter::parse(d)?)
                }))
            }
            "$size" => match super::value::as_i64(arg) {
                Some(n) if n >= 0 => Cond::Size(n),
                _ => return Err(QueryError::BadValue("$size needs a non-negative integer".into())),
            },
            "$not" => match arg {
                Bson::Document(d) if is_operator_doc(arg).is_some() => Cond::Not(parse_conds(&Bson::Document(d.clone()))?),
                Bson::RegularExpression(r) => Cond::Not(vec![Cond::Regex(build_regex(&r.pattern, &r.options)?)]),
                _ => return Err(QueryError::BadValue("$not needs a regex or a document".into())),
            },
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

fn parse_types(arg: &Bson) -> Result<Vec<String>, QueryError> {
    let one = |v: &Bson| -> Result<String, QueryError> {
        match v {
            Bson::String(s) if s == "number" || type_code_alias_known(s) => Ok(s.clone()),
            v => match super::value::as_i64(v).and_then(type_code_alias) {
                Some(a) => Ok(a.to_string()),
                None => Err(QueryError::BadValue(format!("unknown type name alias: {v}"))),
            },
        }
    };
    match arg {
        Bson::Array(a) => a.iter().map(one).collect(),
        v => Ok(vec![one(v)?]),
    }
}

fn type_code_alias_known(s: &str) -> bool {
    (-1..=127).filter_map(type_code_alias).any(|a| a == s)
}

fn regex_hits(re: &Regex, v: &Bson) -> bool {
    match v {
        Bson::String(s) | Bson::Symbol(s) => re.is_match(s),
        Bson::RegularExpression(r) => re.as_str().ends_with(&r.pattern),
        _ => false,
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
    if *want == Bson::Null && (values.is_empty() || values.iter().any(|v| **v == Bson::Undefined)) {
        return true; // null matches a missing field
    }
    values.iter().any(|v| eq_one(v, want))
}

/// A predicate over one value or, for arrays, any of its elements.
fn any_elem(values: &[&Bson], check: impl Fn(&Bson) -> bool) -> bool {
    values.iter().any(|v| check(v) || matches!(v, Bson::Array(items) if items.iter().any(&check)))
}

/// Ordered comparison with type bracketing: only values of the same type class compare.
fn cmp_any(values: &[&Bson], want: &Bson, ok: fn(Ordering) -> bool) -> bool {
    if matches!(want, Bson::MinKey | Bson::MaxKey) {
        let bound = if matches!(want, Bson::MinKey) { Ordering::Greater } else { Ordering::Less };
        return !values.is_empty() && ok(bound);
    }
    any_elem(values, |v| type_rank(v) == type_rank(want) && ok(compare_values(v, want)))
        || (*want == Bson::Null && values.is_empty() && ok(Ordering::Equal))
}

fn in_any(values: &[&Bson], items: &[InItem]) -> bool {
    items.iter().any(|item| match item {
        InItem::Value(v) => eq_any(values, v),
        InItem::Regex(re) => any_elem(values, |v| regex_hits(re, v)),
    })
}

impl Cond {
    pub(crate) fn holds(&self, values: &[&Bson]) -> bool {
        match self {
            Cond::Eq(v) => eq_any(values, v),
            Cond::Ne(v) => !eq_any(values, v),
            Cond::Gt(v) => cmp_any(values, v, |o| o == Ordering::Greater),
            Cond::Gte(v) => cmp_any(values, v, |o| o != Ordering::Less),
            Cond::Lt(v) => cmp_any(values, v, |o| o == Ordering::Less),
            Cond::Lte(v) => cmp_any(values, v, |o| o != Ordering::Greater),
            Cond::In(items) => in_any(values, items),
            Cond::Nin(items) => !in_any(values, items),
            Cond::Exists(want) => values.is_empty() != *want,
            Cond::Type(types) => types.iter().any(|t| {
                let is = |v: &Bson| {
                    if t == "number" {
                        type_rank(v) == 2
                    } else {
                        type_alias(v) == t
                    }
                };
                if t == "array" {
                    values.iter().any(|v| matches!(v, Bson::Array(_)))
                } else {
                    any_elem(values, is)
                }
            }),
            Cond::Regex(re) => any_elem(values, |v| regex_hits(re, v)),
            Cond::Mod(d, r) => any_elem(values, |v| {
                as_f64(v).is_some_and(|f| f.is_finite() && (f.trunc() as i64).wrapping_rem(*d) == *r)
            }),
            Cond::All(items) => !items.is_empty() && items.iter().all(|want| eq_any(values, want)),
            Cond::ElemMatch(em) => values.iter().any(|v| match v {
                Bson::Array(items) => items.iter().any(|item| match (&**em, item) {
                    (ElemMatch::Query(f), Bson::Document(d)) => f.matches(d),
                    (ElemMatch::Query(_), _) => false,
                    (ElemMatch::Conds(cs), item) => cs.iter().all(|c| c.holds_scalar(item)),
                }),
                _ => false,
            }),
            Cond::Size(n) => values.iter().any(|v| matches!(v, Bson::Array(a) if a.len() as i64 == *n)),
            Cond::Not(cs) => !cs.iter().all(|c| c.holds(values)),
        }
    }

    /// Holds for exactly this value (no fan-out into arrays): used for `$elemMatch` on values.
    pub(crate) fn holds_scalar(&self, value: &Bson) -> bool {
        match (self, value) {
            (Cond::Eq(want), v) => values_equal(v, want),
            (Cond::Ne(want), v) => !values_equal(v, want),
            (_, Bson::Array(_)) if !matches!(self, Cond::Size(_) | Cond::ElemMatch(_) | Cond::All(_) | Cond::Type(_) | Cond::Exists(_) | Cond::Not(_)) => {
                // Comparisons against a nested array compare the array as a whole.
                let wrapped = Bson::Array(vec![value.clone()]);
                self.holds(&[&wrapped])
            }
            _ => self.holds(&[value]),
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
            (doc! {"addr.city": "Oslo"}, vec![1]),
            (doc! {"tags": "b"}, vec![1, 2]),
            (doc! {"nick": null}, vec![1, 2, 3, 4]),
            (doc! {"age": {"$gt": "a"}}, vec![3]),
            (doc! {"items.q": {"$gt": 2}}, vec![3]),
            (doc! {"$nor": [{"name": "ann"}, {"age": 40}]}, vec![2, 3]),
            (doc! {"name": {"$regex": "^[ab]"}}, vec![1, 2]),
            (doc! {"name": {"$regex": "^A", "$options": "i"}}, vec![1]),
            (doc! {"age": {"$type": "number"}}, vec![1, 2, 4]),
            (doc! {"age": {"$type": "long"}}, vec![4]),
            (doc! {"age": {"$not": {"$gt": 26}}}, vec![2, 3]),
            (doc! {"items": {"$elemMatch": {"q": {"$gte": 5}}}}, vec![3]),
            (doc! {"tags": {"$size": 2}}, vec![1]),
            (doc! {"tags": {"$all": ["b", "a"]}}, vec![1]),
            (doc! {"age": {"$mod": [10, 0]}}, vec![1, 4]),
            (doc! {"$expr": {"$gt": ["$age", 28]}}, vec![1, 3, 4]),
        ];
        for (filter, want) in table {
            assert_eq!(ids(filter.clone()), want, "filter {filter}");
        }
    }

    #[test]
    fn unsupported_operators_are_named() {
        let table = vec![(doc! {"a": {"$near": [1, 2]}}, "$near"), (doc! {"$where": "1"}, "$where"), (doc! {"$text": {}}, "$text")];
        for (filter, op) in table {
            assert_eq!(Filter::parse(&filter).err(), Some(QueryError::Unsupported(op.to_string())));
        }
        assert!(matches!(Filter::parse(&doc! {"$or": 1}), Err(QueryError::BadValue(_))));
        assert!(matches!(Filter::parse(&doc! {"a": {"$in": 1}}), Err(QueryError::BadValue(_))));
        assert!(matches!(Filter::parse(&doc! {"a": {"$regex": "("}}), Err(QueryError::BadValue(_))));
    }

    #[test]
    fn equalities_for_upsert() {
        let oid = ObjectId::new();
        let f = Filter::parse(&doc! {"$and": [{"userID": "u1"}, {"a": {"$eq": 2}, "b": {"$gt": 1}}], "_id": oid})
            .expect("parse");
        let eq: Vec<(&str, Bson)> = f.equalities().into_iter().map(|(k, v)| (k, v.clone())).collect();
        assert_eq!(eq, vec![("userID", Bson::from("u1")), ("a", Bson::Int32(2)), ("_id", Bson::ObjectId(oid))]);
        assert_eq!(f.id_equality(), Some(&Bson::ObjectId(oid)));
    }
}
