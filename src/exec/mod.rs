//! The deterministic executor: applies a committed spore's ops to the store.
//!
//! `apply_spore` runs inside a write transaction the caller owns (the node groups many spores
//! into one transaction and commits once). It
//! 1. returns `AlreadyApplied` if the spore's id is in the `applied` table (idempotence), or
//!    if it is older than the ids `applied` still keeps (`APPLIED_RETENTION_MS`);
//! 2. computes the spore's version effects (`spore::effects::version_effects`, the one
//!    implementation shared with the consensus engine) from the state before it;
//! 3. executes the ops in order with Redis 7 semantics, one `Reply` per op; an op's error
//!    (WRONGTYPE, ...) is its reply and does not stop the others, as in a Redis MULTI;
//! 4. gives every key the spore writes its new version (ops write it with the record; keys no
//!    op wrote get it here, as a tombstone if the key has no value), writes the new set-member
//!    versions (dropping the stale ones of keys whose order moved), the new database states,
//!    and the spore id into `applied` (dropping the ids past the retention window), in the
//!    same txn.
//!
//! Execution reads no clock and no randomness: TTLs are stored and returned but never make a
//! key invisible here, and every choice (SPOP members, expiry deletes) is in the op. The
//! executor does not check prerequisites: the apply gate does, through the txn's
//! `VersionView` (`Spore::prereqs_hold(&txn)`). A `StoreError` means the caller must abort the
//! whole transaction.
//!
//! Op families: `strings` (SET.., APPEND, SETRANGE, INCRBY, INCRBYFLOAT via `decimal`), `keys`
//! (DEL, EXPIRE, PERSIST, RENAME, FLUSH), `lists`, `sets`; a policy change writes the policy
//! record (`store::layout::POLICY_KEY`).

mod ctx;
pub mod decimal;
pub mod integer;
mod keys;
mod lists;
mod sets;
mod strings;

use std::cell::RefCell;
use std::ops::Bound;

use crate::crypto::Digest;
use crate::error::RedisError;
use crate::reply::Reply;
use crate::spore::effects::version_effects;
use crate::spore::{DbState, Key, KeyVersion, MemberVersion, Op, Spore, SporeId, VersionView};
use crate::store::kv::{delete_prefix, KvWrite, Table};
use crate::store::layout::{self, Payload, RawRecord};
use crate::store::read::StoreRead;
use crate::store::StoreError;

use ctx::Ctx;

/// The outcome of `apply_spore`.
#[derive(Debug, Clone, PartialEq)]
pub enum Applied {
    /// The id was already recorded: nothing changed.
    AlreadyApplied,
    /// Applied: one reply per op, in op order.
    Done(Vec<Reply>),
}

/// How long (in deadline time) an applied spore's id is kept in `applied`. Applying a spore
/// with deadline D deletes the ids of spores whose deadline is before D − R. Why that is safe
/// and the same on every replica: a spore is applied no later than its deadline + grace (the
/// Expiration rule), and a spore applied before it anywhere was committed by then, so its
/// deadline is at most deadline + grace + horizon + skew. Policies and configs bound the
/// horizon and the grace to one hour each (skew is 100 ms), so two spores that can be applied
/// in either order have deadlines less than R apart: every replica deletes the same ids, and
/// none is ever needed again. (Before, the table grew forever.)
pub const APPLIED_RETENTION_MS: u64 = 3 * 3_600_000;

