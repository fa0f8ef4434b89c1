//! Evaluating rule expressions (`apply_when`, document filters, permission expressions): a match
//! document whose `%%` expansions are resolved for one caller and one document.
//!
//! An expanded value is always data: it is compared as a literal value and never read as a
//! query operator, a regular expression, a sub-query or an aggregation field path. The
//! expression is therefore not built by substituting values into the document and parsing the
//! result (a user whose custom data holds `{"$exists": true}` would widen their own filter), but
//! compiled into a `Filter` where each expanded value lands in a literal position.

use super::functions::{as_call, FunctionResults, FUNCTION};
use crate::query::{parse_conds, Cond, ElemMatch, Expr, Filter, InItem, QueryError};
use bson::{Bson, Document};
use std::cell::Cell;

/// What expansions resolve against: the caller, the document and its previous version, and for
/// expressions outside collection rules (a function's `can_evaluate`) the call's arguments, its
/// HTTP request and the app's values.
pub(super) struct Scope<'a> {
    /// `%%user` as one document.
    pub user: &'a Document,
    /// `%%root`.
    pub root: &'a Document,
    /// `%%prevRoot`.
    pub prev: Option<&'a Document>,
    /// `%%args` (`%%args.0` is the first argument).
    pub args: &'a [Bson],
    /// `%%request`.
    pub request: Option<&'a Document>,
    /// `%%values`.
    pub values: Option<&'a Document>,
    /// The request's `%function` results.
    pub functions: Option<&'a FunctionResults>,
    /// Set when a `%function` the expression uses failed (or was not resolved): it is then false.
    pub failed: Cell<bool>,
}

impl Default for Scope<'_> {
    fn default() -> Self {
        static EMPTY: std::sync::LazyLock<Document> = std::sync::LazyLock::new(Document::new);
        Scope { user: &EMPTY, root: &EMPTY, prev: None, args: &[], request: None, values: None, functions: None, failed: Cell::new(false) }
    }
}

/// Whether `s` is an expansion (`%%user.id`, `%%root`, …).
pub(super) fn is_expansion(s: &str) -> bool {
    s.starts_with("%%")
}

