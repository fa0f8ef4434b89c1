//! Update documents: operator updates and replacements, with positional paths and arrayFilters.

use super::filter::{parse_conds, positional_index, Cond, Filter};
use super::budget::Budget;
use super::path::{get_exact, set_path, set_path_padding, unset_path};
use super::project::SortSpec;
use super::value::{as_f64, as_i64, compare_values, type_alias, values_equal};
use super::QueryError;
use bson::{Bson, Document};
use std::cmp::Ordering;

/// A parsed update.
#[derive(Debug, Clone)]
pub enum Update {
    /// Operator update, applied in field order.
    Ops(Vec<Op>),
    /// Whole-document replacement (the `_id` is kept).
    Replace(Document),
}

/// One field-level update operation (the path may hold `$`, `$[]` or `$[id]`).
#[derive(Debug, Clone)]
pub struct Op {
    path: String,
    kind: Kind,
}

#[derive(Debug, Clone)]
enum Kind {
    Set(Bson),
    SetOnInsert(Bson),
    Unset,
    Inc(Bson),
    Mul(Bson),
    Min(Bson),
    Max(Bson),
    Rename(String),
    CurrentDate { timestamp: bool },
    Push(Push),
    AddToSet(Vec<Bson>),
    Pull(Pull),
    PullAll(Vec<Bson>),
    Pop { first: bool },
}

#[derive(Debug, Clone)]
struct Push {
    each: Vec<Bson>,
    position: Option<i64>,
    slice: Option<i64>,
    sort: Option<PushSort>,
}

#[derive(Debug, Clone)]
enum PushSort {
    Value(bool),
    Fields(SortSpec),
}

#[derive(Debug, Clone)]
enum Pull {
    Value(Bson),
    Conds(Vec<Cond>),
    Query(Filter),
}

/// What an update may use beyond the document: the query (for `$`), arrayFilters, insert mode.
#[derive(Default)]
pub struct UpdateCtx<'a> {
    /// The query that selected the document (positional `$`).
    pub query: Option<&'a Filter>,
    /// Parsed arrayFilters by identifier.
    pub array_filters: &'a [(String, Filter)],
    /// The update is building an upserted document (`$setOnInsert` applies).
    pub inserting: bool,
    /// The request's memory budget (array padding is charged to it); `None`: unlimited.
    pub budget: Option<&'a Budget<'a>>,
}

/// Parses the `arrayFilters` option: each entry names one identifier (`{"x.a": 1}` → `x`).
pub fn parse_array_filters(items: &[Bson]) -> Result<Vec<(String, Filter)>, QueryError> {
    let mut out: Vec<(String, Filter)> = Vec::new();
    for item in items {
        let Bson::Document(d) = item else {
            return Err(QueryError::BadValue("arrayFilters entries must be objects".into()));
        };
        let mut ident = None;
        for k in d.keys() {
            let id = k.split('.').next().unwrap_or_default().to_string();
            if ident.as_ref().is_some_and(|i| *i != id) {
                return Err(QueryError::BadValue(format!("Error parsing array filter: expected a single top-level field name, found '{}' and '{id}'", ident.unwrap_or_default())));
            }
            ident = Some(id);
        }
        let ident = ident.ok_or_else(|| QueryError::BadValue("Cannot use an expression without a top-level field name in arrayFilters".into()))?;
        if out.iter().any(|(i, _)| *i == ident) {
            return Err(QueryError::BadValue(format!("Found multiple array filters with the same top-level field name {ident}")));
        }
        out.push((ident, Filter::parse(d)?));
    }
    Ok(out)
}

fn numeric_arg(op: &str, path: &str, v: &Bson) -> Result<(), QueryError> {
    if as_f64(v).is_none() {
        let verb = if op == "$inc" { "increment" } else { "multiply" };
        return Err(QueryError::BadValue(format!("Cannot {verb} with non-numeric argument: {{{path}: {v}}}")));
    }
    Ok(())
}

