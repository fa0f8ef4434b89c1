//! Database triggers: read the change journal from the trigger's position, shape each entry as
//! App Services shaped a change event (through `watch`'s event shaping, with a durable resume
//! token), filter it (`operation_types`, `match`), project it, and run the function.
//!
//! Ordered triggers run one event at a time in commit order; unordered ones up to
//! `UNORDERED_CONCURRENCY` at once. Either way an event counts as handled once its function
//! returned and the new position is durable; that happens before the next ordered event starts,
//! and before an unordered slot is given back, so a crash repeats only the events in flight.

use super::{Shared, Trigger};
use crate::config::{DatabaseTrigger, TriggerKind};
use crate::query::{Filter, Projection};
use crate::store::{JournalEntry, JournalError};
use bson::{doc, Bson, Document};
use std::collections::BTreeSet;
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::{Notify, Semaphore};

/// Journal entries read at once.
const BATCH: usize = 256;
/// Events an unordered trigger runs at once.
const UNORDERED_CONCURRENCY: usize = 64;
/// Handled events an unordered trigger may hold past its position (behind a slow one).
const MAX_DONE: usize = 1024;

/// How far a database trigger got in the journal.
#[derive(Debug, Clone, Default, PartialEq)]
pub(crate) struct Progress {
    /// Every entry up to here is handled or did not concern the trigger.
    pub position: u64,
    /// Entries after `position` that are handled (unordered triggers, behind one still running).
    pub done: BTreeSet<u64>,
    /// Entries whose function is running.
    in_flight: BTreeSet<u64>,
    /// The newest entry taken.
    read: u64,
}

impl Progress {
    /// Progress as persisted.
    pub fn resume(position: u64, done: BTreeSet<u64>) -> Progress {
        Progress { position, done, in_flight: BTreeSet::new(), read: position }
    }

    /// An entry that needs no function run (or ran before a restart).
    fn skip(&mut self, seq: u64) {
        self.read = self.read.max(seq);
        self.settle();
    }

    fn start(&mut self, seq: u64) {
        self.read = self.read.max(seq);
        self.in_flight.insert(seq);
    }

    fn finish(&mut self, seq: u64) {
        self.in_flight.remove(&seq);
        self.done.insert(seq);
        self.settle();
    }

    fn settle(&mut self) {
        let reached = self.in_flight.first().map_or(self.read, |first| first - 1);
        self.position = self.position.max(reached);
        let position = self.position;
        self.done.retain(|s| *s > position);
    }
}

/// A trigger's configuration, compiled.
struct Matcher {
    database: Option<String>,
    collection: Option<String>,
    operations: Vec<&'static str>,
    full_document: bool,
    before_change: bool,
    filter: Option<Filter>,
    projection: Option<Projection>,
}

impl Matcher {
    fn new(cfg: &DatabaseTrigger) -> Matcher {
        // Both were validated when the export was read.
        let filter = cfg.match_filter.as_ref().and_then(|m| Filter::parse(m).ok());
        let projection = cfg.project.as_ref().and_then(|p| Projection::parse(p).ok());
        Matcher {
            database: cfg.database.clone(),
            collection: cfg.collection.clone(),
            operations: cfg.operation_types.iter().map(|o| o.event_name()).collect(),
            full_document: cfg.full_document,
            before_change: cfg.full_document_before_change,
            filter,
            projection,
        }
    }

    /// The change event the function gets for `entry`, with its id, or `None` when the trigger
    /// does not fire for it.
    fn event(&self, entry: JournalEntry) -> Option<(Document, String)> {
        if self.database.as_ref().is_some_and(|d| *d != entry.ns.db) || self.collection.as_ref().is_some_and(|c| *c != entry.ns.coll) {
            return None;
        }
        let op = match (&entry.before, &entry.after) {
            (None, _) => "insert",
            (_, None) => "delete",
            _ if entry.replacement => "replace",
            _ => "update",
        };
        if !self.operations.contains(&op) {
            return None;
        }
        let id = format!("{:016x}", entry.seq);
        let change = crate::watch::Event {
            seq: entry.seq,
            ns: entry.ns,
            before: entry.before,
            after: entry.after,
            replacement: entry.replacement,
            time: u32::try_from(entry.time_ms / 1000).unwrap_or(0),
            batch: 0,
            bytes: 0,
        };
        let mut event = change.to_change_event_with_id(Bson::Document(doc! {"_data": &id}), change.after.clone(), change.before.as_ref());
        if op == "update" {
            if !self.full_document {
                event.remove("fullDocument");
            }
            if let Ok(d) = event.get_document_mut("updateDescription") {
                d.entry("truncatedArrays".to_string()).or_insert_with(|| Bson::Array(Vec::new()));
            }
        }
        if self.before_change && op != "insert" {
            if let Some(before) = change.before {
                event.insert("fullDocumentBeforeChange", before);
            }
        }
        if self.filter.as_ref().is_some_and(|f| !f.matches(&event)) {
            return None;
        }
        if let Some(p) = &self.projection {
            event = p.apply(&event, None);
        }
        Some((event, id))
    }
}

