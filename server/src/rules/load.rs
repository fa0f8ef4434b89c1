//! Reading rules from an App Services export folder.

use super::functions::{as_call, parse_call, FunctionCall};
use super::{CollectionRules, FieldPerm, Role, RuleExpr, RuleSet};
use crate::query::Filter;
use bson::{Bson, Document};
use std::collections::HashMap;
use crate::config::{DataSource, JsonFile};
use std::path::{Path, PathBuf};

/// A rules file that could not be used: names the file, the key and the reason.
#[derive(Debug, thiserror::Error, PartialEq)]
#[error("{}: {key}: {reason}", file.display())]
pub struct RulesError {
    /// The offending file.
    pub file: PathBuf,
    /// The key path inside it (`roles[0].apply_when`), or `-` for the whole file.
    pub key: String,
    /// What is wrong.
    pub reason: String,
}

fn err(file: &Path, key: impl Into<String>, reason: impl Into<String>) -> RulesError {
    RulesError { file: file.to_path_buf(), key: key.into(), reason: reason.into() }
}

/// The rules of one MongoDB data source of the export: its `default_rule.json` and every
/// `<database>/<collection>/rules.json` (whose `database` / `collection` keys, when present, name
/// the namespace; else its folders do). No rule file at all gives an empty rule set (every
/// namespace denied with `NoMatchingRule`).
pub fn from_data_source(source: &DataSource) -> Result<RuleSet, RulesError> {
    let mut namespaces = HashMap::new();
    let mut calls = HashMap::new();
    let default_rule = match &source.default_rule {
        Some(f) => {
            let (rules, found) = parse_collection(&f.path, &to_document(f)?)?;
            calls.insert(None, found);
            Some(rules)
        }
        None => None,
    };
    for coll in &source.collections {
        let Some(f) = &coll.rules else { continue };
        let json = to_document(f)?;
        let file = f.path.as_path();
        let name = |key: &str, dir: &str| -> Result<String, RulesError> {
            match json.get(key) {
                Some(Bson::String(s)) if !s.is_empty() => Ok(s.clone()),
                Some(_) => Err(err(file, key, "must be a non-empty string")),
                None => Ok(dir.to_string()),
            }
        };
        let db = name("database", &coll.database)?;
        let collection = name("collection", &coll.collection)?;
        let (rules, found) = parse_collection(file, &json)?;
        if namespaces.insert((db.clone(), collection.clone()), rules).is_some() {
            return Err(err(file, "collection", format!("a second rules file for {db}.{collection}")));
        }
        calls.insert(Some((db, collection)), found);
    }
    Ok(RuleSet::new(namespaces, default_rule).with_function_calls(calls))
}

/// A rules file as a BSON document (extended JSON accepted).
fn to_document(f: &JsonFile) -> Result<Document, RulesError> {
    match Bson::try_from(f.value.clone()) {
        Ok(Bson::Document(d)) => Ok(d),
        Ok(_) => Err(err(&f.path, "-", "must be a JSON object")),
        Err(e) => Err(err(&f.path, "-", format!("invalid extended JSON: {e}"))),
    }
}

const ROLE_KEYS: &[&str] = &[
    "name", "apply_when", "document_filters", "read", "write", "insert", "delete", "search", "fields", "additional_fields",
];

/// The roles of one rules file, and the `%function` calls they make.
fn parse_collection(file: &Path, json: &Document) -> Result<(CollectionRules, Vec<FunctionCall>), RulesError> {
    if let Some(Bson::Array(f)) = json.get("filters") {
        if !f.is_empty() {
            return Err(err(file, "filters", "query filters are not supported by realm-wasm-server; use roles with document_filters"));
        }
    }
    let roles = match json.get("roles") {
        Some(Bson::Array(a)) => a,
        Some(_) => return Err(err(file, "roles", "must be an array")),
        None => return Err(err(file, "roles", "is required")),
    };
    let mut calls = Vec::new();
    let roles = roles
        .iter()
        .enumerate()
        .map(|(i, r)| match r {
            Bson::Document(d) => parse_role(file, &format!("roles[{i}]"), d, &mut calls),
            _ => Err(err(file, format!("roles[{i}]"), "must be an object")),
        })
        .collect::<Result<_, _>>()?;
    Ok((CollectionRules { roles }, calls))
}

