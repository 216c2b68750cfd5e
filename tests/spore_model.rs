//! The spore model's contracts: canonical encoding round-trips and refuses non-canonical bytes,
//! the conflict relation matches the documented table, and validation refuses the spores that
//! would make the relation unsound.

use bytes::Bytes;
use num_bigint::BigInt;
use proptest::prelude::*;
use sporedb::spore::codec::decode_spore;
use sporedb::spore::conflict::conflicts;
use sporedb::spore::footprint::Footprint;
use sporedb::spore::validate::{validate, InvalidSpore};
use sporedb::spore::*;

fn key(name: &str) -> Key {
    Key::new(0, Bytes::copy_from_slice(name.as_bytes()))
}

fn v(n: u8) -> KeyVersion {
    KeyVersion {
        order: [n; 32],
        acc: [0; 32],
    }
}

fn spore(prereqs: Vec<KeyPrereq>, ops: Vec<Op>) -> Spore {
    let mut key_prereqs = prereqs;
    key_prereqs.sort_by(|a, b| a.key.cmp(&b.key));
    Spore {
        origin: [1; 32],
        nonce: 0,
        deadline_ms: 1000,
        key_prereqs,
        db_prereqs: vec![],
        ops,
    }
}

fn incr(k: &str, at: u8) -> Spore {
    spore(
        vec![KeyPrereq::order_only(key(k), v(at))],
        vec![Op::IncrBy {
            key: key(k),
            delta: BigInt::from(1),
        }],
    )
}

fn set(k: &str, at: u8) -> Spore {
    spore(
        vec![KeyPrereq::full(key(k), v(at))],
        vec![Op::Set {
            key: key(k),
            value: Bytes::from_static(b"v"),
            cond: SetCond::Always,
            ttl: Ttl::Clear,
            get: false,
        }],
    )
}

fn sadd(k: &str, at: u8, m: &[&str]) -> Spore {
    let members = m
        .iter()
        .map(|s| Bytes::copy_from_slice(s.as_bytes()))
        .collect();
    member_spore(
        at,
        Op::SAdd {
            key: key(k),
            members,
        },
    )
}

/// A set-member spore with the prerequisites an origin gives it (order-only on the key, one
/// member prerequisite per member) at key order `at`.
fn member_spore(at: u8, op: Op) -> Spore {
    let mut s = spore(vec![], vec![op]);
    let (key, access) = sporedb::spore::footprint::merged_accesses(&s).remove(0);
    let view = AtOrder(v(at));
    s.key_prereqs = vec![KeyPrereq::commutative(key, &access, &view)];
    assert_eq!(validate(&s), Ok(()));
    s
}

/// Every key at one version, every member never touched.
struct AtOrder(KeyVersion);
impl VersionView for AtOrder {
    fn key_version(&self, _: &Key) -> KeyVersion {
        self.0
    }
    fn db_state(&self, _: u8) -> DbState {
        DbState::default()
    }
    fn member_version_at(&self, key: &Key, member: &[u8], order: &[u8; 32]) -> KeyVersion {
        KeyVersion::member_absent(order, key, member)
    }
}

fn srem(k: &str, at: u8, m: &[&str]) -> Spore {
    let members = m
        .iter()
        .map(|s| Bytes::copy_from_slice(s.as_bytes()))
        .collect();
    // SREM is commutative on the key, and a non-commutative write of each member it removes
    // (docs/VERSIONS.md "Set members").
    member_spore(
        at,
        Op::SRem {
            key: key(k),
            members,
        },
    )
}

fn c(a: &Spore, b: &Spore) -> bool {
    let (fa, fb) = (Footprint::of(a), Footprint::of(b));
    let r = conflicts(&fa, &fb);
    assert_eq!(
        r,
        conflicts(&fb, &fa),
        "conflict relation must be symmetric"
    );
    r
}

#[test]
fn counters_commute_sets_commute_per_member() {
    assert!(!c(&incr("x", 1), &incr("x", 1)));
    assert!(!c(&sadd("s", 1, &["a"]), &sadd("s", 1, &["a", "b"])));
    // SADD/SREM of different members commute; a removal conflicts with any write of the same
    // member at the same order version of the key.
    assert!(!c(&sadd("s", 1, &["a"]), &srem("s", 1, &["b"])));
    assert!(!c(&srem("s", 1, &["a"]), &srem("s", 1, &["b"])));
    assert!(c(&sadd("s", 1, &["a"]), &srem("s", 1, &["a"])));
    assert!(c(&srem("s", 1, &["a"]), &srem("s", 1, &["a", "b"])));
    assert!(!c(&sadd("s", 1, &["a"]), &srem("s", 2, &["a"])));
    assert!(c(&incr("x", 1), &sadd("x", 1, &["a"])));
}

