//! The executor's view of one key and the write primitives every op family uses.
//!
//! `Ctx` wraps the write transaction for one spore. Ops load a key as a `Slot` (an owned copy
//! of its record), decide, then `store` a new value or `remove` the key. The primitives keep
//! the secondary state consistent: the `expires` index follows every TTL change, list/set
//! elements go with their key, a removed key leaves a tombstone keeping its version, and when
//! a key gains or loses a live record (`went_live` / `went_dead`) both its database's live-key
//! count and the `scan` index follow, so the two always agree.
//!
//! Versions are not decided here: `apply_spore` computes them up front
//! (`spore::effects::version_effects`, from the state before the spore) and hands them to
//! `Ctx::with_versions`; every record written for such a key carries its final version right
//! away, so the spore writes each record once instead of writing it and then rewriting its
//! version. `apply_spore` only stamps the keys no record write reached (a DEL of a missing
//! key, a SET NX that did not set, a key erased by a later FLUSHDB, ...). Keys outside the
//! effects keep their record's version.

use std::collections::BTreeMap;
use std::ops::Bound;

use crate::spore::{Key, KeyVersion};
use crate::store::kv::{delete_prefix, KvWrite, Table};
use crate::store::layout::{self, Payload, RawRecord};
use crate::store::read::StoreRead;
use crate::store::StoreError;

/// A live value, owned.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Val {
    Str(Vec<u8>),
    List { head: i64, tail: i64 },
    Set { card: u64 },
}

impl Val {
    fn payload(&self) -> Payload<'_> {
        match self {
            Val::Str(s) => Payload::String(s),
            Val::List { head, tail } => Payload::List {
                head: *head,
                tail: *tail,
            },
            Val::Set { card } => Payload::Set { card: *card },
        }
    }
}

/// A key as loaded at the start of an op.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Slot {
    /// The record's version (or a placeholder if the key has no record: `apply_spore` writes
    /// the real version of every key it touched).
    pub version: KeyVersion,
    /// 0 = no TTL (always 0 when `val` is None).
    pub expire_at_ms: u64,
    /// The TTL stored in the record: `expire_at_ms`, or an emptied set's kept TTL.
    pub stored_expire_ms: u64,
    /// None: missing or tombstone.
    pub val: Option<Val>,
}

impl Slot {
    pub fn is_live(&self) -> bool {
        self.val.is_some()
    }
}

const PLACEHOLDER: KeyVersion = KeyVersion {
    order: [0; 32],
    acc: [0; 32],
};

/// The write context of one spore.
pub(crate) struct Ctx<'t, T: KvWrite + ?Sized> {
    pub kv: &'t mut T,
    /// Change of each database's live-key count so far.
    pub live_delta: BTreeMap<u8, i64>,
    /// The final versions of the spore's written keys, sorted by key (binary-searched).
    versions: &'t [(Key, KeyVersion)],
    /// `stamped[i]`: the record of `versions[i].0` now holds `versions[i].1`.
    pub stamped: Vec<bool>,
}

impl<'t, T: KvWrite + ?Sized> Ctx<'t, T> {
    /// A context that keeps every record's version (no version effects).
    #[allow(dead_code)] // For callers running ops outside a spore.
    pub fn new(kv: &'t mut T) -> Self {
        Ctx::with_versions(kv, &[])
    }

    /// A context writing `versions` (sorted by key) into the records of those keys.
    pub fn with_versions(kv: &'t mut T, versions: &'t [(Key, KeyVersion)]) -> Self {
        Ctx {
            kv,
            live_delta: BTreeMap::new(),
            versions,
            stamped: vec![false; versions.len()],
        }
    }

    /// The version to write into `key`'s record: its final one if the spore gives it one
    /// (then the record is stamped), else the version it has.
    fn version_for(&mut self, key: &Key, current: KeyVersion) -> KeyVersion {
        match self.versions.binary_search_by(|(k, _)| k.cmp(key)) {
            Ok(i) => {
                self.stamped[i] = true;
                self.versions[i].1
            }
            Err(_) => current,
        }
    }