fn parse_role(file: &Path, key: &str, d: &Document, calls: &mut Vec<FunctionCall>) -> Result<Role, RulesError> {
    if let Some(k) = d.keys().find(|k| !ROLE_KEYS.contains(&k.as_str())) {
        return Err(err(file, format!("{key}.{k}"), "unknown role key"));
    }
    let name = match d.get("name") {
        Some(Bson::String(s)) => s.clone(),
        None => key.to_string(),
        Some(_) => return Err(err(file, format!("{key}.name"), "must be a string")),
    };
    let (read_filter, write_filter) = match d.get("document_filters") {
        None => (None, None),
        Some(Bson::Document(f)) => {
            let mut one = |k: &str| -> Result<Option<Document>, RulesError> {
                match f.get(k) {
                    None => Ok(None),
                    Some(Bson::Document(q)) => {
                        check_filter(file, &format!("{key}.document_filters.{k}"), q, calls)?;
                        Ok(Some(q.clone()))
                    }
                    Some(Bson::Boolean(true)) => Ok(None),
                    Some(Bson::Boolean(false)) => Ok(Some(bson::doc! {"%%false": true})),
                    Some(_) => Err(err(file, format!("{key}.document_filters.{k}"), "must be a query object or a boolean")),
                }
            };
            (one("read")?, one("write")?)
        }
        Some(_) => return Err(err(file, format!("{key}.document_filters"), "must be an object")),
    };
    let mut fields = Vec::new();
    match d.get("fields") {
        None => {}
        Some(Bson::Document(fs)) => {
            for (f, p) in fs {
                let k = format!("{key}.fields.{f}");
                let Bson::Document(p) = p else { return Err(err(file, k, "must be an object")) };
                if p.contains_key("fields") {
                    return Err(err(file, format!("{k}.fields"), "nested field rules are not supported by realm-wasm-server"));
                }
                fields.push((f.clone(), parse_field_perm(file, &k, p, calls)?));
            }
        }
        Some(_) => return Err(err(file, format!("{key}.fields"), "must be an object")),
    }
    let additional_fields = match d.get("additional_fields") {
        None => FieldPerm { read: RuleExpr::Const(false), write: RuleExpr::Const(false) },
        Some(Bson::Document(p)) => parse_field_perm(file, &format!("{key}.additional_fields"), p, calls)?,
        Some(_) => return Err(err(file, format!("{key}.additional_fields"), "must be an object")),
    };
    let mut perm = |k: &str, dflt: bool| parse_expr(file, &format!("{key}.{k}"), d.get(k), dflt, calls);
    Ok(Role {
        name,
        apply_when: perm("apply_when", true)?,
        read_filter,
        write_filter,
        read: perm("read", false)?,
        write: perm("write", false)?,
        insert: perm("insert", false)?,
        delete: perm("delete", false)?,
        search: perm("search", false)?,
        fields,
        additional_fields,
    })
}

fn parse_field_perm(file: &Path, key: &str, p: &Document, calls: &mut Vec<FunctionCall>) -> Result<FieldPerm, RulesError> {
    if let Some(k) = p.keys().find(|k| !matches!(k.as_str(), "read" | "write")) {
        return Err(err(file, format!("{key}.{k}"), "unknown field-permission key"));
    }
    Ok(FieldPerm {
        read: parse_expr(file, &format!("{key}.read"), p.get("read"), false, calls)?,
        write: parse_expr(file, &format!("{key}.write"), p.get("write"), false, calls)?,
    })
}

fn parse_expr(file: &Path, key: &str, v: Option<&Bson>, dflt: bool, calls: &mut Vec<FunctionCall>) -> Result<RuleExpr, RulesError> {
    match v {
        None => Ok(RuleExpr::Const(dflt)),
        Some(Bson::Boolean(b)) => Ok(RuleExpr::Const(*b)),
        Some(Bson::Document(d)) if d.is_empty() => Ok(RuleExpr::Const(true)),
        Some(Bson::Document(d)) => {
            check_filter(file, key, d, calls)?;
            Ok(RuleExpr::Match(d.clone()))
        }
        Some(other) => Err(err(file, key, format!("must be a boolean or an expression object, found {other}"))),
    }
}

