//! Set commands. SPOP and SRANDMEMBER pick members at random in the handler, from the local
//! snapshot: ops never carry randomness, so SPOP's op names the members to remove and the
//! executor removes those still present (its reply lists them).

use std::collections::BTreeSet;

use bytes::Bytes;

use crate::error::RedisError;
use crate::reply::Reply;
use crate::spore::{Key, Op, SetAlgebra};

use super::args::{parse_i64, Args};
use super::ctx::{Action, Ctx, Write};
use super::keys::scan_reply;
use super::scan_args;
use super::spec::{spec, CommandSpec, Flags, Group, ALL_KEYS, KEY1, NO_KEYS};

const W: Flags = Flags::WRITE.union(Flags::DENYOOM);
const WF: Flags = W.union(Flags::FAST);
const WDF: Flags = Flags::WRITE.union(Flags::FAST);
const R: Flags = Flags::READONLY;
const RF: Flags = Flags::READONLY.union(Flags::FAST);
const G: Group = Group::Set;

pub const SPECS: &[CommandSpec] = &[
    CommandSpec { summary: "Adds one or more members to a set. Creates the key if it doesn't exist.", syntax: "key member...", ..spec("sadd", -3, WF, KEY1, G, sadd) },
    CommandSpec { summary: "Removes one or more members from a set. Deletes the set if the last member was removed.", syntax: "key member...", ..spec("srem", -3, WDF, KEY1, G, srem) },
    CommandSpec { summary: "Returns all members of a set.", complexity: "O(N) where N is the set cardinality.", syntax: "key", ..spec("smembers", 2, R, KEY1, G, smembers) },
    CommandSpec { summary: "Determines whether a member belongs to a set.", syntax: "key member", ..spec("sismember", 3, RF, KEY1, G, sismember) },
    CommandSpec { since: "6.2.0", summary: "Determines whether multiple members belong to a set.", syntax: "key member...", ..spec("smismember", -3, RF, KEY1, G, smismember) },
    CommandSpec { summary: "Returns the number of members in a set.", syntax: "key", ..spec("scard", 2, RF, KEY1, G, scard) },
    CommandSpec { summary: "Returns one or more random members from a set after removing them. Deletes the set if the last member was popped.", syntax: "key [count]", ..spec("spop", -2, WDF, KEY1, G, spop) },
    CommandSpec { summary: "Get one or multiple random members from a set", syntax: "key [count]", ..spec("srandmember", -2, R, KEY1, G, srandmember) },
    CommandSpec { summary: "Moves a member from one set to another.", syntax: "source destination member", ..spec("smove", 4, WF, (1, 2, 1), G, smove) },
    CommandSpec { summary: "Returns the intersect of multiple sets.", complexity: "O(N*M) worst case where N is the cardinality of the smallest set and M is the number of sets.", syntax: "key...", ..spec("sinter", -2, R, ALL_KEYS, G, sinter) },
    CommandSpec { summary: "Returns the union of multiple sets.", complexity: "O(N) where N is the total number of elements in all given sets.", syntax: "key...", ..spec("sunion", -2, R, ALL_KEYS, G, sunion) },
    CommandSpec { summary: "Returns the difference of multiple sets.", complexity: "O(N) where N is the total number of elements in all given sets.", syntax: "key...", ..spec("sdiff", -2, R, ALL_KEYS, G, sdiff) },
    CommandSpec { summary: "Stores the intersect of multiple sets in a key.", complexity: "O(N*M) worst case where N is the cardinality of the smallest set and M is the number of sets.", syntax: "destination key...", ..spec("sinterstore", -3, W, ALL_KEYS, G, sinterstore) },
    CommandSpec { summary: "Stores the union of multiple sets in a key.", complexity: "O(N) where N is the total number of elements in all given sets.", syntax: "destination key...", ..spec("sunionstore", -3, W, ALL_KEYS, G, sunionstore) },
    CommandSpec { summary: "Stores the difference of multiple sets in a key.", complexity: "O(N) where N is the total number of elements in all given sets.", syntax: "destination key...", ..spec("sdiffstore", -3, W, ALL_KEYS, G, sdiffstore) },
    CommandSpec { since: "7.0.0", summary: "Returns the number of members of the intersect of multiple sets.", complexity: "O(N*M) worst case where N is the cardinality of the smallest set and M is the number of sets.", syntax: "numkeys key... [LIMIT limit]", ..spec("sintercard", -3, R, NO_KEYS, G, sintercard) },
    CommandSpec { since: "2.8.0", summary: "Iterates over members of a set.", complexity: "O(1) for every call. O(N) for a complete iteration, including enough command calls for the cursor to return back to 0. N is the number of elements inside the collection.", syntax: "key cursor [MATCH pattern] [COUNT count]", ..spec("sscan", -3, R, KEY1, G, sscan) },
];

