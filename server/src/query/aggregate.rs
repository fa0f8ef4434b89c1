//! Aggregation pipelines: stages parsed up front, run over in-memory documents.

use super::expr::{sum_values, Expr};
use super::filter::Filter;
use super::budget::{Budget, Meter};
use super::path::{get_exact, set_path, set_path_padding};
use super::size::{doc_bytes, value_bytes};
use super::project::{Projection, SortSpec};
use super::value::{as_f64, as_i64, compare_values, type_rank, values_equal};
use super::QueryError;
use bson::{Bson, Document};
use rand::seq::SliceRandom;
use std::collections::HashMap;

/// A parsed pipeline.
#[derive(Debug, Clone)]
pub struct Pipeline(pub Vec<Stage>);

/// One pipeline stage.
#[derive(Debug, Clone)]
pub enum Stage {
    Match(Filter),
    /// Inclusion/exclusion part and computed fields.
    Project(Projection, Vec<(String, Expr)>),
    AddFields(Vec<(String, Expr)>),
    Group(Expr, Vec<(String, Accumulator)>),
    Sort(SortSpec),
    Limit(usize),
    Skip(usize),
    Count(String),
    Unwind { path: String, index_field: Option<String>, preserve: bool },
    /// `$lookup` by equality: the foreign collection is fetched (through the rules) by the caller.
    Lookup { from: String, local: String, foreign: String, as_field: String },
    ReplaceRoot(Expr),
    SortByCount(Expr),
    Facet(Vec<(String, Pipeline)>),
    Sample(usize),
}

/// A `$group` accumulator.
#[derive(Debug, Clone)]
pub struct Accumulator {
    op: String,
    expr: Expr,
}

fn stage_doc<'a>(name: &str, v: &'a Bson) -> Result<&'a Document, QueryError> {
    match v {
        Bson::Document(d) => Ok(d),
        _ => Err(QueryError::BadValue(format!("the {name} stage specification must be an object"))),
    }
}

fn count_arg(name: &str, v: &Bson) -> Result<usize, QueryError> {
    match as_i64(v) {
        Some(n) if n >= 0 => Ok(n as usize),
        _ => Err(QueryError::BadValue(format!("invalid argument to {name} stage: {v}"))),
    }
}

fn fields(d: &Document) -> Result<Vec<(String, Expr)>, QueryError> {
    d.iter().map(|(k, v)| Ok((k.clone(), Expr::parse(v)?))).collect()
}

fn string_arg(stage: &str, d: &Document, key: &str) -> Result<String, QueryError> {
    match d.get(key) {
        Some(Bson::String(s)) => Ok(s.clone()),
        _ => Err(QueryError::BadValue(format!("{stage} requires string '{key}'"))),
    }
}

fn is_projection_operator(sub: &Document) -> bool {
    match sub.iter().next() {
        Some((k, _)) if k == "$elemMatch" => true,
        Some((k, Bson::Array(a))) if k == "$slice" => a.len() == 2 && a.iter().all(|v| as_i64(v).is_some()),
        Some((k, v)) if k == "$slice" => as_i64(v).is_some(),
        _ => false,
    }
}

fn parse_project(d: &Document) -> Result<Stage, QueryError> {
    let mut flags = Document::new();
    let mut computed = Vec::new();
    for (k, v) in d {
        match v {
            Bson::Boolean(_) | Bson::Int32(_) | Bson::Int64(_) | Bson::Double(_) => {
                flags.insert(k.clone(), v.clone());
            }
            // `$slice: n | [skip, n]` and `$elemMatch` are projection operators; `$slice: [expr, …]` is an expression.
            Bson::Document(sub) if is_projection_operator(sub) => {
                flags.insert(k.clone(), v.clone());
            }
            other => computed.push((k.clone(), Expr::parse(other)?)),
        }
    }
    if !computed.is_empty() {
        if flags.iter().any(|(k, v)| k != "_id" && !super::value::truthy(v)) {
            return Err(QueryError::BadValue("Invalid $project :: caused by :: Cannot use expression in exclusion projection".into()));
        }
        // Computed fields make it an inclusion projection; keep `_id` unless excluded.
        if flags.iter().all(|(k, _)| k == "_id") {
            let keep_id = flags.get("_id").is_none_or(super::value::truthy);
            return Ok(Stage::Project(Projection::only_id(keep_id), computed));
        }
    }
    Ok(Stage::Project(Projection::parse(&flags)?, computed))
}

