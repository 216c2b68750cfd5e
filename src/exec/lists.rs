//! List ops: PUSH family, POP, LSET, LINSERT, LREM, LTRIM, LMOVE.
//!
//! A list's elements sit at consecutive indexes `head..tail` (see `store::layout`): LPUSH
//! decrements `head`, RPUSH increments `tail`, pops move them back. Ops that change the middle
//! rewrite deterministically: LINSERT shifts the shorter side by one, LREM compacts everything
//! after the first removed element towards the head, LTRIM only moves `head`/`tail`.

use bytes::Bytes;

use crate::error::RedisError;
use crate::reply::Reply;
use crate::spore::{End, Key};
use crate::store::kv::KvWrite;
use crate::store::layout;
use crate::store::read::{clamp_range, resolve_index};
use crate::store::StoreError;

use super::ctx::{Ctx, Slot, Val};
use super::wrongtype;

const OVERFLOW: StoreError = StoreError::Corrupt("list index overflow");

/// The list's bounds, `Ok(None)` if missing, `Err(())` if another type.
fn bounds(slot: &Slot) -> Result<Option<(i64, i64)>, ()> {
    match &slot.val {
        None => Ok(None),
        Some(Val::List { head, tail }) => Ok(Some((*head, *tail))),
        Some(_) => Err(()),
    }
}

/// Stores the list with new bounds, or removes the key if it became empty.
fn save<T: KvWrite + ?Sized>(
    cx: &mut Ctx<'_, T>,
    key: &Key,
    prev: &Slot,
    head: i64,
    tail: i64,
) -> Result<(), StoreError> {
    if head >= tail {
        cx.remove(key, prev)?;
    } else {
        cx.store(key, prev, prev.expire_at_ms, &Val::List { head, tail })?;
    }
    Ok(())
}

/// Pushes `elems` one by one at `end`; the new bounds.
fn push_elems<T: KvWrite + ?Sized>(
    cx: &mut Ctx<'_, T>,
    prefix: &[u8],
    (mut head, mut tail): (i64, i64),
    end: End,
    elems: &[&[u8]],
) -> Result<(i64, i64), StoreError> {
    for e in elems {
        match end {
            End::Left => {
                head = head.checked_sub(1).ok_or(OVERFLOW)?;
                cx.list_put(prefix, head, e)?;
            }
            End::Right => {
                cx.list_put(prefix, tail, e)?;
                tail = tail.checked_add(1).ok_or(OVERFLOW)?;
            }
        }
    }
    Ok((head, tail))
}

pub fn push<T: KvWrite + ?Sized>(
    cx: &mut Ctx<'_, T>,
    key: &Key,
    end: End,
    elems: &[Bytes],
    only_if_exists: bool,
) -> Result<Reply, StoreError> {
    let prev = cx.load(key)?;
    let b = match bounds(&prev) {
        Err(()) => return wrongtype(),
        Ok(None) if only_if_exists => return Ok(Reply::Int(0)),
        Ok(b) => b.unwrap_or((0, 0)),
    };
    let prefix = layout::elems_prefix(key);
    let elems: Vec<&[u8]> = elems.iter().map(|e| e.as_ref()).collect();
    let (head, tail) = push_elems(cx, &prefix, b, end, &elems)?;
    save(cx, key, &prev, head, tail)?;
    Ok(Reply::Int(tail.abs_diff(head) as i64))
}

/// Pops up to `n` elements from `end` of an existing list; they and the new bounds.
fn pop_elems<T: KvWrite + ?Sized>(
    cx: &mut Ctx<'_, T>,
    prefix: &[u8],
    (mut head, mut tail): (i64, i64),
    end: End,
    n: u64,
) -> Result<(Vec<Vec<u8>>, i64, i64), StoreError> {
    let n = n.min(tail.abs_diff(head));
    let mut out = Vec::with_capacity(n.min(1 << 16) as usize);
    for _ in 0..n {
        let idx = match end {
            End::Left => {
                head += 1;
                head - 1
            }
            End::Right => {
                tail -= 1;
                tail
            }
        };
        out.push(cx.list_get(prefix, idx)?);
        cx.list_del(prefix, idx)?;
    }
    Ok((out, head, tail))
}

pub fn pop<T: KvWrite + ?Sized>(
    cx: &mut Ctx<'_, T>,
    key: &Key,
    end: End,
    count: Option<u64>,
) -> Result<Reply, StoreError> {
    let prev = cx.load(key)?;
    let b = match bounds(&prev) {
        Err(()) => return wrongtype(),
        Ok(None) => {
            return Ok(if count.is_some() {
                Reply::NilArray
            } else {
                Reply::Nil
            })
        }
        Ok(Some(b)) => b,
    };
    let prefix = layout::elems_prefix(key);
    let (popped, head, tail) = pop_elems(cx, &prefix, b, end, count.unwrap_or(1))?;
    save(cx, key, &prev, head, tail)?;
    Ok(match count {
        None => popped.into_iter().next().map_or(Reply::Nil, Reply::bulk),
        Some(_) => Reply::Array(popped.into_iter().map(Reply::bulk).collect()),
    })
}

pub fn lset<T: KvWrite + ?Sized>(
    cx: &mut Ctx<'_, T>,
    key: &Key,
    index: i64,
    elem: &Bytes,
) -> Result<Reply, StoreError> {
    let prev = cx.load(key)?;
    let (head, tail) = match bounds(&prev) {
        Err(()) => return wrongtype(),
        Ok(None) => return Ok(Reply::Error(RedisError::NoSuchKey)),
        Ok(Some(b)) => b,
    };
    let Some(off) = resolve_index(index, tail.abs_diff(head)) else {
        return Ok(Reply::Error(RedisError::IndexOutOfRange));
    };
    cx.list_put(&layout::elems_prefix(key), head + off as i64, elem)?;
    Ok(Reply::OK)
}

