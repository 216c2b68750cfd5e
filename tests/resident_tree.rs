//! The LMDB store keeps its state tree's nodes in memory (`root::resident`): staged before each
//! commit, rolled back when a transaction does not commit, replaced nodes dropped some versions
//! later, versions carried on across rebuilds, and the whole tree rebuilt from the data at open.
//! None of that may change a root: commit after commit, an LMDB store must reach exactly the
//! root of the in-memory store (which keeps its nodes in a table, the other code path), and
//! the root recomputed from its data, through puts, deletes (jmt's non-batch path), aborted
//! transactions, rebuilds of the whole tree (by a large deletion or a state-transfer install),
//! and reopening.

mod common;

use common::leaves::{key, record, root};
use common::rng::Rng;
use sporedb::root::Integrity;
use sporedb::store::{KvWrite, MemStore, Store, StoreOptions, Table};

fn open(dir: &std::path::Path) -> Store {
    Store::open(dir, &StoreOptions { map_size: 1 << 30 }).unwrap()
}

/// One change to a store.
#[derive(Clone)]
enum Change {
    Put(Vec<u8>, Vec<u8>),
    Delete(Vec<u8>),
}

fn apply<W: KvWrite>(w: &mut W, changes: &[Change]) {
    for c in changes {
        match c {
            Change::Put(k, v) => w.put(Table::Keys, k, v).unwrap(),
            Change::Delete(k) => {
                w.delete(Table::Keys, k).unwrap();
            }
        }
    }
}

/// The same changes committed to the LMDB store and the in-memory one; their roots agree.
fn both(store: &Store, mem: &mut MemStore, changes: &[Change]) {
    let mut w = store.write().unwrap();
    apply(&mut w, changes);
    w.commit().unwrap();
    let mut m = mem.write();
    apply(&mut m, changes);
    m.commit().unwrap();
    assert_eq!(root(store), mem.state_root().unwrap().root);
}

/// A group of `n` random changes over `pool` keys in databases 0 and 1; `deletes` of every
/// 10 are deletions.
fn random_group(rng: &mut Rng, n: u64, pool: u64, deletes: u64) -> Vec<Change> {
    (0..n)
        .map(|_| {
            let k = key((rng.below(4) == 0) as u8, rng.below(pool));
            if rng.below(10) < deletes {
                Change::Delete(k)
            } else {
                Change::Put(k, record(&format!("value-{}", rng.next())))
            }
        })
        .collect()
}

/// The store agrees with its data (the scrub), and a reopen rebuilds the same tree.
fn check_and_reopen(dir: &std::path::Path, store: Store) -> Store {
    let r = root(&store);
    assert_eq!(store.scrub().unwrap(), Integrity::Verified { root: r });
    drop(store);
    let store = open(dir);
    assert_eq!(store.integrity(), Integrity::Verified { root: r });
    assert_eq!(root(&store), r);
    store
}

#[test]
fn resident_and_table_trees_keep_the_same_root() {
    let dir = tempfile::tempdir().unwrap();
    let mut store = open(dir.path());
    let mut mem = MemStore::new();
    let mut rng = Rng(0x5eed_cafe);
    for group in 0..300u64 {
        // Insert-only groups take jmt's batch path; groups with deletions its per-key path.
        let deletes = if group % 3 == 0 { 3 } else { 0 };
        let n = 1 + rng.below(60);
        let changes = random_group(&mut rng, n, 2_000, deletes);
        if group % 25 == 7 {
            // An aborted transaction leaves neither data nor tree nodes behind.
            let mut w = store.write().unwrap();
            for c in random_group(&mut rng, 20, 2_000, 0) {
                if let Change::Put(k, v) = c {
                    w.put(Table::Keys, &k, &v).unwrap();
                }
            }
            w.abort();
        }
        both(&store, &mut mem, &changes);
        if group % 100 == 99 {
            store = check_and_reopen(dir.path(), store);
        }
    }
}

#[test]
fn a_rebuilt_tree_keeps_the_right_root() {
    let dir = tempfile::tempdir().unwrap();
    let mut store = open(dir.path());
    let mut mem = MemStore::new();
    let mut rng = Rng(42);
    let fill: Vec<Change> = (0..3_000)
        .map(|i| Change::Put(key(0, i), record("v")))
        .collect();
    both(&store, &mut mem, &fill);
    for _ in 0..3 {
        both(&store, &mut mem, &random_group(&mut rng, 40, 3_000, 0));
    }
    // Deleting most keys at once rebuilds the tree from what remains (at the next version).
    let flush: Vec<Change> = (0..2_900).map(|i| Change::Delete(key(0, i))).collect();
    both(&store, &mut mem, &flush);
    for _ in 0..20 {
        both(&store, &mut mem, &random_group(&mut rng, 40, 3_000, 0));
    }
    store = check_and_reopen(dir.path(), store);
    both(&store, &mut mem, &random_group(&mut rng, 40, 3_000, 0));
}

#[test]
fn an_installed_copy_keeps_the_right_root() {
    let dirs: Vec<_> = (0..2).map(|_| tempfile::tempdir().unwrap()).collect();
    let source = open(dirs[0].path());
    let mut store = open(dirs[1].path());
    // `mem` follows the source's history: after the install, the store holds the same data.
    let mut mem = MemStore::new();
    let mut rng = Rng(7);
    for _ in 0..10 {
        both(&source, &mut mem, &random_group(&mut rng, 200, 5_000, 0));
    }
    // The installing store has a history of its own first.
    for _ in 0..5 {
        let mut w = store.write().unwrap();
        apply(&mut w, &random_group(&mut rng, 40, 5_000, 0));
        w.commit().unwrap();
    }
    let vouched = source.state_root().unwrap();
    let snap = common::copy_of(&source);
    store.install_snapshot(&snap, &vouched).unwrap();
    assert_eq!(root(&store), vouched.root);
    for _ in 0..20 {
        both(&store, &mut mem, &random_group(&mut rng, 40, 5_000, 0));
    }
    store = check_and_reopen(dirs[1].path(), store);
    both(&store, &mut mem, &random_group(&mut rng, 40, 5_000, 0));
}
