//! Writes: `insertOne`, `insertMany`, `updateOne`, `updateMany`, `deleteOne`, `deleteMany` and the
//! `findOneAnd*` family. Each is planned and applied under the store's write lock; every new
//! version passes `check_insert` or `check_targets` + `check_update`, every removal `deletable`.

use super::args::Args;
use super::{CallResult, Ctx, ServiceError};
use crate::query::{doc_bytes, parse_array_filters, Filter, QueryError, SortSpec, Update, UpdateCtx};
use crate::store::{Change, CollectionView, StoreError, StoreExt};
use bson::{doc, oid::ObjectId, Bson, Document};
use std::borrow::Cow;

/// `insertOne`.
pub(super) fn insert_one(ctx: &Ctx, args: &Args) -> Result<CallResult, ServiceError> {
    let doc = ctx.prepare_insert(args.doc_req("document")?)?;
    let id = doc.get("_id").cloned().unwrap_or(Bson::Null);
    let ((), ticket) = ctx.engine.store.transact(ctx.ns, |_| Ok::<_, ServiceError>((vec![Change::Insert(doc)], ())))?;
    ctx.must_await(ticket);
    Ok(CallResult::Value(Bson::Document(doc! {"insertedId": id})))
}

/// `insertMany`: ordered, as MongoDB's default — at a refused document (duplicate key) the ones
/// before it stay inserted, durably, and the refusal is the answer.
pub(super) fn insert_many(ctx: &Ctx, args: &Args) -> Result<CallResult, ServiceError> {
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
    let ((), ticket, refused) = ctx.engine.store.transact_ordered(ctx.ns, |_| Ok::<_, ServiceError>((docs.into_iter().map(Change::Insert).collect(), ())))?;
    ctx.must_await(ticket);
    match refused {
        Some(e) => Err(e.into()),
        None => Ok(CallResult::Value(Bson::Document(doc! {"insertedIds": ids}))),
    }
}

/// `updateOne` / `updateMany` (`upsert`, `arrayFilters`).
pub(super) fn update(ctx: &Ctx, args: &Args, many: bool) -> Result<CallResult, ServiceError> {
    let filter = args.filter("query")?;
    let update = Update::parse(&args.doc_req("update")?)?;
    let array_filters = parse_array_filters(args.array_opt("arrayFilters")?.map(Vec::as_slice).unwrap_or(&[]))?;
    check_identifiers(&update, &array_filters)?;
    let spec = WriteSpec { filter: &filter, update: &update, array_filters: &array_filters, upsert: args.flag("upsert")? };
    apply(ctx, &spec, many)
}

/// `replaceOne` (`query`, `replacement`, `upsert`): the first match is replaced by a document
/// without operators (its `_id` kept); answers as `updateOne` does.
pub(super) fn replace_one(ctx: &Ctx, args: &Args) -> Result<CallResult, ServiceError> {
    let filter = args.filter("query")?;
    let replacement = Update::parse(&args.doc_req("replacement")?)?;
    if let Update::Ops(_) = replacement {
        return Err(QueryError::BadValue("replaceOne requires a replacement document without update operators (use updateOne for $set and the like)".into()).into());
    }
    let spec = WriteSpec { filter: &filter, update: &replacement, array_filters: &[], upsert: args.flag("upsert")? };
    apply(ctx, &spec, false)
}

/// Applies `spec` to the first (or, with `many`, every) writable match, or upserts.
fn apply(ctx: &Ctx, spec: &WriteSpec, many: bool) -> Result<CallResult, ServiceError> {
    let ((matched, modified, upserted), ticket) = ctx.engine.store.transact(ctx.ns, |c| {
        let uctx = UpdateCtx { query: Some(spec.filter), array_filters: spec.array_filters, inserting: false, budget: Some(ctx.budget) };
        let mut changes = Vec::new();
        let (mut matched, mut modified) = (0i64, 0i64);
        for d in ctx.writable(c, spec.filter).take(if many { usize::MAX } else { 1 }) {
            matched += 1;
            if let Some(change) = ctx.updated(d, spec.update, &uctx)? {
                modified += 1;
                changes.push(change);
            }
        }
        if matched == 0 && spec.upsert {
            let d = ctx.upserted(c, spec)?;
            let id = d.get("_id").cloned();
            return Ok::<_, ServiceError>((vec![Change::Insert(d)], (0, 0, id)));
        }
        Ok((changes, (matched, modified, None)))
    })?;
    ctx.must_await(ticket);
    let mut result = doc! {"matchedCount": count_bson(matched), "modifiedCount": count_bson(modified)};
    if let Some(id) = upserted {
        result.insert("upsertedId", id);
    }
    Ok(CallResult::Value(Bson::Document(result)))
}

