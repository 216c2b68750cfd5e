//! The versions a spore leaves behind: the one implementation of the version rules.
//!
//! The executor (which writes versions into the store), the consensus engine (which projects
//! the versions of committed-but-unapplied spores to run its apply gate) and the node (which
//! builds chains of spores before earlier ones are applied) all call `version_effects`, so the
//! three can never disagree. It is a pure function of the spore and the versions before it.
//!
//! Rules (see `docs/VERSIONS.md`): a key written only commutatively under an order-only
//! prerequisite gets `after_commutative`; any other touched key (written, read, or WATCHed)
//! gets `after_write`. A flush of database d by op i erases every key of d that the spore
//! touches only before op i; keys of d written after the flush start from the absent version of
//! the new generation and get `after_write`. A database's sum is kept over recorded keys, and a
//! key is recorded exactly when its version differs from the absent version of its generation.

use std::cell::RefCell;
use std::collections::BTreeMap;

use super::footprint::MergedAccess;
use bytes::Bytes;

use crate::crypto::Digest;

use super::{
    DbScope, DbState, Key, KeyVersion, MemberVersion, Spore, SporeId, VersionView, DATABASES,
};

/// New versions after a spore.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct VersionEffects {
    /// Every key whose version changes, with its new version, sorted by key.
    pub keys: Vec<(Key, KeyVersion)>,
    /// Every database whose state changes, with its new state, sorted by db.
    pub dbs: Vec<(u8, DbState)>,
    /// Databases the spore flushes, sorted (the executor deletes their records first).
    pub flushed: Vec<u8>,
    /// Every set member whose version changes, with its new record, sorted by (key, member).
    pub members: Vec<(Key, Bytes, MemberVersion)>,
    /// Keys whose order moves, sorted: their member records are stale from now on (the
    /// executor deletes them; a projection stops consulting them).
    pub reordered: Vec<Key>,
}

/// Computes the version effects of applying `spore` (with id `id`) on top of `view`.
pub fn version_effects(spore: &Spore, id: &SporeId, view: &dyn VersionView) -> VersionEffects {
    // Index of the last op that flushes each database.
    let mut last_flush: BTreeMap<u8, usize> = BTreeMap::new();
    for (i, op) in spore.ops.iter().enumerate() {
        match op.db_scope() {
            Some(DbScope::One(db)) => {
                last_flush.insert(db, i);
            }
            Some(DbScope::All) => (0..DATABASES).for_each(|db| {
                last_flush.insert(db, i);
            }),
            None => {}
        }
    }

    // Merged access per key, counting only accesses after the last flush of the key's db.
    let mut accesses: BTreeMap<Key, MergedAccess> = BTreeMap::new();
    for (i, op) in spore.ops.iter().enumerate() {
        op.access(&mut |key, access| {
            if last_flush.get(&key.db).is_some_and(|&f| i < f) {
                return;
            }
            let new = MergedAccess::from_access(&access);
            let m = match accesses.remove(key) {
                Some(old) => old.merge(new),
                None => new,
            };
            accesses.insert(key.clone(), m);
        });
    }

    let mut dbs: BTreeMap<u8, DbState> = BTreeMap::new();
    let flushed: Vec<u8> = last_flush.keys().copied().collect();
    for &db in &flushed {
        dbs.insert(db, view.db_state(db).after_flush(id));
    }

    // Keys the spore only reads (SINTERSTORE sources, WATCHed prerequisites) move too, like a
    // non-commutative write: otherwise a write built after the read was applied could still
    // match the version the read required, be applied first elsewhere, and strand the
    // committed read (docs/VERSIONS.md "Reads move the order version").
    for p in &spore.key_prereqs {
        if !last_flush.contains_key(&p.key.db) {
            accesses.entry(p.key.clone()).or_insert(MergedAccess::Read);
        }
    }

    let mut keys = Vec::new();
    let mut members = Vec::new();
    let mut reordered = Vec::new();
    for (key, access) in accesses {
        if matches!(access, MergedAccess::Read) && last_flush.contains_key(&key.db) {
            continue;
        }
        let was_flushed = last_flush.contains_key(&key.db);
        let db = *dbs.entry(key.db).or_insert_with(|| view.db_state(key.db));
        let old = if was_flushed {
            KeyVersion::absent(&db.generation, &key)
        } else {
            view.key_version(&key)
        };
        let order_only = spore.prereq(&key).is_some_and(|p| p.acc.is_none());
        let new = if !was_flushed && order_only && access.is_commutative() {
            old.after_commutative(id)
        } else {
            reordered.push(key.clone());
            old.after_write(id)
        };
        // Set members added or removed commutatively get their own versions (the key's order
        // is unchanged, so it stamps them): an addition is a commutative write of the member,
        // a removal a non-commutative one (docs/VERSIONS.md "Set members").
        if let MergedAccess::Members { added, removed } = &access {
            if new.order == old.order {
                for m in added.union(removed) {
                    let before = view.member_version_at(&key, m, &old.order);
                    let version = if removed.contains(m) {
                        before.after_write(id)
                    } else {
                        before.after_commutative(id)
                    };
                    members.push((
                        key.clone(),
                        m.clone(),
                        MemberVersion {
                            stamp: new.order,
                            version,
                        },
                    ));
                }
            }
        }
        // An absent key's version has an all-zero accumulator: any other cannot be absent, and
        // the hash that `absent` costs is skipped (a hot counter's version never is).
        let was_absent = old.acc == [0; 32] && old == KeyVersion::absent(&db.generation, &key);
        let old_term = (!was_absent).then(|| old.db_term(&key));
        if let Some(state) = dbs.get_mut(&key.db) {
            state.replace_term(old_term.as_ref(), &new.db_term(&key));
        }
        keys.push((key, new));
    }
    VersionEffects {
        keys,
        dbs: dbs
            .into_iter()
            .filter(|(db, s)| *s != view.db_state(*db))
            .collect(),
        flushed,
        members,
        reordered,
    }
}

