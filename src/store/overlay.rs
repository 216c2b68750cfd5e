//! A private write layer over a read snapshot: reads fall through to the snapshot, writes stay
//! in memory and are never committed.
//!
//! MULTI needs this: a read queued after a write in the same transaction must see that write,
//! but nothing may reach the store before the transaction's spore commits. EXEC runs the pending
//! ops with the real executor (`crate::exec::preview_ops`) into a `Layer` over its snapshot and
//! answers the read from `Layered` — the store's own typed reads (`StoreRead`) over the merged
//! view, so the answer is computed by the same code as any other read.
//!
//! A `Layer` records, per table, the value each written key has now (`None`: deleted). Ranges
//! merge the snapshot's entries with the layer's in key order, the layer winning on equal keys.

use std::collections::BTreeMap;
use std::iter::Peekable;
use std::ops::Bound;

use super::error::StoreError;
use super::kv::{KvIter, KvRead, KvWrite, Table};

type Writes = BTreeMap<Vec<u8>, Option<Vec<u8>>>;

/// Writes made over a snapshot, per table.
#[derive(Debug, Clone, Default)]
pub struct Layer {
    tables: [Writes; Table::COUNT],
}

impl Layer {
    /// Whether nothing was written.
    pub fn is_empty(&self) -> bool {
        self.tables.iter().all(BTreeMap::is_empty)
    }
}

/// Read-only merged view of `base` with `layer` on top.
pub struct Layered<'a, B: ?Sized> {
    pub base: &'a B,
    pub layer: &'a Layer,
}

/// Writable merged view: writes go to `layer`, never to `base`.
pub struct LayeredMut<'a, B: ?Sized> {
    pub base: &'a B,
    pub layer: &'a mut Layer,
}

fn get<'a, B: KvRead + ?Sized>(
    base: &'a B,
    layer: &'a Layer,
    table: Table,
    key: &[u8],
) -> Result<Option<&'a [u8]>, StoreError> {
    match layer.tables[table as usize].get(key) {
        Some(v) => Ok(v.as_deref()),
        None => base.get(table, key),
    }
}

fn range<'a, B: KvRead + ?Sized>(
    base: &'a B,
    layer: &'a Layer,
    table: Table,
    lo: Bound<&[u8]>,
    hi: Bound<&[u8]>,
    rev: bool,
) -> Result<KvIter<'a>, StoreError> {
    let below = base.range(table, lo, hi, rev)?;
    let writes = &layer.tables[table as usize];
    if writes.is_empty() {
        return Ok(below);
    }
    // BTreeMap::range panics on inverted bounds; the store yields nothing for them.
    let inverted = match (lo, hi) {
        (Bound::Included(a), Bound::Included(b)) => a > b,
        (Bound::Included(a) | Bound::Excluded(a), Bound::Excluded(b))
        | (Bound::Excluded(a), Bound::Included(b)) => a >= b,
        _ => false,
    };
    let top: TopIter<'a> = if inverted {
        Box::new(std::iter::empty())
    } else {
        let r = writes
            .range::<[u8], _>((lo, hi))
            .map(|(k, v)| (k.as_slice(), v.as_deref()));
        if rev {
            Box::new(r.rev())
        } else {
            Box::new(r)
        }
    };
    Ok(Box::new(Merge {
        below: below.peekable(),
        top: top.peekable(),
        rev,
    }))
}

type TopIter<'a> = Box<dyn Iterator<Item = (&'a [u8], Option<&'a [u8]>)> + 'a>;

/// Two ordered streams merged; on equal keys the top one wins; deleted entries are skipped.
struct Merge<'a> {
    below: Peekable<KvIter<'a>>,
    top: Peekable<TopIter<'a>>,
    rev: bool,
}

impl<'a> Iterator for Merge<'a> {
    type Item = Result<(&'a [u8], &'a [u8]), StoreError>;

    fn next(&mut self) -> Option<Self::Item> {
        loop {
            let below_key = match self.below.peek() {
                Some(Err(_)) => return self.below.next(),
                Some(Ok((k, _))) => Some(*k),
                None => None,
            };
            let top_key = self.top.peek().map(|(k, _)| *k);
            let take_top = match (below_key, top_key) {
                (None, None) => return None,
                (Some(_), None) => false,
                (None, Some(_)) => true,
                (Some(b), Some(t)) => match b.cmp(t) {
                    std::cmp::Ordering::Equal => {
                        // Shadowed by the layer.
                        self.below.next();
                        true
                    }
                    std::cmp::Ordering::Less => self.rev,
                    std::cmp::Ordering::Greater => !self.rev,
                },
            };
            if !take_top {
                return self.below.next();
            }
            match self.top.next() {
                Some((k, Some(v))) => return Some(Ok((k, v))),
                // Deleted in the layer: hide it and look further.
                Some((_, None)) => continue,
                None => return None,
            }
        }
    }
}

