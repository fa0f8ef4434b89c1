//! MongoDB service functions end to end: arguments → rules → query/store → wire result.
//!
//! Every document a caller sees passes through the rules (`read_view`), every write through
//! `check_insert` / `writable` + `check_update` / `deletable`. Filters match the caller's view of
//! a document, so a query cannot probe fields the caller may not read.

use crate::query::{doc_bytes, parse_array_filters, type_rank, Budget, Filter, Meter, Pipeline, Projection, QueryError, SortSpec, Update, UpdateCtx};
use crate::rules::{CollectionRules, RuleError, RuleSet, UserContext};
use crate::store::{Change, CollectionView, Namespace, Store, StoreError};
use bson::{doc, oid::ObjectId, Bson, Document};
use std::borrow::Cow;
use std::cell::Cell;
use std::ops::Bound;
use std::collections::HashMap;

/// Functions of the `mongodb-atlas` service this server implements through `functions/call`.
pub const SUPPORTED: &[&str] = &[
    "insertOne", "insertMany", "find", "findOne", "count", "updateOne", "updateMany", "deleteOne", "deleteMany",
    "findOneAndUpdate", "findOneAndReplace", "findOneAndDelete", "aggregate",
];

/// Service functions that exist on Atlas but are not implemented here (or not on this route).
const NOT_YET: &[&str] = &["replaceOne", "countDocuments", "watch"];

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
}

/// The arguments of one call, with Atlas's key names.
pub struct Args {
    /// The namespace.
    pub ns: Namespace,
    raw: Document,
}

