//! String commands: GET/SET and friends, counters, ranges.
//!
//! Reads come from the snapshot. Writes validate what the origin can validate (options,
//! numbers, expiry arithmetic, sizes) and become ops; the type checks happen in the executor,
//! because the state a spore applies to may differ from the state the origin saw.
//! Counters are arbitrary-length (sporedb's one deliberate divergence): INCRBY/DECRBY accept
//! any integer and answer a big number when the result leaves i64.

use bytes::Bytes;
use num_bigint::BigInt;

use crate::error::RedisError;
use crate::reply::Reply;
use crate::spore::{Op, SetCond, Ttl};

use super::args::{is_infinity_text, parse_f64, Args};
use super::ctx::{Action, Ctx, Write};
use super::spec::{spec, CommandSpec, Flags, Group, ALL_KEYS, KEY1};

const W: Flags = Flags::WRITE.union(Flags::DENYOOM);
const WF: Flags = W.union(Flags::FAST);
const R: Flags = Flags::READONLY;
const RF: Flags = Flags::READONLY.union(Flags::FAST);
const G: Group = Group::String;

/// Redis's proto-max-bulk-len default: the largest string SETRANGE/APPEND may build.
const MAX_STRING: u64 = 512 * 1024 * 1024;

pub const SPECS: &[CommandSpec] = &[
    CommandSpec { summary: "Returns the string value of a key.", syntax: "key", ..spec("get", 2, RF, KEY1, G, get) },
    CommandSpec {
        summary: "Sets the string value of a key, ignoring its type. The key is created if it doesn't exist.",
        syntax: "key value [NX|XX] [GET] [EX seconds|PX milliseconds|EXAT unix-time-seconds|PXAT unix-time-milliseconds|KEEPTTL]",
        ..spec("set", -3, W, KEY1, G, set)
    },
    CommandSpec { summary: "Set the string value of a key only when the key doesn't exist.", syntax: "key value", ..spec("setnx", 3, WF, KEY1, G, setnx) },
    CommandSpec { since: "2.0.0", summary: "Sets the string value and expiration time of a key. Creates the key if it doesn't exist.", syntax: "key seconds value", ..spec("setex", 4, W, KEY1, G, setex) },
    CommandSpec { since: "2.6.0", summary: "Sets both string value and expiration time in milliseconds of a key. The key is created if it doesn't exist.", syntax: "key milliseconds value", ..spec("psetex", 4, W, KEY1, G, psetex) },
    CommandSpec { summary: "Returns the previous string value of a key after setting it to a new value.", syntax: "key value", ..spec("getset", 3, WF, KEY1, G, getset) },
    CommandSpec { since: "6.2.0", summary: "Returns the string value of a key after deleting the key.", syntax: "key", ..spec("getdel", 2, Flags::WRITE.union(Flags::FAST), KEY1, G, getdel) },
    CommandSpec { since: "6.2.0", summary: "Returns the string value of a key after setting its expiration time.", syntax: "key [EX seconds|PX milliseconds|EXAT unix-time-seconds|PXAT unix-time-milliseconds|PERSIST]", ..spec("getex", -2, Flags::WRITE.union(Flags::FAST), KEY1, G, getex) },
    CommandSpec { summary: "Atomically returns the string values of one or more keys.", complexity: "O(N) where N is the number of keys to retrieve.", syntax: "key...", ..spec("mget", -2, RF, ALL_KEYS, G, mget) },
    CommandSpec { since: "1.0.1", summary: "Atomically creates or modifies the string values of one or more keys.", complexity: "O(N) where N is the number of keys to set.", syntax: "(key value)...", ..spec("mset", -3, W, (1, -1, 2), G, mset) },
    CommandSpec { since: "1.0.1", summary: "Atomically modifies the string values of one or more keys only when all keys don't exist.", complexity: "O(N) where N is the number of keys to set.", syntax: "(key value)...", ..spec("msetnx", -3, W, (1, -1, 2), G, msetnx) },
    CommandSpec { since: "2.0.0", summary: "Appends a string to the value of a key. Creates the key if it doesn't exist.", syntax: "key value", ..spec("append", 3, WF, KEY1, G, append) },
    CommandSpec { since: "2.2.0", summary: "Returns the length of a string value.", syntax: "key", ..spec("strlen", 2, RF, KEY1, G, strlen) },
    CommandSpec { since: "2.4.0", summary: "Returns a substring of the string stored at a key.", complexity: "O(N) where N is the length of the returned string.", syntax: "key start end", ..spec("getrange", 4, R, KEY1, G, getrange) },
    CommandSpec { since: "2.2.0", summary: "Overwrites a part of a string value with another by an offset. Creates the key if it doesn't exist.", syntax: "key offset value", ..spec("setrange", 4, W, KEY1, G, setrange) },
    CommandSpec { summary: "Increments the integer value of a key by one. Uses 0 as initial value if the key doesn't exist.", syntax: "key", ..spec("incr", 2, WF, KEY1, G, incr) },
    CommandSpec { summary: "Decrements the integer value of a key by one. Uses 0 as initial value if the key doesn't exist.", syntax: "key", ..spec("decr", 2, WF, KEY1, G, decr) },
    CommandSpec { summary: "Increments the integer value of a key by a number. Uses 0 as initial value if the key doesn't exist.", syntax: "key increment", ..spec("incrby", 3, WF, KEY1, G, incrby) },
    CommandSpec { summary: "Decrements a number from the integer value of a key. Uses 0 as initial value if the key doesn't exist.", syntax: "key decrement", ..spec("decrby", 3, WF, KEY1, G, decrby) },
    CommandSpec { since: "2.6.0", summary: "Increment the floating point value of a key by a number. Uses 0 as initial value if the key doesn't exist.", syntax: "key increment:double", ..spec("incrbyfloat", 3, WF, KEY1, G, incrbyfloat) },
];

