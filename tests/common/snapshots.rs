//! State-transfer copies for store-level tests: what a peer would serve, read page by page.

use bytes::Bytes;
use sporedb::store::Store;
use sporedb::sync::{read_page, Snapshot, SYNC_TABLES};

/// A copy of `store`'s replicated tables, read page by page as a peer serves them.
pub fn copy_of(store: &Store) -> Snapshot {
    let r = store.read().unwrap();
    let mut snap = Snapshot::default();
    for t in SYNC_TABLES {
        let mut entries: Vec<(Bytes, Bytes)> = Vec::new();
        loop {
            let after = entries.last().map(|(k, _)| k.clone());
            let (page, more) = read_page(&r, t as u8, after.as_deref(), 256)
                .unwrap()
                .unwrap();
            entries.extend(page);
            if !more {
                break;
            }
        }
        snap.tables.insert(t as u8, entries);
    }
    snap
}
