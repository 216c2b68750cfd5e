//! The LMDB backend (heed): the environment, its databases (one per table), and the `KvRead`/`KvWrite`
//! implementations for read and write transactions.
//!
//! heed is pinned to 0.22.1: in 0.23 a `Database<'e, …>` borrows the `Env`, which makes a store
//! that owns both self-referential; the safe ways around it are leaking the `Env` (then a store
//! can never be closed and reopened in one process, which tests and clean shutdown need) or
//! reopening every database in every transaction. 0.22's handle-safety issue (heed#144: handles
//! used with another env or created by an aborted txn) cannot arise here: handles are created
//! once, in a committed txn, by `open`, and never leave this module.
//!
//! Durability: no `NO_SYNC`/`NO_META_SYNC`; every write commit is fsync'd. Read transactions
//! are `WithoutTls` so they may move between threads (tokio tasks).

use std::ops::Bound;
use std::path::Path;

use heed::types::Bytes;
use heed::{Database, Env, EnvOpenOptions, PutFlags, RoTxn, RwTxn, WithoutTls};

use super::error::StoreError;
use super::kv::{KvIter, KvRead, KvWrite, Table};
use crate::root::resident::ResidentTree;
use crate::root::update::{self, Dirty};

pub(crate) type Db = Database<Bytes, Bytes>;

/// The environment and its table handles.
pub(crate) struct Lmdb {
    env: Env<WithoutTls>,
    dbs: [Db; Table::COUNT],
    /// The state tree's nodes (`root::resident`).
    resident: ResidentTree,
}

impl Lmdb {
    /// Opens (creating if needed) the environment in `dir`.
    pub(crate) fn open(dir: &Path, map_size: usize) -> Result<Lmdb, StoreError> {
        std::fs::create_dir_all(dir)?;
        let mut options = EnvOpenOptions::new().read_txn_without_tls();
        options.map_size(map_size).max_dbs(Table::ALL.len() as u32);
        // SAFETY: heed's open is unsafe because LMDB's memory map must not be opened twice in one
        // process and the files must not be modified or truncated by anything else while open.
        // This is the only place sporedb opens an environment; the node opens its store once,
        // heed itself refuses a second open of the same path in this process
        // (`EnvAlreadyOpened`), and the data directory belongs to this process alone.
        #[allow(unsafe_code)]
        let env = unsafe { options.open(dir)? };
        let mut wtxn = env.write_txn()?;
        // Refuse a store of another format before creating anything in it (format 2 is
        // upgraded by `Store::open`).
        let meta = env.create_database::<Bytes, Bytes>(&mut wtxn, Some(Table::Meta.name()))?;
        if let Some(v) = meta.get(&wtxn, super::layout::META_FORMAT)? {
            super::check_format(v)?;
        }
        let mut make = |t: Table| env.create_database::<Bytes, Bytes>(&mut wtxn, Some(t.name()));
        let dbs = [
            make(Table::Keys)?,
            make(Table::Elems)?,
            make(Table::Dbs)?,
            make(Table::Expires)?,
            make(Table::Applied)?,
            make(Table::Meta)?,
            make(Table::Scan)?,
            make(Table::Nodes)?,
            make(Table::Root)?,
            make(Table::Members)?,
        ];
        wtxn.commit()?;
        Ok(Lmdb {
            env,
            dbs,
            resident: ResidentTree::default(),
        })
    }

    pub(crate) fn read(&self) -> Result<ReadTxn<'_>, StoreError> {
        Ok(ReadTxn {
            txn: self.env.read_txn()?,
            dbs: &self.dbs,
            resident: &self.resident,
        })
    }

    /// The write transaction; with `root`, it keeps the state tree current at commit.
    pub(crate) fn write(&self, root: bool) -> Result<WriteTxn<'_>, StoreError> {
        let txn = self.env.write_txn()?;
        // The LMDB write lock is held: no other write transaction can be staging now.
        self.resident.begin();
        Ok(WriteTxn {
            txn,
            dbs: &self.dbs,
            resident: &self.resident,
            dirty: root.then(Dirty::default),
        })
    }

    pub(crate) fn resident(&self) -> &ResidentTree {
        &self.resident
    }

    pub(crate) fn env(&self) -> &Env<WithoutTls> {
        &self.env
    }

    pub(crate) fn db(&self, t: Table) -> Db {
        self.dbs[t as usize]
    }
}

/// A read transaction: an MVCC snapshot of the store. Cheap; hold it only briefly (a long-lived
/// reader keeps old pages from being reused).
pub struct ReadTxn<'s> {
    txn: RoTxn<'s, WithoutTls>,
    dbs: &'s [Db; Table::COUNT],
    resident: &'s ResidentTree,
}

