//! Keeping the tree current: write transactions note which leaf entries they touched
//! (`Dirty`), and at commit `apply` turns them into one jmt batch (one tree version per
//! commit group) written into the same transaction, together with the applied-set digest.
//! `build` creates the tree from existing data (a fresh or upgraded store), in chunks.
//!
//! `apply` runs in the transaction it folds in, on the node's writer thread (`node::writer`):
//! the applied-set digest, each touched leaf's final value (hashed in place), then jmt's new
//! version, or a rebuild when removals dominate. (A separate tree thread once computed the
//! version while the driver stepped the engine; it was retired when the commit itself moved
//! off the driver, and with it the split of this work into steps that could cross threads.)

use std::collections::BTreeSet;
use std::ops::Bound;

use jmt::storage::{Node, NodeKey};
use jmt::{JellyfishMerkleTree, KeyHash, OwnedValue, ValueHash};

use crate::store::kv::{clear_table, KvRead, KvWrite, Table};
use crate::store::StoreError;

use super::applied::AppliedSet;
use super::dbroots::DbRoots;
use super::hasher::Sha3;
use super::leaf::{is_leaf_table, key_hash, LEAF_TABLES};
use super::nodes::{empty_path, forget_stale, write_update, Nodes, TreeState};

/// What a write transaction changed that the tree must reflect.
#[derive(Debug, Default)]
pub struct Dirty {
    /// Leaf entries written or deleted (their final value is read at commit).
    leaves: BTreeSet<(Table, Vec<u8>)>,
    /// `applied` keys (deadline ‖ spore id) newly recorded.
    applied: Vec<[u8; 40]>,
    /// `applied` keys that existed and were deleted (pruned past the retention window).
    applied_removed: Vec<[u8; 40]>,
}

impl Dirty {
    /// Notes a put or delete of `key` in `table`. `fresh_applied` tells, for an `applied`
    /// put, whether the entry is new (the caller checked before writing).
    pub fn note(&mut self, table: Table, key: &[u8], fresh_applied: bool) {
        if is_leaf_table(table) {
            self.leaves.insert((table, key.to_vec()));
        } else if table == Table::Applied && fresh_applied {
            // `applied` key: deadline u64 BE ‖ spore id[32].
            if let Ok(k) = <[u8; 40]>::try_from(key) {
                self.applied.push(k);
            }
        }
    }

    /// Notes that the existing `applied` entry `key` was deleted.
    pub fn note_applied_removed(&mut self, key: &[u8]) {
        if let Ok(k) = <[u8; 40]>::try_from(key) {
            self.applied_removed.push(k);
        }
    }

    pub fn is_empty(&self) -> bool {
        self.leaves.is_empty() && self.applied.is_empty() && self.applied_removed.is_empty()
    }
}

fn tree_error(e: anyhow::Error) -> StoreError {
    StoreError::Tree(e.to_string())
}

/// The leaves a tree version changes.
enum Leaves {
    /// Insertions and updates only, as (key hash, value hash): jmt's batch path builds each
    /// new node once (and hashes it once), where `put_value_set` rebuilds and rehashes the
    /// path for every key — about 10x fewer sha3 calls for a large batch. Passing hashes
    /// (the vendored jmt's `batch_put_value_hashes`) also spares copying every value into
    /// the update batch: sporedb never reads values back from the tree.
    Puts(Vec<(KeyHash, ValueHash)>),
    /// Some removals (`None`): jmt's per-key path, the only one that takes deletions.
    Mixed(Vec<(KeyHash, Option<OwnedValue>)>),
}

/// Applies `leaves` as the next version of the tree in `kv` (whose state is `state`, `None`
/// for an empty store): jmt computes the version from the nodes of the last one, and its new
/// nodes (staged in memory for LMDB, `root::resident`, or written to the `nodes` table) and
/// the new state go into `kv`'s transaction.
fn put_values<T: KvWrite + ?Sized>(
    kv: &mut T,
    state: Option<TreeState>,
    leaves: Leaves,
) -> Result<TreeState, StoreError> {
    let version = match state {
        Some(s) => s.version + 1,
        None => 0,
    };
    let (root, update) = {
        let reader = Nodes::new(&*kv);
        let tree = JellyfishMerkleTree::<_, Sha3>::new(&reader);
        match leaves {
            Leaves::Puts(hashes) => tree.batch_put_value_hashes(hashes, version),
            Leaves::Mixed(values) => tree.put_value_set(values, version),
        }
        .map_err(tree_error)?
    };
    let state = TreeState {
        version,
        root: root.0,
    };
    if kv.resident_tree().is_some() {
        // The tree is not stored: record its breakdown by database with the root, for the
        // open's check of the data (`integrity::verify_at_open`).
        let root_key = NodeKey::new(version, empty_path()?);
        if let Some(node) = update.node_batch.get_node(&root_key) {
            DbRoots::of_node(node).record(kv)?;
        }
    }
    write_update(kv, version, update)?;
    state.store(kv)?;
    Ok(state)
}

