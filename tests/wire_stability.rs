//! Golden bytes: the canonical encoding of spores and the op tags are frozen. Spores are signed
//! and gossiped by their bytes, so a change here would split a cluster running mixed versions
//! and invalidate every stored signature. If one of these fails, you changed the wire format:
//! add a new tag or a new format version instead of editing an existing one.

use bytes::Bytes;
use num_bigint::BigInt;
use sporedb::spore::*;

fn golden_spore() -> Spore {
    let k = Key::new(2, Bytes::from_static(b"k"));
    Spore {
        origin: [0xaa; 32],
        nonce: 7,
        deadline_ms: 1_700_000_000_000,
        key_prereqs: vec![KeyPrereq {
            key: k.clone(),
            order: [0x11; 32],
            acc: Some([0x22; 32]),
            members: vec![],
        }],
        db_prereqs: vec![],
        ops: vec![
            Op::Set {
                key: k.clone(),
                value: Bytes::from_static(b"v"),
                cond: SetCond::Nx,
                ttl: Ttl::At(5),
                get: true,
            },
            Op::IncrBy {
                key: k.clone(),
                delta: BigInt::from(-2),
            },
            Op::SAdd {
                key: k,
                members: vec![Bytes::from_static(b"m")],
            },
        ],
    }
}

#[test]
fn spore_encoding_is_frozen() {
    let hex = hex::encode(golden_spore().encode());
    let expected = concat!(
        "01",                                                               // format
        "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa", // origin
        "0000000000000007",                                                 // nonce
        "0000018bcfe56800",                                                 // deadline
        "00000001",
        "02",
        "000000016b",
        "01", // 1 key prereq: db 2, "k", full
        "1111111111111111111111111111111111111111111111111111111111111111",
        "2222222222222222222222222222222222222222222222222222222222222222",
        "00000000", // no db prereqs
        "00000003", // 3 ops
        "01",
        "02000000016b",
        "0000000176",
        "01",
        "02",
        "0000000000000005",
        "01", // SET NX PXAT 5 GET
        "08",
        "02000000016b",
        "00000001fe", // INCRBY -2
        "14",
        "02000000016b",
        "00000001",
        "000000016d", // SADD m
    );
    assert_eq!(hex, expected);
}

/// Member prerequisites (flag bit 1): an SREM of "a" and an SADD of "b" on one key.
#[test]
fn member_prerequisite_encoding_is_frozen() {
    let k = Key::new(0, Bytes::from_static(b"s"));
    let spore = Spore {
        origin: [0xaa; 32],
        nonce: 1,
        deadline_ms: 2,
        key_prereqs: vec![KeyPrereq {
            key: k.clone(),
            order: [0x11; 32],
            acc: None,
            members: vec![
                MemberPrereq {
                    member: Bytes::from_static(b"a"),
                    order: [0x33; 32],
                    acc: Some([0x44; 32]),
                },
                MemberPrereq {
                    member: Bytes::from_static(b"b"),
                    order: [0x55; 32],
                    acc: None,
                },
            ],
        }],
        db_prereqs: vec![],
        ops: vec![
            Op::SRem {
                key: k.clone(),
                members: vec![Bytes::from_static(b"a")],
            },
            Op::SAdd {
                key: k,
                members: vec![Bytes::from_static(b"b")],
            },
        ],
    };
    let expected = concat!(
        "01",
        "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa",
        "0000000000000001",
        "0000000000000002",
        "00000001",
        "000000000173", // key db 0 "s"
        "02",           // order-only, members follow
        "1111111111111111111111111111111111111111111111111111111111111111",
        "00000002", // 2 member prereqs
        "0000000161",
        "01", // "a", full
        "3333333333333333333333333333333333333333333333333333333333333333",
        "4444444444444444444444444444444444444444444444444444444444444444",
        "0000000162",
        "00", // "b", order-only
        "5555555555555555555555555555555555555555555555555555555555555555",
        "00000000", // no db prereqs
        "00000002",
        "15",
        "000000000173",
        "00000001",
        "0000000161", // SREM a
        "14",
        "000000000173",
        "00000001",
        "0000000162", // SADD b
    );
    assert_eq!(hex::encode(spore.encode()), expected);
    assert_eq!(sporedb::spore::validate::validate(&spore), Ok(()));
    let back = sporedb::spore::codec::decode_spore(&Bytes::from(spore.encode())).unwrap();
    assert_eq!(back, spore);
}

#[test]
fn spore_id_is_frozen() {
    assert_eq!(
        golden_spore().id().to_string(),
        hex::encode(sporedb::crypto::sha3(&[&golden_spore().encode()]))
    );
}