fn parse_push(value: &Bson) -> Result<Push, QueryError> {
    let Bson::Document(d) = value else {
        return Ok(Push { each: vec![value.clone()], position: None, slice: None, sort: None });
    };
    if !d.contains_key("$each") {
        return Ok(Push { each: vec![value.clone()], position: None, slice: None, sort: None });
    }
    let mut push = Push { each: Vec::new(), position: None, slice: None, sort: None };
    for (k, v) in d {
        match (k.as_str(), v) {
            ("$each", Bson::Array(a)) => push.each = a.clone(),
            ("$each", _) => return Err(QueryError::BadValue("The argument to $each in $push must be an array".into())),
            ("$position", v) => push.position = Some(as_i64(v).ok_or_else(|| QueryError::BadValue("The value for $position must be an integer".into()))?),
            ("$slice", v) => push.slice = Some(as_i64(v).ok_or_else(|| QueryError::BadValue("The value for $slice must be an integer".into()))?),
            ("$sort", Bson::Document(spec)) => push.sort = Some(PushSort::Fields(SortSpec::parse(spec)?)),
            ("$sort", v) => push.sort = Some(PushSort::Value(match as_i64(v) {
                Some(1) => true,
                Some(-1) => false,
                _ => return Err(QueryError::BadValue("The $sort element value must be either 1 or -1".into())),
            })),
            (other, _) => return Err(QueryError::BadValue(format!("Unrecognized clause in $push: {other}"))),
        }
    }
    Ok(push)
}

fn parse_kind(op: &str, path: &str, value: &Bson) -> Result<Kind, QueryError> {
    Ok(match op {
        "$set" => Kind::Set(value.clone()),
        "$setOnInsert" => Kind::SetOnInsert(value.clone()),
        "$unset" => Kind::Unset,
        "$inc" | "$mul" => {
            numeric_arg(op, path, value)?;
            if op == "$inc" {
                Kind::Inc(value.clone())
            } else {
                Kind::Mul(value.clone())
            }
        }
        "$min" => Kind::Min(value.clone()),
        "$max" => Kind::Max(value.clone()),
        "$rename" => match value {
            Bson::String(to) if !to.is_empty() && to != path => Kind::Rename(to.clone()),
            Bson::String(_) => return Err(QueryError::BadValue(format!("The source and target field for $rename must differ: {path}"))),
            _ => return Err(QueryError::BadValue(format!("The 'to' field for $rename must be a string: {path}"))),
        },
        "$currentDate" => match value {
            Bson::Boolean(true) => Kind::CurrentDate { timestamp: false },
            Bson::Document(d) => match d.get_str("$type") {
                Ok("date") => Kind::CurrentDate { timestamp: false },
                Ok("timestamp") => Kind::CurrentDate { timestamp: true },
                _ => return Err(QueryError::BadValue("The '$type' string field is required to be 'date' or 'timestamp'".into())),
            },
            _ => return Err(QueryError::BadValue(format!("{path} is not valid type for $currentDate. Please use a boolean ('true') or a $type expression ({{$type: 'timestamp/date'}})."))),
        },
        "$push" => Kind::Push(parse_push(value)?),
        "$addToSet" => Kind::AddToSet(match value {
            Bson::Document(d) if d.contains_key("$each") => match d.get("$each") {
                Some(Bson::Array(a)) if d.len() == 1 => a.clone(),
                _ => return Err(QueryError::BadValue("The argument to $each in $addToSet must be an array".into())),
            },
            v => vec![v.clone()],
        }),
        "$pull" => Kind::Pull(match value {
            Bson::Document(d) if d.keys().next().is_some_and(|k| k.starts_with('$')) && !matches!(d.keys().next().map(String::as_str), Some("$and" | "$or" | "$nor")) => {
                Pull::Conds(parse_conds(value)?)
            }
            Bson::Document(d) => Pull::Query(Filter::parse(d)?),
            v => Pull::Value(v.clone()),
        }),
        "$pullAll" => match value {
            Bson::Array(a) => Kind::PullAll(a.clone()),
            _ => return Err(QueryError::BadValue("$pullAll requires an array argument".into())),
        },
        "$pop" => match as_i64(value) {
            Some(1) => Kind::Pop { first: false },
            Some(-1) => Kind::Pop { first: true },
            _ => return Err(QueryError::BadValue("$pop expects 1 or -1".into())),
        },
        other if other.starts_with('$') => return Err(QueryError::Unsupported(other.to_string())),
        other => {
            return Err(QueryError::BadValue(format!(
                "Unknown modifier: {other}. Expected a valid update modifier or pipeline-style update"
            )))
        }
    })
}

