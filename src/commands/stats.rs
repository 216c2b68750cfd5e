//! Counters behind INFO's stats, commandstats-like totals and errorstats; reset by CONFIG
//! RESETSTAT. Connection counts are the front end's (`crate::server::Clients`).

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicU64, Ordering::Relaxed};
use std::sync::Mutex;

#[derive(Default)]
pub struct Stats {
    pub commands_processed: AtomicU64,
    pub writes_submitted: AtomicU64,
    pub keyspace_hits: AtomicU64,
    pub keyspace_misses: AtomicU64,
    errors: Mutex<BTreeMap<String, u64>>,
}

impl Stats {
    pub fn count_command(&self) {
        self.commands_processed.fetch_add(1, Relaxed);
    }

    /// Counts an error reply under its prefix (INFO errorstats).
    pub fn count_error(&self, prefix: &str) {
        let mut e = self.errors.lock().unwrap_or_else(|p| p.into_inner());
        *e.entry(prefix.to_string()).or_insert(0) += 1;
    }

    /// Error counts by prefix, sorted.
    pub fn errors(&self) -> Vec<(String, u64)> {
        let e = self.errors.lock().unwrap_or_else(|p| p.into_inner());
        e.iter().map(|(k, v)| (k.clone(), *v)).collect()
    }

    pub fn total_errors(&self) -> u64 {
        self.errors().iter().map(|(_, n)| n).sum()
    }

    pub fn reset(&self) {
        for c in [
            &self.commands_processed,
            &self.writes_submitted,
            &self.keyspace_hits,
            &self.keyspace_misses,
        ] {
            c.store(0, Relaxed);
        }
        self.errors
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .clear();
    }
}
