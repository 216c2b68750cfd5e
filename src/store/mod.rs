//! The storage layer: LMDB (or memory) tables, the on-disk layout, and the typed read API.
//!
//! Layering: `kv` is the narrow backend interface (ordered byte tables); `lmdb` and
//! `memory` implement it; `layout` is the frozen encoding of keys and records; `read` is the
//! typed read API (`StoreRead`) that command handlers and the executor (`crate::exec`) use on
//! any transaction; `glob`, `cursor` and `hashed` serve KEYS/SCAN/RANDOMKEY; `digest` hashes
//! the whole state; `overlay` layers uncommitted writes over a snapshot (reads after writes
//! inside MULTI).
//!
//! A `Store` is opened once per process on `<data-dir>/db/`. `read()` gives an MVCC snapshot;
//! `write()` the single write transaction, into which the node applies many spores and then
//! commits once (group commit; the commit is fsync'd, and a client gets its reply only after).
//! Any `StoreError` during a write means: abort the transaction (nothing of it is applied).

pub mod cursor;
pub mod digest;
pub mod error;
pub mod glob;
pub mod hashed;
pub mod held;
pub mod kv;
pub mod layout;
pub mod lmdb;
pub mod memory;
pub mod overlay;
pub mod read;

use std::path::{Path, PathBuf};

use crate::crypto::Digest;
use crate::spore::{DbState, Key, KeyVersion, VersionView};

pub use crate::root::{Integrity, Root, StateRootRead};
pub use cursor::ScanCursor;
pub use error::{ReadError, StoreError};
pub use held::HeldRead;
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

/// How a store keeps its state root (`crate::root`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RootOptions {
    /// Keep the state tree current in every write transaction. Off only to measure what the
    /// root costs: a store written with it off has no root (proofs fail) until it is reopened
    /// with it on, which rebuilds the tree from the data.
    pub maintain: bool,
}

impl Default for RootOptions {
    fn default() -> RootOptions {
        RootOptions { maintain: true }
    }
}

/// Sizes and counts for INFO and logs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoreStats {
    pub map_size: u64,
    /// Bytes of the map in use (last used page × page size).
    pub used_bytes: u64,
    /// Entries per table, in `Table::ALL` order.
    pub entries: [u64; Table::COUNT],
}

/// The durable store.
pub struct Store {
    lmdb: lmdb::Lmdb,
    dir: PathBuf,
    root: RootOptions,
    /// What the last scrub found.
    integrity: std::sync::Mutex<crate::root::Integrity>,
}

impl Store {
    /// Opens (creating if needed) the store of data directory `data_dir` (in `data_dir/db/`),
    /// keeping the state root and scrubbing it at open (`RootOptions::default`).
    pub fn open(data_dir: &Path, options: &StoreOptions) -> Result<Store, StoreError> {
        Store::open_with(data_dir, options, RootOptions::default())
    }

    /// `open` with explicit state-root options.
    pub fn open_with(
        data_dir: &Path,
        options: &StoreOptions,
        root: RootOptions,
    ) -> Result<Store, StoreError> {
        Store::open_inner(data_dir, options, root, true).map(|(store, _)| store)
    }

    /// What an open of `data_dir` would find (`Integrity`), without writing anything to it:
    /// the open's transaction (tree built from the data, compared with the stored root) is
    /// aborted. For `sporedb verify --data-dir`, which may be pointed at the directory of a
    /// node that is running: a committed open would record tree versions that node did not
    /// commit, and its next write would be refused.
    pub fn check_dir(data_dir: &Path, options: &StoreOptions) -> Result<Integrity, StoreError> {
        let (_, verdict) = Store::open_inner(data_dir, options, RootOptions::default(), false)?;
        Ok(verdict)
    }

