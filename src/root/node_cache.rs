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

use std::sync::Mutex;

use jmt::storage::{InternalNode, NibblePath, Node, NodeKey};
use jmt::Version;

/// Deepest nibble-path length kept.
pub const MAX_DEPTH: usize = 3;

/// Positions at depth ≤ `MAX_DEPTH`: 1 + 16 + 256 + 4096.
const SLOTS: usize = 1 + 16 + 256 + 4096;

/// The slot of the position `path` names, if it is shallow enough: positions are numbered
/// depth by depth (the root 0, its children 1..=16, …), so a lookup is an index, not a hash.
fn slot(path: &NibblePath) -> Option<usize> {
    let depth = path.num_nibbles();
    if depth > MAX_DEPTH {
        return None;
    }
    let first_of_depth = [0, 1, 17, 273][depth];
    let index = path
        .nibbles()
        .fold(0usize, |acc, n| acc * 16 + usize::from(u8::from(n)));
    Some(first_of_depth + index)
}

/// Decoded upper tree nodes (see the module doc). Shared by the store's write transactions.
#[derive(Default)]
pub struct NodeCache {
    inner: Mutex<Inner>,
}

struct Inner {
    /// Bumped by `clear`: inserts prepared under an older generation are dropped.
    generation: u64,
    /// Per position (`slot`): the version of the node there, and the node.
    nodes: Vec<Option<Box<(Version, InternalNode)>>>,
}

impl Default for Inner {
    fn default() -> Inner {
        Inner {
            generation: 0,
            nodes: vec![None; SLOTS],
        }
    }
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
            if slot(key.nibble_path()).is_some() {
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
        let slot = slot(key.nibble_path())?;
        let inner = self.lock();
        match inner.nodes[slot].as_deref() {
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
            if let Some(slot) = slot(key.nibble_path()) {
                inner.nodes[slot] = Some(Box::new((key.version(), node)));
            }
        }
    }

    /// Forgets everything (the tree is being rewritten wholesale).
    pub fn clear(&self) {
        let mut inner = self.lock();
        inner.generation += 1;
        inner.nodes.iter_mut().for_each(|n| *n = None);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The path of `nibbles` (jmt builds paths itself; its borsh form is public).
    fn path(nibbles: &[u8]) -> NibblePath {
        let mut bytes = vec![0u8; nibbles.len().div_ceil(2)];
        for (i, n) in nibbles.iter().enumerate() {
            bytes[i / 2] |= n << (4 * (1 - i % 2));
        }
        let mut enc = (nibbles.len() as u64).to_le_bytes().to_vec();
        enc.extend_from_slice(&(bytes.len() as u32).to_le_bytes());
        enc.extend_from_slice(&bytes);
        borsh::from_slice(&enc).unwrap()
    }

    /// Every shallow position has its own slot, and deeper ones none.
    #[test]
    fn slots_number_positions_depth_by_depth() {
        let mut seen = std::collections::BTreeSet::new();
        let mut count = 0;
        for depth in 0..=MAX_DEPTH {
            for i in 0..16usize.pow(depth as u32) {
                let nibbles: Vec<u8> = (0..depth)
                    .map(|d| ((i >> (4 * (depth - 1 - d))) & 0xf) as u8)
                    .collect();
                let p = path(&nibbles);
                assert_eq!(p.num_nibbles(), depth);
                assert!(seen.insert(slot(&p).unwrap()), "{p:?}");
                count += 1;
            }
        }
        assert_eq!(count, SLOTS);
        assert_eq!(seen.last(), Some(&(SLOTS - 1)));
        assert_eq!(slot(&path(&[1, 2, 3])), Some(273 + 0x123));
        assert_eq!(slot(&path(&[1, 2, 3, 4])), None);
    }
}