pub fn linsert<T: KvWrite + ?Sized>(
    cx: &mut Ctx<'_, T>,
    key: &Key,
    before: bool,
    pivot: &Bytes,
    elem: &Bytes,
) -> Result<Reply, StoreError> {
    let prev = cx.load(key)?;
    let (mut head, mut tail) = match bounds(&prev) {
        Err(()) => return wrongtype(),
        Ok(None) => return Ok(Reply::Int(0)),
        Ok(Some(b)) => b,
    };
    let prefix = layout::elems_prefix(key);
    let elems = cx.list_load(&prefix, head, tail)?;
    let Some(p) = elems.iter().position(|e| e.as_slice() == pivot.as_ref()) else {
        return Ok(Reply::Int(-1));
    };
    let q = if before { p } else { p + 1 };
    let len = elems.len();
    if q < len - q {
        // Shift elements [0, q) one to the left.
        head = head.checked_sub(1).ok_or(OVERFLOW)?;
        for (i, e) in elems[..q].iter().enumerate() {
            cx.list_put(&prefix, head + i as i64, e)?;
        }
        cx.list_put(&prefix, head + q as i64, elem)?;
    } else {
        // Shift elements [q, len) one to the right.
        for i in (q..len).rev() {
            cx.list_put(&prefix, head + i as i64 + 1, &elems[i])?;
        }
        cx.list_put(&prefix, head + q as i64, elem)?;
        tail = tail.checked_add(1).ok_or(OVERFLOW)?;
    }
    save(cx, key, &prev, head, tail)?;
    Ok(Reply::Int(len as i64 + 1))
}

pub fn lrem<T: KvWrite + ?Sized>(
    cx: &mut Ctx<'_, T>,
    key: &Key,
    count: i64,
    elem: &Bytes,
) -> Result<Reply, StoreError> {
    let prev = cx.load(key)?;
    let (head, tail) = match bounds(&prev) {
        Err(()) => return wrongtype(),
        Ok(None) => return Ok(Reply::Int(0)),
        Ok(Some(b)) => b,
    };
    let prefix = layout::elems_prefix(key);
    let elems = cx.list_load(&prefix, head, tail)?;
    let limit = if count == 0 {
        usize::MAX
    } else {
        count.unsigned_abs().min(usize::MAX as u64) as usize
    };
    let mut remove = vec![false; elems.len()];
    let mut removed = 0usize;
    let order: Box<dyn Iterator<Item = usize>> = if count < 0 {
        Box::new((0..elems.len()).rev())
    } else {
        Box::new(0..elems.len())
    };
    for i in order {
        if removed == limit {
            break;
        }
        if elems[i].as_slice() == elem.as_ref() {
            remove[i] = true;
            removed += 1;
        }
    }
    if removed == 0 {
        return Ok(Reply::Int(0));
    }
    // Compact from the first removed element on.
    let first = remove.iter().position(|r| *r).unwrap_or(elems.len());
    let mut w = first;
    for i in first..elems.len() {
        if !remove[i] {
            cx.list_put(&prefix, head + w as i64, &elems[i])?;
            w += 1;
        }
    }
    for i in w..elems.len() {
        cx.list_del(&prefix, head + i as i64)?;
    }
    save(cx, key, &prev, head, head + w as i64)?;
    Ok(Reply::Int(removed as i64))
}

pub fn ltrim<T: KvWrite + ?Sized>(
    cx: &mut Ctx<'_, T>,
    key: &Key,
    start: i64,
    stop: i64,
) -> Result<Reply, StoreError> {
    let prev = cx.load(key)?;
    let (head, tail) = match bounds(&prev) {
        Err(()) => return wrongtype(),
        Ok(None) => return Ok(Reply::OK),
        Ok(Some(b)) => b,
    };
    let prefix = layout::elems_prefix(key);
    match clamp_range(start, stop, tail.abs_diff(head)) {
        None => {
            cx.remove(key, &prev)?;
        }
        Some((a, b)) => {
            let (new_head, new_tail) = (head + a as i64, head + b as i64 + 1);
            for i in (head..new_head).chain(new_tail..tail) {
                cx.list_del(&prefix, i)?;
            }
            save(cx, key, &prev, new_head, new_tail)?;
        }
    }
    Ok(Reply::OK)
}

pub fn lmove<T: KvWrite + ?Sized>(
    cx: &mut Ctx<'_, T>,
    src: &Key,
    dst: &Key,
    from: End,
    to: End,
) -> Result<Reply, StoreError> {
    let s = cx.load(src)?;
    let sb = match bounds(&s) {
        Err(()) => return wrongtype(),
        Ok(None) => return Ok(Reply::Nil),
        Ok(Some(b)) => b,
    };
    if bounds(&cx.load(dst)?).is_err() {
        return wrongtype();
    }
    let sp = layout::elems_prefix(src);
    let (popped, head, tail) = pop_elems(cx, &sp, sb, from, 1)?;
    save(cx, src, &s, head, tail)?;
    let Some(elem) = popped.into_iter().next() else {
        return Ok(Reply::Nil);
    };
    let d = cx.load(dst)?;
    let db = bounds(&d).ok().flatten().unwrap_or((0, 0));
    let dp = layout::elems_prefix(dst);
    let (head, tail) = push_elems(cx, &dp, db, to, &[&elem])?;
    save(cx, dst, &d, head, tail)?;
    Ok(Reply::bulk(elem))
}
