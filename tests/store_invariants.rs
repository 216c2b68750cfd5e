//! The store's secondary state stays consistent with its records under random spores: after
//! every spore, each key the spore writes holds exactly the version `version_effects` gives it,
//! each database's live count is its number of live records, the `scan` index lists exactly
//! the live records (in h64 order), the expiry index exactly the records with a TTL, and each
//! live set has as many (correctly hashed) members as its cardinality. The executor maintains these incrementally (and writes versions
//! together with records), so this recomputes them from scratch and compares.

mod common;

use std::collections::BTreeSet;
use std::ops::Bound;

use bytes::Bytes;
use common::*;
use proptest::prelude::*;
use sporedb::exec::{apply_spore, Applied};
use sporedb::spore::effects::version_effects;
use sporedb::spore::*;
use sporedb::store::kv::{prefix_range, KvRead, Table};
use sporedb::store::layout;
use sporedb::store::{MemStore, StoreRead};

/// Names from a small universe over two databases, so ops collide often.
fn key(n: u8) -> Key {
    Key::new(n % 2, Bytes::from(format!("k{}", n / 2)))
}

fn member(n: u8) -> Bytes {
    Bytes::from(format!("m{n}"))
}

fn arb_op() -> impl Strategy<Value = Op> {
    let k = || (0u8..8).prop_map(key);
    let ms = || prop::collection::vec((0u8..5).prop_map(member), 1..3);
    prop_oneof![
        (k(), any::<bool>(), 0u8..3).prop_map(|(key, nx, t)| Op::Set {
            key,
            value: Bytes::from_static(b"v"),
            cond: if nx { SetCond::Nx } else { SetCond::Always },
            ttl: [Ttl::Clear, Ttl::Keep, Ttl::At(1000)][t as usize],
            get: false,
        }),
        k().prop_map(|key| Op::Del { key }),
        (k(), any::<bool>()).prop_map(|(key, delete)| Op::Expire {
            key,
            at_ms: 500,
            cond: ExpireCond::Always,
            delete,
        }),
        k().prop_map(|key| Op::Persist { key }),
        (k(), k(), any::<bool>()).prop_map(|(src, dst, nx)| Op::Rename { src, dst, nx }),
        (k(), ms()).prop_map(|(key, members)| Op::SAdd { key, members }),
        (k(), ms()).prop_map(|(key, members)| Op::SRem { key, members }),
        (k(), ms()).prop_map(|(key, members)| Op::SPop { key, members }),
        (k(), k(), (0u8..5).prop_map(member)).prop_map(|(src, dst, member)| Op::SMove {
            src,
            dst,
            member
        }),
        (k(), ms()).prop_map(|(key, elems)| Op::Push {
            key,
            end: End::Left,
            elems,
            only_if_exists: false,
        }),
        k().prop_map(|key| Op::Pop {
            key,
            end: End::Right,
            count: Some(2),
        }),
        (k(), k(), k()).prop_map(|(dst, a, b)| Op::SetStore {
            dst,
            algebra: SetAlgebra::Union,
            sources: vec![a, b],
        }),
        k().prop_map(|key| Op::IncrBy {
            key,
            delta: 1.into()
        }),
        (0u8..2).prop_map(|db| Op::FlushDb { db }),
    ]
}

/// Every stored record as (key, raw record bytes).
fn records(s: &MemStore) -> Vec<(Key, Vec<u8>)> {
    let r = s.read();
    r.range(Table::Keys, Bound::Unbounded, Bound::Unbounded, false)
        .unwrap()
        .map(|e| {
            let (k, v) = e.unwrap();
            (layout::decode_key_key(k).unwrap(), v.to_vec())
        })
        .collect()
}

/// Recomputes the secondary state from the records and compares.
fn check_indexes(s: &MemStore) {
    let r = s.read();
    let mut live = [0u64; 2];
    let mut live_keys = BTreeSet::new();
    let mut timed = BTreeSet::new();
    for (key, bytes) in records(s) {
        let rec = layout::decode_record(&bytes).unwrap();
        if rec.is_live() {
            live[key.db as usize] += 1;
            live_keys.insert(key.clone());
        }
        if let layout::Payload::Set { card } = rec.payload {
            let prefix = layout::elems_prefix(&key);
            let members: Vec<Vec<u8>> = prefix_range(&r, Table::Elems, &prefix)
                .unwrap()
                .map(|e| {
                    let k = e.unwrap().0;
                    let (h, m) = layout::split_hashed(&k[prefix.len()..]).unwrap();
                    assert_eq!(h, layout::h64(m), "member hash");
                    m.to_vec()
                })
                .collect();
            assert_eq!(members.len() as u64, card, "cardinality of {key:?}");
        }
        if rec.expire_at_ms != 0 {
            timed.insert((rec.expire_at_ms, key));
        }
    }
    for db in 0..2u8 {
        assert_eq!(
            r.dbsize(db).unwrap(),
            live[db as usize],
            "live count of db {db}"
        );
    }
    let indexed: BTreeSet<(u64, Key)> = r
        .range(Table::Expires, Bound::Unbounded, Bound::Unbounded, false)
        .unwrap()
        .map(|e| layout::decode_expires_key(e.unwrap().0).unwrap())
        .collect();
    assert_eq!(indexed, timed, "expiry index");
    let scan: BTreeSet<Key> = r
        .range(Table::Scan, Bound::Unbounded, Bound::Unbounded, false)
        .unwrap()
        .map(|e| {
            let k = e.unwrap().0;
            let (h, name) = layout::split_hashed(&k[1..]).unwrap();
            assert_eq!(h, layout::h64(name), "scan entry hash");
            Key::new(k[0], Bytes::copy_from_slice(name))
        })
        .collect();
    assert_eq!(scan, live_keys, "scan index");
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(200))]
    #[test]
    fn versions_and_indexes_follow_the_records(
        spores in prop::collection::vec(prop::collection::vec(arb_op(), 1..5), 1..12),
    ) {
        let mut s = MemStore::new();
        for (nonce, ops) in spores.into_iter().enumerate() {
            let spore = spore_for(&s.read(), ops, nonce as u64);
            let id = spore.id();
            let effects = version_effects(&spore, &id, &s.read());
            let mut w = s.write();
            let Applied::Done(_) = apply_spore(&mut w, &spore, &id).unwrap() else {
                panic!("already applied");
            };
            w.commit().unwrap();
            {
                let r = s.read();
                for (key, version) in &effects.keys {
                    let rec = r.raw_record(key).unwrap().expect("a written key has a record");
                    prop_assert_eq!(rec.version, *version, "version of {:?}", key);
                }
                for (db, state) in &effects.dbs {
                    prop_assert_eq!(r.db_state(*db), *state);
                }
            }
            check_indexes(&s);
        }
    }
}
