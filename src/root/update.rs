//! Keeping the tree current: write transactions note which leaf entries they touched
//! (`Dirty`), and at commit `apply` turns them into one jmt batch (one tree version per
//! commit group) written into the same transaction, together with the applied-set digest.
//! `build` creates the tree from existing data (a fresh or upgraded store), in chunks.
//!
//! `apply` is three steps: `prepare` (in the transaction: the applied-set digest, each touched
//! leaf's final value, or a rebuild when removals dominate), `TreeJob::run` (pure: key and
//! value hashes and jmt's computation, reading the last committed tree), and `finish` (in the
//! transaction again: the new nodes, stale list and tree state). The whole of it runs on the
//! node's writer thread (`node::writer`), beside the driver; a separate tree thread that
//! computed `run` while the driver stepped the engine was retired when the commit itself moved
//! off the driver (nothing is left on the writer to overlap it with).

use std::collections::BTreeSet;
use std::ops::Bound;

use jmt::storage::{TreeReader, TreeUpdateBatch};
use jmt::{JellyfishMerkleTree, KeyHash, OwnedValue, ValueHash};

use crate::store::kv::{clear_table, KvRead, KvWrite, Table};
use crate::store::StoreError;

use super::applied::AppliedSet;
use super::dbroots::DbRoots;
use super::hasher::Sha3;
use super::leaf::{is_leaf_table, key_hash, LEAF_TABLES};
use super::node_cache::{NodeCache, PendingNodes};
use super::nodes::{forget_stale, write_update, Nodes, TreeState};

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

/// Applies `leaves` as the next tree version, reading upper nodes from `cache` when it has
/// them and listing the new ones in `pending`.
fn put_values<T: KvWrite + ?Sized>(
    kv: &mut T,
    state: Option<TreeState>,
    leaves: Leaves,
    cache: Option<&NodeCache>,
    pending: Option<&mut PendingNodes>,
) -> Result<TreeState, StoreError> {
    let computed = {
        let reader = Nodes::cached(&*kv, cache);
        compute(&reader, state, leaves)?
    };
    finish(kv, computed, pending)
}

/// A new tree version, computed but not yet written.
pub struct Computed {
    state: TreeState,
    update: TreeUpdateBatch,
}

/// Computes `leaves` as the next version of the tree `reader` reads (whose current state is
/// `state`). Pure computation over committed nodes: it may run on another thread than the
/// transaction that will write the result (`TreeJob`).
fn compute<R: TreeReader>(
    reader: &R,
    state: Option<TreeState>,
    leaves: Leaves,
) -> Result<Computed, StoreError> {
    let version = match state {
        Some(s) => s.version + 1,
        None => 0,
    };
    let tree = JellyfishMerkleTree::<_, Sha3>::new(reader);
    let (root, update) = match leaves {
        Leaves::Puts(hashes) => tree.batch_put_value_hashes(hashes, version),
        Leaves::Mixed(values) => tree.put_value_set(values, version),
    }
    .map_err(tree_error)?;
    Ok(Computed {
        state: TreeState {
            version,
            root: root.0,
        },
        update,
    })
}

/// The hash jmt takes for a leaf's value.
fn value_hash(value: &[u8]) -> ValueHash {
    ValueHash::with::<Sha3>(value)
}

/// The tree work of one commit, taken out of its transaction: the leaves it touched with their
/// final values, and the tree state they apply to. `run` computes the new version (the costly
/// part: hashing, reading nodes) from a read snapshot of the last committed tree, so it can
/// be computed apart from the transaction; `finish` writes the result into it.
pub struct TreeJob {
    state: TreeState,
    /// (table, key, final value or `None` for a deletion).
    leaves: Vec<(Table, Vec<u8>, Option<Vec<u8>>)>,
    removals: usize,
}

impl TreeJob {
    /// Computes the next tree version, reading committed nodes through `reader`. The reader
    /// must see the tree of `state` (any snapshot taken after the last commit does).
    pub fn run<R: TreeReader>(self, reader: &R) -> Result<Computed, StoreError> {
        let leaves = if self.removals == 0 {
            Leaves::Puts(
                self.leaves
                    .into_iter()
                    .filter_map(|(t, k, v)| v.map(|v| (key_hash(t, &k), value_hash(&v))))
                    .collect(),
            )
        } else {
            Leaves::Mixed(
                self.leaves
                    .into_iter()
                    .map(|(t, k, v)| (key_hash(t, &k), v))
                    .collect(),
            )
        };
        compute(reader, Some(self.state), leaves)
    }
}

