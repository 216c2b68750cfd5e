//! The version rules as one function: commutative spores reach the same versions in any order,
//! chains are projected exactly, flushes reset a database, and the db sum tracks recorded keys.

mod common;

use bytes::Bytes;
use num_bigint::BigInt;
use sporedb::spore::effects::Projection;
use sporedb::spore::*;

use common::versions::Versions;

fn k(name: &str) -> Key {
    Key::new(0, Bytes::copy_from_slice(name.as_bytes()))
}

fn incr(view: &dyn VersionView, name: &str, nonce: u64) -> Spore {
    Spore {
        origin: [1; 32],
        nonce,
        deadline_ms: 1,
        key_prereqs: vec![KeyPrereq::order_only(k(name), view.key_version(&k(name)))],
        db_prereqs: vec![],
        ops: vec![Op::IncrBy {
            key: k(name),
            delta: BigInt::from(1),
        }],
    }
}

fn set(view: &dyn VersionView, name: &str, nonce: u64) -> Spore {
    Spore {
        origin: [1; 32],
        nonce,
        deadline_ms: 1,
        key_prereqs: vec![KeyPrereq::full(k(name), view.key_version(&k(name)))],
        db_prereqs: vec![],
        ops: vec![Op::Set {
            key: k(name),
            value: Bytes::from_static(b"v"),
            cond: SetCond::Always,
            ttl: Ttl::Clear,
            get: false,
        }],
    }
}

#[test]
fn commutative_spores_reach_the_same_versions_in_any_order() {
    let base = Versions::default();
    let (a, b) = (incr(&base, "x", 1), incr(&base, "x", 2));
    let mut ab = base.clone();
    ab.apply(&a);
    assert!(
        b.prereqs_hold(&ab),
        "an order-only prerequisite survives a concurrent increment"
    );
    ab.apply(&b);
    let mut ba = base.clone();
    ba.apply(&b);
    ba.apply(&a);
    assert_eq!(ab, ba);
}

#[test]
fn the_ordering_note_scenario_is_gated() {
    // S = SET x; then A = INCRBY x built after S. A node that sees A first cannot apply it.
    let base = Versions::default();
    let s = set(&base, "x", 1);
    let mut after_s = base.clone();
    after_s.apply(&s);
    let a = incr(&after_s, "x", 2);
    assert!(!a.prereqs_hold(&base));
    assert!(a.prereqs_hold(&after_s));
    // Mirror image: A first, then S built after A: S waits for A.
    let a = incr(&base, "x", 3);
    let mut after_a = base.clone();
    after_a.apply(&a);
    let s = set(&after_a, "x", 4);
    assert!(!s.prereqs_hold(&base));
    assert!(s.prereqs_hold(&after_a));
}

#[test]
fn projection_matches_applying_in_sequence() {
    let base = Versions::default();
    let mut proj = Projection::new(&base);
    let s1 = set(&proj, "x", 1);
    proj.push(&s1, &s1.id());
    let s2 = set(&proj, "x", 2);
    proj.push(&s2, &s2.id());
    let s3 = incr(&proj, "y", 3);
    proj.push(&s3, &s3.id());
    let mut seq = base.clone();
    for s in [&s1, &s2, &s3] {
        assert!(s.prereqs_hold(&seq));
        seq.apply(s);
    }
    assert_eq!(proj.key_version(&k("x")), seq.key_version(&k("x")));
    assert_eq!(proj.key_version(&k("y")), seq.key_version(&k("y")));
    assert_eq!(proj.db_state(0), seq.db_state(0));
}

