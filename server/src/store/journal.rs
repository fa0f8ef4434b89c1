//! The change journal: a durable, ordered record of the changes to chosen namespaces, written by
//! the store's group commit in the same redb transaction as the documents themselves (a
//! transactional outbox), so an acknowledged write's change can never be lost; plus named cursors
//! its readers (triggers) keep, saved through the same commits.
//!
//! Unlike the change-event log of watch streams (in memory, lost at restart), the journal survives
//! restarts: entries keep their sequence numbers and stay until `trim` drops them.
//!
//! Entry encoding (the redb value, also kept in memory for the newest entries):
//! `flags: u8` (1 = after image, 2 = before image, 4 = replacement) · `time_ms: i64 BE` ·
//! `ns_len: u16 BE` · `ns` (`db.coll`) · `after_len: u32 BE` · after BSON · before BSON (the rest).
//! The after image's bytes are the ones the document row holds already, so journaling an insert
//! costs a copy, not an encoding.

use super::{Namespace, StoreError};
use bson::Document;
use redb::TableDefinition;
use std::collections::VecDeque;
use std::sync::Arc;

/// Entries by sequence number.
pub(super) const JOURNAL: TableDefinition<u64, &[u8]> = TableDefinition::new("journal");
/// `next` (the next sequence number) and `trimmed` (every entry up to it was dropped).
pub(super) const JOURNAL_META: TableDefinition<&str, u64> = TableDefinition::new("journal_meta");
/// Readers' cursors by name.
pub(super) const CURSORS: TableDefinition<&str, &[u8]> = TableDefinition::new("journal_cursors");

/// Newest entries kept in memory (older ones are read back from redb).
const TAIL_ENTRIES: usize = 10_000;
/// Bytes of newest entries kept in memory.
const TAIL_BYTES: usize = 32 * 1024 * 1024;

/// Which namespaces the journal records: `(database, collection)` pairs where `None` matches any
/// (a collection trigger, a database trigger, a deployment trigger).
#[derive(Debug, Clone, Default, PartialEq)]
pub struct JournalScope {
    parts: Vec<(Option<String>, Option<String>)>,
}

impl JournalScope {
    /// Also records changes to `db.coll` (`None`: every database / every collection).
    pub fn add(&mut self, db: Option<&str>, coll: Option<&str>) {
        let part = (db.map(str::to_string), coll.map(str::to_string));
        if !self.parts.contains(&part) {
            self.parts.push(part);
        }
    }

    /// Whether changes to `ns` are recorded.
    pub fn covers(&self, ns: &Namespace) -> bool {
        self.parts.iter().any(|(db, coll)| {
            db.as_deref().is_none_or(|d| d == ns.db) && coll.as_deref().is_none_or(|c| c == ns.coll)
        })
    }

    /// Whether nothing is recorded.
    pub fn is_empty(&self) -> bool {
        self.parts.is_empty()
    }
}

/// One recorded change.
#[derive(Debug, Clone, PartialEq)]
pub struct JournalEntry {
    /// Position in the journal (1, 2, …; never reused).
    pub seq: u64,
    /// Where it happened.
    pub ns: Namespace,
    /// The document before the change (update, replace, delete).
    pub before: Option<Document>,
    /// The document after the change (insert, update, replace).
    pub after: Option<Document>,
    /// `after` came from a replacement, not an operator update.
    pub replacement: bool,
    /// Wall-clock milliseconds when the change was applied.
    pub time_ms: i64,
}

