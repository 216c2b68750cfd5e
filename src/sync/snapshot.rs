//! What state transfer copies, how a copy is checked, and how it is installed.
//!
//! Copied: the tables the state root covers (`keys`, `elems`, `dbs`: `root::leaf`; `dbs` holds
//! the global-policy record too, so a node that catches up learns the policy the cluster
//! committed, checked like the rest, and the driver switches to it) and
//! `applied` (so a spore already in the copy is never applied twice; the applied-set digest
//! covers it). Not copied: `expires` and `scan`, indexes derived from `keys` that the receiver
//! rebuilds itself (a peer's copy of them could not be checked against any root), and this
//! node's own bookkeeping (`meta`, the tree's tables).
//!
//! A copy is believed only through its root: [`Snapshot::root`] recomputes, from the copied
//! entries alone, the tree root and the applied-set digest; the fetcher compares that with a
//! root that trusted peers signed, and [`install_verified`] rebuilds the tree from what it
//! wrote and refuses (the caller aborts the transaction) unless it is that same root.

use std::collections::BTreeMap;
use std::ops::Bound;

use bytes::Bytes;

use crate::root::{AppliedSet, Root};
use crate::store::kv::clear_table;
use crate::store::{layout, KvRead, KvWrite, MemStore, StoreError, Table};

/// The tables state transfer copies, in copy order.
pub const SYNC_TABLES: [Table; 5] = [
    Table::Keys,
    Table::Elems,
    Table::Dbs,
    Table::Applied,
    Table::Members,
];

/// The tables rebuilt from `keys` when a copy is installed.
const DERIVED_TABLES: [Table; 2] = [Table::Expires, Table::Scan];

/// One table page: entries ascending, and whether the table continues.
pub type Page = (Vec<(Bytes, Bytes)>, bool);

/// A verified-or-not copy of the replicated tables, entries ascending per table.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct Snapshot {
    pub tables: BTreeMap<u8, Vec<(Bytes, Bytes)>>,
}

/// Why a copy was not installed.
#[derive(Debug, thiserror::Error)]
pub enum InstallError {
    #[error("store: {0}")]
    Store(#[from] StoreError),
    #[error("the copy is malformed (unknown table, or entries out of order)")]
    Malformed,
    #[error("the installed copy has root {got}, not the vouched root {want}")]
    RootMismatch { got: String, want: String },
}

fn table_of(tag: u8) -> Option<Table> {
    SYNC_TABLES.iter().copied().find(|t| *t as u8 == tag)
}

impl Snapshot {
    /// Whether every table is one state transfer copies and its entries strictly ascend (a
    /// peer's answer is untrusted; installing relies on both).
    pub fn well_formed(&self) -> bool {
        self.tables.iter().all(|(tag, entries)| {
            table_of(*tag).is_some() && entries.windows(2).all(|w| w[0].0 < w[1].0)
        })
    }

    /// The root the copy would have once installed: the tree over its leaf entries and the
    /// digest of its applied spores. `None` if it is malformed.
    pub fn root(&self) -> Option<Root> {
        if !self.well_formed() {
            return None;
        }
        let mut scratch = MemStore::without_root();
        {
            let mut w = scratch.write();
            for (tag, entries) in &self.tables {
                let t = table_of(*tag)?;
                for (k, v) in entries {
                    w.put(t, k, v).ok()?;
                }
            }
            w.commit().ok()?;
        }
        let (tree, _) = crate::root::update::recompute(&scratch.read()).ok()?;
        let applied = AppliedSet::of_keys(
            self.tables
                .get(&(Table::Applied as u8))
                .into_iter()
                .flatten()
                .map(|(k, _)| Ok(k.as_ref())),
        )
        .ok()?;
        Some(Root {
            root: tree,
            applied_digest: applied.digest(),
            applied_count: applied.count,
        })
    }