    fn open_inner(
        data_dir: &Path,
        options: &StoreOptions,
        root: RootOptions,
        persist: bool,
    ) -> Result<(Store, Integrity), StoreError> {
        use crate::root::{nodes::TreeState, Integrity};
        let dir = data_dir.join("db");
        let map_size = usize::try_from(options.map_size).unwrap_or(usize::MAX);
        let lmdb = lmdb::Lmdb::open(&dir, map_size)?;
        let store = Store {
            lmdb,
            dir,
            root,
            integrity: std::sync::Mutex::new(Integrity::Unchecked),
        };
        // Format and tree setup run without dirty tracking: they build the tree themselves.
        let mut w = store.lmdb.write(false)?;
        let format = init_meta(&mut w)?;
        let mut verdict = Integrity::Disabled;
        if root.maintain {
            // Format 5 and earlier stored tree nodes; their nodes and stale lists go (the
            // build below replaces the tree, `root::resident`).
            if w.entry_count(Table::Nodes)?.unwrap_or(0) > 0 {
                kv::clear_table(&mut w, Table::Nodes)?;
            }
            if format != layout::FORMAT_VERSION || TreeState::load(&w)?.is_none() {
                // A fresh store, an older format, or one written with the root off.
                if format != layout::FORMAT_VERSION {
                    tracing::info!(
                        "upgrading store format {format} to {}: building the state tree",
                        layout::FORMAT_VERSION
                    );
                }
                let r = crate::root::update::build(&mut w)?;
                tracing::info!(root = %hex::encode(r), "state tree built");
                // Just computed from the data: nothing to compare with.
                verdict = Integrity::Verified { root: r };
            } else {
                // The tree's nodes live in memory: build them from the data, which also
                // checks the data against the stored root (the scrub).
                verdict = crate::root::integrity::verify_at_open(&mut w)?;
            }
        } else {
            // The tree will go stale: drop it so the next open with the root on rebuilds it
            // instead of reporting the difference as tampering.
            kv::clear_table(&mut w, Table::Root)?;
            kv::clear_table(&mut w, Table::Nodes)?;
        }
        if format != layout::FORMAT_VERSION {
            w.put(
                Table::Meta,
                layout::META_FORMAT,
                &layout::FORMAT_VERSION.to_be_bytes(),
            )?;
        }
        if persist {
            w.commit()?;
        } else {
            w.abort();
        }
        store.set_integrity(verdict);
        Ok((store, verdict))
    }

    /// Recomputes the root from the data of the current snapshot and compares it with the
    /// stored root; remembers and returns the verdict (a mismatch is logged as an error).
    /// Costs a pass over every key: run it at open or in the background.
    pub fn scrub(&self) -> Result<crate::root::Integrity, StoreError> {
        let verdict = crate::root::integrity::scrub(&self.read()?)?;
        self.set_integrity(verdict);
        Ok(verdict)
    }

    /// What the last scrub found.
    pub fn integrity(&self) -> crate::root::Integrity {
        match self.integrity.lock() {
            Ok(g) => *g,
            Err(p) => *p.into_inner(),
        }
    }

    fn set_integrity(&self, v: crate::root::Integrity) {
        match self.integrity.lock() {
            Ok(mut g) => *g = v,
            Err(p) => *p.into_inner() = v,
        }
    }

    /// Replaces the replicated state with a copy from peers (state transfer), in one durable
    /// transaction that commits only if the rebuilt tree and applied set equal `expected`
    /// (`sync::install_verified`). The store is then known to match its root: a store found
    /// tampered is healed by this.
    pub fn install_snapshot(
        &self,
        snapshot: &crate::sync::Snapshot,
        expected: &crate::root::Root,
    ) -> Result<(), crate::sync::InstallError> {
        if !self.root.maintain {
            return Err(StoreError::Tree(
                "state transfer checks copies against roots; this store keeps none".into(),
            )
            .into());
        }
        // Untracked: install_verified rebuilds the whole tree itself (at the next versions,
        // `root::resident`, so readers of older snapshots keep theirs a while).
        let mut w = self.lmdb.write(false)?;
        match crate::sync::install_verified(&mut w, snapshot, expected) {
            Ok(()) => {
                w.commit()?;
                self.set_integrity(crate::root::Integrity::Verified {
                    root: expected.root,
                });
                Ok(())
            }
            Err(e) => {
                w.abort();
                Err(e)
            }
        }
    }

