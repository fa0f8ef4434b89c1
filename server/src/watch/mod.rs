//! Change events: a bounded in-memory log fed by the store, read by watch streams (SSE, protocol §11).
//! An event is handed to watchers only once the commit holding its change is durable.
//!
//! Every applied change becomes one event with a sequence number; its resume token is
//! `{"_data": "<16 hex digits of this server run><16 hex digits of the sequence>"}`. A watch
//! resumed with `resumeAfter` continues right after that event while it is still in the log, and
//! fails clearly once it was evicted — or when the token comes from an earlier run of the server,
//! whose log (in memory) is gone and whose sequence numbers mean other events now.

use crate::query::doc_bytes;
use crate::store::{Applied, ChangeObserver, Namespace};
use bson::{doc, Bson, Document};
use std::collections::VecDeque;
use std::sync::Mutex;
use tokio::sync::Notify;

/// How many events the log keeps for resuming, at most.
pub const LOG_CAPACITY: usize = 10_000;
/// How many bytes of documents (before and after images) the log keeps, at most.
pub const LOG_BYTES: usize = 64 * 1024 * 1024;

/// The log's bounds: the oldest events are dropped when either is exceeded (a resume from before
/// them then fails with `ChangeStreamHistoryLost`, as MongoDB's does once the oplog rolled over).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct LogLimits {
    /// Most events kept.
    pub events: usize,
    /// Most bytes of document images kept (BSON size).
    pub bytes: usize,
}

impl Default for LogLimits {
    fn default() -> Self {
        LogLimits { events: LOG_CAPACITY, bytes: LOG_BYTES }
    }
}

/// One change as stored in the log (full images; rules and projection are applied per watcher).
#[derive(Debug, Clone)]
pub struct Event {
    /// Position in the log.
    pub seq: u64,
    /// Where it happened.
    pub ns: Namespace,
    /// Document before the change (update/replace/delete).
    pub before: Option<Document>,
    /// Document after the change (insert/update/replace).
    pub after: Option<Document>,
    /// `after` came from a replacement.
    pub replacement: bool,
    /// Wall-clock seconds when applied.
    pub time: u32,
    /// The store commit that makes it durable.
    pub(crate) batch: u64,
    /// BSON size of `before` and `after`, counted against the log's byte limit.
    pub(crate) bytes: usize,
}

/// Why a resume was refused.
#[derive(Debug, thiserror::Error, PartialEq)]
pub enum ResumeError {
    /// The token is not one of ours.
    #[error("invalid resume token: {0}")]
    Invalid(String),
    /// The event is no longer in the bounded log.
    #[error("resume token {0} is no longer in the change-event log (it keeps the most recent events, up to --change-log-events and --change-log-bytes); restart the watch without resumeAfter")]
    Expired(String),
    /// The token was issued by an earlier run of the server (the log is not persisted).
    #[error("resume token {0} is from an earlier run of the server, whose change-event log is gone (it is kept in memory); restart the watch without resumeAfter")]
    OtherRun(String),
}

/// Identifies this run of the server in resume tokens.
fn run_id() -> u64 {
    static RUN: std::sync::OnceLock<u64> = std::sync::OnceLock::new();
    *RUN.get_or_init(rand::random)
}

struct Log {
    events: VecDeque<Event>,
    next_seq: u64,
    durable_batch: u64,
    /// Sum of the events' `bytes`.
    bytes: usize,
}

/// The change-event log.
pub struct ChangeLog {
    log: Mutex<Log>,
    notify: Notify,
    limits: LogLimits,
}

impl Default for ChangeLog {
    fn default() -> Self {
        ChangeLog::new(LogLimits::default())
    }
}

impl ChangeLog {
    /// A log within `limits`.
    pub fn new(limits: LogLimits) -> ChangeLog {
        ChangeLog { log: Mutex::new(Log { events: VecDeque::new(), next_seq: 1, durable_batch: 0, bytes: 0 }), notify: Notify::new(), limits }
    }

    /// A log keeping the last `capacity` events (and the default byte limit).
    pub fn with_capacity(capacity: usize) -> ChangeLog {
        ChangeLog::new(LogLimits { events: capacity, ..LogLimits::default() })
    }

    /// (events, bytes) held now.
    pub fn usage(&self) -> (usize, usize) {
        self.log.lock().map(|l| (l.events.len(), l.bytes)).unwrap_or_default()
    }

