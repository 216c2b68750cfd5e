//! What state transfer copies: every replicated table (keys, elements, databases, the expiry
//! and scan indexes, the applied spores — the latter so a spore already in the copy is never
//! applied twice), and not `meta` (this node's own format bookkeeping). Entries are copied
//! byte for byte, so the copy's digest is comparable with the peers' digests.

use std::collections::BTreeMap;
use std::ops::Bound;

use bytes::Bytes;
use sha3::{Digest as _, Sha3_256};

use crate::crypto::Digest;
use crate::store::digest::frame_entry;
use crate::store::kv::clear_table;
use crate::store::{KvRead, KvWrite, StoreError, Table};

/// The tables state transfer copies, in digest order.
pub const SYNC_TABLES: [Table; 6] = [
    Table::Keys,
    Table::Elems,
    Table::Dbs,
    Table::Expires,
    Table::Applied,
    Table::Scan,
];

const DOMAIN: &[u8] = b"sporedb/v1/sync-digest";

/// One table page: entries ascending, and whether the table continues.
pub type Page = (Vec<(Bytes, Bytes)>, bool);
/// A verified-or-not copy of the replicated tables, entries ascending per table.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct Snapshot {
    pub tables: BTreeMap<u8, Vec<(Bytes, Bytes)>>,
}

fn table_of(tag: u8) -> Option<Table> {
    SYNC_TABLES.iter().copied().find(|t| *t as u8 == tag)
}

/// Hashes the sync tables in order with `store::digest`'s entry framing; `each` feeds one
/// table's entries (streamed: nothing is collected).
fn hash_tables<E>(
    mut each: impl FnMut(Table, &mut Sha3_256) -> Result<(), E>,
) -> Result<Digest, E> {
    let mut h = Sha3_256::new();
    h.update(DOMAIN);
    for t in SYNC_TABLES {
        h.update([t as u8]);
        each(t, &mut h)?;
        h.update([0u8]);
    }
    Ok(h.finalize().into())
}

/// The digest of a store's replicated tables.
pub fn sync_digest<T: KvRead + ?Sized>(kv: &T) -> Result<Digest, StoreError> {
    hash_tables(|t, h| {
        for e in kv.range(t, Bound::Unbounded, Bound::Unbounded, false)? {
            let (k, v) = e?;
            frame_entry(h, k, v);
        }
        Ok(())
    })
}

impl Snapshot {
    /// The digest the copy would have once installed; `None` if it is malformed (an unknown
    /// table, or entries not strictly ascending — a peer's answer is untrusted).
    pub fn digest(&self) -> Option<Digest> {
        for (tag, entries) in &self.tables {
            table_of(*tag)?;
            if entries.windows(2).any(|w| w[0].0 >= w[1].0) {
                return None;
            }
        }
        hash_tables::<std::convert::Infallible>(|t, h| {
            for (k, v) in self.tables.get(&(t as u8)).into_iter().flatten() {
                frame_entry(h, k, v);
            }
            Ok(())
        })
        .ok()
    }

    pub fn entries(&self) -> usize {
        self.tables.values().map(Vec::len).sum()
    }
}

/// One page of a table for a peer: entries after `after`, up to about `max_bytes`; `more` when
/// the table continues.
pub fn read_page<T: KvRead + ?Sized>(
    kv: &T,
    table: u8,
    after: Option<&[u8]>,
    max_bytes: usize,
) -> Result<Option<Page>, StoreError> {
    let Some(t) = table_of(table) else {
        return Ok(None);
    };
    let lo = match after {
        Some(k) => Bound::Excluded(k),
        None => Bound::Unbounded,
    };
    let mut out = Vec::new();
    let mut size = 0usize;
    for e in kv.range(t, lo, Bound::Unbounded, false)? {
        let (k, v) = e?;
        if size >= max_bytes && !out.is_empty() {
            return Ok(Some((out, true)));
        }
        size += k.len() + v.len() + 8;
        out.push((Bytes::copy_from_slice(k), Bytes::copy_from_slice(v)));
    }
    Ok(Some((out, false)))
}

/// Replaces the replicated tables with a (verified) copy, inside the caller's transaction.
pub fn install<T: KvWrite + ?Sized>(kv: &mut T, snapshot: &Snapshot) -> Result<(), StoreError> {
    for t in SYNC_TABLES {
        clear_table(kv, t)?;
        if let Some(entries) = snapshot.tables.get(&(t as u8)) {
            for (k, v) in entries {
                kv.put(t, k, v)?;
            }
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::MemStore;

    fn copy_of(store: &MemStore) -> Snapshot {
        let r = store.read();
        let mut snap = Snapshot::default();
        for t in SYNC_TABLES {
            let mut after: Option<Bytes> = None;
            loop {
                let (page, more) = read_page(&r, t as u8, after.as_deref(), 16)
                    .expect("read")
                    .expect("table");
                after = page.last().map(|(k, _)| k.clone());
                snap.tables.entry(t as u8).or_default().extend(page);
                if !more {
                    break;
                }
            }
        }
        snap
    }

    #[test]
    fn paged_copy_installs_to_the_same_digest() {
        let mut a = MemStore::new();
        {
            let mut w = a.write();
            for i in 0..100u32 {
                w.put(Table::Keys, format!("k{i:03}").as_bytes(), b"v")
                    .expect("put");
                w.put(Table::Elems, format!("e{i:03}").as_bytes(), b"")
                    .expect("put");
            }
            w.put(Table::Meta, b"format", b"x").expect("put");
            w.commit().expect("commit");
        }
        let snap = copy_of(&a);
        assert_eq!(snap.entries(), 200);
        let want = sync_digest(&a.read()).expect("digest");
        assert_eq!(snap.digest(), Some(want));

        let mut b = MemStore::new();
        {
            let mut w = b.write();
            w.put(Table::Keys, b"stale", b"old").expect("put");
            install(&mut w, &snap).expect("install");
            w.commit().expect("commit");
        }
        assert_eq!(sync_digest(&b.read()).expect("digest"), want);

        let mut bad = snap.clone();
        if let Some(es) = bad.tables.get_mut(&(Table::Keys as u8)) {
            es.swap(0, 1);
        }
        assert_eq!(bad.digest(), None);
        let mut forged = snap;
        if let Some(es) = forged.tables.get_mut(&(Table::Keys as u8)) {
            es[0].1 = Bytes::from_static(b"forged");
        }
        assert_ne!(forged.digest(), Some(want));
    }
}