impl Stage {
    /// The stage's name, for errors.
    fn name(&self) -> &'static str {
        match self {
            Stage::Match(_) => "$match",
            Stage::Project(..) => "$project",
            Stage::AddFields(_) => "$addFields",
            Stage::Group(..) => "$group",
            Stage::Sort(_) => "$sort",
            Stage::Limit(_) => "$limit",
            Stage::Skip(_) => "$skip",
            Stage::Count(_) => "$count",
            Stage::Unwind { .. } => "$unwind",
            Stage::Lookup { .. } => "$lookup",
            Stage::ReplaceRoot(_) => "$replaceRoot",
            Stage::SortByCount(_) => "$sortByCount",
            Stage::Facet(_) => "$facet",
            Stage::Sample(_) => "$sample",
        }
    }
}

impl Pipeline {
    /// Parses a pipeline (array of one-key stage documents).
    pub fn parse(stages: &[Bson]) -> Result<Pipeline, QueryError> {
        let mut out = Vec::with_capacity(stages.len());
        for s in stages {
            let Bson::Document(d) = s else {
                return Err(QueryError::BadValue("each pipeline stage must be an object".into()));
            };
            if d.len() != 1 {
                return Err(QueryError::BadValue("A pipeline stage specification object must contain exactly one field.".into()));
            }
            let (name, v) = d.iter().next().ok_or_else(|| QueryError::BadValue("empty stage".into()))?;
            out.push(match name.as_str() {
                "$match" => Stage::Match(Filter::parse(stage_doc(name, v)?)?),
                "$project" => parse_project(stage_doc(name, v)?)?,
                "$addFields" | "$set" => Stage::AddFields(fields(stage_doc(name, v)?)?),
                "$unset" => {
                    let names: Vec<String> = match v {
                        Bson::String(s) => vec![s.clone()],
                        Bson::Array(a) => a
                            .iter()
                            .map(|x| x.as_str().map(str::to_string))
                            .collect::<Option<_>>()
                            .ok_or_else(|| QueryError::BadValue("$unset specification must be a string or an array of strings".into()))?,
                        _ => return Err(QueryError::BadValue("$unset specification must be a string or an array of strings".into())),
                    };
                    let spec: Document = names.into_iter().map(|n| (n, Bson::Int32(0))).collect();
                    Stage::Project(Projection::parse(&spec)?, Vec::new())
                }
                "$group" => {
                    let d = stage_doc(name, v)?;
                    let id = Expr::parse(d.get("_id").ok_or_else(|| QueryError::BadValue("a group specification must include an _id".into()))?)?;
                    let mut accs = Vec::new();
                    for (k, spec) in d.iter().filter(|(k, _)| *k != "_id") {
                        let Bson::Document(a) = spec else {
                            return Err(QueryError::BadValue(format!("The field '{k}' must be an accumulator object")));
                        };
                        let (op, arg) = a.iter().next().ok_or_else(|| QueryError::BadValue(format!("The field '{k}' must be an accumulator object")))?;
                        if !matches!(op.as_str(), "$sum" | "$avg" | "$min" | "$max" | "$first" | "$last" | "$push" | "$addToSet" | "$count") {
                            return Err(QueryError::Unsupported(op.clone()));
                        }
                        accs.push((k.clone(), Accumulator { op: op.clone(), expr: Expr::parse(arg)? }));
                    }
                    Stage::Group(id, accs)
                }
                "$sort" => Stage::Sort(SortSpec::parse(stage_doc(name, v)?)?),
                "$limit" => Stage::Limit(count_arg(name, v)?),
                "$skip" => Stage::Skip(count_arg(name, v)?),
                "$sample" => Stage::Sample(count_arg(name, stage_doc(name, v)?.get("size").unwrap_or(&Bson::Null))?),
                "$count" => match v {
                    Bson::String(s) if !s.is_empty() && !s.starts_with('$') && !s.contains('.') => Stage::Count(s.clone()),
                    _ => return Err(QueryError::BadValue("the count field must be a non-empty string without '$' or '.'".into())),
                },
                "$unwind" => match v {
                    Bson::String(p) => Stage::Unwind { path: unwind_path(p)?, index_field: None, preserve: false },
                    Bson::Document(d) => Stage::Unwind {
                        path: unwind_path(&string_arg(name, d, "path")?)?,
                        index_field: d.get_str("includeArrayIndex").ok().map(str::to_string),
                        preserve: d.get_bool("preserveNullAndEmptyArrays").unwrap_or(false),
                    },
                    _ => return Err(QueryError::BadValue("$unwind needs a path".into())),
                },
                "$lookup" => {
                    let d = stage_doc(name, v)?;
                    if d.contains_key("pipeline") || d.contains_key("let") {
                        return Err(QueryError::Unsupported("$lookup with pipeline".into()));
                    }
                    Stage::Lookup {
                        from: string_arg(name, d, "from")?,
                        local: string_arg(name, d, "localField")?,
                        foreign: string_arg(name, d, "foreignField")?,
                        as_field: string_arg(name, d, "as")?,
                    }
                }
                "$replaceRoot" => Stage::ReplaceRoot(Expr::parse(
                    stage_doc(name, v)?.get("newRoot").ok_or_else(|| QueryError::BadValue("no newRoot specified for the $replaceRoot stage".into()))?,
                )?),
                "$replaceWith" => Stage::ReplaceRoot(Expr::parse(v)?),
                "$sortByCount" => Stage::SortByCount(Expr::parse(v)?),
                "$facet" => Stage::Facet(
                    stage_doc(name, v)?
                        .iter()
                        .map(|(k, p)| match p {
                            Bson::Array(a) => Ok((k.clone(), Pipeline::parse(a)?)),
                            _ => Err(QueryError::BadValue(format!("$facet '{k}' must be an array of stages"))),
                        })
                        .collect::<Result<_, _>>()?,
                ),
                other => return Err(QueryError::Unsupported(other.to_string())),
            });
        }
        Ok(Pipeline(out))
    }