/// A seed for the store's seeded random choices, from the OS generator.
fn seed() -> u64 {
    getrandom::u64().unwrap_or(0x9e37_79b9_7f4a_7c15)
}

fn members(items: Vec<Bytes>) -> Reply {
    Reply::Set(items.into_iter().map(Reply::Bulk).collect())
}

fn sadd(ctx: &mut Ctx<'_>, a: &mut Args) -> Result<Action, RedisError> {
    let key = ctx.key(a.bytes()?);
    Ok(Action::Write(Write::single(Op::SAdd {
        key,
        members: a.rest(),
    })))
}

fn srem(ctx: &mut Ctx<'_>, a: &mut Args) -> Result<Action, RedisError> {
    let key = ctx.key(a.bytes()?);
    Ok(Action::Write(Write::single(Op::SRem {
        key,
        members: a.rest(),
    })))
}

fn smembers(ctx: &mut Ctx<'_>, a: &mut Args) -> Result<Action, RedisError> {
    let key = ctx.key(a.bytes()?);
    Ok(members(ctx.view()?.set_members(&key)?).into())
}

fn sismember(ctx: &mut Ctx<'_>, a: &mut Args) -> Result<Action, RedisError> {
    let key = ctx.key(a.bytes()?);
    let m = a.bytes()?;
    Ok(Reply::Int(ctx.view()?.set_contains(&key, &m)? as i64).into())
}

fn smismember(ctx: &mut Ctx<'_>, a: &mut Args) -> Result<Action, RedisError> {
    let key = ctx.key(a.bytes()?);
    let wanted = a.rest();
    let view = ctx.view()?;
    let mut out = Vec::with_capacity(wanted.len());
    for m in wanted {
        out.push(Reply::Int(view.set_contains(&key, &m)? as i64));
    }
    Ok(Reply::Array(out).into())
}

fn scard(ctx: &mut Ctx<'_>, a: &mut Args) -> Result<Action, RedisError> {
    let key = ctx.key(a.bytes()?);
    Ok(Reply::Int(ctx.view()?.set_card(&key)? as i64).into())
}

fn spop(ctx: &mut Ctx<'_>, a: &mut Args) -> Result<Action, RedisError> {
    let key = ctx.key(a.bytes()?);
    let count = match a.remaining() {
        0 => None,
        1 => {
            let c = parse_i64(&a.bytes()?).ok_or(RedisError::MustBePositive)?;
            Some(u64::try_from(c).map_err(|_| RedisError::MustBePositive)?)
        }
        _ => return Err(RedisError::Syntax),
    };
    let want = i64::try_from(count.unwrap_or(1)).unwrap_or(i64::MAX);
    let chosen = if want == 0 {
        // Still a type check, as in Redis.
        ctx.view()?.set_card(&key)?;
        Vec::new()
    } else {
        ctx.view()?.set_random(&key, want, seed())?
    };
    if chosen.is_empty() {
        return Ok(match count {
            None => Reply::Nil,
            Some(_) => Reply::Set(vec![]),
        }
        .into());
    }
    let op = Op::SPop {
        key,
        members: chosen,
    };
    Ok(Action::Write(Write::shaped(vec![op], move |r| {
        match (r.into_iter().next(), count) {
            (Some(Reply::Array(items)), None) => items.into_iter().next().unwrap_or(Reply::Nil),
            (Some(Reply::Array(items)), Some(_)) => Reply::Set(items),
            (Some(other), _) => other,
            (None, _) => Reply::Nil,
        }
    })))
}

