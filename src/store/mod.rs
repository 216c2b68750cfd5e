//! The storage layer: LMDB (or memory) tables, the on-disk layout, and the typed read API.
//!
//! Layering: `kv` is the narrow backend interface (six ordered byte tables); `lmdb` and
//! `memory` implement it; `layout` is the frozen encoding of keys and records; `read` is the
//! typed read API (`StoreRead`) that command handlers and the executor (`crate::exec`) use on
//! any transaction; `glob` and `cursor` serve KEYS/SCAN; `digest` hashes the whole state;
//! `overlay` layers uncommitted writes over a snapshot (reads after writes inside MULTI).
//!
//! A `Store` is opened once per process on `<data-dir>/db/`. `read()` gives an MVCC snapshot;
//! `write()` the single write transaction, into which the node applies many spores and then
//! commits once (group commit; the commit is fsync'd, and a client gets its reply only after).
//! Any `StoreError` during a write means: abort the transaction (nothing of it is applied).

pub mod cursor;
pub mod digest;
pub mod error;
pub mod glob;
pub mod kv;
pub mod layout;
pub mod lmdb;
pub mod memory;
pub mod overlay;
pub mod read;

use std::path::{Path, PathBuf};

use crate::crypto::Digest;
use crate::spore::{DbState, Key, KeyVersion, VersionView};

pub use cursor::ScanCursor;
pub use error::{ReadError, StoreError};
pub use kv::{KvRead, KvWrite, Table};
pub use lmdb::{ReadTxn, WriteTxn};
pub use memory::{MemRead, MemStore, MemWrite};
pub use read::{KeyTtl, KeyType, Record, StoreRead, Value};

/// Options for opening a store.
#[derive(Debug, Clone)]
pub struct StoreOptions {
    /// LMDB map size in bytes: address space reserved for the store (the file grows as used).
    pub map_size: u64,
}

impl Default for StoreOptions {
    fn default() -> StoreOptions {
        StoreOptions {
            map_size: if cfg!(target_pointer_width = "64") {
                64 << 30
            } else {
                1 << 30
            },
        }
    }
}

/// Sizes and counts for INFO and logs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoreStats {
    pub map_size: u64,
    /// Bytes of the map in use (last used page × page size).
    pub used_bytes: u64,
    /// Entries per table, in `Table::ALL` order.
    pub entries: [u64; 6],
}

/// The durable store.
pub struct Store {
    lmdb: lmdb::Lmdb,
    dir: PathBuf,
}

impl Store {
    /// Opens (creating if needed) the store of data directory `data_dir` (in `data_dir/db/`).
    pub fn open(data_dir: &Path, options: &StoreOptions) -> Result<Store, StoreError> {
        let dir = data_dir.join("db");
        let map_size = usize::try_from(options.map_size).unwrap_or(usize::MAX);
        let lmdb = lmdb::Lmdb::open(&dir, map_size)?;
        let store = Store { lmdb, dir };
        let mut w = store.write()?;
        init_meta(&mut w)?;
        w.commit()?;
        Ok(store)
    }

    /// The LMDB directory.
    pub fn path(&self) -> &Path {
        &self.dir
    }

    /// A read transaction (MVCC snapshot).
    pub fn read(&self) -> Result<ReadTxn<'_>, StoreError> {
        self.lmdb.read()
    }

    /// The write transaction (blocks while another is open).
    pub fn write(&self) -> Result<WriteTxn<'_>, StoreError> {
        self.lmdb.write()
    }

    /// Map size, usage, and entries per table.
    pub fn stats(&self) -> Result<StoreStats, StoreError> {
        let env = self.lmdb.env();
        let info = env.info();
        let stat = env.stat();
        let rtxn = env.read_txn()?;
        let mut entries = [0u64; 6];
        for t in Table::ALL {
            entries[t as usize] = self.lmdb.db(t).len(&rtxn)?;
        }
        Ok(StoreStats {
            map_size: info.map_size as u64,
            used_bytes: (info.last_page_number as u64 + 1) * stat.page_size as u64,
            entries,
        })
    }

    /// The digest of the whole state (see `digest`).
    pub fn state_digest(&self) -> Result<Digest, StoreError> {
        digest::state_digest(&self.read()?)
    }
}

impl MemStore {
    /// The digest of the whole state (see `digest`); equal to an LMDB store's after the same
    /// spores.
    pub fn state_digest(&self) -> Digest {
        // The in-memory backend cannot fail.
        digest::state_digest(&self.read()).unwrap_or([0; 32])
    }
}

/// Writes the format version into a fresh store, or checks an existing one.
fn init_meta<T: KvWrite + ?Sized>(w: &mut T) -> Result<(), StoreError> {
    match w.get(Table::Meta, layout::META_FORMAT)? {
        None => w.put(
            Table::Meta,
            layout::META_FORMAT,
            &layout::FORMAT_VERSION.to_be_bytes(),
        ),
        Some(v) => {
            let arr: [u8; 4] = v
                .try_into()
                .map_err(|_| StoreError::Corrupt("bad format version"))?;
            let version = u32::from_be_bytes(arr);
            if version == layout::FORMAT_VERSION {
                Ok(())
            } else {
                Err(StoreError::Format(version))
            }
        }
    }
}

/// Version read for the consensus engine. `VersionView` cannot fail, so a store failure here
/// is logged and answered with a version no prerequisite can match (the spore waits; the node
/// sees the same failure on its next store access).
const POISONED: KeyVersion = KeyVersion {
    order: [0xff; 32],
    acc: [0xff; 32],
};

macro_rules! version_view {
    ($t:ty) => {
        impl VersionView for $t {
            fn key_version(&self, key: &Key) -> KeyVersion {
                self.key_version_checked(key).unwrap_or_else(|e| {
                    tracing::error!(error = %e, "store failure reading a key version");
                    POISONED
                })
            }

            fn db_state(&self, db: u8) -> DbState {
                self.db_state_checked(db).unwrap_or_else(|e| {
                    tracing::error!(error = %e, "store failure reading a db state");
                    DbState {
                        generation: [0xff; 32],
                        sum: [0xff; 32],
                    }
                })
            }
        }
    };
}

version_view!(ReadTxn<'_>);
version_view!(WriteTxn<'_>);
version_view!(MemRead<'_>);
version_view!(MemWrite<'_>);
