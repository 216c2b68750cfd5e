//! The conflict relation: which pairs of spores an honest node may not both endorse while
//! both are pending (the whitepaper's Promise rule), because applying them in different orders
//! could leave replicas in different states.
//!
//! Two spores conflict iff
//! 0. both change the global policy (the reserved policy slot: two changes from one base can
//!    never both be endorsed by one honest node, so with unanimity never both commit), or
//! 1. one flushes a database the other touches (any key of it, or a flush of it), or
//! 2. they touch a common key **at the same order version** and their classes on it do not
//!    commute: Counter/Counter commute; Members/Members commute unless one removes a
//!    member the other adds or removes (a removal moves the member's order version, see
//!    docs/VERSIONS.md "Set members"); everything else (any Write, any Read — reads move the order
//!    version, see docs/VERSIONS.md — Counter
//!    against Members) conflicts.
//!
//! Touching a key at *different* order versions is not a conflict: at most one of the two
//! versions can be current at a time, so the apply gate orders the spores (one is the other's
//! successor) or at most one of them can ever apply. The relation is pure and symmetric and
//! depends only on the two spores; it is what `tests/` and the simulator check for S1.

use super::footprint::{Footprint, KeyClass};

/// Whether two footprints conflict.
pub fn conflicts(a: &Footprint, b: &Footprint) -> bool {
    if a.policy && b.policy {
        return true;
    }
    if a.flushed_dbs.iter().any(|db| b.touches_db(*db))
        || b.flushed_dbs.iter().any(|db| a.touches_db(*db))
    {
        return true;
    }
    // Merge-join over the two sorted key lists.
    let (mut i, mut j) = (0, 0);
    while i < a.keys.len() && j < b.keys.len() {
        let (ta, tb) = (&a.keys[i], &b.keys[j]);
        match ta.key.cmp(&tb.key) {
            std::cmp::Ordering::Less => i += 1,
            std::cmp::Ordering::Greater => j += 1,
            std::cmp::Ordering::Equal => {
                if ta.order == tb.order && !classes_commute(&ta.class, &tb.class) {
                    return true;
                }
                i += 1;
                j += 1;
            }
        }
    }
    false
}

/// Whether two accesses to the same key at the same order version commute.
pub fn classes_commute(a: &KeyClass, b: &KeyClass) -> bool {
    use KeyClass::*;
    match (a, b) {
        (Counter, Counter) => true,
        (
            Members {
                added: a1,
                removed: r1,
            },
            Members {
                added: a2,
                removed: r2,
            },
        ) => a1.is_disjoint(r2) && r1.is_disjoint(a2) && r1.is_disjoint(r2),
        _ => false,
    }
}