impl<B: KvRead + ?Sized> KvRead for Layered<'_, B> {
    fn get(&self, table: Table, key: &[u8]) -> Result<Option<&[u8]>, StoreError> {
        get(self.base, self.layer, table, key)
    }

    /// Read-only: the base's tree nodes are the snapshot's. (`LayeredMut` does not forward
    /// it: a tree update there would stage into the base store's tree.)
    fn resident_tree(&self) -> Option<&crate::root::resident::ResidentTree> {
        self.base.resident_tree()
    }

    fn range<'a>(
        &'a self,
        table: Table,
        lo: Bound<&[u8]>,
        hi: Bound<&[u8]>,
        rev: bool,
    ) -> Result<KvIter<'a>, StoreError> {
        range(self.base, self.layer, table, lo, hi, rev)
    }
}

impl<B: KvRead + ?Sized> KvRead for LayeredMut<'_, B> {
    fn get(&self, table: Table, key: &[u8]) -> Result<Option<&[u8]>, StoreError> {
        get(self.base, self.layer, table, key)
    }

    fn range<'a>(
        &'a self,
        table: Table,
        lo: Bound<&[u8]>,
        hi: Bound<&[u8]>,
        rev: bool,
    ) -> Result<KvIter<'a>, StoreError> {
        range(self.base, self.layer, table, lo, hi, rev)
    }
}

impl<B: KvRead + ?Sized> KvWrite for LayeredMut<'_, B> {
    fn put(&mut self, table: Table, key: &[u8], value: &[u8]) -> Result<(), StoreError> {
        self.layer.tables[table as usize].insert(key.to_vec(), Some(value.to_vec()));
        Ok(())
    }

    fn delete(&mut self, table: Table, key: &[u8]) -> Result<bool, StoreError> {
        let existed = self.get(table, key)?.is_some();
        if existed {
            self.layer.tables[table as usize].insert(key.to_vec(), None);
        }
        Ok(existed)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::MemStore;

    fn collect(kv: &dyn KvRead, rev: bool) -> Vec<(Vec<u8>, Vec<u8>)> {
        kv.range(Table::Keys, Bound::Unbounded, Bound::Unbounded, rev)
            .unwrap()
            .map(|e| e.map(|(k, v)| (k.to_vec(), v.to_vec())).unwrap())
            .collect()
    }

    #[test]
    fn layer_shadows_and_never_writes_through() {
        let mut store = MemStore::new();
        {
            let mut w = store.write();
            for k in [b"a", b"c", b"e"] {
                w.put(Table::Keys, k, b"base").unwrap();
            }
            w.commit().unwrap();
        }
        let base = store.read();
        let mut layer = Layer::default();
        {
            let mut w = LayeredMut {
                base: &base,
                layer: &mut layer,
            };
            w.put(Table::Keys, b"b", b"new").unwrap();
            w.put(Table::Keys, b"c", b"over").unwrap();
            assert!(w.delete(Table::Keys, b"e").unwrap());
            assert!(!w.delete(Table::Keys, b"zz").unwrap());
        }
        let view = Layered {
            base: &base,
            layer: &layer,
        };
        let fwd = collect(&view, false);
        let keys: Vec<_> = fwd
            .iter()
            .map(|(k, v)| (k.as_slice(), v.as_slice()))
            .collect();
        assert_eq!(
            keys,
            vec![(&b"a"[..], &b"base"[..]), (b"b", b"new"), (b"c", b"over")]
        );
        let mut back = collect(&view, true);
        back.reverse();
        assert_eq!(back, fwd);
        assert_eq!(view.get(Table::Keys, b"e").unwrap(), None);
        assert_eq!(
            view.range(
                Table::Keys,
                Bound::Included(b"b"),
                Bound::Excluded(b"c"),
                false
            )
            .unwrap()
            .count(),
            1
        );
        assert_eq!(
            view.range(
                Table::Keys,
                Bound::Included(b"c"),
                Bound::Excluded(b"b"),
                false
            )
            .unwrap()
            .count(),
            0
        );
        // The base is untouched.
        assert_eq!(collect(&base, false).len(), 3);
    }
}
