//! redb-backed `Store`: one table of `ns \0 id-key → seq ‖ BSON bytes`, mirrored in memory,
//! written through a group commit; the change journal (`journal`) rides in the same commits.

use super::index::{Index, IndexSpec, Key};
use super::journal::{self, ChangeJournal, JournalEntry, JournalError, JournalScope, RawEntry, Tail, TailEntry, CURSORS, JOURNAL, JOURNAL_META};
use super::{Applied, Change, ChangeObserver, CollectionView, Durability, Namespace, Snapshot, Store, StoreError, MAX_DOCUMENT_BYTES};
use bson::{Bson, Document};
use redb::{Database, ReadableDatabase, ReadableTable, TableDefinition};
use std::collections::{BTreeMap, HashMap, HashSet};
use std::ops::Bound;
use std::path::Path;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Condvar, Mutex, OnceLock, RwLock, RwLockReadGuard};
use tokio::sync::watch;

const DOCS: TableDefinition<&[u8], &[u8]> = TableDefinition::new("documents");

/// redb's page cache: documents are served from memory, so the cache only needs to hold the pages
/// that commits touch.
const REDB_CACHE_BYTES: usize = 32 * 1024 * 1024;

/// Opens (creating if needed) the redb file `realm.redb` in `dir`.
pub fn open_database(dir: &Path) -> Result<Arc<Database>, StoreError> {
    std::fs::create_dir_all(dir).map_err(|e| StoreError::Backend(e.into()))?;
    let db = redb::Builder::new()
        .set_cache_size(REDB_CACHE_BYTES)
        .create(dir.join("realm.redb"))
        .map_err(redb::Error::from)?;
    Ok(Arc::new(db))
}

/// Canonical key bytes of an `_id` value; integral numbers share one key whatever their type,
/// because MongoDB treats `1`, `1.0` and `NumberLong(1)` as the same `_id`.
fn id_key(id: &Bson) -> Result<Vec<u8>, StoreError> {
    let canonical = match id {
        Bson::Int32(i) => Bson::Int64(i64::from(*i)),
        Bson::Double(d) if d.fract() == 0.0 && d.abs() < 9.0e15 => Bson::Int64(*d as i64),
        other => other.clone(),
    };
    let mut d = Document::new();
    d.insert("", canonical);
    bson::to_vec(&d).map_err(|e| StoreError::Encoding(e.to_string()))
}

fn row_key(ns: &str, id: &[u8]) -> Vec<u8> {
    let mut k = Vec::with_capacity(ns.len() + 1 + id.len());
    k.extend_from_slice(ns.as_bytes());
    k.push(0);
    k.extend_from_slice(id);
    k
}

/// One collection in memory: documents in natural order by sequence number, the `_id` index,
/// and the declared secondary indexes.
#[derive(Default)]
struct Collection {
    docs: BTreeMap<u64, Document>,
    ids: HashMap<Vec<u8>, u64>,
    indexes: Vec<Index>,
    /// The commit batch of the newest change applied here: a read is answered once it is durable.
    last_batch: u64,
}

impl Collection {
    fn with_indexes(specs: &[IndexSpec]) -> Collection {
        Collection { indexes: specs.iter().cloned().map(Index::new).collect(), ..Default::default() }
    }

    fn put(&mut self, key: Vec<u8>, seq: u64, doc: Document) {
        if let Some(old_seq) = self.ids.insert(key, seq) {
            if let Some(old) = self.docs.remove(&old_seq) {
                self.indexes.iter_mut().for_each(|i| i.remove(old_seq, &old));
            }
        }
        self.indexes.iter_mut().for_each(|i| i.insert(seq, &doc));
        self.docs.insert(seq, doc);
    }

    fn remove(&mut self, key: &[u8]) -> Option<Document> {
        let seq = self.ids.remove(key)?;
        let doc = self.docs.remove(&seq)?;
        self.indexes.iter_mut().for_each(|i| i.remove(seq, &doc));
        Some(doc)
    }

    fn seq_of(&self, key: &[u8]) -> Option<u64> {
        self.ids.get(key).copied()
    }

    /// A unique-index key of `doc` held by another document, named for the error.
    fn unique_conflict(&self, doc: &Document, own: Option<u64>) -> Option<(String, Bson)> {
        self.indexes.iter().find_map(|i| i.conflict(doc, own).map(|k| (i.spec.path.clone(), k)))
    }
}

impl CollectionView for Collection {
    fn docs(&self) -> Box<dyn Iterator<Item = &Document> + '_> {
        Box::new(self.docs.values())
    }
    fn get(&self, id: &Bson) -> Option<&Document> {
        id_key(id).ok().and_then(|k| self.ids.get(&k)).and_then(|s| self.docs.get(s))
    }
    fn len(&self) -> usize {
        self.docs.len()
    }
    fn index_range(
        &self,
        path: &str,
        lower: Bound<&Bson>,
        upper: Bound<&Bson>,
        reverse: bool,
    ) -> Option<Box<dyn Iterator<Item = (&Bson, &Document)> + '_>> {
        let index = self.indexes.iter().find(|i| i.spec.path == path)?;
        let entries = index.walk(lower, upper, reverse);
        // A multikey index lists a document once per element: report each document once.
        let mut seen = HashSet::new();
        let multikey = index.array_docs > 0;
        Some(Box::new(entries.filter_map(move |(k, s)| {
            if multikey && !seen.insert(s) {
                return None;
            }
            self.docs.get(&s).map(|d| (&k.0, d))
        })))
    }
    fn index_multikey(&self, path: &str) -> Option<bool> {
        self.indexes.iter().find(|i| i.spec.path == path).map(|i| i.array_docs > 0)
    }
}

/// A resolved change: id key, new (seq, document) or `None` to delete, encoded row, replacement flag.
type PlannedRow = (Vec<u8>, Option<(u64, Document)>, Option<Vec<u8>>, bool);

/// A row waiting for the next group commit.
enum PendingRow {
    /// A document row (`None` deletes it).
    Doc(Vec<u8>, Option<Vec<u8>>),
    /// A journal entry (its bytes are shared with the in-memory tail).
    Journal(u64, Arc<[u8]>),
}

/// How to take back one change applied in memory whose commit failed: the collection, the `_id`
/// key and the version before it (`None`: the document did not exist).
struct Undo {
    ns: String,
    key: Vec<u8>,
    previous: Option<(u64, Document)>,
}

