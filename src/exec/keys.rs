//! Keyspace ops: DEL, EXPIRE family, PERSIST, RENAME / RENAMENX, FLUSHDB, FLUSHALL.

use crate::error::RedisError;
use crate::reply::Reply;
use crate::spore::{ExpireCond, Key, DATABASES};
use crate::store::kv::KvWrite;
use crate::store::layout;
use crate::store::StoreError;

use super::ctx::{Ctx, Val};

pub fn del<T: KvWrite + ?Sized>(cx: &mut Ctx<'_, T>, key: &Key) -> Result<Reply, StoreError> {
    let prev = cx.load(key)?;
    Ok(Reply::Int(cx.remove(key, &prev)? as i64))
}

pub fn expire<T: KvWrite + ?Sized>(
    cx: &mut Ctx<'_, T>,
    key: &Key,
    at_ms: u64,
    cond: ExpireCond,
    delete: bool,
) -> Result<Reply, StoreError> {
    let prev = cx.load(key)?;
    let Some(val) = &prev.val else {
        return Ok(Reply::Int(0));
    };
    let cur = prev.expire_at_ms; // 0 = none = infinite
    let pass = match cond {
        ExpireCond::Always => true,
        ExpireCond::Nx => cur == 0,
        ExpireCond::Xx => cur != 0,
        ExpireCond::Gt => cur != 0 && at_ms > cur,
        ExpireCond::Lt => cur == 0 || at_ms < cur,
    };
    if !pass {
        return Ok(Reply::Int(0));
    }
    if delete {
        cx.remove(key, &prev)?;
    } else {
        let val = val.clone();
        cx.store(key, &prev, at_ms, &val)?;
    }
    Ok(Reply::Int(1))
}

pub fn persist<T: KvWrite + ?Sized>(cx: &mut Ctx<'_, T>, key: &Key) -> Result<Reply, StoreError> {
    let prev = cx.load(key)?;
    match &prev.val {
        Some(val) if prev.expire_at_ms != 0 => {
            let val = val.clone();
            cx.store(key, &prev, 0, &val)?;
            Ok(Reply::Int(1))
        }
        _ => Ok(Reply::Int(0)),
    }
}

pub fn rename<T: KvWrite + ?Sized>(
    cx: &mut Ctx<'_, T>,
    src: &Key,
    dst: &Key,
    nx: bool,
) -> Result<Reply, StoreError> {
    let from = cx.load(src)?;
    let Some(val) = from.val.clone() else {
        return Ok(Reply::Error(RedisError::NoSuchKey));
    };
    let ok = if nx { Reply::Int(1) } else { Reply::OK };
    if src == dst {
        return Ok(if nx { Reply::Int(0) } else { Reply::OK });
    }
    let to = cx.load(dst)?;
    if nx && to.is_live() {
        return Ok(Reply::Int(0));
    }
    // Collect the source's elements before anything moves.
    let src_prefix = layout::elems_prefix(src);
    let dst_prefix = layout::elems_prefix(dst);
    let (list, members) = match &val {
        Val::List { head, tail } => (cx.list_load(&src_prefix, *head, *tail)?, Vec::new()),
        Val::Set { .. } => (Vec::new(), cx.set_load(&src_prefix)?),
        Val::Str(_) => (Vec::new(), Vec::new()),
    };
    if members.iter().any(|m| !layout::member_fits(&dst.name, m)) {
        return Ok(Reply::Error(RedisError::KeyTooLong));
    }
    let at = from.expire_at_ms;
    cx.remove(src, &from)?;
    cx.drop_elems(dst, &to)?;
    let new_val = match val {
        Val::List { .. } => {
            for (i, e) in list.iter().enumerate() {
                cx.list_put(&dst_prefix, i as i64, e)?;
            }
            Val::List {
                head: 0,
                tail: list.len() as i64,
            }
        }
        Val::Set { card } => {
            for m in &members {
                cx.set_put(&dst_prefix, m)?;
            }
            Val::Set { card }
        }
        v => v,
    };
    cx.store(dst, &to, at, &new_val)?;
    Ok(ok)
}

pub fn flushdb<T: KvWrite + ?Sized>(cx: &mut Ctx<'_, T>, db: u8) -> Result<Reply, StoreError> {
    cx.flush_db(db)?;
    Ok(Reply::OK)
}

pub fn flushall<T: KvWrite + ?Sized>(cx: &mut Ctx<'_, T>) -> Result<Reply, StoreError> {
    for db in 0..DATABASES {
        cx.flush_db(db)?;
    }
    Ok(Reply::OK)
}
