//! jmt's view of a store's tree (`Nodes`), and the tree's nodes in the store's own tables for
//! the in-memory store (an LMDB store keeps them in memory instead, `root::resident`, and its
//! `nodes` table stays empty; format 5 stored them there).
//!
//! Table `nodes`: `version u64 BE ‖ borsh(nibble path)` → `borsh(jmt Node)`. The version comes
//! first so each commit's new nodes land at the end of the table (a few pages) instead of on
//! random pages. (Keying by position instead, so a replacement overwrites its predecessor in
//! place, was measured in the same `root_bench` run: ~10 % more driver CPU per write, 115 µs
//! against 104 µs, because every level's overwrite then dirties a random page.) Table `root` holds the tree's current version and root hash under `"tree"`
//! (`version u64 BE ‖ root[32]`) and the applied-set digest (`applied.rs`). Both tables are
//! this node's bookkeeping, not replicated state: versions count commit groups, which differ
//! between replicas, so `state_digest` leaves them out; only the root hash is comparable.
//!
//! Only the latest version is needed: a proof is served from a read transaction (an MVCC
//! snapshot), which still sees the nodes of its own version. The nodes jmt reports stale are
//! not deleted at once but listed in the `root` table (`"stale/" ‖ version u64 BE` → the
//! stale nodes' keys) and deleted together every `PRUNE_EVERY` versions. Why: a stale leaf or
//! low internal node sits on a random old page, so deleting it at once dirties (copies and
//! writes back) one page per stale node; deleted together, the stale nodes of many commit
//! groups share pages. Measured with `root_bench` (20k-key stores): ~12 µs less driver CPU per
//! write. For a tree much larger than a prune batch the stale nodes rarely share pages and
//! the saving fades, but a batch never costs more than the deletions it replaces. Stale nodes
//! are unreachable from the current root, so keeping them a while changes no root or proof.
//!
//! Leaf *values* are not stored here: they are the entries of `keys`/`elems`/`dbs` themselves.
//! jmt only asks for a value when building a proof, and the prover passes it in (`Nodes::with_value`).

use jmt::storage::{LeafNode, NibblePath, Node, NodeKey, TreeReader, TreeUpdateBatch};
use jmt::{KeyHash, OwnedValue, Version};

use crate::store::kv::{delete_prefix, prefix_range, KvRead, KvWrite, Table};
use crate::store::StoreError;

/// The `root` table key of the tree's version and root hash.
pub const TREE_KEY: &[u8] = b"tree";

/// The tree's current version and root hash.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TreeState {
    pub version: Version,
    pub root: [u8; 32],
}

impl TreeState {
    /// The stored state; `None` if this store has no tree (never built, or maintenance was off).
    pub fn load<T: KvRead + ?Sized>(kv: &T) -> Result<Option<TreeState>, StoreError> {
        match kv.get(Table::Root, TREE_KEY)? {
            None => Ok(None),
            Some(b) if b.len() == 40 => {
                let mut v = [0u8; 8];
                v.copy_from_slice(&b[..8]);
                let mut root = [0u8; 32];
                root.copy_from_slice(&b[8..]);
                Ok(Some(TreeState {
                    version: u64::from_be_bytes(v),
                    root,
                }))
            }
            Some(_) => Err(StoreError::Corrupt("bad tree state")),
        }
    }

    pub fn store<T: KvWrite + ?Sized>(&self, kv: &mut T) -> Result<(), StoreError> {
        let mut v = [0u8; 40];
        v[..8].copy_from_slice(&self.version.to_be_bytes());
        v[8..].copy_from_slice(&self.root);
        kv.put(Table::Root, TREE_KEY, &v)
    }
}

/// The root's nibble path (empty). jmt does not export a constructor for it, so it is decoded
/// from its borsh form (`num_nibbles u64 LE = 0 ‖ bytes len u32 LE = 0`).
pub fn empty_path() -> Result<NibblePath, StoreError> {
    borsh::from_slice(&[0u8; 12]).map_err(|_| StoreError::Tree("empty nibble path".into()))
}

/// A `nodes` table key, on the stack: `version u64 BE ‖ borsh(nibble path)` is at most
/// 8 + 8 + 4 + 32 bytes. (A commit group writes and deletes a few hundred of them, each once a
/// heap allocation.)
pub struct NodeKeyBytes {
    buf: [u8; 52],
    len: usize,
}

impl std::ops::Deref for NodeKeyBytes {
    type Target = [u8];

    fn deref(&self) -> &[u8] {
        &self.buf[..self.len]
    }
}

/// The `nodes` table key of a node.
pub fn node_key_bytes(key: &NodeKey) -> Result<NodeKeyBytes, StoreError> {
    let mut buf = [0u8; 52];
    buf[..8].copy_from_slice(&key.version().to_be_bytes());
    let mut rest: &mut [u8] = &mut buf[8..];
    let room = rest.len();
    borsh::to_writer(&mut rest, key.nibble_path())
        .map_err(|_| StoreError::Corrupt("unencodable tree node key"))?;
    let len = 8 + room - rest.len();
    Ok(NodeKeyBytes { buf, len })
}

