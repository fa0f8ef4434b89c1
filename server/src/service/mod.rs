//! MongoDB service functions end to end: arguments → rules → query/store → wire result.

use crate::config::AppConfig;
use crate::query::{Filter, Projection, QueryError, SortSpec, Update};
use crate::rules::{self, Permission, RuleError};
use crate::store::{Change, Namespace, Store, StoreError};
use bson::{doc, oid::ObjectId, Bson, Document};

/// Functions of the `mongodb-atlas` service this server implements.
pub const SUPPORTED: &[&str] = &[
    "insertOne", "insertMany", "find", "findOne", "count", "updateOne", "updateMany", "deleteOne", "deleteMany",
];

/// Service functions that exist on Atlas but are not implemented here yet.
const NOT_YET: &[&str] = &[
    "aggregate", "findOneAndUpdate", "findOneAndReplace", "findOneAndDelete", "watch", "replaceOne", "countDocuments",
];

/// Why a service call failed.
#[derive(Debug, thiserror::Error)]
pub enum ServiceError {
    /// Bad or missing argument.
    #[error("{0}")]
    BadArgument(String),
    /// Unknown function name.
    #[error("function not found: '{0}'")]
    FunctionNotFound(String),
    /// Known to Atlas, not implemented yet.
    #[error("mongodb-atlas function '{0}' is not supported by realm-wasm-server yet (supported: {list})", list = SUPPORTED.join(", "))]
    NotSupported(String),
    /// Filter/update/projection/sort rejected.
    #[error(transparent)]
    Query(#[from] QueryError),
    /// Rule refused a write.
    #[error(transparent)]
    Rule(#[from] RuleError),
    /// Storage failed or refused (duplicate key).
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// The arguments of one call, with Atlas's key names.
struct Args {
    ns: Namespace,
    raw: Document,
}

impl Args {
    fn parse(arguments: &[Bson]) -> Result<Args, ServiceError> {
        let raw = match arguments {
            [Bson::Document(d)] => d.clone(),
            [] => return Err(ServiceError::BadArgument("expected one argument document, got none".into())),
            [_] => return Err(ServiceError::BadArgument("argument must be an object".into())),
            _ => return Err(ServiceError::BadArgument("expected exactly one argument document".into())),
        };
        let name = |key: &str| match raw.get(key) {
            Some(Bson::String(s)) => Ok(s.clone()),
            Some(_) => Err(ServiceError::BadArgument(format!("'{key}' must be a string"))),
            None => Err(ServiceError::BadArgument(format!("'{key}' is required"))),
        };
        let ns = Namespace::new(&name("database")?, &name("collection")?)?;
        Ok(Args { ns, raw })
    }

    fn doc_opt(&self, key: &str) -> Result<Option<Document>, ServiceError> {
        match self.raw.get(key) {
            None | Some(Bson::Null) | Some(Bson::Undefined) => Ok(None),
            Some(Bson::Document(d)) => Ok(Some(d.clone())),
            Some(_) => Err(ServiceError::BadArgument(format!("'{key}' must be an object"))),
        }
    }

    fn doc_req(&self, key: &str) -> Result<Document, ServiceError> {
        self.doc_opt(key)?.ok_or_else(|| ServiceError::BadArgument(format!("'{key}' is required")))
    }

    fn limit(&self) -> Result<Option<usize>, ServiceError> {
        let n = match self.raw.get("limit") {
            None | Some(Bson::Null) | Some(Bson::Undefined) => return Ok(None),
            Some(Bson::Int32(i)) => i64::from(*i),
            Some(Bson::Int64(i)) => *i,
            Some(Bson::Double(d)) if d.fract() == 0.0 && d.abs() < 9e15 => *d as i64,
            Some(_) => return Err(ServiceError::BadArgument("'limit' must be an integer".into())),
        };
        Ok(if n == 0 { None } else { Some(n.unsigned_abs() as usize) })
    }

    fn upsert(&self) -> Result<bool, ServiceError> {
        match self.raw.get("upsert") {
            None | Some(Bson::Null) | Some(Bson::Undefined) => Ok(false),
            Some(Bson::Boolean(b)) => Ok(*b),
            Some(_) => Err(ServiceError::BadArgument("'upsert' must be a boolean".into())),
        }
    }
}

/// Result of a service call, before wire encoding.
#[derive(Debug, Clone, PartialEq)]
pub enum CallResult {
    /// A BSON value (document, array, null).
    Value(Bson),
    /// A count, sent as `{"$numberLong": "N"}` like Atlas.
    Count(u64),
}

impl CallResult {
    /// Encodes the result as (canonical) extended JSON.
    pub fn into_json(self) -> serde_json::Value {
        match self {
            CallResult::Value(v) => v.into_canonical_extjson(),
            CallResult::Count(n) => serde_json::json!({ "$numberLong": n.to_string() }),
        }
    }
}

/// Runs one `mongodb-atlas` function for `user_id`.
pub fn call(
    store: &dyn Store,
    app: &AppConfig,
    user_id: &str,
    name: &str,
    arguments: &[Bson],
) -> Result<CallResult, ServiceError> {
    if !SUPPORTED.contains(&name) {
        return Err(if NOT_YET.contains(&name) {
            ServiceError::NotSupported(name.to_string())
        } else {
            ServiceError::FunctionNotFound(name.to_string())
        });
    }
    let args = Args::parse(arguments)?;
    let perm = rules::permission(app, user_id, &args.ns.db, &args.ns.coll);
    match name {
        "find" | "findOne" => {
            let one = name == "findOne";
            let filter = Filter::parse(&perm.restrict(args.doc_opt("query")?.unwrap_or_default()))?;
            let projection = args.doc_opt("project")?.map(|p| Projection::parse(&p)).transpose()?;
            let sort = args.doc_opt("sort")?.map(|s| SortSpec::parse(&s)).transpose()?;
            let limit = if one { Some(1) } else { args.limit()? };
            let docs = find(store, &args.ns, &filter, sort.as_ref(), limit)?;
            let docs: Vec<Document> = match &projection {
                Some(p) => docs.iter().map(|d| p.apply(d)).collect(),
                None => docs,
            };
            Ok(CallResult::Value(if one {
                docs.into_iter().next().map(Bson::Document).unwrap_or(Bson::Null)
            } else {
                Bson::Array(docs.into_iter().map(Bson::Document).collect())
            }))
        }
        "count" => {
            let filter = Filter::parse(&perm.restrict(args.doc_opt("query")?.unwrap_or_default()))?;
            let limit = args.limit()?;
            let mut n = 0u64;
            store.read(&args.ns, &mut |c| {
                n = c.docs().filter(|d| filter.matches(d)).take(limit.unwrap_or(usize::MAX)).count() as u64;
            })?;
            Ok(CallResult::Count(n))
        }
        "insertOne" => {
            let doc = prepare_insert(&perm, args.doc_req("document")?)?;
            let id = doc.get("_id").cloned().unwrap_or(Bson::Null);
            store.write(&args.ns, &mut |_| vec![Change::Insert(doc.clone())])?;
            Ok(CallResult::Value(Bson::Document(doc! {"insertedId": id})))
        }
        "insertMany" => {
            let docs = match args.raw.get("documents") {
                Some(Bson::Array(items)) if !items.is_empty() => items
                    .iter()
                    .map(|d| match d {
                        Bson::Document(d) => prepare_insert(&perm, d.clone()),
                        _ => Err(ServiceError::BadArgument("'documents' must contain only objects".into())),
                    })
                    .collect::<Result<Vec<_>, _>>()?,
                Some(Bson::Array(_)) => return Err(ServiceError::BadArgument("'documents' must not be empty".into())),
                Some(_) => return Err(ServiceError::BadArgument("'documents' must be an array".into())),
                None => return Err(ServiceError::BadArgument("'documents' is required".into())),
            };
            let ids: Vec<Bson> = docs.iter().map(|d| d.get("_id").cloned().unwrap_or(Bson::Null)).collect();
            store.write(&args.ns, &mut |_| docs.iter().cloned().map(Change::Insert).collect())?;
            Ok(CallResult::Value(Bson::Document(doc! {"insertedIds": ids})))
        }
        "updateOne" | "updateMany" => {
            let filter = Filter::parse(&perm.restrict(args.doc_opt("query")?.unwrap_or_default()))?;
            let update = Update::parse(&args.doc_req("update")?)?;
            let upsert = args.upsert()?;
            update_docs(store, &args.ns, &perm, &filter, &update, name == "updateMany", upsert)
        }
        "deleteOne" | "deleteMany" => {
            let filter = Filter::parse(&perm.restrict(args.doc_opt("query")?.unwrap_or_default()))?;
            let many = name == "deleteMany";
            let mut deleted = 0i64;
            store.write(&args.ns, &mut |c| {
                let ids: Vec<Change> = c
                    .docs()
                    .filter(|d| filter.matches(d))
                    .take(if many { usize::MAX } else { 1 })
                    .filter_map(|d| d.get("_id").cloned().map(Change::Delete))
                    .collect();
                deleted = ids.len() as i64;
                ids
            })?;
            Ok(CallResult::Value(Bson::Document(doc! {"deletedCount": count_bson(deleted)})))
        }
        other => Err(ServiceError::FunctionNotFound(other.to_string())),
    }
}

fn count_bson(n: i64) -> Bson {
    i32::try_from(n).map(Bson::Int32).unwrap_or(Bson::Int64(n))
}

/// Gives the document an `_id` (first, as MongoDB does) if it has none, and checks the rule.
fn prepare_insert(perm: &Permission, doc: Document) -> Result<Document, ServiceError> {
    let doc = with_id(doc);
    perm.check_write("insert", &doc)?;
    Ok(doc)
}

fn with_id(doc: Document) -> Document {
    if doc.contains_key("_id") {
        return doc;
    }
    let mut out = doc! {"_id": ObjectId::new()};
    out.extend(doc);
    out
}

fn find(
    store: &dyn Store,
    ns: &Namespace,
    filter: &Filter,
    sort: Option<&SortSpec>,
    limit: Option<usize>,
) -> Result<Vec<Document>, ServiceError> {
    let mut out = Vec::new();
    store.read(ns, &mut |c| {
        let matching = c.docs().filter(|d| filter.matches(d));
        out = match sort {
            None => matching.take(limit.unwrap_or(usize::MAX)).cloned().collect(),
            Some(s) => {
                let mut all: Vec<&Document> = matching.collect();
                all.sort_by(|a, b| s.compare(a, b));
                all.into_iter().take(limit.unwrap_or(usize::MAX)).cloned().collect()
            }
        };
    })?;
    Ok(out)
}

fn update_docs(
    store: &dyn Store,
    ns: &Namespace,
    perm: &Permission,
    filter: &Filter,
    update: &Update,
    many: bool,
    upsert: bool,
) -> Result<CallResult, ServiceError> {
    let mut outcome: Result<(i64, i64, Option<Bson>), ServiceError> = Ok((0, 0, None));
    store.write(ns, &mut |c| {
        let mut changes = Vec::new();
        let (mut matched, mut modified) = (0i64, 0i64);
        for d in c.docs().filter(|d| filter.matches(d)) {
            matched += 1;
            let mut new_doc = d.clone();
            let step = update
                .apply(&mut new_doc)
                .map_err(ServiceError::from)
                .and_then(|changed| {
                    if changed {
                        perm.check_write("update", &new_doc)?;
                    }
                    Ok(changed)
                });
            match step {
                Ok(true) => {
                    modified += 1;
                    changes.push(Change::Replace(new_doc));
                }
                Ok(false) => {}
                Err(e) => {
                    outcome = Err(e);
                    return Vec::new();
                }
            }
            if !many {
                break;
            }
        }
        if matched == 0 && upsert {
            let built = update
                .upsert_document(filter)
                .map_err(ServiceError::from)
                .map(with_id)
                .and_then(|d| {
                    perm.check_write("upsert", &d)?;
                    if c.contains_id(d.get("_id").unwrap_or(&Bson::Null)) {
                        return Err(ServiceError::BadArgument("upsert would create a duplicate _id".into()));
                    }
                    Ok(d)
                });
            return match built {
                Ok(d) => {
                    outcome = Ok((0, 0, d.get("_id").cloned()));
                    vec![Change::Insert(d)]
                }
                Err(e) => {
                    outcome = Err(e);
                    Vec::new()
                }
            };
        }
        outcome = Ok((matched, modified, None));
        changes
    })?;
    let (matched, modified, upserted) = outcome?;
    let mut result = doc! {"matchedCount": count_bson(matched), "modifiedCount": count_bson(modified)};
    if let Some(id) = upserted {
        result.insert("upsertedId", id);
    }
    Ok(CallResult::Value(Bson::Document(result)))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::{open_database, RedbStore};

    fn setup() -> (tempfile::TempDir, RedbStore, AppConfig) {
        let dir = tempfile::tempdir().expect("tempdir");
        let store = RedbStore::open(open_database(dir.path()).expect("db")).expect("store");
        (dir, store, AppConfig::default_app())
    }

    fn run(s: &RedbStore, app: &AppConfig, user: &str, name: &str, arg: Document) -> Result<CallResult, ServiceError> {
        call(s, app, user, name, &[Bson::Document(arg)])
    }

    fn value(r: Result<CallResult, ServiceError>) -> Bson {
        match r.expect("call") {
            CallResult::Value(v) => v,
            CallResult::Count(n) => Bson::Int64(n as i64),
        }
    }

    #[test]
    fn crud_round_trip_on_open_collection() {
        let (_d, s, app) = setup();
        let ns = doc! {"database": "db", "collection": "c"};
        let with = |extra: Document| {
            let mut d = ns.clone();
            d.extend(extra);
            d
        };
        let r = value(run(&s, &app, "u", "insertMany", with(doc! {"documents": [{"_id": 1, "a": 1}, {"_id": 2, "a": 2}, {"a": 3}]})));
        assert_eq!(r.as_document().and_then(|d| d.get_array("insertedIds").ok()).map(|a| a.len()), Some(3));
        assert_eq!(value(run(&s, &app, "u", "count", with(doc! {"query": {"a": {"$gte": 2}}}))), Bson::Int64(2));
        assert_eq!(value(run(&s, &app, "u", "count", with(doc! {"limit": 1}))), Bson::Int64(1));
        let r = value(run(&s, &app, "u", "updateMany", with(doc! {"query": {"a": {"$lte": 2}}, "update": {"$set": {"a": 2}}})));
        assert_eq!(r, Bson::Document(doc! {"matchedCount": 2, "modifiedCount": 1}));
        let r = value(run(&s, &app, "u", "updateOne", with(doc! {"query": {"a": 9}, "update": {"$set": {"b": 1}}, "upsert": true})));
        let up = r.as_document().expect("doc");
        assert_eq!(up.get("matchedCount"), Some(&Bson::Int32(0)));
        assert!(matches!(up.get("upsertedId"), Some(Bson::ObjectId(_))));
        let r = value(run(&s, &app, "u", "find", with(doc! {"query": {}, "sort": {"a": -1}, "limit": 2, "project": {"_id": 0, "a": 1}})));
        assert_eq!(r, Bson::Array(vec![doc! {"a": 9}.into(), doc! {"a": 3}.into()]));
        let r = value(run(&s, &app, "u", "findOne", with(doc! {"query": {"_id": 2}})));
        assert_eq!(r, Bson::Document(doc! {"_id": 2, "a": 2}));
        assert_eq!(value(run(&s, &app, "u", "findOne", with(doc! {"query": {"_id": 99}}))), Bson::Null);
        let r = value(run(&s, &app, "u", "deleteMany", with(doc! {"query": {"a": 2}})));
        assert_eq!(r, Bson::Document(doc! {"deletedCount": 2}));
        let dup = run(&s, &app, "u", "insertOne", with(doc! {"document": {"_id": 1}}));
        assert!(dup.is_ok());
        assert!(matches!(run(&s, &app, "u", "insertOne", with(doc! {"document": {"_id": 1}})), Err(ServiceError::Store(StoreError::DuplicateKey { .. }))));
    }

    #[test]
    fn owner_rule_applies_to_app_users() {
        let (_d, s, app) = setup();
        let users = |extra: Document| {
            let mut d = doc! {"database": "app", "collection": "users"};
            d.extend(extra);
            d
        };
        value(run(&s, &app, "u1", "insertOne", users(doc! {"document": {"userID": "u1", "c": "red"}})));
        assert!(matches!(
            run(&s, &app, "u2", "insertOne", users(doc! {"document": {"userID": "u1"}})),
            Err(ServiceError::Rule(_))
        ));
        assert_eq!(value(run(&s, &app, "u2", "find", users(doc! {}))), Bson::Array(vec![]));
        let r = value(run(&s, &app, "u2", "updateOne", users(doc! {"query": {"userID": "u1"}, "update": {"$set": {"c": "x"}}})));
        assert_eq!(r, Bson::Document(doc! {"matchedCount": 0, "modifiedCount": 0}));
        let r = value(run(&s, &app, "u2", "deleteMany", users(doc! {"query": {}})));
        assert_eq!(r, Bson::Document(doc! {"deletedCount": 0}));
        assert!(matches!(
            run(&s, &app, "u1", "updateOne", users(doc! {"query": {}, "update": {"$set": {"userID": "u2"}}})),
            Err(ServiceError::Rule(_))
        ));
        // Upsert seeds the owner field from the rule filter.
        let r = value(run(&s, &app, "u2", "updateOne", users(doc! {"query": {}, "update": {"$set": {"c": "blue"}}, "upsert": true})));
        assert!(r.as_document().is_some_and(|d| d.contains_key("upsertedId")));
        let mine = value(run(&s, &app, "u2", "findOne", users(doc! {})));
        assert_eq!(mine.as_document().and_then(|d| d.get_str("userID").ok()), Some("u2"));
    }

    #[test]
    fn bad_calls_are_reported() {
        let (_d, s, app) = setup();
        assert!(matches!(call(&s, &app, "u", "aggregate", &[]), Err(ServiceError::NotSupported(_))));
        assert!(matches!(call(&s, &app, "u", "nope", &[]), Err(ServiceError::FunctionNotFound(_))));
        assert!(matches!(call(&s, &app, "u", "find", &[]), Err(ServiceError::BadArgument(_))));
        assert!(matches!(call(&s, &app, "u", "find", &[Bson::Int32(1)]), Err(ServiceError::BadArgument(_))));
        assert!(matches!(run(&s, &app, "u", "find", doc! {"database": "d"}), Err(ServiceError::BadArgument(_))));
        assert!(matches!(
            run(&s, &app, "u", "find", doc! {"database": "d", "collection": "c", "query": {"a": {"$regex": "x"}}}),
            Err(ServiceError::Query(QueryError::Unsupported(_)))
        ));
        assert!(matches!(
            run(&s, &app, "u", "updateOne", doc! {"database": "d", "collection": "c", "query": {}, "update": {"$push": {"a": 1}}}),
            Err(ServiceError::Query(QueryError::Unsupported(_)))
        ));
        assert!(matches!(
            run(&s, &app, "u", "find", doc! {"database": "d", "collection": "c", "limit": "x"}),
            Err(ServiceError::BadArgument(_))
        ));
    }
}