/// Applies `spore` (whose id is `id`) in the write transaction `txn`.
pub fn apply_spore<T: KvWrite + ?Sized>(
    txn: &mut T,
    spore: &Spore,
    id: &SporeId,
) -> Result<Applied, StoreError> {
    if txn.applied(spore.deadline_ms, id)? {
        return Ok(Applied::AlreadyApplied);
    }
    // Older than the retention window behind the newest applied spore: its id may have been
    // pruned, so it counts as applied. Honest nodes never get here (see APPLIED_RETENTION_MS);
    // the check keeps a replayed old spore from applying twice whatever happens.
    if let Some(newest) = newest_applied_deadline(txn)? {
        if spore.deadline_ms.saturating_add(APPLIED_RETENTION_MS) < newest {
            tracing::warn!(
                spore = %id,
                "spore older than the applied-id retention window: treated as applied"
            );
            return Ok(Applied::AlreadyApplied);
        }
    }
    let effects = {
        let view = Checked {
            kv: &*txn,
            error: RefCell::new(None),
        };
        let effects = version_effects(spore, id, &view);
        if let Some(e) = view.error.into_inner() {
            return Err(e);
        }
        effects
    };

    let mut cx = Ctx::with_versions(txn, &effects.keys);
    let mut replies = Vec::with_capacity(spore.ops.len());
    for op in &spore.ops {
        replies.push(exec_op(&mut cx, op)?);
    }
    let live_delta = std::mem::take(&mut cx.live_delta);
    let stamped = std::mem::take(&mut cx.stamped);

    // Versions of the written keys whose record no op wrote.
    for ((key, version), done) in effects.keys.iter().zip(stamped) {
        if !done {
            set_version(txn, key, version)?;
        }
    }
    // Set-member versions: the removed members' records of keys whose order moved are stale
    // (their versions now derive from the new order), so they go. Then the new records: in
    // the member's `elems` entry if it is in the set (no extra entry or tree leaf for an
    // SADD), else in `members`.
    for key in &effects.reordered {
        delete_prefix(txn, Table::Members, &layout::elems_prefix(key))?;
    }
    for (key, member, version) in &effects.members {
        let k = layout::member_version_key(key, member);
        let v = layout::encode_member_version(version);
        if txn.get(Table::Elems, &k)?.is_some() {
            txn.put(Table::Elems, &k, &v)?;
            txn.delete(Table::Members, &k)?;
        } else {
            txn.put(Table::Members, &k, &v)?;
        }
    }
    // Database states and live counts.
    let mut dbs: std::collections::BTreeMap<u8, Option<DbState>> =
        live_delta.keys().map(|db| (*db, None)).collect();
    for (db, state) in &effects.dbs {
        dbs.insert(*db, Some(*state));
    }
    for (db, state) in dbs {
        let mut rec = txn.db_record(db)?;
        if let Some(state) = state {
            rec.state = state;
        }
        let delta = live_delta.get(&db).copied().unwrap_or(0);
        rec.live = rec
            .live
            .checked_add_signed(delta)
            .ok_or(StoreError::Corrupt("negative live key count"))?;
        txn.put(Table::Dbs, &[db], &layout::encode_db(&rec))?;
    }
    txn.put(
        Table::Applied,
        &layout::applied_key(spore.deadline_ms, id),
        &[],
    )?;
    prune_applied(txn, spore.deadline_ms.saturating_sub(APPLIED_RETENTION_MS))?;
    Ok(Applied::Done(replies))
}

/// The deadline of the newest spore in `applied` (keys start with the deadline, big-endian).
fn newest_applied_deadline<T: KvWrite + ?Sized>(txn: &T) -> Result<Option<u64>, StoreError> {
    let mut it = txn.range(Table::Applied, Bound::Unbounded, Bound::Unbounded, true)?;
    match it.next() {
        Some(e) => {
            let (k, _) = e?;
            let d: [u8; 8] = k
                .get(..8)
                .and_then(|d| d.try_into().ok())
                .ok_or(StoreError::Corrupt("bad applied key"))?;
            Ok(Some(u64::from_be_bytes(d)))
        }
        None => Ok(None),
    }
}

