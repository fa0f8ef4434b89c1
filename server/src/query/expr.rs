//! Aggregation expressions (`$expr`, `$project`, `$group` keys, …): parsed once, evaluated per document.

use super::value::{as_f64, as_i64, compare_values, truthy, type_alias, type_rank, values_equal};
use super::QueryError;
use bson::{oid::ObjectId, Bson, Document};
use std::cmp::Ordering;

/// A parsed expression.
#[derive(Debug, Clone)]
pub enum Expr {
    /// A constant.
    Lit(Bson),
    /// `"$a.b"`: a path in the current document.
    Field(String),
    /// `"$$name.path"`: a variable (`ROOT`, `CURRENT`, `REMOVE` or one bound by `$filter`/`$map`).
    Var(String, Option<String>),
    /// An object whose values are expressions.
    Doc(Vec<(String, Expr)>),
    /// An array whose elements are expressions.
    Array(Vec<Expr>),
    /// An operator with positional arguments.
    Op(String, Vec<Expr>),
    /// An operator with named arguments (`$filter`, `$map`, `$switch`, `$dateToString`, `$cond`).
    Named(String, Vec<(String, Expr)>),
}

/// Operators taking positional arguments.
const POSITIONAL: &[&str] = &[
    "$add", "$subtract", "$multiply", "$divide", "$mod", "$abs", "$ceil", "$floor", "$round", "$trunc", "$sqrt",
    "$pow", "$eq", "$ne", "$gt", "$gte", "$lt", "$lte", "$cmp", "$and", "$or", "$not", "$cond", "$ifNull",
    "$concat", "$toLower", "$toUpper", "$substrCP", "$split", "$strLenCP", "$size", "$arrayElemAt", "$in",
    "$slice", "$type", "$toString", "$toInt", "$toLong", "$toDouble", "$toBool", "$toObjectId", "$year",
    "$month", "$dayOfMonth", "$hour", "$minute", "$second", "$sum", "$avg", "$min", "$max", "$concatArrays",
    "$isArray", "$first", "$last",
];

/// Largest string an expression builds (MongoDB's 16 MB value limit).
const MAX_VALUE_BYTES: usize = 16 * 1024 * 1024;
/// Most elements an expression's array may hold (nested `$concatArrays` double it per level).
const MAX_ARRAY_ITEMS: usize = 1024 * 1024;

/// Operators taking a document of named arguments.
const NAMED: &[&str] = &["$filter", "$map", "$switch", "$dateToString", "$cond"];

/// Evaluation context: the root document and bound variables.
struct Ctx<'a> {
    root: &'a Document,
    vars: Vec<(String, Bson)>,
}

impl Expr {
    /// Parses an expression; unknown operators are an error naming them.
    pub fn parse(value: &Bson) -> Result<Expr, QueryError> {
        Ok(match value {
            Bson::String(s) if s.starts_with("$$") => {
                let rest = &s[2..];
                match rest.split_once('.') {
                    Some((name, path)) => Expr::Var(name.to_string(), Some(path.to_string())),
                    None => Expr::Var(rest.to_string(), None),
                }
            }
            Bson::String(s) if s.starts_with('$') => Expr::Field(s[1..].to_string()),
            Bson::Array(items) => Expr::Array(items.iter().map(Expr::parse).collect::<Result<_, _>>()?),
            Bson::Document(d) => match d.keys().next() {
                Some(op) if op.starts_with('$') => {
                    if d.len() != 1 {
                        return Err(QueryError::BadValue(format!(
                            "an expression object must have exactly one field, found {}",
                            d.len()
                        )));
                    }
                    let arg = d.get(op).unwrap_or(&Bson::Null);
                    parse_op(op, arg)?
                }
                _ => Expr::Doc(
                    d.iter().map(|(k, v)| Ok((k.clone(), Expr::parse(v)?))).collect::<Result<_, QueryError>>()?,
                ),
            },
            other => Expr::Lit(other.clone()),
        })
    }

    /// Evaluates against `doc` (as `$$ROOT` and `$$CURRENT`). A missing value is `Bson::Undefined`.
    pub fn eval(&self, doc: &Document) -> Result<Bson, QueryError> {
        self.eval_in(&Ctx { root: doc, vars: Vec::new() })
    }