    /// Tree nodes held in memory (`root::resident`), replaced ones not yet dropped included.
    pub fn tree_nodes(&self) -> usize {
        self.lmdb.resident().len()
    }

    /// Whether write transactions keep the state root.
    pub fn root_options(&self) -> RootOptions {
        self.root
    }

    /// The LMDB directory.
    pub fn path(&self) -> &Path {
        &self.dir
    }

    /// A read transaction (MVCC snapshot).
    pub fn read(&self) -> Result<ReadTxn<'_>, StoreError> {
        self.lmdb.read()
    }

    /// The write transaction (blocks while another is open). Its commit also updates the
    /// state root, unless root maintenance is off.
    pub fn write(&self) -> Result<WriteTxn<'_>, StoreError> {
        self.lmdb.write(self.root.maintain)
    }

    /// The id of the last committed write transaction: it changes exactly when the data may
    /// have (caches of whole-store digests key on it).
    pub fn last_txn_id(&self) -> u64 {
        self.lmdb.env().info().last_txn_id as u64
    }

    /// Map size, usage, and entries per table.
    pub fn stats(&self) -> Result<StoreStats, StoreError> {
        let env = self.lmdb.env();
        let info = env.info();
        let stat = env.stat();
        let rtxn = env.read_txn()?;
        let mut entries = [0u64; Table::COUNT];
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

    /// The state root of the current snapshot (`crate::root`).
    pub fn state_root(&self) -> Result<crate::root::Root, StoreError> {
        crate::root::StateRootRead::state_root(&self.read()?)
    }
}

impl MemStore {
    /// The digest of the whole state (see `digest`); equal to an LMDB store's after the same
    /// spores.
    pub fn state_digest(&self) -> Digest {
        // The in-memory backend cannot fail.
        digest::state_digest(&self.read()).unwrap_or([0; 32])
    }

    /// The state root (`crate::root`); equal to an LMDB store's after the same spores.
    pub fn state_root(&self) -> Result<crate::root::Root, StoreError> {
        crate::root::StateRootRead::state_root(&self.read())
    }
}

/// Writes the format version into a fresh store, or checks an existing one; the store's
/// format (this build's, or the upgradable previous one).
fn init_meta<T: KvWrite + ?Sized>(w: &mut T) -> Result<u32, StoreError> {
    match w.get(Table::Meta, layout::META_FORMAT)? {
        None => {
            w.put(
                Table::Meta,
                layout::META_FORMAT,
                &layout::FORMAT_VERSION.to_be_bytes(),
            )?;
            Ok(layout::FORMAT_VERSION)
        }
        Some(v) => check_format(v),
    }
}

/// Checks a stored format version against this build's: this build's or an older one that
/// `Store::open` upgrades (`layout::FORMAT_UPGRADABLE`).
fn check_format(v: &[u8]) -> Result<u32, StoreError> {
    let arr: [u8; 4] = v
        .try_into()
        .map_err(|_| StoreError::Corrupt("bad format version"))?;
    let version = u32::from_be_bytes(arr);
    if version == layout::FORMAT_VERSION || layout::FORMAT_UPGRADABLE.contains(&version) {
        Ok(version)
    } else {
        Err(StoreError::Format(version))
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

            fn member_version_at(
                &self,
                key: &Key,
                member: &[u8],
                key_order: &crate::crypto::Digest,
            ) -> KeyVersion {
                match self.member_record_checked(key, member) {
                    Ok(r) => crate::spore::MemberVersion::resolve(r, key_order, key, member),
                    Err(e) => {
                        tracing::error!(error = %e, "store failure reading a member version");
                        POISONED
                    }
                }
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