/// `deleteOne` / `deleteMany`.
pub(super) fn delete(ctx: &Ctx, args: &Args, many: bool) -> Result<CallResult, ServiceError> {
    let filter = args.filter("query")?;
    let (deleted, _) = ctx.delete(&filter, None, many)?;
    Ok(CallResult::Value(Bson::Document(doc! {"deletedCount": count_bson(deleted as i64)})))
}

/// findOneAndUpdate / findOneAndReplace / findOneAndDelete, atomically under the store's write lock.
pub(super) fn find_one_and(ctx: &Ctx, name: &str, args: &Args) -> Result<CallResult, ServiceError> {
    let filter = args.filter("filter")?;
    let sort = args.sort()?;
    let projection = args.projection("projection")?;
    let show = |d: Option<Document>| -> Result<CallResult, ServiceError> {
        let d = d.and_then(|d| ctx.perm.read_view(ctx.user, &d).map(Cow::into_owned));
        Ok(CallResult::Value(match (d, &projection) {
            (Some(d), Some(p)) => Bson::Document(p.apply(&d, Some(&filter))),
            (Some(d), None) => Bson::Document(d),
            (None, _) => Bson::Null,
        }))
    };
    // realm-web 2.0.1 sends findOneAndDelete as findOneAndReplace without `update`.
    if name == "findOneAndDelete" || (name == "findOneAndReplace" && args.present("update").is_none()) {
        return show(ctx.delete(&filter, sort.as_ref(), false)?.1);
    }
    let update = Update::parse(&args.doc_req("update")?)?;
    // A replacement document in findOneAndUpdate replaces, as Atlas's service accepted it.
    if let (Update::Ops(_), "findOneAndReplace") = (&update, name) {
        return Err(QueryError::BadValue("findOneAndReplace requires a replacement document without update operators".into()).into());
    }
    let (upsert, return_new) = (args.flag("upsert")?, args.flag("returnNewDocument")?);
    let spec = WriteSpec { filter: &filter, update: &update, array_filters: &[], upsert };
    let (shown, ticket) = ctx.engine.store.transact(ctx.ns, |c| {
        let mut hits: Vec<&Document> = ctx.writable(c, &filter).collect();
        if let Some(s) = &sort {
            hits = ctx.sort_by_views(hits, s, Some(1));
        }
        let uctx = UpdateCtx { query: Some(&filter), array_filters: &[], inserting: false, budget: Some(ctx.budget) };
        match hits.first() {
            Some(d) => {
                let change = ctx.updated(d, &update, &uctx)?;
                let after = match &change {
                    Some(Change::Replace(n) | Change::Update(n)) => n.clone(),
                    _ => (*d).clone(),
                };
                Ok::<_, ServiceError>((change.into_iter().collect(), Some(if return_new { after } else { (*d).clone() })))
            }
            None if upsert => {
                let d = ctx.upserted(c, &spec)?;
                Ok((vec![Change::Insert(d.clone())], return_new.then_some(d)))
            }
            None => Ok((Vec::new(), None)),
        }
    })?;
    ctx.must_await(ticket);
    show(shown)
}

/// What an update call asks for.
struct WriteSpec<'a> {
    filter: &'a Filter,
    update: &'a Update,
    array_filters: &'a [(String, Filter)],
    upsert: bool,
}

impl Ctx<'_> {
    /// Gives the document an `_id` (first, as MongoDB does) if it has none, and checks the rules.
    fn prepare_insert(&self, doc: Document) -> Result<Document, ServiceError> {
        let doc = with_id(doc);
        self.perm.check_insert(self.user, &doc)?;
        Ok(doc)
    }

    /// Candidates for a write: matching the caller's view and writable by the caller.
    fn writable<'c>(&'c self, c: &'c dyn CollectionView, filter: &'c Filter) -> impl Iterator<Item = &'c Document> + 'c {
        super::plan::candidates(c, filter, None).0.filter(move |d| {
            self.perm.read_view(self.user, d).is_some_and(|v| filter.matches(&v)) && self.perm.writable(self.user, d)
        })
    }

    /// The change an update makes to `d`, if it changes it (checked against the rules; the new
    /// version is counted against the budget).
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

    /// The document an upsert inserts (checked against the rules).
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
        let (outcome, ticket) = self.engine.store.transact(self.ns, |c| {
            let mut hits: Vec<&Document> = self.writable(c, filter).filter(|d| self.perm.deletable(self.user, d)).collect();
            if let Some(s) = sort {
                hits = self.sort_by_views(hits, s, Some(1));
            }
            hits.truncate(if many { usize::MAX } else { 1 });
            let changes = hits.iter().filter_map(|d| d.get("_id").cloned().map(Change::Delete)).collect();
            Ok::<_, ServiceError>((changes, (hits.len(), hits.first().map(|d| (*d).clone()))))
        })?;
        self.must_await(ticket);
        Ok(outcome)
    }
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