    fn eval_in(&self, ctx: &Ctx) -> Result<Bson, QueryError> {
        Ok(match self {
            Expr::Lit(v) => v.clone(),
            Expr::Field(path) => field_value(ctx.root, path),
            Expr::Var(name, path) => {
                let base = match name.as_str() {
                    "ROOT" | "CURRENT" => Bson::Document(ctx.root.clone()),
                    "REMOVE" => Bson::Undefined,
                    n => match ctx.vars.iter().rev().find(|(k, _)| k == n) {
                        Some((_, v)) => v.clone(),
                        None => return Err(QueryError::BadValue(format!("Use of undefined variable: {n}"))),
                    },
                };
                match (path, base) {
                    (None, b) => b,
                    (Some(p), Bson::Document(d)) => field_value(&d, p),
                    (Some(_), _) => Bson::Undefined,
                }
            }
            Expr::Doc(fields) => {
                let mut out = Document::new();
                for (k, e) in fields {
                    let v = e.eval_in(ctx)?;
                    if v != Bson::Undefined {
                        out.insert(k.clone(), v);
                    }
                }
                Bson::Document(out)
            }
            Expr::Array(items) => Bson::Array(
                items
                    .iter()
                    .map(|e| e.eval_in(ctx).map(undef_to_null))
                    .collect::<Result<_, _>>()?,
            ),
            Expr::Op(op, args) => eval_op(op, args, ctx)?,
            Expr::Named(op, args) => eval_named(op, args, ctx)?,
        })
    }
}

fn undef_to_null(v: Bson) -> Bson {
    if v == Bson::Undefined {
        Bson::Null
    } else {
        v
    }
}

/// Value of a field path; through arrays of documents it collects an array of values.
fn field_value(doc: &Document, path: &str) -> Bson {
    let mut parts = path.splitn(2, '.');
    let head = parts.next().unwrap_or_default();
    let Some(v) = doc.get(head) else { return Bson::Undefined };
    match parts.next() {
        None => v.clone(),
        Some(rest) => match v {
            Bson::Document(d) => field_value(d, rest),
            Bson::Array(items) => Bson::Array(
                items
                    .iter()
                    .filter_map(|i| match i {
                        Bson::Document(d) => Some(field_value(d, rest)),
                        _ => None,
                    })
                    .filter(|v| *v != Bson::Undefined)
                    .collect(),
            ),
            _ => Bson::Undefined,
        },
    }
}

fn parse_op(op: &str, arg: &Bson) -> Result<Expr, QueryError> {
    if op == "$literal" {
        return Ok(Expr::Lit(arg.clone()));
    }
    if NAMED.contains(&op) {
        if let Bson::Document(d) = arg {
            let args = d.iter().map(|(k, v)| Ok((k.clone(), Expr::parse(v)?))).collect::<Result<_, QueryError>>()?;
            return Ok(Expr::Named(op.to_string(), args));
        }
        if op != "$cond" {
            return Err(QueryError::BadValue(format!("{op} expects an object of named arguments")));
        }
    }
    if !POSITIONAL.contains(&op) {
        return Err(QueryError::Unsupported(op.to_string()));
    }
    let args = match arg {
        Bson::Array(items) => items.iter().map(Expr::parse).collect::<Result<_, _>>()?,
        other => vec![Expr::parse(other)?],
    };
    Ok(Expr::Op(op.to_string(), args))
}

fn arity(op: &str, args: &[Expr], n: usize) -> Result<(), QueryError> {
    if args.len() == n {
        Ok(())
    } else {
        Err(QueryError::BadValue(format!("Expression {op} takes exactly {n} arguments. {} were passed in.", args.len())))
    }
}

fn num(op: &str, v: &Bson) -> Result<Option<f64>, QueryError> {
    match v {
        Bson::Null | Bson::Undefined => Ok(None),
        v => as_f64(v)
            .map(Some)
            .ok_or_else(|| QueryError::BadValue(format!("{op} only supports numeric types, not {}", type_alias(v)))),
    }
}

/// Integer-preserving arithmetic: int32 widens to int64, anything else becomes a double.
fn arith(a: &Bson, b: &Bson, int_op: fn(i64, i64) -> Option<i64>, f_op: fn(f64, f64) -> f64) -> Bson {
    match (a, b) {
        (Bson::Int32(_) | Bson::Int64(_), Bson::Int32(_) | Bson::Int64(_)) => {
            let (x, y) = (as_i64(a).unwrap_or(0), as_i64(b).unwrap_or(0));
            match int_op(x, y) {
                Some(r) if matches!((a, b), (Bson::Int32(_), Bson::Int32(_))) => {
                    i32::try_from(r).map(Bson::Int32).unwrap_or(Bson::Int64(r))
                }
                Some(r) => Bson::Int64(r),
                None => Bson::Double(f_op(x as f64, y as f64)),
            }
        }
        _ => Bson::Double(f_op(as_f64(a).unwrap_or(f64::NAN), as_f64(b).unwrap_or(f64::NAN))),
    }
}