/// Version effects layered in order: what a run of unapplied spores changes. A `Projection`
/// keeps its own; the consensus engine keeps one for the spores it applied that the store does
/// not reflect yet, and lays it under every step's projection (`over`) instead of layering
/// those spores' effects again at every step.
#[derive(Debug, Clone, Default)]
pub struct Overlay {
    keys: BTreeMap<Key, KeyVersion>,
    dbs: BTreeMap<u8, DbState>,
    /// Projected member records. Base records need no masking: one whose key's order moved in
    /// the overlay has a stale stamp, which `MemberVersion::resolve` ignores.
    members: BTreeMap<(Key, Bytes), MemberVersion>,
}

impl Overlay {
    /// Layers `effects` on top (they must have been computed over this overlay's top).
    pub fn layer(&mut self, effects: &VersionEffects) {
        for db in &effects.flushed {
            // Keys of a flushed database fall back to the absent version of the new generation.
            self.keys.retain(|k, _| k.db != *db);
        }
        self.dbs.extend(effects.dbs.iter().copied());
        self.keys.extend(effects.keys.iter().cloned());
        self.members.extend(
            effects
                .members
                .iter()
                .map(|(k, m, v)| ((k.clone(), m.clone()), *v)),
        );
    }

    /// This overlay over `base`, as a view.
    pub fn over<'a>(&'a self, base: &'a dyn VersionView) -> Layered<'a> {
        Layered {
            overlay: self,
            base,
        }
    }

    /// `key`'s version: the overlay's, else the base's (absent if the overlay flushed its db).
    fn key_version(
        &self,
        key: &Key,
        base_db: impl FnOnce(u8) -> DbState,
        base_key: impl FnOnce(&Key) -> KeyVersion,
    ) -> KeyVersion {
        if let Some(v) = self.keys.get(key) {
            return *v;
        }
        match self.dbs.get(&key.db) {
            // A db flushed in the overlay: keys not rewritten since are absent.
            Some(state) if state.generation != base_db(key.db).generation => {
                KeyVersion::absent(&state.generation, key)
            }
            _ => base_key(key),
        }
    }

    /// A member's projected record, if the overlay has one. A record with a stale stamp means
    /// the key's order moved in the overlay after it: the base record (older still) is stale
    /// too, so the caller must not consult the base.
    fn member(&self, key: &Key, member: &[u8]) -> Option<MemberVersion> {
        // The map is keyed by owned pairs; members are few per spore, so build the probe.
        let probe = (key.clone(), Bytes::copy_from_slice(member));
        self.members.get(&probe).copied()
    }
}

