//! String ops: SET family, GETDEL, GETEX, MSETNX, APPEND, SETRANGE, INCRBY, INCRBYFLOAT.

use bytes::Bytes;
use num_bigint::BigInt;

use crate::error::RedisError;
use crate::reply::Reply;
use crate::spore::{Key, SetCond, Ttl};
use crate::store::kv::KvWrite;
use crate::store::StoreError;

use super::ctx::{Ctx, Slot, Val};
use super::{decimal, integer, wrongtype};

/// Redis's proto-max-bulk-len: the largest string APPEND/SETRANGE may produce.
pub const MAX_STRING: u64 = 512 * 1024 * 1024;

fn ttl_after(ttl: Ttl, prev: &Slot) -> u64 {
    match ttl {
        Ttl::Clear => 0,
        Ttl::Keep => prev.expire_at_ms,
        Ttl::At(at) => at,
    }
}

/// Replaces `key`'s value by the string `value` (dropping list/set elements).
fn put_string<T: KvWrite + ?Sized>(
    cx: &mut Ctx<'_, T>,
    key: &Key,
    prev: &Slot,
    expire_at_ms: u64,
    value: Vec<u8>,
) -> Result<(), StoreError> {
    cx.drop_elems(key, prev)?;
    cx.store(key, prev, expire_at_ms, &Val::Str(value))
}

pub fn set<T: KvWrite + ?Sized>(
    cx: &mut Ctx<'_, T>,
    key: &Key,
    value: &Bytes,
    cond: SetCond,
    ttl: Ttl,
    get: bool,
) -> Result<Reply, StoreError> {
    let prev = cx.load(key)?;
    let old = match &prev.val {
        Some(Val::Str(s)) => Reply::bulk(s.clone()),
        Some(_) if get => return wrongtype(),
        _ => Reply::Nil,
    };
    let proceed = match cond {
        SetCond::Always => true,
        SetCond::Nx => !prev.is_live(),
        SetCond::Xx => prev.is_live(),
    };
    if proceed {
        let at = ttl_after(ttl, &prev);
        put_string(cx, key, &prev, at, value.to_vec())?;
    }
    Ok(match (get, proceed) {
        (true, _) => old,
        (false, true) => Reply::OK,
        (false, false) => Reply::Nil,
    })
}

pub fn getdel<T: KvWrite + ?Sized>(cx: &mut Ctx<'_, T>, key: &Key) -> Result<Reply, StoreError> {
    let prev = cx.load(key)?;
    match &prev.val {
        None => Ok(Reply::Nil),
        Some(Val::Str(s)) => {
            let reply = Reply::bulk(s.clone());
            cx.remove(key, &prev)?;
            Ok(reply)
        }
        Some(_) => wrongtype(),
    }
}

pub fn getex<T: KvWrite + ?Sized>(
    cx: &mut Ctx<'_, T>,
    key: &Key,
    ttl: Ttl,
) -> Result<Reply, StoreError> {
    let prev = cx.load(key)?;
    match &prev.val {
        None => Ok(Reply::Nil),
        Some(Val::Str(s)) => {
            let reply = Reply::bulk(s.clone());
            let at = ttl_after(ttl, &prev);
            if at != prev.expire_at_ms {
                let val = Val::Str(s.clone());
                cx.store(key, &prev, at, &val)?;
            }
            Ok(reply)
        }
        Some(_) => wrongtype(),
    }
}

pub fn msetnx<T: KvWrite + ?Sized>(
    cx: &mut Ctx<'_, T>,
    pairs: &[(Key, Bytes)],
) -> Result<Reply, StoreError> {
    for (key, _) in pairs {
        if cx.load(key)?.is_live() {
            return Ok(Reply::Int(0));
        }
    }
    for (key, value) in pairs {
        // Reload: a key may appear twice (the last value wins, as in Redis).
        let prev = cx.load(key)?;
        put_string(cx, key, &prev, 0, value.to_vec())?;
    }
    Ok(Reply::Int(1))
}

pub fn append<T: KvWrite + ?Sized>(
    cx: &mut Ctx<'_, T>,
    key: &Key,
    data: &Bytes,
) -> Result<Reply, StoreError> {
    let prev = cx.load(key)?;
    let mut value = match &prev.val {
        None => Vec::new(),
        Some(Val::Str(s)) => {
            if s.len() as u64 + data.len() as u64 > MAX_STRING {
                return Ok(Reply::Error(RedisError::StringTooLong));
            }
            s.clone()
        }
        Some(_) => return wrongtype(),
    };
    value.extend_from_slice(data);
    let len = value.len() as i64;
    let at = prev.expire_at_ms;
    cx.store(key, &prev, at, &Val::Str(value))?;
    Ok(Reply::Int(len))
}

pub fn setrange<T: KvWrite + ?Sized>(
    cx: &mut Ctx<'_, T>,
    key: &Key,
    offset: u64,
    data: &Bytes,
) -> Result<Reply, StoreError> {
    let prev = cx.load(key)?;
    let mut value = match &prev.val {
        None => {
            if data.is_empty() {
                return Ok(Reply::Int(0));
            }
            Vec::new()
        }
        Some(Val::Str(s)) => {
            if data.is_empty() {
                return Ok(Reply::Int(s.len() as i64));
            }
            s.clone()
        }
        Some(_) => return wrongtype(),
    };
    let end = match offset.checked_add(data.len() as u64) {
        Some(end) if end <= MAX_STRING => end as usize,
        _ => return Ok(Reply::Error(RedisError::StringTooLong)),
    };
    if value.len() < end {
        value.resize(end, 0);
    }
    value[offset as usize..end].copy_from_slice(data);
    let len = value.len() as i64;
    let at = prev.expire_at_ms;
    cx.store(key, &prev, at, &Val::Str(value))?;
    Ok(Reply::Int(len))
}

pub fn incrby<T: KvWrite + ?Sized>(
    cx: &mut Ctx<'_, T>,
    key: &Key,
    delta: &BigInt,
) -> Result<Reply, StoreError> {
    let prev = cx.load(key)?;
    let current = match &prev.val {
        None => BigInt::default(),
        Some(Val::Str(s)) => match integer::parse_canonical(s) {
            Some(n) => n,
            None => return Ok(Reply::Error(RedisError::NotInteger)),
        },
        Some(_) => return wrongtype(),
    };
    let n = current + delta;
    let at = prev.expire_at_ms;
    cx.store(key, &prev, at, &Val::Str(n.to_string().into_bytes()))?;
    Ok(Reply::integer(&n))
}

pub fn incrbyfloat<T: KvWrite + ?Sized>(
    cx: &mut Ctx<'_, T>,
    key: &Key,
    delta: &Bytes,
) -> Result<Reply, StoreError> {
    let prev = cx.load(key)?;
    let current = match &prev.val {
        None => None,
        Some(Val::Str(s)) => Some(s.as_slice()),
        Some(_) => return wrongtype(),
    };
    match decimal::incr_by_float(current, delta) {
        Err(e) => Ok(Reply::Error(e)),
        Ok(text) => {
            let at = prev.expire_at_ms;
            cx.store(key, &prev, at, &Val::Str(text.clone().into_bytes()))?;
            Ok(Reply::bulk_str(text))
        }
    }
}