fn to_str(op: &str, v: &Bson) -> Result<Option<String>, QueryError> {
    Ok(match v {
        Bson::Null | Bson::Undefined => None,
        Bson::String(s) => Some(s.clone()),
        Bson::Int32(i) => Some(i.to_string()),
        Bson::Int64(i) => Some(i.to_string()),
        Bson::Double(d) => Some(if d.fract() == 0.0 && d.abs() < 1e15 { format!("{}", *d as i64) } else { d.to_string() }),
        Bson::Boolean(b) => Some(b.to_string()),
        Bson::ObjectId(o) => Some(o.to_hex()),
        Bson::DateTime(dt) => Some(date_to_string("%Y-%m-%dT%H:%M:%S.%LZ", dt.timestamp_millis())),
        Bson::Decimal128(d) => Some(d.to_string()),
        other => return Err(QueryError::BadValue(format!("{op}: unsupported conversion from {} to string", type_alias(other)))),
    })
}

fn civil(ms: i64) -> (i64, u32, u32, u32, u32, u32, u32, u32) {
    // Howard Hinnant's days-to-civil; returns (year, month, day, hour, min, sec, millis, day-of-year).
    let days = ms.div_euclid(86_400_000);
    let rem = ms.rem_euclid(86_400_000);
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let m = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    let y = yoe + era * 400 + i64::from(m <= 2);
    let leap = (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
    let cum = [0, 31, 59, 90, 120, 151, 181, 212, 243, 273, 304, 334];
    let yday = cum[(m - 1) as usize] + d + u32::from(leap && m > 2);
    let (h, mi, s, l) = ((rem / 3_600_000) as u32, (rem / 60_000 % 60) as u32, (rem / 1000 % 60) as u32, (rem % 1000) as u32);
    (y, m, d, h, mi, s, l, yday)
}

fn date_to_string(format: &str, ms: i64) -> String {
    let (y, mo, d, h, mi, s, l, yd) = civil(ms);
    let mut out = String::new();
    let mut chars = format.chars();
    while let Some(c) = chars.next() {
        if c != '%' {
            out.push(c);
            continue;
        }
        match chars.next() {
            Some('Y') => out.push_str(&format!("{y:04}")),
            Some('m') => out.push_str(&format!("{mo:02}")),
            Some('d') => out.push_str(&format!("{d:02}")),
            Some('H') => out.push_str(&format!("{h:02}")),
            Some('M') => out.push_str(&format!("{mi:02}")),
            Some('S') => out.push_str(&format!("{s:02}")),
            Some('L') => out.push_str(&format!("{l:03}")),
            Some('j') => out.push_str(&format!("{yd:03}")),
            Some('%') => out.push('%'),
            Some(other) => {
                out.push('%');
                out.push(other);
            }
            None => out.push('%'),
        }
    }
    out
}

fn date_ms(op: &str, v: &Bson) -> Result<Option<i64>, QueryError> {
    match v {
        Bson::DateTime(dt) => Ok(Some(dt.timestamp_millis())),
        Bson::Timestamp(t) => Ok(Some(i64::from(t.time) * 1000)),
        Bson::ObjectId(o) => Ok(Some(o.timestamp().timestamp_millis())),
        Bson::Null | Bson::Undefined => Ok(None),
        other => Err(QueryError::BadValue(format!("{op}: can't convert from BSON type {} to Date", type_alias(other)))),
    }
}

fn numbers_of(values: Vec<Bson>) -> Vec<Bson> {
    let mut out = Vec::new();
    for v in values {
        match v {
            Bson::Array(items) => out.extend(items.into_iter().filter(|i| type_rank(i) == 2)),
            v if type_rank(&v) == 2 => out.push(v),
            _ => {}
        }
    }
    out
}

/// Sum with MongoDB's widening (int32 → int64 → double).
pub(crate) fn sum_values<'a>(values: impl Iterator<Item = &'a Bson>) -> Bson {
    values.fold(Bson::Int32(0), |acc, v| {
        if type_rank(v) == 2 {
            arith(&acc, v, i64::checked_add, |x, y| x + y)
        } else {
            acc
        }
    })
}

