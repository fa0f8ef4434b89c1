//! redb-backed `Store`: one table of `ns \0 id-key → seq ‖ BSON bytes`, mirrored in memory,
//! written through a group commit.

use super::{Applied, Change, ChangeObserver, CollectionView, Namespace, Store, StoreError, MAX_DOCUMENT_BYTES};
use bson::{Bson, Document};
use redb::{Database, ReadableDatabase, ReadableTable, TableDefinition};
use std::collections::{BTreeMap, HashMap};
use std::path::Path;
use std::sync::{Arc, Mutex, RwLock};

const DOCS: TableDefinition<&[u8], &[u8]> = TableDefinition::new("documents");

/// Opens (creating if needed) the redb file `realm.redb` in `dir`.
pub fn open_database(dir: &Path) -> Result<Arc<Database>, StoreError> {
    std::fs::create_dir_all(dir).map_err(|e| StoreError::Backend(e.into()))?;
    let db = Database::create(dir.join("realm.redb")).map_err(redb::Error::from)?;
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

/// One collection in memory: documents by `_id` key, and their natural order by sequence number.
#[derive(Default)]
struct Collection {
    docs: HashMap<Vec<u8>, (u64, Document)>,
    order: BTreeMap<u64, Vec<u8>>,
}

impl Collection {
    fn put(&mut self, key: Vec<u8>, seq: u64, doc: Document) {
        if let Some((old, _)) = self.docs.get(&key) {
            self.order.remove(old);
        }
        self.order.insert(seq, key.clone());
        self.docs.insert(key, (seq, doc));
    }

    fn remove(&mut self, key: &[u8]) -> Option<Document> {
        let (seq, doc) = self.docs.remove(key)?;
        self.order.remove(&seq);
        Some(doc)
    }
}

impl CollectionView for Collection {
    fn docs(&self) -> Box<dyn Iterator<Item = &Document> + '_> {
        Box::new(self.order.values().filter_map(|k| self.docs.get(k).map(|(_, d)| d)))
    }
    fn get(&self, id: &Bson) -> Option<&Document> {
        id_key(id).ok().and_then(|k| self.docs.get(&k)).map(|(_, d)| d)
    }
    fn len(&self) -> usize {
        self.docs.len()
    }
}

/// A row waiting for the next group commit: `None` deletes.
type PendingRow = (Vec<u8>, Option<Vec<u8>>);

struct Inner {
    collections: HashMap<String, Collection>,
    next_seq: u64,
    /// Rows applied in memory but not yet committed, in apply order.
    pending: Vec<PendingRow>,
    /// The batch that the rows now in `pending` will be committed in.
    batch: u64,
}

/// Commit progress: every batch up to `durable` is on disk.
struct Durability {
    durable: u64,
    failed: Option<String>,
}

/// The embedded store.
pub struct RedbStore {
    db: Arc<Database>,
    inner: Mutex<Inner>,
    commit: Mutex<Durability>,
    observer: RwLock<Option<Arc<dyn ChangeObserver>>>,
}

impl RedbStore {
    /// Opens the store on a database and loads every collection into memory.
    pub fn open(db: Arc<Database>) -> Result<RedbStore, StoreError> {
        let txn = db.begin_write().map_err(redb::Error::from)?;
        txn.open_table(DOCS).map_err(redb::Error::from)?;
        txn.commit().map_err(redb::Error::from)?;

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
                collections.entry(ns).or_default().put(k[split + 1..].to_vec(), seq, doc);
            }
        }
        Ok(RedbStore {
            db,
            inner: Mutex::new(Inner { collections, next_seq, pending: Vec::new(), batch: 1 }),
            commit: Mutex::new(Durability { durable: 0, failed: None }),
            observer: RwLock::new(None),
        })
    }

    /// Blocks until `batch` is durable: the first waiter commits every pending row in one
    /// transaction for everyone queued behind it (group commit).
    fn wait_durable(&self, batch: u64) -> Result<(), StoreError> {
        let mut d = self.commit.lock().map_err(|_| StoreError::Poisoned)?;
        if let Some(f) = &d.failed {
            return Err(StoreError::Failed(f.clone()));
        }
        if d.durable >= batch {
            return Ok(());
        }
        let (rows, taken) = {
            let mut inner = self.inner.lock().map_err(|_| StoreError::Poisoned)?;
            let taken = inner.batch;
            inner.batch += 1;
            (std::mem::take(&mut inner.pending), taken)
        };
        match self.commit_rows(&rows) {
            Ok(()) => {
                d.durable = taken;
                Ok(())
            }
            Err(e) => {
                d.failed = Some(e.to_string());
                Err(e)
            }
        }
    }

    fn commit_rows(&self, rows: &[PendingRow]) -> Result<(), StoreError> {
        let txn = self.db.begin_write().map_err(redb::Error::from)?;
        {
            let mut table = txn.open_table(DOCS).map_err(redb::Error::from)?;
            for (key, value) in rows {
                match value {
                    Some(v) => {
                        table.insert(key.as_slice(), v.as_slice()).map_err(redb::Error::from)?;
                    }
                    None => {
                        table.remove(key.as_slice()).map_err(redb::Error::from)?;
                    }
                }
            }
        }
        txn.commit().map_err(redb::Error::from)?;
        Ok(())
    }
}