impl Scope<'_> {
    /// The value of one expansion; unknown ones stay the literal string.
    fn resolve(&self, s: &str) -> Bson {
        let at = |d: &Document, path: Option<&str>| match path {
            None => Bson::Document(d.clone()),
            Some(p) => crate::query::path_value(d, p).unwrap_or(Bson::Null),
        };
        let (head, path) = match s[2..].split_once('.') {
            Some((h, p)) => (h, Some(p)),
            None => (&s[2..], None),
        };
        match head {
            "true" => Bson::Boolean(true),
            "false" => Bson::Boolean(false),
            "user" => at(self.user, path),
            "root" => at(self.root, path),
            "prevRoot" => self.prev.map(|p| at(p, path)).unwrap_or(Bson::Null),
            "args" => match path {
                None => Bson::Array(self.args.to_vec()),
                Some(p) => {
                    let indexed: Document = self.args.iter().enumerate().map(|(i, v)| (i.to_string(), v.clone())).collect();
                    at(&indexed, Some(p))
                }
            },
            "request" => self.request.map(|r| at(r, path)).unwrap_or(Bson::Null),
            "values" => self.values.map(|v| at(v, path)).unwrap_or(Bson::Null),
            _ => Bson::String(s.to_string()),
        }
    }

    /// The result of a `%function` call (`spec`: the operator's value); Null, and the expression
    /// false, when it failed.
    fn function_result(&self, spec: &Document) -> Bson {
        match self.functions.and_then(|f| f.get(spec)) {
            Some(v) => v.clone(),
            None => {
                self.failed.set(true);
                Bson::Null
            }
        }
    }

    /// `v` with every expansion replaced by its value (for positions that take a literal).
    pub(super) fn literal(&self, v: &Bson) -> Bson {
        if let Some(spec) = as_call(v) {
            return self.function_result(spec);
        }
        match v {
            Bson::String(s) if is_expansion(s) => self.resolve(s),
            Bson::Document(d) => Bson::Document(d.iter().map(|(k, v)| (k.clone(), self.literal(v))).collect()),
            Bson::Array(a) => Bson::Array(a.iter().map(|v| self.literal(v)).collect()),
            other => other.clone(),
        }
    }

    /// An aggregation expression with every expansion wrapped in `$literal`, so a value such as
    /// `"$salary"` stays a string instead of naming a field.
    fn expression(&self, v: &Bson) -> Bson {
        if let Some(spec) = as_call(v) {
            return Bson::Document(bson::doc! {"$literal": self.function_result(spec)});
        }
        match v {
            Bson::String(s) if is_expansion(s) => Bson::Document(bson::doc! {"$literal": self.resolve(s)}),
            Bson::Document(d) if d.keys().next().is_some_and(|k| k == "$literal") => {
                Bson::Document(d.iter().map(|(k, v)| (k.clone(), self.literal(v))).collect())
            }
            Bson::Document(d) => Bson::Document(d.iter().map(|(k, v)| (k.clone(), self.expression(v))).collect()),
            Bson::Array(a) => Bson::Array(a.iter().map(|v| self.expression(v)).collect()),
            other => other.clone(),
        }
    }

    /// Whether `expr` holds for the document. A malformed expression holds for nobody.
    pub(super) fn matches(&self, expr: &Document) -> bool {
        // `%%…` keys become synthetic fields of a probe document, so one filter evaluates all.
        let mut probe = self.root.clone();
        let mut synthetic = 0;
        let filter = self.filter(expr, &mut probe, &mut synthetic);
        !self.failed.get() && filter.is_ok_and(|f| f.matches(&probe))
    }

    fn filter(&self, m: &Document, probe: &mut Document, synthetic: &mut usize) -> Result<Filter, QueryError> {
        let mut parts = Vec::with_capacity(m.len());
        for (key, value) in m {
            parts.push(match key.as_str() {
                "$and" | "$or" | "$nor" => {
                    let Bson::Array(items) = value else {
                        return Err(QueryError::BadValue(format!("{key} argument must be an array")));
                    };
                    let list = items
                        .iter()
                        .map(|i| match i {
                            Bson::Document(d) => self.filter(d, probe, synthetic),
                            _ => Err(QueryError::BadValue(format!("{key} argument's entries must be objects"))),
                        })
                        .collect::<Result<Vec<_>, _>>()?;
                    match key.as_str() {
                        "$and" => Filter::And(list),
                        "$or" => Filter::Or(list),
                        _ => Filter::Nor(list),
                    }
                }
                "$expr" => Filter::Expr(Expr::parse(&self.expression(value))?),
                "$comment" => continue,
                k if is_expansion(k) => {
                    let name = format!("\u{1}rule{synthetic}");
                    *synthetic += 1;
                    probe.insert(name.clone(), self.resolve(k));
                    Filter::Field(name, self.conds(value)?)
                }
                // `{"%function": …}` on its own: the function must return true.
                FUNCTION => {
                    let Bson::Document(spec) = value else { return Err(QueryError::BadValue("%function needs an object".into())) };
                    let name = format!("\u{1}rule{synthetic}");
                    *synthetic += 1;
                    probe.insert(name.clone(), self.function_result(spec));
                    Filter::Field(name, vec![Cond::Eq(Bson::Boolean(true))])
                }
                k if k.starts_with('$') => return Err(QueryError::Unsupported(k.to_string())),
                k => Filter::Field(k.to_string(), self.conds(value)?),
            });
        }
        Ok(if parts.len() == 1 { parts.remove(0) } else { Filter::And(parts) })
    }

    /// The conditions of one field. Written values keep their query meaning; expanded values are
    /// compared as literals wherever they land.
    fn conds(&self, value: &Bson) -> Result<Vec<Cond>, QueryError> {
        if !holds_expansion(value) {
            return parse_conds(value);
        }
        let ops = match value {
            Bson::Document(d) if d.keys().next().is_some_and(|k| k.starts_with('$')) => d,
            // `{field: "%%user.x"}`, or a written document/array with expansions inside: equality.
            other => return Ok(vec![Cond::Eq(self.literal(other))]),
        };
        let mut conds = Vec::with_capacity(ops.len());
        let mut plain = Document::new();
        for (op, arg) in ops {
            match op.as_str() {
                "$in" | "$nin" => {
                    let expanded = match arg {
                        Bson::String(s) if is_expansion(s) => Some(self.resolve(s)),
                        v if as_call(v).is_some() => Some(self.literal(v)),
                        _ => None,
                    };
                    let items = match (expanded, arg) {
                        (Some(Bson::Array(values)), _) => values.into_iter().map(InItem::Value).collect(),
                        (Some(other), _) => vec![InItem::Value(other)],
                        (None, Bson::Array(items)) => items
                            .iter()
                            .map(|i| match i {
                                Bson::String(s) if is_expansion(s) => Ok(InItem::Value(self.resolve(s))),
                                v if as_call(v).is_some() => Ok(InItem::Value(self.literal(v))),
                                written => in_item(written),
                            })
                            .collect::<Result<_, _>>()?,
                        (None, _) => return Err(QueryError::BadValue(format!("{op} needs an array"))),
                    };
                    conds.push(if op == "$in" { Cond::In(items) } else { Cond::Nin(items) });
                }
                "$all" => match self.literal(arg) {
                    Bson::Array(values) => conds.push(Cond::All(values)),
                    _ => return Err(QueryError::BadValue("$all needs an array".into())),
                },
                "$not" => conds.push(Cond::Not(self.conds(arg)?)),
                "$elemMatch" => {
                    let Bson::Document(d) = arg else { return Err(QueryError::BadValue("$elemMatch needs an Object".into())) };
                    let value_form = d.keys().next().is_some_and(|k| k.starts_with('$') && !matches!(k.as_str(), "$and" | "$or" | "$nor" | "$expr"));
                    conds.push(Cond::ElemMatch(Box::new(if value_form {
                        ElemMatch::Conds(self.conds(arg)?)
                    } else {
                        // Expansion keys inside an element query would probe the element, not the
                        // document: not supported there (the rule loader refuses them).
                        let mut unused = Document::new();
                        ElemMatch::Query(self.filter(d, &mut unused, &mut 0)?)
                    })));
                }
                // `$eq`, `$gt`, … take their argument as a value; `$exists`, `$type`, `$size`, `$mod`
                // as a flag, type name or number; `$regex` as the pattern the rule asks for.
                _ => {
                    plain.insert(op.clone(), self.literal(arg));
                }
            }
        }
        if !plain.is_empty() {
            conds.extend(literal_conds(&plain)?);
        }
        Ok(conds)
    }
}

