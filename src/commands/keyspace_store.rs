//! The store as the command layer's `Keyspace`: each snapshot is one LMDB read transaction
//! (an MVCC snapshot, held with its own handle to the store, `HeldRead`, so a connection can
//! share it between the pipelined reads of one batch: opening and ending a read transaction
//! per GET was ~8 % of the server's CPU at `-P 16`), and each `Snapshot` method is one of the
//! store's indexed reads (`StoreRead`), so a read costs what the command needs, not the size
//! of the value or the keyspace.
//!
//! Values come back borrowed from the transaction and are copied once, into the `Bytes` the
//! reply is built from. After `apply_local` (MULTI's reads after its own writes) the same reads
//! run over a `Layered` view: the snapshot with a private in-memory layer holding what the
//! pending ops did, executed by the real executor. Keys already expired at the snapshot's time
//! are deleted in the layer before an op touches them, as the node's materialiser does for the
//! real spore, so the layer's result is the one the apply will produce.

use std::ops::Bound;
use std::sync::Arc;

use bytes::{Bytes, BytesMut};

use crate::error::RedisError;
use crate::exec::preview_ops;
use crate::spore::{DbState, Key, KeyVersion, Op, VersionView};
use crate::store::kv::{KvRead, Table};
use crate::store::overlay::{Layer, Layered, LayeredMut};
use crate::store::read::is_expired;
use crate::store::{HeldRead, ReadTxn, Store, StoreRead};

use super::view::{KeyTtl, Keyspace, Kind, Page, ScanCursor, Snapshot};

impl Keyspace for Store {
    fn snapshot(self: Arc<Self>, now_ms: u64) -> Result<Box<dyn Snapshot + Send>, RedisError> {
        Ok(Box::new(StoreSnapshot {
            held: HeldRead::begin(self)?,
            layer: None,
            now_ms,
        }))
    }
}

/// A read transaction, the time it hides expired keys at, and MULTI's private layer if any.
pub struct StoreSnapshot {
    held: HeldRead,
    layer: Option<Layer>,
    now_ms: u64,
}

fn owned(b: &[u8]) -> Bytes {
    Bytes::copy_from_slice(b)
}

/// Many values (a list range, a set's members, a page of keys) copied into one buffer and
/// handed out as slices of it: one allocation instead of one per item.
fn all_owned(items: Vec<&[u8]>) -> Vec<Bytes> {
    let mut buf = BytesMut::with_capacity(items.iter().map(|i| i.len()).sum());
    for i in &items {
        buf.extend_from_slice(i);
    }
    let buf = buf.freeze();
    let mut at = 0;
    items
        .iter()
        .map(|i| {
            at += i.len();
            buf.slice(at - i.len()..at)
        })
        .collect()
}

impl StoreSnapshot {
    /// Runs `f` on the snapshot, or on the snapshot under MULTI's layer once there is one.
    fn read<R>(&self, f: impl FnOnce(&dyn KvRead) -> R) -> R {
        match &self.layer {
            None => f(self.txn()),
            Some(layer) => f(&Layered {
                base: self.txn(),
                layer,
            }),
        }
    }

    fn txn(&self) -> &ReadTxn<'_> {
        self.held.get()
    }
}

impl VersionView for StoreSnapshot {
    fn key_version(&self, key: &Key) -> KeyVersion {
        self.txn().key_version(key)
    }

    fn db_state(&self, db: u8) -> DbState {
        self.txn().db_state(db)
    }

    fn member_version_at(
        &self,
        key: &Key,
        member: &[u8],
        key_order: &crate::crypto::Digest,
    ) -> KeyVersion {
        self.txn().member_version_at(key, member, key_order)
    }
}

impl Snapshot for StoreSnapshot {
    fn kind(&self, key: &Key) -> Result<Option<Kind>, RedisError> {
        Ok(self.read(|kv| kv.key_type(key, self.now_ms))?)
    }

    fn ttl(&self, key: &Key) -> Result<KeyTtl, RedisError> {
        Ok(self.read(|kv| kv.ttl_ms(key, self.now_ms))?)
    }

    fn string(&self, key: &Key) -> Result<Option<Bytes>, RedisError> {
        self.read(|kv| Ok(kv.string(key, self.now_ms)?.map(owned)))
    }

    fn string_len(&self, key: &Key) -> Result<u64, RedisError> {
        self.read(|kv| Ok(kv.string(key, self.now_ms)?.map_or(0, |s| s.len() as u64)))
    }

