//! `watch`: which change events a caller receives, as the rules let them see them.

use super::args::Args;
use super::ServiceError;
use crate::query::Filter;
use crate::rules::{RuleSet, UserContext};
use crate::store::Namespace;
use bson::{Bson, Document};
use std::borrow::Cow;

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