impl Args {
    /// Parses the single argument document (`database`, `collection`, …).
    pub fn parse(arguments: &[Bson]) -> Result<Args, ServiceError> {
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

    fn present(&self, key: &str) -> Option<&Bson> {
        self.raw.get(key).filter(|v| !matches!(v, Bson::Null | Bson::Undefined))
    }

    fn doc_opt(&self, key: &str) -> Result<Option<Document>, ServiceError> {
        match self.present(key) {
            None => Ok(None),
            Some(Bson::Document(d)) => Ok(Some(d.clone())),
            Some(_) => Err(ServiceError::BadArgument(format!("'{key}' must be an object"))),
        }
    }

    fn doc_req(&self, key: &str) -> Result<Document, ServiceError> {
        self.doc_opt(key)?.ok_or_else(|| ServiceError::BadArgument(format!("'{key}' is required")))
    }

    fn array_opt(&self, key: &str) -> Result<Option<&Vec<Bson>>, ServiceError> {
        match self.present(key) {
            None => Ok(None),
            Some(Bson::Array(a)) => Ok(Some(a)),
            Some(_) => Err(ServiceError::BadArgument(format!("'{key}' must be an array"))),
        }
    }

    fn filter(&self, key: &str) -> Result<Filter, ServiceError> {
        Ok(Filter::parse(&self.doc_opt(key)?.unwrap_or_default())?)
    }

    fn limit(&self) -> Result<Option<usize>, ServiceError> {
        let n = match self.present("limit") {
            None => return Ok(None),
            Some(Bson::Int32(i)) => i64::from(*i),
            Some(Bson::Int64(i)) => *i,
            Some(Bson::Double(d)) if d.fract() == 0.0 && d.abs() < 9e15 => *d as i64,
            Some(_) => return Err(ServiceError::BadArgument("'limit' must be an integer".into())),
        };
        Ok(if n == 0 { None } else { Some(n.unsigned_abs() as usize) })
    }

    fn flag(&self, key: &str) -> Result<bool, ServiceError> {
        match self.present(key) {
            None => Ok(false),
            Some(Bson::Boolean(b)) => Ok(*b),
            Some(_) => Err(ServiceError::BadArgument(format!("'{key}' must be a boolean"))),
        }
    }

    fn sort(&self) -> Result<Option<SortSpec>, ServiceError> {
        Ok(self.doc_opt("sort")?.map(|s| SortSpec::parse(&s)).transpose()?)
    }

    fn projection(&self, key: &str) -> Result<Option<Projection>, ServiceError> {
        Ok(self.doc_opt(key)?.map(|p| Projection::parse(&p)).transpose()?)
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

/// Runs one `mongodb-atlas` function for `user`; returns once its writes are durable.
pub fn call(
    store: &dyn Store,
    rules: &RuleSet,
    user: &UserContext,
    name: &str,
    arguments: &[Bson],
    budget: &Budget,
) -> Result<CallResult, ServiceError> {
    let (result, ticket) = call_deferred(store, rules, user, name, arguments, budget);
    if let Some(t) = ticket {
        store.wait_durable(t)?;
    }
    result
}

/// Runs one function and returns its result (or error) with the durability ticket of its writes
/// (if any): the caller must not hand the answer out before that ticket is durable. An error can
/// come with a ticket: an ordered `insertMany` keeps the documents before the one refused.
pub fn call_deferred(
    store: &dyn Store,
    rules: &RuleSet,
    user: &UserContext,
    name: &str,
    arguments: &[Bson],
    budget: &Budget,
) -> (Result<CallResult, ServiceError>, Option<u64>) {
    let ticket = Cell::new(None);
    let result = run_call(store, rules, user, name, arguments, &ticket, budget);
    (result, ticket.get())
}

fn run_call(
    store: &dyn Store,
    rules: &RuleSet,
    user: &UserContext,
    name: &str,
    arguments: &[Bson],
    ticket: &Cell<Option<u64>>,
    budget: &Budget,
) -> Result<CallResult, ServiceError> {
    if !SUPPORTED.contains(&name) {
        return Err(if NOT_YET.contains(&name) {
            ServiceError::NotSupported(name.to_string())
        } else {
            ServiceError::FunctionNotFound(name.to_string())
        });
    }
    let args = Args::parse(arguments)?;
    let perm = rules.for_namespace(&args.ns.db, &args.ns.coll)?;
    let ctx = Ctx { store, perm, user, ns: &args.ns, ticket, budget, built: budget.meter("update") };
    let result = match name {
        "find" | "findOne" => {
            let one = name == "findOne";
            let filter = args.filter("query")?;
            let projection = args.projection("project")?;
            let sort = args.sort()?;
            let limit = if one { Some(1) } else { args.limit()? };
            let docs = ctx.find(&filter, sort.as_ref(), limit)?;
            let docs: Vec<Document> = match &projection {
                Some(p) => docs.iter().map(|d| p.apply(d, Some(&filter))).collect(),
                None => docs,
            };
            Ok(CallResult::Value(if one {
                docs.into_iter().next().map(Bson::Document).unwrap_or(Bson::Null)
            } else {
                Bson::Array(docs.into_iter().map(Bson::Document).collect())
            }))
        }
        "count" => {
            let filter = args.filter("query")?;
            let limit = args.limit()?.unwrap_or(usize::MAX);
            let mut n = 0u64;
            let seen = store.read(&args.ns, &mut |c| {
                n = ctx.visible(c, &filter).take(limit).count() as u64;
            })?;
            ctx.must_await(seen);
            Ok(CallResult::Count(n))
        }
        "insertOne" => {
            let doc = ctx.prepare_insert(args.doc_req("document")?)?;
            let id = doc.get("_id").cloned().unwrap_or(Bson::Null);
            ctx.write(&mut |_| vec![Change::Insert(doc.clone())])?;
            Ok(CallResult::Value(Bson::Document(doc! {"insertedId": id})))
        }
        "insertMany" => {
            let docs = match args.array_opt("documents")? {
                Some(items) if !items.is_empty() => items
                    .iter()
                    .map(|d| match d {
                        Bson::Document(d) => ctx.prepare_insert(d.clone()),
                        _ => Err(ServiceError::BadArgument("'documents' must contain only objects".into())),
                    })
                    .collect::<Result<Vec<_>, _>>()?,
                Some(_) => return Err(ServiceError::BadArgument("'documents' must not be empty".into())),
                None => return Err(ServiceError::BadArgument("'documents' is required".into())),
            };
            let ids: Vec<Bson> = docs.iter().map(|d| d.get("_id").cloned().unwrap_or(Bson::Null)).collect();
            // Ordered, as MongoDB's default: the documents before a refused one stay inserted.
            ctx.write_ordered(&mut |_| docs.iter().cloned().map(Change::Insert).collect())?;
            Ok(CallResult::Value(Bson::Document(doc! {"insertedIds": ids})))
        }
        "updateOne" | "updateMany" => {
            let filter = args.filter("query")?;
            let update = Update::parse(&args.doc_req("update")?)?;
            let array_filters = parse_array_filters(args.array_opt("arrayFilters")?.map(Vec::as_slice).unwrap_or(&[]))?;
            check_identifiers(&update, &array_filters)?;
            let spec = WriteSpec { filter: &filter, update: &update, array_filters: &array_filters, upsert: args.flag("upsert")? };
            let (matched, modified, upserted) = ctx.update(&spec, name == "updateMany")?;
            let mut result = doc! {"matchedCount": count_bson(matched), "modifiedCount": count_bson(modified)};
            if let Some(id) = upserted {
                result.insert("upsertedId", id);
            }
            Ok(CallResult::Value(Bson::Document(result)))
        }
        "deleteOne" | "deleteMany" => {
            let filter = args.filter("query")?;
            let (deleted, _) = ctx.delete(&filter, None, name == "deleteMany")?;
            Ok(CallResult::Value(Bson::Document(doc! {"deletedCount": count_bson(deleted as i64)})))
        }
        "findOneAndUpdate" | "findOneAndReplace" | "findOneAndDelete" => ctx.find_one_and(name, &args),
        "aggregate" => {
            let stages = args.array_opt("pipeline")?.ok_or_else(|| ServiceError::BadArgument("'pipeline' is required".into()))?;
            let pipeline = Pipeline::parse(stages)?;
            let mut foreign = HashMap::new();
            for coll in pipeline.foreign_collections() {
                let ns = Namespace::new(&args.ns.db, &coll)?;
                let fperm = rules.for_namespace(&ns.db, &ns.coll)?;
                let fctx = Ctx { store, perm: fperm, user, ns: &ns, ticket, budget, built: budget.meter("update") };
                foreign.insert(coll, fctx.find(&Filter::And(Vec::new()), None, None)?);
            }
            // A leading $match selects what is read (through the indexes), not the whole collection.
            let (first_match, pipeline) = pipeline.split_leading_match();
            let source = ctx.find(&first_match.unwrap_or(Filter::And(Vec::new())), None, None)?;
            let out = pipeline.run(source, &foreign, budget)?;
            if out.len() > MAX_RESULT_DOCS {
                return Err(ServiceError::BadArgument(format!("aggregate result has more than {MAX_RESULT_DOCS} documents")));
            }
            Ok(CallResult::Value(Bson::Array(out.into_iter().map(Bson::Document).collect())))
        }
        other => Err(ServiceError::FunctionNotFound(other.to_string())),
    };
    result
}

fn check_identifiers(update: &Update, array_filters: &[(String, Filter)]) -> Result<(), ServiceError> {
    let used = update.identifiers();
    if let Some((unused, _)) = array_filters.iter().find(|(i, _)| !used.contains(i)) {
        return Err(QueryError::BadValue(format!("The array filter for identifier '{unused}' was not used in the update")).into());
    }
    Ok(())
}

fn count_bson(n: i64) -> Bson {
    i32::try_from(n).map(Bson::Int32).unwrap_or(Bson::Int64(n))
}

fn with_id(doc: Document) -> Document {
    if doc.contains_key("_id") {
        return doc;
    }
    let mut out = doc! {"_id": ObjectId::new()};
    out.extend(doc);
    out
}

/// What an update call asks for.
struct WriteSpec<'a> {
    filter: &'a Filter,
    update: &'a Update,
    array_filters: &'a [(String, Filter)],
    upsert: bool,
}

/// One call's view: store, the namespace's rules, the caller, the ticket of its writes, and its
/// memory budget (with the meter of the documents its writes build).
struct Ctx<'a> {
    store: &'a dyn Store,
    perm: &'a CollectionRules,
    user: &'a UserContext,
    ns: &'a Namespace,
    ticket: &'a Cell<Option<u64>>,
    budget: &'a Budget<'a>,
    built: Meter<'a, 'a>,
}

/// Documents to consider for `filter` (a superset of the matches: the caller applies the filter),
/// and whether they already come in `sort` order: one `_id` lookup when the filter pins `_id`, one
/// per value of an `_id` `$in`; an index walk in sort order when a single-key sort has a
/// (non-multikey) index; an index range for an equality/range condition on an indexed path; one
/// index lookup per value of an `$in` on an indexed path; else a scan in natural order.
fn candidates<'c>(c: &'c dyn CollectionView, filter: &'c Filter, sort: Option<&SortSpec>) -> (Box<dyn Iterator<Item = &'c Document> + 'c>, bool) {
    if let Some(id) = filter.id_equality() {
        if !matches!(id, Bson::Document(_) | Bson::Array(_) | Bson::Null | Bson::RegularExpression(_)) {
            return (Box::new(c.get(id).into_iter()), true);
        }
    }
    let mut in_lists = filter.in_lists();
    // Values in index order, so the documents come as MongoDB's index scan gives them.
    for (_, values) in &mut in_lists {
        values.sort_by(|a, b| crate::query::compare_values(a, b));
    }
    // Batch reads by `_id` (`{_id: {$in: ids}}`) are common: never a scan, even with a sort.
    if let Some(at) = in_lists.iter().position(|(path, _)| *path == "_id") {
        let (_, ids) = in_lists.swap_remove(at);
        return (Box::new(distinct(ids.into_iter().filter_map(|id| c.get(id)))), false);
    }
    if let Some((path, asc)) = sort.and_then(SortSpec::single) {
        if c.index_multikey(path) == Some(false) {
            if let Some(walk) = c.index_range(path, Bound::Unbounded, Bound::Unbounded, !asc) {
                return (Box::new(walk.map(|(_, d)| d)), true);
            }
        }
    }
    for b in filter.index_bounds() {
        if let Some(range) = c.index_range(b.path, b.lower, b.upper, false) {
            let rank = b.rank;
            let docs = range
                .skip_while(move |(k, _)| Some(type_rank(k)) < rank)
                .take_while(move |(k, _)| Some(type_rank(k)) == rank)
                .map(|(_, d)| d);
            return (Box::new(docs), false);
        }
    }
    for (path, values) in in_lists {
        if c.index_multikey(path).is_none() {
            continue; // no index on the path
        }
        let docs = values.into_iter().flat_map(move |v| {
            let rank = type_rank(v);
            c.index_range(path, Bound::Included(v), Bound::Included(v), false)
                .into_iter()
                .flatten()
                .skip_while(move |(k, _)| type_rank(k) < rank)
                .take_while(move |(k, _)| type_rank(k) == rank)
                .map(|(_, d)| d)
        });
        return (Box::new(distinct(docs)), false);
    }
    (c.docs(), false)
}