/// Why entries could not be read.
#[derive(Debug, thiserror::Error)]
pub enum JournalError {
    /// Entries after `after` were trimmed: the oldest left is `oldest`.
    #[error("the change journal no longer holds the entries after {after} (the oldest kept is {oldest})")]
    Lost {
        /// The position asked for.
        after: u64,
        /// The oldest entry still kept.
        oldest: u64,
    },
    /// Storage failed, or an entry could not be decoded.
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// The journal's readers' view of it (implemented by `RedbStore`).
pub trait ChangeJournal: Send + Sync {
    /// Durable entries with a sequence number above `after`, oldest first, at most `max`;
    /// `Lost` when some of them were trimmed.
    fn entries_after(&self, after: u64, max: usize) -> Result<Vec<JournalEntry>, JournalError>;
    /// The newest durable sequence number (0: none yet); it changes whenever entries become durable.
    fn durable_head(&self) -> tokio::sync::watch::Receiver<u64>;
    /// Saves a reader's cursor (`None` removes it) in the next group commit; returns the ticket
    /// to wait for (`Store::wait_durable` / `Store::durability`). Saves of one name made before
    /// that commit replace each other.
    fn save_cursor(&self, name: &str, value: Option<Vec<u8>>) -> Result<u64, StoreError>;
    /// A cursor as last committed.
    fn cursor(&self, name: &str) -> Result<Option<Vec<u8>>, StoreError>;
    /// Drops every entry up to `through` in the next group commit; readers find them gone at once.
    fn trim(&self, through: u64) -> Result<(), StoreError>;
}

/// Encodes an entry (see the module doc). `after` is a document's BSON bytes. Cannot fail: a
/// namespace is at most 255 bytes, a document at most 16 MB, and `before` was a stored document
/// (its encoding was checked when it was written).
pub(super) fn encode(ns: &str, time_ms: i64, after: Option<&[u8]>, before: Option<&Document>, replacement: bool) -> Vec<u8> {
    let after = after.unwrap_or_default();
    let mut out = Vec::with_capacity(16 + ns.len() + after.len() + 64);
    let flags = u8::from(!after.is_empty()) | (u8::from(before.is_some()) << 1) | (u8::from(replacement) << 2);
    out.push(flags);
    out.extend_from_slice(&time_ms.to_be_bytes());
    out.extend_from_slice(&(ns.len().min(usize::from(u16::MAX)) as u16).to_be_bytes());
    out.extend_from_slice(&ns.as_bytes()[..ns.len().min(usize::from(u16::MAX))]);
    out.extend_from_slice(&(after.len().min(u32::MAX as usize) as u32).to_be_bytes());
    out.extend_from_slice(after);
    if let Some(b) = before {
        if let Err(e) = b.to_writer(&mut out) {
            tracing::error!("journal: a stored document could not be re-encoded as a before image: {e}");
            out[0] &= !2;
        }
    }
    out
}

/// Decodes an entry written by `encode`.
pub(super) fn decode(seq: u64, bytes: &[u8]) -> Result<JournalEntry, StoreError> {
    let bad = || StoreError::Encoding(format!("journal entry {seq} is damaged"));
    let take = |at: usize, n: usize| bytes.get(at..at + n).ok_or_else(bad);
    let flags = *bytes.first().ok_or_else(bad)?;
    let mut time = [0u8; 8];
    time.copy_from_slice(take(1, 8)?);
    let ns_len = usize::from(u16::from_be_bytes([take(9, 2)?[0], take(9, 2)?[1]]));
    let ns = std::str::from_utf8(take(11, ns_len)?).map_err(|_| bad())?;
    let (db, coll) = ns.split_once('.').ok_or_else(bad)?;
    let mut len = [0u8; 4];
    len.copy_from_slice(take(11 + ns_len, 4)?);
    let after_len = u32::from_be_bytes(len) as usize;
    let after_at = 15 + ns_len;
    let doc = |b: &[u8]| Document::from_reader(b).map_err(|e| StoreError::Encoding(format!("journal entry {seq}: {e}")));
    let after = if flags & 1 != 0 { Some(doc(take(after_at, after_len)?)?) } else { None };
    let before = if flags & 2 != 0 { Some(doc(bytes.get(after_at + after_len..).ok_or_else(bad)?)?) } else { None };
    Ok(JournalEntry {
        seq,
        ns: Namespace { db: db.to_string(), coll: coll.to_string() },
        before,
        after,
        replacement: flags & 4 != 0,
        time_ms: i64::from_be_bytes(time),
    })
}

/// An entry's sequence number and encoded bytes.
pub(super) type RawEntry = (u64, Arc<[u8]>);

/// One entry in memory: its commit batch and its encoded bytes (shared with the pending row).
pub(super) struct TailEntry {
    pub seq: u64,
    pub batch: u64,
    pub bytes: Arc<[u8]>,
}

/// The newest entries, in sequence order, within `TAIL_ENTRIES` and `TAIL_BYTES`.
#[derive(Default)]
pub(super) struct Tail {
    entries: VecDeque<TailEntry>,
    bytes: usize,
}

impl Tail {
    pub fn push(&mut self, entry: TailEntry) {
        self.bytes += entry.bytes.len();
        self.entries.push_back(entry);
        while self.entries.len() > TAIL_ENTRIES || (self.bytes > TAIL_BYTES && self.entries.len() > 1) {
            let Some(old) = self.entries.pop_front() else { break };
            self.bytes -= old.bytes.len();
        }
    }