#[test]
fn non_commutative_writes_conflict_at_the_same_order_only() {
    assert!(c(&set("x", 1), &set("x", 1)));
    assert!(c(&set("x", 1), &incr("x", 1)));
    // A SET at order 1 and an INCR at order 2 (after the SET) are ordered, not conflicting.
    assert!(!c(&set("x", 1), &incr("x", 2)));
    assert!(!c(&set("x", 1), &set("y", 1)));
}

#[test]
fn a_full_prerequisite_pins_counters() {
    // WATCH x; INCR x inside EXEC: full prerequisite, so it conflicts with a concurrent INCR.
    let watched = spore(
        vec![KeyPrereq::full(key("x"), v(1))],
        vec![Op::IncrBy {
            key: key("x"),
            delta: BigInt::from(1),
        }],
    );
    assert!(c(&watched, &incr("x", 1)));
    // A pure read (WATCH on a key not written) conflicts with writes and, since reads move the
    // order version (docs/VERSIONS.md "Reads"), with other reads at the same version too.
    let read = spore(
        vec![
            KeyPrereq::full(key("x"), v(1)),
            KeyPrereq::full(key("y"), v(1)),
        ],
        vec![set("y", 1).ops[0].clone()],
    );
    assert!(c(&read, &incr("x", 1)));
    assert!(c(
        &read,
        &spore(
            vec![
                KeyPrereq::full(key("x"), v(1)),
                KeyPrereq::full(key("z"), v(1))
            ],
            vec![set("z", 1).ops[0].clone()]
        )
    ));
}

#[test]
fn flush_conflicts_with_everything_in_its_db() {
    let flush = Spore {
        origin: [1; 32],
        nonce: 0,
        deadline_ms: 1,
        key_prereqs: vec![],
        db_prereqs: vec![DbPrereq {
            db: 0,
            version: [0; 32],
        }],
        ops: vec![Op::FlushDb { db: 0 }],
    };
    assert_eq!(validate(&flush), Ok(()));
    assert!(c(&flush, &incr("x", 1)));
    let other_db = spore(
        vec![KeyPrereq::order_only(Key::new(3, "x"), v(1))],
        vec![Op::IncrBy {
            key: Key::new(3, "x"),
            delta: BigInt::from(1),
        }],
    );
    assert!(!c(&flush, &other_db));
}

#[test]
fn validation_refuses_unsound_spores() {
    assert_eq!(validate(&set("x", 1)), Ok(()));
    assert_eq!(validate(&incr("x", 1)), Ok(()));
    let mut s = set("x", 1);
    s.key_prereqs[0].acc = None;
    assert_eq!(
        validate(&s),
        Err(InvalidSpore::OrderOnlyNotCommutative(key("x")))
    );
    let mut s = set("x", 1);
    s.key_prereqs.clear();
    assert_eq!(validate(&s), Err(InvalidSpore::MissingPrereq(key("x"))));
    let s = spore(vec![], vec![]);
    assert_eq!(validate(&s), Err(InvalidSpore::NoOps));
}

#[test]
fn decoding_refuses_non_canonical_bytes() {
    let s = set("x", 1);
    let bytes = s.encode();
    assert_eq!(decode_spore(&Bytes::from(bytes.clone())).unwrap(), s);
    let mut trailing = bytes.clone();
    trailing.push(0);
    assert!(decode_spore(&Bytes::from(trailing)).is_err());
    for cut in 0..bytes.len() {
        assert!(decode_spore(&Bytes::copy_from_slice(&bytes[..cut])).is_err());
    }
    // A huge declared prerequisite count is refused without allocating.
    let mut huge = bytes[..1 + 32 + 16].to_vec();
    huge.extend_from_slice(&u32::MAX.to_be_bytes());
    assert!(decode_spore(&Bytes::from(huge)).is_err());
}

fn arb_bytes() -> impl Strategy<Value = Bytes> {
    prop::collection::vec(any::<u8>(), 0..8).prop_map(Bytes::from)
}

fn arb_key() -> impl Strategy<Value = Key> {
    (0u8..16, arb_bytes()).prop_map(|(db, name)| Key { db, name })
}

