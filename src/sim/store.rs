//! The simulator's replica state: the real in-memory store (`store::MemStore`) driven by the
//! real deterministic executor (`exec::apply_spore`), so S2 compares the same `state_digest`
//! an LMDB replica would report after the same spores.

use crate::crypto::Digest;
use crate::exec::apply_spore;
use crate::spore::{DbState, Key, KeyVersion, Spore, SporeId, VersionView};
use crate::store::memory::MemStore;

/// `Clone` gives an independent copy (what a state transfer would install).
#[derive(Default, Clone)]
pub struct SimStore {
    mem: MemStore,
}

impl std::fmt::Debug for SimStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "SimStore({})", hex::encode(&self.digest()[..8]))
    }
}

impl VersionView for SimStore {
    fn key_version(&self, key: &Key) -> KeyVersion {
        self.mem.read().key_version(key)
    }
    fn db_state(&self, db: u8) -> DbState {
        self.mem.read().db_state(db)
    }
    fn member_version_at(&self, key: &Key, member: &[u8], key_order: &Digest) -> KeyVersion {
        self.mem.read().member_version_at(key, member, key_order)
    }
}

impl SimStore {
    /// Applies a committed spore with the executor, in one write transaction. Returns whether
    /// the store accepted it (an executor error is a bug the checks then report through S2).
    pub fn apply(&mut self, s: &Spore, id: &SporeId) -> bool {
        let mut w = self.mem.write();
        match apply_spore(&mut w, s, id) {
            Ok(_) => w.commit().is_ok(),
            Err(_) => false,
        }
    }

    /// The policy text the last applied policy change recorded (`store::layout::POLICY_KEY`).
    pub fn recorded_policy(&self) -> Option<Vec<u8>> {
        use crate::store::StoreRead as _;
        let r = self.mem.read();
        r.recorded_policy().ok().flatten().map(|p| p.text.to_vec())
    }

    /// The store's state digest (values, versions, database states, applied ids).
    pub fn digest(&self) -> Digest {
        self.mem.state_digest()
    }
}
