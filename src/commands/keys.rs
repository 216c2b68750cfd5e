//! Keyspace commands: existence, types, renames, expiry, iteration, flushing.
//!
//! Relative expiry times become absolute here, with the caller's `now_ms`; an expiry already in
//! the past is sent with `delete` set so every replica deletes the key (if the condition holds)
//! without reading its own clock. TTL/PTTL are computed against the same `now_ms` the snapshot
//! hides expired keys with.

use crate::error::RedisError;
use crate::reply::Reply;
use crate::spore::{ExpireCond, Op, DATABASES};

use super::args::Args;
use super::ctx::{Action, Ctx, Write};
use super::scan_args::{self, TypeFilter};
use super::spec::{spec, CommandSpec, Flags, Group, ALL_KEYS, KEY1, NO_KEYS};
use super::view::KeyTtl;

const W: Flags = Flags::WRITE;
const WF: Flags = Flags::WRITE.union(Flags::FAST);
const R: Flags = Flags::READONLY;
const RF: Flags = Flags::READONLY.union(Flags::FAST);
const G: Group = Group::Generic;
const TWO_KEYS: (i32, i32, i32) = (1, 2, 1);
const EXPIRE_SYNTAX: &str = "key seconds [NX|XX|GT|LT]";

pub const SPECS: &[CommandSpec] = &[
    CommandSpec { summary: "Deletes one or more keys.", complexity: "O(N) where N is the number of keys that will be removed.", syntax: "key...", ..spec("del", -2, W, ALL_KEYS, G, del) },
    CommandSpec { since: "4.0.0", summary: "Asynchronously deletes one or more keys.", complexity: "O(1) for each key removed regardless of its size.", syntax: "key...", ..spec("unlink", -2, WF, ALL_KEYS, G, del) },
    CommandSpec { summary: "Determines whether one or more keys exist.", complexity: "O(N) where N is the number of keys to check.", syntax: "key...", ..spec("exists", -2, RF, ALL_KEYS, G, exists) },
    CommandSpec { summary: "Determines the type of value stored at a key.", syntax: "key", ..spec("type", 2, RF, KEY1, G, type_) },
    CommandSpec { summary: "Renames a key and overwrites the destination.", syntax: "key newkey", ..spec("rename", 3, W, TWO_KEYS, G, rename) },
    CommandSpec { summary: "Renames a key only when the target key name doesn't exist.", syntax: "key newkey", ..spec("renamenx", 3, WF, TWO_KEYS, G, renamenx) },
    CommandSpec { summary: "Returns all key names that match a pattern.", complexity: "O(N) with N being the number of keys in the database", syntax: "pattern", ..spec("keys", 2, R, NO_KEYS, G, keys) },
    CommandSpec { since: "2.8.0", summary: "Iterates over the key names in the database.", complexity: "O(1) for every call. O(N) for a complete iteration, including enough command calls for the cursor to return back to 0. N is the number of elements inside the collection.", syntax: "cursor [MATCH pattern] [COUNT count] [TYPE type]", ..spec("scan", -2, R, NO_KEYS, G, scan_cmd) },
    CommandSpec { summary: "Returns a random key name from the database.", complexity: "O(1)", syntax: "", ..spec("randomkey", 1, R, NO_KEYS, G, randomkey) },
    CommandSpec { summary: "Returns the number of keys in the database.", syntax: "", group: Group::Server, ..spec("dbsize", 1, RF, NO_KEYS, G, dbsize) },
    CommandSpec { summary: "Sets the expiration time of a key in seconds.", syntax: EXPIRE_SYNTAX, ..spec("expire", -3, WF, KEY1, G, expire) },
    CommandSpec { since: "2.6.0", summary: "Sets the expiration time of a key in milliseconds.", syntax: "key milliseconds [NX|XX|GT|LT]", ..spec("pexpire", -3, WF, KEY1, G, pexpire) },
    CommandSpec { since: "1.2.0", summary: "Sets the expiration time of a key to a Unix timestamp.", syntax: "key unix-time-seconds [NX|XX|GT|LT]", ..spec("expireat", -3, WF, KEY1, G, expireat) },
    CommandSpec { since: "2.6.0", summary: "Sets the expiration time of a key to a Unix milliseconds timestamp.", syntax: "key unix-time-milliseconds [NX|XX|GT|LT]", ..spec("pexpireat", -3, WF, KEY1, G, pexpireat) },
    CommandSpec { summary: "Returns the expiration time in seconds of a key.", syntax: "key", ..spec("ttl", 2, RF, KEY1, G, ttl) },
    CommandSpec { since: "2.6.0", summary: "Returns the expiration time in milliseconds of a key.", syntax: "key", ..spec("pttl", 2, RF, KEY1, G, pttl) },
    CommandSpec { since: "7.0.0", summary: "Returns the expiration time of a key as a Unix timestamp.", syntax: "key", ..spec("expiretime", 2, RF, KEY1, G, expiretime) },
    CommandSpec { since: "7.0.0", summary: "Returns the expiration time of a key as a Unix milliseconds timestamp.", syntax: "key", ..spec("pexpiretime", 2, RF, KEY1, G, pexpiretime) },
    CommandSpec { since: "2.2.0", summary: "Removes the expiration time of a key.", syntax: "key", ..spec("persist", 2, WF, KEY1, G, persist) },
    CommandSpec { summary: "Remove all keys from the current database.", complexity: "O(N) where N is the number of keys in the selected database", syntax: "[ASYNC|SYNC]", group: Group::Server, ..spec("flushdb", -1, W, NO_KEYS, G, flushdb) },
    CommandSpec { summary: "Removes all keys from all databases.", complexity: "O(N) where N is the total number of keys in all databases", syntax: "[ASYNC|SYNC]", group: Group::Server, ..spec("flushall", -1, W, NO_KEYS, G, flushall) },
];