/// `docs` without repeats (one document can match several `$in` values, through an array field
/// or a repeated value).
fn distinct<'c>(docs: impl Iterator<Item = &'c Document> + 'c) -> impl Iterator<Item = &'c Document> + 'c {
    let mut seen = std::collections::HashSet::new();
    docs.filter(move |d| seen.insert(std::ptr::from_ref::<Document>(d)))
}

/// Sorts and truncates: only the first `limit` are fully ordered (top-k), ties in natural order.
/// Sort keys are extracted once per document.
fn sort_limit<T>(items: Vec<T>, key: impl Fn(&T) -> &Document, sort: &SortSpec, limit: Option<usize>) -> Vec<T> {
    let mut keyed: Vec<(Vec<Bson>, usize, T)> = items.into_iter().enumerate().map(|(i, t)| (sort.keys(key(&t)), i, t)).collect();
    let cmp = |a: &(Vec<Bson>, usize, T), b: &(Vec<Bson>, usize, T)| sort.compare_keys(&a.0, &b.0).then(a.1.cmp(&b.1));
    if let Some(k) = limit.filter(|k| *k > 0 && *k < keyed.len()) {
        keyed.select_nth_unstable_by(k - 1, cmp);
        keyed.truncate(k);
    }
    keyed.sort_by(cmp);
    keyed.into_iter().map(|(_, _, t)| t).collect()
}