/// MongoDB 5+ order of applying fields: component-wise, numeric components numerically.
fn field_order(a: &str, b: &str) -> Ordering {
    for (x, y) in a.split('.').zip(b.split('.')) {
        let o = match (x.parse::<u64>(), y.parse::<u64>()) {
            (Ok(i), Ok(j)) => i.cmp(&j),
            _ => x.cmp(y),
        };
        if o != Ordering::Equal {
            return o;
        }
    }
    a.split('.').count().cmp(&b.split('.').count())
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
        let mut paths = Vec::new();
        for (op, arg) in update {
            let Bson::Document(fields) = arg else {
                parse_kind(op, "", &Bson::Null).map(|_| ())?;
                return Err(QueryError::BadValue(format!(
                    "Modifiers operate on fields but we found another type instead: {op}"
                )));
            };
            for (path, value) in fields {
                if path.is_empty() || path.split('.').any(str::is_empty) {
                    return Err(QueryError::BadValue(format!("An update path '{path}' contains an empty field name")));
                }
                let kind = parse_kind(op, path, value)?;
                if let Kind::Rename(to) = &kind {
                    paths.push(to.clone());
                }
                paths.push(path.clone());
                ops.push(Op { path: path.clone(), kind });
            }
        }
        if ops.is_empty() {
            return Err(QueryError::BadValue("update document must contain at least one field".into()));
        }
        for (i, a) in paths.iter().enumerate() {
            if a == "_id" || a.starts_with("_id.") {
                return Err(QueryError::Conflict(
                    "Performing an update on the path '_id' would modify the immutable field '_id'".into(),
                ));
            }
            for b in &paths[i + 1..] {
                if conflicts(a, b) {
                    return Err(QueryError::Conflict(format!(
                        "Updating the path '{b}' would create a conflict at '{a}'"
                    )));
                }
            }
        }
        ops.sort_by(|a, b| field_order(&a.path, &b.path));
        Ok(Update::Ops(ops))
    }

    /// Whether this is an operator update whose paths use `$[id]` identifiers.
    pub fn identifiers(&self) -> Vec<String> {
        let Update::Ops(ops) = self else { return Vec::new() };
        let mut out = Vec::new();
        for op in ops {
            for part in op.path.split('.') {
                if let Some(id) = part.strip_prefix("$[").and_then(|p| p.strip_suffix(']')) {
                    if !id.is_empty() && !out.iter().any(|o| o == id) {
                        out.push(id.to_string());
                    }
                }
            }
        }
        out
    }

    /// The top-level fields an operator update may write (both ends of a `$rename`); `None` for a
    /// replacement, which may write every field.
    pub fn target_fields(&self) -> Option<Vec<&str>> {
        let Update::Ops(ops) = self else { return None };
        let mut out: Vec<&str> = Vec::new();
        for op in ops {
            let renamed_to = match &op.kind {
                Kind::Rename(to) => Some(to.as_str()),
                _ => None,
            };
            for path in std::iter::once(op.path.as_str()).chain(renamed_to) {
                let top = path.split('.').next().unwrap_or(path);
                if !out.contains(&top) {
                    out.push(top);
                }
            }
        }
        Some(out)
    }

    /// Applies the update to `doc`; returns whether the document changed.
    pub fn apply(&self, doc: &mut Document, ctx: &UpdateCtx) -> Result<bool, QueryError> {
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
                    for path in expand(doc, &op.path, ctx)? {
                        apply_op(doc, &path, &op.kind, ctx)?;
                    }
                }
                Ok(*doc != before)
            }
        }
    }

    /// Builds the document an upsert inserts: equality fields of `filter`, then the update.
    pub fn upsert_document(&self, filter: &Filter, ctx: &UpdateCtx) -> Result<Document, QueryError> {
        let mut seed = Document::new();
        if let Update::Ops(_) = self {
            for (path, value) in filter.equalities() {
                if !path.split('.').any(|p| p.starts_with('$')) {
                    set_path(&mut seed, path, value.clone()).map_err(QueryError::Conflict)?;
                }
            }
        } else if let Some(id) = filter.id_equality() {
            seed.insert("_id", id.clone());
        }
        let insert_ctx = UpdateCtx { query: None, array_filters: ctx.array_filters, inserting: true, budget: ctx.budget };
        self.apply(&mut seed, &insert_ctx)?;
        Ok(seed)
    }
}

