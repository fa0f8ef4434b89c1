//! Document storage: the `Store` trait (`bson::Document` in and out) and its redb implementation.
//!
//! `RedbStore` keeps every collection in memory (loaded at open) for reads; a write is applied in
//! memory and then made durable by a committer thread that puts everything pending into one redb
//! commit (group commit). `write` returns once that commit is durable; `write_deferred` returns a
//! ticket that async callers await before acknowledging, so an acknowledged write survives the
//! process being killed and durable throughput grows with concurrency.
//!
//! Besides `Store`, `RedbStore` implements `ChangeJournal`: the changes to chosen namespaces are
//! recorded durably in the same commits as the documents (for triggers). `Store` itself is
//! unchanged by it.

mod declare;
mod index;
mod journal;
mod redb_store;

pub use declare::{indexes_of, merge_indexes, parse_indexes};
pub use index::IndexSpec;
pub use journal::{ChangeJournal, JournalEntry, JournalError, JournalScope};
pub use redb_store::{open_database, RedbStore};

use bson::{Bson, Document};
use std::fmt;

/// A `database.collection` pair, validated.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Namespace {
    /// Database name.
    pub db: String,
    /// Collection name.
    pub coll: String,
}

/// Longest database name (MongoDB: 64 bytes).
const MAX_DB_NAME_BYTES: usize = 64;
/// Longest `database.collection` (MongoDB: 255 bytes).
const MAX_NAMESPACE_BYTES: usize = 255;

impl Namespace {
    /// Validates the names by MongoDB's rules: a database name is 1 to 64 bytes without
    /// `/\. "$*<>:|?` or NUL; a collection name is non-empty, without `$` or NUL, not blank, does
    /// not start with `system.` or a `.`, has no empty part between dots, and the whole namespace
    /// is at most 255 bytes.
    pub fn new(db: &str, coll: &str) -> Result<Namespace, StoreError> {
        let show = |s: &str| -> String {
            let short: String = s.chars().take(64).collect();
            if short.len() < s.len() { format!("{short:?}… ({} bytes)", s.len()) } else { format!("{short:?}") }
        };
        let db_ok = !db.is_empty() && db.len() <= MAX_DB_NAME_BYTES && !db.contains(|c: char| "/\\. \"$*<>:|?\0".contains(c) || c.is_control());
        if !db_ok {
            return Err(StoreError::InvalidNamespace(format!(
                "invalid database name {}: use 1 to {MAX_DB_NAME_BYTES} bytes without /\\. \"$*<>:|? or control characters",
                show(db)
            )));
        }
        let coll_ok = !coll.trim().is_empty()
            && !coll.contains(|c: char| c == '$' || c.is_control())
            && !coll.starts_with("system.")
            && !coll.split('.').any(str::is_empty);
        if !coll_ok {
            return Err(StoreError::InvalidNamespace(format!(
                "invalid collection name {}: it must not be blank, contain $ or control characters, start with 'system.', or have an empty part between dots",
                show(coll)
            )));
        }
        if db.len() + 1 + coll.len() > MAX_NAMESPACE_BYTES {
            return Err(StoreError::InvalidNamespace(format!("namespace {}.{} is longer than {MAX_NAMESPACE_BYTES} bytes", show(db), show(coll))));
        }
        Ok(Namespace { db: db.to_string(), coll: coll.to_string() })
    }
}

impl fmt::Display for Namespace {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}.{}", self.db, self.coll)
    }
}

/// One change to a collection, computed by a write plan.
#[derive(Debug, Clone, PartialEq)]
pub enum Change {
    /// A new document (must carry an `_id` not yet present).
    Insert(Document),
    /// A new version of an existing document from a replacement, matched by `_id`.
    Replace(Document),
    /// A new version of an existing document from an operator update, matched by `_id`.
    Update(Document),
    /// Remove the document with this `_id`.
    Delete(Bson),
}