fn sum_ints(replies: Vec<Reply>) -> Reply {
    if let Some(e) = Write::first_error(&replies) {
        return e;
    }
    Reply::Int(
        replies
            .iter()
            .map(|r| if let Reply::Int(n) = r { *n } else { 0 })
            .sum(),
    )
}

fn del(ctx: &mut Ctx<'_>, a: &mut Args) -> Result<Action, RedisError> {
    let ops = a
        .rest()
        .into_iter()
        .map(|k| Op::Del { key: ctx.key(k) })
        .collect();
    Ok(Action::Write(Write::shaped(ops, sum_ints)))
}

fn exists(ctx: &mut Ctx<'_>, a: &mut Args) -> Result<Action, RedisError> {
    let keys: Vec<_> = a.rest().into_iter().map(|k| ctx.key(k)).collect();
    let view = ctx.view()?;
    let mut n = 0;
    for k in &keys {
        n += view.kind(k)?.is_some() as i64;
    }
    Ok(Reply::Int(n).into())
}

fn type_(ctx: &mut Ctx<'_>, a: &mut Args) -> Result<Action, RedisError> {
    let key = ctx.key(a.bytes()?);
    let name = ctx.view()?.kind(&key)?.map_or("none", |k| k.name());
    Ok(Reply::Status(name.to_string()).into())
}

fn rename_generic(ctx: &mut Ctx<'_>, a: &mut Args, nx: bool) -> Result<Action, RedisError> {
    let src = ctx.key(a.bytes()?);
    let dst = ctx.key(a.bytes()?);
    Ok(Action::Write(Write::single(Op::Rename { src, dst, nx })))
}

fn rename(ctx: &mut Ctx<'_>, a: &mut Args) -> Result<Action, RedisError> {
    rename_generic(ctx, a, false)
}

fn renamenx(ctx: &mut Ctx<'_>, a: &mut Args) -> Result<Action, RedisError> {
    rename_generic(ctx, a, true)
}

fn keys(ctx: &mut Ctx<'_>, a: &mut Args) -> Result<Action, RedisError> {
    let pattern = a.bytes()?;
    let db = ctx.session.db;
    let out = ctx.view()?.keys(db, &pattern)?;
    Ok(Reply::Array(out.into_iter().map(Reply::Bulk).collect()).into())
}

/// A SCAN / SSCAN reply: the next cursor and the page.
pub fn scan_reply(next: &crate::store::ScanCursor, items: Vec<bytes::Bytes>) -> Reply {
    Reply::Array(vec![
        Reply::bulk_str(next.to_text()),
        Reply::Array(items.into_iter().map(Reply::Bulk).collect()),
    ])
}

fn scan_cmd(ctx: &mut Ctx<'_>, a: &mut Args) -> Result<Action, RedisError> {
    let cursor = scan_args::parse_cursor(&a.bytes()?)?;
    let o = scan_args::parse_options(a, true)?;
    let db = ctx.session.db;
    let kind = match o.kind {
        Some(TypeFilter::Is(k)) => Some(k),
        _ => None,
    };
    let (next, mut items) = ctx
        .view()?
        .scan(db, &cursor, o.count, o.pattern.as_deref(), kind)?;
    if o.kind == Some(TypeFilter::Nothing) {
        // The cursor still advances, so the iteration ends as in Redis.
        items.clear();
    }
    Ok(scan_reply(&next, items).into())
}