    /// Writes `key`'s record with `payload`, TTL `expire_at_ms`, and its version.
    fn put_record(
        &mut self,
        key: &Key,
        prev: &Slot,
        expire_at_ms: u64,
        payload: Payload<'_>,
    ) -> Result<(), StoreError> {
        let rec = RawRecord {
            expire_at_ms,
            version: self.version_for(key, prev.version),
            payload,
        };
        self.kv.put(
            Table::Keys,
            &layout::key_key(key),
            &layout::encode_record(&rec),
        )
    }

    /// Loads `key` (expiry is never considered: execution is clock-free).
    pub fn load(&self, key: &Key) -> Result<Slot, StoreError> {
        Ok(match self.kv.raw_record(key)? {
            None => Slot {
                version: PLACEHOLDER,
                expire_at_ms: 0,
                stored_expire_ms: 0,
                val: None,
            },
            Some(r) => Slot {
                version: r.version,
                expire_at_ms: if r.is_live() { r.expire_at_ms } else { 0 },
                stored_expire_ms: r.expire_at_ms,
                val: match r.payload {
                    Payload::Tombstone | Payload::Set { card: 0 } => None,
                    Payload::String(s) => Some(Val::Str(s.to_vec())),
                    Payload::List { head, tail } => Some(Val::List { head, tail }),
                    Payload::Set { card } => Some(Val::Set { card }),
                },
            },
        })
    }

    /// Writes `val` with TTL `expire_at_ms` over `prev` (what `load` returned for the key,
    /// possibly updated by this op). Elements of `prev` are not touched: an op replacing a
    /// list or set by another value calls `drop_elems` first.
    pub fn store(
        &mut self,
        key: &Key,
        prev: &Slot,
        expire_at_ms: u64,
        val: &Val,
    ) -> Result<(), StoreError> {
        self.retime(key, prev.stored_expire_ms, expire_at_ms)?;
        if !prev.is_live() {
            self.went_live(key)?;
        }
        self.put_record(key, prev, expire_at_ms, val.payload())
    }

    /// Deletes `key`'s value (elements, TTL) and leaves a tombstone with its version.
    /// Whether it existed.
    pub fn remove(&mut self, key: &Key, prev: &Slot) -> Result<bool, StoreError> {
        if !prev.is_live() {
            if prev.stored_expire_ms != 0 {
                // An emptied set keeping its TTL: it was invisible already; now forget it.
                self.retime(key, prev.stored_expire_ms, 0)?;
                self.put_tombstone(key, prev)?;
            }
            return Ok(false);
        }
        self.drop_elems(key, prev)?;
        self.retime(key, prev.expire_at_ms, 0)?;
        self.went_dead(key)?;
        self.put_tombstone(key, prev)?;
        Ok(true)
    }

    /// `key` gets a live record: count it and list it in the `scan` index.
    fn went_live(&mut self, key: &Key) -> Result<(), StoreError> {
        *self.live_delta.entry(key.db).or_default() += 1;
        self.kv.put(Table::Scan, &layout::scan_key(key), &[])
    }

    /// `key` loses its live record: the reverse of `went_live`.
    fn went_dead(&mut self, key: &Key) -> Result<(), StoreError> {
        *self.live_delta.entry(key.db).or_default() -= 1;
        if self.kv.delete(Table::Scan, &layout::scan_key(key))? {
            Ok(())
        } else {
            Err(StoreError::Corrupt("live key missing from the scan index"))
        }
    }

    fn put_tombstone(&mut self, key: &Key, prev: &Slot) -> Result<(), StoreError> {
        self.put_record(key, prev, 0, Payload::Tombstone)
    }

    /// A set emptied by SREM/SPOP/SMOVE while it has a TTL: invisible from now on (like a
    /// deleted key), but it keeps its TTL, so a concurrent (commutative) SADD applied after it
    /// revives the set with the TTL it would have had if applied before (see `sets.rs`).
    pub fn hide_empty_set(&mut self, key: &Key, prev: &Slot) -> Result<(), StoreError> {
        self.went_dead(key)?;
        self.put_record(key, prev, prev.expire_at_ms, Payload::Set { card: 0 })
    }

    /// Deletes the list elements / set members of `prev` (if it is a list or set).
    pub fn drop_elems(&mut self, key: &Key, prev: &Slot) -> Result<(), StoreError> {
        if matches!(prev.val, Some(Val::List { .. } | Val::Set { .. })) {
            delete_prefix(self.kv, Table::Elems, &layout::elems_prefix(key))?;
        }
        Ok(())
    }

