//! The executor's view of one key and the write primitives every op family uses.
//!
//! `Ctx` wraps the write transaction for one spore. Ops load a key as a `Slot` (an owned copy
//! of its record), decide, then `store` a new value or `remove` the key. The primitives keep
//! the secondary state consistent: the `expires` index follows every TTL change, list/set
//! elements go with their key, a removed key leaves a tombstone keeping its version, and each
//! database's live-key count is adjusted. Versions are not decided here: ops keep the record's
//! version, and `apply_spore` overwrites the versions of every written key at the end from
//! `spore::effects::version_effects`.

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
}

impl<'t, T: KvWrite + ?Sized> Ctx<'t, T> {
    pub fn new(kv: &'t mut T) -> Self {
        Ctx {
            kv,
            live_delta: BTreeMap::new(),
        }
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
            *self.live_delta.entry(key.db).or_default() += 1;
        }
        let rec = RawRecord {
            expire_at_ms,
            version: prev.version,
            payload: val.payload(),
        };
        self.kv.put(
            Table::Keys,
            &layout::key_key(key),
            &layout::encode_record(&rec),
        )
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
        *self.live_delta.entry(key.db).or_default() -= 1;
        self.put_tombstone(key, prev)?;
        Ok(true)
    }

    fn put_tombstone(&mut self, key: &Key, prev: &Slot) -> Result<(), StoreError> {
        let rec = RawRecord {
            expire_at_ms: 0,
            version: prev.version,
            payload: Payload::Tombstone,
        };
        self.kv.put(
            Table::Keys,
            &layout::key_key(key),
            &layout::encode_record(&rec),
        )
    }

    /// A set emptied by SREM/SPOP/SMOVE while it has a TTL: invisible from now on (like a
    /// deleted key), but it keeps its TTL, so a concurrent (commutative) SADD applied after it
    /// revives the set with the TTL it would have had if applied before (see `sets.rs`).
    pub fn hide_empty_set(&mut self, key: &Key, prev: &Slot) -> Result<(), StoreError> {
        *self.live_delta.entry(key.db).or_default() -= 1;
        let rec = RawRecord {
            expire_at_ms: prev.expire_at_ms,
            version: prev.version,
            payload: Payload::Set { card: 0 },
        };
        self.kv.put(
            Table::Keys,
            &layout::key_key(key),
            &layout::encode_record(&rec),
        )
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

    /// FLUSHDB of `db`: every record (tombstones included), element and expiry entry of the
    /// db goes; the live count becomes 0. The db's version state is set by `apply_spore`.
    pub fn flush_db(&mut self, db: u8) -> Result<(), StoreError> {
        delete_prefix(self.kv, Table::Keys, &[db])?;
        delete_prefix(self.kv, Table::Elems, &[db])?;
        // The expiry index is ordered by time: collect this db's entries, then delete.
        let doomed: Vec<Vec<u8>> = self
            .kv
            .range(Table::Expires, Bound::Unbounded, Bound::Unbounded, false)?
            .filter_map(|e| match e {
                Ok((k, _)) if k.get(8) == Some(&db) => Some(Ok(k.to_vec())),
                Ok(_) => None,
                Err(e) => Some(Err(e)),
            })
            .collect::<Result<_, _>>()?;
        for k in doomed {
            self.kv.delete(Table::Expires, &k)?;
        }
        let mut rec = self.kv.db_record(db)?;
        rec.live = 0;
        self.kv.put(Table::Dbs, &[db], &layout::encode_db(&rec))?;
        self.live_delta.remove(&db);
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

    /// All members, in byte order.
    pub fn set_load(&self, prefix: &[u8]) -> Result<Vec<Vec<u8>>, StoreError> {
        crate::store::kv::prefix_range(self.kv, Table::Elems, prefix)?
            .map(|e| e.map(|(k, _)| k[prefix.len()..].to_vec()))
            .collect()
    }
}
