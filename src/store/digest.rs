//! `state_digest`: one sha3-256 over every table in key order, so replicas (LMDB or in-memory)
//! can check they hold byte-identical state (the replicated tables: not the state tree's own,
//! whose node versions differ between replicas; its root is compared instead). Framing: domain, then per table its tag, each
//! entry as `0x01 ‖ key len u64 BE ‖ key ‖ value len u64 BE ‖ value`, and `0x00` to close it.

use std::ops::Bound;

use sha3::{Digest as _, Sha3_256};

use crate::crypto::Digest;

use super::error::StoreError;
use super::kv::{KvRead, Table};

const DOMAIN: &[u8] = b"sporedb/v1/state";

/// Hashes one entry with this module's framing (shared with state transfer's digest).
pub fn frame_entry(h: &mut Sha3_256, k: &[u8], v: &[u8]) {
    h.update([1u8]);
    h.update((k.len() as u64).to_be_bytes());
    h.update(k);
    h.update((v.len() as u64).to_be_bytes());
    h.update(v);
}

/// The digest of all tables.
pub fn state_digest<T: KvRead + ?Sized>(kv: &T) -> Result<Digest, StoreError> {
    let mut h = Sha3_256::new();
    h.update(DOMAIN);
    for t in Table::REPLICATED {
        h.update([t as u8]);
        for entry in kv.range(t, Bound::Unbounded, Bound::Unbounded, false)? {
            let (k, v) = entry?;
            frame_entry(&mut h, k, v);
        }
        h.update([0u8]);
    }
    Ok(h.finalize().into())
}
