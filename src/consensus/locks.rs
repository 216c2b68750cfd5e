//! The Promise index: which (key, order version) pairs are held by spores this node has
//! endorsed (or committed) and not yet resolved, so a new spore's conflicts are found in
//! O(keys · log) instead of a scan over every pending spore (whitepaper §5.2 Promise rule;
//! PROTOCOL.md §5.2). It answers exactly `spore::conflict::conflicts` against the union of the
//! locked footprints (tested below against the relation itself).

use std::collections::BTreeMap;

use bytes::Bytes;

use crate::crypto::Digest;
use crate::spore::footprint::{Footprint, KeyClass};
use crate::spore::Key;

#[derive(Debug, Clone, Default, PartialEq, Eq)]
struct Counts {
    /// Reads and non-commutative writes (they conflict with everything at this order).
    exclusive: u32,
    counters: u32,
    members: u32,
    added: BTreeMap<Bytes, u32>,
    removed: BTreeMap<Bytes, u32>,
}

impl Counts {
    fn is_empty(&self) -> bool {
        self.exclusive == 0 && self.counters == 0 && self.members == 0
    }
}

/// Locked footprints, aggregated per (key, order) and per database.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Locks {
    keys: BTreeMap<(Key, Digest), Counts>,
    /// Per db: locked footprints touching a key of it.
    db_touch: BTreeMap<u8, u32>,
    /// Per db: locked footprints flushing it.
    db_flush: BTreeMap<u8, u32>,
    /// Locked policy changes (they all hold the one policy slot).
    policy: u32,
}

fn touched_dbs(fp: &Footprint) -> Vec<u8> {
    let mut dbs: Vec<u8> = fp.keys.iter().map(|t| t.key.db).collect();
    dbs.dedup();
    dbs
}

fn bump(map: &mut BTreeMap<u8, u32>, db: u8, up: bool) {
    let e = map.entry(db).or_insert(0);
    *e = if up { *e + 1 } else { e.saturating_sub(1) };
    if *e == 0 {
        map.remove(&db);
    }
}

fn bump_member(map: &mut BTreeMap<Bytes, u32>, m: &Bytes, up: bool) {
    let e = map.entry(m.clone()).or_insert(0);
    *e = if up { *e + 1 } else { e.saturating_sub(1) };
    if *e == 0 {
        map.remove(m);
    }
}

impl Locks {
    /// Whether `fp` conflicts with any locked footprint.
    pub fn conflicts(&self, fp: &Footprint) -> bool {
        if fp.policy && self.policy > 0 {
            return true;
        }
        for db in &fp.flushed_dbs {
            if self.db_touch.contains_key(db) || self.db_flush.contains_key(db) {
                return true;
            }
        }
        for db in touched_dbs(fp) {
            if self.db_flush.contains_key(&db) {
                return true;
            }
        }
        fp.keys.iter().any(|t| {
            let Some(c) = self.keys.get(&(t.key.clone(), t.order)) else {
                return false;
            };
            match &t.class {
                KeyClass::Read | KeyClass::Write => !c.is_empty(),
                KeyClass::Counter => c.exclusive > 0 || c.members > 0,
                KeyClass::Members { added, removed } => {
                    c.exclusive > 0
                        || c.counters > 0
                        || added.iter().any(|m| c.removed.contains_key(m))
                        || removed
                            .iter()
                            .any(|m| c.added.contains_key(m) || c.removed.contains_key(m))
                }
            }
        })
    }

    pub fn add(&mut self, fp: &Footprint) {
        self.update(fp, true);
    }

    pub fn remove(&mut self, fp: &Footprint) {
        self.update(fp, false);
    }

    fn update(&mut self, fp: &Footprint, up: bool) {
        if fp.policy {
            self.policy = if up {
                self.policy + 1
            } else {
                self.policy.saturating_sub(1)
            };
        }
        for db in &fp.flushed_dbs {
            bump(&mut self.db_flush, *db, up);
        }
        for db in touched_dbs(fp) {
            bump(&mut self.db_touch, db, up);
        }
        for t in &fp.keys {
            let slot = (t.key.clone(), t.order);
            let c = self.keys.entry(slot.clone()).or_default();
            let step = |n: &mut u32| *n = if up { *n + 1 } else { n.saturating_sub(1) };
            match &t.class {
                KeyClass::Read | KeyClass::Write => step(&mut c.exclusive),
                KeyClass::Counter => step(&mut c.counters),
                KeyClass::Members { added, removed } => {
                    step(&mut c.members);
                    added.iter().for_each(|m| bump_member(&mut c.added, m, up));
                    removed
                        .iter()
                        .for_each(|m| bump_member(&mut c.removed, m, up));
                }
            }
            if c.is_empty() {
                self.keys.remove(&slot);
            }
        }
    }

    /// Whether nothing is locked.
    pub fn is_empty(&self) -> bool {
        self.keys.is_empty()
            && self.db_touch.is_empty()
            && self.db_flush.is_empty()
            && self.policy == 0
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::spore::conflict::conflicts;
    use std::collections::BTreeSet;

    fn fp(seed: u64) -> Footprint {
        // Small deterministic footprints over 2 keys, 2 orders, every class, some flushes.
        let mut x = seed.wrapping_mul(0x9e37_79b9_7f4a_7c15) | 1;
        let mut next = || {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            x
        };
        let mut keys = Vec::new();
        for name in ["a", "b"] {
            let r = next() % 7;
            if r >= 5 {
                continue;
            }
            let m = |i: u64| -> BTreeSet<Bytes> {
                (0..2)
                    .filter(|j| i >> j & 1 == 1)
                    .map(|j| Bytes::from(vec![b'm', j as u8]))
                    .collect()
            };
            let class = match r {
                0 => KeyClass::Read,
                1 => KeyClass::Write,
                2 => KeyClass::Counter,
                _ => KeyClass::Members {
                    added: m(next() % 4),
                    removed: m(next() % 4),
                },
            };
            let db = (next() % 2) as u8;
            keys.push(crate::spore::footprint::KeyTouch {
                key: Key::new(db, name),
                order: [(next() % 2) as u8; 32],
                class,
            });
        }
        keys.sort_by(|a, b| a.key.cmp(&b.key));
        let flushed_dbs = if next() % 9 == 0 {
            vec![(next() % 2) as u8]
        } else {
            vec![]
        };
        // Now and then a policy change (it holds the policy slot and no key).
        let policy = next() % 11 == 0;
        Footprint {
            keys,
            flushed_dbs,
            policy,
        }
    }

    #[test]
    fn promise_index_agrees_with_the_conflict_relation() {
        for round in 0..300u64 {
            let locked: Vec<Footprint> = (0..(round % 4)).map(|i| fp(round * 31 + i)).collect();
            let mut locks = Locks::default();
            locked.iter().for_each(|f| locks.add(f));
            let probe = fp(round * 7 + 1000);
            let expected = locked.iter().any(|f| conflicts(f, &probe));
            assert_eq!(
                locks.conflicts(&probe),
                expected,
                "round {round}: {locked:?} vs {probe:?}"
            );
            locked.iter().for_each(|f| locks.remove(f));
            assert!(locks.is_empty());
        }
    }
}