    /// Entries after `after` whose batch is durable, when the tail holds the one right after
    /// `after` (`None`: read them from redb).
    pub fn after(&self, after: u64, durable_batch: u64, max: usize) -> Option<Vec<RawEntry>> {
        let first = self.entries.front()?;
        if first.seq > after + 1 {
            return None;
        }
        let skip = usize::try_from((after + 1).saturating_sub(first.seq)).ok()?;
        Some(
            self.entries
                .iter()
                .skip(skip)
                .take_while(|e| e.batch <= durable_batch)
                .take(max)
                .map(|e| (e.seq, e.bytes.clone()))
                .collect(),
        )
    }

    /// Forgets everything (a failed commit: what is left is on disk only).
    pub fn clear(&mut self) {
        self.entries.clear();
        self.bytes = 0;
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use bson::doc;

    #[test]
    fn entries_round_trip() {
        let after = doc! {"_id": 1, "a": "x"};
        let before = doc! {"_id": 1, "a": "y", "n": {"m": 2}};
        let after_bytes = bson::to_vec(&after).expect("bytes");
        for (a, b, replacement) in [(Some(&after), None, false), (Some(&after), Some(&before), true), (None, Some(&before), false)] {
            let bytes = encode("db.c.d", 1234, a.map(|_| after_bytes.as_slice()), b, replacement);
            let e = decode(7, &bytes).expect("decode");
            assert_eq!(e, JournalEntry {
                seq: 7,
                ns: Namespace { db: "db".into(), coll: "c.d".into() },
                before: b.cloned(),
                after: a.cloned(),
                replacement,
                time_ms: 1234,
            });
            assert!(decode(7, &bytes[..bytes.len() - 1]).is_err(), "a truncated entry is refused");
        }
    }

    #[test]
    fn scope_matches_collections_databases_and_everything() {
        let ns = |d: &str, c: &str| Namespace { db: d.into(), coll: c.into() };
        let mut s = JournalScope::default();
        assert!(s.is_empty() && !s.covers(&ns("a", "b")));
        s.add(Some("a"), Some("b"));
        s.add(Some("x"), None);
        assert!(s.covers(&ns("a", "b")) && !s.covers(&ns("a", "c")) && s.covers(&ns("x", "anything")));
        s.add(None, None);
        assert!(s.covers(&ns("q", "r")));
    }

    #[test]
    fn the_tail_answers_only_what_it_holds_and_only_durable_entries() {
        let mut t = Tail::default();
        for seq in 5..10 {
            t.push(TailEntry { seq, batch: seq, bytes: Arc::from(vec![0u8; 4]) });
        }
        assert!(t.after(2, 100, 10).is_none(), "4 is not held: read redb");
        let seqs = |v: Option<Vec<RawEntry>>| v.expect("held").into_iter().map(|(s, _)| s).collect::<Vec<_>>();
        assert_eq!(seqs(t.after(4, 100, 10)), vec![5, 6, 7, 8, 9]);
        assert_eq!(seqs(t.after(6, 8, 10)), vec![7, 8], "9 is not durable yet");
        assert_eq!(seqs(t.after(4, 100, 2)), vec![5, 6]);
        assert_eq!(seqs(t.after(9, 100, 2)), Vec::<u64>::new());
    }
}