    /// Namespaces (collections of the same database) that `$lookup` stages read, including in `$facet`.
    pub fn foreign_collections(&self) -> Vec<String> {
        let mut out = Vec::new();
        for s in &self.0 {
            match s {
                Stage::Lookup { from, .. } if !out.contains(from) => out.push(from.clone()),
                Stage::Facet(fs) => fs.iter().flat_map(|(_, p)| p.foreign_collections()).for_each(|c| {
                    if !out.contains(&c) {
                        out.push(c)
                    }
                }),
                _ => {}
            }
        }
        out
    }

    /// Runs the pipeline; `foreign` holds the (already rule-filtered) documents of `$lookup` sources.
    pub fn run(&self, mut docs: Vec<Document>, foreign: &HashMap<String, Vec<Document>>, budget: &Budget) -> Result<Vec<Document>, QueryError> {
        // What the previous producing stage built, given back once the next one has consumed it.
        let mut held = 0;
        for stage in &self.0 {
            let meter = budget.meter(stage.name());
            docs = run_stage(stage, docs, foreign, &meter, budget)?;
            if meter.total() > 0 {
                budget.release(held);
                held = meter.total();
            }
        }
        Ok(docs)
    }

    /// The filter of a leading `$match`, and the pipeline after it: the caller can read only the
    /// matching documents (through an index) instead of the whole collection.
    pub fn split_leading_match(mut self) -> (Option<Filter>, Pipeline) {
        match self.0.first() {
            Some(Stage::Match(_)) => match self.0.remove(0) {
                Stage::Match(f) => (Some(f), self),
                _ => (None, self),
            },
            _ => (None, self),
        }
    }
}

