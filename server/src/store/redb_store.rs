//! redb-backed `Store`: one table of `ns \0 id-key → seq ‖ BSON bytes`, mirrored in memory.

use super::{Change, CollectionView, Namespace, Store, StoreError};
use bson::{Bson, Document};
use indexmap::IndexMap;
use redb::{Database, ReadableDatabase, ReadableTable, TableDefinition};
use std::collections::HashMap;
use std::path::Path;
use std::sync::{Arc, Mutex};

/// A pending row: `Some((seq, doc))` to write, `None` to delete.
type Row = Option<(u64, Document)>;

const DOCS: TableDefinition<&[u8], &[u8]> = TableDefinition::new("documents");

/// Opens (creating if needed) the redb file `realm.redb` in `dir`.
pub fn open_database(dir: &Path) -> Result<Arc<Database>, StoreError> {
    std::fs::create_dir_all(dir).map_err(|e| StoreError::Backend(e.into()))?;
    let db = Database::create(dir.join("realm.redb")).map_err(redb::Error::from)?;
    Ok(Arc::new(db))
}

/// Canonical key bytes of an `_id` value.
fn id_key(id: &Bson) -> Result<Vec<u8>, StoreError> {
    let mut d = Document::new();
    d.insert("", id.clone());
    bson::to_vec(&d).map_err(|e| StoreError::Encoding(e.to_string()))
}

fn row_key(ns: &str, id: &[u8]) -> Vec<u8> {
    let mut k = Vec::with_capacity(ns.len() + 1 + id.len());
    k.extend_from_slice(ns.as_bytes());
    k.push(0);
    k.extend_from_slice(id);
    k
}

#[derive(Default)]
struct Collection {
    docs: IndexMap<Vec<u8>, (u64, Document)>,
}

impl CollectionView for Collection {
    fn docs(&self) -> Box<dyn Iterator<Item = &Document> + '_> {
        Box::new(self.docs.values().map(|(_, d)| d))
    }
    fn contains_id(&self, id: &Bson) -> bool {
        id_key(id).map(|k| self.docs.contains_key(&k)).unwrap_or(false)
    }
}

struct Inner {
    collections: HashMap<String, Collection>,
    next_seq: u64,
}

/// The embedded store.
pub struct RedbStore {
    db: Arc<Database>,
    inner: Mutex<Inner>,
}

impl RedbStore {
    /// Opens the store on a database and loads every collection into memory.
    pub fn open(db: Arc<Database>) -> Result<RedbStore, StoreError> {
        let txn = db.begin_write().map_err(redb::Error::from)?;
        txn.open_table(DOCS).map_err(redb::Error::from)?;
        txn.commit().map_err(redb::Error::from)?;

        let mut rows: HashMap<String, Vec<(u64, Vec<u8>, Document)>> = HashMap::new();
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
                rows.entry(ns).or_default().push((seq, k[split + 1..].to_vec(), doc));
            }
        }
        let mut collections = HashMap::new();
        for (ns, mut docs) in rows {
            docs.sort_by_key(|(seq, _, _)| *seq);
            let mut c = Collection::default();
            for (seq, key, doc) in docs {
                c.docs.insert(key, (seq, doc));
            }
            collections.insert(ns, c);
        }
        Ok(RedbStore { db, inner: Mutex::new(Inner { collections, next_seq }) })
    }
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
        let mut inner = self.inner.lock().map_err(|_| StoreError::Poisoned)?;
        let changes = match inner.collections.get(&name) {
            Some(c) => plan(c),
            None => plan(&Collection::default()),
        };
        if changes.is_empty() {
            return Ok(());
        }
        // Resolve every change against the current state first (no partial writes).
        let mut seq = inner.next_seq;
        let mut rows: Vec<(Vec<u8>, Row)> = Vec::with_capacity(changes.len());
        {
            let existing = inner.collections.get(&name);
            let mut pending: HashMap<Vec<u8>, bool> = HashMap::new();
            for change in changes {
                match change {
                    Change::Insert(doc) => {
                        let id = doc.get("_id").ok_or(StoreError::MissingId)?;
                        let key = id_key(id)?;
                        let exists = pending
                            .get(&key)
                            .copied()
                            .unwrap_or_else(|| existing.is_some_and(|c| c.docs.contains_key(&key)));
                        if exists {
                            return Err(StoreError::DuplicateKey { ns: name, id: id.to_string() });
                        }
                        pending.insert(key.clone(), true);
                        rows.push((key, Some((seq, doc))));
                        seq += 1;
                    }
                    Change::Replace(doc) => {
                        let key = id_key(doc.get("_id").ok_or(StoreError::MissingId)?)?;
                        let old_seq = existing.and_then(|c| c.docs.get(&key)).map(|(s, _)| *s);
                        let this_seq = old_seq.unwrap_or_else(|| {
                            seq += 1;
                            seq - 1
                        });
                        pending.insert(key.clone(), true);
                        rows.push((key, Some((this_seq, doc))));
                    }
                    Change::Delete(id) => {
                        let key = id_key(&id)?;
                        pending.insert(key.clone(), false);
                        rows.push((key, None));
                    }
                }
            }
        }
        let txn = self.db.begin_write().map_err(redb::Error::from)?;
        {
            let mut table = txn.open_table(DOCS).map_err(redb::Error::from)?;
            for (key, row) in &rows {
                let rk = row_key(&name, key);
                match row {
                    Some((s, doc)) => {
                        let mut value = s.to_be_bytes().to_vec();
                        doc.to_writer(&mut value).map_err(|e| StoreError::Encoding(e.to_string()))?;
                        table.insert(rk.as_slice(), value.as_slice()).map_err(redb::Error::from)?;
                    }
                    None => {
                        table.remove(rk.as_slice()).map_err(redb::Error::from)?;
                    }
                }
            }
        }
        txn.commit().map_err(redb::Error::from)?;
        // Durable: mirror into memory.
        inner.next_seq = seq;
        let coll = inner.collections.entry(name).or_default();
        for (key, row) in rows {
            match row {
                Some((s, doc)) => {
                    if let Some(slot) = coll.docs.get_mut(&key) {
                        *slot = (s, doc);
                    } else {
                        coll.docs.insert(key, (s, doc));
                    }
                }
                None => {
                    coll.docs.shift_remove(&key);
                }
            }
        }
        Ok(())
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
}