fn conflicts(a: &str, b: &str) -> bool {
    a == b || b.starts_with(&format!("{a}.")) || a.starts_with(&format!("{b}."))
}

/// Resolves positional components of `path` against `doc` into concrete paths.
fn expand(doc: &Document, path: &str, ctx: &UpdateCtx) -> Result<Vec<String>, QueryError> {
    if !path.contains('$') {
        return Ok(vec![path.to_string()]);
    }
    let parts: Vec<&str> = path.split('.').collect();
    let mut out = Vec::new();
    expand_from(&Bson::Document(doc.clone()), doc, &parts, String::new(), ctx, &mut out)?;
    Ok(out)
}

fn expand_from(
    cur: &Bson,
    root: &Document,
    parts: &[&str],
    prefix: String,
    ctx: &UpdateCtx,
    out: &mut Vec<String>,
) -> Result<(), QueryError> {
    let Some((head, tail)) = parts.split_first() else {
        out.push(prefix);
        return Ok(());
    };
    let join = |p: &str| if prefix.is_empty() { p.to_string() } else { format!("{prefix}.{p}") };
    if !head.starts_with('$') {
        let next = match cur {
            Bson::Document(d) => d.get(*head).cloned().unwrap_or(Bson::Null),
            Bson::Array(a) => head.parse::<usize>().ok().and_then(|i| a.get(i)).cloned().unwrap_or(Bson::Null),
            _ => Bson::Null,
        };
        return expand_from(&next, root, tail, join(head), ctx, out);
    }
    if ctx.inserting && *head != "$" {
        return Err(QueryError::BadValue(format!(
            "The path '{prefix}' must exist in the document in order to apply array updates."
        )));
    }
    let Bson::Array(items) = cur else {
        return Err(QueryError::BadValue(format!(
            "The path '{prefix}' must exist in the document in order to apply array updates."
        )));
    };
    let indices: Vec<usize> = match *head {
        "$" => {
            let i = positional_index(root, &prefix, items, ctx.query).ok_or_else(|| {
                QueryError::BadValue("The positional operator did not find the match needed from the query.".into())
            })?;
            vec![i]
        }
        "$[]" => (0..items.len()).collect(),
        h => {
            let ident = h.strip_prefix("$[").and_then(|p| p.strip_suffix(']')).ok_or_else(|| {
                QueryError::BadValue(format!("unsupported positional path component '{h}'"))
            })?;
            let (_, f) = ctx.array_filters.iter().find(|(i, _)| i == ident).ok_or_else(|| {
                QueryError::BadValue(format!("No array filter found for identifier '{ident}' in path '{prefix}.{h}'"))
            })?;
            (0..items.len())
                .filter(|i| {
                    let mut probe = Document::new();
                    probe.insert(ident, items[*i].clone());
                    f.matches(&probe)
                })
                .collect()
        }
    };
    for i in indices {
        expand_from(&items[i], root, tail, join(&i.to_string()), ctx, out)?;
    }
    Ok(())
}

