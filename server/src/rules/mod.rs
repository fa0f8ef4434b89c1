//! Access rules in the App Services format: roles chosen per document by `apply_when`, document
//! filters, document-level `read/write/insert/delete/search` and field-level `fields` /
//! `additional_fields`, with `%%` expansions (`%%user.id`, `%%user.data.*`, `%%user.custom_data.*`,
//! `%%user.identities`, `%%root`, `%%prevRoot`, `%%true`, `%%false`) and `%function` calls
//! (`functions`: resolved once per request, before the store is read).
//!
//! Loaded from an app export (`data_sources/mongodb-atlas/**/rules.json` and `default_rule.json`)
//! or built in for the default app. A namespace with no rule and no default rule is denied.

mod expression;
mod functions;
mod load;

use expression::Scope;
pub use functions::{resolve as resolve_functions, FunctionCall, FunctionResults, RuleFunctions};
pub use load::RulesError;

use bson::{doc, Bson, Document};
use std::borrow::Cow;
use std::collections::HashMap;

/// The caller, as rule expansions see it.
#[derive(Debug, Clone, Default)]
pub struct UserContext {
    /// `%%user.id`.
    pub id: String,
    /// `%%user.data` (profile data: email, name, …).
    pub data: Document,
    /// `%%user.custom_data`.
    pub custom_data: Document,
    /// `%%user.identities`.
    pub identities: Vec<Bson>,
    /// The above as one document, built once per call.
    doc: std::sync::OnceLock<Document>,
    /// The request's `%function` results (resolved before the store is read).
    functions: Option<std::sync::Arc<FunctionResults>>,
}

impl UserContext {
    /// A user known only by id (no profile data, no custom data).
    pub fn with_id(id: &str) -> UserContext {
        UserContext { id: id.to_string(), ..Default::default() }
    }

    /// A user with profile data, custom data and identities.
    pub fn new(id: &str, data: Document, custom_data: Document, identities: Vec<Bson>) -> UserContext {
        UserContext { id: id.to_string(), data, custom_data, identities, doc: std::sync::OnceLock::new(), functions: None }
    }

    /// This user with the request's `%function` results.
    pub fn with_function_results(&self, results: FunctionResults) -> UserContext {
        UserContext { functions: Some(std::sync::Arc::new(results)), ..self.clone() }
    }

    /// The request's `%function` results, if resolved.
    pub fn function_results(&self) -> Option<&FunctionResults> {
        self.functions.as_deref()
    }

    fn as_doc(&self) -> &Document {
        self.doc.get_or_init(|| {
            doc! {"id": &self.id, "data": self.data.clone(), "custom_data": self.custom_data.clone(), "identities": self.identities.clone()}
        })
    }
}

/// What a rule expression outside the collection rules sees (a function's `can_evaluate`):
/// `%%user` (absent: no caller), `%%args`, `%%request`, `%%values`.
#[derive(Debug, Default)]
pub struct ExpressionInputs<'a> {
    /// The caller.
    pub user: Option<&'a UserContext>,
    /// The call's arguments.
    pub args: &'a [Bson],
    /// The HTTP request, as `context.request` shows it.
    pub request: Option<&'a Document>,
    /// The app's values by name.
    pub values: Option<&'a Document>,
}

/// Evaluates a standalone rule expression: `true`/`false`, `{}` (true) or a match document over
/// `%%` expansions; anything else is false.
pub fn evaluate(expr: &Bson, inputs: &ExpressionInputs) -> bool {
    let empty = Document::new();
    match expr {
        Bson::Boolean(b) => *b,
        Bson::Document(d) if d.is_empty() => true,
        Bson::Document(d) => {
            let user = inputs.user.map(UserContext::as_doc).unwrap_or(&empty);
            let functions = inputs.user.and_then(UserContext::function_results);
            Scope { user, args: inputs.args, request: inputs.request, values: inputs.values, functions, ..Scope::default() }.matches(d)
        }
        _ => false,
    }
}

/// A boolean rule: a constant, or an expression (a match document over `%%` expansions and the document).
#[derive(Debug, Clone)]
pub enum RuleExpr {
    Const(bool),
    Match(Document),
}

/// Field-level permission.
#[derive(Debug, Clone)]
pub struct FieldPerm {
    pub read: RuleExpr,
    pub write: RuleExpr,
}

/// One role.
#[derive(Debug, Clone)]
pub struct Role {
    pub name: String,
    pub apply_when: RuleExpr,
    pub read_filter: Option<Document>,
    pub write_filter: Option<Document>,
    pub read: RuleExpr,
    pub write: RuleExpr,
    pub insert: RuleExpr,
    pub delete: RuleExpr,
    pub search: RuleExpr,
    pub fields: Vec<(String, FieldPerm)>,
    pub additional_fields: FieldPerm,
}

