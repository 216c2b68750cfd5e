//! The global policy as replicated state (docs/CLUSTER.md §3.4, docs/STATE-ROOT.md): applying
//! an `Op::PolicyChange` spore records the policy's exact text in the `dbs` table's reserved
//! policy record, in the spore's transaction; the state root covers it (the root moves, the
//! scrub agrees), FLUSHALL/FLUSHDB keep it, a reopened store holds it, and state transfer
//! copies it and checks it against the vouched root (a copy with a forged policy record is
//! refused).

mod common;

use bytes::Bytes;
use common::*;
use sporedb::root::{Integrity, StateRootRead};
use sporedb::spore::*;
use sporedb::store::layout::{self, PolicyRecord};
use sporedb::store::{KvRead, MemStore, Store, StoreOptions, StoreRead, Table};

fn opts() -> StoreOptions {
    StoreOptions { map_size: 64 << 20 }
}

const TEXT_1: &str = "# first change\nquorum = 1\nfaulty = 0\ngrace_ms = 3000\n";
const TEXT_2: &str = "quorum = 1\nfaulty = 0\ngrace_ms = 4000\n";

fn change(from: [u8; 32], text: &str) -> Op {
    Op::PolicyChange {
        from,
        policy: Bytes::copy_from_slice(text.as_bytes()),
    }
}

fn recorded(store: &Store) -> Option<(Vec<u8>, [u8; 32])> {
    let r = store.read().unwrap();
    r.recorded_policy()
        .unwrap()
        .map(|p| (p.text.to_vec(), p.from))
}

#[test]
fn applying_a_policy_change_records_its_text_in_the_root() {
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(dir.path(), &opts()).unwrap();
    lmdb_apply(&store, vec![set("a", "1")]);
    assert_eq!(recorded(&store), None, "no change applied yet");
    let before = store.read().unwrap().state_root().unwrap();

    let replies = lmdb_apply(&store, vec![change([1; 32], TEXT_1)]);
    assert_eq!(replies, vec![sporedb::reply::Reply::OK]);
    assert_eq!(
        recorded(&store),
        Some((TEXT_1.as_bytes().to_vec(), [1; 32])),
        "the exact bytes, comments included, and the base"
    );
    let after = store.read().unwrap().state_root().unwrap();
    assert_ne!(after.root, before.root, "the root covers the policy record");
    // The stored bytes are the frozen layout, under the reserved key in `dbs`.
    {
        let r = store.read().unwrap();
        let raw = r.get(Table::Dbs, layout::POLICY_KEY).unwrap().unwrap();
        assert_eq!(
            raw,
            layout::encode_policy(&PolicyRecord {
                from: [1; 32],
                text: TEXT_1.as_bytes()
            })
            .as_slice()
        );
        // Database 0's own record is untouched by it.
        assert_eq!(r.db_record(0).unwrap().live, 1);
    }
    // The scrub recomputes the same root from the data.
    assert!(matches!(
        store.scrub().unwrap(),
        Integrity::Verified { root } if root == after.root
    ));

    // FLUSHALL and FLUSHDB 0 delete data, never the policy record.
    lmdb_apply(&store, vec![Op::FlushAll]);
    lmdb_apply(&store, vec![Op::FlushDb { db: 0 }]);
    assert_eq!(recorded(&store).unwrap().0, TEXT_1.as_bytes());
    assert_eq!(store.read().unwrap().db_record(0).unwrap().live, 0);

    // A later change replaces it.
    lmdb_apply(&store, vec![change([2; 32], TEXT_2)]);
    assert_eq!(
        recorded(&store),
        Some((TEXT_2.as_bytes().to_vec(), [2; 32]))
    );
    let root = store.read().unwrap().state_root().unwrap();
    drop(store);

    // A reopened store holds it, and its scrub at open agrees with the stored root.
    let store = Store::open(dir.path(), &opts()).unwrap();
    assert_eq!(recorded(&store).unwrap().0, TEXT_2.as_bytes());
    assert_eq!(store.read().unwrap().state_root().unwrap(), root);
    assert!(matches!(store.integrity(), Integrity::Verified { .. }));
}

#[test]
fn the_memory_store_records_the_same_bytes_and_root() {
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(dir.path(), &opts()).unwrap();
    let mut mem = MemStore::default();
    // The same spores on both backends (spore_for builds identical prerequisites).
    for ops in [
        vec![set("a", "1")],
        vec![change([1; 32], TEXT_1)],
        vec![Op::FlushAll],
    ] {
        let spore = spore_for(&store.read().unwrap(), ops, 99);
        let id = spore.id();
        let mut w = store.write().unwrap();
        sporedb::exec::apply_spore(&mut w, &spore, &id).unwrap();
        w.commit().unwrap();
        let mut w = mem.write();
        sporedb::exec::apply_spore(&mut w, &spore, &id).unwrap();
        w.commit().unwrap();
    }
    assert_eq!(
        mem.read()
            .recorded_policy()
            .unwrap()
            .map(|p| p.text.to_vec()),
        Some(TEXT_1.as_bytes().to_vec())
    );
    assert_eq!(
        mem.read().state_root().unwrap(),
        store.read().unwrap().state_root().unwrap()
    );
}

#[test]
fn state_transfer_copies_and_checks_the_policy_record() {
    let src_dir = tempfile::tempdir().unwrap();
    let src = Store::open(src_dir.path(), &opts()).unwrap();
    lmdb_apply(&src, vec![set("a", "1")]);
    lmdb_apply(&src, vec![change([1; 32], TEXT_1)]);
    lmdb_apply(&src, vec![set("b", "2")]);
    let vouched = src.read().unwrap().state_root().unwrap();
    let snap = copy_of(&src);
    assert_eq!(snap.root(), Some(vouched), "the copy's recomputed root");

    // A node that never saw the change installs the copy: it now records the policy.
    let dst_dir = tempfile::tempdir().unwrap();
    let dst = Store::open(dst_dir.path(), &opts()).unwrap();
    lmdb_apply(&dst, vec![set("old", "x")]);
    assert_eq!(recorded(&dst), None);
    dst.install_snapshot(&snap, &vouched).unwrap();
    assert_eq!(recorded(&dst), Some((TEXT_1.as_bytes().to_vec(), [1; 32])));
    assert_eq!(dst.read().unwrap().state_root().unwrap(), vouched);
    drop(dst);
    let dst = Store::open(dst_dir.path(), &opts()).unwrap();
    assert_eq!(recorded(&dst).unwrap().0, TEXT_1.as_bytes());

    // A peer that forges the policy record (or leaves it out) is caught by the root check:
    // the copy's root is not the vouched one, and installing it fails without a trace.
    let forged_text = layout::encode_policy(&PolicyRecord {
        from: [1; 32],
        text: TEXT_2.as_bytes(),
    });
    for forge in [Some(forged_text), None] {
        let mut bad = snap.clone();
        let dbs = bad.tables.get_mut(&(Table::Dbs as u8)).unwrap();
        let at = dbs
            .iter()
            .position(|(k, _)| k.as_ref() == layout::POLICY_KEY)
            .expect("the copy carries the policy record");
        match &forge {
            Some(v) => dbs[at].1 = Bytes::copy_from_slice(v),
            None => {
                dbs.remove(at);
            }
        }
        assert_ne!(bad.root(), Some(vouched));
        let other_dir = tempfile::tempdir().unwrap();
        let other = Store::open(other_dir.path(), &opts()).unwrap();
        assert!(other.install_snapshot(&bad, &vouched).is_err());
        assert_eq!(recorded(&other), None, "nothing of a refused copy is kept");
    }
}