fn randomkey(ctx: &mut Ctx<'_>, _a: &mut Args) -> Result<Action, RedisError> {
    let db = ctx.session.db;
    let seed = getrandom::u64().unwrap_or(0);
    Ok(ctx
        .view()?
        .random_key(db, seed)?
        .map_or(Reply::Nil, Reply::Bulk)
        .into())
}

fn dbsize(ctx: &mut Ctx<'_>, _a: &mut Args) -> Result<Action, RedisError> {
    let db = ctx.session.db;
    Ok(Reply::Int(ctx.view()?.dbsize(db)? as i64).into())
}

/// Parses EXPIRE's NX / XX / GT / LT with Redis 7's compatibility rules.
pub fn parse_expire_cond(a: &mut Args) -> Result<ExpireCond, RedisError> {
    let (mut nx, mut xx, mut gt, mut lt) = (false, false, false, false);
    while !a.is_empty() {
        let opt = a.string()?;
        match opt.to_ascii_uppercase().as_str() {
            "NX" => nx = true,
            "XX" => xx = true,
            "GT" => gt = true,
            "LT" => lt = true,
            _ => return Err(RedisError::generic(format!("Unsupported option {opt}"))),
        }
    }
    if nx && (xx || gt || lt) {
        return Err(RedisError::generic(
            "NX and XX, GT or LT options at the same time are not compatible",
        ));
    }
    if gt && lt {
        return Err(RedisError::generic(
            "GT and LT options at the same time are not compatible",
        ));
    }
    Ok(match (nx, xx, gt, lt) {
        (true, ..) => ExpireCond::Nx,
        (_, _, true, _) => ExpireCond::Gt,
        (_, _, _, true) => ExpireCond::Lt,
        (_, true, ..) => ExpireCond::Xx,
        _ => ExpireCond::Always,
    })
}

/// The absolute expiry in ms for EXPIRE-family `value` (Redis's overflow checks).
pub fn expire_at(
    value: i64,
    seconds: bool,
    relative: bool,
    now_ms: u64,
    cmd: &str,
) -> Result<i64, RedisError> {
    let invalid = || RedisError::InvalidExpire {
        cmd: cmd.to_string(),
    };
    let ms = if seconds {
        value.checked_mul(1000).ok_or_else(invalid)?
    } else {
        value
    };
    if relative {
        ms.checked_add(now_ms as i64).ok_or_else(invalid)
    } else {
        Ok(ms)
    }
}

fn expire_generic(
    ctx: &mut Ctx<'_>,
    a: &mut Args,
    seconds: bool,
    relative: bool,
    cmd: &str,
) -> Result<Action, RedisError> {
    let key = ctx.key(a.bytes()?);
    let value = a.bytes()?;
    let cond = parse_expire_cond(a)?;
    let value = super::args::parse_i64(&value).ok_or(RedisError::NotInteger)?;
    let at = expire_at(value, seconds, relative, ctx.now_ms, cmd)?;
    let delete = at <= ctx.now_ms as i64;
    let at_ms = u64::try_from(at).unwrap_or(0);
    Ok(Action::Write(Write::single(Op::Expire {
        key,
        at_ms,
        cond,
        delete,
    })))
}

fn expire(ctx: &mut Ctx<'_>, a: &mut Args) -> Result<Action, RedisError> {
    expire_generic(ctx, a, true, true, "expire")
}
fn pexpire(ctx: &mut Ctx<'_>, a: &mut Args) -> Result<Action, RedisError> {
    expire_generic(ctx, a, false, true, "pexpire")
}
fn expireat(ctx: &mut Ctx<'_>, a: &mut Args) -> Result<Action, RedisError> {
    expire_generic(ctx, a, true, false, "expireat")
}
fn pexpireat(ctx: &mut Ctx<'_>, a: &mut Args) -> Result<Action, RedisError> {
    expire_generic(ctx, a, false, false, "pexpireat")
}

/// -2 for a missing key, -1 without TTL, else `f(expire_at_ms, now_ms)`.
fn ttl_generic(
    ctx: &mut Ctx<'_>,
    a: &mut Args,
    f: impl Fn(u64, u64) -> i64,
) -> Result<Action, RedisError> {
    let key = ctx.key(a.bytes()?);
    let now = ctx.now_ms;
    let n = match ctx.view()?.ttl(&key)? {
        KeyTtl::Missing => -2,
        KeyTtl::Persistent => -1,
        KeyTtl::At { at_ms, .. } => f(at_ms, now),
    };
    Ok(Reply::Int(n).into())
}