struct Inner {
    collections: HashMap<String, Collection>,
    next_seq: u64,
    /// Rows applied in memory but not yet committed, in apply order.
    pending: Vec<PendingRow>,
    /// How to take back each change behind `pending`, in apply order.
    undo: Vec<Undo>,
    /// The batch that the rows now in `pending` will be committed in.
    batch: u64,
    /// The next journal sequence number.
    journal_next: u64,
    /// Journal cursors to save in the next commit (`None` removes).
    cursors: BTreeMap<String, Option<Vec<u8>>>,
    /// Journal entries to drop in the next commit (up to and including).
    trim: Option<u64>,
}

impl Inner {
    /// Takes back changes applied in memory, newest first (a failed commit).
    fn roll_back(&mut self, undo: Vec<Undo>) {
        for u in undo.into_iter().rev() {
            if let Some(coll) = self.collections.get_mut(&u.ns) {
                coll.remove(&u.key);
                if let Some((seq, doc)) = u.previous {
                    coll.put(u.key, seq, doc);
                }
            }
        }
    }
}

/// Wakes the committer: rows are pending, or the store is being dropped.
#[derive(Default)]
struct Work {
    pending: bool,
    shutdown: bool,
}

/// State shared between the store handle and its committer thread.
struct Shared {
    db: Arc<Database>,
    inner: RwLock<Inner>,
    work: Mutex<Work>,
    work_cv: Condvar,
    progress: Mutex<Durability>,
    progress_cv: Condvar,
    progress_tx: watch::Sender<Durability>,
    /// `progress.durable`, readable without the lock (reads check it on every call).
    durable: AtomicU64,
    observer: RwLock<Option<Arc<dyn ChangeObserver>>>,
    /// Declared secondary indexes by namespace (`db.coll`).
    index_specs: HashMap<String, Vec<IndexSpec>>,
    /// Which namespaces the journal records (set once, before the first write).
    journal_scope: OnceLock<JournalScope>,
    /// The newest journal entries.
    tail: Mutex<Tail>,
    /// The newest durable journal sequence number.
    journal_head: watch::Sender<u64>,
    /// The oldest journal entry kept (entries before it were trimmed).
    journal_oldest: AtomicU64,
}

/// What one commit writes besides the pending rows.
struct Extra {
    cursors: BTreeMap<String, Option<Vec<u8>>>,
    trim: Option<u64>,
    /// The journal's next sequence number after this commit.
    journal_next: u64,
}

/// The embedded store. A committer thread commits everything pending in one redb transaction
/// at a time (group commit); writers wait for the commit holding their rows.
pub struct RedbStore {
    shared: Arc<Shared>,
    committer: Option<std::thread::JoinHandle<()>>,
}

impl Drop for RedbStore {
    /// Commits what is pending, then stops the committer (releasing the database file).
    fn drop(&mut self) {
        if let Ok(mut w) = self.shared.work.lock() {
            w.shutdown = true;
        }
        self.shared.work_cv.notify_all();
        if let Some(handle) = self.committer.take() {
            let _ = handle.join();
        }
    }
}

impl Shared {
    fn committer_loop(&self) {
        loop {
            {
                let Ok(mut w) = self.work.lock() else { return };
                while !w.pending && !w.shutdown {
                    w = match self.work_cv.wait(w) {
                        Ok(w) => w,
                        Err(_) => return,
                    };
                }
                if !w.pending {
                    return;
                }
                w.pending = false;
            }
            let (rows, undo, taken, extra) = {
                let Ok(mut inner) = self.inner.write() else { return };
                let taken = inner.batch;
                inner.batch += 1;
                let extra = Extra { cursors: std::mem::take(&mut inner.cursors), trim: inner.trim.take(), journal_next: inner.journal_next };
                (std::mem::take(&mut inner.pending), std::mem::take(&mut inner.undo), taken, extra)
            };
            let nothing = rows.is_empty() && extra.cursors.is_empty() && extra.trim.is_none();
            let journal_head = rows.iter().rev().find_map(|r| match r {
                PendingRow::Journal(seq, _) => Some(*seq),
                PendingRow::Doc(..) => None,
            });
            let result = if nothing { Ok(()) } else { self.commit_rows(&rows, &extra) };
            if let Err(e) = &result {
                // Nothing of this batch, nor of the ones planned on top of it, may stay visible:
                // take them back in memory before any waiter learns of the failure.
                tracing::error!("storage commit failed, its writes are rolled back and writes are refused until restart: {e}");
                if let Ok(mut inner) = self.inner.write() {
                    let later = std::mem::take(&mut inner.undo);
                    inner.pending.clear();
                    inner.cursors.clear();
                    inner.trim = None;
                    inner.roll_back(later);
                    inner.roll_back(undo);
                    // What is left is what is on disk: reads may show it at once.
                    inner.collections.values_mut().for_each(|c| c.last_batch = 0);
                }
            }
            let snapshot = {
                let Ok(mut p) = self.progress.lock() else { return };
                match &result {
                    Ok(()) => p.durable = taken,
                    Err(e) => p.failed = Some(e.to_string()),
                }
                p.clone()
            };
            if result.is_ok() {
                self.durable.store(taken, Ordering::Release);
                if let Some(head) = journal_head {
                    self.journal_head.send_replace(head);
                }
            } else if let Ok(mut tail) = self.tail.lock() {
                tail.clear();
            }
            self.progress_cv.notify_all();
            self.progress_tx.send_replace(snapshot);
            if result.is_err() {
                return;
            }
            if let Ok(Some(observer)) = self.observer.read().map(|o| o.clone()) {
                observer.durable(taken);
            }
        }
    }

    fn commit_rows(&self, rows: &[PendingRow], extra: &Extra) -> Result<(), StoreError> {
        let txn = self.db.begin_write().map_err(redb::Error::from)?;
        {
            let mut table = txn.open_table(DOCS).map_err(redb::Error::from)?;
            let mut journal = None;
            for row in rows {
                match row {
                    PendingRow::Doc(key, Some(v)) => {
                        table.insert(key.as_slice(), v.as_slice()).map_err(redb::Error::from)?;
                    }
                    PendingRow::Doc(key, None) => {
                        table.remove(key.as_slice()).map_err(redb::Error::from)?;
                    }
                    PendingRow::Journal(seq, bytes) => {
                        let j = match &mut journal {
                            Some(j) => j,
                            None => journal.insert(txn.open_table(JOURNAL).map_err(redb::Error::from)?),
                        };
                        j.insert(*seq, &**bytes).map_err(redb::Error::from)?;
                    }
                }
            }
            if journal.is_some() || extra.trim.is_some() {
                let mut journal = match journal {
                    Some(j) => j,
                    None => txn.open_table(JOURNAL).map_err(redb::Error::from)?,
                };
                let mut meta = txn.open_table(JOURNAL_META).map_err(redb::Error::from)?;
                meta.insert("next", extra.journal_next).map_err(redb::Error::from)?;
                if let Some(through) = extra.trim {
                    journal.retain_in(..=through, |_, _| false).map_err(redb::Error::from)?;
                    let trimmed = meta.get("trimmed").map_err(redb::Error::from)?.map_or(0, |v| v.value());
                    meta.insert("trimmed", trimmed.max(through)).map_err(redb::Error::from)?;
                }
            }
            if !extra.cursors.is_empty() {
                let mut cursors = txn.open_table(CURSORS).map_err(redb::Error::from)?;
                for (name, value) in &extra.cursors {
                    match value {
                        Some(v) => cursors.insert(name.as_str(), v.as_slice()).map_err(redb::Error::from)?,
                        None => cursors.remove(name.as_str()).map_err(redb::Error::from)?,
                    };
                }
            }
        }
        txn.commit().map_err(redb::Error::from)?;
        Ok(())
    }
}

