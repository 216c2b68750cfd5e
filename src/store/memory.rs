//! The in-memory backend: one `BTreeMap` per table, with the same ordering as LMDB (plain byte order).
//!
//! The consensus simulator runs the exact executor over it; `state_digest` then shows whether
//! replicas hold byte-identical state. A write transaction keeps an undo log and rolls back
//! unless committed, so an aborted group leaves nothing behind, as with LMDB.

use std::collections::BTreeMap;
use std::ops::Bound;

use super::error::StoreError;
use super::kv::{KvIter, KvRead, KvWrite, Table};
use crate::root::update::Dirty;

type Map = BTreeMap<Vec<u8>, Vec<u8>>;

/// An in-memory store. `Clone` gives an independent copy (a replica snapshot). It keeps the
/// state tree like the LMDB store (`crate::root`), so both backends give the same root.
/// Equality compares tables, including the tree's nodes (which depend on commit grouping):
/// compare `state_digest` or `state_root` to compare replicas.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MemStore {
    tables: [Map; Table::COUNT],
    /// Whether writes keep the state tree current.
    root: bool,
}

impl Default for MemStore {
    fn default() -> MemStore {
        MemStore::new()
    }
}

impl MemStore {
    /// An empty store, holding the same `meta` entries as a freshly opened LMDB store.
    pub fn new() -> MemStore {
        let mut s = MemStore::without_root();
        s.root = true;
        {
            let mut w = s.write();
            // Building over empty tables only writes the empty tree: it cannot fail.
            if crate::root::update::build(&mut w).is_ok() {
                let _ = w.commit();
            }
        }
        s
    }

    /// An empty store that keeps no state tree (a scratch space, and the cost baseline).
    pub fn without_root() -> MemStore {
        let mut s = MemStore {
            tables: Default::default(),
            root: false,
        };
        s.tables[Table::Meta as usize].insert(
            super::layout::META_FORMAT.to_vec(),
            super::layout::FORMAT_VERSION.to_be_bytes().to_vec(),
        );
        s
    }

    /// A read view (a snapshot: nothing can write while it is borrowed).
    pub fn read(&self) -> MemRead<'_> {
        MemRead {
            tables: &self.tables,
        }
    }

    /// A write transaction: rolled back on drop unless committed.
    pub fn write(&mut self) -> MemWrite<'_> {
        MemWrite {
            tables: &mut self.tables,
            undo: Vec::new(),
            dirty: self.root.then(Dirty::default),
        }
    }
}

/// A read view of a `MemStore`.
pub struct MemRead<'s> {
    tables: &'s [Map; Table::COUNT],
}

/// A write transaction on a `MemStore`.
pub struct MemWrite<'s> {
    tables: &'s mut [Map; Table::COUNT],
    /// (table, key, previous value) in write order.
    undo: Vec<(Table, Vec<u8>, Option<Vec<u8>>)>,
    /// What the state tree must take in at commit (`None`: no tree).
    dirty: Option<Dirty>,
}

impl MemWrite<'_> {
    /// Updates the state tree (if kept), then keeps everything written.
    pub fn commit(mut self) -> Result<(), StoreError> {
        if let Some(dirty) = self.dirty.take() {
            crate::root::update::apply(&mut self, dirty)?;
        }
        self.undo.clear();
        Ok(())
    }

    /// Discards everything written.
    pub fn abort(self) {}
}

impl Drop for MemWrite<'_> {
    fn drop(&mut self) {
        while let Some((t, k, old)) = self.undo.pop() {
            let map = &mut self.tables[t as usize];
            match old {
                Some(v) => map.insert(k, v),
                None => map.remove(&k),
            };
        }
    }
}

fn range<'a>(map: &'a Map, lo: Bound<&[u8]>, hi: Bound<&[u8]>, rev: bool) -> KvIter<'a> {
    // BTreeMap::range panics on inverted bounds; LMDB yields nothing.
    let empty = match (lo, hi) {
        (Bound::Included(a), Bound::Included(b)) => a > b,
        (Bound::Included(a) | Bound::Excluded(a), Bound::Excluded(b))
        | (Bound::Excluded(a), Bound::Included(b)) => a >= b,
        _ => false,
    };
    if empty {
        return Box::new(std::iter::empty());
    }
    let r = map.range::<[u8], _>((lo, hi));
    if rev {
        Box::new(r.rev().map(|(k, v)| Ok((k.as_slice(), v.as_slice()))))
    } else {
        Box::new(r.map(|(k, v)| Ok((k.as_slice(), v.as_slice()))))
    }
}

impl KvRead for MemRead<'_> {
    fn get(&self, table: Table, key: &[u8]) -> Result<Option<&[u8]>, StoreError> {
        Ok(self.tables[table as usize].get(key).map(Vec::as_slice))
    }

    fn range<'a>(
        &'a self,
        table: Table,
        lo: Bound<&[u8]>,
        hi: Bound<&[u8]>,
        rev: bool,
    ) -> Result<KvIter<'a>, StoreError> {
        Ok(range(&self.tables[table as usize], lo, hi, rev))
    }
}

impl KvRead for MemWrite<'_> {
    fn get(&self, table: Table, key: &[u8]) -> Result<Option<&[u8]>, StoreError> {
        Ok(self.tables[table as usize].get(key).map(Vec::as_slice))
    }

    fn entry_count(&self, table: Table) -> Result<Option<u64>, StoreError> {
        Ok(Some(self.tables[table as usize].len() as u64))
    }

    fn range<'a>(
        &'a self,
        table: Table,
        lo: Bound<&[u8]>,
        hi: Bound<&[u8]>,
        rev: bool,
    ) -> Result<KvIter<'a>, StoreError> {
        Ok(range(&self.tables[table as usize], lo, hi, rev))
    }
}

impl KvWrite for MemWrite<'_> {
    fn put(&mut self, table: Table, key: &[u8], value: &[u8]) -> Result<(), StoreError> {
        let old = self.tables[table as usize].insert(key.to_vec(), value.to_vec());
        if let Some(d) = &mut self.dirty {
            d.note(table, key, old.is_none());
        }
        self.undo.push((table, key.to_vec(), old));
        Ok(())
    }

    fn delete(&mut self, table: Table, key: &[u8]) -> Result<bool, StoreError> {
        let old = self.tables[table as usize].remove(key);
        let existed = old.is_some();
        // As in the LMDB backend: only a real removal concerns the tree.
        if let (true, Some(d)) = (existed, &mut self.dirty) {
            d.note(table, key, false);
            if table == Table::Applied {
                d.note_applied_removed(key);
            }
        }
        if existed {
            self.undo.push((table, key.to_vec(), old));
        }
        Ok(existed)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn uncommitted_writes_roll_back() {
        let mut s = MemStore::new();
        {
            let mut w = s.write();
            w.put(Table::Keys, b"a", b"1").unwrap();
            w.commit().unwrap();
        }
        {
            let mut w = s.write();
            w.put(Table::Keys, b"a", b"2").unwrap();
            w.put(Table::Keys, b"b", b"3").unwrap();
            w.delete(Table::Keys, b"a").unwrap();
            w.abort();
        }
        let r = s.read();
        assert_eq!(r.get(Table::Keys, b"a").unwrap(), Some(&b"1"[..]));
        assert_eq!(r.get(Table::Keys, b"b").unwrap(), None);
        let all: Vec<_> = r
            .range(
                Table::Keys,
                Bound::Excluded(b"b"),
                Bound::Included(b"a"),
                false,
            )
            .unwrap()
            .collect();
        assert!(all.is_empty());
    }
}
