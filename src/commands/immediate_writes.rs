//! **Test scaffolding, not a node's write path.** `ImmediateWrites` applies each `WriteRequest`
//! at once to this process's store with the real executor: no consensus, no signatures, no
//! other replica, no durability beyond the local commit. It exists so the command layer and the
//! front end can be tested end to end (unit tests, `tests/commands_e2e.rs`) before and apart
//! from the node driver, which is the real `WritePath` (`crate::node`).
//!
//! It does what the node does around the executor, in miniature: the spore is built by the
//! node's own materialiser (`crate::node::materialize`: prerequisites from the store's
//! versions, explicit deletes of keys already expired at the clock, WATCH checked), gated on
//! its prerequisites, applied with `exec::apply_spore` in one write transaction, committed, and
//! the client's ops' replies returned. Every request is also recorded for inspection.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

use crate::exec::{apply_spore, Applied};
use crate::node::materialize::{materialize, KeyFacts, Origin};
use crate::reply::Reply;
use crate::spore::Key;
use crate::store::read::is_expired;
use crate::store::{Store, StoreRead};
use crate::write::{WriteError, WriteFuture, WritePath, WriteRequest};

use super::ctx::Clock;

/// Applies writes immediately (test scaffolding; see the module doc).
pub struct ImmediateWrites {
    store: Arc<Store>,
    clock: Clock,
    nonce: AtomicU64,
    /// Every request submitted, in order.
    pub requests: Mutex<Vec<WriteRequest>>,
}

impl ImmediateWrites {
    pub fn new(store: Arc<Store>, clock: Clock) -> ImmediateWrites {
        ImmediateWrites {
            store,
            clock,
            nonce: AtomicU64::new(1),
            requests: Mutex::new(Vec::new()),
        }
    }

    fn apply(&self, request: &WriteRequest) -> Result<Vec<Reply>, WriteError> {
        let unavailable = |e: crate::store::StoreError| {
            tracing::error!(error = %e, "test write path: store failure");
            WriteError::Unavailable
        };
        let now = (self.clock)();
        let mut txn = self.store.write().map_err(unavailable)?;
        let facts = |key: &Key| match txn.raw_record(key) {
            Ok(Some(r)) if r.is_live() => KeyFacts {
                expired: is_expired(r.expire_at_ms, now),
            },
            _ => KeyFacts::default(),
        };
        let origin = Origin {
            id: [0; 32],
            nonce: self.nonce.fetch_add(1, Ordering::Relaxed),
            deadline_ms: u64::MAX,
        };
        let built =
            materialize(request, &txn, &facts, origin).map_err(|_| WriteError::WatchFailed)?;
        if !built.spore.prereqs_hold(&txn) {
            return Err(WriteError::WatchFailed);
        }
        let id = built.spore.id();
        match apply_spore(&mut txn, &built.spore, &id).map_err(unavailable)? {
            Applied::Done(replies) => {
                txn.commit().map_err(unavailable)?;
                Ok(built
                    .client_ops
                    .iter()
                    .map(|i| replies.get(*i).cloned().unwrap_or(Reply::Nil))
                    .collect())
            }
            Applied::AlreadyApplied => Err(WriteError::Unavailable),
        }
    }
}

impl WritePath for ImmediateWrites {
    fn submit(&self, request: WriteRequest) -> WriteFuture {
        let result = self.apply(&request);
        self.requests
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .push(request);
        Box::pin(async move { result })
    }
}