#[test]
fn flush_resets_the_database_and_versions_never_repeat() {
    let mut v = Versions::default();
    let s = set(&v, "x", 1);
    v.apply(&s);
    let absent_before = KeyVersion::absent(&v.db_state(0).generation, &k("x"));
    let flush = Spore {
        origin: [1; 32],
        nonce: 9,
        deadline_ms: 1,
        key_prereqs: vec![],
        db_prereqs: vec![DbPrereq {
            db: 0,
            version: v.db_state(0).version(),
        }],
        ops: vec![Op::FlushDb { db: 0 }],
    };
    assert!(flush.prereqs_hold(&v));
    v.apply(&flush);
    assert!(v.keys.is_empty());
    assert_eq!(v.db_state(0).sum, [0; 32]);
    assert_ne!(
        v.key_version(&k("x")),
        absent_before,
        "a new generation gives new absent versions"
    );
    // A write in another database is unaffected by the flush and changes only that db.
    let other = Spore {
        origin: [1; 32],
        nonce: 10,
        deadline_ms: 1,
        key_prereqs: vec![KeyPrereq::full(
            Key::new(1, "y"),
            v.key_version(&Key::new(1, "y")),
        )],
        db_prereqs: vec![],
        ops: vec![Op::Del {
            key: Key::new(1, "y"),
        }],
    };
    let before = v.db_state(0);
    v.apply(&other);
    assert_eq!(v.db_state(0), before);
    assert_ne!(v.db_state(1), DbState::default());
}

/// The flaw this pins (consensus branch, see docs/VERSIONS.md "Reads move the order version"):
/// if a read left the version unchanged, a SET built after a committed WATCH-read was applied
/// would still match the version the read required. A node receiving the SET's commit first
/// would apply it, and the committed read could then never apply there, while it was applied
/// everywhere else: a fork with no Byzantine node. With reads moving the order version, the
/// SET built after the read requires the read's output, so every node applies read, then SET.
#[test]
fn a_watched_read_moves_the_order_version() {
    let base = Versions::default();
    let watch = Spore {
        origin: [1; 32],
        nonce: 1,
        deadline_ms: 1,
        key_prereqs: vec![
            KeyPrereq::full(k("x"), base.key_version(&k("x"))),
            KeyPrereq::full(k("y"), base.key_version(&k("y"))),
        ],
        db_prereqs: vec![],
        ops: vec![Op::Set {
            key: k("y"),
            value: Bytes::from_static(b"v"),
            cond: SetCond::Always,
            ttl: Ttl::Clear,
            get: false,
        }],
    };
    let stale_set = set(&base, "x", 2);
    let mut after = base.clone();
    after.apply(&watch);
    assert_ne!(
        after.key_version(&k("x")).order,
        base.key_version(&k("x")).order
    );
    assert!(
        !stale_set.prereqs_hold(&after),
        "a SET built before the read no longer applies after it"
    );
    let set_after = set(&after, "x", 3);
    assert!(
        !set_after.prereqs_hold(&base),
        "a SET built after the read waits for it"
    );
}

/// One SADD or SREM of one member of key `name`, built against `view` the way an origin
/// builds it.
fn member_op(view: &dyn VersionView, name: &str, member: &str, add: bool, nonce: u64) -> Spore {
    common::member_spore(view, k(name), member.as_bytes(), add, nonce)
}

fn fp(s: &Spore) -> footprint::Footprint {
    footprint::Footprint::of(s)
}

#[test]
fn srem_and_sadd_of_different_members_commute() {
    let mut base = Versions::default();
    base.apply(&member_op(&Versions::default(), "s", "a", true, 1));
    let rem_a = member_op(&base, "s", "a", false, 2);
    let add_b = member_op(&base, "s", "b", true, 3);
    let rem_c = member_op(&base, "s", "c", false, 4);
    for (x, y) in [(&rem_a, &add_b), (&rem_a, &rem_c), (&add_b, &rem_c)] {
        assert!(!conflict::conflicts(&fp(x), &fp(y)), "{x:?} / {y:?}");
    }
    // Every order reaches the same key and member versions.
    let orders = [
        [&rem_a, &add_b, &rem_c],
        [&add_b, &rem_c, &rem_a],
        [&rem_c, &rem_a, &add_b],
    ];
    let mut results = Vec::new();
    for order in orders {
        let mut v = base.clone();
        for s in order {
            assert!(s.prereqs_hold(&v), "commuting spores stay applicable");
            v.apply(s);
        }
        results.push(v);
    }
    assert_eq!(results[0], results[1]);
    assert_eq!(results[0], results[2]);
    // The key itself kept its order (only `acc` moved): a later non-commutative write orders
    // after all three.
    assert_eq!(
        results[0].key_version(&k("s")).order,
        base.key_version(&k("s")).order
    );
}

