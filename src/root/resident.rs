//! The state tree's nodes, resident in memory (LMDB stores), rebuilt from the data at open.
//!
//! Why not LMDB: every commit group writes a new version of each node on its leaves' paths
//! (jmt's nodes are immutable, keyed by version), and the old versions must be deleted again.
//! Stored in LMDB, that was one more record per node per group, a stale list, a prune every
//! few groups, and reads of uncached nodes; with one request in flight per client (groups of
//! ~20 writes) those extra pages and B-tree operations made the root cost 25–35 % of a
//! single node's write throughput (README, "State root cost"). The nodes are a function of the
//! data: the open already recomputed the whole tree from the data to check it against the
//! stored root (the scrub), so keeping the nodes in memory costs no extra work at open, and
//! what is committed with the data in each transaction is the root itself (and the applied-set
//! digest), which is what a node signs and what tamper detection compares.
//!
//! Consistency with LMDB snapshots: a reader takes its tree version from its snapshot's `root`
//! record and walks the nodes of that version. So:
//! - a write transaction *stages* its new nodes here before it commits. They carry the next
//!   version, which no snapshot names until the commit, so readers cannot reach them early;
//!   and they are here once the commit is visible (inserting them after the commit would let
//!   a reader in between miss them). If the transaction does not commit, the next one rolls
//!   them back first (`begin`); only one write transaction exists at a time.
//! - nodes replaced at version v stay `KEEP_VERSIONS` committed versions, for readers of older
//!   snapshots (proofs, database roots), then go. A reader older than that gets a clear error.
//!   Nodes replaced within the transaction that created them (a rebuild's chunks) were never
//!   visible and go at once.
//! - versions only grow while the process runs: a rebuild (FLUSHALL, state transfer) starts
//!   at the next version instead of 0, so a key never names two different nodes.

use std::collections::{HashMap, VecDeque};
use std::sync::{RwLock, RwLockReadGuard, RwLockWriteGuard};

use jmt::storage::{InternalNode, LeafNode, Node, NodeKey, TreeUpdateBatch};
use jmt::Version;

/// A node key packed into a fixed-size value: hashing and copying it costs no allocation
/// (jmt's `NodeKey` holds its nibble path in a `Vec`). Paths are at most 64 nibbles.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
struct Slot {
    version: Version,
    nibbles: u8,
    path: [u8; 32],
}

impl Slot {
    fn of(key: &NodeKey) -> Slot {
        let p = key.nibble_path();
        let mut path = [0u8; 32];
        let bytes = p.bytes();
        let n = bytes.len().min(32);
        path[..n].copy_from_slice(&bytes[..n]);
        Slot {
            version: key.version(),
            // jmt paths have at most 64 nibbles (256-bit key hashes).
            nibbles: u8::try_from(p.num_nibbles()).unwrap_or(u8::MAX),
            path,
        }
    }
}

/// A node as the map holds it. jmt's `Node` is 520 bytes whatever its kind (an internal node
/// carries 16 children and 15 kept subtree hashes), and most nodes are 64-byte leaves: held
/// as is, every leaf would take an internal node's room, and every rehash of the map would
/// move half a kilobyte per node. So leaves stay inline and internal nodes are boxed.
enum Held {
    Null,
    Leaf(LeafNode),
    Internal(Box<InternalNode>),
}

impl Held {
    fn new(node: Node) -> Held {
        match node {
            Node::Null => Held::Null,
            Node::Leaf(l) => Held::Leaf(l),
            Node::Internal(i) => Held::Internal(Box::new(i)),
        }
    }

    fn node(&self) -> Node {
        match self {
            Held::Null => Node::Null,
            Held::Leaf(l) => Node::Leaf(l.clone()),
            Held::Internal(i) => Node::Internal((**i).clone()),
        }
    }
}

/// Node keys come from key hashes that clients steer (by choosing key names), so the map is
/// seeded per process (foldhash's `RandomState`) rather than keyed by a fixed hash. Nothing
/// iterates it in an order that matters.
type NodeMap = HashMap<Slot, Held, foldhash::fast::RandomState>;

/// Committed versions a replaced node outlives (readers of snapshots up to this many commit
/// groups old still find every node of their version).
pub const KEEP_VERSIONS: u64 = 128;

/// The tree's nodes (see the module doc). One per LMDB store, shared by its transactions.
#[derive(Default)]
pub struct ResidentTree {
    inner: RwLock<Inner>,
}