fn non_numeric(doc: &Document, op: &str, path: &str, current: &Bson) -> QueryError {
    QueryError::Conflict(format!(
        "Cannot apply {op} to a value of non-numeric type. {{_id: {}}} has the field '{path}' of non-numeric type {}",
        doc.get("_id").map(|v| v.to_string()).unwrap_or_default(),
        type_alias(current)
    ))
}

fn array_at<'a>(doc: &'a mut Document, path: &str, op: &str) -> Result<Option<&'a mut Vec<Bson>>, QueryError> {
    let mut parts = path.split('.');
    let mut cur = match doc.get_mut(parts.next().unwrap_or_default()) {
        Some(v) => v,
        None => return Ok(None),
    };
    for part in parts {
        cur = match cur {
            Bson::Document(d) => match d.get_mut(part) {
                Some(v) => v,
                None => return Ok(None),
            },
            Bson::Array(a) => match part.parse::<usize>().ok().and_then(|i| a.get_mut(i)) {
                Some(v) => v,
                None => return Ok(None),
            },
            _ => return Ok(None),
        };
    }
    match cur {
        Bson::Array(a) => Ok(Some(a)),
        other => Err(QueryError::Conflict(format!(
            "The field '{path}' must be an array but is of type {} in document",
            type_alias(other)
        )))
        .map_err(|e| if op == "$pop" || op == "$pull" || op == "$pullAll" { QueryError::BadValue(e.to_string()) } else { e }),
    }
}

/// `set_path` for an update: padding an array (`$set: {"a.1000000": 1}`) is charged to the budget at
/// its in-memory cost, which is many times its BSON size.
fn set_padded(doc: &mut Document, path: &str, v: Bson, ctx: &UpdateCtx) -> Result<(), QueryError> {
    let Some(budget) = ctx.budget else { return set_path(doc, path, v).map_err(QueryError::Conflict) };
    let meter = budget.meter("array padding");
    let mut refused = None;
    let result = set_path_padding(doc, path, v, &mut |n| {
        meter.add(n.saturating_mul(std::mem::size_of::<Bson>())).map_err(|e| {
            let text = e.to_string();
            refused = Some(e);
            text
        })
    });
    result.map_err(|e| refused.take().unwrap_or(QueryError::Conflict(e)))
}