/// The worker of one database trigger.
pub(super) async fn run(shared: Arc<Shared>, t: Arc<Trigger>) {
    let TriggerKind::Database(cfg) = &t.def.kind else { return };
    let matcher = Matcher::new(cfg);
    let slots = if cfg.unordered { UNORDERED_CONCURRENCY } else { 1 };
    let permits = Arc::new(Semaphore::new(slots));
    let finished = Arc::new(Notify::new());
    let mut head = shared.journal.durable_head();
    let mut control = t.control.subscribe();
    let mut shutdown = shared.shutdown.subscribe();
    'outer: loop {
        if *shutdown.borrow_and_update() {
            break;
        }
        control.borrow_and_update();
        let read = {
            let st = t.lock();
            if st.enabled && st.suspended.is_none() { st.progress.as_ref().map(|p| p.read) } else { None }
        };
        let Some(after) = read else {
            tokio::select! {
                _ = control.changed() => {}
                _ = shutdown.changed() => {}
            }
            continue;
        };
        // Seen before reading: an entry committed after the read wakes the wait below.
        head.borrow_and_update();
        let entries = match shared.journal.entries_after(after, BATCH) {
            Ok(entries) => entries,
            Err(JournalError::Lost { oldest, .. }) => {
                lost_history(&shared, &t, cfg, oldest).await;
                continue;
            }
            Err(JournalError::Store(e)) => {
                tracing::error!(trigger = %t.def.name, "cannot read the change journal: {e}");
                tokio::select! {
                    _ = tokio::time::sleep(Duration::from_secs(1)) => {}
                    _ = shutdown.changed() => {}
                }
                continue;
            }
        };
        if entries.is_empty() {
            tokio::select! {
                _ = head.changed() => {}
                _ = control.changed() => {}
                _ = shutdown.changed() => {}
            }
            continue;
        }
        let mut skipped = false;
        for entry in entries {
            if *shutdown.borrow() || control.has_changed().unwrap_or(true) {
                break;
            }
            let seq = entry.seq;
            let ran_before = t.lock().progress.as_ref().is_some_and(|p| p.done.contains(&seq));
            let Some((event, id)) = (!ran_before).then(|| matcher.event(entry)).flatten() else {
                if let Some(p) = t.lock().progress.as_mut() {
                    p.skip(seq);
                }
                skipped = true;
                continue;
            };
            // An unordered trigger stops reading while too many handled events wait behind a slow one.
            loop {
                let notified = finished.notified();
                if t.lock().progress.as_ref().is_none_or(|p| p.done.len() < MAX_DONE) {
                    break;
                }
                tokio::select! {
                    _ = notified => {}
                    _ = shutdown.changed() => break 'outer,
                }
            }
            let permit = tokio::select! {
                p = permits.clone().acquire_owned() => match p { Ok(p) => p, Err(_) => break 'outer },
                _ = shutdown.changed() => break 'outer,
            };
            if let Some(p) = t.lock().progress.as_mut() {
                p.start(seq);
            }
            let (shared, t, finished) = (shared.clone(), t.clone(), finished.clone());
            tokio::spawn(async move {
                if shared.run_function(&t, vec![Bson::Document(event)], Some(&id)).await {
                    let saved = {
                        let mut st = t.lock();
                        if let Some(p) = st.progress.as_mut() {
                            p.finish(seq);
                        }
                        shared.save(&t, &st)
                    };
                    // The slot is given back only once the event is durably recorded as handled.
                    if let Err(e) = async { crate::store::wait_durable(shared.store.as_ref(), saved?).await }.await {
                        tracing::error!(trigger = %t.def.name, event = %id, "cannot record the trigger's position: {e}");
                    }
                }
                drop(permit);
                finished.notify_waiters();
            });
        }
        if skipped {
            // Entries that did not concern the trigger: remember it, without waiting.
            let st = t.lock();
            if let Err(e) = shared.save(&t, &st) {
                tracing::error!(trigger = %t.def.name, "cannot record the trigger's position: {e}");
            }
        }
    }
    // Functions already running may finish (`Triggers::stop` bounds the wait).
    let _ = permits.acquire_many(slots as u32).await;
}