impl RedbStore {
    /// Opens the store on a database and loads every collection into memory.
    pub fn open(db: Arc<Database>) -> Result<RedbStore, StoreError> {
        RedbStore::open_with_indexes(db, Vec::new())
    }

    /// Opens the store with declared secondary indexes (`(namespace, spec)`), built over the
    /// loaded documents; fails if existing documents violate a unique index.
    pub fn open_with_indexes(db: Arc<Database>, specs: Vec<(Namespace, IndexSpec)>) -> Result<RedbStore, StoreError> {
        let txn = db.begin_write().map_err(redb::Error::from)?;
        txn.open_table(DOCS).map_err(redb::Error::from)?;
        let (journal_next, journal_oldest) = {
            let journal = txn.open_table(JOURNAL).map_err(redb::Error::from)?;
            let meta = txn.open_table(JOURNAL_META).map_err(redb::Error::from)?;
            txn.open_table(CURSORS).map_err(redb::Error::from)?;
            let last = journal.last().map_err(redb::Error::from)?.map_or(0, |(k, _)| k.value());
            let next = meta.get("next").map_err(redb::Error::from)?.map_or(1, |v| v.value()).max(last + 1);
            let trimmed = meta.get("trimmed").map_err(redb::Error::from)?.map_or(0, |v| v.value());
            (next, trimmed + 1)
        };
        txn.commit().map_err(redb::Error::from)?;

        let mut index_specs: HashMap<String, Vec<IndexSpec>> = HashMap::new();
        for (ns, spec) in specs {
            index_specs.entry(ns.to_string()).or_default().push(spec);
        }
        let mut collections: HashMap<String, Collection> = HashMap::new();
        let mut next_seq = 1;
        {
            let read = db.begin_read().map_err(redb::Error::from)?;
            let table = read.open_table(DOCS).map_err(redb::Error::from)?;
            for entry in table.iter().map_err(redb::Error::from)? {
                let (k, v) = entry.map_err(redb::Error::from)?;
                let (k, v) = (k.value(), v.value());
                let Some(split) = k.iter().position(|b| *b == 0) else { continue };
                let ns = String::from_utf8_lossy(&k[..split]).into_owned();
                if v.len() < 8 {
                    return Err(StoreError::Encoding(format!("short row in {ns}")));
                }
                let mut seq_bytes = [0u8; 8];
                seq_bytes.copy_from_slice(&v[..8]);
                let seq = u64::from_be_bytes(seq_bytes);
                let doc = Document::from_reader(&v[8..]).map_err(|e| StoreError::Encoding(e.to_string()))?;
                next_seq = next_seq.max(seq + 1);
                let coll = collections.entry(ns.clone()).or_insert_with(|| {
                    Collection::with_indexes(index_specs.get(&ns).map(Vec::as_slice).unwrap_or(&[]))
                });
                if let Some((path, key)) = coll.unique_conflict(&doc, None) {
                    return Err(StoreError::DuplicateKey { ns, index: path, key: key.to_string() });
                }
                coll.put(k[split + 1..].to_vec(), seq, doc);
            }
        }
        let (progress_tx, _) = watch::channel(Durability::default());
        let shared = Arc::new(Shared {
            db,
            inner: RwLock::new(Inner {
                collections,
                next_seq,
                pending: Vec::new(),
                undo: Vec::new(),
                batch: 1,
                journal_next,
                cursors: BTreeMap::new(),
                trim: None,
            }),
            work: Mutex::new(Work::default()),
            work_cv: Condvar::new(),
            progress: Mutex::new(Durability::default()),
            progress_cv: Condvar::new(),
            progress_tx,
            durable: AtomicU64::new(0),
            observer: RwLock::new(None),
            index_specs,
            journal_scope: OnceLock::new(),
            tail: Mutex::new(Tail::default()),
            journal_head: watch::Sender::new(journal_next - 1),
            journal_oldest: AtomicU64::new(journal_oldest),
        });
        let for_thread = shared.clone();
        let committer = std::thread::Builder::new()
            .name("redb-committer".into())
            .spawn(move || for_thread.committer_loop())
            .map_err(|e| StoreError::Backend(e.into()))?;
        Ok(RedbStore { shared, committer: Some(committer) })
    }

