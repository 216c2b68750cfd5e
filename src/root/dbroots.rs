//! Database roots: the state root broken down by database, so a disagreement or a tampered
//! entry can be pinned to the databases it touches (issue 5 §3: a node "stops serving reads
//! for that database").
//!
//! Since format 5 a leaf's tree key begins with its database's index as the first nibble
//! (`leaf::key_hash`), so the subtree under the root's child `d` holds exactly database `d`'s
//! leaves (its keys, elements and `dbs` record). The state root is jmt's hash of the root node
//! over those 16 children. A `DbRoots` is that list of children (hash, and whether the child is a
//! single leaf, which jmt's internal-node hashing distinguishes); [`DbRoots::fold`] recomputes
//! the state root from it exactly as jmt does, so a breakdown received from a peer is checked
//! against the root the peer signed: a false breakdown would need a sha3-256 collision.

use jmt::storage::{Node, NodeKey, TreeReader};
use jmt::SimpleHasher;

use crate::store::kv::{KvRead, KvWrite, Table};
use crate::store::StoreError;

use super::hasher::Sha3;
use super::nodes::{empty_path, Nodes, TreeState};

/// The `root` table key of the recorded breakdown.
const RECORD_KEY: &[u8] = b"dbroots";

/// Databases (Redis's 16), one root child each.
pub const DATABASES: usize = 16;
/// jmt's hash of an empty subtree.
pub const PLACEHOLDER: [u8; 32] = *b"SPARSE_MERKLE_PLACEHOLDER_HASH__";
/// jmt's domain of an internal (binary) node hash (its `SparseMerkleInternalNode` is private).
const INTERNAL_DOMAIN: &[u8] = b"JMT::IntrnalNode";

/// One database's subtree: its hash, and whether it is a single leaf.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct DbRoot {
    pub hash: [u8; 32],
    pub leaf: bool,
}

/// The root's children, by database index (`None`: the database holds nothing).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Default)]
pub struct DbRoots(pub [Option<DbRoot>; DATABASES]);

impl DbRoots {
    /// The breakdown of `kv`'s current tree (one node read).
    pub fn of_tree<T: KvRead + ?Sized>(kv: &T) -> Result<DbRoots, StoreError> {
        let state = TreeState::load(kv)?.ok_or(StoreError::NoStateRoot)?;
        let node = Nodes::new(kv)
            .get_node_option(&NodeKey::new(state.version, empty_path()?))
            .map_err(|e| StoreError::Tree(e.to_string()))?
            .ok_or_else(|| StoreError::Tree("the state tree has no root node".into()))?;
        Ok(DbRoots::of_node(&node))
    }

    /// The breakdown under a tree's root node.
    pub fn of_node(node: &Node) -> DbRoots {
        let mut out = DbRoots::default();
        match node {
            Node::Null => {}
            Node::Leaf(leaf) => {
                let db = usize::from(leaf.key_hash().0[0] >> 4);
                out.0[db] = Some(DbRoot {
                    hash: leaf.hash::<Sha3>(),
                    leaf: true,
                });
            }
            Node::Internal(internal) => {
                for (nibble, child) in internal.children_sorted() {
                    let db = usize::from(u8::from(nibble));
                    out.0[db] = Some(DbRoot {
                        hash: child.hash,
                        leaf: child.is_leaf(),
                    });
                }
            }
        }
        out
    }

    /// The breakdown recorded with the root in the `root` table at its last commit
    /// (`update`), if any: what the open compares a recomputed tree with, since the tree
    /// itself is not stored (`root::resident`).
    pub fn load_recorded<T: KvRead + ?Sized>(kv: &T) -> Result<Option<DbRoots>, StoreError> {
        match kv.get(Table::Root, RECORD_KEY)? {
            None => Ok(None),
            Some(b) => DbRoots::decode(b)
                .map(Some)
                .map_err(|_| StoreError::Corrupt("bad recorded database roots")),
        }
    }

    /// Records this breakdown beside the root (`load_recorded`).
    pub fn record<T: KvWrite + ?Sized>(&self, kv: &mut T) -> Result<(), StoreError> {
        let mut bytes = Vec::with_capacity(4 + 32 * DATABASES);
        self.encode(&mut bytes);
        kv.put(Table::Root, RECORD_KEY, &bytes)
    }

    /// The state root these children hash to, by jmt's rule for an internal node: a range of
    /// children is the placeholder when empty, its only child's hash when that child is a leaf
    /// (or the range is one slot wide), and otherwise `sha3("JMT::IntrnalNode" ‖ left ‖ right)`
    /// over its two halves. A single leaf overall gives that leaf's hash, which is also what
    /// jmt's root is then (the leaf itself).
    pub fn fold(&self) -> [u8; 32] {
        self.fold_range(0, DATABASES)
    }

    fn fold_range(&self, start: usize, width: usize) -> [u8; 32] {
        let mut present = self.0[start..start + width].iter().flatten();
        match (present.next(), present.next()) {
            (None, _) => PLACEHOLDER,
            (Some(only), None) if only.leaf || width == 1 => only.hash,
            _ => {
                let left = self.fold_range(start, width / 2);
                let right = self.fold_range(start + width / 2, width / 2);
                let mut h = <Sha3 as SimpleHasher>::new();
                h.update(INTERNAL_DOMAIN);
                h.update(&left);
                h.update(&right);
                h.finalize()
            }
        }
    }