/// The hash jmt takes for a leaf's value.
fn value_hash(value: &[u8]) -> ValueHash {
    ValueHash::with::<Sha3>(value)
}

/// The touched leaves as the tree takes them, with each one's final value read from `kv`, and
/// how many of them were removed. Without removals (the common case) values are hashed where
/// they lie, not copied.
fn touched_leaves<T: KvRead + ?Sized>(
    kv: &T,
    touched: &BTreeSet<(Table, Vec<u8>)>,
) -> Result<(Leaves, usize), StoreError> {
    let mut hashes = Vec::with_capacity(touched.len());
    let mut removals = 0;
    for (table, key) in touched {
        match kv.get(*table, key)? {
            Some(v) => hashes.push((key_hash(*table, key), value_hash(v))),
            None => removals += 1,
        }
    }
    if removals == 0 {
        return Ok((Leaves::Puts(hashes), 0));
    }
    let mut values = Vec::with_capacity(touched.len());
    for (table, key) in touched {
        let value = kv.get(*table, key)?.map(<[u8]>::to_vec);
        values.push((key_hash(*table, key), value));
    }
    Ok((Leaves::Mixed(values), removals))
}

/// Folds a transaction's changes into the applied-set digest and the tree (call just before
/// commit, in the same transaction): one tree version for all the leaves it touched, or a
/// rebuild when many removals make that cheaper.
pub fn apply<T: KvWrite + ?Sized>(kv: &mut T, dirty: Dirty) -> Result<(), StoreError> {
    if !dirty.applied.is_empty() || !dirty.applied_removed.is_empty() {
        let mut set = AppliedSet::load(kv)?;
        for k in &dirty.applied {
            set.add(k);
        }
        for k in &dirty.applied_removed {
            set.remove(k);
        }
        set.store(kv)?;
    }
    if dirty.leaves.is_empty() {
        return Ok(());
    }
    let Some(state) = TreeState::load(kv)? else {
        return Err(StoreError::Tree("the state tree was never built".into()));
    };
    if let Some(resident) = kv.resident_tree() {
        // The nodes in memory are those of the last version this process committed; a store
        // whose recorded version is another was written by another process meanwhile, which
        // a node does not support (its data directory is its own).
        if resident.committed() != Some(state.version) {
            return Err(StoreError::Tree(format!(
                "the store's state tree is at version {} but this process committed {:?}: another process wrote to the data directory; restart the node",
                state.version,
                resident.committed()
            )));
        }
    }
    let (leaves, removals) = touched_leaves(&*kv, &dirty.leaves)?;
    if rebuild_is_cheaper(&*kv, removals)? {
        build_tree(kv)?;
        return Ok(());
    }
    put_values(kv, Some(state), leaves)?;
    Ok(())
}

/// Whether rebuilding the tree from the data is cheaper than applying `values` to it. jmt
/// removes leaves one path at a time (each removal rehashes every node above it), so a
/// FLUSHDB/FLUSHALL of 100k keys took over 10 s and stalled every write behind it; a rebuild
/// costs a batched insert of the leaves that remain. The count of remaining leaves comes from
/// the backend for free (LMDB's table header), or not at all (then never rebuild).
fn rebuild_is_cheaper<T: KvRead + ?Sized>(kv: &T, removals: usize) -> Result<bool, StoreError> {
    /// Below this many removals the incremental path is fast enough whatever the tree size.
    const MIN_REMOVALS: usize = 1024;
    /// A removal costs roughly this many batched leaf inserts (one path of ~15 hashes per
    /// level against ~1 hash per node when building).
    const REMOVAL_WEIGHT: u64 = 8;
    if removals < MIN_REMOVALS {
        return Ok(false);
    }
    let mut remaining = 0u64;
    for t in LEAF_TABLES {
        match kv.entry_count(t)? {
            Some(n) => remaining += n,
            None => return Ok(false),
        }
    }
    Ok(remaining <= removals as u64 * REMOVAL_WEIGHT)
}