fn eval_op(op: &str, args: &[Expr], ctx: &Ctx) -> Result<Bson, QueryError> {
    let vals = args.iter().map(|a| a.eval_in(ctx)).collect::<Result<Vec<_>, _>>()?;
    let nullish = |v: &Bson| matches!(v, Bson::Null | Bson::Undefined);
    Ok(match op {
        "$add" => {
            let mut acc = Bson::Int32(0);
            let mut date = None;
            for v in &vals {
                match v {
                    v if nullish(v) => return Ok(Bson::Null),
                    Bson::DateTime(d) => date = Some(d.timestamp_millis()),
                    v => {
                        num(op, v)?;
                        acc = arith(&acc, v, i64::checked_add, |x, y| x + y);
                    }
                }
            }
            match date {
                Some(ms) => Bson::DateTime(bson::DateTime::from_millis(ms + as_f64(&acc).unwrap_or(0.0) as i64)),
                None => acc,
            }
        }
        "$subtract" => {
            arity(op, args, 2)?;
            match (&vals[0], &vals[1]) {
                (a, b) if nullish(a) || nullish(b) => Bson::Null,
                (Bson::DateTime(a), Bson::DateTime(b)) => Bson::Int64(a.timestamp_millis() - b.timestamp_millis()),
                (Bson::DateTime(a), b) => {
                    Bson::DateTime(bson::DateTime::from_millis(a.timestamp_millis() - num(op, b)?.unwrap_or(0.0) as i64))
                }
                (a, b) => {
                    num(op, a)?;
                    num(op, b)?;
                    arith(a, b, i64::checked_sub, |x, y| x - y)
                }
            }
        }
        "$multiply" => {
            let mut acc = Bson::Int32(1);
            for v in &vals {
                if nullish(v) {
                    return Ok(Bson::Null);
                }
                num(op, v)?;
                acc = arith(&acc, v, i64::checked_mul, |x, y| x * y);
            }
            acc
        }
        "$divide" | "$mod" | "$pow" => {
            arity(op, args, 2)?;
            let (Some(a), Some(b)) = (num(op, &vals[0])?, num(op, &vals[1])?) else { return Ok(Bson::Null) };
            if b == 0.0 && op != "$pow" {
                return Err(QueryError::BadValue(format!("{op} by zero")));
            }
            match op {
                "$divide" => Bson::Double(a / b),
                "$mod" => arith(&vals[0], &vals[1], i64::checked_rem, |x, y| x % y),
                _ => match (&vals[0], &vals[1]) {
                    (Bson::Int32(_) | Bson::Int64(_), Bson::Int32(_) | Bson::Int64(_)) if b >= 0.0 => {
                        arith(&vals[0], &vals[1], |x, y| u32::try_from(y).ok().and_then(|y| x.checked_pow(y)), f64::powf)
                    }
                    _ => Bson::Double(a.powf(b)),
                },
            }
        }
        "$abs" | "$ceil" | "$floor" | "$trunc" | "$sqrt" | "$round" => {
            let v = vals.first().cloned().unwrap_or(Bson::Null);
            let Some(f) = num(op, &v)? else { return Ok(Bson::Null) };
            let places = match vals.get(1) {
                Some(p) => as_i64(p).unwrap_or(0) as i32,
                None => 0,
            };
            match (op, &v) {
                ("$abs", Bson::Int32(i)) => i.checked_abs().map(Bson::Int32).unwrap_or(Bson::Int64(-i64::from(*i))),
                ("$abs", Bson::Int64(i)) => Bson::Int64(
                    i.checked_abs().ok_or_else(|| QueryError::BadValue("can't take $abs of long long min".into()))?,
                ),
                ("$ceil" | "$floor" | "$trunc" | "$round", Bson::Int32(_) | Bson::Int64(_)) if places >= 0 => v.clone(),
                ("$abs", _) => Bson::Double(f.abs()),
                ("$ceil", _) => Bson::Double(f.ceil()),
                ("$floor", _) => Bson::Double(f.floor()),
                ("$trunc", _) => Bson::Double(f.trunc()),
                ("$sqrt", _) => Bson::Double(f.sqrt()),
                _ => {
                    // Round half to even, as MongoDB does.
                    let scale = 10f64.powi(places);
                    let x = f * scale;
                    let r = x.round();
                    let r = if (x - x.trunc()).abs() == 0.5 && r % 2.0 != 0.0 { r - x.signum() } else { r };
                    Bson::Double(r / scale)
                }
            }
        }
        "$eq" | "$ne" | "$gt" | "$gte" | "$lt" | "$lte" | "$cmp" => {
            arity(op, args, 2)?;
            let o = compare_values(&undef_to_null(vals[0].clone()), &undef_to_null(vals[1].clone()));
            match op {
                "$eq" => Bson::Boolean(o == Ordering::Equal),
                "$ne" => Bson::Boolean(o != Ordering::Equal),
                "$gt" => Bson::Boolean(o == Ordering::Greater),
                "$gte" => Bson::Boolean(o != Ordering::Less),
                "$lt" => Bson::Boolean(o == Ordering::Less),
                "$lte" => Bson::Boolean(o != Ordering::Greater),
                _ => Bson::Int32(o as i32),
            }
        }
        "$and" => Bson::Boolean(vals.iter().all(truthy)),
        "$or" => Bson::Boolean(vals.iter().any(truthy)),
        "$not" => {
            arity(op, args, 1)?;
            Bson::Boolean(!truthy(&vals[0]))
        }
        "$cond" => {
            arity(op, args, 3)?;
            if truthy(&vals[0]) {
                vals[1].clone()
            } else {
                vals[2].clone()
            }
        }
        "$ifNull" => vals.iter().find(|v| !nullish(v)).cloned().unwrap_or(Bson::Null),
        "$concat" => {
            let mut out = String::new();
            for v in &vals {
                match v {
                    // Nested `$concat`s double a string per level: cap it as MongoDB caps strings.
                    Bson::String(s) if out.len() + s.len() > MAX_VALUE_BYTES => {
                        return Err(QueryError::MemoryLimit(format!("$concat would build a string of more than {MAX_VALUE_BYTES} bytes")))
                    }
                    Bson::String(s) => out.push_str(s),
                    v if nullish(v) => return Ok(Bson::Null),
                    v => return Err(QueryError::BadValue(format!("$concat only supports strings, not {}", type_alias(v)))),
                }
            }
            Bson::String(out)
        }
        "$toLower" | "$toUpper" => {
            let s = to_str(op, vals.first().unwrap_or(&Bson::Null))?.unwrap_or_default();
            Bson::String(if op == "$toLower" { s.to_lowercase() } else { s.to_uppercase() })
        }
        "$strLenCP" => match vals.first() {
            Some(Bson::String(s)) => Bson::Int32(s.chars().count() as i32),
            _ => return Err(QueryError::BadValue("$strLenCP requires a string argument".into())),
        },
        "$substrCP" => {
            arity(op, args, 3)?;
            let s = to_str(op, &vals[0])?.unwrap_or_default();
            let (Some(start), Some(len)) = (as_i64(&vals[1]), as_i64(&vals[2])) else {
                return Err(QueryError::BadValue("$substrCP: starting index and length must be numbers".into()));
            };
            Bson::String(s.chars().skip(start.max(0) as usize).take(len.max(0) as usize).collect())
        }
        "$split" => {
            arity(op, args, 2)?;
            match (&vals[0], &vals[1]) {
                (a, _) if nullish(a) => Bson::Null,
                (Bson::String(s), Bson::String(sep)) if !sep.is_empty() => {
                    Bson::Array(s.split(sep.as_str()).map(|p| Bson::String(p.to_string())).collect())
                }
                _ => return Err(QueryError::BadValue("$split requires a string and a non-empty string delimiter".into())),
            }
        }
        "$size" => match vals.first() {
            Some(Bson::Array(a)) => Bson::Int32(a.len() as i32),
            _ => return Err(QueryError::BadValue("The argument to $size must be an array".into())),
        },
        "$isArray" => Bson::Boolean(matches!(vals.first(), Some(Bson::Array(_)))),
        "$arrayElemAt" => {
            arity(op, args, 2)?;
            match (&vals[0], as_i64(&vals[1])) {
                (a, _) if nullish(a) => Bson::Null,
                (Bson::Array(a), Some(i)) => {
                    let idx = if i < 0 { a.len() as i64 + i } else { i };
                    usize::try_from(idx).ok().and_then(|i| a.get(i)).cloned().unwrap_or(Bson::Undefined)
                }
                _ => return Err(QueryError::BadValue("$arrayElemAt needs an array and an integer index".into())),
            }
        }
        "$first" | "$last" => match vals.first() {
            Some(Bson::Array(a)) => (if op == "$first" { a.first() } else { a.last() }).cloned().unwrap_or(Bson::Undefined),
            Some(v) if nullish(v) => Bson::Null,
            _ => return Err(QueryError::BadValue(format!("{op}'s argument must be an array"))),
        },
        "$concatArrays" => {
            let mut out = Vec::new();
            for v in vals {
                match v {
                    Bson::Array(a) if out.len() + a.len() > MAX_ARRAY_ITEMS => {
                        return Err(QueryError::MemoryLimit(format!("$concatArrays would build an array of more than {MAX_ARRAY_ITEMS} elements")))
                    }
                    Bson::Array(a) => out.extend(a),
                    v if nullish(&v) => return Ok(Bson::Null),
                    _ => return Err(QueryError::BadValue("$concatArrays only supports arrays".into())),
                }
            }
            Bson::Array(out)
        }
        "$in" => {
            arity(op, args, 2)?;
            match &vals[1] {
                Bson::Array(a) => Bson::Boolean(a.iter().any(|x| values_equal(x, &vals[0]))),
                _ => return Err(QueryError::BadValue("$in requires an array as a second argument".into())),
            }
        }
        "$slice" => {
            let Some(Bson::Array(a)) = vals.first() else {
                return if vals.first().is_some_and(nullish) {
                    Ok(Bson::Null)
                } else {
                    Err(QueryError::BadValue("First argument to $slice must be an array".into()))
                };
            };
            let n = |i: usize| vals.get(i).and_then(as_i64);
            Bson::Array(match (n(1), n(2)) {
                (Some(k), None) if k >= 0 => a.iter().take(k as usize).cloned().collect(),
                (Some(k), None) => a.iter().skip(a.len().saturating_sub(k.unsigned_abs() as usize)).cloned().collect(),
                (Some(pos), Some(k)) if k > 0 => {
                    let start = if pos < 0 { a.len().saturating_sub(pos.unsigned_abs() as usize) } else { pos as usize };
                    a.iter().skip(start).take(k as usize).cloned().collect()
                }
                _ => return Err(QueryError::BadValue("$slice needs numeric position and positive count".into())),
            })
        }
        "$type" => Bson::String(match vals.first() {
            Some(Bson::Undefined) | None => "missing".into(),
            Some(v) => type_alias(v).into(),
        }),
        "$toString" => to_str(op, vals.first().unwrap_or(&Bson::Null))?.map(Bson::String).unwrap_or(Bson::Null),
        "$toInt" | "$toLong" | "$toDouble" | "$toBool" => convert(op, vals.first().unwrap_or(&Bson::Null))?,
        "$toObjectId" => match vals.first() {
            Some(Bson::ObjectId(o)) => Bson::ObjectId(*o),
            Some(Bson::String(s)) => Bson::ObjectId(
                ObjectId::parse_str(s).map_err(|_| QueryError::BadValue(format!("Failed to parse objectId '{s}' in $convert")))?,
            ),
            Some(v) if nullish(v) => Bson::Null,
            _ => return Err(QueryError::BadValue("$toObjectId: unsupported conversion".into())),
        },
        "$year" | "$month" | "$dayOfMonth" | "$hour" | "$minute" | "$second" => {
            let Some(ms) = date_ms(op, vals.first().unwrap_or(&Bson::Null))? else { return Ok(Bson::Null) };
            let (y, mo, d, h, mi, s, _, _) = civil(ms);
            Bson::Int32(match op {
                "$year" => y as i32,
                "$month" => mo as i32,
                "$dayOfMonth" => d as i32,
                "$hour" => h as i32,
                "$minute" => mi as i32,
                _ => s as i32,
            })
        }
        "$sum" | "$avg" | "$min" | "$max" => {
            let values = if vals.len() == 1 {
                match vals.into_iter().next() {
                    Some(Bson::Array(a)) => a,
                    Some(v) => vec![v],
                    None => vec![],
                }
            } else {
                vals
            };
            match op {
                "$sum" => sum_values(numbers_of(values).iter()),
                "$avg" => {
                    let nums = numbers_of(values);
                    if nums.is_empty() {
                        Bson::Null
                    } else {
                        Bson::Double(nums.iter().filter_map(as_f64).sum::<f64>() / nums.len() as f64)
                    }
                }
                _ => {
                    let present = values.into_iter().filter(|v| !nullish(v));
                    let pick = if op == "$min" {
                        present.min_by(compare_values)
                    } else {
                        present.max_by(compare_values)
                    };
                    pick.unwrap_or(Bson::Null)
                }
            }
        }
        other => return Err(QueryError::Unsupported(other.to_string())),
    })
}

