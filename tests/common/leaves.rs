//! Raw leaf entries for tests that drive a store's state tree directly (`tests/resident_tree.rs`):
//! `keys` table keys and string records, written without spores.

use sporedb::spore::KeyVersion;
use sporedb::store::layout::{encode_record, Payload, RawRecord};

/// A `keys` entry of database `db` (leaf tables are keyed by the db byte first).
pub fn key(db: u8, i: u64) -> Vec<u8> {
    let mut k = vec![db];
    k.extend_from_slice(format!("key:{i}").as_bytes());
    k
}

/// A string record holding `text` (state transfer decodes the records it installs).
pub fn record(text: &str) -> Vec<u8> {
    encode_record(&RawRecord {
        expire_at_ms: 0,
        version: KeyVersion {
            order: [1; 32],
            acc: [2; 32],
        },
        payload: Payload::String(text.as_bytes()),
    })
}

/// The store's current state root.
pub fn root(store: &sporedb::store::Store) -> [u8; 32] {
    store.state_root().unwrap().root
}