/// Storage failures.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// Bad database or collection name.
    #[error("{0}")]
    InvalidNamespace(String),
    /// A write reused an `_id` or a unique index key.
    #[error("E11000 duplicate key error collection: {ns} index: {index}_ dup key: {{ {index}: {key} }}")]
    DuplicateKey {
        /// namespace
        ns: String,
        /// the index's field path (`_id` for the primary key)
        index: String,
        /// the duplicate key
        key: String,
    },
    /// A document without `_id` reached the store.
    #[error("document has no _id")]
    MissingId,
    /// The database failed.
    #[error("storage error: {0}")]
    Backend(#[from] redb::Error),
    /// A stored document could not be decoded.
    #[error("document encoding error: {0}")]
    Encoding(String),
    /// A document to write cannot be stored as BSON (a field name with a NUL byte, …).
    #[error("invalid document: {0}")]
    InvalidDocument(String),
    /// The in-memory state is unusable (a writer panicked).
    #[error("store lock poisoned")]
    Poisoned,
    /// An index declaration could not be parsed.
    #[error("{0}")]
    InvalidIndex(String),
    /// A document exceeds the BSON size limit.
    #[error("document is larger than the maximum size {max} bytes: {size}")]
    TooLarge {
        /// encoded size
        size: usize,
        /// the limit
        max: usize,
    },
    /// An earlier commit failed: memory and disk may differ, so writes are refused until restart.
    #[error("storage failed earlier ({0}); restart the server")]
    Failed(String),
}

/// Read access to one collection's current documents, in natural (insertion) order.
pub trait CollectionView {
    /// Iterates over all documents.
    fn docs(&self) -> Box<dyn Iterator<Item = &Document> + '_>;
    /// The document with this `_id` (numbers compare by value), through the `_id` index.
    fn get(&self, id: &Bson) -> Option<&Document>;
    /// Whether a document with this `_id` exists.
    fn contains_id(&self, id: &Bson) -> bool {
        self.get(id).is_some()
    }
    /// Number of documents.
    fn len(&self) -> usize;
    /// Documents whose key in the secondary index on `path` lies between the bounds (MongoDB
    /// value order), in key order or reversed, each with its key; `None` without such an index.
    fn index_range(
        &self,
        path: &str,
        lower: std::ops::Bound<&Bson>,
        upper: std::ops::Bound<&Bson>,
        reverse: bool,
    ) -> Option<Box<dyn Iterator<Item = (&Bson, &Document)> + '_>>;
    /// Whether the index on `path` holds arrays (then it cannot give sort order); `None` without one.
    fn index_multikey(&self, path: &str) -> Option<bool>;
    /// Whether the collection is empty.
    fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

/// Commit progress: every write whose ticket is at most `durable` is on disk.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Durability {
    /// Highest durable ticket.
    pub durable: u64,
    /// Set when a commit failed; no later write is acknowledged.
    pub failed: Option<String>,
}

/// Waits until `store` has made the write with `ticket` durable (or failed to).
pub async fn wait_durable(store: &dyn Store, ticket: u64) -> Result<(), StoreError> {
    let mut progress = store.durability();
    let state = progress
        .wait_for(|p| p.durable >= ticket || p.failed.is_some())
        .await
        .map_err(|_| StoreError::Failed("the committer stopped".into()))?;
    match &state.failed {
        Some(failed) => Err(StoreError::Failed(failed.clone())),
        None => Ok(()),
    }
}

/// One applied change: the document before and after (`None` for insert / delete).
#[derive(Debug, Clone, PartialEq)]
pub struct Applied {
    /// Previous version.
    pub before: Option<Document>,
    /// New version.
    pub after: Option<Document>,
    /// The new version came from a replacement (not an operator update).
    pub replacement: bool,
}

/// Receives every applied change set, in apply order (used by the change-event log).
pub trait ChangeObserver: Send + Sync {
    /// Called once per write, under the store's write lock; `batch` is the commit that will make it durable.
    fn applied(&self, ns: &Namespace, changes: Vec<Applied>, batch: u64);
    /// Every change with a batch up to `batch` is durable.
    fn durable(&self, batch: u64);
}

/// One collection as it is at the moment of reading (an empty one if it does not exist); writers
/// wait while it is held.
pub trait Snapshot {
    /// The documents.
    fn view(&self) -> &dyn CollectionView;
    /// The ticket of the newest write this snapshot shows when that write is not durable yet: what
    /// was read from it must not be shown before that ticket is durable (a write whose commit then
    /// fails is rolled back, and must never have been seen).
    fn pending(&self) -> Option<u64>;
}