#[test]
fn operations_on_one_member_are_ordered_by_its_version() {
    let base = Versions::default();
    // SADD m, then an SREM m built after it: the SREM cannot apply where the SADD has not.
    let add = member_op(&base, "s", "m", true, 1);
    let mut after_add = base.clone();
    after_add.apply(&add);
    let rem = member_op(&after_add, "s", "m", false, 2);
    assert!(!rem.prereqs_hold(&base), "SREM waits for the SADD it saw");
    assert!(rem.prereqs_hold(&after_add));
    // Built concurrently they conflict, and applying either one strands the other.
    let rem_now = member_op(&base, "s", "m", false, 3);
    assert!(conflict::conflicts(&fp(&add), &fp(&rem_now)));
    assert!(!rem_now.prereqs_hold(&after_add));
    let mut after_rem = base.clone();
    after_rem.apply(&rem_now);
    assert!(!add.prereqs_hold(&after_rem));
    // SREM m then an SADD m built after it: the SADD waits for the SREM.
    let readd = member_op(&after_rem, "s", "m", true, 4);
    assert!(!readd.prereqs_hold(&base));
    assert!(readd.prereqs_hold(&after_rem));
    // Two SREMs of one member conflict; two SADDs of one member commute.
    let rem2 = member_op(&base, "s", "m", false, 5);
    assert!(conflict::conflicts(&fp(&rem_now), &fp(&rem2)));
    let add2 = member_op(&base, "s", "m", true, 6);
    assert!(!conflict::conflicts(&fp(&add), &fp(&add2)));
    assert!(add2.prereqs_hold(&after_add));
}

#[test]
fn a_key_write_resets_member_versions_and_they_never_repeat() {
    let base = Versions::default();
    let rem = member_op(&base, "s", "m", false, 1);
    let mut v = base.clone();
    v.apply(&rem);
    let after_rem = v.member_version(&k("s"), b"m");
    // DEL s moves the key's order: every member's version derives from the new order, so a
    // spore built before the DEL matches neither the member nor the key any more.
    let del = Spore {
        origin: [1; 32],
        nonce: 2,
        deadline_ms: 1,
        key_prereqs: vec![KeyPrereq::full(k("s"), v.key_version(&k("s")))],
        db_prereqs: vec![],
        ops: vec![Op::Del { key: k("s") }],
    };
    let stale = member_op(&v, "s", "m", true, 3);
    v.apply(&del);
    let reset = v.member_version(&k("s"), b"m");
    assert_ne!(reset, after_rem);
    assert_ne!(reset, base.member_version(&k("s"), b"m"));
    assert!(!stale.prereqs_hold(&v));
    // The projection agrees with applying in sequence.
    let mut proj = Projection::new(&base);
    proj.push(&rem, &rem.id());
    assert_eq!(proj.member_version(&k("s"), b"m"), after_rem);
    proj.push(&del, &del.id());
    assert_eq!(proj.member_version(&k("s"), b"m"), reset);
}

#[test]
fn member_prerequisites_must_match_the_member_ops() {
    let base = Versions::default();
    let mut s = member_op(&base, "s", "m", false, 1);
    // A removal under an order-only member prerequisite would not be ordered.
    s.key_prereqs[0].members[0].acc = None;
    assert!(matches!(
        validate::validate(&s),
        Err(validate::InvalidSpore::MemberPrereqMismatch(_))
    ));
    // Missing member prerequisites.
    let mut s = member_op(&base, "s", "m", true, 2);
    s.key_prereqs[0].members.clear();
    assert!(validate::validate(&s).is_err());
    // Member prerequisites under a full key prerequisite (the key is then a plain write).
    let mut s = member_op(&base, "s", "m", true, 3);
    s.key_prereqs[0].acc = Some(base.key_version(&k("s")).acc);
    assert!(validate::validate(&s).is_err());
}
