//! The LMDB store end to end: open, apply, read, close, reopen; grouped apply; idempotence;
//! the LMDB and in-memory backends reach byte-identical state after the same spores.

mod common;

use common::*;
use sporedb::exec::{apply_spore, Applied};
use sporedb::reply::Reply;
use sporedb::spore::effects::Projection;
use sporedb::spore::*;
use sporedb::store::{MemStore, Store, StoreOptions, StoreRead};

fn opts() -> StoreOptions {
    StoreOptions { map_size: 64 << 20 }
}

#[test]
fn set_get_del_incr_and_reopen() {
    let dir = tempfile::tempdir().unwrap();
    let (digest, v_a, ids);
    {
        let store = Store::open(dir.path(), &opts()).unwrap();
        assert!(store.path().ends_with("db"));
        let r = lmdb_apply(&store, vec![set("a", "1"), set("b", "x"), incr("n", 5)]);
        assert_eq!(r, vec![Reply::OK, Reply::OK, Reply::Int(5)]);
        let r = lmdb_apply(&store, vec![del("b"), del("zz"), incr("a", 41)]);
        assert_eq!(r, vec![Reply::Int(1), Reply::Int(0), Reply::Int(42)]);
        let rt = store.read().unwrap();
        assert_eq!(rt.string(&k("a"), 0).unwrap(), Some(&b"42"[..]));
        assert_eq!(rt.string(&k("b"), 0).unwrap(), None);
        assert_eq!(rt.string(&k("n"), 0).unwrap(), Some(&b"5"[..]));
        assert_eq!(rt.dbsize(0).unwrap(), 2);
        // The tombstone of b is invisible but keeps a version.
        assert!(!rt.exists(&k("b"), 0).unwrap());
        assert_eq!(rt.keys(0, b"*", 0).unwrap(), vec![&b"a"[..], b"n"]);
        assert!(rt.raw_record(&k("b")).unwrap().is_some());
        v_a = rt.key_version(&k("a"));
        digest = store.state_digest().unwrap();
        ids = rt.dbsize(0).unwrap();
        let stats = store.stats().unwrap();
        assert!(stats.entries[0] >= 3);
    }
    let store = Store::open(dir.path(), &opts()).unwrap();
    let rt = store.read().unwrap();
    assert_eq!(store.state_digest().unwrap(), digest);
    assert_eq!(rt.key_version(&k("a")), v_a);
    assert_eq!(rt.dbsize(0).unwrap(), ids);
    assert_eq!(rt.string(&k("a"), 0).unwrap(), Some(&b"42"[..]));
}

#[test]
fn idempotent_and_grouped() {
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(dir.path(), &opts()).unwrap();
    let s1 = common::spore_for(&store.read().unwrap(), vec![incr("c", 1)], 1);
    let s2 = common::spore_for(&store.read().unwrap(), vec![incr("c", 2)], 2);
    let mut w = store.write().unwrap();
    assert!(matches!(
        apply_spore(&mut w, &s1, &s1.id()).unwrap(),
        Applied::Done(_)
    ));
    // Commutative: s2's order-only prerequisite still holds after s1.
    assert!(s2.prereqs_hold(&w));
    assert!(matches!(
        apply_spore(&mut w, &s2, &s2.id()).unwrap(),
        Applied::Done(_)
    ));
    assert_eq!(
        apply_spore(&mut w, &s1, &s1.id()).unwrap(),
        Applied::AlreadyApplied
    );
    w.commit().unwrap();
    let d = store.state_digest().unwrap();
    let mut w = store.write().unwrap();
    assert_eq!(
        apply_spore(&mut w, &s2, &s2.id()).unwrap(),
        Applied::AlreadyApplied
    );
    w.commit().unwrap();
    assert_eq!(store.state_digest().unwrap(), d);
    let rt = store.read().unwrap();
    assert_eq!(rt.string(&k("c"), 0).unwrap(), Some(&b"3"[..]));
    assert!(rt.applied(s1.deadline_ms, &s1.id()).unwrap());
}

#[test]
fn aborted_txn_leaves_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(dir.path(), &opts()).unwrap();
    let d = store.state_digest().unwrap();
    let s = common::spore_for(&store.read().unwrap(), vec![set("a", "1")], 1);
    let mut w = store.write().unwrap();
    apply_spore(&mut w, &s, &s.id()).unwrap();
    w.abort();
    assert_eq!(store.state_digest().unwrap(), d);
    assert!(!store
        .read()
        .unwrap()
        .applied(s.deadline_ms, &s.id())
        .unwrap());
}