/// Leaf entries per jmt version while building: bounds the memory a batch holds.
const BUILD_CHUNK: usize = 32 * 1024;

/// Up to `BUILD_CHUNK` leaves of `src` after `cursor` (in table order), and the new cursor
/// (`None` when done).
#[allow(clippy::type_complexity)]
pub fn next_chunk<T: KvRead + ?Sized>(
    src: &T,
    cursor: Option<(Table, Vec<u8>)>,
) -> Result<(Vec<(KeyHash, ValueHash)>, Option<(Table, Vec<u8>)>), StoreError> {
    let mut out = Vec::new();
    let (mut ti, mut after) = match cursor {
        None => (0, None),
        Some((t, k)) => (
            LEAF_TABLES.iter().position(|x| *x == t).unwrap_or(0),
            Some(k),
        ),
    };
    while ti < LEAF_TABLES.len() {
        let table = LEAF_TABLES[ti];
        let lo = match &after {
            Some(k) => Bound::Excluded(k.as_slice()),
            None => Bound::Unbounded,
        };
        for entry in src.range(table, lo, Bound::Unbounded, false)? {
            let (k, v) = entry?;
            out.push((key_hash(table, k), value_hash(v)));
            if out.len() == BUILD_CHUNK {
                return Ok((out, Some((table, k.to_vec()))));
            }
        }
        ti += 1;
        after = None;
    }
    Ok((out, None))
}

/// Builds the tree from `kv`'s data, replacing any tree it had, and records the applied-set
/// digest of its `applied` table. Returns the root.
pub fn build<T: KvWrite + ?Sized>(kv: &mut T) -> Result<[u8; 32], StoreError> {
    clear_table(kv, Table::Root)?;
    let state = build_tree(kv)?;
    AppliedSet::of_table(&*kv)?.store(kv)?;
    Ok(state.root)
}

/// Replaces the tree with one built from `kv`'s leaf tables. Versions are this node's
/// bookkeeping: a resident tree (LMDB) goes on past every version it used, so nodes that
/// readers of older snapshots still walk keep their keys (`root::resident`); the `nodes`
/// table (in-memory store) restarts at 0.
pub fn build_tree<T: KvWrite + ?Sized>(kv: &mut T) -> Result<TreeState, StoreError> {
    let mut state = match kv.resident_tree() {
        Some(resident) => {
            // Resident nodes: versions go on past every one used (`root::resident`), from
            // an empty tree (a null root node), and the old tree's nodes retire.
            let version = resident.next_fresh_version();
            resident.stage_retire_all(version);
            resident.stage_node(NodeKey::new(version, empty_path()?), Node::Null);
            let state = TreeState {
                version,
                root: super::dbroots::PLACEHOLDER,
            };
            DbRoots::default().record(kv)?;
            state.store(kv)?;
            state
        }
        None => {
            clear_table(kv, Table::Nodes)?;
            forget_stale(kv)?;
            // Version 0: the empty tree (a null root node), so proofs work on an empty store too.
            put_values(kv, None, Leaves::Mixed(Vec::new()))?
        }
    };
    let mut cursor = None;
    loop {
        let (values, next) = next_chunk(&*kv, cursor)?;
        if !values.is_empty() {
            state = put_values(kv, Some(state), Leaves::Puts(values))?;
        }
        match next {
            Some(c) => cursor = Some(c),
            None => return Ok(state),
        }
    }
}

/// The root `src`'s data should have, and its per-database breakdown, computed from scratch in
/// a scratch in-memory tree (the scrub: compared with the stored root, it shows whether data
/// and tree still agree, and in which databases they do not).
pub fn recompute<T: KvRead + ?Sized>(src: &T) -> Result<([u8; 32], DbRoots), StoreError> {
    let mut scratch = crate::store::MemStore::without_root();
    let mut w = scratch.write();
    let mut state = put_values(&mut w, None, Leaves::Mixed(Vec::new()))?;
    let mut cursor = None;
    loop {
        let (values, next) = next_chunk(src, cursor)?;
        if !values.is_empty() {
            state = put_values(&mut w, Some(state), Leaves::Puts(values))?;
        }
        match next {
            Some(c) => cursor = Some(c),
            None => {
                // Committing a scratch store without a tree just drops its undo log.
                w.commit()?;
                return Ok((state.root, DbRoots::of_tree(&scratch.read())?));
            }
        }
    }
}