fn apply_op(doc: &mut Document, path: &str, kind: &Kind, ctx: &UpdateCtx) -> Result<(), QueryError> {
    let set = |doc: &mut Document, v: Bson| set_padded(doc, path, v, ctx);
    match kind {
        Kind::Set(v) => set(doc, v.clone()),
        Kind::SetOnInsert(v) => {
            if ctx.inserting {
                set(doc, v.clone())?;
            }
            Ok(())
        }
        Kind::Unset => {
            unset_path(doc, path);
            Ok(())
        }
        Kind::Inc(by) | Kind::Mul(by) => {
            let is_inc = matches!(kind, Kind::Inc(_));
            let op = if is_inc { "$inc" } else { "$mul" };
            let new_value = match get_exact(doc, path) {
                None if is_inc => by.clone(),
                None => zero_like(by),
                Some(current) => {
                    let r = if is_inc { add(current, by) } else { mul(current, by) };
                    r.ok_or_else(|| non_numeric(doc, op, path, current))?
                }
            };
            set(doc, new_value)
        }
        Kind::Min(v) | Kind::Max(v) => {
            let want = if matches!(kind, Kind::Min(_)) { Ordering::Less } else { Ordering::Greater };
            match get_exact(doc, path) {
                Some(current) if compare_values(v, current) != want => Ok(()),
                _ => set(doc, v.clone()),
            }
        }
        Kind::Rename(to) => {
            if let Some(v) = get_exact(doc, path).cloned() {
                unset_path(doc, path);
                set_padded(doc, to, v, ctx)?;
            }
            Ok(())
        }
        Kind::CurrentDate { timestamp } => {
            let now = bson::DateTime::now();
            set(
                doc,
                if *timestamp {
                    Bson::Timestamp(bson::Timestamp { time: (now.timestamp_millis() / 1000) as u32, increment: 1 })
                } else {
                    Bson::DateTime(now)
                },
            )
        }
        Kind::Push(p) => {
            if array_at(doc, path, "$push")?.is_none() {
                set(doc, Bson::Array(Vec::new()))?;
            }
            let Some(arr) = array_at(doc, path, "$push")? else { return Ok(()) };
            let at = match p.position {
                None => arr.len(),
                Some(n) if n >= 0 => (n as usize).min(arr.len()),
                Some(n) => arr.len().saturating_sub(n.unsigned_abs() as usize),
            };
            arr.splice(at..at, p.each.iter().cloned());
            match &p.sort {
                Some(PushSort::Value(asc)) => arr.sort_by(|a, b| {
                    let o = compare_values(a, b);
                    if *asc { o } else { o.reverse() }
                }),
                Some(PushSort::Fields(spec)) => arr.sort_by(|a, b| match (a, b) {
                    (Bson::Document(x), Bson::Document(y)) => spec.compare(x, y),
                    _ => compare_values(a, b),
                }),
                None => {}
            }
            match p.slice {
                Some(n) if n >= 0 => arr.truncate(n as usize),
                Some(n) => {
                    let drop = arr.len().saturating_sub(n.unsigned_abs() as usize);
                    arr.drain(..drop);
                }
                None => {}
            }
            Ok(())
        }
        Kind::AddToSet(values) => {
            if array_at(doc, path, "$addToSet")?.is_none() {
                set(doc, Bson::Array(Vec::new()))?;
            }
            if let Some(arr) = array_at(doc, path, "$addToSet")? {
                for v in values {
                    if !arr.iter().any(|x| values_equal(x, v)) {
                        arr.push(v.clone());
                    }
                }
            }
            Ok(())
        }
        Kind::Pull(pull) => {
            if let Some(arr) = array_at(doc, path, "$pull")? {
                arr.retain(|item| !match pull {
                    Pull::Value(v) => values_equal(item, v),
                    Pull::Conds(cs) => cs.iter().all(|c| c.holds_scalar(item)),
                    Pull::Query(f) => matches!(item, Bson::Document(d) if f.matches(d)),
                });
            }
            Ok(())
        }
        Kind::PullAll(values) => {
            if let Some(arr) = array_at(doc, path, "$pullAll")? {
                arr.retain(|item| !values.iter().any(|v| values_equal(item, v)));
            }
            Ok(())
        }
        Kind::Pop { first } => {
            if let Some(arr) = array_at(doc, path, "$pop")? {
                if *first && !arr.is_empty() {
                    arr.remove(0);
                } else {
                    arr.pop();
                }
            }
            Ok(())
        }
    }
}

fn zero_like(v: &Bson) -> Bson {
    match v {
        Bson::Int32(_) => Bson::Int32(0),
        Bson::Int64(_) => Bson::Int64(0),
        _ => Bson::Double(0.0),
    }
}

/// MongoDB numeric addition: int32 widens to int64 on overflow, any double makes a double.
fn add(a: &Bson, b: &Bson) -> Option<Bson> {
    int_or_double(a, b, i64::checked_add, |x, y| x + y)
}

fn mul(a: &Bson, b: &Bson) -> Option<Bson> {
    int_or_double(a, b, i64::checked_mul, |x, y| x * y)
}