/// The roles of one namespace (or of the default rule).
#[derive(Debug, Clone)]
pub struct CollectionRules {
    pub roles: Vec<Role>,
}

/// Every rule of an app.
#[derive(Debug, Clone, Default)]
pub struct RuleSet {
    pub namespaces: HashMap<(String, String), CollectionRules>,
    pub default_rule: Option<CollectionRules>,
    /// Which user expansions the rules use (computed once).
    uses: std::sync::OnceLock<(bool, bool)>,
    /// The `%function` calls of each namespace's rules (`None`: the default rule's).
    calls: HashMap<Option<(String, String)>, Vec<FunctionCall>>,
}

/// Why an operation was refused by the rules.
#[derive(Debug, thiserror::Error, PartialEq)]
pub enum RuleError {
    /// No rule for the namespace and no default rule.
    #[error("no rule exists for namespace '{0}'")]
    NoMatchingRule(String),
    /// A role exists but does not allow this operation on this document.
    #[error("{op} not permitted: {reason}")]
    NotPermitted {
        /// operation
        op: &'static str,
        /// why
        reason: String,
    },
}

const TRUE: RuleExpr = RuleExpr::Const(true);
const FALSE: RuleExpr = RuleExpr::Const(false);

impl Role {
    /// A role granting everything to everyone.
    pub fn all_access(name: &str) -> Role {
        Role {
            name: name.to_string(),
            apply_when: TRUE,
            read_filter: None,
            write_filter: None,
            read: TRUE,
            write: TRUE,
            insert: TRUE,
            delete: TRUE,
            search: TRUE,
            fields: Vec::new(),
            additional_fields: FieldPerm { read: FALSE, write: FALSE },
        }
    }
}

impl RuleSet {
    /// The rules of one MongoDB data source of an app export.
    pub fn from_data_source(source: &crate::config::DataSource) -> Result<RuleSet, RulesError> {
        load::from_data_source(source)
    }

    /// The built-in default app: `app.users` owner-only on `userID`, everything else open to
    /// any logged-in user (see [`RuleSet::open_access_warning`]).
    pub fn default_app() -> RuleSet {
        // `$expr` equality compares whole values: a `userID` array holding several ids (which a
        // plain `{userID: id}` query would match for each of them) belongs to nobody.
        let owner = doc! {"$expr": {"$eq": ["$userID", {"$literal": "%%user.id"}]}};
        let owner_role = Role {
            read_filter: Some(owner.clone()),
            write_filter: Some(owner),
            ..Role::all_access("owner")
        };
        let mut namespaces = HashMap::new();
        namespaces.insert(("app".to_string(), "users".to_string()), CollectionRules { roles: vec![owner_role] });
        RuleSet::new(namespaces, Some(CollectionRules { roles: vec![Role::all_access("logged-in user")] }))
    }

    /// A rule set from per-namespace rules and an optional default rule.
    pub fn new(namespaces: HashMap<(String, String), CollectionRules>, default_rule: Option<CollectionRules>) -> RuleSet {
        RuleSet { namespaces, default_rule, uses: std::sync::OnceLock::new(), calls: HashMap::new() }
    }

    /// This rule set with the `%function` calls its rules make (`None`: the default rule's).
    pub fn with_function_calls(mut self, calls: HashMap<Option<(String, String)>, Vec<FunctionCall>>) -> RuleSet {
        self.calls = calls;
        self
    }

    /// A warning when the default rule opens every other namespace to any logged-in user.
    pub fn open_access_warning(&self) -> Option<String> {
        let rule = self.default_rule.as_ref()?;
        let open = rule.roles.iter().any(|r| matches!(r.apply_when, RuleExpr::Const(true)) && r.read_filter.is_none() && matches!(r.read, RuleExpr::Const(true)) && matches!(r.write, RuleExpr::Const(true)));
        open.then(|| {
            let mut ruled: Vec<String> = self.namespaces.keys().map(|(d, c)| format!("{d}.{c}")).collect();
            ruled.sort();
            format!("rules: every namespace except [{}] is readable and writable by any logged-in user (default rule)", ruled.join(", "))
        })
    }

    /// The roles governing `db.coll`.
    pub fn for_namespace(&self, db: &str, coll: &str) -> Result<&CollectionRules, RuleError> {
        self.namespaces
            .get(&(db.to_string(), coll.to_string()))
            .or(self.default_rule.as_ref())
            .ok_or_else(|| RuleError::NoMatchingRule(format!("{db}.{coll}")))
    }