fn get(ctx: &mut Ctx<'_>, a: &mut Args) -> Result<Action, RedisError> {
    let key = ctx.key(a.bytes()?);
    Ok(ctx
        .view()?
        .string(&key)?
        .map_or(Reply::Nil, Reply::Bulk)
        .into())
}

/// An expiry option as given: the unit and whether it is absolute.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ExpiryOpt {
    Ex,
    Px,
    ExAt,
    PxAt,
}

/// Turns an EX/PX/EXAT/PXAT value into an absolute time in ms with Redis's checks
/// (`invalid expire time in '<cmd>' command` for non-positive or overflowing values).
pub fn absolute_ttl(opt: ExpiryOpt, value: i64, now_ms: u64, cmd: &str) -> Result<u64, RedisError> {
    let invalid = || RedisError::InvalidExpire {
        cmd: cmd.to_string(),
    };
    if value <= 0 {
        return Err(invalid());
    }
    let ms = match opt {
        ExpiryOpt::Ex | ExpiryOpt::ExAt => value.checked_mul(1000).ok_or_else(invalid)?,
        ExpiryOpt::Px | ExpiryOpt::PxAt => value,
    };
    let at = match opt {
        ExpiryOpt::Ex | ExpiryOpt::Px => ms.checked_add(now_ms as i64).ok_or_else(invalid)?,
        ExpiryOpt::ExAt | ExpiryOpt::PxAt => ms,
    };
    u64::try_from(at).map_err(|_| invalid())
}

/// The parsed options of SET.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SetOptions {
    pub cond: SetCond,
    pub get: bool,
    pub ttl: Ttl,
}

/// Parses SET's options with Redis 7's rules (`parseExtendedStringArgumentsOrReply`): an
/// option may repeat (the last value wins), options that conflict (NX with XX, two different
/// expiry forms, KEEPTTL with an expiry) are a syntax error.
pub fn parse_set_options(a: &mut Args, now_ms: u64) -> Result<SetOptions, RedisError> {
    let mut o = SetOptions {
        cond: SetCond::Always,
        get: false,
        ttl: Ttl::Clear,
    };
    let mut expiry: Option<ExpiryOpt> = None;
    let mut keepttl = false;
    while !a.is_empty() {
        let tok = a.token()?;
        let opt = match tok.as_str() {
            "NX" if o.cond != SetCond::Xx => {
                o.cond = SetCond::Nx;
                continue;
            }
            "XX" if o.cond != SetCond::Nx => {
                o.cond = SetCond::Xx;
                continue;
            }
            "GET" => {
                o.get = true;
                continue;
            }
            "KEEPTTL" if expiry.is_none() => {
                keepttl = true;
                o.ttl = Ttl::Keep;
                continue;
            }
            "EX" => ExpiryOpt::Ex,
            "PX" => ExpiryOpt::Px,
            "EXAT" => ExpiryOpt::ExAt,
            "PXAT" => ExpiryOpt::PxAt,
            _ => return Err(RedisError::Syntax),
        };
        if keepttl || expiry.is_some_and(|e| e != opt) || a.is_empty() {
            return Err(RedisError::Syntax);
        }
        expiry = Some(opt);
        let v = a.i64()?;
        o.ttl = Ttl::At(absolute_ttl(opt, v, now_ms, "set")?);
    }
    Ok(o)
}