fn convert(op: &str, v: &Bson) -> Result<Bson, QueryError> {
    let fail = || QueryError::BadValue(format!("{op}: unsupported conversion from {} ({v})", type_alias(v)));
    if matches!(v, Bson::Null | Bson::Undefined) {
        return Ok(Bson::Null);
    }
    Ok(match op {
        "$toBool" => Bson::Boolean(truthy(v)),
        "$toDouble" => match v {
            Bson::String(s) => Bson::Double(s.trim().parse().map_err(|_| fail())?),
            Bson::Boolean(b) => Bson::Double(if *b { 1.0 } else { 0.0 }),
            Bson::DateTime(d) => Bson::Double(d.timestamp_millis() as f64),
            v => Bson::Double(as_f64(v).ok_or_else(fail)?),
        },
        _ => {
            let n: i64 = match v {
                Bson::String(s) => s.trim().parse().map_err(|_| fail())?,
                Bson::Boolean(b) => i64::from(*b),
                Bson::Double(d) if d.is_finite() => d.trunc() as i64,
                Bson::Int32(i) => i64::from(*i),
                Bson::Int64(i) => *i,
                Bson::DateTime(d) if op == "$toLong" => d.timestamp_millis(),
                _ => return Err(fail()),
            };
            if op == "$toInt" {
                Bson::Int32(i32::try_from(n).map_err(|_| fail())?)
            } else {
                Bson::Int64(n)
            }
        }
    })
}