    /// Whether any rule uses `%%user.data` or `%%user.identities` (so the caller's profile is needed).
    pub fn needs_profile(&self) -> bool {
        self.uses().0
    }

    /// (`needs_profile`, `needs_custom_data`): what of the caller these rules read.
    pub fn needs(&self) -> (bool, bool) {
        self.uses()
    }

    /// Whether any rule uses `%%user.custom_data`.
    pub fn needs_custom_data(&self) -> bool {
        self.uses().1
    }

    fn uses(&self) -> (bool, bool) {
        *self.uses.get_or_init(|| {
            let text = format!("{:?}", (&self.namespaces, &self.default_rule));
            // `"%%user"` on its own (a `%function` argument) is the whole user.
            let whole = text.contains("\"%%user\"");
            (whole || text.contains("%%user.data") || text.contains("%%user.identities"), whole || text.contains("%%user.custom_data"))
        })
    }

    /// The `%function` calls a request on `db.coll` may evaluate; with `any_namespace` (a pipeline
    /// can read other namespaces), those of every rule.
    pub fn function_calls(&self, db: &str, coll: &str, any_namespace: bool) -> Vec<&FunctionCall> {
        if any_namespace {
            return self.calls.values().flatten().collect();
        }
        let key = (db.to_string(), coll.to_string());
        let own = if self.namespaces.contains_key(&key) { Some(key) } else { None };
        self.calls.get(&own).map(|c| c.iter().collect()).unwrap_or_default()
    }

    /// Whether any rule calls `%function`.
    pub fn calls_functions(&self) -> bool {
        self.calls.values().any(|c| !c.is_empty())
    }
}

impl RuleExpr {
    fn eval(&self, user: &UserContext, root: &Document, prev: Option<&Document>) -> bool {
        match self {
            RuleExpr::Const(b) => *b,
            RuleExpr::Match(m) => matches(m, user, root, prev),
        }
    }
}

/// Whether expression `m` holds for `user` on `root` (previous version `prev`).
fn matches(m: &Document, user: &UserContext, root: &Document, prev: Option<&Document>) -> bool {
    Scope { user: user.as_doc(), root, prev, functions: user.function_results(), ..Scope::default() }.matches(m)
}

fn filter_matches(filter: &Option<Document>, user: &UserContext, doc: &Document) -> bool {
    filter.as_ref().is_none_or(|f| matches(f, user, doc, None))
}

impl CollectionRules {
    fn role(&self, user: &UserContext, doc: &Document) -> Option<&Role> {
        self.roles.iter().find(|r| r.apply_when.eval(user, doc, None))
    }