/// Conditions from operators whose arguments are values: `$eq: V` is a literal comparison even
/// when `V` is a document that looks like an operator.
fn literal_conds(ops: &Document) -> Result<Vec<Cond>, QueryError> {
    let mut conds = Vec::new();
    let mut rest = Document::new();
    for (op, v) in ops {
        match op.as_str() {
            "$eq" => conds.push(Cond::Eq(v.clone())),
            "$ne" => conds.push(Cond::Ne(v.clone())),
            "$gt" => conds.push(Cond::Gt(v.clone())),
            "$gte" => conds.push(Cond::Gte(v.clone())),
            "$lt" => conds.push(Cond::Lt(v.clone())),
            "$lte" => conds.push(Cond::Lte(v.clone())),
            _ => {
                rest.insert(op.clone(), v.clone());
            }
        }
    }
    if !rest.is_empty() {
        conds.extend(parse_conds(&Bson::Document(rest))?);
    }
    Ok(conds)
}

/// A written (not expanded) `$in` entry: a value or a regular expression.
fn in_item(v: &Bson) -> Result<InItem, QueryError> {
    match parse_conds(&Bson::Document(bson::doc! {"$in": [v.clone()]}))?.pop() {
        Some(Cond::In(mut items)) if items.len() == 1 => items.pop().ok_or_else(|| QueryError::BadValue("$in".into())),
        _ => Err(QueryError::BadValue("invalid $in entry".into())),
    }
}