fn set(ctx: &mut Ctx<'_>, a: &mut Args) -> Result<Action, RedisError> {
    let key = ctx.key(a.bytes()?);
    let value = a.bytes()?;
    let o = parse_set_options(a, ctx.now_ms)?;
    Ok(Action::Write(Write::single(Op::Set {
        key,
        value,
        cond: o.cond,
        ttl: o.ttl,
        get: o.get,
    })))
}

fn setnx(ctx: &mut Ctx<'_>, a: &mut Args) -> Result<Action, RedisError> {
    let key = ctx.key(a.bytes()?);
    let value = a.bytes()?;
    let op = Op::Set {
        key,
        value,
        cond: SetCond::Nx,
        ttl: Ttl::Clear,
        get: false,
    };
    Ok(Action::Write(Write::shaped(vec![op], |r| {
        match r.into_iter().next() {
            Some(Reply::Nil) => Reply::Int(0),
            Some(e @ Reply::Error(_)) => e,
            _ => Reply::Int(1),
        }
    })))
}

fn set_with_ttl(
    ctx: &mut Ctx<'_>,
    a: &mut Args,
    opt: ExpiryOpt,
    cmd: &str,
) -> Result<Action, RedisError> {
    let key = ctx.key(a.bytes()?);
    let t = a.i64()?;
    let value = a.bytes()?;
    let at = absolute_ttl(opt, t, ctx.now_ms, cmd)?;
    Ok(Action::Write(Write::single(Op::Set {
        key,
        value,
        cond: SetCond::Always,
        ttl: Ttl::At(at),
        get: false,
    })))
}

fn setex(ctx: &mut Ctx<'_>, a: &mut Args) -> Result<Action, RedisError> {
    set_with_ttl(ctx, a, ExpiryOpt::Ex, "setex")
}

fn psetex(ctx: &mut Ctx<'_>, a: &mut Args) -> Result<Action, RedisError> {
    set_with_ttl(ctx, a, ExpiryOpt::Px, "psetex")
}

fn getset(ctx: &mut Ctx<'_>, a: &mut Args) -> Result<Action, RedisError> {
    let key = ctx.key(a.bytes()?);
    let value = a.bytes()?;
    Ok(Action::Write(Write::single(Op::Set {
        key,
        value,
        cond: SetCond::Always,
        ttl: Ttl::Clear,
        get: true,
    })))
}

fn getdel(ctx: &mut Ctx<'_>, a: &mut Args) -> Result<Action, RedisError> {
    let key = ctx.key(a.bytes()?);
    Ok(Action::Write(Write::single(Op::GetDel { key })))
}

fn getex(ctx: &mut Ctx<'_>, a: &mut Args) -> Result<Action, RedisError> {
    let key = ctx.key(a.bytes()?);
    // As SET: an option may repeat, different expiry forms (or one with PERSIST) conflict.
    let mut ttl = None;
    let mut expiry: Option<ExpiryOpt> = None;
    while !a.is_empty() {
        let tok = a.token()?;
        let opt = match tok.as_str() {
            "PERSIST" if expiry.is_none() => {
                ttl = Some(Ttl::Clear);
                continue;
            }
            "EX" => ExpiryOpt::Ex,
            "PX" => ExpiryOpt::Px,
            "EXAT" => ExpiryOpt::ExAt,
            "PXAT" => ExpiryOpt::PxAt,
            _ => return Err(RedisError::Syntax),
        };
        let persist = ttl == Some(Ttl::Clear);
        if persist || expiry.is_some_and(|e| e != opt) || a.is_empty() {
            return Err(RedisError::Syntax);
        }
        expiry = Some(opt);
        let v = a.i64()?;
        ttl = Some(Ttl::At(absolute_ttl(opt, v, ctx.now_ms, "getex")?));
    }
    match ttl {
        // Without options GETEX is a read.
        None => Ok(ctx
            .view()?
            .string(&key)?
            .map_or(Reply::Nil, Reply::Bulk)
            .into()),
        Some(ttl) => Ok(Action::Write(Write::single(Op::GetEx { key, ttl }))),
    }
}