#[test]
fn op_tags_are_frozen() {
    let k = Key::new(0, Bytes::new());
    let b = Bytes::new();
    let tags: Vec<u8> = [
        Op::Set {
            key: k.clone(),
            value: b.clone(),
            cond: SetCond::Always,
            ttl: Ttl::Clear,
            get: false,
        },
        Op::Del { key: k.clone() },
        Op::GetDel { key: k.clone() },
        Op::GetEx {
            key: k.clone(),
            ttl: Ttl::Clear,
        },
        Op::MSetNx { pairs: vec![] },
        Op::Append {
            key: k.clone(),
            data: b.clone(),
        },
        Op::SetRange {
            key: k.clone(),
            offset: 0,
            data: b.clone(),
        },
        Op::IncrBy {
            key: k.clone(),
            delta: BigInt::from(0),
        },
        Op::IncrByFloat {
            key: k.clone(),
            delta: b.clone(),
        },
        Op::Expire {
            key: k.clone(),
            at_ms: 0,
            cond: ExpireCond::Always,
            delete: false,
        },
        Op::Persist { key: k.clone() },
        Op::Rename {
            src: k.clone(),
            dst: k.clone(),
            nx: false,
        },
        Op::Push {
            key: k.clone(),
            end: End::Left,
            elems: vec![],
            only_if_exists: false,
        },
        Op::Pop {
            key: k.clone(),
            end: End::Left,
            count: None,
        },
        Op::LSet {
            key: k.clone(),
            index: 0,
            elem: b.clone(),
        },
        Op::LInsert {
            key: k.clone(),
            before: true,
            pivot: b.clone(),
            elem: b.clone(),
        },
        Op::LRem {
            key: k.clone(),
            count: 0,
            elem: b.clone(),
        },
        Op::LTrim {
            key: k.clone(),
            start: 0,
            stop: 0,
        },
        Op::LMove {
            src: k.clone(),
            dst: k.clone(),
            from: End::Left,
            to: End::Right,
        },
        Op::SAdd {
            key: k.clone(),
            members: vec![],
        },
        Op::SRem {
            key: k.clone(),
            members: vec![],
        },
        Op::SPop {
            key: k.clone(),
            members: vec![],
        },
        Op::SMove {
            src: k.clone(),
            dst: k.clone(),
            member: b.clone(),
        },
        Op::SetStore {
            dst: k.clone(),
            algebra: SetAlgebra::Inter,
            sources: vec![],
        },
        Op::FlushDb { db: 0 },
        Op::FlushAll,
        Op::PolicyChange {
            from: [0; 32],
            policy: Bytes::new(),
        },
    ]
    .iter()
    .map(Op::tag)
    .collect();
    assert_eq!(tags, (1..=27).collect::<Vec<u8>>());
}

/// A policy-change spore (docs/CLUSTER.md §3.4): tag 27, the base hash, the policy text.
#[test]
fn policy_change_encoding_is_frozen() {
    let s = Spore {
        origin: [0xaa; 32],
        nonce: 1,
        deadline_ms: 2,
        key_prereqs: vec![],
        db_prereqs: vec![],
        ops: vec![Op::PolicyChange {
            from: [0x33; 32],
            policy: Bytes::from_static(b"quorum = 1"),
        }],
    };
    let expected = concat!(
        "01",                                                               // format
        "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa", // origin
        "0000000000000001",                                                 // nonce
        "0000000000000002",                                                 // deadline
        "00000000",                                                         // no key prereqs
        "00000000",                                                         // no db prereqs
        "00000001",                                                         // 1 op
        "1b",                                                               // tag 27
        "3333333333333333333333333333333333333333333333333333333333333333", // from
        "0000000a",                                                         // text length
        "71756f72756d203d2031",                                             // "quorum = 1"
    );
    assert_eq!(hex::encode(s.encode()), expected);
    assert_eq!(
        sporedb::spore::codec::decode_spore(&Bytes::from(s.encode())),
        Ok(s.clone())
    );
    assert_eq!(sporedb::spore::validate::validate(&s), Ok(()));
    // It must travel alone and pin nothing.
    let mut with_data = s.clone();
    with_data.ops.push(Op::FlushAll);
    with_data.db_prereqs = (0..DATABASES)
        .map(|db| DbPrereq {
            db,
            version: [0; 32],
        })
        .collect();
    assert_eq!(
        sporedb::spore::validate::validate(&with_data),
        Err(sporedb::spore::validate::InvalidSpore::PolicyChangeNotAlone)
    );
}
