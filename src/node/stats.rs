//! Counters the node keeps for INFO's `sporedb` section and CONFIG RESETSTAT.

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};

/// Spore outcomes since start (or the last reset).
#[derive(Debug, Default)]
pub struct SporeStats {
    pub committed: AtomicU64,
    pub dropped: AtomicU64,
    pub pending: AtomicU64,
    pub retried: AtomicU64,
    pub batches: AtomicU64,
    /// Local time since which a committed spore has waited for prerequisites this node does
    /// not have (0 = none): the state-transfer trigger.
    pub stalled_since_ms: AtomicU64,
    /// Spores the engine applied whose commit it has not yet been told of (a level: commit
    /// groups in flight). It returns to 0 once the writer is idle; a value that stays up means
    /// confirmations were lost and the engine's projections count those spores twice.
    pub unconfirmed: AtomicU64,
    /// State transfers completed since start.
    pub syncs: AtomicU64,
    /// Spores the engine applied whose group commit failed (store full, I/O error): this
    /// node's store lacks them.
    pub not_stored: AtomicU64,
    /// A cluster node has not yet compared its state with its peers since it started (set
    /// before the sync task starts, cleared once it is up to date or installed a copy).
    pub startup_sync_pending: AtomicBool,
}

impl SporeStats {
    pub fn add(counter: &AtomicU64, n: u64) {
        counter.fetch_add(n, Ordering::Relaxed);
    }

    pub fn get(counter: &AtomicU64) -> u64 {
        counter.load(Ordering::Relaxed)
    }

    /// Zeroes the cumulative counters (pending is a level, not a count, and is kept).
    pub fn reset(&self) {
        for c in [&self.committed, &self.dropped, &self.retried, &self.batches] {
            c.store(0, Ordering::Relaxed);
        }
    }
}