/// Deletes the `applied` ids of spores whose deadline is before `floor` (the applied-set
/// digest follows, `root::update`). All of them, however many: a cap would make which ids go
/// depend on the order spores were applied in.
fn prune_applied<T: KvWrite + ?Sized>(txn: &mut T, floor: u64) -> Result<(), StoreError> {
    if floor == 0 {
        return Ok(());
    }
    let hi = layout::applied_key(floor, &SporeId([0; 32]));
    let old: Vec<Vec<u8>> = txn
        .range(
            Table::Applied,
            Bound::Unbounded,
            Bound::Excluded(&hi),
            false,
        )?
        .map(|e| e.map(|(k, _)| k.to_vec()))
        .collect::<Result<_, _>>()?;
    for k in old {
        txn.delete(Table::Applied, &k)?;
    }
    Ok(())
}

/// Runs `ops` with the executor's semantics outside any spore: no version effects, nothing in
/// `applied`; live-key counts are kept. For MULTI's private overlay (`crate::store::overlay`),
/// where a read queued after a write must see what the write will do, computed by the same code
/// that will apply it. Never call it on the store's real write transaction: versions would go
/// stale.
pub fn preview_ops<T: KvWrite + ?Sized>(txn: &mut T, ops: &[Op]) -> Result<Vec<Reply>, StoreError> {
    let (replies, live_delta) = exec_ops(txn, ops)?;
    for (db, delta) in live_delta {
        let mut rec = txn.db_record(db)?;
        rec.live = rec
            .live
            .checked_add_signed(delta)
            .ok_or(StoreError::Corrupt("negative live key count"))?;
        txn.put(Table::Dbs, &[db], &layout::encode_db(&rec))?;
    }
    Ok(replies)
}

/// Executes `ops` in order; their replies and the change of each database's live-key count.
fn exec_ops<T: KvWrite + ?Sized>(
    txn: &mut T,
    ops: &[Op],
) -> Result<(Vec<Reply>, std::collections::BTreeMap<u8, i64>), StoreError> {
    let mut cx = Ctx::new(txn);
    let mut replies = Vec::with_capacity(ops.len());
    for op in ops {
        replies.push(exec_op(&mut cx, op)?);
    }
    Ok((replies, std::mem::take(&mut cx.live_delta)))
}

/// Overwrites the version in `key`'s record, creating a tombstone if it has none.
fn set_version<T: KvWrite + ?Sized>(
    txn: &mut T,
    key: &Key,
    version: &KeyVersion,
) -> Result<(), StoreError> {
    let kk = layout::key_key(key);
    let bytes = match txn.get(Table::Keys, &kk)? {
        Some(b) => {
            let rec = layout::decode_record(b)?;
            layout::encode_record(&RawRecord {
                version: *version,
                ..rec
            })
        }
        None => layout::encode_record(&RawRecord {
            expire_at_ms: 0,
            version: *version,
            payload: Payload::Tombstone,
        }),
    };
    txn.put(Table::Keys, &kk, &bytes)
}

/// A `VersionView` over a fallible store that remembers the first failure.
struct Checked<'a, T: ?Sized> {
    kv: &'a T,
    error: RefCell<Option<StoreError>>,
}

impl<T: KvWrite + ?Sized> VersionView for Checked<'_, T> {
    fn key_version(&self, key: &Key) -> KeyVersion {
        self.kv.key_version_checked(key).unwrap_or_else(|e| {
            self.error.borrow_mut().get_or_insert(e);
            KeyVersion {
                order: [0; 32],
                acc: [0; 32],
            }
        })
    }

    fn db_state(&self, db: u8) -> DbState {
        self.kv.db_state_checked(db).unwrap_or_else(|e| {
            self.error.borrow_mut().get_or_insert(e);
            DbState::default()
        })
    }

    fn member_version_at(&self, key: &Key, member: &[u8], key_order: &Digest) -> KeyVersion {
        match self.kv.member_record_checked(key, member) {
            Ok(r) => MemberVersion::resolve(r, key_order, key, member),
            Err(e) => {
                self.error.borrow_mut().get_or_insert(e);
                KeyVersion {
                    order: [0; 32],
                    acc: [0; 32],
                }
            }
        }
    }
}