/// A document store. Writes are planned against a consistent view and applied atomically.
pub trait Store: Send + Sync {
    /// The collection as it is now.
    fn read<'s>(&'s self, ns: &Namespace) -> Result<Box<dyn Snapshot + 's>, StoreError>;
    /// Runs `plan` against the collection and durably applies the changes it returns before
    /// returning. No other write to the store interleaves between planning and applying.
    fn write(
        &self,
        ns: &Namespace,
        plan: &mut dyn FnMut(&dyn CollectionView) -> Vec<Change>,
    ) -> Result<(), StoreError> {
        match self.write_deferred(ns, plan)? {
            Some(ticket) => self.wait_durable(ticket),
            None => Ok(()),
        }
    }
    /// Like `write`, but returns as soon as the changes are applied (visible to reads), with the
    /// ticket to wait for (`None` when nothing changed). Acknowledge only after it is durable.
    fn write_deferred(
        &self,
        ns: &Namespace,
        plan: &mut dyn FnMut(&dyn CollectionView) -> Vec<Change>,
    ) -> Result<Option<u64>, StoreError>;
    /// Like `write_deferred`, but with MongoDB's ordered-write semantics: the changes are applied
    /// in order up to the first one the store refuses (duplicate `_id` or unique key, too large);
    /// those before it are applied (visible, observed, and durable once the returned ticket is),
    /// it and the rest are not. Returns the ticket of what was applied (`None` when nothing was)
    /// and the refusal that stopped the write, if any.
    fn write_ordered_deferred(
        &self,
        ns: &Namespace,
        plan: &mut dyn FnMut(&dyn CollectionView) -> Vec<Change>,
    ) -> Result<(Option<u64>, Option<StoreError>), StoreError>;
    /// Blocks until the write with `ticket` is durable.
    fn wait_durable(&self, ticket: u64) -> Result<(), StoreError>;
    /// Commit progress, for waiting asynchronously (`durable >= ticket`).
    fn durability(&self) -> tokio::sync::watch::Receiver<Durability>;
    /// Registers the observer of applied changes (replacing any previous one).
    fn set_observer(&self, observer: std::sync::Arc<dyn ChangeObserver>);
}

/// Typed writes over `Store`'s callbacks: the plan returns its changes with a value of its own,
/// handed back beside the write's ticket.
pub trait StoreExt: Store {
    /// Plans with `plan` and applies its changes all-or-nothing, without waiting for durability.
    fn transact<T, E: From<StoreError>>(
        &self,
        ns: &Namespace,
        plan: impl FnOnce(&dyn CollectionView) -> Result<(Vec<Change>, T), E>,
    ) -> Result<(T, Option<u64>), E> {
        let (value, ticket, refused) = self.transact_with(ns, false, plan)?;
        match refused {
            Some(e) => Err(e.into()),
            None => Ok((value, ticket)),
        }
    }

    /// Like `transact`, with ordered-write semantics (`write_ordered_deferred`): also returns the
    /// refusal that stopped the write after the changes before it were applied.
    fn transact_ordered<T, E: From<StoreError>>(
        &self,
        ns: &Namespace,
        plan: impl FnOnce(&dyn CollectionView) -> Result<(Vec<Change>, T), E>,
    ) -> Result<(T, Option<u64>, Option<StoreError>), E> {
        self.transact_with(ns, true, plan)
    }

    #[doc(hidden)]
    fn transact_with<T, E: From<StoreError>>(
        &self,
        ns: &Namespace,
        ordered: bool,
        plan: impl FnOnce(&dyn CollectionView) -> Result<(Vec<Change>, T), E>,
    ) -> Result<(T, Option<u64>, Option<StoreError>), E> {
        // The store calls its callback exactly once, under its write lock; what the plan decides
        // besides the changes comes out through `outcome`.
        let mut plan = Some(plan);
        let mut outcome: Option<Result<T, E>> = None;
        let mut callback = |view: &dyn CollectionView| match plan.take().map(|p| p(view)) {
            Some(Ok((changes, value))) => {
                outcome = Some(Ok(value));
                changes
            }
            Some(Err(e)) => {
                outcome = Some(Err(e));
                Vec::new()
            }
            None => Vec::new(),
        };
        let (ticket, refused) = if ordered {
            self.write_ordered_deferred(ns, &mut callback)?
        } else {
            match self.write_deferred(ns, &mut callback) {
                Ok(ticket) => (ticket, None),
                // A refused change: nothing was applied; a planning error comes first.
                Err(e) => match outcome {
                    Some(Err(plan_error)) => return Err(plan_error),
                    _ => return Err(e.into()),
                },
            }
        };
        match outcome {
            Some(Ok(value)) => Ok((value, ticket, refused)),
            Some(Err(e)) => Err(e),
            None => Err(StoreError::Poisoned.into()),
        }
    }
}

impl<S: Store + ?Sized> StoreExt for S {}

/// Largest BSON document accepted (as MongoDB).
pub const MAX_DOCUMENT_BYTES: usize = 16 * 1024 * 1024;