/// What `prepare` left for the tree.
pub enum Prepared {
    /// Nothing left (no leaf changed, or the tree was rebuilt in the transaction).
    Done,
    /// The new version still has to be computed (`TreeJob::run`) and written (`finish`).
    Job(TreeJob),
}

/// Folds a transaction's changes into the applied-set digest and lists the leaves the tree
/// must take in (call just before commit, in the same transaction). When many removals make a
/// rebuild cheaper, rebuilds the tree here and then.
pub fn prepare<T: KvWrite + ?Sized>(
    kv: &mut T,
    dirty: Dirty,
    cache: Option<&NodeCache>,
) -> Result<Prepared, StoreError> {
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
        return Ok(Prepared::Done);
    }
    let Some(state) = TreeState::load(kv)? else {
        return Err(StoreError::Tree("the state tree was never built".into()));
    };
    let mut leaves = Vec::with_capacity(dirty.leaves.len());
    let mut removals = 0;
    for (table, key) in dirty.leaves {
        let value = kv.get(table, &key)?.map(<[u8]>::to_vec);
        removals += usize::from(value.is_none());
        leaves.push((table, key, value));
    }
    if rebuild_is_cheaper(&*kv, removals)? {
        // The rebuilt tree restarts its versions at 0: cached keys could name other nodes.
        if let Some(c) = cache {
            c.clear();
        }
        build_tree(kv)?;
        return Ok(Prepared::Done);
    }
    Ok(Prepared::Job(TreeJob {
        state,
        leaves,
        removals,
    }))
}

/// Writes a computed version (`compute`, `TreeJob::run`) into the transaction: its nodes, its
/// stale list, the new tree state; lists in `pending` the new nodes the node cache keeps.
pub fn finish<T: KvWrite + ?Sized>(
    kv: &mut T,
    computed: Computed,
    pending: Option<&mut PendingNodes>,
) -> Result<TreeState, StoreError> {
    let Computed { state, update } = computed;
    write_update(kv, state.version, update, pending)?;
    state.store(kv)?;
    Ok(state)
}

/// Folds a transaction's changes into the tree and the applied-set digest, all on the calling
/// thread (call just before commit, in the same transaction). With a node cache, returns the
/// new nodes to enter it once the transaction has committed (`NodeCache::insert_committed`).
pub fn apply<T: KvWrite + ?Sized>(
    kv: &mut T,
    dirty: Dirty,
    cache: Option<&NodeCache>,
) -> Result<Option<PendingNodes>, StoreError> {
    match prepare(kv, dirty, cache)? {
        Prepared::Done => Ok(None),
        Prepared::Job(job) => {
            let mut pending = cache.map(NodeCache::pending);
            let computed = {
                let reader = Nodes::cached(&*kv, cache);
                job.run(&reader)?
            };
            finish(kv, computed, pending.as_mut())?;
            Ok(pending)
        }
    }
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

/// Replaces the tree with one built from `kv`'s leaf tables (versions restart at 0: they are
/// this node's bookkeeping, and a read transaction opened earlier keeps its own snapshot).
fn build_tree<T: KvWrite + ?Sized>(kv: &mut T) -> Result<TreeState, StoreError> {
    clear_table(kv, Table::Nodes)?;
    forget_stale(kv)?;
    // Version 0: the empty tree (a null root node), so proofs work on an empty store too.
    let mut state = put_values(kv, None, Leaves::Mixed(Vec::new()), None, None)?;
    let mut cursor = None;
    loop {
        let (values, next) = next_chunk(&*kv, cursor)?;
        if !values.is_empty() {
            state = put_values(kv, Some(state), Leaves::Puts(values), None, None)?;
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
    let mut state = put_values(&mut w, None, Leaves::Mixed(Vec::new()), None, None)?;
    let mut cursor = None;
    loop {
        let (values, next) = next_chunk(src, cursor)?;
        if !values.is_empty() {
            state = put_values(&mut w, Some(state), Leaves::Puts(values), None, None)?;
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