fn mget(ctx: &mut Ctx<'_>, a: &mut Args) -> Result<Action, RedisError> {
    let keys: Vec<_> = a.rest().into_iter().map(|k| ctx.key(k)).collect();
    let view = ctx.view()?;
    let mut out = Vec::with_capacity(keys.len());
    for k in &keys {
        // MGET answers nil for keys of other types instead of WRONGTYPE.
        out.push(
            view.string(k)
                .ok()
                .flatten()
                .map_or(Reply::Nil, Reply::Bulk),
        );
    }
    Ok(Reply::Array(out).into())
}

/// The (key, value) pairs of MSET / MSETNX.
fn pairs(
    ctx: &Ctx<'_>,
    a: &mut Args,
    cmd: &str,
) -> Result<Vec<(crate::spore::Key, Bytes)>, RedisError> {
    let rest = a.rest();
    if !rest.len().is_multiple_of(2) {
        return Err(RedisError::arity(cmd));
    }
    Ok(rest
        .chunks(2)
        .map(|p| (ctx.key(p[0].clone()), p[1].clone()))
        .collect())
}

fn mset(ctx: &mut Ctx<'_>, a: &mut Args) -> Result<Action, RedisError> {
    let ops = pairs(ctx, a, "mset")?
        .into_iter()
        .map(|(key, value)| Op::Set {
            key,
            value,
            cond: SetCond::Always,
            ttl: Ttl::Clear,
            get: false,
        })
        .collect();
    Ok(Action::Write(Write::shaped(ops, |r| {
        Write::first_error(&r).unwrap_or(Reply::OK)
    })))
}

fn msetnx(ctx: &mut Ctx<'_>, a: &mut Args) -> Result<Action, RedisError> {
    let pairs = pairs(ctx, a, "msetnx")?;
    Ok(Action::Write(Write::single(Op::MSetNx { pairs })))
}

fn append(ctx: &mut Ctx<'_>, a: &mut Args) -> Result<Action, RedisError> {
    let key = ctx.key(a.bytes()?);
    let data = a.bytes()?;
    Ok(Action::Write(Write::single(Op::Append { key, data })))
}

fn strlen(ctx: &mut Ctx<'_>, a: &mut Args) -> Result<Action, RedisError> {
    let key = ctx.key(a.bytes()?);
    let len = ctx.view()?.string_len(&key)?;
    Ok(Reply::Int(len as i64).into())
}

/// Redis's GETRANGE index arithmetic over a string of `len` bytes: the byte range to return.
pub fn substring_range(start: i64, end: i64, len: usize) -> Option<(usize, usize)> {
    let len = len as i64;
    if (start < 0 && end < 0 && start > end) || len == 0 {
        return None;
    }
    let mut s = if start < 0 { len + start } else { start };
    let mut e = if end < 0 { len + end } else { end };
    s = s.max(0);
    e = e.max(0);
    if e >= len {
        e = len - 1;
    }
    if s > e {
        return None;
    }
    Some((s as usize, e as usize + 1))
}

fn getrange(ctx: &mut Ctx<'_>, a: &mut Args) -> Result<Action, RedisError> {
    let key = ctx.key(a.bytes()?);
    let start = a.i64()?;
    let end = a.i64()?;
    let view = ctx.view()?;
    let len = view.string_len(&key)?;
    let out = match substring_range(start, end, len as usize) {
        Some((i, j)) => view.string_part(&key, i, j)?,
        None => Bytes::new(),
    };
    Ok(Reply::Bulk(out).into())
}

fn setrange(ctx: &mut Ctx<'_>, a: &mut Args) -> Result<Action, RedisError> {
    let key = ctx.key(a.bytes()?);
    let offset = a.i64()?;
    let data = a.bytes()?;
    let offset = u64::try_from(offset).map_err(|_| RedisError::OffsetOutOfRange)?;
    if data.is_empty() {
        // Nothing to write: Redis answers the current length without touching the key.
        let len = ctx.view()?.string_len(&key)?;
        return Ok(Reply::Int(len as i64).into());
    }
    if offset.saturating_add(data.len() as u64) > MAX_STRING {
        return Err(RedisError::StringTooLong);
    }
    Ok(Action::Write(Write::single(Op::SetRange {
        key,
        offset,
        data,
    })))
}

