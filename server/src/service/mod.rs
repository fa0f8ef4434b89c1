//! MongoDB service calls end to end, for any caller (the HTTP routes today; functions, triggers,
//! endpoints and the Data API next): arguments → rules → query/store → durable → wire result.
//!
//! `Engine::call` is the one entry point. It answers only once everything the call wrote, and every
//! write it read, is durable. Every document a caller sees passes through the rules (`read_view`),
//! every write through `check_insert` / `writable` + `check_targets` + `check_update` / `deletable`;
//! a system caller (functions run as system, triggers) bypasses the rules. Each call has a memory
//! and time budget drawn from the engine's pool.

mod args;
mod plan;
mod reads;
mod watch;
mod writes;

pub use watch::{ChangeStream, StreamItem};

use crate::config::Limits;
use crate::query::{Budget, MemoryPool, Meter, QueryError};
use crate::rules::{CollectionRules, Role, RuleError, RuleSet, UserContext};
use crate::store::{Namespace, Store, StoreError};
use crate::watch::ChangeLog;
use args::Args;
use bson::Bson;
use std::cell::Cell;
use std::collections::HashMap;
use std::sync::{Arc, LazyLock};
use std::time::Duration;

/// Functions of the `mongodb-atlas` service this server implements through `functions/call`.
pub const SUPPORTED: &[&str] = &[
    "insertOne", "insertMany", "find", "findOne", "count", "updateOne", "updateMany", "replaceOne", "deleteOne", "deleteMany",
    "findOneAndUpdate", "findOneAndReplace", "findOneAndDelete", "aggregate",
];

/// Service functions that exist on Atlas but are not implemented here (or not on this route).
const NOT_YET: &[&str] = &["countDocuments", "watch"];

/// Largest number of documents one call returns (a per-request cap).
pub const MAX_RESULT_DOCS: usize = 100_000;

