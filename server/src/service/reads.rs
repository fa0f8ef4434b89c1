//! Reads: `find`, `findOne`, `count`, `aggregate`. A filter matches the caller's view of a document,
//! so a query cannot probe fields the caller may not read.

use super::args::Args;
use super::plan::{candidates, sort_limit};
use super::{CallResult, Ctx, ServiceError, MAX_RESULT_DOCS};
use crate::query::{doc_bytes, Filter, Pipeline, SortSpec};
use crate::store::{CollectionView, Namespace};
use bson::{Bson, Document};
use std::borrow::Cow;
use std::collections::HashMap;

/// `find` and `findOne` (`skip` passes over the first matches, after the sort).
pub(super) fn find(ctx: &Ctx, args: &Args, one: bool) -> Result<CallResult, ServiceError> {
    let filter = args.filter("query")?;
    let projection = args.projection("project")?;
    let sort = args.sort()?;
    let skip = args.skip()?;
    let limit = if one { Some(1) } else { args.limit()? };
    let mut docs = ctx.find(&filter, sort.as_ref(), limit.map(|n| n.saturating_add(skip)))?;
    docs.drain(..skip.min(docs.len()));
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

/// `count` (with `limit`).
pub(super) fn count(ctx: &Ctx, args: &Args) -> Result<CallResult, ServiceError> {
    let filter = args.filter("query")?;
    let limit = args.limit()?.unwrap_or(usize::MAX);
    let snapshot = ctx.engine.store.read(ctx.ns)?;
    let n = ctx.visible(snapshot.view(), &filter).take(limit).count() as u64;
    ctx.must_await(snapshot.pending());
    Ok(CallResult::Count(n))
}

/// `aggregate`: the source collection and every `$lookup` collection are read through the rules.
pub(super) fn aggregate(ctx: &Ctx, args: &Args) -> Result<CallResult, ServiceError> {
    let stages = args.array_opt("pipeline")?.ok_or_else(|| ServiceError::BadArgument("'pipeline' is required".into()))?;
    let pipeline = Pipeline::parse(stages)?;
    let mut foreign = HashMap::new();
    for coll in pipeline.foreign_collections() {
        let ns = Namespace::new(&ctx.ns.db, &coll)?;
        let joined = ctx.with_namespace(&ns)?;
        foreign.insert(coll, joined.find(&Filter::And(Vec::new()), None, None)?);
    }
    // A leading $match selects what is read (through the indexes), not the whole collection.
    let (first_match, pipeline) = pipeline.split_leading_match();
    let source = ctx.find(&first_match.unwrap_or(Filter::And(Vec::new())), None, None)?;
    let out = pipeline.run(source, &foreign, ctx.budget)?;
    if out.len() > MAX_RESULT_DOCS {
        return Err(ServiceError::BadArgument(format!("aggregate result has more than {MAX_RESULT_DOCS} documents")));
    }
    Ok(CallResult::Value(Bson::Array(out.into_iter().map(Bson::Document).collect())))
}

impl Ctx<'_> {
    /// The caller's views of the documents matching `filter`, in natural order.
    pub(super) fn visible<'c>(&'c self, c: &'c dyn CollectionView, filter: &'c Filter) -> impl Iterator<Item = Cow<'c, Document>> + 'c {
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

    /// The caller's views of the matches of `filter`, sorted and limited; each document returned is
    /// counted against the budget as it is copied out.
    pub(super) fn find(&self, filter: &Filter, sort: Option<&SortSpec>, limit: Option<usize>) -> Result<Vec<Document>, ServiceError> {
        let meter = self.budget.meter("find");
        let keep = |d: Cow<Document>| -> Result<Document, ServiceError> {
            meter.add(doc_bytes(&d))?;
            Ok(d.into_owned())
        };
        let cap = limit.unwrap_or(usize::MAX).min(MAX_RESULT_DOCS + 1);
        let snapshot = self.engine.store.read(self.ns)?;
        let c = snapshot.view();
        let docs: Vec<Document> = match sort {
            None => self.visible(c, filter).take(cap).map(keep).collect::<Result<_, _>>()?,
            Some(s) => match self.visible_sorted(c, filter, Some(s)) {
                (views, true) => views.take(cap).map(keep).collect::<Result<_, _>>()?,
                (views, false) => {
                    let mut all: Vec<Cow<Document>> = Vec::new();
                    for v in views {
                        // Views narrowed by field rules are copies: they count too.
                        if let Cow::Owned(d) = &v {
                            meter.add(doc_bytes(d))?;
                        }
                        all.push(v);
                    }
                    sort_limit(all, |d| d, s, limit).into_iter().map(keep).collect::<Result<_, _>>()?
                }
            },
        };
        self.must_await(snapshot.pending());
        if docs.len() > MAX_RESULT_DOCS {
            return Err(ServiceError::BadArgument(format!("result has more than {MAX_RESULT_DOCS} documents; use a limit")));
        }
        Ok(docs)
    }

    /// Orders stored documents by the caller's views of them (a field the caller cannot read sorts
    /// as missing), keeping the first `limit`.
    pub(super) fn sort_by_views<'c>(&self, docs: Vec<&'c Document>, sort: &SortSpec, limit: Option<usize>) -> Vec<&'c Document> {
        let viewed: Vec<(Cow<'c, Document>, &'c Document)> =
            docs.into_iter().map(|d| (self.perm.read_view(self.user, d).unwrap_or_default(), d)).collect();
        sort_limit(viewed, |(view, _)| view, sort, limit).into_iter().map(|(_, d)| d).collect()
    }
}