fn srandmember(ctx: &mut Ctx<'_>, a: &mut Args) -> Result<Action, RedisError> {
    let key = ctx.key(a.bytes()?);
    let count = match a.remaining() {
        0 => None,
        1 => {
            let c = a.i64()?;
            if !(-(i64::MAX / 2)..=i64::MAX / 2).contains(&c) {
                return Err(RedisError::generic("value is out of range"));
            }
            Some(c)
        }
        _ => return Err(RedisError::Syntax),
    };
    let view = ctx.view()?;
    let reply = match count {
        None => view
            .set_random(&key, 1, seed())?
            .into_iter()
            .next()
            .map_or(Reply::Nil, Reply::Bulk),
        Some(0) => {
            view.set_card(&key)?;
            Reply::Array(vec![])
        }
        Some(c) => Reply::Array(
            view.set_random(&key, c, seed())?
                .into_iter()
                .map(Reply::Bulk)
                .collect(),
        ),
    };
    Ok(reply.into())
}

fn smove(ctx: &mut Ctx<'_>, a: &mut Args) -> Result<Action, RedisError> {
    let src = ctx.key(a.bytes()?);
    let dst = ctx.key(a.bytes()?);
    let member = a.bytes()?;
    Ok(Action::Write(Write::single(Op::SMove { src, dst, member })))
}

/// Computes SINTER / SUNION / SDIFF over the snapshot (WRONGTYPE if any key is not a set).
/// SINTER reads only its smallest set whole and probes the others member by member.
pub fn algebra(ctx: &mut Ctx<'_>, keys: &[Key], op: SetAlgebra) -> Result<Vec<Bytes>, RedisError> {
    let view = ctx.view()?;
    let mut cards = Vec::with_capacity(keys.len());
    for k in keys {
        cards.push(view.set_card(k)?);
    }
    match op {
        SetAlgebra::Inter => {
            let Some((smallest, _)) = cards.iter().enumerate().min_by_key(|(_, c)| **c) else {
                return Ok(Vec::new());
            };
            if cards[smallest] == 0 {
                return Ok(Vec::new());
            }
            let mut out = Vec::new();
            'members: for m in view.set_members(&keys[smallest])? {
                for (i, k) in keys.iter().enumerate() {
                    if i != smallest && !view.set_contains(k, &m)? {
                        continue 'members;
                    }
                }
                out.push(m);
            }
            Ok(out)
        }
        SetAlgebra::Union => {
            let mut all = BTreeSet::new();
            for k in keys {
                all.extend(view.set_members(k)?);
            }
            Ok(all.into_iter().collect())
        }
        SetAlgebra::Diff => {
            let Some(first) = keys.first() else {
                return Ok(Vec::new());
            };
            let mut out = Vec::new();
            'diff: for m in view.set_members(first)? {
                for k in &keys[1..] {
                    if view.set_contains(k, &m)? {
                        continue 'diff;
                    }
                }
                out.push(m);
            }
            Ok(out)
        }
    }
}

fn read_algebra(ctx: &mut Ctx<'_>, a: &mut Args, op: SetAlgebra) -> Result<Action, RedisError> {
    let keys: Vec<Key> = a.rest().into_iter().map(|k| ctx.key(k)).collect();
    Ok(members(algebra(ctx, &keys, op)?).into())
}

fn sinter(ctx: &mut Ctx<'_>, a: &mut Args) -> Result<Action, RedisError> {
    read_algebra(ctx, a, SetAlgebra::Inter)
}
fn sunion(ctx: &mut Ctx<'_>, a: &mut Args) -> Result<Action, RedisError> {
    read_algebra(ctx, a, SetAlgebra::Union)
}
fn sdiff(ctx: &mut Ctx<'_>, a: &mut Args) -> Result<Action, RedisError> {
    read_algebra(ctx, a, SetAlgebra::Diff)
}

