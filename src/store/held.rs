//! A write transaction that owns a handle to its store, so it can outlive the call that began
//! it: the driver applies a commit group, starts its tree version on the tree worker
//! (`WriteTxn::start_root`), and commits only later, after it has done other work (its next
//! engine step) meanwhile. A `WriteTxn` borrows its store; holding it in the driver beside the
//! store's `Arc` is a self-referential struct, which `self_cell` builds soundly.
//!
//! LMDB allows this: a write transaction stays on the thread that began it (the driver's),
//! and the read transactions that thread opens meanwhile are `MDB_NOTLS` ones, which may
//! coexist with it. Until the commit, every other writer waits (as it would during any write).

use std::sync::Arc;

use super::error::StoreError;
use super::lmdb::{ReadTxn, WriteTxn};
use super::Store;

type Slot<'a> = Option<WriteTxn<'a>>;

self_cell::self_cell!(
    struct Cell {
        owner: Arc<Store>,
        #[not_covariant]
        dependent: Slot,
    }
);

/// An open write transaction of a store it keeps alive. Dropped without `commit`, it aborts.
pub struct HeldWrite(Cell);

impl HeldWrite {
    /// Begins a write transaction on `store` (waits while another is open).
    pub fn begin(store: Arc<Store>) -> Result<HeldWrite, StoreError> {
        Cell::try_new(store, |s| s.write().map(Some)).map(HeldWrite)
    }

    /// Runs `f` on the transaction.
    pub fn with<R>(
        &mut self,
        f: impl FnOnce(&mut WriteTxn<'_>) -> Result<R, StoreError>,
    ) -> Result<R, StoreError> {
        self.0.with_dependent_mut(|_, slot| match slot {
            Some(txn) => f(txn),
            None => Err(committed()),
        })
    }

    /// See `WriteTxn::root_ready`.
    pub fn root_ready(&mut self) -> bool {
        self.0
            .with_dependent_mut(|_, slot| slot.as_mut().is_none_or(|t| t.root_ready()))
    }

    /// Commits (see `WriteTxn::commit`).
    pub fn commit(mut self) -> Result<(), StoreError> {
        self.0
            .with_dependent_mut(|_, slot| slot.take().ok_or_else(committed)?.commit())
    }
}

fn committed() -> StoreError {
    StoreError::Misuse("used after its commit")
}

self_cell::self_cell!(
    struct ReadCell {
        owner: Arc<Store>,
        #[covariant]
        dependent: ReadTxn,
    }
);

/// A read snapshot of a store it keeps alive, so it can be handed to another thread and held
/// across loop turns: the node's writer takes one right after each commit, and the driver
/// reads versions from it until it has confirmed that commit's spores to the engine (see
/// `node::writer`). `MDB_NOTLS` read transactions may move between threads.
pub struct HeldRead(ReadCell);

impl HeldRead {
    /// A snapshot of `store` as last committed.
    pub fn begin(store: Arc<Store>) -> Result<HeldRead, StoreError> {
        ReadCell::try_new(store, |s| s.read()).map(HeldRead)
    }

    /// The snapshot.
    pub fn get(&self) -> &ReadTxn<'_> {
        self.0.borrow_dependent()
    }
}