#[derive(Default)]
struct Inner {
    nodes: NodeMap,
    /// Nodes no longer in the tree from version v on, oldest v first.
    stale: VecDeque<(Version, Vec<Slot>)>,
    /// The last committed version (`None` before the first commit).
    committed: Option<Version>,
    /// What the open write transaction staged: the keys it inserted, the stale lists it
    /// appended, and the last version it built.
    staged_nodes: Vec<Slot>,
    staged_lists: usize,
    staged_version: Option<Version>,
}

impl ResidentTree {
    fn read(&self) -> RwLockReadGuard<'_, Inner> {
        // Every update below leaves the maps consistent between statements that can panic
        // only on allocation failure, so a poisoned lock is still sound to use.
        self.inner.read().unwrap_or_else(|p| p.into_inner())
    }

    fn write(&self) -> RwLockWriteGuard<'_, Inner> {
        self.inner.write().unwrap_or_else(|p| p.into_inner())
    }

    /// The node under `key`.
    pub fn get(&self, key: &NodeKey) -> Option<Node> {
        self.read().nodes.get(&Slot::of(key)).map(Held::node)
    }

    /// The last version committed by this process.
    pub fn committed(&self) -> Option<Version> {
        self.read().committed
    }

    /// Nodes held, stale ones included (INFO, benchmarks).
    pub fn len(&self) -> usize {
        self.read().nodes.len()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// A write transaction begins: drop whatever an earlier one staged and did not commit.
    pub fn begin(&self) {
        let mut g = self.write();
        let inner = &mut *g;
        for key in inner.staged_nodes.drain(..) {
            inner.nodes.remove(&key);
        }
        for _ in 0..inner.staged_lists {
            inner.stale.pop_back();
        }
        inner.staged_lists = 0;
        inner.staged_version = None;
    }

    /// Stages jmt's update for `version`: its new nodes, and the nodes it replaced.
    pub fn stage(&self, version: Version, update: TreeUpdateBatch) {
        let mut g = self.write();
        let inner = &mut *g;
        let nodes = update.node_batch.into_nodes();
        inner.nodes.reserve(nodes.len());
        for (key, node) in nodes {
            let slot = Slot::of(&key);
            inner.staged_nodes.push(slot);
            inner.nodes.insert(slot, Held::new(node));
        }
        let mut replaced = Vec::with_capacity(update.stale_node_index_batch.len());
        for stale in &update.stale_node_index_batch {
            let slot = Slot::of(&stale.node_key);
            if inner.committed.is_some_and(|c| slot.version <= c) {
                replaced.push(slot);
            } else {
                // Built by this transaction (or by one that never committed): never visible.
                inner.nodes.remove(&slot);
            }
        }
        if !replaced.is_empty() {
            inner.stale.push_back((version, replaced));
            inner.staged_lists += 1;
        }
        inner.staged_version = Some(version);
    }

    /// Stages `node` under `key` (a rebuild's empty root).
    pub fn stage_node(&self, key: NodeKey, node: Node) {
        let mut g = self.write();
        let slot = Slot::of(&key);
        g.staged_nodes.push(slot);
        g.staged_version = Some(slot.version);
        g.nodes.insert(slot, Held::new(node));
    }

    /// Stages the retirement of every node, from `version` on (a rebuild replaces the tree).
    pub fn stage_retire_all(&self, version: Version) {
        let mut g = self.write();
        let inner = &mut *g;
        let all: Vec<Slot> = inner.nodes.keys().copied().collect();
        if !all.is_empty() {
            inner.stale.push_back((version, all));
            inner.staged_lists += 1;
        }
    }

    /// The next version a tree built from scratch should start at (past every version used).
    pub fn next_fresh_version(&self) -> Version {
        let g = self.read();
        match (g.staged_version, g.committed) {
            (Some(v), _) | (None, Some(v)) => v + 1,
            (None, None) => 0,
        }
    }

    /// The write transaction committed: what it staged is now the tree; nodes replaced
    /// `KEEP_VERSIONS` or more versions ago go.
    pub fn confirm(&self) {
        let mut g = self.write();
        let inner = &mut *g;
        inner.staged_nodes.clear();
        inner.staged_lists = 0;
        if let Some(v) = inner.staged_version.take() {
            inner.committed = Some(v);
        }
        let Some(committed) = inner.committed else {
            return;
        };
        while let Some((since, _)) = inner.stale.front() {
            if since + KEEP_VERSIONS > committed {
                break;
            }
            if let Some((_, keys)) = inner.stale.pop_front() {
                for key in keys {
                    inner.nodes.remove(&key);
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use jmt::storage::{LeafNode, TreeReader};
    use jmt::{JellyfishMerkleTree, KeyHash, OwnedValue, RootHash};

    use super::*;
    use crate::root::hasher::Sha3;
    use crate::root::nodes::empty_path;

    /// jmt reading the resident nodes directly.
    struct Reader<'a>(&'a ResidentTree);

    impl TreeReader for Reader<'_> {
        fn get_node_option(&self, key: &NodeKey) -> anyhow::Result<Option<Node>> {
            Ok(self.0.get(key))
        }
        fn get_value_option(&self, _: Version, _: KeyHash) -> anyhow::Result<Option<OwnedValue>> {
            anyhow::bail!("values are not kept")
        }
        fn get_rightmost_leaf(&self) -> anyhow::Result<Option<(NodeKey, LeafNode)>> {
            anyhow::bail!("not used")
        }
    }

    /// Stages version `version` setting each of `keys` to `value`; its root.
    fn put(tree: &ResidentTree, version: Version, keys: &[u8], value: u8) -> RootHash {
        let values = keys.iter().map(|&k| (KeyHash([k; 32]), Some(vec![value])));
        let (root, batch) = JellyfishMerkleTree::<_, Sha3>::new(&Reader(tree))
            .put_value_set(values, version)
            .unwrap();
        tree.stage(version, batch);
        root
    }

    fn root_key(version: Version) -> NodeKey {
        NodeKey::new(version, empty_path().unwrap())
    }

    /// A transaction that did not commit leaves nothing behind once the next one begins, and
    /// the tree then gives the roots a fresh tree gives.
    #[test]
    fn uncommitted_versions_are_rolled_back() {
        let tree = ResidentTree::default();
        tree.begin();
        put(&tree, 0, &[1, 2], 7);
        tree.confirm();
        let committed = tree.len();
        tree.begin();
        put(&tree, 1, &[3], 7);
        assert!(
            tree.get(&root_key(1)).is_some(),
            "staged nodes are readable"
        );
        tree.begin();
        assert_eq!(tree.len(), committed);
        assert!(tree.get(&root_key(1)).is_none());
        assert!(tree.get(&root_key(0)).is_some());
        let again = put(&tree, 1, &[3], 7);
        tree.confirm();

        let fresh = ResidentTree::default();
        fresh.begin();
        assert_eq!(put(&fresh, 0, &[1, 2, 3], 7), again);
    }

    /// Nodes replaced by a committed version stay `KEEP_VERSIONS` versions, then go; nodes a
    /// transaction built and replaced itself never stay.
    #[test]
    fn replaced_nodes_outlive_keep_versions() {
        let tree = ResidentTree::default();
        tree.begin();
        // Two versions in one transaction (a rebuild's chunks): version 0's root, replaced
        // by version 1 before anything committed, goes at once.
        put(&tree, 0, &[1, 2], 0);
        put(&tree, 1, &[3], 0);
        assert!(tree.get(&root_key(0)).is_none());
        tree.confirm();
        let size = tree.len();
        for v in 2..2 + KEEP_VERSIONS {
            tree.begin();
            put(&tree, v, &[1], v as u8);
            tree.confirm();
            assert!(
                tree.get(&root_key(1)).is_some(),
                "version 1 readable at {v}"
            );
        }
        tree.begin();
        put(&tree, 2 + KEEP_VERSIONS, &[1], 0);
        tree.confirm();
        assert!(tree.get(&root_key(1)).is_none());
        // Steady state: each version replaces as many nodes as it adds.
        let steady = tree.len();
        for v in 3 + KEEP_VERSIONS..3 + 2 * KEEP_VERSIONS {
            tree.begin();
            put(&tree, v, &[1], v as u8);
            tree.confirm();
        }
        assert_eq!(tree.len(), steady);
        assert!(steady > size);
    }

    /// A rebuild retires every node from its first version on; until `KEEP_VERSIONS` later,
    /// the old tree is still there for older readers.
    #[test]
    fn a_rebuild_retires_the_old_tree() {
        let tree = ResidentTree::default();
        tree.begin();
        put(&tree, 0, &[1, 2, 3], 0);
        tree.confirm();
        tree.begin();
        let start = tree.next_fresh_version();
        assert_eq!(start, 1);
        tree.stage_retire_all(start);
        tree.stage_node(root_key(start), Node::Null);
        put(&tree, start + 1, &[9], 0);
        tree.confirm();
        assert!(tree.get(&root_key(0)).is_some());
        for v in start + 2..start + 2 + KEEP_VERSIONS {
            tree.begin();
            put(&tree, v, &[9], v as u8);
            tree.confirm();
        }
        assert!(tree.get(&root_key(0)).is_none());
        assert_eq!(tree.next_fresh_version(), start + 2 + KEEP_VERSIONS);
    }
}
