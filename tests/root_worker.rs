//! The tree worker (`store::root_worker`): a tree version computed beside the writer
//! (`WriteTxn::start_root`, then `commit`) must be exactly the version the commit would have
//! computed itself — through puts, deletes (jmt's per-key path), applied-set changes, a rebuild
//! of the whole tree, and transactions dropped after their version started. Readers meanwhile
//! see the last committed root; a write after the start is refused, never committed with a
//! root that misses it.

mod common;

use std::sync::Arc;

use common::leaves::{key, record, root};
use common::rng::Rng;
use sporedb::root::Integrity;
use sporedb::spore::SporeId;
use sporedb::store::layout::applied_key;
use sporedb::store::{
    HeldWrite, KvRead, KvWrite, RootOptions, Store, StoreError, StoreOptions, Table,
};

fn open(dir: &std::path::Path) -> Store {
    Store::open_with(
        dir,
        &StoreOptions { map_size: 1 << 30 },
        RootOptions::default(),
    )
    .unwrap()
}

#[derive(Clone)]
enum Change {
    Put(Vec<u8>, Vec<u8>),
    Delete(Vec<u8>),
    Applied(u64, SporeId),
}

fn write_all(w: &mut impl KvWrite, changes: &[Change]) {
    for c in changes {
        match c {
            Change::Put(k, v) => w.put(Table::Keys, k, v).unwrap(),
            Change::Delete(k) => {
                w.delete(Table::Keys, k).unwrap();
            }
            Change::Applied(deadline, id) => w
                .put(Table::Applied, &applied_key(*deadline, id), &[])
                .unwrap(),
        }
    }
}

/// Commits `changes` with the version computed at commit, on this thread.
fn commit_inline(store: &Store, changes: &[Change]) {
    let mut w = store.write().unwrap();
    write_all(&mut w, changes);
    w.commit().unwrap();
}

/// Commits `changes` with the version computed on the tree worker; returns whether it was.
fn commit_beside(store: &Arc<Store>, changes: &[Change]) -> bool {
    let mut held = HeldWrite::begin(store.clone()).unwrap();
    let started = held
        .with(|w| {
            write_all(w, changes);
            w.start_root()
        })
        .unwrap();
    held.commit().unwrap();
    started
}

fn random_group(rng: &mut Rng, n: u64, pool: u64, deletes: u64) -> Vec<Change> {
    (0..n)
        .map(|_| {
            let k = key((rng.below(4) == 0) as u8, rng.below(pool));
            match rng.below(10) {
                r if r < deletes => Change::Delete(k),
                9 => Change::Applied(rng.below(1 << 40), SporeId([rng.below(255) as u8; 32])),
                _ => Change::Put(k, record(&format!("value-{}", rng.next()))),
            }
        })
        .collect()
}

#[test]
fn a_version_computed_beside_the_writer_is_the_one_computed_at_commit() {
    let (a_dir, b_dir) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
    let beside = Arc::new(open(a_dir.path()));
    let inline = open(b_dir.path());
    let mut rng = Rng(0xbe51de);
    let mut started = 0;
    for group in 0..300u64 {
        let deletes = if group % 3 == 0 { 3 } else { 0 };
        let n = 1 + rng.below(60);
        let changes = random_group(&mut rng, n, 2_000, deletes);
        if group % 25 == 7 {
            // Dropped after its version started: nothing of it is applied, and the worker's
            // answer, which nobody takes, changes nothing either.
            let mut held = HeldWrite::begin(beside.clone()).unwrap();
            held.with(|w| {
                write_all(w, &random_group(&mut rng, 20, 2_000, 0));
                w.start_root()
            })
            .unwrap();
            drop(held);
        }
        if group == 150 {
            // Deleting most keys at once rebuilds the tree on the writer instead.
            let flush: Vec<Change> = (0..2_000)
                .flat_map(|i| [Change::Delete(key(0, i)), Change::Delete(key(1, i))])
                .collect();
            assert!(!commit_beside(&beside, &flush), "a rebuild starts no job");
            commit_inline(&inline, &flush);
        }
        started += commit_beside(&beside, &changes) as u32;
        commit_inline(&inline, &changes);
        assert_eq!(root(&beside), root(&inline), "group {group}");
    }
    assert!(
        started > 250,
        "only {started} versions were computed beside the writer"
    );
    let r = root(&beside);
    assert_eq!(beside.scrub().unwrap(), Integrity::Verified { root: r });
    // Reopened, the store finds the same root in its files.
    drop(beside);
    assert_eq!(root(&open(a_dir.path())), r);
}

#[test]
fn readers_see_the_committed_root_until_the_commit() {
    let dir = tempfile::tempdir().unwrap();
    let store = Arc::new(open(dir.path()));
    commit_inline(&store, &[Change::Put(key(0, 1), record("one"))]);
    let before = root(&store);
    let mut held = HeldWrite::begin(store.clone()).unwrap();
    held.with(|w| {
        write_all(w, &[Change::Put(key(0, 2), record("two"))]);
        w.start_root()
    })
    .unwrap();
    assert_eq!(root(&store), before);
    held.commit().unwrap();
    assert_ne!(root(&store), before);
    assert_eq!(
        store.scrub().unwrap(),
        Integrity::Verified { root: root(&store) }
    );
}

#[test]
fn a_write_after_the_version_started_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let store = Arc::new(open(dir.path()));
    let mut held = HeldWrite::begin(store.clone()).unwrap();
    let late = held.with(|w| {
        write_all(w, &[Change::Put(key(0, 1), record("one"))]);
        assert!(w.start_root()?);
        w.put(Table::Keys, &key(0, 2), &record("late"))
    });
    assert!(matches!(late, Err(StoreError::Misuse(_))), "{late:?}");
    // The caller gives such a transaction up: nothing of it is applied.
    drop(held);
    let empty = root(&store);
    commit_inline(&store, &[]);
    assert_eq!(root(&store), empty);
    assert_eq!(
        store.read().unwrap().get(Table::Keys, &key(0, 1)).unwrap(),
        None
    );
}