    pub fn entries(&self) -> usize {
        self.tables.values().map(Vec::len).sum()
    }
}

/// One page of a copied table for a peer: entries after `after`, up to about `max_bytes`;
/// `more` when the table continues. `None` for a table that is not copied.
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

/// Replaces the replicated tables with `snapshot` inside the caller's transaction (which must
/// not track tree changes: the tree is rebuilt here), rebuilds the derived indexes and the
/// state tree, and checks that the result is `expected`. On an error the caller must abort
/// the transaction: nothing of it may be committed.
pub fn install_verified<T: KvWrite + ?Sized>(
    kv: &mut T,
    snapshot: &Snapshot,
    expected: &Root,
) -> Result<(), InstallError> {
    if !snapshot.well_formed() {
        return Err(InstallError::Malformed);
    }
    for t in SYNC_TABLES.into_iter().chain(DERIVED_TABLES) {
        clear_table(kv, t)?;
    }
    for t in SYNC_TABLES {
        for (k, v) in snapshot.tables.get(&(t as u8)).into_iter().flatten() {
            kv.put(t, k, v)?;
        }
    }
    rebuild_indexes(kv)?;
    let tree = crate::root::update::build(kv)?;
    let applied = AppliedSet::load(kv)?;
    let got = Root {
        root: tree,
        applied_digest: applied.digest(),
        applied_count: applied.count,
    };
    if &got != expected {
        return Err(InstallError::RootMismatch {
            got: hex::encode(got.root),
            want: hex::encode(expected.root),
        });
    }
    Ok(())
}

/// Writes the `expires` and `scan` entries every key record implies (the executor keeps them
/// the same way: `exec::ctx`): an expiry entry for a record with a TTL, a scan entry for a live
/// record.
fn rebuild_indexes<T: KvWrite + ?Sized>(kv: &mut T) -> Result<(), StoreError> {
    let mut expires = Vec::new();
    let mut scan = Vec::new();
    for e in kv.range(Table::Keys, Bound::Unbounded, Bound::Unbounded, false)? {
        let (k, v) = e?;
        let key = layout::decode_key_key(k)?;
        let rec = layout::decode_record(v)?;
        if rec.expire_at_ms != 0 {
            expires.push(layout::expires_key(rec.expire_at_ms, &key));
        }
        if rec.is_live() {
            scan.push(layout::scan_key(&key));
        }
    }
    for k in expires {
        kv.put(Table::Expires, &k, &[])?;
    }
    for k in scan {
        kv.put(Table::Scan, &k, &[])?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::root::StateRootRead;
    use crate::spore::{Key, Op, SetCond, Ttl};

    fn copy_of(store: &MemStore) -> Snapshot {
        let r = store.read();
        let mut snap = Snapshot::default();
        for t in SYNC_TABLES {
            let mut after: Option<Bytes> = None;
            loop {
                let (page, more) = read_page(&r, t as u8, after.as_deref(), 64)
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

    /// A store with strings (some with a TTL), a set, a list and a deleted key, built by the
    /// real executor.
    fn source() -> MemStore {
        let mut store = MemStore::new();
        let k = |n: &str| Key::new(0, Bytes::copy_from_slice(n.as_bytes()));
        let mut ops = Vec::new();
        for i in 0..40u32 {
            ops.push(Op::Set {
                key: k(&format!("k{i}")),
                value: Bytes::from(format!("v{i}")),
                cond: SetCond::Always,
                ttl: if i % 3 == 0 {
                    Ttl::At(9_000_000_000_000)
                } else {
                    Ttl::Clear
                },
                get: false,
            });
        }
        ops.push(Op::SAdd {
            key: k("s"),
            members: vec![Bytes::from_static(b"a"), Bytes::from_static(b"b")],
        });
        ops.push(Op::Del { key: k("k1") });
        let spore = crate::cluster::spore_of(ops);
        let mut w = store.write();
        crate::exec::apply_spore(&mut w, &spore, &spore.id()).expect("apply");
        w.commit().expect("commit");
        store
    }

    #[test]
    fn paged_copy_has_the_source_root_and_installs_to_it() {
        let a = source();
        let want = a.read().state_root().expect("root");
        let snap = copy_of(&a);
        assert!(snap.entries() > 40);
        assert!(!snap.tables.contains_key(&(Table::Scan as u8)));
        assert_eq!(snap.root(), Some(want));

        let mut b = MemStore::without_root();
        {
            let mut w = b.write();
            w.put(Table::Keys, b"\x00stale", b"old").expect("put");
            install_verified(&mut w, &snap, &want).expect("install");
            w.commit().expect("commit");
        }
        assert_eq!(b.read().state_root().expect("root"), want);
        // Every table, derived indexes included, is byte-identical to the source's.
        assert_eq!(b.state_digest(), a.state_digest());
    }

    #[test]
    fn forged_or_malformed_copies_are_refused() {
        let a = source();
        let want = a.read().state_root().expect("root");
        let snap = copy_of(&a);

        let mut swapped = snap.clone();
        if let Some(es) = swapped.tables.get_mut(&(Table::Keys as u8)) {
            es.swap(0, 1);
        }
        assert_eq!(swapped.root(), None);

        // A forged database record (generation) changes the root: dbs are leaves.
        let mut forged_db = snap.clone();
        if let Some(es) = forged_db.tables.get_mut(&(Table::Dbs as u8)) {
            let mut v = es[0].1.to_vec();
            v[0] ^= 1;
            es[0].1 = Bytes::from(v);
        }
        assert_ne!(forged_db.root(), Some(want));

        let mut forged_value = snap.clone();
        if let Some(es) = forged_value.tables.get_mut(&(Table::Elems as u8)) {
            es.pop();
        }
        assert_ne!(forged_value.root(), Some(want));

        // An extra applied spore changes the applied digest.
        let mut forged_applied = snap.clone();
        forged_applied
            .tables
            .entry(Table::Applied as u8)
            .or_default()
            .push((Bytes::from(vec![0xff; 40]), Bytes::new()));
        assert_ne!(forged_applied.root(), Some(want));

        // Installing a copy that does not hash to the expected root fails.
        let mut b = MemStore::without_root();
        let mut w = b.write();
        let err = install_verified(&mut w, &forged_db, &want).expect_err("forged");
        assert!(matches!(err, InstallError::RootMismatch { .. }), "{err}");
    }
}