/// Milliseconds to the nearest second, as Redis rounds TTL and EXPIRETIME.
fn round_secs(ms: u64) -> i64 {
    i64::try_from(ms.saturating_add(500) / 1000).unwrap_or(i64::MAX)
}

fn ttl(ctx: &mut Ctx<'_>, a: &mut Args) -> Result<Action, RedisError> {
    ttl_generic(ctx, a, |at, now| round_secs(at.saturating_sub(now)))
}
fn pttl(ctx: &mut Ctx<'_>, a: &mut Args) -> Result<Action, RedisError> {
    ttl_generic(ctx, a, |at, now| {
        i64::try_from(at.saturating_sub(now)).unwrap_or(i64::MAX)
    })
}
fn expiretime(ctx: &mut Ctx<'_>, a: &mut Args) -> Result<Action, RedisError> {
    ttl_generic(ctx, a, |at, _| round_secs(at))
}
fn pexpiretime(ctx: &mut Ctx<'_>, a: &mut Args) -> Result<Action, RedisError> {
    ttl_generic(ctx, a, |at, _| i64::try_from(at).unwrap_or(i64::MAX))
}

fn persist(ctx: &mut Ctx<'_>, a: &mut Args) -> Result<Action, RedisError> {
    let key = ctx.key(a.bytes()?);
    Ok(Action::Write(Write::single(Op::Persist { key })))
}

/// FLUSHDB / FLUSHALL accept ASYNC or SYNC (both flush through one spore).
fn flush_mode(a: &mut Args) -> Result<(), RedisError> {
    match a.remaining() {
        0 => Ok(()),
        1 if a.eat("ASYNC") || a.eat("SYNC") => Ok(()),
        _ => Err(RedisError::Syntax),
    }
}

fn flushdb(ctx: &mut Ctx<'_>, a: &mut Args) -> Result<Action, RedisError> {
    flush_mode(a)?;
    Ok(Action::Write(Write::single(Op::FlushDb {
        db: ctx.session.db,
    })))
}

fn flushall(_ctx: &mut Ctx<'_>, a: &mut Args) -> Result<Action, RedisError> {
    flush_mode(a)?;
    Ok(Action::Write(Write::single(Op::FlushAll)))
}

/// Whether `db` is a valid database index (SELECT, MOVE-like commands).
pub fn valid_db(db: i64) -> Option<u8> {
    u8::try_from(db).ok().filter(|d| *d < DATABASES)
}

#[cfg(test)]
mod tests {

    use super::*;

    fn args(parts: &[&str]) -> Args {
        Args::from_strs("expire", parts)
    }

    #[test]
    fn expire_conditions() {
        assert_eq!(
            parse_expire_cond(&mut args(&[])).unwrap(),
            ExpireCond::Always
        );
        assert_eq!(
            parse_expire_cond(&mut args(&["nx"])).unwrap(),
            ExpireCond::Nx
        );
        assert_eq!(
            parse_expire_cond(&mut args(&["XX"])).unwrap(),
            ExpireCond::Xx
        );
        assert_eq!(
            parse_expire_cond(&mut args(&["gt"])).unwrap(),
            ExpireCond::Gt
        );
        assert_eq!(
            parse_expire_cond(&mut args(&["xx", "lt"])).unwrap(),
            ExpireCond::Lt
        );
        assert_eq!(
            parse_expire_cond(&mut args(&["nx", "xx"]))
                .unwrap_err()
                .to_string(),
            "ERR NX and XX, GT or LT options at the same time are not compatible"
        );
        assert_eq!(
            parse_expire_cond(&mut args(&["gt", "lt"]))
                .unwrap_err()
                .to_string(),
            "ERR GT and LT options at the same time are not compatible"
        );
        assert_eq!(
            parse_expire_cond(&mut args(&["foo"]))
                .unwrap_err()
                .to_string(),
            "ERR Unsupported option foo"
        );
    }

    #[test]
    fn expire_arithmetic() {
        assert_eq!(expire_at(10, true, true, 1000, "expire"), Ok(11_000));
        assert_eq!(expire_at(-10, true, true, 1000, "expire"), Ok(-9_000));
        assert_eq!(expire_at(5, false, false, 1000, "pexpireat"), Ok(5));
        assert_eq!(
            expire_at(i64::MAX, true, true, 0, "expire")
                .unwrap_err()
                .to_string(),
            "ERR invalid expire time in 'expire' command"
        );
        assert!(expire_at(i64::MAX - 5, false, true, 10, "pexpire").is_err());
    }
}
