//! The upper levels of the state tree, decoded and kept in memory between commit groups.
//!
//! Why: every commit group rewrites the nodes near the root (the root, database 0's node, and
//! most of the 16 and 256 nodes below it), and reading each from LMDB means a B-tree search,
//! a borsh decode and — worse — recomputing all 15 binary hashes inside the new version of
//! the node, because the subtree hashes jmt needs (`InternalNode::fill_subtree_hashes`, our
//! vendored fork) are not stored. A node taken from this cache still has them, so the new
//! version of a node that changed in one child costs 4 sha3 instead of 15.
//!
//! Correctness does not depend on the cache: a node key (version, nibble path) names one
//! immutable node, and the cache holds, per nibble path, the node of one version, so a lookup
//! either finds exactly the node LMDB holds under that key or misses. Two rules keep it so:
//! - nodes enter only after the transaction that wrote them committed (`insert_committed`),
//!   so an aborted group leaves nothing behind;
//! - anything that rewrites the tree wholesale (a rebuild, a state-transfer install) calls
//!   `clear`, because a rebuilt tree restarts its versions at 0 and could reuse a key. `clear`
//!   bumps a generation, and a commit that began before a clear inserts nothing.
//!
//! Only internal nodes at depth ≤ `MAX_DEPTH` are kept (at most 1 + 16 + 256 + 4096 nodes,
//! ~1.4 kB each): they are the ones nearly every group rewrites; deeper nodes are touched by
//! few groups each and would only make the cache large.

use std::collections::HashMap;
use std::sync::Mutex;

use jmt::storage::{InternalNode, NibblePath, Node, NodeKey};
use jmt::Version;

/// Deepest nibble-path length kept.
pub const MAX_DEPTH: usize = 3;

/// Decoded upper tree nodes (see the module doc). Shared by the store's write transactions.
#[derive(Default)]
pub struct NodeCache {
    inner: Mutex<Inner>,
}

#[derive(Default)]
struct Inner {
    /// Bumped by `clear`: inserts prepared under an older generation are dropped.
    generation: u64,
    /// Nibble path → the version of the node there, and the node.
    nodes: HashMap<NibblePath, (Version, InternalNode)>,
}

/// Nodes a transaction wrote, to enter the cache once it has committed.
#[derive(Debug, Default)]
pub struct PendingNodes {
    generation: u64,
    nodes: Vec<(NodeKey, InternalNode)>,
}

impl PendingNodes {
    /// Keeps `node` if it is an internal node the cache holds.
    pub fn offer(&mut self, key: NodeKey, node: Node) {
        if let Node::Internal(n) = node {
            if key.nibble_path().num_nibbles() <= MAX_DEPTH {
                self.nodes.push((key, n));
            }
        }
    }
}

impl NodeCache {
    fn lock(&self) -> std::sync::MutexGuard<'_, Inner> {
        // A panic while holding the lock cannot leave a wrong entry (each update is one map
        // operation), so a poisoned cache is still sound.
        match self.inner.lock() {
            Ok(g) => g,
            Err(p) => p.into_inner(),
        }
    }

    /// The node stored under `key`, if cached.
    pub fn get(&self, key: &NodeKey) -> Option<Node> {
        if key.nibble_path().num_nibbles() > MAX_DEPTH {
            return None;
        }
        let inner = self.lock();
        match inner.nodes.get(key.nibble_path()) {
            Some((version, node)) if *version == key.version() => {
                Some(Node::Internal(node.clone()))
            }
            _ => None,
        }
    }

    /// An empty list of nodes to insert after the current transaction commits.
    pub fn pending(&self) -> PendingNodes {
        PendingNodes {
            generation: self.lock().generation,
            nodes: Vec::new(),
        }
    }

    /// Enters the nodes a committed transaction wrote, unless the cache was cleared since the
    /// transaction began.
    pub fn insert_committed(&self, pending: PendingNodes) {
        let mut inner = self.lock();
        if inner.generation != pending.generation {
            return;
        }
        for (key, node) in pending.nodes {
            inner
                .nodes
                .insert(key.nibble_path().clone(), (key.version(), node));
        }
    }

    /// Forgets everything (the tree is being rewritten wholesale).
    pub fn clear(&self) {
        let mut inner = self.lock();
        inner.generation += 1;
        inner.nodes.clear();
    }

    /// Number of cached nodes.
    pub fn len(&self) -> usize {
        self.lock().nodes.len()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}