/// Why a service call failed.
#[derive(Debug, thiserror::Error)]
pub enum ServiceError {
    /// Bad or missing argument.
    #[error("{0}")]
    BadArgument(String),
    /// Unknown function name.
    #[error("function not found: '{0}'")]
    FunctionNotFound(String),
    /// No data source of the app has this service name.
    #[error("service not found: '{0}'")]
    ServiceNotFound(String),
    /// Known to Atlas, not implemented (here).
    #[error("mongodb-atlas function '{0}' is not supported on this route by realm-wasm-server (supported: {list}; watch streams over GET)", list = SUPPORTED.join(", "))]
    NotSupported(String),
    /// Filter/update/projection/sort/pipeline rejected.
    #[error(transparent)]
    Query(#[from] QueryError),
    /// Rules refused.
    #[error(transparent)]
    Rule(#[from] RuleError),
    /// Storage failed or refused (duplicate key).
    #[error(transparent)]
    Store(#[from] StoreError),
    /// A watch asked to resume where the change-event log no longer reaches.
    #[error(transparent)]
    HistoryLost(#[from] crate::watch::ResumeError),
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

    /// The result as a BSON value (a count as a 64-bit integer).
    pub fn into_bson(self) -> Bson {
        match self {
            CallResult::Value(v) => v,
            CallResult::Count(n) => Bson::Int64(i64::try_from(n).unwrap_or(i64::MAX)),
        }
    }
}

/// Who a call runs as.
#[derive(Debug, Clone)]
#[allow(clippy::large_enum_variant)] // made once per call and passed by reference
pub enum Caller {
    /// A logged-in user, as the rules see them.
    User(UserContext),
    /// The system: the rules do not apply (functions with `run_as_system`, triggers).
    System,
}

/// What one call may use.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct CallLimits {
    /// Bytes per result, write or aggregation stage.
    pub max_stage_bytes: usize,
    /// Longest a call may run.
    pub timeout: Duration,
}

impl From<&Limits> for CallLimits {
    fn from(l: &Limits) -> Self {
        CallLimits { max_stage_bytes: l.max_stage_bytes, timeout: l.query_timeout }
    }
}

/// What calls run against: the store, each MongoDB service's rules (by service name), and the
/// memory pool every call's budget draws from.
pub struct Engine {
    store: Arc<dyn Store>,
    services: HashMap<String, Arc<RuleSet>>,
    memory: MemoryPool,
    limits: CallLimits,
    /// Runs the functions `%function` in a rule names (set once the function runtime exists).
    rule_functions: std::sync::OnceLock<Arc<dyn crate::rules::RuleFunctions>>,
    /// The change-event log the store feeds (watch streams read it).
    changes: Arc<ChangeLog>,
}

/// The rules a system caller runs under: everything allowed.
static SYSTEM_RULES: LazyLock<CollectionRules> = LazyLock::new(|| CollectionRules { roles: vec![Role::all_access("system")] });
static SYSTEM_USER: LazyLock<UserContext> = LazyLock::new(|| UserContext::with_id(""));

impl Engine {
    /// An engine over `store` serving `services` (service name → its rules); `changes` is
    /// registered as the store's observer.
    pub fn new(store: Arc<dyn Store>, services: HashMap<String, Arc<RuleSet>>, limits: CallLimits, memory_bytes: usize, changes: Arc<ChangeLog>) -> Engine {
        store.set_observer(changes.clone());
        Engine { store, services, memory: MemoryPool::new(memory_bytes), limits, changes, rule_functions: std::sync::OnceLock::new() }
    }

    /// Sets who runs the functions rules call with `%function` (once; until then such calls fail,
    /// so the expressions using them are false).
    pub fn set_rule_functions(&self, runner: Arc<dyn crate::rules::RuleFunctions>) {
        let _ = self.rule_functions.set(runner);
    }

    /// `user` with the results of the `%function` calls the rules of `service` make for requests
    /// on `db.coll` (`any_namespace`: on any namespace, for pipelines), resolved now: rule
    /// evaluation runs under the store's lock, where no function may run.
    pub async fn with_rule_functions(&self, service: &str, db: &str, coll: &str, any_namespace: bool, user: &UserContext) -> Option<UserContext> {
        let rules = self.services.get(service)?;
        if !rules.calls_functions() {
            return None;
        }
        let calls = rules.function_calls(db, coll, any_namespace);
        if calls.is_empty() {
            return None;
        }
        let runner = self.rule_functions.get()?;
        crate::rules::resolve_functions(runner.as_ref(), &calls, user).await
    }

    /// The store.
    pub fn store(&self) -> &Arc<dyn Store> {
        &self.store
    }

    /// The rules of a MongoDB service, or `ServiceNotFound`.
    pub fn rules(&self, service: &str) -> Result<&Arc<RuleSet>, ServiceError> {
        self.services.get(service).ok_or_else(|| ServiceError::ServiceNotFound(service.to_string()))
    }

    /// The query memory in use now (tests and diagnostics).
    pub fn memory_in_use(&self) -> usize {
        self.memory.used()
    }

    /// Runs `op` of `service` for `caller` and answers once everything it wrote, and every write
    /// it read, is durable.
    pub async fn call(&self, caller: &Caller, service: &str, op: &str, arguments: &[Bson]) -> Result<CallResult, ServiceError> {
        let resolved = match (caller, arguments.first()) {
            (Caller::User(user), Some(Bson::Document(arg))) => {
                let (db, coll) = (arg.get_str("database").unwrap_or_default(), arg.get_str("collection").unwrap_or_default());
                self.with_rule_functions(service, db, coll, op == "aggregate", user).await.map(Caller::User)
            }
            _ => None,
        };
        let caller = resolved.as_ref().unwrap_or(caller);
        let (result, ticket) = self.run(caller, service, op, arguments);
        // An error can come with a ticket too: an ordered insertMany keeps the documents before
        // the refused one, and is answered only once those are durable.
        if let Some(ticket) = ticket {
            crate::store::wait_durable(self.store.as_ref(), ticket).await?;
        }
        result
    }

    /// The call's work against memory (no waiting): its result and the ticket to wait for.
    fn run(&self, caller: &Caller, service: &str, op: &str, arguments: &[Bson]) -> (Result<CallResult, ServiceError>, Option<u64>) {
        let ticket = Cell::new(None);
        let budget = Budget::new(&self.memory, self.limits.max_stage_bytes).with_time_limit(self.limits.timeout);
        let result = self.dispatch(caller, service, op, arguments, &ticket, &budget);
        (result, ticket.get())
    }

    fn dispatch(&self, caller: &Caller, service: &str, op: &str, arguments: &[Bson], ticket: &Cell<Option<u64>>, budget: &Budget) -> Result<CallResult, ServiceError> {
        let rules = self.rules(service)?;
        if !SUPPORTED.contains(&op) {
            return Err(if NOT_YET.contains(&op) {
                ServiceError::NotSupported(op.to_string())
            } else {
                ServiceError::FunctionNotFound(op.to_string())
            });
        }
        let args = Args::parse(arguments)?;
        let ctx = Ctx::new(self, rules, caller, &args.ns, ticket, budget)?;
        match op {
            "find" => reads::find(&ctx, &args, false),
            "findOne" => reads::find(&ctx, &args, true),
            "count" => reads::count(&ctx, &args),
            "aggregate" => reads::aggregate(&ctx, &args),
            "insertOne" => writes::insert_one(&ctx, &args),
            "insertMany" => writes::insert_many(&ctx, &args),
            "updateOne" => writes::update(&ctx, &args, false),
            "updateMany" => writes::update(&ctx, &args, true),
            "replaceOne" => writes::replace_one(&ctx, &args),
            "deleteOne" => writes::delete(&ctx, &args, false),
            "deleteMany" => writes::delete(&ctx, &args, true),
            "findOneAndUpdate" | "findOneAndReplace" | "findOneAndDelete" => writes::find_one_and(&ctx, op, &args),
            other => Err(ServiceError::FunctionNotFound(other.to_string())),
        }
    }
}

/// One call's view: the engine, the namespace's rules and the caller (or the system's), the ticket
/// the answer waits for, and the call's budget (with the meter of what its writes build).
struct Ctx<'a> {
    engine: &'a Engine,
    rules: &'a RuleSet,
    caller: &'a Caller,
    perm: &'a CollectionRules,
    user: &'a UserContext,
    ns: &'a Namespace,
    ticket: &'a Cell<Option<u64>>,
    budget: &'a Budget<'a>,
    built: Meter<'a, 'a>,
}

impl<'a> Ctx<'a> {
    fn new(engine: &'a Engine, rules: &'a RuleSet, caller: &'a Caller, ns: &'a Namespace, ticket: &'a Cell<Option<u64>>, budget: &'a Budget<'a>) -> Result<Ctx<'a>, ServiceError> {
        let (perm, user) = match caller {
            Caller::User(user) => (rules.for_namespace(&ns.db, &ns.coll)?, user),
            Caller::System => (&*SYSTEM_RULES, &*SYSTEM_USER),
        };
        Ok(Ctx { engine, rules, caller, perm, user, ns, ticket, budget, built: budget.meter("update") })
    }

    /// The same call on another namespace of the same service (a `$lookup` source).
    fn with_namespace<'b>(&'b self, ns: &'b Namespace) -> Result<Ctx<'b>, ServiceError>
    where
        'a: 'b,
    {
        Ctx::new(self.engine, self.rules, self.caller, ns, self.ticket, self.budget)
    }

    /// Remembers a ticket the answer must wait for (a write's, or the newest write a read saw).
    fn must_await(&self, ticket: Option<u64>) {
        if let Some(t) = ticket {
            self.ticket.set(Some(self.ticket.get().map_or(t, |old| old.max(t))));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::query::{Filter, SortSpec};
    use crate::store::{open_database, RedbStore};
    use bson::{doc, Document};
    use plan::candidates;
    use watch::WatchSpec;

    /// An engine over a fresh store in a temporary directory, serving `rules` as `mongodb-atlas`.
    pub(crate) fn engine_with(store: RedbStore, rules: RuleSet) -> Engine {
        let services = HashMap::from([("mongodb-atlas".to_string(), Arc::new(rules))]);
        let limits = CallLimits { max_stage_bytes: usize::MAX, timeout: Duration::from_secs(3600) };
        Engine::new(Arc::new(store), services, limits, usize::MAX, Arc::new(ChangeLog::default()))
    }

    fn setup() -> (tempfile::TempDir, Engine, ()) {
        let dir = tempfile::tempdir().expect("tempdir");
        let store = RedbStore::open(open_database(dir.path()).expect("db")).expect("store");
        (dir, engine_with(store, RuleSet::default_app()), ())
    }

    fn block_on<T>(f: impl std::future::Future<Output = T>) -> T {
        tokio::runtime::Builder::new_current_thread().enable_all().build().expect("runtime").block_on(f)
    }

    fn run(e: &Engine, _rules: &(), user: &str, name: &str, arg: Document) -> Result<CallResult, ServiceError> {
        call_raw(e, &(), user, name, &[Bson::Document(arg)])
    }

    fn call_raw(e: &Engine, _rules: &(), user: &str, name: &str, args: &[Bson]) -> Result<CallResult, ServiceError> {
        block_on(e.call(&Caller::User(UserContext::with_id(user)), "mongodb-atlas", name, args))
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
        // An upsert must produce a document the caller owns.
        assert!(matches!(
            run(&s, &app, "u2", "updateOne", users(doc! {"query": {}, "update": {"$set": {"c": "blue"}}, "upsert": true})),
            Err(ServiceError::Rule(_))
        ));
        let r = value(run(&s, &app, "u2", "updateOne", users(doc! {"query": {"userID": "u2"}, "update": {"$set": {"c": "blue"}}, "upsert": true})));
        assert!(r.as_document().is_some_and(|d| d.contains_key("upsertedId")));
        let mine = value(run(&s, &app, "u2", "findOne", users(doc! {})));
        assert_eq!(mine.as_document().and_then(|d| d.get_str("userID").ok()), Some("u2"));
    }

    #[test]
    fn planner_uses_an_index_declared_in_the_config_file() {
        use clap::Parser;
        let dir = tempfile::tempdir().expect("tempdir");
        let file = dir.path().join("settings.json");
        std::fs::write(&file, r#"{"indexes": ["db.c:n"]}"#).expect("write");
        let flags = crate::config::Flags::try_parse_from(["x", "--config", file.to_str().expect("utf8")]).expect("flags");
        let settings = crate::ServerSettings::resolve(flags).expect("settings");
        let store = RedbStore::open_with_indexes(open_database(dir.path()).expect("db"), settings.indexes).expect("store");
        let engine = engine_with(store, RuleSet::default_app());
        let docs: Vec<Bson> = (0..100).map(|i| Bson::Document(doc! {"_id": i, "n": i % 10})).collect();
        value(run(&engine, &(), "u", "insertMany", doc! {"database": "db", "collection": "c", "documents": docs}));
        let ns = Namespace::new("db", "c").expect("ns");
        let snapshot = engine.store().read(&ns).expect("read");
        let c = snapshot.view();
        let filter = Filter::parse(&doc! {"n": 3}).expect("filter");
        let scanned = candidates(c, &filter, None).0.count();
        let sort = SortSpec::parse(&doc! {"n": -1}).expect("sort");
        let all = Filter::parse(&doc! {}).expect("filter");
        let ordered = candidates(c, &all, Some(&sort)).1;
        assert_eq!(scanned, 10, "the equality filter reads only the index range, not all 100 documents");
        assert!(ordered, "the sort on n is given by the index");
        let count = |filter: Document| {
            let filter = Filter::parse(&filter).expect("filter");
            let n = candidates(c, &filter, None).0.count();
            n
        };
        assert_eq!(count(doc! {"n": {"$in": [3, 4, 3]}}), 20, "an $in on an indexed path reads one index range per value, each document once");
        assert_eq!(count(doc! {"_id": {"$in": [1, 2.0, 2, 99, 1000]}}), 3, "an _id $in reads one document per id");
        assert_eq!(count(doc! {"n": {"$in": [3, null]}}), 100, "null also matches missing fields: no index lookup");
    }

    #[test]
    fn indexed_and_unindexed_collections_answer_the_same() {
        let (_d, plain, rules) = setup();
        let dir = tempfile::tempdir().expect("tempdir");
        let specs = crate::store::parse_indexes("db.c:n,db.c:tags").expect("specs");
        let indexed = engine_with(RedbStore::open_with_indexes(open_database(dir.path()).expect("db"), specs).expect("store"), RuleSet::default_app());
        let docs: Vec<Bson> = (0..60)
            .map(|i| {
                let mut d = doc! {"_id": i, "k": i % 7};
                match i % 5 {
                    0 => {}
                    1 => {
                        d.insert("n", "s".repeat((i % 4) as usize));
                    }
                    2 => {
                        d.insert("n", f64::from(i) / 2.0);
                    }
                    _ => {
                        d.insert("n", i % 9);
                    }
                }
                if i % 3 == 0 {
                    d.insert("tags", vec![Bson::Int32(i % 4), Bson::Int32(i % 5)]);
                }
                Bson::Document(d)
            })
            .collect();
        let ns = doc! {"database": "db", "collection": "c"};
        let with = |extra: Document| {
            let mut d = ns.clone();
            d.extend(extra);
            d
        };
        for s in [&plain, &indexed] {
            value(run(s, &rules, "u", "insertMany", with(doc! {"documents": docs.clone()})));
        }
        let queries = vec![
            doc! {"query": {"n": 4}},
            doc! {"query": {"n": {"$gte": 3, "$lt": 7}}},
            doc! {"query": {"n": {"$gt": "s"}}},
            doc! {"query": {"n": {"$lte": 5.5}, "k": 2}},
            doc! {"query": {"tags": 1}},
            doc! {"query": {"tags": {"$gte": 3}}},
            doc! {"query": {"n": null}},
            doc! {"query": {}, "sort": {"n": 1}},
            doc! {"query": {}, "sort": {"n": -1}, "limit": 10},
            doc! {"query": {"k": {"$ne": 3}}, "sort": {"n": 1}, "limit": 5},
            doc! {"query": {"n": {"$gt": 2}}, "sort": {"tags": -1}},
            doc! {"query": {"n": {"$in": [4, "ss", 2.5, 4.0]}}},
            doc! {"query": {"n": {"$in": [4, 5], "$ne": 5}, "k": {"$in": [2, 4, 5]}}},
            doc! {"query": {"tags": {"$in": [1, 3, 1]}}},
            doc! {"query": {"tags": {"$in": []}}},
            doc! {"query": {"n": {"$in": [4, null]}}},
            doc! {"query": {"n": {"$in": [Bson::RegularExpression(bson::Regex { pattern: "^s".into(), options: String::new() }), 3]}}},
            doc! {"query": {"n": {"$in": [1, 2, 3, 4, 5, 6]}}, "sort": {"n": -1}, "limit": 4},
        ];
        for q in queries {
            let a = value(run(&plain, &rules, "u", "find", with(q.clone())));
            let b = value(run(&indexed, &rules, "u", "find", with(q.clone())));
            // Ties may come in another order from an index: compare the sequence of sort keys and the sets.
            let ids = |v: &Bson| -> Vec<Bson> { v.as_array().expect("array").iter().map(|d| d.as_document().and_then(|d| d.get("_id")).cloned().unwrap_or(Bson::Null)).collect() };
            let (mut ia, mut ib) = (ids(&a), ids(&b));
            if let Ok(spec) = q.get_document("sort") {
                let spec = SortSpec::parse(spec).expect("sort");
                let keys = |v: &Bson| -> Vec<Vec<Bson>> { v.as_array().expect("array").iter().filter_map(Bson::as_document).map(|d| spec.keys(d)).collect() };
                assert_eq!(keys(&a), keys(&b), "{q}");
            }
            ia.sort_by(crate::query::compare_values);
            ib.sort_by(crate::query::compare_values);
            assert_eq!(ia, ib, "{q}");
        }
        // `_id` lookups serve both stores: compare them with the same ids through an `$or`, which is
        // never planned (a scan).
        let ids = vec![Bson::Int64(7), Bson::Int32(3), Bson::Double(5.0), Bson::Int32(3), Bson::Int32(1000), Bson::String("3".into())];
        let or: Vec<Bson> = ids.iter().map(|id| Bson::Document(doc! {"_id": id.clone()})).collect();
        for s in [&plain, &indexed] {
            let by_in = value(run(s, &rules, "u", "find", with(doc! {"query": {"_id": {"$in": ids.clone()}}, "sort": {"_id": 1}})));
            let by_or = value(run(s, &rules, "u", "find", with(doc! {"query": {"$or": or.clone()}, "sort": {"_id": 1}})));
            assert_eq!(by_in, by_or);
            assert_eq!(by_in.as_array().map(Vec::len), Some(3));
            // Without a sort, in index (`_id`) order, as MongoDB's index scan gives them.
            let unsorted = value(run(s, &rules, "u", "find", with(doc! {"query": {"_id": {"$in": ids.clone()}}})));
            assert_eq!(unsorted, by_or);
        }
    }

    #[test]
    fn watch_update_descriptions_name_only_readable_fields() {
        use crate::rules::{CollectionRules, FieldPerm, Role, RuleExpr};
        let mut role = Role::all_access("fields");
        role.read = RuleExpr::Const(false);
        role.write = RuleExpr::Const(false);
        role.fields = vec![("open".into(), FieldPerm { read: RuleExpr::Const(true), write: RuleExpr::Const(false) })];
        let rules = RuleSet::new(HashMap::from([(("db".into(), "c".into()), CollectionRules { roles: vec![role] })]), None);
        let spec = WatchSpec::parse(&rules, &[Bson::Document(doc! {"database": "db", "collection": "c"})]).expect("spec");
        let event = crate::watch::Event {
            seq: 1,
            ns: Namespace::new("db", "c").expect("ns"),
            before: Some(doc! {"_id": 1, "open": {"a": 1}, "secret": {"b": 1}, "gone": 1}),
            after: Some(doc! {"_id": 1, "open": {"a": 2}, "secret": {"b": 2}}),
            replacement: false,
            time: 0,
            batch: 1,
            bytes: 0,
        };
        let change = spec.render(&rules, &UserContext::with_id("u"), &event).expect("visible");
        assert_eq!(change.get_document("updateDescription"), Ok(&doc! {"updatedFields": {"open.a": 2}, "removedFields": []}));
        assert_eq!(change.get_document("fullDocument"), Ok(&doc! {"_id": 1, "open": {"a": 2}}));
    }

    #[test]
    fn lookup_and_missing_rules_go_through_the_rules() {
        let (_d, s, rules) = setup();
        let users = |extra: Document| {
            let mut d = doc! {"database": "app", "collection": "users"};
            d.extend(extra);
            d
        };
        for u in ["u1", "u2"] {
            value(run(&s, &rules, u, "insertOne", users(doc! {"document": {"userID": u, "team": "red"}})));
        }
        let teams = doc! {"database": "app", "collection": "teams", "documents": [{"_id": "red"}]};
        value(run(&s, &rules, "u1", "insertMany", teams));
        let pipeline = doc! {"database": "app", "collection": "teams", "pipeline": [
            {"$lookup": {"from": "users", "localField": "_id", "foreignField": "team", "as": "members"}},
            {"$project": {"members.userID": 1}}
        ]};
        let r = value(run(&s, &rules, "u2", "aggregate", pipeline));
        assert_eq!(r, Bson::Array(vec![Bson::Document(doc! {"_id": "red", "members": [{"userID": "u2"}]})]), "only u2's own user document joins");
        let dir = tempfile::tempdir().expect("tempdir");
        let strict = engine_with(RedbStore::open(open_database(dir.path()).expect("db")).expect("store"), RuleSet::new(HashMap::new(), None));
        let denied = run(&strict, &(), "u1", "find", doc! {"database": "app", "collection": "teams"});
        assert!(matches!(denied, Err(ServiceError::Rule(RuleError::NoMatchingRule(ref ns))) if ns == "app.teams"), "{denied:?}");
        // The system is not a user: the rules do not apply to it.
        let found = block_on(strict.call(&Caller::System, "mongodb-atlas", "find", &[Bson::Document(doc! {"database": "app", "collection": "teams"})]));
        assert_eq!(found.map(CallResult::into_bson).ok(), Some(Bson::Array(Vec::new())));
        let system_sees_all = block_on(s.call(&Caller::System, "mongodb-atlas", "count", &[Bson::Document(doc! {"database": "app", "collection": "users"})]));
        assert_eq!(system_sees_all.ok(), Some(CallResult::Count(2)), "both users' documents, whoever owns them");
        let other = block_on(s.call(&Caller::System, "mongodb-other", "count", &[Bson::Document(doc! {"database": "app", "collection": "users"})]));
        assert!(matches!(other, Err(ServiceError::ServiceNotFound(ref n)) if n == "mongodb-other"), "{other:?}");
    }

    #[test]
    fn find_one_and_update_takes_a_replacement_as_atlas_did() {
        let (_d, s, app) = setup();
        let ns = |extra: Document| {
            let mut d = doc! {"database": "db", "collection": "people"};
            d.extend(extra);
            d
        };
        value(run(&s, &app, "u", "insertOne", ns(doc! {"document": {"_id": 1, "name": "Bob", "age": 3}})));
        let r = value(run(&s, &app, "u", "findOneAndUpdate", ns(doc! {"filter": {"name": "Bob"}, "update": {"name": "Bobby"}, "returnNewDocument": true})));
        assert_eq!(r, Bson::Document(doc! {"_id": 1, "name": "Bobby"}), "the whole document is replaced, _id kept");
        let r = value(run(&s, &app, "u", "findOneAndUpdate", ns(doc! {"filter": {"_id": 7}, "update": {"name": "New"}, "upsert": true, "returnNewDocument": true})));
        assert_eq!(r, Bson::Document(doc! {"_id": 7, "name": "New"}), "upsert with a replacement takes the filter's _id");
        assert!(run(&s, &app, "u", "findOneAndReplace", ns(doc! {"filter": {}, "update": {"$set": {"a": 1}}})).is_err(), "operators in a replacement stay refused");
    }

    #[test]
    fn find_skips_after_sorting_and_before_the_limit() {
        let (_d, s, app) = setup();
        let ns = |extra: Document| {
            let mut d = doc! {"database": "db", "collection": "c"};
            d.extend(extra);
            d
        };
        let docs: Vec<Bson> = (0..6).map(|i| Bson::Document(doc! {"_id": i, "n": 10 - i})).collect();
        value(run(&s, &app, "u", "insertMany", ns(doc! {"documents": docs})));
        let ids = |r: Bson| -> Vec<Bson> { r.as_array().expect("array").iter().filter_map(|d| d.as_document()?.get("_id").cloned()).collect() };
        let r = value(run(&s, &app, "u", "find", ns(doc! {"sort": {"n": 1}, "skip": 2, "limit": 3})));
        assert_eq!(ids(r), vec![Bson::Int32(3), Bson::Int32(2), Bson::Int32(1)], "sorted by n, two skipped, three kept");
        let r = value(run(&s, &app, "u", "find", ns(doc! {"skip": 4})));
        assert_eq!(ids(r), vec![Bson::Int32(4), Bson::Int32(5)], "no limit: the rest after the skip");
        assert_eq!(value(run(&s, &app, "u", "find", ns(doc! {"skip": 99}))), Bson::Array(vec![]));
        let r = value(run(&s, &app, "u", "findOne", ns(doc! {"sort": {"_id": -1}, "skip": 1})));
        assert_eq!(r, Bson::Document(doc! {"_id": 4, "n": 6}));
        assert!(matches!(run(&s, &app, "u", "find", ns(doc! {"skip": -1})), Err(ServiceError::BadArgument(_))));
        assert!(matches!(run(&s, &app, "u", "find", ns(doc! {"skip": "2"})), Err(ServiceError::BadArgument(_))));
    }

    #[test]
    fn replace_one_replaces_the_first_match_and_upserts() {
        let (_d, s, app) = setup();
        let ns = |extra: Document| {
            let mut d = doc! {"database": "db", "collection": "c"};
            d.extend(extra);
            d
        };
        value(run(&s, &app, "u", "insertMany", ns(doc! {"documents": [{"_id": 1, "a": 1, "b": 1}, {"_id": 2, "a": 1}]})));
        let r = value(run(&s, &app, "u", "replaceOne", ns(doc! {"query": {"a": 1}, "replacement": {"c": 3}})));
        assert_eq!(r, Bson::Document(doc! {"matchedCount": 1, "modifiedCount": 1}));
        assert_eq!(value(run(&s, &app, "u", "findOne", ns(doc! {"query": {"_id": 1}}))), Bson::Document(doc! {"_id": 1, "c": 3}), "replaced whole, _id kept");
        assert_eq!(value(run(&s, &app, "u", "findOne", ns(doc! {"query": {"_id": 2}}))), Bson::Document(doc! {"_id": 2, "a": 1}), "only the first match");
        let r = value(run(&s, &app, "u", "replaceOne", ns(doc! {"query": {"_id": 7}, "replacement": {"d": 4}, "upsert": true})));
        assert_eq!(r, Bson::Document(doc! {"matchedCount": 0, "modifiedCount": 0, "upsertedId": 7}));
        assert_eq!(value(run(&s, &app, "u", "findOne", ns(doc! {"query": {"_id": 7}}))), Bson::Document(doc! {"_id": 7, "d": 4}));
        let r = value(run(&s, &app, "u", "replaceOne", ns(doc! {"query": {"_id": 8}, "replacement": {"d": 4}})));
        assert_eq!(r, Bson::Document(doc! {"matchedCount": 0, "modifiedCount": 0}), "no upsert: nothing inserted");
        assert!(matches!(run(&s, &app, "u", "replaceOne", ns(doc! {"query": {}, "replacement": {"$set": {"a": 2}}})), Err(ServiceError::Query(_))));
        assert!(matches!(run(&s, &app, "u", "replaceOne", ns(doc! {"query": {}})), Err(ServiceError::BadArgument(_))), "the replacement is required");
        // Rules apply as for updateOne: a user may not replace another user's document.
        value(run(&s, &app, "u1", "insertOne", doc! {"database": "app", "collection": "users", "document": {"_id": "x", "userID": "u1"}}));
        let r = value(run(&s, &app, "u2", "replaceOne", doc! {"database": "app", "collection": "users", "query": {"_id": "x"}, "replacement": {"userID": "u2"}}));
        assert_eq!(r, Bson::Document(doc! {"matchedCount": 0, "modifiedCount": 0}));
    }

    #[test]
    fn bad_calls_are_reported() {
        let (_d, s, app) = setup();
        assert!(matches!(call_raw(&s, &app, "u", "aggregate", &[]), Err(ServiceError::BadArgument(_))));
        assert!(matches!(call_raw(&s, &app, "u", "watch", &[]), Err(ServiceError::NotSupported(_))));
        assert!(matches!(call_raw(&s, &app, "u", "nope", &[]), Err(ServiceError::FunctionNotFound(_))));
        assert!(matches!(call_raw(&s, &app, "u", "find", &[]), Err(ServiceError::BadArgument(_))));
        assert!(matches!(call_raw(&s, &app, "u", "find", &[Bson::Int32(1)]), Err(ServiceError::BadArgument(_))));
        assert!(matches!(run(&s, &app, "u", "find", doc! {"database": "d"}), Err(ServiceError::BadArgument(_))));
        assert!(matches!(
            run(&s, &app, "u", "find", doc! {"database": "d", "collection": "c", "query": {"a": {"$near": "x"}}}),
            Err(ServiceError::Query(QueryError::Unsupported(_)))
        ));
        assert!(matches!(
            run(&s, &app, "u", "updateOne", doc! {"database": "d", "collection": "c", "query": {}, "update": {"$bit": {"a": 1}}}),
            Err(ServiceError::Query(QueryError::Unsupported(_)))
        ));
        assert!(matches!(
            run(&s, &app, "u", "find", doc! {"database": "d", "collection": "c", "limit": "x"}),
            Err(ServiceError::BadArgument(_))
        ));
    }
}