/// Whether every key and set member the op would store fits the store's key-size limit (the
/// command layer refuses such ops at admission; this keeps the executor safe regardless).
pub fn fits(op: &Op) -> bool {
    let mut ok = true;
    op.access(&mut |k, _| ok &= layout::name_fits(&k.name));
    if !ok {
        return false;
    }
    match op {
        Op::SAdd { key, members } | Op::SRem { key, members } | Op::SPop { key, members } => {
            members.iter().all(|m| layout::member_fits(&key.name, m))
        }
        Op::SMove { src, dst, member } => {
            layout::member_fits(&src.name, member) && layout::member_fits(&dst.name, member)
        }
        _ => true,
    }
}

/// Executes one op.
fn exec_op<T: KvWrite + ?Sized>(cx: &mut Ctx<'_, T>, op: &Op) -> Result<Reply, StoreError> {
    if !fits(op) {
        return Ok(Reply::Error(RedisError::KeyTooLong));
    }
    match op {
        Op::Set {
            key,
            value,
            cond,
            ttl,
            get,
        } => strings::set(cx, key, value, *cond, *ttl, *get),
        Op::GetDel { key } => strings::getdel(cx, key),
        Op::GetEx { key, ttl } => strings::getex(cx, key, *ttl),
        Op::MSetNx { pairs } => strings::msetnx(cx, pairs),
        Op::Append { key, data } => strings::append(cx, key, data),
        Op::SetRange { key, offset, data } => strings::setrange(cx, key, *offset, data),
        Op::IncrBy { key, delta } => strings::incrby(cx, key, delta),
        Op::IncrByFloat { key, delta } => strings::incrbyfloat(cx, key, delta),
        Op::Del { key } => keys::del(cx, key),
        Op::Expire {
            key,
            at_ms,
            cond,
            delete,
        } => keys::expire(cx, key, *at_ms, *cond, *delete),
        Op::Persist { key } => keys::persist(cx, key),
        Op::Rename { src, dst, nx } => keys::rename(cx, src, dst, *nx),
        Op::FlushDb { db } => keys::flushdb(cx, *db),
        Op::FlushAll => keys::flushall(cx),
        // The policy switch happens in the engine and the node at this spore's place in the
        // apply order (docs/CLUSTER.md §3.4); the store records the adopted policy's text as
        // replicated state (covered by the root, copied by state transfer, kept by FLUSHALL),
        // in the transaction that records the spore as applied.
        Op::PolicyChange { from, policy } => {
            let rec = layout::PolicyRecord {
                from: *from,
                text: policy,
            };
            cx.kv
                .put(Table::Dbs, layout::POLICY_KEY, &layout::encode_policy(&rec))?;
            Ok(Reply::OK)
        }
        Op::Push {
            key,
            end,
            elems,
            only_if_exists,
        } => lists::push(cx, key, *end, elems, *only_if_exists),
        Op::Pop { key, end, count } => lists::pop(cx, key, *end, *count),
        Op::LSet { key, index, elem } => lists::lset(cx, key, *index, elem),
        Op::LInsert {
            key,
            before,
            pivot,
            elem,
        } => lists::linsert(cx, key, *before, pivot, elem),
        Op::LRem { key, count, elem } => lists::lrem(cx, key, *count, elem),
        Op::LTrim { key, start, stop } => lists::ltrim(cx, key, *start, *stop),
        Op::LMove { src, dst, from, to } => lists::lmove(cx, src, dst, *from, *to),
        Op::SAdd { key, members } => sets::sadd(cx, key, members),
        Op::SRem { key, members } => sets::srem(cx, key, members),
        Op::SPop { key, members } => sets::spop(cx, key, members),
        Op::SMove { src, dst, member } => sets::smove(cx, src, dst, member),
        Op::SetStore {
            dst,
            algebra,
            sources,
        } => sets::setstore(cx, dst, *algebra, sources),
    }
}

/// `Reply::Error(WrongType)`, the most common op error.
pub(crate) fn wrongtype() -> Result<Reply, StoreError> {
    Ok(Reply::Error(RedisError::WrongType))
}