fn encode(seq: u64, doc: &Document) -> Result<Vec<u8>, StoreError> {
    let mut value = seq.to_be_bytes().to_vec();
    doc.to_writer(&mut value).map_err(|e| StoreError::Encoding(e.to_string()))?;
    if value.len() - 8 > MAX_DOCUMENT_BYTES {
        return Err(StoreError::TooLarge { size: value.len() - 8, max: MAX_DOCUMENT_BYTES });
    }
    Ok(value)
}

impl Store for RedbStore {
    fn read(&self, ns: &Namespace, read: &mut dyn FnMut(&dyn CollectionView)) -> Result<(), StoreError> {
        let inner = self.inner.lock().map_err(|_| StoreError::Poisoned)?;
        match inner.collections.get(&ns.to_string()) {
            Some(c) => read(c),
            None => read(&Collection::default()),
        }
        Ok(())
    }

    fn write(
        &self,
        ns: &Namespace,
        plan: &mut dyn FnMut(&dyn CollectionView) -> Vec<Change>,
    ) -> Result<(), StoreError> {
        let name = ns.to_string();
        let batch = {
            let mut guard = self.inner.lock().map_err(|_| StoreError::Poisoned)?;
            let inner = &mut *guard;
            let empty = Collection::default();
            let existing = inner.collections.get(&name).unwrap_or(&empty);
            let changes = plan(existing);
            if changes.is_empty() {
                return Ok(());
            }
            // Resolve and encode every change first: a refused change leaves nothing applied.
            let mut seq = inner.next_seq;
            let mut rows: Vec<(Vec<u8>, Option<(u64, Document)>, Option<Vec<u8>>, bool)> = Vec::with_capacity(changes.len());
            let mut present: HashMap<Vec<u8>, bool> = HashMap::new();
            for change in changes {
                let replacement = matches!(change, Change::Replace(_));
                let exists = |present: &HashMap<Vec<u8>, bool>, key: &Vec<u8>| {
                    present.get(key).copied().unwrap_or_else(|| existing.docs.contains_key(key))
                };
                match change {
                    Change::Insert(doc) => {
                        let id = doc.get("_id").ok_or(StoreError::MissingId)?;
                        let key = id_key(id)?;
                        if exists(&present, &key) {
                            return Err(StoreError::DuplicateKey { ns: name, id: id.to_string() });
                        }
                        let value = encode(seq, &doc)?;
                        present.insert(key.clone(), true);
                        rows.push((key, Some((seq, doc)), Some(value), false));
                        seq += 1;
                    }
                    Change::Replace(doc) | Change::Update(doc) => {
                        let key = id_key(doc.get("_id").ok_or(StoreError::MissingId)?)?;
                        let this_seq = match existing.docs.get(&key) {
                            Some((s, _)) => *s,
                            None => {
                                seq += 1;
                                seq - 1
                            }
                        };
                        let value = encode(this_seq, &doc)?;
                        present.insert(key.clone(), true);
                        rows.push((key, Some((this_seq, doc)), Some(value), replacement));
                    }
                    Change::Delete(id) => {
                        let key = id_key(&id)?;
                        present.insert(key.clone(), false);
                        rows.push((key, None, None, false));
                    }
                }
            }
            inner.next_seq = seq;
            let coll = inner.collections.entry(name.clone()).or_default();
            let mut applied = Vec::with_capacity(rows.len());
            for (key, row, value, replacement) in rows {
                inner.pending.push((row_key(&name, &key), value));
                let before = match row {
                    Some((s, doc)) => {
                        let before = coll.docs.get(&key).map(|(_, d)| d.clone());
                        applied.push(Applied { before: None, after: Some(doc.clone()), replacement });
                        coll.put(key, s, doc);
                        before
                    }
                    None => {
                        applied.push(Applied { before: None, after: None, replacement });
                        coll.remove(&key)
                    }
                };
                if let Some(last) = applied.last_mut() {
                    last.before = before;
                }
            }
            applied.retain(|a| a.before.is_some() || a.after.is_some());
            if let Some(observer) = self.observer.read().map_err(|_| StoreError::Poisoned)?.as_ref() {
                observer.applied(ns, &applied);
            }
            inner.batch
        };
        self.wait_durable(batch)
    }

    fn set_observer(&self, observer: Arc<dyn ChangeObserver>) {
        if let Ok(mut slot) = self.observer.write() {
            *slot = Some(observer);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use bson::doc;

    fn all(store: &RedbStore, ns: &Namespace) -> Vec<Document> {
        let mut out = Vec::new();
        store.read(ns, &mut |c| out = c.docs().cloned().collect()).expect("read");
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
    fn namespace_validation() {
        assert!(Namespace::new("", "c").is_err());
        assert!(Namespace::new("a.b", "c").is_err());
        assert!(Namespace::new("a", "$c").is_err());
        assert!(Namespace::new("app", "users").is_ok());
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