/// An `Overlay` over a base view (`Overlay::over`).
pub struct Layered<'a> {
    overlay: &'a Overlay,
    base: &'a dyn VersionView,
}

impl VersionView for Layered<'_> {
    fn key_version(&self, key: &Key) -> KeyVersion {
        self.overlay.key_version(
            key,
            |db| self.base.db_state(db),
            |k| self.base.key_version(k),
        )
    }

    fn db_state(&self, db: u8) -> DbState {
        self.overlay
            .dbs
            .get(&db)
            .copied()
            .unwrap_or_else(|| self.base.db_state(db))
    }

    fn member_version_at(&self, key: &Key, member: &[u8], key_order: &Digest) -> KeyVersion {
        match self.overlay.member(key, member) {
            Some(v) => MemberVersion::resolve(Some(v), key_order, key, member),
            None => self.base.member_version_at(key, member, key_order),
        }
    }
}

/// A `VersionView` that layers version effects over another view: the projected state after
/// spores that are committed or built but not yet applied to the store.
///
/// The base must be a snapshot (it must not change while the projection lives): what it
/// answers is remembered, because the engine asks for the same keys several times per spore
/// (endorsement checks, apply gate, effects) and each answer is a store lookup, plus a hash
/// for a key never written.
pub struct Projection<'a> {
    base: &'a dyn VersionView,
    own: Overlay,
    base_keys: RefCell<BTreeMap<Key, KeyVersion>>,
    base_dbs: RefCell<BTreeMap<u8, DbState>>,
    /// Base member versions asked for, by (key, member, key order): like `base_keys`, each is
    /// a store lookup (two for a member never removed) plus a hash.
    base_members: RefCell<BTreeMap<(Key, Bytes, Digest), KeyVersion>>,
}

impl<'a> Projection<'a> {
    pub fn new(base: &'a dyn VersionView) -> Projection<'a> {
        Projection {
            base,
            own: Overlay::default(),
            base_keys: RefCell::new(BTreeMap::new()),
            base_dbs: RefCell::new(BTreeMap::new()),
            base_members: RefCell::new(BTreeMap::new()),
        }
    }

    fn base_key_version(&self, key: &Key) -> KeyVersion {
        if let Some(v) = self.base_keys.borrow().get(key) {
            return *v;
        }
        let v = self.base.key_version(key);
        self.base_keys.borrow_mut().insert(key.clone(), v);
        v
    }

    fn base_db_state(&self, db: u8) -> DbState {
        if let Some(s) = self.base_dbs.borrow().get(&db) {
            return *s;
        }
        let s = self.base.db_state(db);
        self.base_dbs.borrow_mut().insert(db, s);
        s
    }

    /// Layers the effects of `spore` on top of the current projection.
    pub fn push(&mut self, spore: &Spore, id: &SporeId) {
        self.push_kept(spore, id);
    }

    /// Like `push`, and returns the effects (for an `Overlay` that outlives this projection).
    pub fn push_kept(&mut self, spore: &Spore, id: &SporeId) -> VersionEffects {
        let effects = version_effects(spore, id, self);
        self.own.layer(&effects);
        effects
    }
}

impl VersionView for Projection<'_> {
    fn key_version(&self, key: &Key) -> KeyVersion {
        self.own.key_version(
            key,
            |db| self.base_db_state(db),
            |k| self.base_key_version(k),
        )
    }

    fn db_state(&self, db: u8) -> DbState {
        self.own
            .dbs
            .get(&db)
            .copied()
            .unwrap_or_else(|| self.base_db_state(db))
    }

    fn member_version_at(&self, key: &Key, member: &[u8], key_order: &Digest) -> KeyVersion {
        if let Some(v) = self.own.member(key, member) {
            return MemberVersion::resolve(Some(v), key_order, key, member);
        }
        let cached = (key.clone(), Bytes::copy_from_slice(member), *key_order);
        if let Some(v) = self.base_members.borrow().get(&cached) {
            return *v;
        }
        let v = self.base.member_version_at(key, member, key_order);
        self.base_members.borrow_mut().insert(cached, v);
        v
    }
}