fn unwind_path(p: &str) -> Result<String, QueryError> {
    p.strip_prefix('$')
        .filter(|s| !s.is_empty())
        .map(str::to_string)
        .ok_or_else(|| QueryError::BadValue("path option to $unwind stage should be prefixed with a '$'".into()))
}

fn set_computed(doc: &mut Document, fields: &[(String, Expr)], src: &Document) -> Result<(), QueryError> {
    for (k, e) in fields {
        match e.eval(src)? {
            Bson::Undefined => {
                super::path::unset_path(doc, k);
            }
            // A computed field never pads an array up to an index (`{"a.1000000": 1}`).
            v => set_path_padding(doc, k, v, &mut |_| Err(format!("computed field '{k}' would index past the end of an array")))
                .map_err(QueryError::BadValue)?,
        }
    }
    Ok(())
}

/// A group key made hashable: numbers compare by value, as in `$group`.
fn group_key(v: &Bson) -> String {
    fn norm(v: &Bson) -> Bson {
        match v {
            Bson::Undefined => Bson::Null,
            v if type_rank(v) == 2 => Bson::Double(as_f64(v).unwrap_or(f64::NAN)),
            Bson::Array(a) => Bson::Array(a.iter().map(norm).collect()),
            Bson::Document(d) => Bson::Document(d.iter().map(|(k, v)| (k.clone(), norm(v))).collect()),
            other => other.clone(),
        }
    }
    format!("{:?}", norm(v))
}

fn accumulate(acc: &Accumulator, values: &[Bson]) -> Bson {
    let present = || values.iter().filter(|v| !matches!(v, Bson::Undefined));
    match acc.op.as_str() {
        "$sum" => sum_values(values.iter()),
        "$count" => Bson::Int32(values.len() as i32),
        "$avg" => {
            let nums: Vec<f64> = values.iter().filter(|v| type_rank(v) == 2).filter_map(as_f64).collect();
            if nums.is_empty() {
                Bson::Null
            } else {
                Bson::Double(nums.iter().sum::<f64>() / nums.len() as f64)
            }
        }
        "$min" | "$max" => {
            let it = present().filter(|v| **v != Bson::Null);
            let pick = if acc.op == "$min" { it.min_by(|a, b| compare_values(a, b)) } else { it.max_by(|a, b| compare_values(a, b)) };
            pick.cloned().unwrap_or(Bson::Null)
        }
        "$first" => values.first().cloned().map(|v| if v == Bson::Undefined { Bson::Null } else { v }).unwrap_or(Bson::Null),
        "$last" => values.last().cloned().map(|v| if v == Bson::Undefined { Bson::Null } else { v }).unwrap_or(Bson::Null),
        "$push" => Bson::Array(present().cloned().collect()),
        _ => {
            let mut set: Vec<Bson> = Vec::new();
            for v in present() {
                if !set.iter().any(|x| values_equal(x, v)) {
                    set.push(v.clone());
                }
            }
            Bson::Array(set)
        }
    }
}