/// Validates expansions and operators of a rule expression / document filter, and collects the
/// `%function` calls it makes into `calls`.
fn check_filter(file: &Path, key: &str, d: &Document, calls: &mut Vec<FunctionCall>) -> Result<(), RulesError> {
    // Expansions outside `%function` arguments, and the calls (whose arguments `parse_call` checks).
    fn walk(v: &Bson, out: &mut Vec<String>, specs: &mut Vec<Document>) {
        if let Some(spec) = as_call(v) {
            specs.push(spec.clone());
            return;
        }
        match v {
            Bson::String(s) if s.starts_with("%%") => out.push(s.clone()),
            Bson::Document(d) => d.iter().for_each(|(k, v)| {
                if k.starts_with("%%") {
                    out.push(k.clone());
                }
                walk(v, out, specs)
            }),
            Bson::Array(a) => a.iter().for_each(|v| walk(v, out, specs)),
            _ => {}
        }
    }
    let mut found = Vec::new();
    let mut specs = Vec::new();
    walk(&Bson::Document(d.clone()), &mut found, &mut specs);
    for e in found {
        let head = e[2..].split('.').next().unwrap_or_default();
        if !matches!(head, "user" | "root" | "prevRoot" | "true" | "false") {
            return Err(err(file, key, format!("unsupported expansion {e}")));
        }
    }
    for spec in specs {
        let call = parse_call(file, key, &spec).map_err(|reason| err(file, key, reason))?;
        if !calls.iter().any(|c| c.spec == call.spec) {
            calls.push(call);
        }
    }
    // An expansion key names a value to test; inside a field's conditions (or an element query)
    // it would test the element instead, so it is refused there. `%function` arguments are values.
    fn misplaced_key(v: &Bson, filter_level: bool) -> Option<String> {
        if as_call(v).is_some() {
            return None;
        }
        match v {
            Bson::Document(d) => d.iter().find_map(|(k, v)| match k.as_str() {
                _ if k.starts_with("%%") && !filter_level => Some(k.clone()),
                "$and" | "$or" | "$nor" if filter_level => misplaced_key(v, true),
                "$expr" | super::functions::FUNCTION => None,
                _ => misplaced_key(v, false),
            }),
            Bson::Array(a) => a.iter().find_map(|i| misplaced_key(i, filter_level)),
            _ => None,
        }
    }
    if let Some(k) = misplaced_key(&Bson::Document(d.clone()), true) {
        return Err(err(file, key, format!("expansion {k} may only be used as a field name at the top of an expression")));
    }
    // Shape check with expansions' keys neutralised and `%function` calls standing for a value (a
    // list where a list is needed).
    fn neutral_value(op: &str, v: &Bson) -> Bson {
        match v {
            v if as_call(v).is_some() => {
                if matches!(op, "$in" | "$nin" | "$all") { Bson::Array(Vec::new()) } else { Bson::Null }
            }
            Bson::Document(d) => Bson::Document(neutral(d)),
            Bson::Array(a) => Bson::Array(a.iter().map(|i| neutral_value("", i)).collect()),
            o => o.clone(),
        }
    }
    fn neutral(d: &Document) -> Document {
        d.iter()
            .map(|(k, v)| {
                let k2 = if k.starts_with("%%") || k == super::functions::FUNCTION { "x".to_string() } else { k.clone() };
                (k2, neutral_value(k, v))
            })
            .collect()
    }
    Filter::parse(&neutral(d)).map(|_| ()).map_err(|e| err(file, key, e.to_string()))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::rules::UserContext;
    use bson::doc;

    fn write(dir: &Path, rel: &str, text: &str) {
        let p = dir.join("data_sources/mongodb-atlas").join(rel);
        std::fs::create_dir_all(p.parent().expect("parent")).expect("mkdir");
        std::fs::write(p, text).expect("write");
        let config = dir.join("data_sources/mongodb-atlas/config.json");
        std::fs::write(config, r#"{"name": "mongodb-atlas", "type": "mongodb-atlas"}"#).expect("write");
    }

    /// Reads the export's `mongodb-atlas` data source as the server does.
    fn load_export(dir: &Path) -> Result<RuleSet, RulesError> {
        let sources = crate::config::load_data_sources(dir).map_err(|e| err(&e.file, e.key, e.reason))?;
        match sources.first() {
            Some(source) => from_data_source(source),
            None => Ok(RuleSet::new(HashMap::new(), None)),
        }
    }

    #[test]
    fn loads_an_export() {
        let dir = tempfile::tempdir().expect("tempdir");
        write(dir.path(), "shop/orders/rules.json", r#"{"collection":"orders","database":"shop","roles":[
            {"name":"owner","apply_when":{"owner":"%%user.id"},"read":true,"write":true,"insert":true,"delete":true,"search":true},
            {"name":"public","apply_when":{},"read":false,"write":false,"fields":{"title":{"read":true}},"insert":false,"delete":false}
        ]}"#);
        write(dir.path(), "default_rule.json", r#"{"roles":[{"name":"ro","apply_when":{},"read":true,"write":false}]}"#);
        let rules = load_export(dir.path()).expect("load");
        let orders = rules.for_namespace("shop", "orders").expect("orders");
        let (alice, bob) = (UserContext::with_id("alice"), UserContext::with_id("bob"));
        let d = doc! {"_id": 1, "owner": "alice", "title": "t", "price": 3};
        assert_eq!(orders.read_view(&alice, &d).as_deref(), Some(&d));
        assert_eq!(orders.read_view(&bob, &d).as_deref(), Some(&doc! {"_id": 1, "title": "t"}));
        assert!(orders.deletable(&alice, &d) && !orders.deletable(&bob, &d));
        let other = rules.for_namespace("x", "y").expect("default");
        assert!(other.read_view(&bob, &d).is_some() && other.check_insert(&bob, &d).is_err());
        assert!(rules.open_access_warning().is_none());
    }

    #[test]
    fn errors_name_file_key_and_reason() {
        let dir = tempfile::tempdir().expect("tempdir");
        write(dir.path(), "db/c/rules.json", r#"{"roles":[{"name":"r","apply_when":{"a":{"$frob":1}}}]}"#);
        let e = load_export(dir.path()).expect_err("bad operator");
        assert!(e.file.ends_with("db/c/rules.json") && e.key == "roles[0].apply_when" && e.reason.contains("$frob"), "{e}");
        write(dir.path(), "db/c/rules.json", r#"{"roles":[{"name":"r","read":"yes"}]}"#);
        assert_eq!(load_export(dir.path()).expect_err("bad read").key, "roles[0].read");
        write(dir.path(), "db/c/rules.json", r#"{"roles":[{"name":"r","apply_when":{"%%user.nope":1},"reed":true}]}"#);
        assert_eq!(load_export(dir.path()).expect_err("typo").key, "roles[0].reed");
        write(dir.path(), "db/c/rules.json", r#"{"roles":[{"apply_when":{"x":"%%users.id"}}]}"#);
        assert!(load_export(dir.path()).expect_err("expansion").reason.contains("%%users.id"));
        write(dir.path(), "db/c/rules.json", r#"{"roles":[{"apply_when":{"a":{"$elemMatch":{"%%user.id":"x"}}}}]}"#);
        assert!(load_export(dir.path()).expect_err("expansion key in a condition").reason.contains("%%user.id"));
        write(dir.path(), "db/c/rules.json", r#"{"roles":[{"apply_when":{"$or":[{"%%user.id":"x"},{"a":1}]}}]}"#);
        assert!(load_export(dir.path()).is_ok(), "expansion keys are fine at the top and under $or");
        write(dir.path(), "db/c/rules.json", "{not json");
        assert!(load_export(dir.path()).expect_err("json").reason.contains("invalid JSON"));
        let empty = tempfile::tempdir().expect("tempdir");
        assert!(load_export(empty.path()).expect("empty").for_namespace("a", "b").is_err());
    }
    #[test]
    fn function_calls_are_collected_and_their_arguments_checked() {
        let dir = tempfile::tempdir().expect("tempdir");
        let call = r#"{"%function": {"name": "isMember", "arguments": ["%%user.id", "%%values.team", 3]}}"#;
        write(dir.path(), "db/c/rules.json", &format!(r#"{{"roles":[
            {{"name":"member","apply_when":{{"%%true": {call}}},"document_filters":{{"read":{{"owner": {call}}}}},"read":true,
              "fields":{{"secret":{{"read":{{"team": {{"$in": {{"%function": {{"name": "teams"}}}}}}}}}}}}}}
        ]}}"#));
        let rules = load_export(dir.path()).expect("load");
        let names: Vec<&str> = rules.function_calls("db", "c", false).iter().map(|c| c.name.as_str()).collect();
        assert_eq!(names, ["isMember", "teams"], "each call once, in order");
        assert!(rules.function_calls("db", "other", false).is_empty() && rules.calls_functions());
        assert_eq!(rules.function_calls("", "", true).len(), 2);
        let user = UserContext::with_id("u1");
        let args = rules.function_calls("db", "c", false)[0].arguments_for(&user, &bson::doc! {"team": "red"});
        assert_eq!(args, vec![Bson::String("u1".into()), Bson::String("red".into()), Bson::Int32(3)]);
        for (arg, why) in [("\"%%root.a\"", "%%root.a"), ("\"%%prevRoot\"", "%%prevRoot"), ("{\"x\": \"%%request.remoteIPAddress\"}", "%%request")] {
            write(dir.path(), "db/c/rules.json", &format!(r#"{{"roles":[{{"apply_when":{{"%%true": {{"%function": {{"name": "f", "arguments": [{arg}]}}}}}}}}]}}"#));
            let e = load_export(dir.path()).expect_err(why);
            assert!(e.key == "roles[0].apply_when" && e.reason.contains(why) && e.reason.contains("before any document is read"), "{e}");
        }
        write(dir.path(), "db/c/rules.json", r#"{"roles":[{"apply_when":{"%%true": {"%function": {"arguments": []}}}}]}"#);
        assert!(load_export(dir.path()).expect_err("no name").reason.contains("'name'"));
        write(dir.path(), "db/c/rules.json", r#"{"roles":[{"apply_when":{"%%true": {"%function": {"name": "f", "args": []}}}}]}"#);
        assert!(load_export(dir.path()).expect_err("typo").reason.contains("'args'"));
    }
}
