//! The narrow key-value interface every backend implements, and all store logic is written on.
//!
//! A backend offers nine ordered byte tables (`Table`), `get` / ordered `range` for reads and
//! `put` / `delete` for writes. Records, lists, sets, versions and the executor live above this
//! trait, once, so the LMDB store and the in-memory store (the consensus simulator's) hold
//! byte-identical tables after the same spores. Reads borrow from the transaction (zero-copy
//! on LMDB).

use std::ops::Bound;

use super::error::StoreError;

/// The tables. The discriminant is part of `state_digest` (frozen).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Table {
    /// `db ‖ name` → key record.
    Keys = 0,
    /// `db ‖ u32 BE name len ‖ name ‖ sub` → list element / set member: empty, or its version
    /// (`stamp ‖ order ‖ acc`, docs/VERSIONS.md "Set members").
    Elems = 1,
    /// `db` → database state.
    Dbs = 2,
    /// `db ‖ at_ms u64 BE ‖ name` → empty: the expiry index.
    Expires = 3,
    /// `deadline_ms u64 BE ‖ spore id` → empty: the applied spores.
    Applied = 4,
    /// name → value: format version etc.
    Meta = 5,
    /// `db ‖ h64(name) u64 BE ‖ name` → empty: the live keys in hash order (SCAN, RANDOMKEY).
    Scan = 6,
    /// The state tree's nodes (`crate::root::nodes`); this node's bookkeeping, not replicated.
    Nodes = 7,
    /// The state tree's version and root, and the applied-set digest; not replicated.
    Root = 8,
    /// The member's `elems` key (`db ‖ u32 BE name len ‖ name ‖ h64(member) ‖ member`) →
    /// `stamp[32] ‖ order[32] ‖ acc[32]`: the versions
    /// of set members that were removed (docs/VERSIONS.md "Set members"); a member in the set
    /// keeps its version in its `elems` entry.
    Members = 9,
}

impl Table {
    /// How many tables there are (the size of per-table arrays).
    pub const COUNT: usize = 10;

    pub const ALL: [Table; Table::COUNT] = [
        Table::Keys,
        Table::Elems,
        Table::Dbs,
        Table::Expires,
        Table::Applied,
        Table::Meta,
        Table::Scan,
        Table::Nodes,
        Table::Root,
        Table::Members,
    ];

    /// The tables replicas must hold byte for byte (what `state_digest` covers). The state
    /// tree's tables are left out: their node versions count this node's commit groups.
    pub const REPLICATED: [Table; 8] = [
        Table::Keys,
        Table::Elems,
        Table::Dbs,
        Table::Expires,
        Table::Applied,
        Table::Meta,
        Table::Scan,
        Table::Members,
    ];

    /// The table's name (the LMDB database name).
    pub fn name(self) -> &'static str {
        match self {
            Table::Keys => "keys",
            Table::Elems => "elems",
            Table::Dbs => "dbs",
            Table::Expires => "expires",
            Table::Applied => "applied",
            Table::Meta => "meta",
            Table::Scan => "scan",
            Table::Nodes => "nodes",
            Table::Root => "root",
            Table::Members => "members",
        }
    }
}

/// An ordered iterator over `(key, value)` entries borrowed from a transaction.
pub type KvIter<'a> = Box<dyn Iterator<Item = Result<(&'a [u8], &'a [u8]), StoreError>> + 'a>;

/// Read access to a consistent snapshot of the tables.
pub trait KvRead {
    /// The value stored under `key`.
    fn get(&self, table: Table, key: &[u8]) -> Result<Option<&[u8]>, StoreError>;

    /// The entries with keys within `(lo, hi)`, ascending, or descending with `rev`.
    fn range<'a>(
        &'a self,
        table: Table,
        lo: Bound<&[u8]>,
        hi: Bound<&[u8]>,
        rev: bool,
    ) -> Result<KvIter<'a>, StoreError>;

    /// How many entries `table` holds, when the backend knows it without counting (LMDB keeps
    /// it in the table's header); `None` otherwise.
    fn entry_count(&self, _table: Table) -> Result<Option<u64>, StoreError> {
        Ok(None)
    }

    /// Where this backend keeps the state tree's nodes when not in its `nodes` table: LMDB
    /// stores keep them in memory (`root::resident`); the in-memory store uses the table.
    fn resident_tree(&self) -> Option<&crate::root::resident::ResidentTree> {
        None
    }
}

/// Write access. A write transaction sees its own writes.
pub trait KvWrite: KvRead {
    fn put(&mut self, table: Table, key: &[u8], value: &[u8]) -> Result<(), StoreError>;
    /// `put` of a key that most likely sorts after every key already in `table` (the state
    /// tree's new nodes, keyed version first): LMDB then appends to the table's last page
    /// without searching its B-tree. A key that does not sort last is put normally.
    fn put_last(&mut self, table: Table, key: &[u8], value: &[u8]) -> Result<(), StoreError> {
        self.put(table, key, value)
    }
    /// Removes `key`; whether it was present.
    fn delete(&mut self, table: Table, key: &[u8]) -> Result<bool, StoreError>;
}

/// The entries whose key starts with `prefix`, ascending.
pub fn prefix_range<'a, T: KvRead + ?Sized>(
    kv: &'a T,
    table: Table,
    prefix: &[u8],
) -> Result<KvIter<'a>, StoreError> {
    // LMDB refuses an empty key, even as a range bound; the empty prefix is the whole table.
    let lo = if prefix.is_empty() {
        Bound::Unbounded
    } else {
        Bound::Included(prefix)
    };
    match prefix_end(prefix) {
        Some(end) => kv.range(table, lo, Bound::Excluded(&end), false),
        None => kv.range(table, lo, Bound::Unbounded, false),
    }
}

/// The smallest byte string greater than every string starting with `prefix` (None if the
/// prefix is all 0xff, i.e. unbounded).
pub fn prefix_end(prefix: &[u8]) -> Option<Vec<u8>> {
    let mut end = prefix.to_vec();
    while let Some(last) = end.pop() {
        if last < 0xff {
            end.push(last + 1);
            return Some(end);
        }
    }
    None
}

/// Deletes every entry whose key starts with `prefix`; how many. Collects keys in chunks so the
/// iteration never overlaps a mutation.
pub fn delete_prefix<T: KvWrite + ?Sized>(
    kv: &mut T,
    table: Table,
    prefix: &[u8],
) -> Result<u64, StoreError> {
    let mut removed = 0u64;
    loop {
        let chunk: Vec<Vec<u8>> = prefix_range(kv, table, prefix)?
            .take(1024)
            .map(|r| r.map(|(k, _)| k.to_vec()))
            .collect::<Result<_, _>>()?;
        if chunk.is_empty() {
            return Ok(removed);
        }
        for k in &chunk {
            kv.delete(table, k)?;
        }
        removed += chunk.len() as u64;
    }
}

/// Deletes every entry of `table`.
pub fn clear_table<T: KvWrite + ?Sized>(kv: &mut T, table: Table) -> Result<(), StoreError> {
    delete_prefix(kv, table, b"").map(|_| ())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn prefix_end_carries() {
        assert_eq!(prefix_end(b"ab"), Some(b"ac".to_vec()));
        assert_eq!(prefix_end(b"a\xff"), Some(b"b".to_vec()));
        assert_eq!(prefix_end(b"\xff\xff"), None);
        assert_eq!(prefix_end(b""), None);
    }
}
