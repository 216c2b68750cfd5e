//! Set ops: SADD, SREM, SPOP (members chosen by the origin), SMOVE, SINTER/SUNION/SDIFFSTORE.
//! Members are `elems` entries (sorted by member bytes); the record holds the cardinality. A
//! set emptied by an op is deleted, as in Redis.
//!
//! Except its TTL: SADD and SREM of different members commute (replicas apply them in any
//! order), but "SREM empties the set, deleting it and its TTL; then SADD creates a new set
//! without TTL" and "SADD; SREM" would leave different TTLs. So an emptied set *with a TTL*
//! keeps an invisible record (cardinality 0) holding the TTL, and SADD on it revives it with
//! that TTL. Reads, DBSIZE and every other op see no key; DEL / expiry clean it up. Deviation
//! from Redis, visible only when a set is emptied and refilled before its TTL passes.

use std::collections::BTreeSet;

use bytes::Bytes;

use crate::error::RedisError;
use crate::reply::Reply;
use crate::spore::{Key, SetAlgebra};
use crate::store::kv::KvWrite;
use crate::store::layout;
use crate::store::StoreError;

use super::ctx::{Ctx, Slot, Val};
use super::wrongtype;

/// The set's cardinality, `Ok(None)` if missing, `Err(())` if another type.
fn card(slot: &Slot) -> Result<Option<u64>, ()> {
    match &slot.val {
        None => Ok(None),
        Some(Val::Set { card }) => Ok(Some(*card)),
        Some(_) => Err(()),
    }
}

/// Stores the set with cardinality `n`, or removes the key if it became empty.
fn save<T: KvWrite + ?Sized>(
    cx: &mut Ctx<'_, T>,
    key: &Key,
    prev: &Slot,
    n: u64,
) -> Result<(), StoreError> {
    if n == 0 && prev.expire_at_ms != 0 {
        cx.hide_empty_set(key, prev)?;
    } else if n == 0 {
        cx.remove(key, prev)?;
    } else {
        cx.store(key, prev, prev.expire_at_ms, &Val::Set { card: n })?;
    }
    Ok(())
}

pub fn sadd<T: KvWrite + ?Sized>(
    cx: &mut Ctx<'_, T>,
    key: &Key,
    members: &[Bytes],
) -> Result<Reply, StoreError> {
    let prev = cx.load(key)?;
    let Ok(old) = card(&prev) else {
        return wrongtype();
    };
    let prefix = layout::elems_prefix(key);
    let mut n = old.unwrap_or(0);
    let mut added = 0i64;
    for m in members {
        if !cx.set_has(&prefix, m)? {
            cx.set_put(&prefix, m)?;
            n += 1;
            added += 1;
        }
    }
    if added > 0 {
        // A hidden emptied set comes back with its TTL (see the module doc).
        let ttl = if prev.is_live() {
            prev.expire_at_ms
        } else {
            prev.stored_expire_ms
        };
        cx.store(key, &prev, ttl, &Val::Set { card: n })?;
    }
    Ok(Reply::Int(added))
}

/// Removes `members` from an existing set; the members actually removed.
fn remove_members<'m, T: KvWrite + ?Sized>(
    cx: &mut Ctx<'_, T>,
    key: &Key,
    prev: &Slot,
    old: u64,
    members: &'m [Bytes],
) -> Result<Vec<&'m Bytes>, StoreError> {
    let prefix = layout::elems_prefix(key);
    let mut removed = Vec::new();
    for m in members {
        if cx.set_del(&prefix, m)? {
            removed.push(m);
        }
    }
    if !removed.is_empty() {
        let n = old
            .checked_sub(removed.len() as u64)
            .ok_or(StoreError::Corrupt("set cardinality below member count"))?;
        save(cx, key, prev, n)?;
    }
    Ok(removed)
}

pub fn srem<T: KvWrite + ?Sized>(
    cx: &mut Ctx<'_, T>,
    key: &Key,
    members: &[Bytes],
) -> Result<Reply, StoreError> {
    let prev = cx.load(key)?;
    match card(&prev) {
        Err(()) => wrongtype(),
        Ok(None) => Ok(Reply::Int(0)),
        Ok(Some(old)) => {
            let removed = remove_members(cx, key, &prev, old, members)?;
            Ok(Reply::Int(removed.len() as i64))
        }
    }
}

