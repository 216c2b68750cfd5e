//! A spore's footprint: for each key it touches, how, and at which version.
//!
//! The footprint is what the conflict relation compares. It merges every op's `Access` per key
//! and combines it with the key's prerequisite: only a key whose prerequisite is order-only can
//! be in a commutative class (a full prerequisite pins the accumulated commutative writes, so
//! any other write at the same order version would invalidate it).

use std::collections::BTreeSet;

use bytes::Bytes;

use crate::crypto::Digest;

use super::{Access, DbScope, Key, Spore, DATABASES};

/// How a spore as a whole touches one key.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum KeyClass {
    /// Only read (WATCH, SINTERSTORE sources): conflicts with any write at the same order.
    Read,
    /// A non-commutative write, or a write under a full prerequisite.
    Write,
    /// Integer increments only.
    Counter,
    /// Set member additions and removals only.
    Members {
        added: BTreeSet<Bytes>,
        removed: BTreeSet<Bytes>,
    },
}

/// One key of a footprint.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KeyTouch {
    pub key: Key,
    /// The order version the spore requires (its prerequisite's `order`).
    pub order: Digest,
    pub class: KeyClass,
}

/// Everything the conflict relation needs to know about a spore.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Footprint {
    /// Sorted by key.
    pub keys: Vec<KeyTouch>,
    /// Databases the spore replaces wholesale (FLUSHDB/FLUSHALL), sorted.
    pub flushed_dbs: Vec<u8>,
    /// The spore changes the global policy: it holds the reserved policy slot, which every
    /// other policy change also holds and no data write does (docs/CLUSTER.md §3.4).
    pub policy: bool,
}

/// The merged access of all ops on one key, before the prerequisite is considered.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum MergedAccess {
    Read,
    Write,
    Counter,
    Members {
        added: BTreeSet<Bytes>,
        removed: BTreeSet<Bytes>,
    },
}

impl MergedAccess {
    /// The merged form of one op's access.
    pub fn from_access(a: &Access<'_>) -> MergedAccess {
        match a {
            Access::Read => MergedAccess::Read,
            Access::Write => MergedAccess::Write,
            Access::Counter => MergedAccess::Counter,
            Access::AddMembers(m) => MergedAccess::Members {
                added: m.iter().cloned().collect(),
                removed: BTreeSet::new(),
            },
            Access::RemoveMembers(m) => MergedAccess::Members {
                added: BTreeSet::new(),
                removed: m.iter().cloned().collect(),
            },
        }
    }

    /// Combines two accesses to one key: same commutative class stays commutative, anything
    /// else is a write.
    pub fn merge(self, other: MergedAccess) -> MergedAccess {
        use MergedAccess::*;
        match (self, other) {
            (Read, Read) => Read,
            (Counter, Counter) => Counter,
            (
                Members {
                    mut added,
                    mut removed,
                },
                Members {
                    added: a2,
                    removed: r2,
                },
            ) => {
                added.extend(a2);
                removed.extend(r2);
                Members { added, removed }
            }
            _ => Write,
        }
    }

    /// Whether an order-only prerequisite is allowed for a key accessed this way.
    pub fn is_commutative(&self) -> bool {
        matches!(self, MergedAccess::Counter | MergedAccess::Members { .. })
    }
}

/// The merged access of every key the spore's ops touch, sorted by key.
pub fn merged_accesses(spore: &Spore) -> Vec<(Key, MergedAccess)> {
    let mut out: std::collections::BTreeMap<Key, MergedAccess> = Default::default();
    for op in &spore.ops {
        op.access(&mut |key, access| {
            let new = MergedAccess::from_access(&access);
            let merged = match out.remove(key) {
                Some(old) => old.merge(new),
                None => new,
            };
            out.insert(key.clone(), merged);
        });
    }
    out.into_iter().collect()
}

/// The databases the spore's ops flush, sorted.
pub fn flushed_dbs(spore: &Spore) -> Vec<u8> {
    let mut dbs = BTreeSet::new();
    for op in &spore.ops {
        match op.db_scope() {
            Some(DbScope::One(db)) => {
                dbs.insert(db);
            }
            Some(DbScope::All) => dbs.extend(0..DATABASES),
            None => {}
        }
    }
    dbs.into_iter().collect()
}

impl Footprint {
    /// The footprint of a spore. Keys with a prerequisite but no op are reads (WATCH).
    /// Assumes the spore passed `validate` (every touched key has a prerequisite); a key
    /// without one is treated as a write at an all-zero order, which conflicts conservatively.
    pub fn of(spore: &Spore) -> Footprint {
        let accesses = merged_accesses(spore);
        let mut keys = Vec::with_capacity(spore.key_prereqs.len());
        let mut ai = accesses.into_iter().peekable();
        for p in &spore.key_prereqs {
            // Ops on keys sorted before this prerequisite have no prerequisite (invalid spore).
            while ai.peek().is_some_and(|(k, _)| k < &p.key) {
                if let Some((k, _)) = ai.next() {
                    keys.push(KeyTouch {
                        key: k,
                        order: [0; 32],
                        class: KeyClass::Write,
                    });
                }
            }
            let access = if ai.peek().is_some_and(|(k, _)| k == &p.key) {
                ai.next().map(|(_, a)| a).unwrap_or(MergedAccess::Read)
            } else {
                MergedAccess::Read
            };
            let class = match (access, p.acc.is_some()) {
                (MergedAccess::Read, _) => KeyClass::Read,
                (MergedAccess::Counter, false) => KeyClass::Counter,
                (MergedAccess::Members { added, removed }, false) => {
                    KeyClass::Members { added, removed }
                }
                _ => KeyClass::Write,
            };
            keys.push(KeyTouch {
                key: p.key.clone(),
                order: p.order,
                class,
            });
        }
        for (k, _) in ai {
            keys.push(KeyTouch {
                key: k,
                order: [0; 32],
                class: KeyClass::Write,
            });
        }
        keys.sort_by(|a, b| a.key.cmp(&b.key));
        Footprint {
            keys,
            flushed_dbs: flushed_dbs(spore),
            policy: spore
                .ops
                .iter()
                .any(|op| matches!(op, super::Op::PolicyChange { .. })),
        }
    }

    /// Whether the footprint touches any key of database `db`.
    pub fn touches_db(&self, db: u8) -> bool {
        self.flushed_dbs.binary_search(&db).is_ok() || self.keys.iter().any(|t| t.key.db == db)
    }
}
