//! The contract between command handlers and the node's write path.
//!
//! A handler that writes does not touch the store: it describes the write as a `WriteRequest`
//! (operations plus the versions WATCH recorded) and hands it to a `WritePath`. The node
//! materialises it into a spore (prerequisites from its current versions, expiry of keys that
//! are already expired made explicit), signs it, runs it through the consensus engine, applies
//! it durably, and resolves the future with one reply per op, produced by the deterministic
//! executor. Handlers then shape those replies (e.g. DEL sums its per-key results).

use std::future::Future;
use std::pin::Pin;

use crate::reply::Reply;
use crate::spore::{Key, KeyVersion, Op};

/// A write as a handler describes it.
#[derive(Debug, Clone, PartialEq)]
pub struct WriteRequest {
    /// Executed in order, atomically, as one spore.
    pub ops: Vec<Op>,
    /// Full-version prerequisites recorded by WATCH: if any no longer holds when the spore is
    /// built or applied, the request fails with `WriteError::WatchFailed` and nothing is applied.
    /// Empty for blind writes, which the node retries on conflict until their deadline.
    pub watched: Vec<(Key, KeyVersion)>,
}

impl WriteRequest {
    /// A blind write (no WATCH).
    pub fn blind(ops: Vec<Op>) -> WriteRequest {
        WriteRequest {
            ops,
            watched: Vec::new(),
        }
    }
}

/// Why a write was not applied.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum WriteError {
    /// A WATCHed key changed: EXEC answers a null array.
    #[error("a watched key changed")]
    WatchFailed,
    /// The spore was dropped (rejected, or not committed by its deadline and retries exhausted).
    #[error("spore {id} dropped: {reason}")]
    Dropped { id: String, reason: String },
    /// This node's local policy refuses to endorse it (its own veto; not retried).
    #[error("vetoed by the local policy: {rule}")]
    Vetoed { rule: String },
    /// The global policy forbids it (size or per-key-pattern operation rules); not retried.
    #[error("refused by the global policy: {why}")]
    Refused { why: String },
    /// The node is shutting down; details are in the server log.
    #[error("write path unavailable")]
    Unavailable,
    /// The write committed, but this node's store failed to record it (`full`: the LMDB map
    /// is full). Other nodes of a cluster may hold it; this one lacks it until state transfer
    /// repairs it.
    #[error("not stored on this node: {why}")]
    NotStored { why: String, full: bool },
}

/// The future a write resolves to: one reply per op, in op order.
pub type WriteFuture = Pin<Box<dyn Future<Output = Result<Vec<Reply>, WriteError>> + Send>>;

/// Where handlers send writes. Implemented by the node (`crate::node`).
pub trait WritePath: Send + Sync {
    fn submit(&self, request: WriteRequest) -> WriteFuture;
}