    /// The sequence after which a new watch starts (now).
    pub fn head(&self) -> u64 {
        self.log.lock().map(|l| l.next_seq - 1).unwrap_or(0)
    }

    /// Parses a resume token and checks that the events after it are still available.
    pub fn resume_point(&self, token: &Bson) -> Result<u64, ResumeError> {
        let data = match token {
            Bson::Document(d) => d.get_str("_data").ok().filter(|h| h.len() == 32 && h.is_ascii()),
            _ => None,
        };
        let (run, seq) = data
            .and_then(|h| Some((u64::from_str_radix(&h[..16], 16).ok()?, u64::from_str_radix(&h[16..], 16).ok()?)))
            .ok_or_else(|| ResumeError::Invalid(token.to_string()))?;
        if run != run_id() {
            return Err(ResumeError::OtherRun(token.to_string()));
        }
        let log = self.log.lock().map_err(|_| ResumeError::Invalid(token.to_string()))?;
        let oldest = log.events.front().map(|e| e.seq).unwrap_or(log.next_seq);
        if seq >= log.next_seq {
            return Err(ResumeError::Invalid(token.to_string()));
        }
        if seq + 1 < oldest {
            return Err(ResumeError::Expired(token.to_string()));
        }
        Ok(seq)
    }

    /// Durable events after `seq`, oldest first; `Err` when some were evicted meanwhile.
    pub fn after(&self, seq: u64) -> Result<Vec<Event>, ResumeError> {
        let log = self.log.lock().map_err(|_| ResumeError::Invalid(seq.to_string()))?;
        let oldest = log.events.front().map(|e| e.seq).unwrap_or(log.next_seq);
        if seq + 1 < oldest {
            return Err(ResumeError::Expired(token(seq).to_string()));
        }
        Ok(log.events.iter().filter(|e| e.seq > seq).take_while(|e| e.batch <= log.durable_batch).cloned().collect())
    }

    /// Resolves when an event is appended after this call.
    pub fn changed(&self) -> tokio::sync::futures::Notified<'_> {
        self.notify.notified()
    }
}

impl ChangeObserver for ChangeLog {
    fn applied(&self, ns: &Namespace, changes: Vec<Applied>, batch: u64) {
        let time = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_secs() as u32)
            .unwrap_or(0);
        if let Ok(mut log) = self.log.lock() {
            for c in changes {
                let seq = log.next_seq;
                log.next_seq += 1;
                let bytes = [&c.before, &c.after].into_iter().flatten().map(doc_bytes).sum();
                log.bytes += bytes;
                log.events.push_back(Event { seq, ns: ns.clone(), before: c.before, after: c.after, replacement: c.replacement, time, batch, bytes });
                while log.events.len() > self.limits.events || log.bytes > self.limits.bytes {
                    let Some(old) = log.events.pop_front() else { break };
                    log.bytes -= old.bytes;
                }
            }
        }
    }

    fn durable(&self, batch: u64) {
        if let Ok(mut log) = self.log.lock() {
            log.durable_batch = log.durable_batch.max(batch);
        }
        self.notify.notify_waiters();
    }
}

/// The resume token of a sequence number.
pub fn token(seq: u64) -> Bson {
    Bson::Document(doc! {"_data": format!("{:016x}{seq:016x}", run_id())})
}

impl Event {
    /// The `_id` of the changed document.
    pub fn document_id(&self) -> Bson {
        self.after.as_ref().or(self.before.as_ref()).and_then(|d| d.get("_id")).cloned().unwrap_or(Bson::Null)
    }

    /// The MongoDB change event, with `full_document` (already rule-filtered) for insert/update/replace.
    /// An update's `updateDescription` is the difference between `before_view` and `full_document`,
    /// the caller's views of the two versions, so it names no field the caller may not read
    /// (empty when the caller cannot see one of them).
    pub fn to_change_event(&self, full_document: Option<Document>, before_view: Option<&Document>) -> Document {
        self.to_change_event_with_id(token(self.seq), full_document, before_view)
    }