/// jmt's view of `kv`'s tree: its resident nodes (LMDB) or its `nodes` table.
pub struct Nodes<'a, T: ?Sized> {
    kv: &'a T,
    /// The one leaf value a proof needs (see the module doc).
    value: Option<(KeyHash, OwnedValue)>,
}

impl<'a, T: KvRead + ?Sized> Nodes<'a, T> {
    pub fn new(kv: &'a T) -> Nodes<'a, T> {
        Nodes { kv, value: None }
    }

    /// A reader that answers jmt's value lookup for `key` with `value`.
    pub fn with_value(kv: &'a T, key: KeyHash, value: OwnedValue) -> Nodes<'a, T> {
        Nodes {
            kv,
            value: Some((key, value)),
        }
    }
}

impl<T: KvRead + ?Sized> TreeReader for Nodes<'_, T> {
    fn get_node_option(&self, node_key: &NodeKey) -> anyhow::Result<Option<Node>> {
        if let Some(resident) = self.kv.resident_tree() {
            return Ok(resident.get(node_key));
        }
        let k = node_key_bytes(node_key)?;
        match self.kv.get(Table::Nodes, &k)? {
            None => Ok(None),
            Some(b) => Ok(Some(borsh::from_slice(b)?)),
        }
    }

    fn get_value_option(
        &self,
        _max_version: Version,
        key_hash: KeyHash,
    ) -> anyhow::Result<Option<OwnedValue>> {
        match &self.value {
            Some((k, v)) if *k == key_hash => Ok(Some(v.clone())),
            _ => anyhow::bail!("sporedb keeps leaf values in its data tables, not in the tree"),
        }
    }

    fn get_rightmost_leaf(&self) -> anyhow::Result<Option<(NodeKey, LeafNode)>> {
        anyhow::bail!("get_rightmost_leaf (tree restore) is not supported by sporedb's tree store")
    }
}

/// Prefix of the `root` table's lists of stale nodes.
pub const STALE_PREFIX: &[u8] = b"stale/";
/// Stale nodes are deleted every this many tree versions (commit groups).
pub const PRUNE_EVERY: u64 = 32;

/// Writes jmt's update for tree version `version`: staged in memory for a store that keeps
/// its nodes resident (`root::resident`); otherwise the new nodes, and the list of the nodes
/// it made stale (deleted by `prune`, see the module doc).
pub fn write_update<T: KvWrite + ?Sized>(
    kv: &mut T,
    version: Version,
    update: TreeUpdateBatch,
) -> Result<(), StoreError> {
    if let Some(resident) = kv.resident_tree() {
        resident.stage(version, update);
        return Ok(());
    }
    // One encoding buffer for the whole batch.
    let mut bytes = Vec::with_capacity(1024);
    for (key, node) in update.node_batch.nodes() {
        bytes.clear();
        borsh::to_writer(&mut bytes, node)
            .map_err(|_| StoreError::Corrupt("unencodable tree node"))?;
        // New nodes carry the newest version, and their keys start with it.
        kv.put_last(Table::Nodes, &node_key_bytes(key)?, &bytes)?;
    }
    if !update.stale_node_index_batch.is_empty() {
        // `len u16 BE ‖ node key` per stale node (node keys are 8 + 8 + 4 + ≤32 bytes).
        let mut list = Vec::with_capacity(update.stale_node_index_batch.len() * 40);
        for stale in &update.stale_node_index_batch {
            let k = node_key_bytes(&stale.node_key)?;
            let len = u16::try_from(k.len())
                .map_err(|_| StoreError::Corrupt("oversized tree node key"))?;
            list.extend_from_slice(&len.to_be_bytes());
            list.extend_from_slice(&k);
        }
        kv.put(Table::Root, &stale_key(version), &list)?;
    }
    if version.is_multiple_of(PRUNE_EVERY) {
        prune(kv)?;
    }
    Ok(())
}

fn stale_key(version: Version) -> Vec<u8> {
    let mut k = STALE_PREFIX.to_vec();
    k.extend_from_slice(&version.to_be_bytes());
    k
}

/// Deletes every node listed stale, and the lists.
pub fn prune<T: KvWrite + ?Sized>(kv: &mut T) -> Result<(), StoreError> {
    let lists: Vec<Vec<u8>> = prefix_range(&*kv, Table::Root, STALE_PREFIX)?
        .map(|r| r.map(|(_, v)| v.to_vec()))
        .collect::<Result<_, _>>()?;
    for list in &lists {
        let mut rest = list.as_slice();
        while !rest.is_empty() {
            if rest.len() < 2 {
                return Err(StoreError::Corrupt("bad stale node list"));
            }
            let len = usize::from(u16::from_be_bytes([rest[0], rest[1]]));
            let key = rest
                .get(2..2 + len)
                .ok_or(StoreError::Corrupt("bad stale node list"))?;
            kv.delete(Table::Nodes, key)?;
            rest = &rest[2 + len..];
        }
    }
    forget_stale(kv)
}

/// Drops the stale lists without deleting anything (the `nodes` table was cleared: a rebuilt
/// tree restarts its versions at 0, so an old list could name a new node).
pub fn forget_stale<T: KvWrite + ?Sized>(kv: &mut T) -> Result<(), StoreError> {
    delete_prefix(kv, Table::Root, STALE_PREFIX).map(|_| ())
}