/// The journal dropped entries the trigger had not reached (it lagged past
/// `--trigger-journal-events`): resume after the gap with `tolerate_resume_errors`, else suspend
/// (as App Services did with `ChangeStreamHistoryLost`).
async fn lost_history(shared: &Shared, t: &Trigger, cfg: &DatabaseTrigger, oldest: u64) {
    let message = format!("ChangeStreamHistoryLost: the change journal no longer holds the events after this trigger's position (the oldest kept is {oldest})");
    let saved = {
        let mut st = t.lock();
        if cfg.tolerate_resume_errors {
            tracing::warn!(trigger = %t.def.name, "{message}; resuming at the oldest kept event (tolerate_resume_errors)");
            st.progress = Some(Progress::resume(oldest.saturating_sub(1), BTreeSet::new()));
        } else {
            tracing::error!(trigger = %t.def.name, "{message}; the trigger is suspended until it is enabled again through the admin API");
            st.suspended = Some(message);
        }
        shared.save(t, &st)
    };
    if let Err(e) = async { crate::store::wait_durable(shared.store.as_ref(), saved?).await }.await {
        tracing::error!(trigger = %t.def.name, "cannot record the trigger's state: {e}");
    }
}

/// The newest journal entry no database trigger needs any more: the lowest position among those
/// that will resume from theirs, but never more than `journal_max_events` behind the head.
pub(super) fn trim_point(shared: &Shared) -> u64 {
    let head = *shared.journal.durable_head().borrow();
    let mut through = head;
    for t in &shared.triggers {
        let TriggerKind::Database(cfg) = &t.def.kind else { continue };
        let st = t.lock();
        // A disabled trigger that skips catch-up, or a suspended one, resumes at the head.
        let holds = st.suspended.is_none() && (st.enabled || !cfg.skip_catchup_events);
        if let Some(p) = st.progress.as_ref().filter(|_| holds) {
            through = through.min(p.position);
        }
    }
    through.max(head.saturating_sub(shared.journal_max_events))
}