/// Runs one stage. Stages that build documents count what they build on `meter` as they go, so
/// a stage over its limit stops before it has allocated it.
fn run_stage(stage: &Stage, docs: Vec<Document>, foreign: &HashMap<String, Vec<Document>>, meter: &Meter, budget: &Budget) -> Result<Vec<Document>, QueryError> {
    let built = |d: Document| -> Result<Document, QueryError> {
        meter.add(doc_bytes(&d))?;
        Ok(d)
    };
    Ok(match stage {
        Stage::Match(f) => docs.into_iter().filter(|d| f.matches(d)).collect(),
        Stage::Project(p, computed) => docs
            .into_iter()
            .map(|d| {
                let mut out = p.apply(&d, None);
                set_computed(&mut out, computed, &d)?;
                built(out)
            })
            .collect::<Result<_, QueryError>>()?,
        Stage::AddFields(fs) => docs
            .into_iter()
            .map(|mut d| {
                let src = d.clone();
                set_computed(&mut d, fs, &src)?;
                built(d)
            })
            .collect::<Result<_, QueryError>>()?,
        Stage::Group(id, accs) => {
            let mut index: HashMap<String, usize> = HashMap::new();
            let mut groups: Vec<(Bson, Vec<Vec<Bson>>)> = Vec::new();
            for d in &docs {
                let key = match id.eval(d)? {
                    Bson::Undefined => Bson::Null,
                    k => k,
                };
                let slot = *index.entry(group_key(&key)).or_insert_with(|| {
                    groups.push((key, vec![Vec::new(); accs.len()]));
                    groups.len() - 1
                });
                for (i, (_, acc)) in accs.iter().enumerate() {
                    let v = if acc.op == "$count" { Bson::Int32(1) } else { acc.expr.eval(d)? };
                    meter.add(value_bytes(&v))?;
                    groups[slot].1[i].push(v);
                }
            }
            groups
                .into_iter()
                .map(|(key, values)| {
                    let mut out = Document::new();
                    out.insert("_id", key);
                    for ((name, acc), vals) in accs.iter().zip(values) {
                        out.insert(name.clone(), accumulate(acc, &vals));
                    }
                    out
                })
                .collect()
        }
        Stage::Sort(s) => {
            let mut keyed: Vec<(Vec<Bson>, Document)> = docs.into_iter().map(|d| (s.keys(&d), d)).collect();
            keyed.sort_by(|a, b| s.compare_keys(&a.0, &b.0));
            keyed.into_iter().map(|(_, d)| d).collect()
        }
        Stage::Limit(n) => docs.into_iter().take(*n).collect(),
        Stage::Skip(n) => docs.into_iter().skip(*n).collect(),
        Stage::Sample(n) => {
            let mut docs = docs;
            docs.shuffle(&mut rand::thread_rng());
            docs.truncate(*n);
            docs
        }
        Stage::Count(name) => {
            if docs.is_empty() {
                Vec::new()
            } else {
                let mut d = Document::new();
                d.insert(name.clone(), Bson::Int32(docs.len() as i32));
                vec![d]
            }
        }
        Stage::Unwind { path, index_field, preserve } => {
            let mut out = Vec::new();
            for d in docs {
                match get_exact(&d, path).cloned() {
                    Some(Bson::Array(items)) if !items.is_empty() => {
                        for (i, item) in items.into_iter().enumerate() {
                            let n = built(d.clone())?;
                            let mut n = n;
                            set_path(&mut n, path, item).map_err(QueryError::BadValue)?;
                            if let Some(f) = index_field {
                                set_path(&mut n, f, Bson::Int64(i as i64)).map_err(QueryError::BadValue)?;
                            }
                            out.push(n);
                        }
                    }
                    Some(Bson::Array(_)) | Some(Bson::Null) | None => {
                        if *preserve {
                            let mut n = d;
                            // An empty array leaves no field behind; null stays null.
                            if matches!(get_exact(&n, path), Some(Bson::Array(_))) {
                                super::path::unset_path(&mut n, path);
                            }
                            if let Some(f) = index_field {
                                set_path(&mut n, f, Bson::Null).map_err(QueryError::BadValue)?;
                            }
                            out.push(n);
                        }
                    }
                    Some(_) => {
                        let mut n = d;
                        if let Some(f) = index_field {
                            set_path(&mut n, f, Bson::Null).map_err(QueryError::BadValue)?;
                        }
                        out.push(n);
                    }
                }
            }
            out
        }
        Stage::Lookup { from, local, foreign: foreign_field, as_field } => {
            let empty = Vec::new();
            let others = foreign.get(from).unwrap_or(&empty);
            docs.into_iter()
                .map(|mut d| {
                    let locals: Vec<Bson> = match get_exact(&d, local).cloned() {
                        Some(Bson::Array(a)) => a,
                        Some(v) => vec![v],
                        None => vec![Bson::Null],
                    };
                    let cond = Filter::parse(&bson::doc! { foreign_field.as_str(): { "$in": locals } })?;
                    budget.check_time()?;
                    let hits = others
                        .iter()
                        .filter(|o| cond.matches(o))
                        .map(|o| {
                            meter.add(doc_bytes(o))?;
                            Ok(Bson::Document(o.clone()))
                        })
                        .collect::<Result<Vec<Bson>, QueryError>>()?;
                    set_path(&mut d, as_field, Bson::Array(hits)).map_err(QueryError::BadValue)?;
                    Ok(d)
                })
                .collect::<Result<_, QueryError>>()?
        }
        Stage::ReplaceRoot(e) => docs
            .into_iter()
            .map(|d| match e.eval(&d)? {
                Bson::Document(n) => built(n),
                other => Err(QueryError::BadValue(format!("'newRoot' expression must evaluate to an object, but resulting value was: {other}"))),
            })
            .collect::<Result<_, QueryError>>()?,
        Stage::SortByCount(e) => {
            let grouped = run_stage(
                &Stage::Group(e.clone(), vec![("count".into(), Accumulator { op: "$sum".into(), expr: Expr::Lit(Bson::Int32(1)) })]),
                docs,
                foreign,
                meter,
                budget,
            )?;
            let mut grouped = grouped;
            grouped.sort_by(|a, b| compare_values(b.get("count").unwrap_or(&Bson::Null), a.get("count").unwrap_or(&Bson::Null)));
            grouped
        }
        Stage::Facet(facets) => {
            let mut out = Document::new();
            for (name, p) in facets {
                for d in &docs {
                    meter.add(doc_bytes(d))?;
                }
                let r = p.run(docs.clone(), foreign, budget)?;
                out.insert(name.clone(), Bson::Array(r.into_iter().map(Bson::Document).collect()));
            }
            vec![out]
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::query::MemoryPool;
    use bson::{bson, doc};

    fn run(pipeline: Bson, docs: Vec<Document>) -> Result<Vec<Document>, QueryError> {
        let Bson::Array(stages) = pipeline else { panic!("pipeline must be an array") };
        let mut foreign = HashMap::new();
        foreign.insert("colors".to_string(), vec![doc! {"_id": 1, "name": "red"}, doc! {"_id": 2, "name": "blue"}]);
        let pool = MemoryPool::new(usize::MAX);
        let budget = Budget::new(&pool, usize::MAX);
        // A named binding: the pipeline's temporaries borrow `budget`, which the tail would drop first.
        #[allow(clippy::let_and_return)]
        let result = Pipeline::parse(&stages)?.run(docs, &foreign, &budget);
        result
    }

    fn sales() -> Vec<Document> {
        vec![
            doc! {"_id": 1, "item": "abc", "price": 10, "qty": 2, "tags": ["a", "b"], "color": 1},
            doc! {"_id": 2, "item": "jkl", "price": 20, "qty": 1, "tags": [], "color": 2},
            doc! {"_id": 3, "item": "abc", "price": 10, "qty": 5, "color": 3},
            doc! {"_id": 4, "item": "xyz", "price": 5.5, "qty": 10, "tags": ["c"]},
        ]
    }

    #[test]
    fn table_of_pipelines() {
        let table: Vec<(Bson, Vec<Document>)> = vec![
            (bson!([{"$match": {"item": "abc"}}, {"$project": {"_id": 0, "qty": 1}}]), vec![doc! {"qty": 2}, doc! {"qty": 5}]),
            (
                bson!([{"$group": {"_id": "$item", "total": {"$sum": {"$multiply": ["$price", "$qty"]}}, "n": {"$sum": 1}}}, {"$sort": {"_id": 1}}]),
                vec![doc! {"_id": "abc", "total": 70, "n": 2}, doc! {"_id": "jkl", "total": 20, "n": 1}, doc! {"_id": "xyz", "total": 55.0, "n": 1}],
            ),
            (bson!([{"$group": {"_id": null, "avg": {"$avg": "$qty"}, "mx": {"$max": "$price"}}}]), vec![doc! {"_id": null, "avg": 4.5, "mx": 20}]),
            (bson!([{"$unwind": "$tags"}, {"$project": {"_id": 1, "tags": 1}}]), vec![doc! {"_id": 1, "tags": "a"}, doc! {"_id": 1, "tags": "b"}, doc! {"_id": 4, "tags": "c"}]),
            (
                bson!([{"$unwind": {"path": "$tags", "preserveNullAndEmptyArrays": true, "includeArrayIndex": "i"}}, {"$match": {"_id": {"$in": [2, 3]}}}, {"$project": {"i": 1}}]),
                vec![doc! {"_id": 2, "i": null}, doc! {"_id": 3, "i": null}],
            ),
            (bson!([{"$count": "n"}]), vec![doc! {"n": 4}]),
            (bson!([{"$sort": {"qty": -1}}, {"$skip": 1}, {"$limit": 1}, {"$project": {"qty": 1, "_id": 0}}]), vec![doc! {"qty": 5}]),
            (bson!([{"$sortByCount": "$item"}, {"$limit": 1}]), vec![doc! {"_id": "abc", "count": 2}]),
            (
                bson!([{"$match": {"_id": 1}}, {"$lookup": {"from": "colors", "localField": "color", "foreignField": "_id", "as": "c"}}, {"$project": {"c.name": 1}}]),
                vec![doc! {"_id": 1, "c": [{"name": "red"}]}],
            ),
            (bson!([{"$match": {"_id": 2}}, {"$replaceRoot": {"newRoot": {"x": "$item"}}}]), vec![doc! {"x": "jkl"}]),
            (bson!([{"$match": {"_id": 2}}, {"$addFields": {"v": {"$add": ["$price", 1]}}}, {"$unset": ["tags", "color"]}]), vec![doc! {"_id": 2, "item": "jkl", "price": 20, "qty": 1, "v": 21}]),
            (bson!([{"$match": {"_id": 3}}, {"$project": {"item": 1, "cost": {"$multiply": ["$price", "$qty"]}}}]), vec![doc! {"_id": 3, "item": "abc", "cost": 50}]),
            (
                bson!([{"$facet": {"n": [{"$count": "c"}], "top": [{"$sort": {"price": -1}}, {"$limit": 1}, {"$project": {"_id": 1}}]}}]),
                vec![doc! {"n": [{"c": 4}], "top": [{"_id": 2}]}],
            ),
            (bson!([{"$group": {"_id": "$item", "q": {"$push": "$qty"}}}, {"$match": {"_id": "abc"}}]), vec![doc! {"_id": "abc", "q": [2, 5]}]),
            (bson!([{"$sample": {"size": 2}}, {"$count": "n"}]), vec![doc! {"n": 2}]),
        ];
        for (pipeline, want) in table {
            assert_eq!(run(pipeline.clone(), sales()).expect("run"), want, "pipeline {pipeline}");
        }
    }

    #[test]
    fn unsupported_stages_are_named() {
        assert_eq!(run(bson!([{"$out": "x"}]), vec![]).err(), Some(QueryError::Unsupported("$out".into())));
        assert_eq!(run(bson!([{"$group": {"_id": 1, "x": {"$stdDevPop": "$a"}}}]), vec![]).err(), Some(QueryError::Unsupported("$stdDevPop".into())));
        assert!(run(bson!([{"$limit": -1}]), vec![]).is_err());
    }
}