pub fn spop<T: KvWrite + ?Sized>(
    cx: &mut Ctx<'_, T>,
    key: &Key,
    members: &[Bytes],
) -> Result<Reply, StoreError> {
    let prev = cx.load(key)?;
    match card(&prev) {
        Err(()) => wrongtype(),
        Ok(None) => Ok(Reply::Array(Vec::new())),
        Ok(Some(old)) => {
            let removed = remove_members(cx, key, &prev, old, members)?;
            Ok(Reply::Array(
                removed
                    .into_iter()
                    .map(|m| Reply::Bulk(m.clone()))
                    .collect(),
            ))
        }
    }
}

pub fn smove<T: KvWrite + ?Sized>(
    cx: &mut Ctx<'_, T>,
    src: &Key,
    dst: &Key,
    member: &Bytes,
) -> Result<Reply, StoreError> {
    let s = cx.load(src)?;
    let sc = match card(&s) {
        Ok(None) => return Ok(Reply::Int(0)),
        Err(()) => return wrongtype(),
        Ok(Some(c)) => c,
    };
    if card(&cx.load(dst)?).is_err() {
        return wrongtype();
    }
    let sp = layout::elems_prefix(src);
    if src == dst {
        return Ok(Reply::Int(cx.set_has(&sp, member)? as i64));
    }
    if remove_members(cx, src, &s, sc, std::slice::from_ref(member))?.is_empty() {
        return Ok(Reply::Int(0));
    }
    let d = cx.load(dst)?;
    let dc = card(&d).ok().flatten().unwrap_or(0);
    let dp = layout::elems_prefix(dst);
    if !cx.set_has(&dp, member)? {
        cx.set_put(&dp, member)?;
        save(cx, dst, &d, dc + 1)?;
    }
    Ok(Reply::Int(1))
}

pub fn setstore<T: KvWrite + ?Sized>(
    cx: &mut Ctx<'_, T>,
    dst: &Key,
    algebra: SetAlgebra,
    sources: &[Key],
) -> Result<Reply, StoreError> {
    // Type-check every source first, as Redis does.
    let mut present = Vec::with_capacity(sources.len());
    for k in sources {
        match card(&cx.load(k)?) {
            Err(()) => return wrongtype(),
            Ok(c) => present.push(c.is_some()),
        }
    }
    let load = |cx: &Ctx<'_, T>, i: usize| -> Result<Vec<Vec<u8>>, StoreError> {
        if present[i] {
            cx.set_load(&layout::elems_prefix(&sources[i]))
        } else {
            Ok(Vec::new())
        }
    };
    let mut result: BTreeSet<Vec<u8>> = BTreeSet::new();
    match algebra {
        SetAlgebra::Inter => {
            if present.iter().all(|p| *p) && !sources.is_empty() {
                result = load(cx, 0)?.into_iter().collect();
                for k in &sources[1..] {
                    let p = layout::elems_prefix(k);
                    let mut keep = BTreeSet::new();
                    for m in result {
                        if cx.set_has(&p, &m)? {
                            keep.insert(m);
                        }
                    }
                    result = keep;
                }
            }
        }
        SetAlgebra::Union => {
            for i in 0..sources.len() {
                result.extend(load(cx, i)?);
            }
        }
        SetAlgebra::Diff => {
            if !sources.is_empty() {
                result = load(cx, 0)?.into_iter().collect();
                for i in 1..sources.len() {
                    for m in load(cx, i)? {
                        result.remove(&m);
                    }
                }
            }
        }
    }
    if result.iter().any(|m| !layout::member_fits(&dst.name, m)) {
        return Ok(Reply::Error(RedisError::KeyTooLong));
    }
    let prev = cx.load(dst)?;
    cx.drop_elems(dst, &prev)?;
    let n = result.len() as u64;
    if n == 0 {
        cx.remove(dst, &prev)?;
    } else {
        let dp = layout::elems_prefix(dst);
        for m in &result {
            cx.set_put(&dp, m)?;
        }
        cx.store(dst, &prev, 0, &Val::Set { card: n })?;
    }
    Ok(Reply::Int(n as i64))
}