    fn field_perm<'a>(role: &'a Role, field: &str) -> &'a FieldPerm {
        role.fields.iter().find(|(f, _)| f == field).map(|(_, p)| p).unwrap_or(&role.additional_fields)
    }

    /// What `user` sees of `doc`: `None` when the document is invisible, else the readable fields.
    pub fn read_view<'d>(&self, user: &UserContext, doc: &'d Document) -> Option<Cow<'d, Document>> {
        let u = user;
        let role = self.role(u, doc)?;
        if !(filter_matches(&role.read_filter, u, doc) || role.write_filter.is_some() && filter_matches(&role.write_filter, u, doc)) {
            return None;
        }
        if role.read.eval(u, doc, None) || role.write.eval(u, doc, None) {
            return Some(Cow::Borrowed(doc));
        }
        let mut out = Document::new();
        for (k, v) in doc {
            let p = Self::field_perm(role, k);
            if k == "_id" || p.read.eval(u, doc, None) || p.write.eval(u, doc, None) {
                out.insert(k.clone(), v.clone());
            }
        }
        (out.keys().any(|k| k != "_id")).then_some(Cow::Owned(out))
    }

    /// Whether every role lets anyone who sees a document read its top-level field of `path`
    /// (without evaluating expressions: `false` whenever that depends on the caller or document).
    pub fn always_readable(&self, path: &str) -> bool {
        let top = path.split('.').next().unwrap_or(path);
        let yes = |e: &RuleExpr| matches!(e, RuleExpr::Const(true));
        top == "_id"
            || self.roles.iter().all(|r| {
                let field = Self::field_perm(r, top);
                yes(&r.read) || yes(&r.write) || yes(&field.read) || yes(&field.write)
            })
    }

    /// Whether `user` may write to `doc` at all (the document is a candidate for updates).
    pub fn writable(&self, user: &UserContext, doc: &Document) -> bool {
        let u = user;
        let Some(role) = self.role(u, doc) else { return false };
        filter_matches(&role.write_filter, u, doc)
            && (role.write.eval(u, doc, None)
                || role.fields.iter().any(|(_, p)| p.write.eval(u, doc, None))
                || role.additional_fields.write.eval(u, doc, None))
    }

    /// Checks, before an update is applied to `before`, the top-level fields it writes (`targets`;
    /// `None`: a replacement, which needs every field writable). A target the role may not write
    /// refuses the update whether or not its value would change, so the answer never depends on a
    /// value the caller cannot read (`$max: {salary: X}` must not probe a hidden salary).
    pub fn check_targets(&self, user: &UserContext, before: &Document, targets: Option<&[&str]>) -> Result<(), RuleError> {
        let u = user;
        let deny = |reason: String| Err(RuleError::NotPermitted { op: "update", reason });
        if let Some(role) = self.role(u, before).filter(|r| !r.write.eval(u, before, None)) {
            let writable = |k: &str| k == "_id" || Self::field_perm(role, k).write.eval(u, before, None);
            match targets {
                Some(fields) => {
                    if let Some(k) = fields.iter().find(|k| !writable(k)) {
                        return deny(format!("field '{k}' is not writable by role '{}'", role.name));
                    }
                }
                None => {
                    let listed = role.fields.iter().find(|(k, p)| k != "_id" && !p.write.eval(u, before, None));
                    if let Some((k, _)) = listed {
                        return deny(format!("a replacement rewrites field '{k}', which role '{}' may not write", role.name));
                    }
                    if !role.additional_fields.write.eval(u, before, None) {
                        return deny(format!("a replacement rewrites every field, and role '{}' may write only some", role.name));
                    }
                }
            }
        }
        Ok(())
    }

    /// Checks an update from `before` to `after` (after `check_targets`).
    pub fn check_update(&self, user: &UserContext, before: &Document, after: &Document) -> Result<(), RuleError> {
        let u = user;
        let deny = |reason: String| Err(RuleError::NotPermitted { op: "update", reason });
        let Some(role) = self.role(u, after) else { return deny("no role applies to the updated document".into()) };
        if !filter_matches(&role.write_filter, u, after) {
            return deny(format!("the updated document would not match role '{}''s write filter", role.name));
        }
        if role.write.eval(u, after, Some(before)) {
            return Ok(());
        }
        let keys = before.keys().chain(after.keys());
        for k in keys {
            if before.get(k) != after.get(k) && !Self::field_perm(role, k).write.eval(u, after, Some(before)) {
                return deny(format!("field '{k}' is not writable by role '{}'", role.name));
            }
        }
        Ok(())
    }

    /// Checks an insert of `doc`.
    pub fn check_insert(&self, user: &UserContext, doc: &Document) -> Result<(), RuleError> {
        let u = user;
        let deny = |reason: String| Err(RuleError::NotPermitted { op: "insert", reason });
        let Some(role) = self.role(u, doc) else { return deny("no role applies to the document".into()) };
        if !role.insert.eval(u, doc, None) {
            return deny(format!("role '{}' may not insert", role.name));
        }
        if !filter_matches(&role.write_filter, u, doc) {
            return deny(format!("the document does not match role '{}''s write filter", role.name));
        }
        if !role.write.eval(u, doc, None) {
            if let Some(k) = doc.keys().find(|k| *k != "_id" && !Self::field_perm(role, k).write.eval(u, doc, None)) {
                return deny(format!("field '{k}' is not writable by role '{}'", role.name));
            }
        }
        Ok(())
    }

    /// Whether `user` may delete `doc`.
    pub fn deletable(&self, user: &UserContext, doc: &Document) -> bool {
        let u = user;
        self.role(u, doc).is_some_and(|role| role.delete.eval(u, doc, None) && filter_matches(&role.write_filter, u, doc))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn default_app_owner_rule() {
        let rules = RuleSet::default_app();
        let users = rules.for_namespace("app", "users").expect("rule");
        let (u1, u2) = (UserContext::with_id("u1"), UserContext::with_id("u2"));
        let mine = doc! {"_id": 1, "userID": "u1", "x": 1};
        assert_eq!(users.read_view(&u1, &mine).as_deref(), Some(&mine));
        assert_eq!(users.read_view(&u2, &mine), None);
        assert!(users.writable(&u1, &mine) && !users.writable(&u2, &mine));
        assert!(users.deletable(&u1, &mine) && !users.deletable(&u2, &mine));
        assert!(users.check_insert(&u1, &mine).is_ok());
        assert!(users.check_insert(&u2, &mine).is_err());
        assert!(users.check_insert(&u1, &doc! {"x": 1}).is_err());
        let stolen = doc! {"_id": 1, "userID": "u2", "x": 1};
        assert!(users.check_update(&u1, &mine, &stolen).is_err());
        let shared = doc! {"_id": 1, "userID": ["u1", "u2"], "x": 1};
        assert!(users.check_insert(&u1, &shared).is_err(), "an id array is nobody's");
        assert!(users.check_update(&u1, &mine, &shared).is_err());
        assert_eq!(users.read_view(&u2, &shared), None);
        let other = rules.for_namespace("app", "notes").expect("default rule");
        assert!(other.read_view(&u2, &mine).is_some());
        assert!(rules.open_access_warning().is_some_and(|w| w.contains("app.users")));
    }

    #[test]
    fn expressions_and_field_rules() {
        let role = Role {
            name: "r".into(),
            apply_when: RuleExpr::Match(doc! {"%%user.custom_data.team": "%%root.team"}),
            read: FALSE,
            write: FALSE,
            fields: vec![("name".into(), FieldPerm { read: TRUE, write: FALSE }), ("score".into(), FieldPerm { read: TRUE, write: TRUE })],
            ..Role::all_access("r")
        };
        let rules = CollectionRules { roles: vec![role] };
        let user = UserContext::new("u", Document::new(), doc! {"team": "red"}, Vec::new());
        let d = doc! {"_id": 1, "team": "red", "name": "x", "score": 1, "secret": 2};
        assert_eq!(rules.read_view(&user, &d).as_deref(), Some(&doc! {"_id": 1, "name": "x", "score": 1}));
        assert_eq!(rules.read_view(&user, &doc! {"_id": 2, "team": "blue", "name": "y"}), None);
        let mut after = d.clone();
        after.insert("score", 5);
        assert!(rules.check_update(&user, &d, &after).is_ok());
        after.insert("name", "z");
        assert!(rules.check_update(&user, &d, &after).is_err());
        assert!(rules.check_targets(&user, &d, Some(&["secret"])).is_err() && rules.check_targets(&user, &d, Some(&["score"])).is_ok());
        assert_eq!(RuleSet::default().for_namespace("a", "b").err(), Some(RuleError::NoMatchingRule("a.b".into())));
    }
    /// `%function` results take part in expressions as values; a failed (or unresolved) call makes
    /// the whole expression false, wherever it is.
    #[test]
    fn function_results_in_expressions() {
        let call = |name: &str| doc! {"name": name, "arguments": ["%%user.id"]};
        let mut results = FunctionResults::default();
        results.insert(call("yes"), Some(Bson::Boolean(true)));
        results.insert(call("owner"), Some(Bson::String("alice".into())));
        results.insert(call("teams"), Some(Bson::Array(vec!["red".into(), "blue".into()])));
        results.insert(call("threw"), None);
        let user = UserContext::with_id("u").with_function_results(results);
        let holds = |expr: Document, d: Document| matches(&expr, &user, &d, None);
        let d = doc! {"owner": "alice", "team": "red"};
        assert!(holds(doc! {"%%true": {"%function": call("yes")}}, d.clone()));
        assert!(holds(doc! {"%function": call("yes")}, d.clone()), "on its own: must return true");
        assert!(!holds(doc! {"%function": call("owner")}, d.clone()), "a non-true result on its own is false");
        assert!(holds(doc! {"owner": {"%function": call("owner")}}, d.clone()));
        assert!(!holds(doc! {"owner": {"%function": call("owner")}}, doc! {"owner": "bob"}));
        assert!(holds(doc! {"team": {"$in": {"%function": call("teams")}}}, d.clone()));
        assert!(holds(doc! {"owner": {"$in": [{"%function": call("owner")}, "x"]}}, d.clone()));
        assert!(holds(doc! {"$expr": {"$eq": ["$owner", {"%function": call("owner")}]}}, d.clone()));
        for failing in [
            doc! {"%%true": {"%function": call("threw")}},
            doc! {"$or": [{"owner": "alice"}, {"x": {"%function": call("threw")}}]},
            doc! {"owner": {"$ne": {"%function": call("threw")}}},
            doc! {"x": {"$not": {"$eq": {"%function": call("threw")}}}},
            doc! {"%%true": {"%function": call("never resolved")}},
        ] {
            assert!(!holds(failing.clone(), d.clone()), "{failing}");
        }
        let unresolved = UserContext::with_id("u");
        assert!(!matches(&doc! {"%%true": {"%function": call("yes")}}, &unresolved, &d, None), "no results: false");
    }
}
