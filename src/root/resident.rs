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
//!   snapshots (proofs, database roots), then go. A reader older than that misses a node and
//!   gets an error (a proof is then retried on a fresh snapshot).
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

/// A node as the map holds it. jmt's `Node` is 520 bytes whatever its kind, and an internal
/// node also owns a 16-slot child array (~1 kB) and keeps its 15 subtree hashes (the vendored
/// fork's speed-up). Most nodes are 64-byte leaves, and most internal nodes sit deep in the
/// tree with two or three children. So: leaves inline; internal nodes near the top (depth <
/// `PACK_DEPTH`, at most 69,905 of them, rewritten by nearly every commit) boxed as they are,
/// subtree hashes included; deeper internal nodes packed in their borsh encoding (~100–200
/// bytes), decoded when read. A decoded node lacks its subtree hashes, but with so few
/// children recomputing them costs one or two hashes. At 1 M keys that is ~260k packed nodes
/// instead of ~1.5 kB each.
enum Held {
    Null,
    Leaf(LeafNode),
    Internal(Box<InternalNode>),
    Packed(Box<[u8]>),
}

/// Internal nodes at this depth (nibbles) and below are held packed.
const PACK_DEPTH: u8 = 5;

impl Held {
    fn new(slot: &Slot, node: Node) -> Held {
        match node {
            Node::Null => Held::Null,
            Node::Leaf(l) => Held::Leaf(l),
            Node::Internal(i) if slot.nibbles < PACK_DEPTH => Held::Internal(Box::new(i)),
            Node::Internal(i) => match borsh::to_vec(&i) {
                Ok(bytes) => Held::Packed(bytes.into_boxed_slice()),
                // Encoding a node cannot fail (plain bytes and vectors); were it to, keep it whole.
                Err(_) => Held::Internal(Box::new(i)),
            },
        }
    }

    /// The node; `None` only if a packed node failed to decode (then jmt reports it missing).
    fn node(&self) -> Option<Node> {
        match self {
            Held::Null => Some(Node::Null),
            Held::Leaf(l) => Some(Node::Leaf(l.clone())),
            Held::Internal(i) => Some(Node::Internal((**i).clone())),
            Held::Packed(bytes) => borsh::from_slice::<InternalNode>(bytes)
                .ok()
                .map(Node::Internal),
        }
    }
}

/// Node keys come from key hashes that clients steer (by choosing key names), so the map is
/// seeded per process (foldhash's `RandomState`) rather than keyed by a fixed hash. Nothing
/// iterates it in an order that matters.
type NodeMap = HashMap<Slot, Held, foldhash::fast::RandomState>;

/// Committed versions a replaced node outlives: readers of snapshots up to this many commit
/// groups old still find every node of their version. The readers that walk the tree (a
/// proof, the database roots of an attestation) take their snapshot microseconds before;
/// a proof that still misses a node is retried on a fresh snapshot (`NodeRoots::prove`).
/// Kept small because a large commit replaces many nodes: a 10k-key batch into a 1M-key tree
/// replaces ~14k internal nodes of ~1.4 kB each (128 versions of that were 2.5 GB).
pub const KEEP_VERSIONS: u64 = 8;

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
        self.read().nodes.get(&Slot::of(key)).and_then(Held::node)
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
            inner.nodes.insert(slot, Held::new(&slot, node));
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
        g.nodes.insert(slot, Held::new(&slot, node));
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

    /// Stages version `version` setting each key hash of `keys` to `value`; its root.
    fn put_hashes(tree: &ResidentTree, version: Version, keys: &[[u8; 32]], value: u8) -> RootHash {
        let values = keys.iter().map(|&k| (KeyHash(k), Some(vec![value])));
        let (root, batch) = JellyfishMerkleTree::<_, Sha3>::new(&Reader(tree))
            .put_value_set(values, version)
            .unwrap();
        tree.stage(version, batch);
        root
    }

    /// Deep internal nodes are held packed and decoded when read; updating through them gives
    /// the root a tree built in one go gives.
    #[test]
    fn packed_nodes_read_back_to_the_same_roots() {
        // Keys sharing their first three bytes: internal nodes down to depth 7.
        let keys: Vec<[u8; 32]> = (0..40u8)
            .map(|i| {
                let mut k = [0xab; 32];
                k[3] = i.wrapping_mul(37);
                k[4] = i;
                k
            })
            .collect();
        let tree = ResidentTree::default();
        tree.begin();
        put_hashes(&tree, 0, &keys, 1);
        tree.confirm();
        let packed = tree
            .read()
            .nodes
            .values()
            .filter(|h| matches!(h, Held::Packed(_)))
            .count();
        assert!(packed > 0, "no packed node");
        let mut last = RootHash([0; 32]);
        for (v, chunk) in keys.chunks(7).enumerate() {
            tree.begin();
            last = put_hashes(&tree, v as Version + 1, chunk, 2);
            tree.confirm();
        }
        let fresh = ResidentTree::default();
        fresh.begin();
        assert_eq!(put_hashes(&fresh, 0, &keys, 2), last);
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
