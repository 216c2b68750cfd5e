//! The node cache (`root::node_cache`) and the subtree hashes kept in jmt's internal nodes (the
//! vendored fork) are pure speed-ups: a store that uses them must reach, commit after commit,
//! exactly the root of a store that does not, and the root recomputed from its data — through
//! puts, deletes (jmt's non-batch path), aborted transactions, and a rebuild of the whole tree
//! (which restarts tree versions, so a cache that survived it would serve wrong nodes), by a
//! commit or by a state-transfer install.

mod common;

use common::leaves::{key, record, root};
use common::rng::Rng;
use sporedb::root::Integrity;
use sporedb::store::{KvWrite, RootOptions, Store, StoreOptions, Table};

fn open(dir: &std::path::Path, cache_nodes: bool) -> Store {
    let root = RootOptions {
        cache_nodes,
        ..RootOptions::default()
    };
    Store::open_with(dir, &StoreOptions { map_size: 1 << 30 }, root).unwrap()
}

/// One change to a store.
#[derive(Clone)]
enum Change {
    Put(Vec<u8>, Vec<u8>),
    Delete(Vec<u8>),
}

fn commit(store: &Store, changes: &[Change]) {
    let mut w = store.write().unwrap();
    for c in changes {
        match c {
            Change::Put(k, v) => w.put(Table::Keys, k, v).unwrap(),
            Change::Delete(k) => {
                w.delete(Table::Keys, k).unwrap();
            }
        }
    }
    w.commit().unwrap();
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

#[test]
fn cached_and_uncached_stores_keep_the_same_root() {
    let (a_dir, b_dir) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
    let cached = open(a_dir.path(), true);
    let uncached = open(b_dir.path(), false);
    let mut rng = Rng(0x5eed_cafe);
    for group in 0..300u64 {
        // Insert-only groups take jmt's batch path; groups with deletions its per-key path.
        let deletes = if group % 3 == 0 { 3 } else { 0 };
        let n = 1 + rng.below(60);
        let changes = random_group(&mut rng, n, 2_000, deletes);
        if group % 25 == 7 {
            // An aborted transaction leaves neither data nor cached nodes behind.
            let mut w = cached.write().unwrap();
            for c in random_group(&mut rng, 20, 2_000, 0) {
                if let Change::Put(k, v) = c {
                    w.put(Table::Keys, &k, &v).unwrap();
                }
            }
            w.abort();
        }
        commit(&cached, &changes);
        commit(&uncached, &changes);
        assert_eq!(root(&cached), root(&uncached), "group {group}");
    }
    let r = root(&cached);
    assert_eq!(cached.scrub().unwrap(), Integrity::Verified { root: r });
}

#[test]
fn a_rebuilt_tree_is_not_served_from_the_cache() {
    let (a_dir, b_dir) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
    let cached = open(a_dir.path(), true);
    let uncached = open(b_dir.path(), false);
    let mut rng = Rng(42);
    let both = |changes: &[Change]| {
        commit(&cached, changes);
        commit(&uncached, changes);
        assert_eq!(root(&cached), root(&uncached));
    };
    // A few groups, so cached nodes carry small versions that the rebuilt tree will reuse.
    let fill: Vec<Change> = (0..3_000)
        .map(|i| Change::Put(key(0, i), record("v")))
        .collect();
    both(&fill);
    for _ in 0..3 {
        both(&random_group(&mut rng, 40, 3_000, 0));
    }
    // Deleting most keys at once rebuilds the tree from what remains (versions restart).
    let flush: Vec<Change> = (0..2_900).map(|i| Change::Delete(key(0, i))).collect();
    both(&flush);
    for _ in 0..20 {
        both(&random_group(&mut rng, 40, 3_000, 0));
    }
    let r = root(&cached);
    assert_eq!(cached.scrub().unwrap(), Integrity::Verified { root: r });
}

#[test]
fn an_installed_copy_is_not_served_from_the_cache() {
    let dirs: Vec<_> = (0..3).map(|_| tempfile::tempdir().unwrap()).collect();
    let source = open(dirs[0].path(), true);
    let cached = open(dirs[1].path(), true);
    let uncached = open(dirs[2].path(), false);
    let mut rng = Rng(7);
    for _ in 0..10 {
        commit(&source, &random_group(&mut rng, 200, 5_000, 0));
    }
    // The installing stores have their own history first, so their cache is warm.
    for _ in 0..5 {
        let changes = random_group(&mut rng, 40, 5_000, 0);
        commit(&cached, &changes);
        commit(&uncached, &changes);
    }
    let vouched = source.state_root().unwrap();
    let snap = common::copy_of(&source);
    cached.install_snapshot(&snap, &vouched).unwrap();
    uncached.install_snapshot(&snap, &vouched).unwrap();
    for group in 0..20 {
        let changes = random_group(&mut rng, 40, 5_000, 0);
        commit(&cached, &changes);
        commit(&uncached, &changes);
        assert_eq!(
            root(&cached),
            root(&uncached),
            "group {group} after the install"
        );
    }
}
