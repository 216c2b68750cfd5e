//! A read snapshot that owns a handle to its store, so it can outlive the call that opened it
//! and move to another thread: the node's writer thread takes one right after each group
//! commit and hands it to the driver, which reads versions from it until it has confirmed
//! that commit's spores to its engine (`node::writer`). A `ReadTxn` borrows its store; holding
//! it beside the store's `Arc` is a self-referential struct, which `self_cell` builds soundly.
//!
//! LMDB allows this: the environment is opened with `MDB_NOTLS`, so a read transaction is not
//! bound to the thread that began it. A held snapshot keeps the pages it sees from being
//! reused, so it is held only briefly: while a commit is unconfirmed, or while a connection
//! dispatches one batch of pipelined requests (`commands::keyspace_store`); milliseconds.

use std::sync::Arc;

use super::error::StoreError;
use super::lmdb::ReadTxn;
use super::Store;

self_cell::self_cell!(
    struct ReadCell {
        owner: Arc<Store>,
        #[covariant]
        dependent: ReadTxn,
    }
);

/// A read snapshot of a store it keeps alive (see the module doc).
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