fn store(ctx: &mut Ctx<'_>, a: &mut Args, algebra: SetAlgebra) -> Result<Action, RedisError> {
    let dst = ctx.key(a.bytes()?);
    let sources = a.rest().into_iter().map(|k| ctx.key(k)).collect();
    Ok(Action::Write(Write::single(Op::SetStore {
        dst,
        algebra,
        sources,
    })))
}

fn sinterstore(ctx: &mut Ctx<'_>, a: &mut Args) -> Result<Action, RedisError> {
    store(ctx, a, SetAlgebra::Inter)
}
fn sunionstore(ctx: &mut Ctx<'_>, a: &mut Args) -> Result<Action, RedisError> {
    store(ctx, a, SetAlgebra::Union)
}
fn sdiffstore(ctx: &mut Ctx<'_>, a: &mut Args) -> Result<Action, RedisError> {
    store(ctx, a, SetAlgebra::Diff)
}

/// SINTERCARD's keys and limit.
pub fn parse_sintercard(a: &mut Args) -> Result<(Vec<Bytes>, usize), RedisError> {
    // Redis answers this one text for a non-integer, zero or negative numkeys.
    let numkeys = a.i64().unwrap_or(0);
    if numkeys <= 0 {
        return Err(RedisError::generic("numkeys should be greater than 0"));
    }
    if numkeys as u64 > a.remaining() as u64 {
        return Err(RedisError::generic(
            "Number of keys can't be greater than number of args",
        ));
    }
    let keys: Vec<Bytes> = (0..numkeys).map(|_| a.bytes()).collect::<Result<_, _>>()?;
    let mut limit = 0usize;
    while !a.is_empty() {
        if !a.eat("LIMIT") || a.is_empty() {
            return Err(RedisError::Syntax);
        }
        let l = a.i64()?;
        limit = usize::try_from(l).map_err(|_| RedisError::generic("LIMIT can't be negative"))?;
    }
    Ok((keys, limit))
}

fn sintercard(ctx: &mut Ctx<'_>, a: &mut Args) -> Result<Action, RedisError> {
    let (keys, limit) = parse_sintercard(a)?;
    let keys: Vec<Key> = keys.into_iter().map(|k| ctx.key(k)).collect();
    let n = algebra(ctx, &keys, SetAlgebra::Inter)?.len();
    let n = if limit > 0 { n.min(limit) } else { n };
    Ok(Reply::Int(n as i64).into())
}

fn sscan(ctx: &mut Ctx<'_>, a: &mut Args) -> Result<Action, RedisError> {
    let key = ctx.key(a.bytes()?);
    let cursor = scan_args::parse_cursor(&a.bytes()?)?;
    let o = scan_args::parse_options(a, false)?;
    let (next, items) = ctx
        .view()?
        .set_scan(&key, &cursor, o.count, o.pattern.as_deref())?;
    Ok(scan_reply(&next, items).into())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn args(parts: &[&str]) -> Args {
        Args::from_strs("x", parts)
    }

    #[test]
    fn sintercard_arguments() {
        assert_eq!(
            parse_sintercard(&mut args(&["2", "a", "b", "LIMIT", "3"]))
                .unwrap()
                .1,
            3
        );
        assert_eq!(
            parse_sintercard(&mut args(&["0", "a"]))
                .unwrap_err()
                .to_string(),
            "ERR numkeys should be greater than 0"
        );
        assert_eq!(
            parse_sintercard(&mut args(&["3", "a"]))
                .unwrap_err()
                .to_string(),
            "ERR Number of keys can't be greater than number of args"
        );
        assert_eq!(
            parse_sintercard(&mut args(&["1", "a", "LIMIT", "-1"]))
                .unwrap_err()
                .to_string(),
            "ERR LIMIT can't be negative"
        );
        assert_eq!(
            parse_sintercard(&mut args(&["1", "a", "x"])),
            Err(RedisError::Syntax)
        );
    }
}