fn arb_op() -> impl Strategy<Value = Op> {
    prop_oneof![
        (
            arb_key(),
            arb_bytes(),
            0u8..3,
            any::<Option<u64>>(),
            any::<bool>()
        )
            .prop_map(|(key, value, c, t, get)| Op::Set {
                key,
                value,
                cond: [SetCond::Always, SetCond::Nx, SetCond::Xx][c as usize],
                ttl: t.map(Ttl::At).unwrap_or(Ttl::Keep),
                get
            }),
        arb_key().prop_map(|key| Op::Del { key }),
        (arb_key(), any::<i128>()).prop_map(|(key, d)| Op::IncrBy {
            key,
            delta: BigInt::from(d)
        }),
        (arb_key(), prop::collection::vec(arb_bytes(), 1..4))
            .prop_map(|(key, members)| Op::SAdd { key, members }),
        (
            arb_key(),
            any::<bool>(),
            prop::collection::vec(arb_bytes(), 1..4),
            any::<bool>()
        )
            .prop_map(|(key, l, elems, x)| Op::Push {
                key,
                end: if l { End::Left } else { End::Right },
                elems,
                only_if_exists: x
            }),
        (arb_key(), arb_key(), any::<bool>()).prop_map(|(src, dst, nx)| Op::Rename {
            src,
            dst,
            nx
        }),
        (arb_key(), any::<Option<u64>>()).prop_map(|(key, count)| Op::Pop {
            key,
            end: End::Left,
            count
        }),
        (arb_key(), any::<i64>(), any::<i64>()).prop_map(|(key, start, stop)| Op::LTrim {
            key,
            start,
            stop
        }),
        (arb_key(), prop::collection::vec(arb_key(), 1..3)).prop_map(|(dst, sources)| {
            Op::SetStore {
                dst,
                algebra: SetAlgebra::Diff,
                sources,
            }
        }),
        (0u8..16).prop_map(|db| Op::FlushDb { db }),
        Just(Op::FlushAll),
    ]
}

fn arb_spore() -> impl Strategy<Value = Spore> {
    (
        any::<[u8; 32]>(),
        any::<u64>(),
        any::<u64>(),
        prop::collection::btree_map(
            arb_key(),
            (
                any::<[u8; 32]>(),
                any::<Option<[u8; 32]>>(),
                prop::collection::btree_map(
                    prop::collection::vec(any::<u8>(), 0..4),
                    (any::<[u8; 32]>(), any::<Option<[u8; 32]>>()),
                    0..3,
                ),
            ),
            0..4,
        ),
        prop::collection::vec(arb_op(), 0..5),
    )
        .prop_map(|(origin, nonce, deadline_ms, prereqs, ops)| Spore {
            origin,
            nonce,
            deadline_ms,
            key_prereqs: prereqs
                .into_iter()
                .map(|(key, (order, acc, members))| KeyPrereq {
                    key,
                    order,
                    acc,
                    members: members
                        .into_iter()
                        .map(|(m, (order, acc))| MemberPrereq {
                            member: Bytes::from(m),
                            order,
                            acc,
                        })
                        .collect(),
                })
                .collect(),
            db_prereqs: vec![],
            ops,
        })
}

proptest! {
    /// `SporeId`'s hand-written order (word by word) is its bytes' order: the engine's maps and
    /// every node's commit order rely on it.
    #[test]
    fn spore_ids_order_as_their_bytes(
        a in any::<[u8; 32]>(),
        b in any::<[u8; 32]>(),
        prefix in 0usize..32,
    ) {
        // Shared prefixes of every length, so later words decide too.
        let mut b = b;
        b[..prefix].copy_from_slice(&a[..prefix]);
        prop_assert_eq!(SporeId(a).cmp(&SporeId(b)), a.cmp(&b));
        prop_assert_eq!(SporeId(b).cmp(&SporeId(a)), b.cmp(&a));
        prop_assert_eq!(SporeId(a).cmp(&SporeId(a)), std::cmp::Ordering::Equal);
    }

    #[test]
    fn encoding_round_trips(s in arb_spore()) {
        let bytes = Bytes::from(s.encode());
        let back = decode_spore(&bytes).unwrap();
        prop_assert_eq!(&back, &s);
        prop_assert_eq!(back.id(), s.id());
    }

    #[test]
    fn decoder_never_panics(bytes in prop::collection::vec(any::<u8>(), 0..256)) {
        let _ = decode_spore(&Bytes::from(bytes));
    }

    #[test]
    fn decoder_accepts_only_canonical_bytes(s in arb_spore(), flip in any::<prop::sample::Index>(), bit in 0u8..8) {
        let mut bytes = s.encode();
        let i = flip.index(bytes.len());
        bytes[i] ^= 1 << bit;
        if let Ok(other) = decode_spore(&Bytes::from(bytes.clone())) {
            // Whatever decodes must re-encode to exactly the bytes it came from.
            prop_assert_eq!(other.encode(), bytes);
        }
    }
}