fn incr_by(ctx: &mut Ctx<'_>, a: &mut Args, delta: BigInt) -> Result<Action, RedisError> {
    let key = ctx.key(a.bytes()?);
    Ok(Action::Write(Write::single(Op::IncrBy { key, delta })))
}

fn incr(ctx: &mut Ctx<'_>, a: &mut Args) -> Result<Action, RedisError> {
    incr_by(ctx, a, BigInt::from(1))
}

fn decr(ctx: &mut Ctx<'_>, a: &mut Args) -> Result<Action, RedisError> {
    incr_by(ctx, a, BigInt::from(-1))
}

fn incrby(ctx: &mut Ctx<'_>, a: &mut Args) -> Result<Action, RedisError> {
    let key = a.bytes()?;
    let delta = a.big_int()?;
    incr_by(ctx, &mut Args::new(vec![Bytes::new(), key], 1), delta)
}

fn decrby(ctx: &mut Ctx<'_>, a: &mut Args) -> Result<Action, RedisError> {
    let key = a.bytes()?;
    let delta = -a.big_int()?;
    incr_by(ctx, &mut Args::new(vec![Bytes::new(), key], 1), delta)
}

fn incrbyfloat(ctx: &mut Ctx<'_>, a: &mut Args) -> Result<Action, RedisError> {
    let key = ctx.key(a.bytes()?);
    let delta = a.bytes()?;
    parse_f64(&delta).ok_or(RedisError::NotFloat)?;
    if std::str::from_utf8(&delta).is_ok_and(is_infinity_text) {
        return Err(RedisError::NanOrInfinity);
    }
    Ok(Action::Write(Write::single(Op::IncrByFloat { key, delta })))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn args(parts: &[&str]) -> Args {
        Args::from_strs("set", parts)
    }

    #[test]
    fn set_options() {
        let o = parse_set_options(&mut args(&["nx", "GET", "ex", "10"]), 1000).unwrap();
        assert_eq!(
            o,
            SetOptions {
                cond: SetCond::Nx,
                get: true,
                ttl: Ttl::At(11_000)
            }
        );
        // Repeating an option is allowed, as in Redis; the last expiry wins.
        let o = parse_set_options(
            &mut args(&["get", "GET", "nx", "NX", "ex", "1", "ex", "2"]),
            0,
        )
        .unwrap();
        assert_eq!((o.get, o.cond, o.ttl), (true, SetCond::Nx, Ttl::At(2000)));
        let o = parse_set_options(&mut args(&["PXAT", "5", "xx"]), 1000).unwrap();
        assert_eq!(o.ttl, Ttl::At(5));
        assert_eq!(
            parse_set_options(&mut args(&["KEEPTTL"]), 0).unwrap().ttl,
            Ttl::Keep
        );
        for bad in [
            &["nx", "xx"][..],
            &["ex", "1", "px", "1"],
            &["ex"],
            &["keepttl", "ex", "1"],
            &["foo"],
            &["xx", "nx"],
            &["ex", "1", "keepttl"],
        ] {
            assert_eq!(
                parse_set_options(&mut args(bad), 0),
                Err(RedisError::Syntax),
                "{bad:?}"
            );
        }
        assert_eq!(
            parse_set_options(&mut args(&["ex", "0"]), 0)
                .unwrap_err()
                .to_string(),
            "ERR invalid expire time in 'set' command"
        );
        assert_eq!(
            parse_set_options(&mut args(&["ex", "x"]), 0),
            Err(RedisError::NotInteger)
        );
        assert!(matches!(
            parse_set_options(&mut args(&["ex", "9223372036854775807"]), 0),
            Err(RedisError::InvalidExpire { .. })
        ));
        assert!(matches!(
            parse_set_options(&mut args(&["px", "9223372036854775807"]), 10),
            Err(RedisError::InvalidExpire { .. })
        ));
    }

    #[test]
    fn getrange_arithmetic() {
        let r = |s, e| substring_range(s, e, 13); // "Hello, World!"
        assert_eq!(r(0, 4), Some((0, 5)));
        assert_eq!(r(-3, -1), Some((10, 13)));
        assert_eq!(r(0, -1), Some((0, 13)));
        assert_eq!(r(10, 100), Some((10, 13)));
        assert_eq!(r(5, 3), None);
        assert_eq!(r(-1, -5), None);
        assert_eq!(r(-100, 2), Some((0, 3)));
        assert_eq!(substring_range(0, -1, 0), None);
    }
}
