//! Document storage: the `Store` trait (`bson::Document` in and out) and its redb implementation.
//!
//! `RedbStore` keeps every collection in memory (loaded at open) for reads and writes each change
//! set in one redb write transaction with immediate durability before returning, so an
//! acknowledged write survives the process being killed.

mod redb_store;

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

impl Namespace {
    /// Validates the names (non-empty, no NUL, no `$`, database without `.`).
    pub fn new(db: &str, coll: &str) -> Result<Namespace, StoreError> {
        let bad = |s: &str| s.is_empty() || s.contains('\0') || s.contains('$');
        if bad(db) || db.contains('.') || db.contains('/') {
            return Err(StoreError::InvalidNamespace(format!("invalid database name: {db:?}")));
        }
        if bad(coll) {
            return Err(StoreError::InvalidNamespace(format!("invalid collection name: {coll:?}")));
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
    /// A new version of an existing document, matched by `_id`.
    Replace(Document),
    /// Remove the document with this `_id`.
    Delete(Bson),
}

/// Storage failures.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// Bad database or collection name.
    #[error("{0}")]
    InvalidNamespace(String),
    /// An insert reused an existing `_id`.
    #[error("E11000 duplicate key error collection: {ns} index: _id_ dup key: {{ _id: {id} }}")]
    DuplicateKey {
        /// namespace
        ns: String,
        /// the duplicate id
        id: String,
    },
    /// A document without `_id` reached the store.
    #[error("document has no _id")]
    MissingId,
    /// The database failed.
    #[error("storage error: {0}")]
    Backend(#[from] redb::Error),
    /// A document could not be (de)serialised.
    #[error("document encoding error: {0}")]
    Encoding(String),
    /// The in-memory state is unusable (a writer panicked).
    #[error("store lock poisoned")]
    Poisoned,
}

/// Read access to one collection's current documents, in natural (insertion) order.
pub trait CollectionView {
    /// Iterates over all documents.
    fn docs(&self) -> Box<dyn Iterator<Item = &Document> + '_>;
    /// Whether a document with this `_id` exists.
    fn contains_id(&self, id: &Bson) -> bool;
}

/// A document store. Writes are planned against a consistent view and applied atomically.
pub trait Store: Send + Sync {
    /// Runs `read` over the collection's documents (an empty view if it does not exist).
    fn read(&self, ns: &Namespace, read: &mut dyn FnMut(&dyn CollectionView)) -> Result<(), StoreError>;
    /// Runs `plan` against the collection and durably applies the changes it returns before
    /// returning. No other write to the store interleaves between planning and applying.
    fn write(
        &self,
        ns: &Namespace,
        plan: &mut dyn FnMut(&dyn CollectionView) -> Vec<Change>,
    ) -> Result<(), StoreError>;
}