fn named<'a>(op: &str, args: &'a [(String, Expr)], key: &str) -> Result<&'a Expr, QueryError> {
    args.iter()
        .find(|(k, _)| k == key)
        .map(|(_, e)| e)
        .ok_or_else(|| QueryError::BadValue(format!("{op} requires '{key}'")))
}

fn named_opt<'a>(args: &'a [(String, Expr)], key: &str) -> Option<&'a Expr> {
    args.iter().find(|(k, _)| k == key).map(|(_, e)| e)
}

fn eval_named(op: &str, args: &[(String, Expr)], ctx: &Ctx) -> Result<Bson, QueryError> {
    let bound = |name: &str, v: Bson| Ctx {
        root: ctx.root,
        vars: ctx.vars.iter().cloned().chain(std::iter::once((name.to_string(), v))).collect(),
    };
    Ok(match op {
        "$cond" => {
            if truthy(&named(op, args, "if")?.eval_in(ctx)?) {
                named(op, args, "then")?.eval_in(ctx)?
            } else {
                named(op, args, "else")?.eval_in(ctx)?
            }
        }
        "$switch" => {
            let Expr::Array(branches) = named(op, args, "branches")? else {
                return Err(QueryError::BadValue("$switch expected an array for 'branches'".into()));
            };
            for b in branches {
                let Expr::Doc(fields) = b else {
                    return Err(QueryError::BadValue("$switch expected each branch to be an object".into()));
                };
                if truthy(&named(op, fields, "case")?.eval_in(ctx)?) {
                    return named(op, fields, "then")?.eval_in(ctx);
                }
            }
            match named_opt(args, "default") {
                Some(d) => d.eval_in(ctx)?,
                None => return Err(QueryError::BadValue("$switch could not find a matching branch for an input, and no default was specified.".into())),
            }
        }
        "$filter" | "$map" => {
            let input = named(op, args, "input")?.eval_in(ctx)?;
            let var = match named_opt(args, "as") {
                Some(Expr::Lit(Bson::String(s))) => s.clone(),
                Some(_) => return Err(QueryError::BadValue(format!("{op}: 'as' must be a string"))),
                None => "this".to_string(),
            };
            let items = match input {
                Bson::Array(a) => a,
                Bson::Null | Bson::Undefined => return Ok(Bson::Null),
                _ => return Err(QueryError::BadValue(format!("input to {op} must be an array"))),
            };
            let body = named(op, args, if op == "$filter" { "cond" } else { "in" })?;
            let mut out = Vec::new();
            for item in items {
                let c = bound(&var, item.clone());
                if op == "$map" {
                    out.push(undef_to_null(body.eval_in(&c)?));
                } else if truthy(&body.eval_in(&c)?) {
                    out.push(item);
                }
            }
            if let Some(limit) = named_opt(args, "limit") {
                let n = as_i64(&limit.eval_in(ctx)?).unwrap_or(i64::MAX).max(0) as usize;
                out.truncate(n);
            }
            Bson::Array(out)
        }
        "$dateToString" => {
            let date = named(op, args, "date")?.eval_in(ctx)?;
            let format = match named_opt(args, "format") {
                Some(f) => match f.eval_in(ctx)? {
                    Bson::String(s) => s,
                    _ => return Err(QueryError::BadValue("$dateToString 'format' must be a string".into())),
                },
                None => "%Y-%m-%dT%H:%M:%S.%LZ".to_string(),
            };
            if named_opt(args, "timezone").is_some() {
                return Err(QueryError::Unsupported("$dateToString timezone".into()));
            }
            match date_ms(op, &date)? {
                Some(ms) => Bson::String(date_to_string(&format, ms)),
                None => match named_opt(args, "onNull") {
                    Some(e) => e.eval_in(ctx)?,
                    None => Bson::Null,
                },
            }
        }
        other => return Err(QueryError::Unsupported(other.to_string())),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use bson::{bson, doc};

    fn ev(expr: Bson, d: &Document) -> Result<Bson, QueryError> {
        Expr::parse(&expr)?.eval(d)
    }

    #[test]
    fn table_of_expressions() {
        let d = doc! {"a": 5, "b": 2.5, "s": "Hello", "arr": [1, 2, 3], "items": [{"x": 1}, {"x": 2}],
            "dt": bson::DateTime::from_millis(1_700_000_000_123), "n": null};
        let table: Vec<(Bson, Bson)> = vec![
            (bson!({"$add": ["$a", 1]}), bson!(6)),
            (bson!({"$add": ["$a", "$b"]}), bson!(7.5)),
            (bson!({"$subtract": ["$a", 7]}), bson!(-2)),
            (bson!({"$multiply": ["$a", 2_i64]}), bson!(10_i64)),
            (bson!({"$divide": ["$a", 2]}), bson!(2.5)),
            (bson!({"$mod": ["$a", 3]}), bson!(2)),
            (bson!({"$add": ["$missing", 1]}), Bson::Null),
            (bson!({"$gt": ["$a", 4]}), bson!(true)),
            (bson!({"$cmp": ["$s", "A"]}), bson!(1)),
            (bson!({"$cond": [{"$gte": ["$a", 5]}, "big", "small"]}), bson!("big")),
            (bson!({"$cond": {"if": false, "then": 1, "else": 2}}), bson!(2)),
            (bson!({"$ifNull": ["$n", "$missing", "dflt"]}), bson!("dflt")),
            (bson!({"$switch": {"branches": [{"case": {"$lt": ["$a", 3]}, "then": "lo"}], "default": "hi"}}), bson!("hi")),
            (bson!({"$concat": ["$s", " ", "w"]}), bson!("Hello w")),
            (bson!({"$toUpper": "$s"}), bson!("HELLO")),
            (bson!({"$substrCP": ["$s", 1, 3]}), bson!("ell")),
            (bson!({"$split": ["a,b", ","]}), bson!(["a", "b"])),
            (bson!({"$strLenCP": "$s"}), bson!(5)),
            (bson!({"$size": "$arr"}), bson!(3)),
            (bson!({"$arrayElemAt": ["$arr", -1]}), bson!(3)),
            (bson!({"$filter": {"input": "$arr", "as": "v", "cond": {"$gt": ["$$v", 1]}}}), bson!([2, 3])),
            (bson!({"$map": {"input": "$arr", "in": {"$multiply": ["$$this", 10]}}}), bson!([10, 20, 30])),
            (bson!({"$in": [2, "$arr"]}), bson!(true)),
            (bson!({"$slice": ["$arr", -2]}), bson!([2, 3])),
            (bson!("$items.x"), bson!([1, 2])),
            (bson!({"$type": "$b"}), bson!("double")),
            (bson!({"$type": "$zz"}), bson!("missing")),
            (bson!({"$toString": "$a"}), bson!("5")),
            (bson!({"$toInt": "42"}), bson!(42)),
            (bson!({"$toDouble": "$a"}), bson!(5.0)),
            (bson!({"$year": "$dt"}), bson!(2023)),
            (bson!({"$month": "$dt"}), bson!(11)),
            (bson!({"$dayOfMonth": "$dt"}), bson!(14)),
            (bson!({"$dateToString": {"format": "%Y-%m-%d %H:%M:%S.%L", "date": "$dt"}}), bson!("2023-11-14 22:13:20.123")),
            (bson!({"$sum": "$arr"}), bson!(6)),
            (bson!({"$avg": "$arr"}), bson!(2.0)),
            (bson!({"$max": "$arr"}), bson!(3)),
            (bson!({"$literal": "$a"}), bson!("$a")),
            (bson!({"$round": [2.5]}), bson!(2.0)),
        ];
        for (expr, want) in table {
            let got = ev(expr.clone(), &d).expect("eval");
            assert!(values_equal(&got, &want) && type_rank(&got) == type_rank(&want), "{expr}: got {got}, want {want}");
        }
        assert_eq!(ev(bson!({"$frobnicate": 1}), &d).err(), Some(QueryError::Unsupported("$frobnicate".into())));
        assert!(ev(bson!({"$divide": [1, 0]}), &d).is_err());
    }
}