fn holds_expansion(v: &Bson) -> bool {
    if as_call(v).is_some() {
        return true;
    }
    match v {
        Bson::String(s) => is_expansion(s),
        Bson::Document(d) => d.iter().any(|(k, v)| is_expansion(k) || holds_expansion(v)),
        Bson::Array(a) => a.iter().any(holds_expansion),
        _ => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use bson::doc;

    fn holds(expr: Document, user: Document, root: Document) -> bool {
        Scope { user: &user, root: &root, ..Scope::default() }.matches(&expr)
    }

    /// Custom data, token claims and documents are data: whatever they hold, an expansion matches
    /// only the equal value.
    #[test]
    fn expanded_values_never_act_as_operators() {
        let rule = doc! {"team": "%%user.custom_data.team"};
        let user = |team: Bson| doc! {"id": "u", "custom_data": {"team": team}};
        let red = doc! {"_id": 1, "team": "red"};
        assert!(holds(rule.clone(), user(Bson::String("red".into())), red.clone()));
        let hostile = [
            Bson::Document(doc! {"$exists": true}),
            Bson::Document(doc! {"$ne": "blue"}),
            Bson::Document(doc! {"$in": ["red", "blue"]}),
            Bson::Document(doc! {"$regex": ".*"}),
            Bson::Document(doc! {"$gt": ""}),
            Bson::RegularExpression(bson::Regex { pattern: ".*".into(), options: String::new() }),
        ];
        for h in &hostile {
            assert!(!holds(rule.clone(), user(h.clone()), red.clone()), "{h} matched team: red");
        }
        // The same value stored literally does match: it is compared, not interpreted.
        assert!(holds(rule.clone(), user(hostile[0].clone()), doc! {"_id": 2, "team": {"$exists": true}}));
        // In `$in` lists, under `$not`, `$eq`, `$elemMatch` and with expansion keys.
        let in_rule = doc! {"team": {"$in": "%%user.custom_data.teams"}};
        let re = Bson::RegularExpression(bson::Regex { pattern: ".*".into(), options: String::new() });
        assert!(!holds(in_rule.clone(), doc! {"custom_data": {"teams": [re.clone()]}}, red.clone()), "regex in an expanded $in list");
        assert!(holds(in_rule, doc! {"custom_data": {"teams": ["blue", "red"]}}, red.clone()));
        let item_rule = doc! {"team": {"$in": ["blue", "%%user.custom_data.team"]}};
        assert!(!holds(item_rule.clone(), user(re.clone()), red.clone()));
        assert!(holds(item_rule, user(Bson::String("red".into())), red.clone()));
        let not_rule = doc! {"team": {"$not": {"$eq": "%%user.custom_data.team"}}};
        assert!(holds(not_rule.clone(), user(Bson::Document(doc! {"$exists": true})), red.clone()));
        assert!(!holds(not_rule, user(Bson::String("red".into())), red.clone()));
        let key_rule = doc! {"%%user.custom_data.team": "%%root.team"};
        assert!(!holds(key_rule.clone(), user(Bson::String("blue".into())), doc! {"team": {"$ne": "x"}}));
        assert!(holds(key_rule, user(Bson::String("red".into())), red.clone()));
        let elem = doc! {"members": {"$elemMatch": {"$eq": "%%user.id"}}};
        assert!(!holds(elem.clone(), doc! {"id": {"$exists": true}}, doc! {"members": ["a"]}));
        assert!(holds(elem, doc! {"id": "a"}, doc! {"members": ["a"]}));
    }

    #[test]
    fn expanded_values_in_expr_are_literals_not_field_paths() {
        let rule = doc! {"$expr": {"$eq": ["$owner", "%%user.id"]}};
        // A user id (or claim) shaped like a field path must not compare the field with itself.
        assert!(!holds(rule.clone(), doc! {"id": "$owner"}, doc! {"owner": "someone"}));
        assert!(holds(rule.clone(), doc! {"id": "someone"}, doc! {"owner": "someone"}));
        assert!(!holds(rule, doc! {"id": {"$literal": "someone"}}, doc! {"owner": "someone"}));
        let written = doc! {"$expr": {"$eq": ["$owner", {"$literal": "%%user.id"}]}};
        assert!(holds(written, doc! {"id": "x"}, doc! {"owner": "x"}));
    }

    #[test]
    fn written_operators_keep_their_meaning() {
        assert!(holds(doc! {"n": {"$gt": "%%user.custom_data.min", "$lt": 10}}, doc! {"custom_data": {"min": 3}}, doc! {"n": 5}));
        assert!(!holds(doc! {"n": {"$gt": "%%user.custom_data.min"}}, doc! {"custom_data": {"min": 7}}, doc! {"n": 5}));
        assert!(holds(doc! {"name": {"$regex": "^a"}, "owner": "%%user.id"}, doc! {"id": "u"}, doc! {"name": "ab", "owner": "u"}));
        assert!(holds(doc! {"$or": [{"owner": "%%user.id"}, {"public": true}]}, doc! {"id": "v"}, doc! {"owner": "u", "public": true}));
        assert!(holds(doc! {"%%true": true}, doc! {}, doc! {}));
        assert!(!holds(doc! {"%%false": true}, doc! {}, doc! {}));
        assert!(!holds(doc! {"n": {"$frob": 1}}, doc! {}, doc! {"n": 1}), "malformed: holds for nobody");
    }
}