    /// Moves `key`'s `expires` index entry from `old` to `new` (0 = none).
    fn retime(&mut self, key: &Key, old: u64, new: u64) -> Result<(), StoreError> {
        if old == new {
            return Ok(());
        }
        if old != 0 {
            self.kv
                .delete(Table::Expires, &layout::expires_key(old, key))?;
        }
        if new != 0 {
            self.kv
                .put(Table::Expires, &layout::expires_key(new, key), &[])?;
        }
        Ok(())
    }

    /// FLUSHDB of `db`: every record (tombstones included), element, expiry and scan entry of
    /// the db goes (each table starts with the db, so this touches only the db's entries); the
    /// live count becomes 0. The db's version state is set by `apply_spore`.
    pub fn flush_db(&mut self, db: u8) -> Result<(), StoreError> {
        for table in [
            Table::Keys,
            Table::Elems,
            Table::Expires,
            Table::Scan,
            Table::Members,
        ] {
            delete_prefix(self.kv, table, &[db])?;
        }
        let mut rec = self.kv.db_record(db)?;
        rec.live = 0;
        self.kv.put(Table::Dbs, &[db], &layout::encode_db(&rec))?;
        self.live_delta.remove(&db);
        // The db's records are gone: `apply_spore` must stamp (tombstone) its keys again unless
        // a later op writes them.
        for (i, (k, _)) in self.versions.iter().enumerate() {
            if k.db == db {
                self.stamped[i] = false;
            }
        }
        Ok(())
    }

    // ---- list elements ----

    pub fn list_get(&self, prefix: &[u8], index: i64) -> Result<Vec<u8>, StoreError> {
        match self
            .kv
            .get(Table::Elems, &layout::list_elem_key(prefix, index))?
        {
            Some(v) => Ok(v.to_vec()),
            None => Err(StoreError::Corrupt("missing list element")),
        }
    }

    pub fn list_put(&mut self, prefix: &[u8], index: i64, elem: &[u8]) -> Result<(), StoreError> {
        self.kv
            .put(Table::Elems, &layout::list_elem_key(prefix, index), elem)
    }

    pub fn list_del(&mut self, prefix: &[u8], index: i64) -> Result<(), StoreError> {
        self.kv
            .delete(Table::Elems, &layout::list_elem_key(prefix, index))?;
        Ok(())
    }

    /// All elements of the list `head..tail`, head first.
    pub fn list_load(
        &self,
        prefix: &[u8],
        head: i64,
        tail: i64,
    ) -> Result<Vec<Vec<u8>>, StoreError> {
        if head >= tail {
            return Ok(Vec::new());
        }
        let lo = layout::list_elem_key(prefix, head);
        let hi = layout::list_elem_key(prefix, tail);
        self.kv
            .range(
                Table::Elems,
                Bound::Included(&lo),
                Bound::Excluded(&hi),
                false,
            )?
            .map(|e| e.map(|(_, v)| v.to_vec()))
            .collect()
    }

    // ---- set members ----

    pub fn set_has(&self, prefix: &[u8], member: &[u8]) -> Result<bool, StoreError> {
        Ok(self
            .kv
            .get(Table::Elems, &layout::set_member_key(prefix, member))?
            .is_some())
    }

    pub fn set_put(&mut self, prefix: &[u8], member: &[u8]) -> Result<(), StoreError> {
        self.kv
            .put(Table::Elems, &layout::set_member_key(prefix, member), &[])
    }

    pub fn set_del(&mut self, prefix: &[u8], member: &[u8]) -> Result<bool, StoreError> {
        self.kv
            .delete(Table::Elems, &layout::set_member_key(prefix, member))
    }

    /// All members, in stored (hash) order.
    pub fn set_load(&self, prefix: &[u8]) -> Result<Vec<Vec<u8>>, StoreError> {
        crate::store::kv::prefix_range(self.kv, Table::Elems, prefix)?
            .map(|e| Ok(layout::decode_set_member(prefix, e?.0)?.to_vec()))
            .collect()
    }
}