    /// Plans and applies a write. All-or-nothing (`ordered == false`): a refused change leaves
    /// nothing applied and is returned as `Err`. Ordered: the changes before the first refused one
    /// are applied (and get a ticket), and the refusal is returned beside that ticket.
    fn apply(
        &self,
        ns: &Namespace,
        plan: &mut dyn FnMut(&dyn CollectionView) -> Vec<Change>,
        ordered: bool,
    ) -> Result<(Option<u64>, Option<StoreError>), StoreError> {
        let shared = &*self.shared;
        if let Some(f) = shared.progress.lock().map_err(|_| StoreError::Poisoned)?.failed.clone() {
            return Err(StoreError::Failed(f));
        }
        let name = ns.to_string();
        let (batch, stop) = {
            let mut guard = shared.inner.write().map_err(|_| StoreError::Poisoned)?;
            let inner = &mut *guard;
            let specs = shared.index_specs.get(&name).map(Vec::as_slice).unwrap_or(&[]);
            let empty = Collection::with_indexes(specs);
            let existing = inner.collections.get(&name).unwrap_or(&empty);
            let changes = plan(existing);
            if changes.is_empty() {
                return Ok((None, None));
            }
            // Resolve and encode every change first: a refused change leaves nothing applied
            // (ordered: nothing from it on).
            let mut seq = inner.next_seq;
            let mut rows: Vec<PlannedRow> = Vec::with_capacity(changes.len());
            let mut present: HashMap<Vec<u8>, bool> = HashMap::new();
            // Unique keys written by earlier changes of this batch: (index path, key) → id key.
            let mut batch_keys: BTreeMap<(String, Key), Vec<u8>> = BTreeMap::new();
            let mut check_unique = |doc: &Document, key: &[u8], own: Option<u64>| -> Result<(), StoreError> {
                if let Some((path, k)) = existing.unique_conflict(doc, own) {
                    return Err(StoreError::DuplicateKey { ns: name.clone(), index: path, key: k.to_string() });
                }
                for i in existing.indexes.iter().filter(|i| i.spec.unique) {
                    for k in i.keys_of(doc).0 {
                        let shown = k.0.to_string();
                        let slot = (i.spec.path.clone(), k);
                        match batch_keys.get(&slot) {
                            Some(other) if other.as_slice() != key => {
                                return Err(StoreError::DuplicateKey { ns: name.clone(), index: i.spec.path.clone(), key: shown })
                            }
                            _ => {
                                batch_keys.insert(slot, key.to_vec());
                            }
                        }
                    }
                }
                Ok(())
            };
            let mut stop = None;
            for change in changes {
                let replacement = matches!(change, Change::Replace(_));
                let exists = |present: &HashMap<Vec<u8>, bool>, key: &Vec<u8>| {
                    present.get(key).copied().unwrap_or_else(|| existing.ids.contains_key(key))
                };
                let resolve = || -> Result<PlannedRow, StoreError> {
                    match change {
                        Change::Insert(doc) => {
                            let id = doc.get("_id").ok_or(StoreError::MissingId)?;
                            let key = id_key(id)?;
                            if exists(&present, &key) {
                                return Err(StoreError::DuplicateKey { ns: name.clone(), index: "_id".into(), key: id.to_string() });
                            }
                            check_unique(&doc, &key, None)?;
                            let value = encode(seq, &doc)?;
                            present.insert(key.clone(), true);
                            seq += 1;
                            Ok((key, Some((seq - 1, doc)), Some(value), false))
                        }
                        Change::Replace(doc) | Change::Update(doc) => {
                            let key = id_key(doc.get("_id").ok_or(StoreError::MissingId)?)?;
                            let own = existing.seq_of(&key);
                            check_unique(&doc, &key, own)?;
                            let this_seq = own.unwrap_or(seq);
                            let value = encode(this_seq, &doc)?;
                            if own.is_none() {
                                seq += 1;
                            }
                            present.insert(key.clone(), true);
                            Ok((key, Some((this_seq, doc)), Some(value), replacement))
                        }
                        Change::Delete(id) => {
                            let key = id_key(&id)?;
                            present.insert(key.clone(), false);
                            Ok((key, None, None, false))
                        }
                    }
                };
                match resolve() {
                    Ok(row) => rows.push(row),
                    Err(e) if ordered => {
                        stop = Some(e);
                        break;
                    }
                    Err(e) => return Err(e),
                }
            }
            if rows.is_empty() {
                return Ok((None, stop));
            }
            inner.next_seq = seq;
            let batch = inner.batch;
            let journaled = shared.journal_scope.get().is_some_and(|s| s.covers(ns));
            let time_ms = if journaled { bson::DateTime::now().timestamp_millis() } else { 0 };
            let mut tail = if journaled { Some(shared.tail.lock().map_err(|_| StoreError::Poisoned)?) } else { None };
            let Inner { collections, pending, undo, journal_next, .. } = inner;
            let coll = collections.entry(name.clone()).or_insert_with(|| Collection::with_indexes(specs));
            coll.last_batch = batch;
            let mut applied = Vec::with_capacity(rows.len());
            for (key, row, value, replacement) in rows {
                let previous = coll.seq_of(&key).and_then(|s| coll.docs.get(&s).map(|d| (s, d.clone())));
                if let Some(tail) = tail.as_mut().filter(|_| previous.is_some() || value.is_some()) {
                    // The change's journal entry, committed with the row itself.
                    let after = value.as_deref().map(|v| &v[8..]);
                    let bytes: Arc<[u8]> = journal::encode(&name, time_ms, after, previous.as_ref().map(|(_, d)| d), replacement).into();
                    let seq = *journal_next;
                    *journal_next += 1;
                    pending.push(PendingRow::Journal(seq, bytes.clone()));
                    tail.push(TailEntry { seq, batch, bytes });
                }
                pending.push(PendingRow::Doc(row_key(&name, &key), value));
                let after = match row {
                    Some((s, doc)) => {
                        let after = doc.clone();
                        coll.put(key.clone(), s, doc);
                        Some(after)
                    }
                    None => {
                        coll.remove(&key);
                        None
                    }
                };
                let before = previous.as_ref().map(|(_, d)| d.clone());
                undo.push(Undo { ns: name.clone(), key, previous });
                if before.is_some() || after.is_some() {
                    applied.push(Applied { before, after, replacement });
                }
            }
            if let Some(observer) = shared.observer.read().map_err(|_| StoreError::Poisoned)?.as_ref() {
                observer.applied(ns, applied, batch);
            }
            (inner.batch, stop)
        };
        if let Ok(mut w) = shared.work.lock() {
            w.pending = true;
        }
        shared.work_cv.notify_one();
        Ok((Some(batch), stop))
    }
}

impl RedbStore {
    /// Starts recording the changes to `scope`'s namespaces in the journal. Call it once, before
    /// the first write (a later call is ignored).
    pub fn set_journal_scope(&self, scope: JournalScope) {
        if self.shared.journal_scope.set(scope).is_err() {
            tracing::warn!("the journal scope was already set");
        }
    }

    /// Up to `max` entries after `after`, from disk.
    fn read_journal(&self, after: u64, max: usize) -> Result<Vec<RawEntry>, StoreError> {
        let read = self.shared.db.begin_read().map_err(redb::Error::from)?;
        let table = read.open_table(JOURNAL).map_err(redb::Error::from)?;
        let mut raw = Vec::new();
        for entry in table.range(after + 1..).map_err(redb::Error::from)?.take(max) {
            let (k, v) = entry.map_err(redb::Error::from)?;
            raw.push((k.value(), Arc::from(v.value())));
        }
        Ok(raw)
    }

    /// Queues a change of journal state for the next commit and wakes the committer.
    fn queue(&self, change: impl FnOnce(&mut Inner)) -> Result<u64, StoreError> {
        let shared = &*self.shared;
        if let Some(f) = shared.progress.lock().map_err(|_| StoreError::Poisoned)?.failed.clone() {
            return Err(StoreError::Failed(f));
        }
        let batch = {
            let mut inner = shared.inner.write().map_err(|_| StoreError::Poisoned)?;
            change(&mut inner);
            inner.batch
        };
        if let Ok(mut w) = shared.work.lock() {
            w.pending = true;
        }
        shared.work_cv.notify_one();
        Ok(batch)
    }
}