fn int_or_double(a: &Bson, b: &Bson, int_op: fn(i64, i64) -> Option<i64>, f_op: fn(f64, f64) -> f64) -> Option<Bson> {
    Some(match (a, b) {
        (Bson::Int32(x), Bson::Int32(y)) => {
            let r = int_op(i64::from(*x), i64::from(*y))?;
            i32::try_from(r).map(Bson::Int32).unwrap_or(Bson::Int64(r))
        }
        (Bson::Int32(_) | Bson::Int64(_), Bson::Int32(_) | Bson::Int64(_)) => Bson::Int64(int_op(as_i64(a)?, as_i64(b)?)?),
        (x, y) => Bson::Double(f_op(as_f64(x)?, as_f64(y)?)),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use bson::doc;

    fn run(start: Document, update: Document) -> Result<(Document, bool), QueryError> {
        let mut d = start;
        let changed = Update::parse(&update)?.apply(&mut d, &UpdateCtx::default())?;
        Ok((d, changed))
    }

    #[test]
    fn int32_overflow_widens() {
        let (d, _) = run(doc! {"a": i32::MAX}, doc! {"$inc": {"a": 1}}).expect("inc");
        assert_eq!(d.get("a"), Some(&Bson::Int64(i64::from(i32::MAX) + 1)));
        let (d, _) = run(doc! {"a": 1 << 20}, doc! {"$mul": {"a": 1 << 20}}).expect("mul");
        assert_eq!(d.get("a"), Some(&Bson::Int64(1 << 40)));
    }

    #[test]
    fn rejected_updates() {
        let base = doc! {"_id": 1, "s": "x"};
        assert_eq!(Update::parse(&doc! {"$bit": {"a": {"and": 1}}}).err(), Some(QueryError::Unsupported("$bit".into())));
        assert!(matches!(Update::parse(&doc! {"$set": {"_id": 2}}), Err(QueryError::Conflict(_))));
        assert!(matches!(Update::parse(&doc! {"$set": {"a": 1}, "$unset": {"a": ""}}), Err(QueryError::Conflict(_))));
        assert!(matches!(Update::parse(&doc! {"$set": {"a.b": 1}, "$inc": {"a": 1}}), Err(QueryError::Conflict(_))));
        assert!(matches!(Update::parse(&doc! {"$inc": {"a": "x"}}), Err(QueryError::BadValue(_))));
        assert!(matches!(Update::parse(&doc! {"a": 1, "$set": {"b": 1}}), Err(QueryError::BadValue(_))));
        assert!(matches!(Update::parse(&doc! {"$set": 5}), Err(QueryError::BadValue(_))));
        assert!(matches!(run(base.clone(), doc! {"$inc": {"s": 1}}), Err(QueryError::Conflict(_))));
        assert!(matches!(run(base.clone(), doc! {"$push": {"s": 1}}), Err(QueryError::Conflict(_))));
        assert!(matches!(run(base, doc! {"_id": 2, "a": 1}), Err(QueryError::Conflict(_))));
    }

    #[test]
    fn positional_and_array_filters() {
        let f = Filter::parse(&doc! {"grades": {"$gte": 85}}).expect("filter");
        let mut d = doc! {"_id": 1, "grades": [80, 85, 90]};
        let up = Update::parse(&doc! {"$set": {"grades.$": 100}}).expect("update");
        up.apply(&mut d, &UpdateCtx { query: Some(&f), ..Default::default() }).expect("apply");
        assert_eq!(d, doc! {"_id": 1, "grades": [80, 100, 90]});
        let af = parse_array_filters(&[Bson::Document(doc! {"e": {"$gte": 90}})]).expect("af");
        let up = Update::parse(&doc! {"$inc": {"grades.$[e]": 1, "n": 1}}).expect("update");
        up.apply(&mut d, &UpdateCtx { array_filters: &af, ..Default::default() }).expect("apply");
        assert_eq!(d, doc! {"_id": 1, "grades": [80, 101, 91], "n": 1});
        let up = Update::parse(&doc! {"$mul": {"grades.$[]": 2}}).expect("update");
        up.apply(&mut d, &UpdateCtx::default()).expect("apply");
        assert_eq!(d, doc! {"_id": 1, "grades": [160, 202, 182], "n": 1});
        let no_match = Update::parse(&doc! {"$set": {"grades.$": 1}}).expect("update");
        assert!(no_match.apply(&mut d, &UpdateCtx::default()).is_err());
    }
}
