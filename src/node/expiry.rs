//! Active expiry: the node deletes keys whose TTL has passed, through ordinary spores.
//!
//! Execution never reads a clock, so expiry cannot happen "inside" the store: every replica
//! must delete the same key at the same point of the spore order. The scan finds expired keys
//! in the store's expiry index and submits `DEL key` pinned (like WATCH) to the version it saw,
//! so a key rewritten in the meantime (a new value, a new TTL) is left alone: the pinned delete
//! fails harmlessly instead of deleting the new value.

use std::collections::BTreeSet;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use tokio_util::sync::CancellationToken;

use crate::spore::{Key, Op, VersionView};
use crate::store::{Store, StoreRead};
use crate::write::{WritePath, WriteRequest};

use super::clock;

/// How often the expiry index is scanned.
const PERIOD: Duration = Duration::from_millis(100);
/// Most deletions submitted per scan (Redis's active expiry is similarly bounded per cycle).
const PER_SCAN: usize = 256;

/// Runs until `shutdown` is cancelled.
pub async fn run(store: Arc<Store>, writes: Arc<dyn WritePath>, shutdown: CancellationToken) {
    let in_flight: Arc<Mutex<BTreeSet<Key>>> = Arc::default();
    let mut ticker = tokio::time::interval(PERIOD);
    ticker.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tokio::select! {
            _ = shutdown.cancelled() => return,
            _ = ticker.tick() => {}
        }
        let due = match due_keys(&store, &in_flight) {
            Ok(due) => due,
            Err(e) => {
                tracing::error!("expiry scan failed: {e}");
                continue;
            }
        };
        for (key, version) in due {
            let request = WriteRequest {
                ops: vec![Op::Del { key: key.clone() }],
                watched: vec![(key.clone(), version)],
            };
            let fut = writes.submit(request);
            let in_flight = in_flight.clone();
            tokio::spawn(async move {
                // A failed pinned delete means the key changed: nothing to do.
                let _ = fut.await;
                if let Ok(mut set) = in_flight.lock() {
                    set.remove(&key);
                }
            });
        }
    }
}

/// Expired keys not already being deleted, with the version each was seen at.
fn due_keys(
    store: &Store,
    in_flight: &Mutex<BTreeSet<Key>>,
) -> Result<Vec<(Key, crate::spore::KeyVersion)>, crate::store::StoreError> {
    let read = store.read()?;
    let keys = read.expired_keys(clock::now_ms(), PER_SCAN)?;
    // A poisoned lock only means a deletion task panicked; the set itself is still valid.
    let mut set = in_flight.lock().unwrap_or_else(|e| e.into_inner());
    Ok(keys
        .into_iter()
        .filter(|k| set.insert(k.clone()))
        .map(|k| {
            let v = read.key_version(&k);
            (k, v)
        })
        .collect())
}