    /// Databases whose subtrees differ between `self` and `other`, as a bitmask (bit `d` for
    /// database `d`).
    pub fn differing(&self, other: &DbRoots) -> u16 {
        (0..DATABASES)
            .filter(|&d| self.0[d] != other.0[d])
            .fold(0, |m, d| m | 1 << d)
    }

    /// Encoding for gossip: `present u16 BE ‖ leaf u16 BE ‖ hash[32] per present database in
    /// index order`.
    pub fn encode(&self, out: &mut Vec<u8>) {
        let (mut present, mut leaf) = (0u16, 0u16);
        for (d, slot) in self.0.iter().enumerate() {
            if let Some(r) = slot {
                present |= 1 << d;
                if r.leaf {
                    leaf |= 1 << d;
                }
            }
        }
        out.extend_from_slice(&present.to_be_bytes());
        out.extend_from_slice(&leaf.to_be_bytes());
        for r in self.0.iter().flatten() {
            out.extend_from_slice(&r.hash);
        }
    }

    /// Decodes exactly `data` (strict: leaf bits only on present databases, no bytes left).
    pub fn decode(data: &[u8]) -> Result<DbRoots, &'static str> {
        if data.len() < 4 {
            return Err("database roots truncated");
        }
        let present = u16::from_be_bytes([data[0], data[1]]);
        let leaf = u16::from_be_bytes([data[2], data[3]]);
        if leaf & !present != 0 {
            return Err("database roots: a leaf flag on an absent database");
        }
        if data.len() != 4 + 32 * present.count_ones() as usize {
            return Err("database roots of the wrong size");
        }
        let mut out = DbRoots::default();
        let mut at = 4;
        for d in 0..DATABASES {
            if present & (1 << d) != 0 {
                let mut hash = [0u8; 32];
                hash.copy_from_slice(&data[at..at + 32]);
                at += 32;
                out.0[d] = Some(DbRoot {
                    hash,
                    leaf: leaf & (1 << d) != 0,
                });
            }
        }
        Ok(out)
    }
}

/// The databases in a bitmask (bit `d` for database `d`), ascending.
pub fn dbs_in(mask: u16) -> impl Iterator<Item = u8> {
    (0..DATABASES as u8).filter(move |d| mask & (1 << d) != 0)
}

/// Whether a non-empty bitmask of databases covers database `db`; a database index beyond
/// the 16 is covered by any non-empty mask (it cannot be vouched for).
pub fn covers(mask: u16, db: u8) -> bool {
    mask != 0 && (db >= DATABASES as u8 || mask & (1 << db) != 0)
}

/// The databases named by a bitmask, for messages ("0, 3").
pub fn list(mask: u16) -> String {
    dbs_in(mask)
        .map(|d| d.to_string())
        .collect::<Vec<_>>()
        .join(", ")
}

#[cfg(test)]
mod tests {
    use bytes::Bytes;

    use super::*;
    use crate::spore::{Key, KeyVersion};
    use crate::store::kv::{KvWrite, Table};
    use crate::store::layout::{self, Payload, RawRecord};
    use crate::store::MemStore;

    fn put(s: &mut MemStore, db: u8, name: &str) {
        let rec = RawRecord {
            expire_at_ms: 0,
            version: KeyVersion {
                order: [1; 32],
                acc: [2; 32],
            },
            payload: Payload::String(name.as_bytes()),
        };
        let mut w = s.write();
        w.put(
            Table::Keys,
            &layout::key_key(&Key::new(db, Bytes::from(name.to_string()))),
            &layout::encode_record(&rec),
        )
        .unwrap();
        w.commit().unwrap();
    }

    fn check(s: &MemStore) -> DbRoots {
        let r = s.read();
        let dbs = DbRoots::of_tree(&r).unwrap();
        assert_eq!(dbs.fold(), TreeState::load(&r).unwrap().unwrap().root);
        let mut bytes = Vec::new();
        dbs.encode(&mut bytes);
        assert_eq!(DbRoots::decode(&bytes), Ok(dbs));
        dbs
    }

    /// The breakdown folds to jmt's root in every shape the root node can take: empty, one
    /// leaf, one database holding a subtree, several databases, single-leaf databases.
    #[test]
    fn folds_to_the_tree_root_and_pins_databases() {
        let mut s = MemStore::new();
        assert_eq!(check(&s), DbRoots::default());
        put(&mut s, 3, "a");
        let one = check(&s);
        assert!(one.0[3].is_some_and(|r| r.leaf));
        for i in 0..40 {
            put(&mut s, 0, &format!("k{i}"));
        }
        let before = check(&s);
        assert!(before.0[0].is_some_and(|r| !r.leaf));
        put(&mut s, 5, "x");
        let after = check(&s);
        assert_eq!(before.differing(&after), 1 << 5);
        put(&mut s, 0, "k1");
        put(&mut s, 0, "new");
        assert_eq!(after.differing(&check(&s)), 1);
        assert_eq!(list(1 << 5 | 1), "0, 5");
        assert!(covers(1 << 5, 5) && !covers(1 << 5, 4) && covers(1, 200) && !covers(0, 200));
    }

    #[test]
    fn decode_is_strict() {
        assert!(DbRoots::decode(&[0, 0, 0]).is_err());
        assert!(DbRoots::decode(&[0, 1, 0, 2]).is_err());
        assert!(DbRoots::decode(&[0, 1, 0, 0]).is_err());
        let mut ok = vec![0, 1, 0, 1];
        ok.extend_from_slice(&[9; 32]);
        assert!(DbRoots::decode(&ok).is_ok());
        ok.push(0);
        assert!(DbRoots::decode(&ok).is_err());
    }
}