/// Drops the journal entries no database trigger needs any more, once a second.
pub(super) async fn trim(shared: Arc<Shared>, mut trimmed: u64) {
    let mut shutdown = shared.shutdown.subscribe();
    loop {
        tokio::select! {
            _ = tokio::time::sleep(Duration::from_secs(1)) => {}
            _ = shutdown.changed() => return,
        }
        let through = trim_point(&shared);
        if through > trimmed {
            match shared.journal.trim(through) {
                Ok(()) => trimmed = through,
                Err(e) => tracing::error!("cannot trim the change journal: {e}"),
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::OperationType;
    use crate::store::Namespace;

    #[test]
    fn progress_tracks_out_of_order_completion() {
        let mut p = Progress::resume(10, BTreeSet::new());
        p.start(11);
        p.skip(12);
        p.start(13);
        assert_eq!(p.position, 10, "11 is still running");
        p.finish(13);
        assert_eq!((p.position, p.done.iter().copied().collect::<Vec<_>>()), (10, vec![13]));
        p.finish(11);
        assert_eq!((p.position, p.done.len()), (13, 0));
        let mut p = Progress::resume(13, [15].into_iter().collect());
        p.skip(14);
        p.skip(15);
        assert_eq!((p.position, p.done.len()), (15, 0), "an entry handled before the restart is passed over");
    }

    fn config() -> DatabaseTrigger {
        DatabaseTrigger {
            database: Some("db".into()),
            collection: Some("c".into()),
            operation_types: vec![OperationType::Insert, OperationType::Update, OperationType::Delete],
            full_document: false,
            full_document_before_change: false,
            tolerate_resume_errors: false,
            unordered: false,
            maximum_throughput: false,
            skip_catchup_events: false,
            match_filter: None,
            project: None,
        }
    }

    fn entry(seq: u64, before: Option<Document>, after: Option<Document>) -> JournalEntry {
        JournalEntry { seq, ns: Namespace::new("db", "c").expect("ns"), before, after, replacement: false, time_ms: 1_700_000_000_123 }
    }

    #[test]
    fn events_are_shaped_as_app_services_did() {
        let m = Matcher::new(&config());
        let (insert, id) = m.event(entry(26, None, Some(doc! {"_id": 1, "a": 1}))).expect("insert");
        assert_eq!(id, "000000000000001a");
        assert_eq!(insert, doc! {
            "_id": {"_data": "000000000000001a"},
            "operationType": "insert",
            "clusterTime": Bson::Timestamp(bson::Timestamp { time: 1_700_000_000, increment: 26 }),
            "ns": {"db": "db", "coll": "c"},
            "documentKey": {"_id": 1},
            "fullDocument": {"_id": 1, "a": 1},
        });
        let (update, _) = m.event(entry(2, Some(doc! {"_id": 1, "a": 1, "b": 1}), Some(doc! {"_id": 1, "a": 2}))).expect("update");
        assert_eq!(update.get_document("updateDescription"), Ok(&doc! {"updatedFields": {"a": 2}, "removedFields": ["b"], "truncatedArrays": []}));
        assert!(!update.contains_key("fullDocument") && !update.contains_key("fullDocumentBeforeChange"), "full_document is off: {update}");
        let (delete, _) = m.event(entry(3, Some(doc! {"_id": 1}), None)).expect("delete");
        assert_eq!((delete.get_str("operationType"), delete.get_document("documentKey")), (Ok("delete"), Ok(&doc! {"_id": 1})));
        assert!(!delete.contains_key("fullDocument"));
        let mut replace = entry(4, Some(doc! {"_id": 1}), Some(doc! {"_id": 1, "r": 1}));
        replace.replacement = true;
        assert!(m.event(replace).is_none(), "REPLACE is not among the operation types");
        let mut other = entry(5, None, Some(doc! {"_id": 1}));
        other.ns = Namespace::new("db", "d").expect("ns");
        assert!(m.event(other).is_none(), "another collection");

        let full = Matcher::new(&DatabaseTrigger { full_document: true, full_document_before_change: true, ..config() });
        let (update, _) = full.event(entry(2, Some(doc! {"_id": 1, "a": 1}), Some(doc! {"_id": 1, "a": 2}))).expect("update");
        assert_eq!(update.get_document("fullDocument"), Ok(&doc! {"_id": 1, "a": 2}));
        assert_eq!(update.get_document("fullDocumentBeforeChange"), Ok(&doc! {"_id": 1, "a": 1}));
        let (insert, _) = full.event(entry(1, None, Some(doc! {"_id": 1}))).expect("insert");
        assert!(!insert.contains_key("fullDocumentBeforeChange"), "never on an insert");
        let (delete, _) = full.event(entry(3, Some(doc! {"_id": 1, "a": 2}), None)).expect("delete");
        assert_eq!(delete.get_document("fullDocumentBeforeChange"), Ok(&doc! {"_id": 1, "a": 2}));
    }

    #[test]
    fn match_and_project_apply_to_the_event() {
        let m = Matcher::new(&DatabaseTrigger {
            match_filter: Some(doc! {"fullDocument.n": {"$gt": 5}, "operationType": "insert"}),
            project: Some(doc! {"fullDocument.n": 1, "operationType": 1}),
            ..config()
        });
        assert!(m.event(entry(1, None, Some(doc! {"_id": 1, "n": 3}))).is_none());
        let (e, _) = m.event(entry(2, None, Some(doc! {"_id": 1, "n": 7, "x": 1}))).expect("matches");
        assert_eq!(e, doc! {"_id": {"_data": "0000000000000002"}, "operationType": "insert", "fullDocument": {"n": 7}});
        let db_wide = Matcher::new(&DatabaseTrigger { collection: None, match_filter: Some(doc! {"updateDescription.updatedFields.status": {"$exists": true}}), ..config() });
        let mut other = entry(3, Some(doc! {"_id": 1}), Some(doc! {"_id": 1, "status": "x"}));
        other.ns = Namespace::new("db", "any").expect("ns");
        assert!(db_wide.event(other).is_some(), "a database trigger sees every collection of its database");
    }
}