/// A write transaction. Only one exists at a time (others wait). Dropped without `commit`, it
/// aborts and nothing of it is applied.
pub struct WriteTxn<'s> {
    txn: RwTxn<'s>,
    dbs: &'s [Db; Table::COUNT],
    resident: &'s ResidentTree,
    /// What the state tree must take in at commit (`None`: root maintenance is off).
    dirty: Option<Dirty>,
}

impl WriteTxn<'_> {
    /// Updates the state tree with this transaction's changes (if root maintenance is on),
    /// then commits durably (fsync) everything written in this transaction.
    pub fn commit(mut self) -> Result<(), StoreError> {
        if let Some(dirty) = self.dirty.take() {
            update::apply(&mut self, dirty)?;
        }
        self.txn.commit()?;
        // Only now is what the tree staged the committed tree; had the commit failed, the
        // next write transaction would roll it back (`ResidentTree::begin`).
        self.resident.confirm();
        Ok(())
    }

    /// Discards everything written in this transaction.
    pub fn abort(self) {
        self.txn.abort()
    }
}

fn get<'t>(db: &Db, txn: &'t RoTxn<'_>, key: &[u8]) -> Result<Option<&'t [u8]>, StoreError> {
    Ok(db.get(txn, key)?)
}

fn range<'t>(
    db: &Db,
    txn: &'t RoTxn<'_>,
    lo: Bound<&[u8]>,
    hi: Bound<&[u8]>,
    rev: bool,
) -> Result<KvIter<'t>, StoreError> {
    let bounds = (lo, hi);
    if rev {
        Ok(Box::new(
            db.rev_range(txn, &bounds)?
                .map(|r| r.map_err(StoreError::from)),
        ))
    } else {
        Ok(Box::new(
            db.range(txn, &bounds)?.map(|r| r.map_err(StoreError::from)),
        ))
    }
}

impl KvRead for ReadTxn<'_> {
    fn get(&self, table: Table, key: &[u8]) -> Result<Option<&[u8]>, StoreError> {
        get(&self.dbs[table as usize], &self.txn, key)
    }

    fn resident_tree(&self) -> Option<&ResidentTree> {
        Some(self.resident)
    }

    fn range<'a>(
        &'a self,
        table: Table,
        lo: Bound<&[u8]>,
        hi: Bound<&[u8]>,
        rev: bool,
    ) -> Result<KvIter<'a>, StoreError> {
        range(&self.dbs[table as usize], &self.txn, lo, hi, rev)
    }
}

impl KvRead for WriteTxn<'_> {
    fn get(&self, table: Table, key: &[u8]) -> Result<Option<&[u8]>, StoreError> {
        get(&self.dbs[table as usize], &self.txn, key)
    }

    fn resident_tree(&self) -> Option<&ResidentTree> {
        Some(self.resident)
    }

    fn entry_count(&self, table: Table) -> Result<Option<u64>, StoreError> {
        Ok(Some(self.dbs[table as usize].len(&self.txn)?))
    }

    fn range<'a>(
        &'a self,
        table: Table,
        lo: Bound<&[u8]>,
        hi: Bound<&[u8]>,
        rev: bool,
    ) -> Result<KvIter<'a>, StoreError> {
        range(&self.dbs[table as usize], &self.txn, lo, hi, rev)
    }
}

impl KvWrite for WriteTxn<'_> {
    fn put(&mut self, table: Table, key: &[u8], value: &[u8]) -> Result<(), StoreError> {
        if self.dirty.is_some() {
            let fresh = table == Table::Applied && self.get(table, key)?.is_none();
            if let Some(d) = &mut self.dirty {
                d.note(table, key, fresh);
            }
        }
        Ok(self.dbs[table as usize].put(&mut self.txn, key, value)?)
    }

    fn put_last(&mut self, table: Table, key: &[u8], value: &[u8]) -> Result<(), StoreError> {
        if crate::root::leaf::is_leaf_table(table) || table == Table::Applied {
            // Tables the state tree tracks go through `put`, which notes the change.
            return self.put(table, key, value);
        }
        let db = &self.dbs[table as usize];
        match db.put_with_flags(&mut self.txn, PutFlags::APPEND, key, value) {
            // MDB_APPEND refuses a key that does not sort after the last one.
            Err(heed::Error::Mdb(heed::MdbError::KeyExist)) => {
                Ok(db.put(&mut self.txn, key, value)?)
            }
            other => Ok(other?),
        }
    }

    fn delete(&mut self, table: Table, key: &[u8]) -> Result<bool, StoreError> {
        let existed = self.dbs[table as usize].delete(&mut self.txn, key)?;
        // Deleting a missing entry changes nothing: noting it would hand the tree a removal,
        // which sends the whole commit down jmt's slow (non-batch) path.
        if let (true, Some(d)) = (existed, &mut self.dirty) {
            d.note(table, key, false);
            if table == Table::Applied {
                d.note_applied_removed(key);
            }
        }
        Ok(existed)
    }
}