    /// `to_change_event` with another `_id` (triggers give their events durable resume tokens).
    pub fn to_change_event_with_id(&self, id: Bson, full_document: Option<Document>, before_view: Option<&Document>) -> Document {
        let op = match (&self.before, &self.after) {
            (None, _) => "insert",
            (_, None) => "delete",
            _ if self.replacement => "replace",
            _ => "update",
        };
        let mut e = doc! {
            "_id": id,
            "operationType": op,
            "clusterTime": Bson::Timestamp(bson::Timestamp { time: self.time, increment: (self.seq & 0xffff_ffff) as u32 }),
            "ns": {"db": &self.ns.db, "coll": &self.ns.coll},
            "documentKey": {"_id": self.document_id()},
        };
        let description = (op == "update").then(|| match (before_view, &full_document) {
            (Some(b), Some(a)) => update_description(b, a),
            _ => update_description(&Document::new(), &Document::new()),
        });
        if op != "delete" {
            if let Some(d) = full_document {
                e.insert("fullDocument", d);
            }
        }
        if let Some(d) = description {
            e.insert("updateDescription", d);
        }
        e
    }
}

/// The `updateDescription` of an operator update: the difference between the two versions as
/// MongoDB reports it, at the deepest changed path through embedded documents (`{"a.b": 1}`,
/// removed `["x.y"]`). Arrays are not entered: an array that changed is reported whole, the form
/// MongoDB also uses (newer servers may instead list `arr.N` for appended elements). A field whose
/// parent did not exist before appears under the new parent (`$set: {"n.x": 1}` on a document without
/// `n` → `{"n": {"x": 1}}`), as MongoDB 5.0+ reports it.
fn update_description(before: &Document, after: &Document) -> Document {
    let mut updated = Document::new();
    let mut removed = Vec::new();
    diff("", before, after, &mut updated, &mut removed);
    doc! {"updatedFields": updated, "removedFields": removed}
}

fn diff(prefix: &str, before: &Document, after: &Document, updated: &mut Document, removed: &mut Vec<Bson>) {
    let path = |k: &str| if prefix.is_empty() { k.to_string() } else { format!("{prefix}.{k}") };
    for (k, v) in after {
        match (before.get(k), v) {
            (Some(b), a) if b == a => {}
            (Some(Bson::Document(b)), Bson::Document(a)) => diff(&path(k), b, a, updated, removed),
            _ => {
                updated.insert(path(k), v.clone());
            }
        }
    }
    removed.extend(before.keys().filter(|k| !after.contains_key(*k)).map(|k| Bson::String(path(k))));
}


#[cfg(test)]
mod tests {
    use super::*;

    fn ns() -> Namespace {
        Namespace::new("db", "c").expect("ns")
    }

    #[test]
    fn events_tokens_and_resume() {
        let log = ChangeLog::with_capacity(3);
        let ins = Applied { before: None, after: Some(doc! {"_id": 1, "a": 1}), replacement: false };
        let upd = Applied { before: Some(doc! {"_id": 1, "a": 1, "b": 2}), after: Some(doc! {"_id": 1, "a": 2}), replacement: false };
        let del = Applied { before: Some(doc! {"_id": 1, "a": 2}), after: None, replacement: false };
        log.applied(&ns(), vec![ins, upd, del], 1);
        assert!(log.after(0).expect("events").is_empty(), "not durable yet");
        log.durable(1);
        let events = log.after(0).expect("events");
        let ops: Vec<String> = events.iter().map(|e| e.to_change_event(e.after.clone(), e.before.as_ref()).get_str("operationType").unwrap_or_default().to_string()).collect();
        assert_eq!(ops, ["insert", "update", "delete"]);
        let u = events[1].to_change_event(events[1].after.clone(), events[1].before.as_ref());
        assert_eq!(u.get_str("operationType"), Ok("update"));
        assert_eq!(u.get_document("updateDescription"), Ok(&doc! {"updatedFields": {"a": 2}, "removedFields": ["b"]}));
        assert_eq!(events[2].to_change_event(None, events[2].before.as_ref()).get_str("operationType"), Ok("delete"));
        assert_eq!(log.resume_point(&token(1)), Ok(1));
        log.applied(&ns(), vec![Applied { before: None, after: Some(doc! {"_id": 2}), replacement: false }], 2);
        log.durable(2);
        assert_eq!(log.after(1).expect("after").len(), 3);
        log.applied(&ns(), vec![Applied { before: None, after: Some(doc! {"_id": 3}), replacement: false }], 3);
        assert!(matches!(log.resume_point(&token(1)), Err(ResumeError::Expired(_))));
        assert!(matches!(log.resume_point(&Bson::String("x".into())), Err(ResumeError::Invalid(_))));
        let other_run = doc! {"_data": format!("{:016x}{:016x}", run_id().wrapping_add(1), 3)};
        assert!(matches!(log.resume_point(&Bson::Document(other_run)), Err(ResumeError::OtherRun(_))));
    }

