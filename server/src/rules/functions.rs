//! `%function` in rule expressions: `{"%function": {"name": "f", "arguments": [...]}}` evaluates to
//! the function's result, and a function that fails makes the whole expression false.
//!
//! Rules are evaluated synchronously, per document, while the store is locked, where no JavaScript
//! may run (a function reading MongoDB would wait for the lock it is called under). So a rule set's
//! calls are resolved once per request, before the store is touched: their arguments may use only
//! what is known before any document is read (`%%user`, `%%values`, literals), and the loader refuses
//! any other expansion there (`%%root`, `%%prevRoot`, …) naming the file and key. Evaluation then
//! looks the results up; a call that was not resolved counts as failed, so it never grants anything.

use super::expression::{is_expansion, Scope};
use super::UserContext;
use bson::{Bson, Document};
use std::future::Future;
use std::path::PathBuf;
use std::pin::Pin;

/// The operator.
pub const FUNCTION: &str = "%function";

/// Expansions a `%function` argument may use (resolved before any document is read).
const ARGUMENT_EXPANSIONS: [&str; 4] = ["user", "values", "true", "false"];

/// One `%function` call of a rule set.
#[derive(Debug, Clone)]
pub struct FunctionCall {
    /// The operator's value as written (`{"name": …, "arguments": […]}`): evaluation finds the
    /// call's result by it.
    pub spec: Document,
    /// The function.
    pub name: String,
    /// Its arguments as written (values and expansions).
    pub arguments: Vec<Bson>,
    /// The rules file it is in.
    pub file: PathBuf,
    /// Where in that file (`roles[0].apply_when`).
    pub key: String,
}

impl FunctionCall {
    /// The arguments for `user`, with `%%user…` and `%%values…` expanded (`values`: the app's
    /// values by name).
    pub fn arguments_for(&self, user: &UserContext, values: &Document) -> Vec<Bson> {
        let scope = Scope { user: user.as_doc(), values: Some(values), ..Scope::default() };
        self.arguments.iter().map(|a| scope.literal(a)).collect()
    }
}

/// The operator's value when `v` is a `%function` expression.
pub(super) fn as_call(v: &Bson) -> Option<&Document> {
    match v {
        Bson::Document(d) if d.len() == 1 => match d.get(FUNCTION) {
            Some(Bson::Document(spec)) => Some(spec),
            _ => None,
        },
        _ => None,
    }
}

/// Reads a `%function` operator's value (`key` locates it in `file`, for errors).
pub(super) fn parse_call(file: &std::path::Path, key: &str, spec: &Document) -> Result<FunctionCall, String> {
    if let Some(k) = spec.keys().find(|k| !matches!(k.as_str(), "name" | "arguments")) {
        return Err(format!("%function: unknown key '{k}' (expected name and arguments)"));
    }
    let name = match spec.get("name") {
        Some(Bson::String(s)) if !s.is_empty() => s.clone(),
        _ => return Err("%function: 'name' must be a function name".into()),
    };
    let arguments = match spec.get("arguments") {
        None => Vec::new(),
        Some(Bson::Array(a)) => a.clone(),
        Some(_) => return Err(format!("%function '{name}': 'arguments' must be an array")),
    };
    for a in &arguments {
        check_argument(&name, a)?;
    }
    Ok(FunctionCall { spec: spec.clone(), name, arguments, file: file.to_path_buf(), key: key.to_string() })
}

fn check_argument(name: &str, v: &Bson) -> Result<(), String> {
    match v {
        Bson::String(s) if is_expansion(s) => {
            let head = s[2..].split('.').next().unwrap_or_default();
            if ARGUMENT_EXPANSIONS.contains(&head) {
                Ok(())
            } else {
                Err(format!(
                    "%function '{name}': argument {s} is not supported: realm-wasm-server calls rule functions once per request, \
                     before any document is read, so their arguments may use only %%user, %%values and literal values; \
                     compare the function's result with the document instead (e.g. {{\"owner\": {{\"%function\": …}}}}) or use $expr"
                ))
            }
        }
        v if as_call(v).is_some() => Err(format!("%function '{name}': a %function inside another's arguments is not supported")),
        Bson::Document(d) => d.values().try_for_each(|v| check_argument(name, v)),
        Bson::Array(a) => a.iter().try_for_each(|v| check_argument(name, v)),
        _ => Ok(()),
    }
}

/// The results of one request's `%function` calls: a value, or `None` for a call that failed.
#[derive(Debug, Default, Clone, PartialEq)]
pub struct FunctionResults(Vec<(Document, Option<Bson>)>);

impl FunctionResults {
    /// Adds the result of the call written as `spec`.
    pub fn insert(&mut self, spec: Document, result: Option<Bson>) {
        self.0.push((spec, result));
    }

    /// Whether the call written as `spec` has a result (or failed).
    pub fn contains(&self, spec: &Document) -> bool {
        self.0.iter().any(|(s, _)| s == spec)
    }

    /// The result of the call written as `spec`; `None` when it failed or was not resolved.
    pub fn get(&self, spec: &Document) -> Option<&Bson> {
        self.0.iter().find(|(s, _)| s == spec).and_then(|(_, r)| r.as_ref())
    }

    /// How many calls are known.
    pub fn len(&self) -> usize {
        self.0.len()
    }

    /// Whether no call is known.
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
}

/// Runs the functions `%function` names (the server's function runtime; rules do not depend on it).
pub trait RuleFunctions: Send + Sync {
    /// Runs `call` for `user`; resolves to its result, or `None` when it failed (threw, timed out,
    /// does not exist…), which makes the expressions using it false.
    fn call(&self, call: &FunctionCall, user: &UserContext) -> Pin<Box<dyn Future<Output = Option<Bson>> + Send>>;
}

/// Resolves `calls` for `user` (concurrently; the ones `user` already has are skipped): `user`
/// with their results, or `None` when there was nothing to resolve.
pub async fn resolve(runner: &dyn RuleFunctions, calls: &[&FunctionCall], user: &UserContext) -> Option<UserContext> {
    let known = user.functions.as_deref();
    let mut todo: Vec<&FunctionCall> = Vec::new();
    for c in calls {
        if !known.is_some_and(|k| k.contains(&c.spec)) && !todo.iter().any(|t| t.spec == c.spec) {
            todo.push(c);
        }
    }
    if todo.is_empty() {
        return None;
    }
    let results = futures_util::future::join_all(todo.iter().map(|c| runner.call(c, user))).await;
    let mut all = known.cloned().unwrap_or_default();
    for (c, r) in todo.iter().zip(results) {
        all.insert(c.spec.clone(), r);
    }
    Some(user.with_function_results(all))
}