#[test]
fn lmdb_and_memory_are_byte_identical_and_match_projection() {
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(dir.path(), &opts()).unwrap();
    let mut mem = MemStore::new();
    let batches: Vec<Vec<Op>> = vec![
        vec![set("a", "1"), incr("n", 3)],
        vec![del("a"), set("b", "2")],
        vec![Op::FlushDb { db: 0 }, set("c", "3")],
        vec![incr("n", 1), incr("c", 1)],
        vec![Op::FlushAll],
    ];
    for ops in batches {
        let s = common::spore_for(&store.read().unwrap(), ops, 9);
        // The consensus engine's projection predicts the versions the executor writes.
        let before = store.read().unwrap();
        let mut proj = Projection::new(&before);
        proj.push(&s, &s.id());
        let mut w = store.write().unwrap();
        apply_spore(&mut w, &s, &s.id()).unwrap();
        w.commit().unwrap();
        let mut mw = mem.write();
        apply_spore(&mut mw, &s, &s.id()).unwrap();
        mw.commit().unwrap();
        let after = store.read().unwrap();
        for key in ["a", "b", "c", "n"] {
            assert_eq!(proj.key_version(&k(key)), after.key_version(&k(key)));
        }
        assert_eq!(proj.db_state(0), after.db_state(0));
        assert_eq!(store.state_digest().unwrap(), mem.state_digest());
    }
}

#[test]
fn map_full_is_a_typed_error() {
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(dir.path(), &StoreOptions { map_size: 1 << 20 }).unwrap();
    let big = bytes::Bytes::from(vec![7u8; 4 << 20]);
    let s = common::spore_for(
        &store.read().unwrap(),
        vec![Op::Set {
            key: k("big"),
            value: big,
            cond: SetCond::Always,
            ttl: Ttl::Clear,
            get: false,
        }],
        1,
    );
    let mut w = store.write().unwrap();
    let err = apply_spore(&mut w, &s, &s.id()).unwrap_err();
    assert!(
        matches!(err, sporedb::store::StoreError::MapFull),
        "{err:?}"
    );
    drop(w);
    assert!(!store.read().unwrap().exists(&k("big"), 0).unwrap());
}

#[test]
fn another_format_version_is_refused_untouched() {
    use sporedb::store::kv::{KvWrite, Table};
    use sporedb::store::{layout, StoreError};
    let dir = tempfile::tempdir().unwrap();
    {
        let store = Store::open(dir.path(), &opts()).unwrap();
        let mut w = store.write().unwrap();
        w.put(Table::Meta, layout::META_FORMAT, &1u32.to_be_bytes())
            .unwrap();
        w.commit().unwrap();
    }
    let err = Store::open(dir.path(), &opts()).err().expect("refused");
    assert!(matches!(err, StoreError::Format(1)), "{err}");
    let text = err.to_string();
    assert!(
        text.contains("format version 1")
            && text.contains(&format!("version {}", layout::FORMAT_VERSION)),
        "{text}"
    );
}

/// On LMDB too, pruning old applied ids keeps the stored applied-set digest equal to the
/// digest of the ids that remain (the delete path notes what the digest must drop).
#[test]
fn pruned_applied_ids_leave_a_consistent_digest() {
    use sporedb::exec::APPLIED_RETENTION_MS as R;
    use sporedb::root::StateRootRead;
    use sporedb::store::kv::{KvRead, Table};
    use std::ops::Bound;
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(dir.path(), &StoreOptions::default()).unwrap();
    for (i, deadline) in [1_000, 2_000, 3_000 + R].into_iter().enumerate() {
        let mut sp = spore_for(
            &store.read().unwrap(),
            vec![Op::IncrBy {
                key: k("n"),
                delta: 1.into(),
            }],
            i as u64,
        );
        sp.deadline_ms = deadline;
        let mut w = store.write().unwrap();
        assert!(matches!(
            apply_spore(&mut w, &sp, &sp.id()).unwrap(),
            Applied::Done(_)
        ));
        w.commit().unwrap();
    }
    let r = store.read().unwrap();
    let ids = r
        .range(Table::Applied, Bound::Unbounded, Bound::Unbounded, false)
        .unwrap()
        .count();
    assert_eq!(ids, 1, "the two old ids were pruned");
    let set = sporedb::root::AppliedSet::of_table(&r).unwrap();
    let root = r.state_root().unwrap();
    assert_eq!((root.applied_digest, root.applied_count), (set.digest(), 1));
}

/// The empty prefix is the whole table on LMDB too (LMDB refuses an empty key as a bound, so
/// `prefix_range` must not pass one), and `delete_prefix` with it empties the table.
#[test]
fn empty_prefix_covers_the_whole_table() {
    use sporedb::store::kv::{delete_prefix, prefix_range};
    use sporedb::store::{KvWrite, Table};
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(dir.path(), &opts()).unwrap();
    let mut w = store.write().unwrap();
    for key in [&b"\x00a"[..], b"\x00b", b"\xff\xff"] {
        w.put(Table::Meta, key, b"v").unwrap();
    }
    let all = prefix_range(&w, Table::Meta, b"").unwrap().count();
    assert!(all >= 3, "{all} entries");
    assert_eq!(delete_prefix(&mut w, Table::Meta, b"").unwrap(), all as u64);
    assert_eq!(prefix_range(&w, Table::Meta, b"").unwrap().count(), 0);
    w.abort();
}