impl ChangeJournal for RedbStore {
    fn entries_after(&self, after: u64, max: usize) -> Result<Vec<JournalEntry>, JournalError> {
        let shared = &*self.shared;
        let oldest = shared.journal_oldest.load(Ordering::Acquire);
        if after + 1 < oldest {
            return Err(JournalError::Lost { after, oldest });
        }
        let durable = shared.durable.load(Ordering::Acquire);
        let held = shared.tail.lock().map_err(|_| StoreError::Poisoned)?.after(after, durable, max);
        let raw: Vec<RawEntry> = match held {
            Some(raw) => raw,
            // Older than the tail: from disk, where everything is durable.
            None => self.read_journal(after, max)?,
        };
        let entries = raw.iter().map(|(seq, bytes)| journal::decode(*seq, bytes)).collect::<Result<Vec<_>, _>>()?;
        // A trim may have run meanwhile: report it rather than a gap.
        let oldest = shared.journal_oldest.load(Ordering::Acquire);
        if after + 1 < oldest {
            return Err(JournalError::Lost { after, oldest });
        }
        Ok(entries)
    }

    fn durable_head(&self) -> watch::Receiver<u64> {
        self.shared.journal_head.subscribe()
    }

    fn save_cursor(&self, name: &str, value: Option<Vec<u8>>) -> Result<u64, StoreError> {
        self.queue(|inner| {
            inner.cursors.insert(name.to_string(), value);
        })
    }

    fn cursor(&self, name: &str) -> Result<Option<Vec<u8>>, StoreError> {
        let read = self.shared.db.begin_read().map_err(redb::Error::from)?;
        let table = read.open_table(CURSORS).map_err(redb::Error::from)?;
        let value = table.get(name).map_err(redb::Error::from)?.map(|v| v.value().to_vec());
        Ok(value)
    }

    fn trim(&self, through: u64) -> Result<(), StoreError> {
        self.queue(|inner| inner.trim = Some(inner.trim.map_or(through, |t| t.max(through))))?;
        // Gone for readers at once, not at the commit: a reader never gets entries that are
        // about to be dropped (a trigger enabled right after start-up's trim would run events
        // from before the gap, then find it). Should the commit fail, the store refuses
        // everything until restart, which reads the journal from disk again.
        self.shared.journal_oldest.fetch_max(through + 1, Ordering::AcqRel);
        Ok(())
    }
}

fn encode(seq: u64, doc: &Document) -> Result<Vec<u8>, StoreError> {
    let mut value = seq.to_be_bytes().to_vec();
    doc.to_writer(&mut value).map_err(|e| StoreError::InvalidDocument(e.to_string()))?;
    if value.len() - 8 > MAX_DOCUMENT_BYTES {
        return Err(StoreError::TooLarge { size: value.len() - 8, max: MAX_DOCUMENT_BYTES });
    }
    Ok(value)
}

/// A collection under the store's read lock.
struct RedbSnapshot<'s> {
    inner: RwLockReadGuard<'s, Inner>,
    name: String,
    /// Stands in for a collection that does not exist (with its declared indexes).
    empty: Option<Collection>,
    pending: Option<u64>,
}

impl Snapshot for RedbSnapshot<'_> {
    fn view(&self) -> &dyn CollectionView {
        match (&self.empty, self.inner.collections.get(&self.name)) {
            (None, Some(c)) => c,
            (Some(empty), _) => empty,
            // Not reachable: `read` sets `empty` exactly when the collection is missing.
            (None, None) => &*EMPTY,
        }
    }

    fn pending(&self) -> Option<u64> {
        self.pending
    }
}

static EMPTY: std::sync::LazyLock<Collection> = std::sync::LazyLock::new(Collection::default);

