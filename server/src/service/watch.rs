//! `watch`: a caller's change stream — the change events of one namespace from a point of the
//! change-event log on, as the rules let the caller see them.

use super::args::Args;
use super::{Engine, ServiceError};
use crate::query::Filter;
use crate::rules::{RuleSet, UserContext};
use crate::store::Namespace;
use crate::watch::ChangeLog;
use bson::{Bson, Document};
use std::borrow::Cow;
use std::collections::VecDeque;
use std::sync::Arc;
use std::time::Duration;

/// What a change stream yields.
#[derive(Debug, Clone, PartialEq)]
pub enum StreamItem {
    /// A change event the caller may see (durable).
    Change(Document),
    /// Nothing happened for the idle time asked for.
    Idle,
    /// The log dropped events the stream had not delivered: the stream cannot go on.
    Lost(String),
}

/// An open change stream.
pub struct ChangeStream {
    log: Arc<ChangeLog>,
    rules: Arc<RuleSet>,
    user: UserContext,
    spec: WatchSpec,
    cursor: u64,
    queue: VecDeque<Document>,
}

impl Engine {
    /// Opens `user`'s change stream on `service` with the watch arguments (`database`,
    /// `collection`, optional `ids`, `filter`, `resumeAfter`). Fails when the namespace has no
    /// rule, or when `resumeAfter` is not in the log any more.
    pub async fn watch(&self, user: UserContext, service: &str, arguments: &[Bson]) -> Result<ChangeStream, ServiceError> {
        let rules = self.rules(service)?.clone();
        let spec = WatchSpec::parse(&rules, arguments)?;
        // `%function` results are resolved once, when the stream opens.
        let user = self.with_rule_functions(service, &spec.ns.db, &spec.ns.coll, false, &user).await.unwrap_or(user);
        let cursor = match &spec.resume_after {
            Some(token) => self.changes.resume_point(token)?,
            None => self.changes.head(),
        };
        Ok(ChangeStream { log: self.changes.clone(), rules, user, spec, cursor, queue: VecDeque::new() })
    }
}

impl ChangeStream {
    /// The next event the caller sees, or `Idle` when none came for `idle`.
    pub async fn next(&mut self, idle: Duration) -> StreamItem {
        loop {
            if let Some(change) = self.queue.pop_front() {
                return StreamItem::Change(change);
            }
            // Registered before looking, so an event appended in between wakes us.
            let log = self.log.clone();
            let changed = log.changed();
            tokio::pin!(changed);
            changed.as_mut().enable();
            match self.log.after(self.cursor) {
                Err(e) => return StreamItem::Lost(e.to_string()),
                Ok(events) if !events.is_empty() => {
                    for e in events {
                        self.cursor = e.seq;
                        if let Some(change) = self.spec.render(&self.rules, &self.user, &e) {
                            self.queue.push_back(change);
                        }
                    }
                }
                Ok(_) => {
                    if tokio::time::timeout(idle, changed).await.is_err() {
                        return StreamItem::Idle;
                    }
                }
            }
        }
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
