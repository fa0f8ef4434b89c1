//! Which stored documents a query reads, and in what order: the `_id` index, secondary indexes
//! (equality, ranges, `$in` lists, a single-key sort), or a scan in natural order.

use crate::query::{type_rank, Filter, SortSpec};
use crate::store::CollectionView;
use bson::{Bson, Document};
use std::ops::Bound;

/// Documents to consider for `filter` (a superset of the matches: the caller applies the filter),
/// and whether they already come in `sort` order: one `_id` lookup when the filter pins `_id`, one
/// per value of an `_id` `$in`; an index walk in sort order when a single-key sort has a
/// (non-multikey) index; an index range for an equality/range condition on an indexed path; one
/// index lookup per value of an `$in` on an indexed path; else a scan in natural order.
pub(super) fn candidates<'c>(c: &'c dyn CollectionView, filter: &'c Filter, sort: Option<&SortSpec>) -> (Box<dyn Iterator<Item = &'c Document> + 'c>, bool) {
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
pub(super) fn sort_limit<T>(items: Vec<T>, key: impl Fn(&T) -> &Document, sort: &SortSpec, limit: Option<usize>) -> Vec<T> {
    let mut keyed: Vec<(Vec<Bson>, usize, T)> = items.into_iter().enumerate().map(|(i, t)| (sort.keys(key(&t)), i, t)).collect();
    let cmp = |a: &(Vec<Bson>, usize, T), b: &(Vec<Bson>, usize, T)| sort.compare_keys(&a.0, &b.0).then(a.1.cmp(&b.1));
    if let Some(k) = limit.filter(|k| *k > 0 && *k < keyed.len()) {
        keyed.select_nth_unstable_by(k - 1, cmp);
        keyed.truncate(k);
    }
    keyed.sort_by(cmp);
    keyed.into_iter().map(|(_, _, t)| t).collect()
}