impl<'a> Ctx<'a> {
    /// Remembers a ticket the answer must wait for (a write's, or the newest write a read saw).
    fn must_await(&self, ticket: Option<u64>) {
        if let Some(t) = ticket {
            self.ticket.set(Some(self.ticket.get().map_or(t, |old| old.max(t))));
        }
    }

    /// Applies a write plan without waiting for durability; remembers the ticket to wait for.
    fn write(&self, plan: &mut dyn FnMut(&dyn CollectionView) -> Vec<Change>) -> Result<(), StoreError> {
        self.must_await(self.store.write_deferred(self.ns, plan)?);
        Ok(())
    }

    /// Like `write`, applying the changes in order up to the first refused one (kept), whose
    /// refusal is returned after the ticket of the applied ones is remembered.
    fn write_ordered(&self, plan: &mut dyn FnMut(&dyn CollectionView) -> Vec<Change>) -> Result<(), StoreError> {
        let (ticket, refused) = self.store.write_ordered_deferred(self.ns, plan)?;
        self.must_await(ticket);
        refused.map_or(Ok(()), Err)
    }

    /// The caller's views of the documents matching `filter`, in natural order.
    fn visible<'c>(&'c self, c: &'c dyn CollectionView, filter: &'c Filter) -> impl Iterator<Item = Cow<'c, Document>> + 'c {
        self.visible_sorted(c, filter, None).0
    }

    /// Like `visible`, using an index for `sort` when there is one (then the flag is true).
    fn visible_sorted<'c>(&'c self, c: &'c dyn CollectionView, filter: &'c Filter, sort: Option<&SortSpec>) -> (impl Iterator<Item = Cow<'c, Document>> + 'c, bool) {
        // An index walk gives the order of the stored values: only usable when the caller can read
        // the sort field of every document, or the order would rank documents by a hidden value.
        let index_sort = sort.filter(|s| s.single().is_some_and(|(path, _)| self.perm.always_readable(path)));
        let (docs, sorted) = candidates(c, filter, index_sort);
        let views = docs.filter_map(move |d| {
            let view = self.perm.read_view(self.user, d)?;
            filter.matches(&view).then_some(view)
        });
        (views, sorted)
    }

    fn find(&self, filter: &Filter, sort: Option<&SortSpec>, limit: Option<usize>) -> Result<Vec<Document>, ServiceError> {
        let mut out: Result<Vec<Document>, ServiceError> = Err(ServiceError::BadArgument("unreachable".into()));
        let meter = self.budget.meter("find");
        // Each document returned is counted as it is copied out (and copies made to sort).
        let keep = |d: Cow<Document>| -> Result<Document, ServiceError> {
            meter.add(doc_bytes(&d))?;
            Ok(d.into_owned())
        };
        let cap = limit.unwrap_or(usize::MAX).min(MAX_RESULT_DOCS + 1);
        let seen = self.store.read(self.ns, &mut |c| {
            out = match sort {
                None => self.visible(c, filter).take(cap).map(keep).collect(),
                Some(s) => match self.visible_sorted(c, filter, Some(s)) {
                    (views, true) => views.take(cap).map(keep).collect(),
                    (views, false) => (|| {
                        let mut all: Vec<Cow<Document>> = Vec::new();
                        for v in views {
                            if let Cow::Owned(d) = &v {
                                meter.add(doc_bytes(d))?;
                            }
                            all.push(v);
                        }
                        sort_limit(all, |d| d, s, limit).into_iter().map(keep).collect()
                    })(),
                },
            };
        })?;
        self.must_await(seen);
        let docs = out?;
        if docs.len() > MAX_RESULT_DOCS {
            return Err(ServiceError::BadArgument(format!("result has more than {MAX_RESULT_DOCS} documents; use a limit")));
        }
        Ok(docs)
    }

    /// Orders stored documents by the caller's views of them (a field the caller cannot read sorts
    /// as missing), keeping the first `limit`.
    fn sort_by_views<'c>(&self, docs: Vec<&'c Document>, sort: &SortSpec, limit: Option<usize>) -> Vec<&'c Document> {
        let viewed: Vec<(Cow<'c, Document>, &'c Document)> =
            docs.into_iter().map(|d| (self.perm.read_view(self.user, d).unwrap_or_default(), d)).collect();
        sort_limit(viewed, |(view, _)| view, sort, limit).into_iter().map(|(_, d)| d).collect()
    }

    /// Gives the document an `_id` (first, as MongoDB does) if it has none, and checks the rules.
    fn prepare_insert(&self, doc: Document) -> Result<Document, ServiceError> {
        let doc = with_id(doc);
        self.perm.check_insert(self.user, &doc)?;
        Ok(doc)
    }

    /// Candidates for a write: matching the caller's view and writable by the caller.
    fn writable<'c>(&'c self, c: &'c dyn CollectionView, filter: &'c Filter) -> impl Iterator<Item = &'c Document> + 'c {
        candidates(c, filter, None).0.filter(move |d| {
            self.perm.read_view(self.user, d).is_some_and(|v| filter.matches(&v)) && self.perm.writable(self.user, d)
        })
    }

    /// Applies `spec` to the first (or every) match; returns (matched, modified, upserted id).
    fn update(&self, spec: &WriteSpec, many: bool) -> Result<(i64, i64, Option<Bson>), ServiceError> {
        let mut outcome: Result<(i64, i64, Option<Bson>), ServiceError> = Ok((0, 0, None));
        self.write(&mut |c| {
            let step = (|| {
                let mut changes = Vec::new();
                let (mut matched, mut modified) = (0i64, 0i64);
                let uctx = UpdateCtx { query: Some(spec.filter), array_filters: spec.array_filters, inserting: false, budget: Some(self.budget) };
                for d in self.writable(c, spec.filter).take(if many { usize::MAX } else { 1 }) {
                    matched += 1;
                    if let Some(change) = self.updated(d, spec.update, &uctx)? {
                        modified += 1;
                        changes.push(change);
                    }
                }
                if matched == 0 && spec.upsert {
                    let d = self.upserted(c, spec)?;
                    let id = d.get("_id").cloned();
                    return Ok((vec![Change::Insert(d)], (0, 0, id)));
                }
                Ok((changes, (matched, modified, None)))
            })();
            match step {
                Ok((changes, counts)) => {
                    outcome = Ok(counts);
                    changes
                }
                Err(e) => {
                    outcome = Err(e);
                    Vec::new()
                }
            }
        })?;
        outcome
    }

    /// The change an update makes to `d`, if it changes it (checked against the rules).
    fn updated(&self, d: &Document, update: &Update, uctx: &UpdateCtx) -> Result<Option<Change>, ServiceError> {
        self.perm.check_targets(self.user, d, update.target_fields().as_deref())?;
        let mut new_doc = d.clone();
        if !update.apply(&mut new_doc, uctx)? {
            return Ok(None);
        }
        self.built.add(doc_bytes(&new_doc))?;
        self.perm.check_update(self.user, d, &new_doc)?;
        Ok(Some(match update {
            Update::Replace(_) => Change::Replace(new_doc),
            Update::Ops(_) => Change::Update(new_doc),
        }))
    }

    fn upserted(&self, c: &dyn CollectionView, spec: &WriteSpec) -> Result<Document, ServiceError> {
        let uctx = UpdateCtx { query: None, array_filters: spec.array_filters, inserting: true, budget: Some(self.budget) };
        let d = with_id(spec.update.upsert_document(spec.filter, &uctx)?);
        self.perm.check_insert(self.user, &d)?;
        if c.contains_id(d.get("_id").unwrap_or(&Bson::Null)) {
            return Err(StoreError::DuplicateKey { ns: self.ns.to_string(), index: "_id".into(), key: d.get("_id").map(|v| v.to_string()).unwrap_or_default() }.into());
        }
        Ok(d)
    }

    /// Deletes the first (by `sort`) or every match the caller may delete; returns how many, and
    /// the first one deleted (what findOneAndDelete shows).
    fn delete(&self, filter: &Filter, sort: Option<&SortSpec>, many: bool) -> Result<(usize, Option<Document>), ServiceError> {
        let mut outcome = (0, None);
        self.write(&mut |c| {
            let mut hits: Vec<&Document> = self.writable(c, filter).filter(|d| self.perm.deletable(self.user, d)).collect();
            if let Some(s) = sort {
                hits = self.sort_by_views(hits, s, Some(1));
            }
            hits.truncate(if many { usize::MAX } else { 1 });
            outcome = (hits.len(), hits.first().map(|d| (*d).clone()));
            hits.iter().filter_map(|d| d.get("_id").cloned().map(Change::Delete)).collect()
        })?;
        Ok(outcome)
    }

    /// findOneAndUpdate / findOneAndReplace / findOneAndDelete, atomically under the store's write lock.
    fn find_one_and(&self, name: &str, args: &Args) -> Result<CallResult, ServiceError> {
        let filter = args.filter("filter")?;
        let sort = args.sort()?;
        let projection = args.projection("projection")?;
        let show = |d: Option<Document>| -> Result<CallResult, ServiceError> {
            let d = d.and_then(|d| self.perm.read_view(self.user, &d).map(Cow::into_owned));
            Ok(CallResult::Value(match (d, &projection) {
                (Some(d), Some(p)) => Bson::Document(p.apply(&d, Some(&filter))),
                (Some(d), None) => Bson::Document(d),
                (None, _) => Bson::Null,
            }))
        };
        // realm-web 2.0.1 sends findOneAndDelete as findOneAndReplace without `update`.
        if name == "findOneAndDelete" || (name == "findOneAndReplace" && args.present("update").is_none()) {
            return show(self.delete(&filter, sort.as_ref(), false)?.1);
        }
        let update = Update::parse(&args.doc_req("update")?)?;
        // A replacement document in findOneAndUpdate replaces, as Atlas's service accepted it.
        match (&update, name) {
            (Update::Ops(_), "findOneAndReplace") => {
                return Err(QueryError::BadValue("findOneAndReplace requires a replacement document without update operators".into()).into())
            }
            _ => {}
        }
        let (upsert, return_new) = (args.flag("upsert")?, args.flag("returnNewDocument")?);
        let spec = WriteSpec { filter: &filter, update: &update, array_filters: &[], upsert };
        let mut outcome: Result<Option<Document>, ServiceError> = Ok(None);
        self.write(&mut |c| {
            let step = (|| {
                let mut hits: Vec<&Document> = self.writable(c, &filter).collect();
                if let Some(s) = &sort {
                    hits = self.sort_by_views(hits, s, Some(1));
                }
                let uctx = UpdateCtx { query: Some(&filter), array_filters: &[], inserting: false, budget: Some(self.budget) };
                match hits.first() {
                    Some(d) => {
                        let change = self.updated(d, &update, &uctx)?;
                        let after = match &change {
                            Some(Change::Replace(n) | Change::Update(n)) => n.clone(),
                            _ => (*d).clone(),
                        };
                        Ok((change.into_iter().collect(), Some(if return_new { after } else { (*d).clone() })))
                    }
                    None if upsert => {
                        let d = self.upserted(c, &spec)?;
                        Ok((vec![Change::Insert(d.clone())], return_new.then_some(d)))
                    }
                    None => Ok((Vec::new(), None)),
                }
            })();
            match step {
                Ok((changes, result)) => {
                    outcome = Ok(result);
                    changes
                }
                Err(e) => {
                    outcome = Err(e);
                    Vec::new()
                }
            }
        })?;
        show(outcome?)
    }
}