impl Store for RedbStore {
    fn read<'s>(&'s self, ns: &Namespace) -> Result<Box<dyn Snapshot + 's>, StoreError> {
        let shared = &*self.shared;
        let inner = shared.inner.read().map_err(|_| StoreError::Poisoned)?;
        let name = ns.to_string();
        let (empty, pending) = match inner.collections.get(&name) {
            Some(c) => (None, (c.last_batch > shared.durable.load(Ordering::Acquire)).then_some(c.last_batch)),
            None => (Some(Collection::with_indexes(shared.index_specs.get(&name).map(Vec::as_slice).unwrap_or(&[]))), None),
        };
        Ok(Box::new(RedbSnapshot { inner, name, empty, pending }))
    }

    fn write_deferred(
        &self,
        ns: &Namespace,
        plan: &mut dyn FnMut(&dyn CollectionView) -> Vec<Change>,
    ) -> Result<Option<u64>, StoreError> {
        match self.apply(ns, plan, false)? {
            (_, Some(e)) => Err(e),
            (ticket, None) => Ok(ticket),
        }
    }

    fn write_ordered_deferred(
        &self,
        ns: &Namespace,
        plan: &mut dyn FnMut(&dyn CollectionView) -> Vec<Change>,
    ) -> Result<(Option<u64>, Option<StoreError>), StoreError> {
        self.apply(ns, plan, true)
    }

    fn wait_durable(&self, ticket: u64) -> Result<(), StoreError> {
        let shared = &*self.shared;
        let mut p = shared.progress.lock().map_err(|_| StoreError::Poisoned)?;
        loop {
            if let Some(f) = &p.failed {
                return Err(StoreError::Failed(f.clone()));
            }
            if p.durable >= ticket {
                return Ok(());
            }
            p = shared.progress_cv.wait(p).map_err(|_| StoreError::Poisoned)?;
        }
    }

    fn durability(&self) -> watch::Receiver<Durability> {
        self.shared.progress_tx.subscribe()
    }

    fn set_observer(&self, observer: Arc<dyn ChangeObserver>) {
        if let Ok(mut slot) = self.shared.observer.write() {
            *slot = Some(observer);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use bson::doc;

    fn all(store: &RedbStore, ns: &Namespace) -> Vec<Document> {
        let snap = store.read(ns).expect("read");
        let out = snap.view().docs().cloned().collect();
        out
    }

    #[test]
    fn writes_survive_reopen_in_order() {
        let dir = tempfile::tempdir().expect("tempdir");
        let ns = Namespace::new("db", "c").expect("ns");
        {
            let store = RedbStore::open(open_database(dir.path()).expect("db")).expect("open");
            store
                .write(&ns, &mut |_| {
                    vec![
                        Change::Insert(doc! {"_id": 3, "v": 1}),
                        Change::Insert(doc! {"_id": 1, "v": 2}),
                        Change::Insert(doc! {"_id": "x", "v": 3}),
                    ]
                })
                .expect("insert");
            store.write(&ns, &mut |_| vec![Change::Replace(doc! {"_id": 3, "v": 9})]).expect("replace");
            store.write(&ns, &mut |_| vec![Change::Delete(Bson::Int32(1))]).expect("delete");
            let dup = store.write(&ns, &mut |_| vec![Change::Insert(doc! {"_id": "x"})]);
            assert!(matches!(dup, Err(StoreError::DuplicateKey { .. })));
        }
        let store = RedbStore::open(open_database(dir.path()).expect("db")).expect("reopen");
        assert_eq!(all(&store, &ns), vec![doc! {"_id": 3, "v": 9}, doc! {"_id": "x", "v": 3}]);
        assert!(all(&store, &Namespace::new("db", "other").expect("ns")).is_empty());
    }

    #[test]
    fn secondary_indexes_ranges_uniqueness_and_rebuild() {
        let dir = tempfile::tempdir().expect("tempdir");
        let ns = Namespace::new("db", "c").expect("ns");
        let specs = crate::store::parse_indexes("db.c:n, db.c:email:unique").expect("specs");
        let store = RedbStore::open_with_indexes(open_database(dir.path()).expect("db"), specs.clone()).expect("open");
        let docs = [
            doc! {"_id": 1, "n": 5, "email": "a"},
            doc! {"_id": 2, "n": 1.5, "email": "b"},
            doc! {"_id": 3, "n": "x", "email": "c"},
            doc! {"_id": 4, "email": "d"},
            doc! {"_id": 5, "n": 5_i64, "email": "e"},
        ];
        store.write(&ns, &mut |_| docs.iter().cloned().map(Change::Insert).collect()).expect("insert");
        let ids = |lo: Bound<&Bson>, hi: Bound<&Bson>, rev: bool| {
            let snap = store.read(&ns).expect("read");
            let out: Vec<Option<Bson>> = snap.view().index_range("n", lo, hi, rev).expect("index").map(|(_, d)| d.get("_id").cloned()).collect();
            out.into_iter().flatten().map(|b| b.as_i32().unwrap_or(-1)).collect::<Vec<_>>()
        };
        let five = Bson::Int32(5);
        assert_eq!(ids(Bound::Included(&five), Bound::Included(&five), false), vec![1, 5]);
        assert_eq!(ids(Bound::Unbounded, Bound::Unbounded, false), vec![4, 2, 1, 5, 3], "null, numbers, strings");
        assert_eq!(ids(Bound::Unbounded, Bound::Unbounded, true), vec![3, 1, 5, 2, 4], "ties stay in natural order");
        let dup = store.write(&ns, &mut |_| vec![Change::Insert(doc! {"_id": 6, "email": "a"})]);
        assert!(matches!(dup, Err(StoreError::DuplicateKey { ref index, .. }) if index == "email"), "{dup:?}");
        let dup_in_batch = store.write(&ns, &mut |_| vec![Change::Insert(doc! {"_id": 7, "email": "z"}), Change::Insert(doc! {"_id": 8, "email": "z"})]);
        assert!(matches!(dup_in_batch, Err(StoreError::DuplicateKey { .. })));
        store.write(&ns, &mut |_| vec![Change::Update(doc! {"_id": 1, "n": 7, "email": "a"})]).expect("own key may stay");
        assert_eq!(ids(Bound::Included(&five), Bound::Included(&five), false), vec![5]);
        store.write(&ns, &mut |_| vec![Change::Delete(Bson::Int32(5))]).expect("delete");
        assert_eq!(ids(Bound::Included(&five), Bound::Included(&five), false), Vec::<i32>::new());
        drop(store);
        let store = RedbStore::open_with_indexes(open_database(dir.path()).expect("db"), specs).expect("reopen");
        let n = store.read(&ns).expect("read").view().index_range("n", Bound::Unbounded, Bound::Unbounded, false).map(|i| i.count()).unwrap_or(0);
        assert_eq!(n, 4);
        assert!(crate::store::parse_indexes("db:x").is_err() && crate::store::parse_indexes("a.b:c:wat").is_err());
    }

    #[test]
    fn ordered_write_keeps_the_changes_before_a_refused_one() {
        let dir = tempfile::tempdir().expect("tempdir");
        let ns = Namespace::new("db", "c").expect("ns");
        let store = RedbStore::open(open_database(dir.path()).expect("db")).expect("open");
        let batch = [doc! {"_id": 1}, doc! {"_id": 2}, doc! {"_id": 1.0}, doc! {"_id": 3}];
        let (ticket, refused) = store.write_ordered_deferred(&ns, &mut |_| batch.iter().cloned().map(Change::Insert).collect()).expect("write");
        assert!(matches!(refused, Some(StoreError::DuplicateKey { .. })), "{refused:?}");
        store.wait_durable(ticket.expect("ticket")).expect("durable");
        assert_eq!(all(&store, &ns), vec![doc! {"_id": 1}, doc! {"_id": 2}]);
        let (ticket, refused) = store.write_ordered_deferred(&ns, &mut |_| vec![Change::Insert(doc! {"_id": 2})]).expect("write");
        assert!(ticket.is_none() && refused.is_some());
        let all_or_nothing = store.write(&ns, &mut |_| batch.iter().skip(3).chain(&batch[..1]).cloned().map(Change::Insert).collect());
        assert!(all_or_nothing.is_err());
        drop(store);
        let store = RedbStore::open(open_database(dir.path()).expect("db")).expect("reopen");
        assert_eq!(all(&store, &ns), vec![doc! {"_id": 1}, doc! {"_id": 2}]);
    }

    /// A real redb database on a disk that can be made to fail (full) or to stall at `sync`.
    #[derive(Debug, Default)]
    struct FaultyDisk {
        data: redb::backends::InMemoryBackend,
        fail: std::sync::atomic::AtomicBool,
        stalled: Mutex<bool>,
        resume: Condvar,
    }

    impl FaultyDisk {
        fn stall(&self, on: bool) {
            *self.stalled.lock().expect("lock") = on;
            self.resume.notify_all();
        }
        fn check(&self) -> std::io::Result<()> {
            if self.fail.load(Ordering::SeqCst) {
                return Err(std::io::Error::other("no space left on device (injected)"));
            }
            Ok(())
        }
    }

    #[derive(Debug)]
    struct Disk(Arc<FaultyDisk>);

    impl redb::StorageBackend for Disk {
        fn len(&self) -> std::io::Result<u64> {
            self.0.data.len()
        }
        fn read(&self, offset: u64, out: &mut [u8]) -> std::io::Result<()> {
            self.0.data.read(offset, out)
        }
        fn set_len(&self, len: u64) -> std::io::Result<()> {
            self.0.check()?;
            self.0.data.set_len(len)
        }
        fn sync_data(&self) -> std::io::Result<()> {
            let mut stalled = self.0.stalled.lock().map_err(|_| std::io::Error::other("poisoned"))?;
            while *stalled {
                stalled = self.0.resume.wait(stalled).map_err(|_| std::io::Error::other("poisoned"))?;
            }
            drop(stalled);
            self.0.check()?;
            self.0.data.sync_data()
        }
        fn write(&self, offset: u64, data: &[u8]) -> std::io::Result<()> {
            self.0.check()?;
            self.0.data.write(offset, data)
        }
    }

    fn faulty_store() -> (Arc<FaultyDisk>, RedbStore) {
        let disk = Arc::new(FaultyDisk::default());
        let db = redb::Builder::new().create_with_backend(Disk(disk.clone())).expect("db");
        (disk, RedbStore::open(Arc::new(db)).expect("store"))
    }

    /// `faulty_store` journaling database `db`, and its collection `db.c`.
    fn journaled_faulty_store() -> (Arc<FaultyDisk>, RedbStore, Namespace) {
        let (disk, store) = faulty_store();
        let mut scope = JournalScope::default();
        scope.add(Some("db"), None);
        store.set_journal_scope(scope);
        (disk, store, Namespace::new("db", "c").expect("ns"))
    }

    #[test]
    fn a_read_waits_for_the_durability_of_what_it_saw() {
        let (disk, store) = faulty_store();
        let store = Arc::new(store);
        let ns = Namespace::new("db", "c").expect("ns");
        store.write(&ns, &mut |_| vec![Change::Insert(doc! {"_id": 1})]).expect("first insert");
        assert_eq!(store.read(&ns).expect("read").pending(), None, "everything read is durable");
        disk.stall(true);
        let ticket = store.write_deferred(&ns, &mut |_| vec![Change::Insert(doc! {"_id": 2})]).expect("applied").expect("ticket");
        let snap = store.read(&ns).expect("read");
        let (seen, must_wait) = (snap.view().len(), snap.pending());
        drop(snap);
        assert_eq!((seen, must_wait), (2, Some(ticket)), "a read that saw the pending insert must wait for its commit");
        let other = Namespace::new("db", "quiet").expect("ns");
        assert_eq!(store.read(&other).expect("read").pending(), None, "other collections need not wait");
        disk.stall(false);
        store.wait_durable(ticket).expect("durable");
        assert_eq!(store.read(&ns).expect("read").pending(), None);
    }

    #[test]
    fn a_failed_commit_is_rolled_back_in_memory() {
        let (disk, store) = faulty_store();
        let ns = Namespace::new("db", "c").expect("ns");
        store.write(&ns, &mut |_| vec![Change::Insert(doc! {"_id": 1, "v": 1})]).expect("insert");
        disk.fail.store(true, Ordering::SeqCst);
        let insert = store.write(&ns, &mut |_| vec![Change::Insert(doc! {"_id": 2})]);
        assert!(insert.is_err(), "the commit fails: {insert:?}");
        let update = store.write(&ns, &mut |_| vec![Change::Update(doc! {"_id": 1, "v": 2})]);
        assert!(matches!(update, Err(StoreError::Failed(_))), "writes are refused after a failure: {update:?}");
        let snap = store.read(&ns).expect("read");
        let (docs, ticket): (Vec<Document>, _) = (snap.view().docs().cloned().collect(), snap.pending());
        assert_eq!(docs, vec![doc! {"_id": 1, "v": 1}], "the failed insert is gone from memory");
        assert_eq!(ticket, None, "what is left is durable");
    }

    #[test]
    fn writes_planned_on_a_failed_batch_are_rolled_back_too() {
        let (disk, store) = faulty_store();
        let store = Arc::new(store);
        let ns = Namespace::new("db", "c").expect("ns");
        store.write(&ns, &mut |_| vec![Change::Insert(doc! {"_id": 1, "n": 0})]).expect("insert");
        disk.stall(true);
        let first = store.write_deferred(&ns, &mut |_| vec![Change::Update(doc! {"_id": 1, "n": 1})]).expect("applied").expect("ticket");
        // The committer has taken the first batch (it is stalled at sync); this one waits behind it.
        let mut second = None;
        for n in 2..1000 {
            let t = store.write_deferred(&ns, &mut |_| vec![Change::Update(doc! {"_id": 1, "n": n}), Change::Insert(doc! {"_id": 1000 + n})]).expect("applied").expect("ticket");
            if t > first {
                second = Some(t);
                break;
            }
        }
        let second = second.expect("a later batch");
        disk.fail.store(true, Ordering::SeqCst);
        disk.stall(false);
        assert!(store.wait_durable(first).is_err() && store.wait_durable(second).is_err());
        let docs: Vec<Document> = store.read(&ns).expect("read").view().docs().cloned().collect();
        assert_eq!(docs, vec![doc! {"_id": 1, "n": 0}], "every change after the last durable commit is taken back");
    }

    fn journaled(dir: &std::path::Path) -> RedbStore {
        let store = RedbStore::open(open_database(dir).expect("db")).expect("open");
        let mut scope = JournalScope::default();
        scope.add(Some("db"), Some("c"));
        store.set_journal_scope(scope);
        store
    }

    fn seqs(entries: &[JournalEntry]) -> Vec<u64> {
        entries.iter().map(|e| e.seq).collect()
    }

    #[test]
    fn the_journal_records_committed_changes_in_order_and_survives_reopen() {
        let dir = tempfile::tempdir().expect("tempdir");
        let (ns, other) = (Namespace::new("db", "c").expect("ns"), Namespace::new("db", "other").expect("ns"));
        {
            let store = journaled(dir.path());
            assert_eq!(*store.durable_head().borrow(), 0);
            store.write(&ns, &mut |_| vec![Change::Insert(doc! {"_id": 1, "v": 1}), Change::Insert(doc! {"_id": 2})]).expect("insert");
            store.write(&other, &mut |_| vec![Change::Insert(doc! {"_id": 1})]).expect("not journaled");
            store.write(&ns, &mut |_| vec![Change::Update(doc! {"_id": 1, "v": 2})]).expect("update");
            store.write(&ns, &mut |_| vec![Change::Replace(doc! {"_id": 2, "r": true})]).expect("replace");
            store.write(&ns, &mut |_| vec![Change::Delete(Bson::Int32(1)), Change::Delete(Bson::Int32(99))]).expect("delete");
            assert_eq!(*store.durable_head().borrow(), 5);
            let e = store.entries_after(0, 100).expect("entries");
            assert_eq!(seqs(&e), vec![1, 2, 3, 4, 5], "the delete of a missing document is no change");
            assert_eq!((e[0].before.clone(), e[0].after.clone()), (None, Some(doc! {"_id": 1, "v": 1})));
            assert_eq!((e[2].before.clone(), e[2].after.clone(), e[2].replacement), (Some(doc! {"_id": 1, "v": 1}), Some(doc! {"_id": 1, "v": 2}), false));
            assert!(e[3].replacement);
            assert_eq!((e[4].before.clone(), e[4].after.clone()), (Some(doc! {"_id": 1, "v": 2}), None));
            assert!(e.iter().all(|x| x.ns == ns && x.time_ms > 0));
            assert_eq!(seqs(&store.entries_after(3, 1).expect("entries")), vec![4]);
            let ticket = store.save_cursor("t", Some(b"3".to_vec())).expect("save");
            store.wait_durable(ticket).expect("durable");
            store.trim(2).expect("trim");
            let ticket = store.save_cursor("u", Some(b"x".to_vec())).expect("save");
            store.wait_durable(ticket).expect("durable");
            assert!(matches!(store.entries_after(0, 10), Err(JournalError::Lost { after: 0, oldest: 3 })));
            assert_eq!(seqs(&store.entries_after(2, 10).expect("entries")), vec![3, 4, 5]);
        }
        let store = journaled(dir.path());
        assert_eq!(*store.durable_head().borrow(), 5);
        assert_eq!(store.cursor("t").expect("cursor"), Some(b"3".to_vec()));
        assert_eq!(store.cursor("nope").expect("cursor"), None);
        assert!(matches!(store.entries_after(1, 10), Err(JournalError::Lost { .. })));
        let e = store.entries_after(2, 10).expect("from disk");
        assert_eq!(seqs(&e), vec![3, 4, 5]);
        assert_eq!(e[0].after, Some(doc! {"_id": 1, "v": 2}));
        store.trim(5).expect("trim everything");
        store.write(&ns, &mut |_| vec![Change::Insert(doc! {"_id": 3})]).expect("insert");
        drop(store);
        let store = journaled(dir.path());
        store.write(&ns, &mut |_| vec![Change::Insert(doc! {"_id": 4})]).expect("insert");
        assert_eq!(seqs(&store.entries_after(5, 10).expect("entries")), vec![6, 7], "sequence numbers are never reused, even after a trim emptied the journal");
        let ticket = store.save_cursor("t", None).expect("remove");
        store.wait_durable(ticket).expect("durable");
        assert_eq!(store.cursor("t").expect("cursor"), None);
    }

    #[test]
    fn the_journal_shows_only_durable_entries_and_drops_those_of_a_failed_commit() {
        let (disk, store, ns) = journaled_faulty_store();
        store.write(&ns, &mut |_| vec![Change::Insert(doc! {"_id": 1})]).expect("insert");
        disk.stall(true);
        let ticket = store.write_deferred(&ns, &mut |_| vec![Change::Insert(doc! {"_id": 2})]).expect("applied").expect("ticket");
        assert_eq!(seqs(&store.entries_after(0, 10).expect("entries")), vec![1], "the pending entry is not shown");
        disk.fail.store(true, Ordering::SeqCst);
        disk.stall(false);
        assert!(store.wait_durable(ticket).is_err());
        assert_eq!(seqs(&store.entries_after(0, 10).expect("entries")), vec![1], "the failed entry is never shown");
        assert_eq!(*store.durable_head().borrow(), 1);
        assert!(store.save_cursor("t", None).is_err(), "nothing more is accepted after a failure");
    }

    #[test]
    fn trimmed_entries_are_gone_for_readers_before_the_trim_is_committed() {
        let (disk, store, ns) = journaled_faulty_store();
        store.write(&ns, &mut |_| vec![Change::Insert(doc! {"_id": 1}), Change::Insert(doc! {"_id": 2}), Change::Insert(doc! {"_id": 3})]).expect("insert");
        disk.stall(true);
        store.trim(2).expect("trim");
        let (before, kept) = (store.entries_after(0, 10), store.entries_after(2, 10));
        disk.stall(false);
        assert!(matches!(before, Err(JournalError::Lost { after: 0, oldest: 3 })), "entry 1 is lost at once: {before:?}");
        assert_eq!(seqs(&kept.expect("entries")), vec![3]);
        let ticket = store.save_cursor("t", None).expect("save");
        store.wait_durable(ticket).expect("durable");
        assert!(matches!(store.entries_after(1, 10), Err(JournalError::Lost { after: 1, oldest: 3 })));
    }

    #[test]
    fn namespace_validation() {
        let long = "x".repeat(8 * 1024 * 1024);
        for (db, coll) in [
            ("", "c"), ("a.b", "c"), ("a b", "c"), ("a/b", "c"), ("a\0", "c"), (long.as_str(), "c"), ("a", "$c"), ("a", ""),
            ("a", " "), ("a", "\t"), ("a", ".."), ("a", ".c"), ("a", "c."), ("a", "c..d"), ("a", "system.users"), ("a", "c\0"),
            ("a", long.as_str()), ("a", "c\n"),
        ] {
            let e = Namespace::new(db, coll).expect_err("refused");
            assert!(e.to_string().len() < 400, "the message stays short: {e}");
        }
        for (db, coll) in [("app", "users"), ("app", "a.b"), ("app-1", "Orders_2024"), ("app", "système")] {
            assert!(Namespace::new(db, coll).is_ok(), "{db}.{coll}");
        }
    }

    #[test]
    fn numeric_ids_are_one_key_and_concurrent_writers_all_commit() {
        let dir = tempfile::tempdir().expect("tempdir");
        let ns = Namespace::new("db", "c").expect("ns");
        let store = Arc::new(RedbStore::open(open_database(dir.path()).expect("db")).expect("open"));
        store.write(&ns, &mut |_| vec![Change::Insert(doc! {"_id": 1})]).expect("insert");
        let dup = store.write(&ns, &mut |_| vec![Change::Insert(doc! {"_id": 1.0})]);
        assert!(matches!(dup, Err(StoreError::DuplicateKey { .. })));
        let threads: Vec<_> = (0..8)
            .map(|t| {
                let (store, ns) = (store.clone(), ns.clone());
                std::thread::spawn(move || {
                    for i in 0..25 {
                        store.write(&ns, &mut |_| vec![Change::Insert(doc! {"_id": format!("{t}-{i}")})]).expect("write");
                    }
                })
            })
            .collect();
        threads.into_iter().for_each(|t| t.join().expect("join"));
        drop(store);
        let store = RedbStore::open(open_database(dir.path()).expect("db")).expect("reopen");
        assert_eq!(all(&store, &ns).len(), 201);
    }
}
