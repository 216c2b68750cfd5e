//! A plain in-memory version store for tests of the version rules and the engine: applies a
//! spore's version effects (`spore::effects::version_effects`) the way the executor does,
//! without any values.

use std::collections::BTreeMap;

use bytes::Bytes;
use sporedb::spore::effects::version_effects;
use sporedb::spore::*;

#[derive(Default, Clone, PartialEq, Debug)]
pub struct Versions {
    pub keys: BTreeMap<Key, KeyVersion>,
    pub dbs: BTreeMap<u8, DbState>,
    pub members: BTreeMap<(Key, Bytes), MemberVersion>,
}

impl VersionView for Versions {
    fn key_version(&self, key: &Key) -> KeyVersion {
        self.keys
            .get(key)
            .copied()
            .unwrap_or_else(|| KeyVersion::absent(&self.db_state(key.db).generation, key))
    }
    fn db_state(&self, db: u8) -> DbState {
        self.dbs.get(&db).copied().unwrap_or_default()
    }
    fn member_version_at(&self, key: &Key, member: &[u8], order: &[u8; 32]) -> KeyVersion {
        let r = self
            .members
            .get(&(key.clone(), Bytes::copy_from_slice(member)))
            .copied();
        MemberVersion::resolve(r, order, key, member)
    }
}

impl Versions {
    /// Applies `s`'s version effects (stale member records are left: they resolve as reset).
    pub fn apply(&mut self, s: &Spore) {
        let e = version_effects(s, &s.id(), self);
        for db in &e.flushed {
            self.keys.retain(|k, _| k.db != *db);
        }
        self.dbs.extend(e.dbs);
        self.keys.extend(e.keys);
        self.members
            .extend(e.members.into_iter().map(|(k, m, v)| ((k, m), v)));
    }
}