    fn string_part(&self, key: &Key, from: usize, to: usize) -> Result<Bytes, RedisError> {
        self.read(|kv| {
            let s = kv.string(key, self.now_ms)?.unwrap_or_default();
            let to = to.min(s.len());
            Ok(owned(s.get(from.min(to)..to).unwrap_or_default()))
        })
    }

    fn list_len(&self, key: &Key) -> Result<u64, RedisError> {
        Ok(self.read(|kv| kv.list_len(key, self.now_ms))?)
    }

    fn list_range(&self, key: &Key, start: i64, stop: i64) -> Result<Vec<Bytes>, RedisError> {
        self.read(|kv| Ok(all_owned(kv.list_range(key, start, stop, self.now_ms)?)))
    }

    fn list_index(&self, key: &Key, index: i64) -> Result<Option<Bytes>, RedisError> {
        self.read(|kv| Ok(kv.list_index(key, index, self.now_ms)?.map(owned)))
    }

    fn list_pos(
        &self,
        key: &Key,
        elem: &[u8],
        rank: i64,
        count: u64,
        maxlen: u64,
    ) -> Result<Vec<u64>, RedisError> {
        Ok(self.read(|kv| kv.list_pos(key, elem, rank, count, maxlen, self.now_ms))?)
    }

    fn set_card(&self, key: &Key) -> Result<u64, RedisError> {
        Ok(self.read(|kv| kv.set_len(key, self.now_ms))?)
    }

    fn set_contains(&self, key: &Key, member: &[u8]) -> Result<bool, RedisError> {
        Ok(self.read(|kv| kv.set_contains(key, member, self.now_ms))?)
    }

    fn set_members(&self, key: &Key) -> Result<Vec<Bytes>, RedisError> {
        self.read(|kv| Ok(all_owned(kv.set_members(key, self.now_ms)?)))
    }

    fn set_scan(
        &self,
        key: &Key,
        cursor: &ScanCursor,
        count: u64,
        pattern: Option<&[u8]>,
    ) -> Result<Page, RedisError> {
        self.read(|kv| {
            let (next, items) = kv.set_scan(key, cursor, count, pattern, self.now_ms)?;
            Ok((next, all_owned(items)))
        })
    }

    fn set_random(&self, key: &Key, count: i64, seed: u64) -> Result<Vec<Bytes>, RedisError> {
        self.read(|kv| {
            Ok(all_owned(kv.set_random_members(
                key,
                count,
                seed,
                self.now_ms,
            )?))
        })
    }

    fn keys(&self, db: u8, pattern: &[u8]) -> Result<Vec<Bytes>, RedisError> {
        self.read(|kv| Ok(all_owned(kv.keys(db, pattern, self.now_ms)?)))
    }

    fn scan(
        &self,
        db: u8,
        cursor: &ScanCursor,
        count: u64,
        pattern: Option<&[u8]>,
        kind: Option<Kind>,
    ) -> Result<Page, RedisError> {
        self.read(|kv| {
            let (next, items) = kv.scan_keys(db, cursor, count, pattern, kind, self.now_ms)?;
            Ok((next, all_owned(items)))
        })
    }

    fn random_key(&self, db: u8, seed: u64) -> Result<Option<Bytes>, RedisError> {
        self.read(|kv| Ok(kv.random_key(db, seed, self.now_ms)?.map(owned)))
    }

    fn dbsize(&self, db: u8) -> Result<u64, RedisError> {
        Ok(self.read(|kv| kv.dbsize(db))?)
    }

    fn expires(&self, db: u8) -> Result<u64, RedisError> {
        // The expiry index is ordered by time, not db: count this db's entries (INFO only).
        self.read(|kv| {
            let mut n = 0;
            for entry in kv.range(Table::Expires, Bound::Unbounded, Bound::Unbounded, false)? {
                let (k, _) = entry?;
                n += u64::from(k.get(8) == Some(&db));
            }
            Ok(n)
        })
    }

    fn set_now(&mut self, now_ms: u64) {
        self.now_ms = now_ms;
    }

    fn apply_local(&mut self, ops: &[Op]) -> Result<(), RedisError> {
        let now = self.now_ms;
        let layer = self.layer.get_or_insert_with(Layer::default);
        let mut kv = LayeredMut {
            base: self.held.get(),
            layer,
        };
        for op in ops {
            let mut touched = Vec::new();
            op.access(&mut |k, _| touched.push(k.clone()));
            for key in touched {
                let expired = kv
                    .raw_record(&key)?
                    .is_some_and(|r| r.is_live() && is_expired(r.expire_at_ms, now));
                if expired {
                    preview_ops(&mut kv, &[Op::Del { key }])?;
                }
            }
            preview_ops(&mut kv, std::slice::from_ref(op))?;
        }
        Ok(())
    }
}