    #[test]
    fn the_log_is_bounded_by_bytes_as_well_as_events() {
        let log = ChangeLog::new(LogLimits { events: 1_000, bytes: 3 * 1024 * 1024 });
        let big = |n: i32| doc! {"_id": 1, "n": n, "blob": "x".repeat(1024 * 1024)};
        log.applied(&ns(), vec![Applied { before: None, after: Some(big(0)), replacement: false }], 1);
        // An update of a 1 MB document holds two images: 1,000 of them would be 2 GB.
        for n in 1..1_000 {
            log.applied(&ns(), vec![Applied { before: Some(big(n - 1)), after: Some(big(n)), replacement: false }], 1 + n as u64);
            let (_, bytes) = log.usage();
            assert!(bytes <= 3 * 1024 * 1024, "{bytes} bytes held after {n} updates");
        }
        log.durable(1_000);
        let (events, _) = log.usage();
        assert_eq!(events, 1, "only the newest event fits");
        assert!(matches!(log.resume_point(&token(1)), Err(ResumeError::Expired(_))));
        assert_eq!(log.after(999).expect("newest").len(), 1);
    }

    fn described(before: Document, after: Document) -> Document {
        update_description(&before, &after)
    }

    #[test]
    fn update_description_reports_the_deepest_changed_paths() {
        let base = doc! {"_id": 1, "a": {"b": 1, "c": {"d": 2}}, "x": {"y": 1, "z": 2}, "n": 5, "arr": [1, 2], "e": {"f": [{"g": 1}]}};
        let with = |f: &dyn Fn(&mut Document)| {
            let mut d = base.clone();
            f(&mut d);
            d
        };
        let sub = |d: &mut Document, k: &str| -> Document { d.get_document(k).cloned().unwrap_or_default() };
        // $set {"a.b": 9}
        let after = with(&|d| {
            let mut a = sub(d, "a");
            a.insert("b", 9);
            d.insert("a", a);
        });
        assert_eq!(described(base.clone(), after), doc! {"updatedFields": {"a.b": 9}, "removedFields": []});
        // $unset {"x.y": ""}
        let after = with(&|d| {
            let mut x = sub(d, "x");
            x.remove("y");
            d.insert("x", x);
        });
        assert_eq!(described(base.clone(), after), doc! {"updatedFields": {}, "removedFields": ["x.y"]});
        // $inc {"a.c.d": 1}, $mul {"n": 2}
        let after = with(&|d| {
            let mut a = sub(d, "a");
            a.insert("c", doc! {"d": 3});
            d.insert("a", a);
            d.insert("n", 10);
        });
        assert_eq!(described(base.clone(), after), doc! {"updatedFields": {"a.c.d": 3, "n": 10}, "removedFields": []});
        // $push {"arr": 3} and a change inside an array of documents: the array, whole.
        let after = with(&|d| {
            d.insert("arr", vec![Bson::Int32(1), Bson::Int32(2), Bson::Int32(3)]);
            d.insert("e", doc! {"f": [{"g": 2}]});
        });
        assert_eq!(described(base.clone(), after), doc! {"updatedFields": {"arr": [1, 2, 3], "e.f": [{"g": 2}]}, "removedFields": []});
        // $rename {"x.y": "x.w"}, and a new field under a new parent.
        let after = with(&|d| {
            d.insert("x", doc! {"z": 2, "w": 1});
            d.insert("new", doc! {"p": true});
        });
        assert_eq!(described(base.clone(), after), doc! {"updatedFields": {"x.w": 1, "new": {"p": true}}, "removedFields": ["x.y"]});
        // A document replaced by a scalar and a scalar by a document are reported whole.
        let after = with(&|d| {
            d.insert("a", 1);
            d.insert("n", doc! {"m": 1});
        });
        assert_eq!(described(base.clone(), after), doc! {"updatedFields": {"a": 1, "n": {"m": 1}}, "removedFields": []});
        // Nothing changed.
        assert_eq!(described(base.clone(), base), doc! {"updatedFields": {}, "removedFields": []});
    }
}
