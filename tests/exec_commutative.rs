//! Commutative spores applied in different orders leave byte-identical state: random INCRBYs on
//! a few keys and SADD/SREM of disjoint members, each built against the same base state (so
//! all are pending concurrently and none conflicts), applied in two orders to two stores.
//! Some sets carry a TTL, which an emptying SREM must not lose (see exec/sets.rs).

mod common;

use bytes::Bytes;
use common::*;
use proptest::prelude::*;
use sporedb::exec::{apply_spore, Applied};
use sporedb::spore::conflict::conflicts;
use sporedb::spore::footprint::Footprint;
use sporedb::spore::*;
use sporedb::store::MemStore;

#[derive(Debug, Clone)]
enum C {
    Incr(u8, i64),
    /// key, member, add?
    Member(u8, u8, bool),
}

fn op(c: &C) -> Op {
    match c {
        C::Incr(key, d) => Op::IncrBy {
            key: k(&format!("n{key}")),
            delta: (*d).into(),
        },
        C::Member(key, m, add) => {
            let key = k(&format!("s{key}"));
            let members = vec![Bytes::from(format!("m{m}"))];
            if *add {
                Op::SAdd { key, members }
            } else {
                Op::SRem { key, members }
            }
        }
    }
}

fn arb_spore() -> impl Strategy<Value = Vec<C>> {
    prop::collection::vec(
        prop_oneof![
            (0u8..3, -1000i64..1000).prop_map(|(k, d)| C::Incr(k, d)),
            (0u8..2, 0u8..4, any::<bool>()).prop_map(|(k, m, a)| C::Member(k, m, a)),
        ],
        1..4,
    )
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(128))]
    #[test]
    fn commutative_spores_commute(
        base in prop::collection::vec(arb_spore(), 0..3),
        ttls in prop::collection::vec(0u8..2, 0..3),
        pending in prop::collection::vec(arb_spore(), 2..6),
        seed in any::<u64>(),
    ) {
        let mut a = MemStore::new();
        // Small sets, so that pending SREMs often empty one while a SADD refills it.
        mem_apply(&mut a, vec![op(&C::Member(0, 0, true)), op(&C::Member(1, 1, true))]);
        for ops in &base {
            mem_apply(&mut a, ops.iter().map(op).collect());
        }
        // TTLs on some sets: an SREM that empties a set must not lose the TTL a concurrent
        // SADD would keep.
        for t in ttls {
            let key = k(&format!("s{t}"));
            mem_apply(&mut a, vec![Op::Expire { key, at_ms: 1 << 50, cond: ExpireCond::Always, delete: false }]);
        }
        let mut b = a.clone();
        // Build every pending spore against the same state; keep only mutually
        // non-conflicting ones (a member both added and removed conflicts).
        let mut spores: Vec<Spore> = Vec::new();
        for (i, ops) in pending.iter().enumerate() {
            let s = spore_for(&a.read(), ops.iter().map(op).collect(), 1000 + i as u64);
            prop_assert_eq!(sporedb::spore::validate::validate(&s), Ok(()));
            let f = Footprint::of(&s);
            if spores.iter().all(|t| !conflicts(&f, &Footprint::of(t))) {
                spores.push(s);
            }
        }
        let mut order: Vec<usize> = (0..spores.len()).collect();
        // Deterministic shuffle from the seed.
        let mut x = seed | 1;
        for i in (1..order.len()).rev() {
            x ^= x << 13; x ^= x >> 7; x ^= x << 17;
            order.swap(i, (x % (i as u64 + 1)) as usize);
        }
        for s in &spores {
            let mut w = a.write();
            prop_assert!(s.prereqs_hold(&w));
            prop_assert!(matches!(apply_spore(&mut w, s, &s.id()).unwrap(), Applied::Done(_)));
            w.commit().unwrap();
        }
        for &i in order.iter().rev() {
            let s = &spores[i];
            let mut w = b.write();
            prop_assert!(s.prereqs_hold(&w));
            apply_spore(&mut w, s, &s.id()).unwrap();
            w.commit().unwrap();
        }
        prop_assert_eq!(a.state_digest(), b.state_digest());
    }
}