/// A parsed `watch` request: namespace, optional `ids` and `filter`, optional resume point.
pub struct WatchSpec {
    /// The watched namespace.
    pub ns: Namespace,
    ids: Option<Vec<Bson>>,
    filter: Option<Filter>,
    /// `resumeAfter`: a resume token from an earlier event.
    pub resume_after: Option<Bson>,
}

impl WatchSpec {
    /// Parses watch arguments; the namespace must have rules (else `NoMatchingRule`).
    pub fn parse(rules: &RuleSet, arguments: &[Bson]) -> Result<WatchSpec, ServiceError> {
        let args = Args::parse(arguments)?;
        rules.for_namespace(&args.ns.db, &args.ns.coll)?;
        let ids = args.array_opt("ids")?.cloned();
        let filter = args.doc_opt("filter")?.map(|f| Filter::parse(&f)).transpose()?;
        let resume_after = args.present("resumeAfter").cloned();
        Ok(WatchSpec { ns: args.ns, ids, filter, resume_after })
    }

    /// The change event `user` receives for `event`, if any (rules, `ids` and `filter` applied).
    pub fn render(&self, rules: &RuleSet, user: &UserContext, event: &crate::watch::Event) -> Option<Document> {
        if event.ns != self.ns {
            return None;
        }
        let perm = rules.for_namespace(&self.ns.db, &self.ns.coll).ok()?;
        // The caller must be able to see the document before or after the change.
        let after = event.after.as_ref().and_then(|d| perm.read_view(user, d)).map(Cow::into_owned);
        let before = event.before.as_ref().and_then(|d| perm.read_view(user, d));
        if after.is_none() && before.is_none() {
            return None;
        }
        let id = event.document_id();
        if let Some(ids) = &self.ids {
            if !ids.iter().any(|i| crate::query::values_equal(i, &id)) {
                return None;
            }
        }
        let change = event.to_change_event(after, before.as_deref());
        match &self.filter {
            Some(f) if !f.matches(&change) => None,
            _ => Some(change),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::{open_database, RedbStore};

    fn setup() -> (tempfile::TempDir, RedbStore, RuleSet) {
        let dir = tempfile::tempdir().expect("tempdir");
        let store = RedbStore::open(open_database(dir.path()).expect("db")).expect("store");
        (dir, store, RuleSet::default_app())
    }

    fn run(s: &RedbStore, rules: &RuleSet, user: &str, name: &str, arg: Document) -> Result<CallResult, ServiceError> {
        call_raw(s, rules, user, name, &[Bson::Document(arg)])
    }

    fn call_raw(s: &RedbStore, rules: &RuleSet, user: &str, name: &str, args: &[Bson]) -> Result<CallResult, ServiceError> {
        let pool = crate::query::MemoryPool::new(usize::MAX);
        let budget = Budget::new(&pool, usize::MAX);
        let result = call(s, rules, &UserContext::with_id(user), name, args, &budget);
        result
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
        let docs: Vec<Bson> = (0..100).map(|i| Bson::Document(doc! {"_id": i, "n": i % 10})).collect();
        value(run(&store, &RuleSet::default_app(), "u", "insertMany", doc! {"database": "db", "collection": "c", "documents": docs}));
        let ns = Namespace::new("db", "c").expect("ns");
        let (mut scanned, mut ordered) = (0, false);
        store
            .read(&ns, &mut |c| {
                let filter = Filter::parse(&doc! {"n": 3}).expect("filter");
                scanned = candidates(c, &filter, None).0.count();
                let sort = SortSpec::parse(&doc! {"n": -1}).expect("sort");
                ordered = candidates(c, &Filter::parse(&doc! {}).expect("filter"), Some(&sort)).1;
            })
            .expect("read");
        assert_eq!(scanned, 10, "the equality filter reads only the index range, not all 100 documents");
        assert!(ordered, "the sort on n is given by the index");
        let count = |filter: Document| {
            let mut n = 0;
            store.read(&ns, &mut |c| n = candidates(c, &Filter::parse(&filter).expect("filter"), None).0.count()).expect("read");
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
        let indexed = RedbStore::open_with_indexes(open_database(dir.path()).expect("db"), specs).expect("store");
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
        let strict = RuleSet::new(HashMap::new(), None);
        let denied = run(&s, &strict, "u1", "find", doc! {"database": "app", "collection": "teams"});
        assert!(matches!(denied, Err(ServiceError::Rule(RuleError::NoMatchingRule(ref ns))) if ns == "app.teams"), "{denied:?}");
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
