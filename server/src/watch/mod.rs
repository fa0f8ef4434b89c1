//! Change events: a bounded in-memory log fed by the store, read by watch streams (SSE, protocol §11).
//! An event is handed to watchers only once the commit holding its change is durable.
//!
//! Every applied change becomes one event with a sequence number; its resume token is
//! `{"_data": "<16 hex digits of this server run><16 hex digits of the sequence>"}`. A watch
//! resumed with `resumeAfter` continues right after that event while it is still in the log, and
//! fails clearly once it was evicted — or when the token comes from an earlier run of the server,
//! whose log (in memory) is gone and whose sequence numbers mean other events now.

use crate::store::{Applied, ChangeObserver, Namespace};
use bson::{doc, Bson, Document};
use std::collections::VecDeque;
use std::sync::Mutex;
use tokio::sync::Notify;

/// How many events the log keeps for resuming.
pub const LOG_CAPACITY: usize = 10_000;

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
    batch: u64,
}

/// Why a resume was refused.
#[derive(Debug, thiserror::Error, PartialEq)]
pub enum ResumeError {
    /// The token is not one of ours.
    #[error("invalid resume token: {0}")]
    Invalid(String),
    /// The event is no longer in the bounded log.
    #[error("resume token {0} is no longer in the change-event log (it keeps the last {LOG_CAPACITY} events); restart the watch without resumeAfter")]
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
}

/// The change-event log.
pub struct ChangeLog {
    log: Mutex<Log>,
    notify: Notify,
    capacity: usize,
}

impl Default for ChangeLog {
    fn default() -> Self {
        ChangeLog::with_capacity(LOG_CAPACITY)
    }
}

impl ChangeLog {
    /// A log keeping the last `capacity` events.
    pub fn with_capacity(capacity: usize) -> ChangeLog {
        ChangeLog { log: Mutex::new(Log { events: VecDeque::new(), next_seq: 1, durable_batch: 0 }), notify: Notify::new(), capacity }
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
    fn applied(&self, ns: &Namespace, changes: &[Applied], batch: u64) {
        let time = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_secs() as u32)
            .unwrap_or(0);
        if let Ok(mut log) = self.log.lock() {
            for c in changes {
                let seq = log.next_seq;
                log.next_seq += 1;
                log.events.push_back(Event {
                    seq,
                    ns: ns.clone(),
                    before: c.before.clone(),
                    after: c.after.clone(),
                    replacement: c.replacement,
                    time,
                    batch,
                });
                while log.events.len() > self.capacity {
                    log.events.pop_front();
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
    pub fn to_change_event(&self, full_document: Option<Document>) -> Document {
        let op = match (&self.before, &self.after) {
            (None, _) => "insert",
            (_, None) => "delete",
            _ if self.replacement => "replace",
            _ => "update",
        };
        let mut e = doc! {
            "_id": token(self.seq),
            "operationType": op,
            "clusterTime": Bson::Timestamp(bson::Timestamp { time: self.time, increment: (self.seq & 0xffff_ffff) as u32 }),
            "ns": {"db": &self.ns.db, "coll": &self.ns.coll},
            "documentKey": {"_id": self.document_id()},
        };
        if op != "delete" {
            if let Some(d) = full_document {
                e.insert("fullDocument", d);
            }
        }
        if op == "update" {
            if let (Some(b), Some(a)) = (&self.before, &self.after) {
                e.insert("updateDescription", update_description(b, a));
            }
        }
        e
    }
}

/// Top-level difference between two versions of a document.
fn update_description(before: &Document, after: &Document) -> Document {
    let mut updated = Document::new();
    for (k, v) in after {
        if before.get(k) != Some(v) {
            updated.insert(k.clone(), v.clone());
        }
    }
    let removed: Vec<Bson> = before.keys().filter(|k| !after.contains_key(*k)).map(|k| Bson::String(k.clone())).collect();
    doc! {"updatedFields": updated, "removedFields": removed}
}

/// One SSE `data` event, percent-escaped as realm-web's parser expects (`%` → `%25`, LF, CR).
pub fn sse_data(event: &Document) -> String {
    let json = Bson::Document(event.clone()).into_relaxed_extjson().to_string();
    format!("data: {}\n\n", escape(&json))
}

/// One SSE `error` event.
pub fn sse_error(code: &str, message: &str) -> String {
    let json = serde_json::json!({"error": message, "error_code": code}).to_string();
    format!("event: error\ndata: {}\n\n", escape(&json))
}

fn escape(s: &str) -> String {
    s.replace('%', "%25").replace('\n', "%0A").replace('\r', "%0D")
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
        log.applied(&ns(), &[ins, upd, del], 1);
        assert!(log.after(0).expect("events").is_empty(), "not durable yet");
        log.durable(1);
        let events = log.after(0).expect("events");
        let ops: Vec<String> = events.iter().map(|e| e.to_change_event(e.after.clone()).get_str("operationType").unwrap_or_default().to_string()).collect();
        assert_eq!(ops, ["insert", "update", "delete"]);
        let u = events[1].to_change_event(events[1].after.clone());
        assert_eq!(u.get_str("operationType"), Ok("update"));
        assert_eq!(u.get_document("updateDescription"), Ok(&doc! {"updatedFields": {"a": 2}, "removedFields": ["b"]}));
        assert_eq!(events[2].to_change_event(None).get_str("operationType"), Ok("delete"));
        assert_eq!(log.resume_point(&token(1)), Ok(1));
        log.applied(&ns(), &[Applied { before: None, after: Some(doc! {"_id": 2}), replacement: false }], 2);
        log.durable(2);
        assert_eq!(log.after(1).expect("after").len(), 3);
        log.applied(&ns(), &[Applied { before: None, after: Some(doc! {"_id": 3}), replacement: false }], 3);
        assert!(matches!(log.resume_point(&token(1)), Err(ResumeError::Expired(_))));
        assert!(matches!(log.resume_point(&Bson::String("x".into())), Err(ResumeError::Invalid(_))));
        let other_run = doc! {"_data": format!("{:016x}{:016x}", run_id().wrapping_add(1), 3)};
        assert!(matches!(log.resume_point(&Bson::Document(other_run)), Err(ResumeError::OtherRun(_))));
    }

    #[test]
    fn sse_escaping() {
        let line = sse_data(&doc! {"s": "100%\nx"});
        assert_eq!(line, "data: {\"s\":\"100%25\\nx\"}\n\n");
        assert!(sse_error("E", "bad %").starts_with("event: error\ndata: {"));
    }
}
