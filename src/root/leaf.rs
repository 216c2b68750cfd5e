//! What the state tree covers: one leaf per entry of the `keys`, `elems`, `dbs` and `members`
//! tables.
//!
//! A leaf's key is `sha3-256("sporedb/v1/leaf" ‖ 0x00 ‖ table tag u8 ‖ table key)` (the table
//! tag is `Table as u8`: keys = 0, elems = 1, dbs = 2, members = 9) with its first nibble replaced by the
//! entry's database (every leaf table's key starts with the db byte, 0..15): the root's child
//! `d` is then database `d`'s subtree, whose hash the node can compare with its peers' to pin a
//! divergence or a tampered entry to one database (`dbroots`; format 5). The 252 bits left
//! still make distinct entries' keys collide only by a sha3 collision. Its value is the entry's stored
//! bytes, exactly as `store::layout` encodes them: a key record (kind, expire_at, version,
//! string bytes / list head+tail / set cardinality), a list element, a set-member entry
//! (empty, or the member's version), a database record (generation, version sum, live keys),
//! the one global-policy record (`dbs` key `0x00 ‖ "policy"`: the last policy change applied,
//! whose leaf sits in database 0's subtree; `store::layout::POLICY_KEY`), or a removed set
//! member's version
//! (stamp, order, acc; member versions decide which set-member spores may apply, so they are
//! replicated state like a key's version).
//! Those tables are the replicated data — `state_digest` already requires replicas to hold
//! them byte for byte — so replicas that applied the same spores, in any order the commutation
//! rules allow, have the same leaves and therefore the same root.
//!
//! Why one leaf per entry rather than one per Redis key: an SADD or RPUSH then costs one or two
//! leaf updates whatever the collection's size, instead of rehashing the whole collection.
//! `dbs` is covered (format 4) because its generation is replicated state that no other
//! table determines (it changes on FLUSHDB), and state transfer must be able to check it. The
//! other tables are derived (`expires`, `scan`: rebuilt from `keys` when a copy is installed),
//! per-node bookkeeping (`meta`, the tree's own), or summarised separately (`applied`: the
//! applied-set digest, `root::applied`).

use jmt::{KeyHash, SimpleHasher};

use crate::store::kv::Table;

use super::hasher::Sha3;

/// Domain of leaf key hashes.
pub const LEAF_DOMAIN: &[u8] = b"sporedb/v1/leaf";

/// The tables whose entries are leaves of the state tree, in build order.
pub const LEAF_TABLES: [Table; 4] = [Table::Keys, Table::Elems, Table::Dbs, Table::Members];

/// Whether entries of `table` are leaves of the state tree.
pub fn is_leaf_table(table: Table) -> bool {
    matches!(
        table,
        Table::Keys | Table::Elems | Table::Dbs | Table::Members
    )
}

/// The tree key of entry `key` of `table`.
pub fn key_hash(table: Table, key: &[u8]) -> KeyHash {
    let mut h = <Sha3 as SimpleHasher>::new();
    h.update(LEAF_DOMAIN);
    h.update(&[0, table as u8]);
    h.update(key);
    let mut k = h.finalize();
    let db = key.first().copied().unwrap_or(0) & 0x0f;
    k[0] = db << 4 | (k[0] & 0x0f);
    KeyHash(k)
}

/// The table a proof's tag names, if it is a leaf table.
pub fn leaf_table(tag: u8) -> Option<Table> {
    LEAF_TABLES.into_iter().find(|t| *t as u8 == tag)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Golden: the leaf key of db 0, key "a" in `keys`. Changing it changes every root.
    #[test]
    fn key_hash_is_frozen() {
        let mut expected = crate::crypto::sha3(&[b"sporedb/v1/leaf", &[0, 0], &[0], b"a"]);
        expected[0] &= 0x0f;
        assert_eq!(key_hash(Table::Keys, b"\x00a").0, expected);
        // Database 5's entries all sit under the root's child 5.
        assert_eq!(key_hash(Table::Keys, b"\x05a").0[0] >> 4, 5);
        assert_eq!(
            key_hash(Table::Elems, b"\x05\x00\x00\x00\x01ax").0[0] >> 4,
            5
        );
        assert_eq!(key_hash(Table::Dbs, b"\x05").0[0] >> 4, 5);
        // The policy record is a `dbs` leaf of database 0's subtree, distinct from db 0's record.
        let policy = key_hash(Table::Dbs, crate::store::layout::POLICY_KEY);
        let mut expected = crate::crypto::sha3(&[b"sporedb/v1/leaf", &[0, 2], b"\x00policy"]);
        expected[0] &= 0x0f;
        assert_eq!(policy.0, expected);
        assert_ne!(policy, key_hash(Table::Dbs, b"\x00"));
        assert_ne!(
            key_hash(Table::Elems, b"\x00a"),
            key_hash(Table::Keys, b"\x00a")
        );
        assert_eq!(leaf_table(1), Some(Table::Elems));
        assert_eq!(leaf_table(2), Some(Table::Dbs));
        assert_eq!(leaf_table(4), None);
    }
}
