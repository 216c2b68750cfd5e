//! List commands. Reads come from the snapshot; every mutation is one op (LMOVE/RPOPLPUSH move
//! atomically inside the executor).

use crate::error::RedisError;
use crate::reply::Reply;
use crate::spore::{End, Op};

use super::args::{parse_i64, Args};
use super::ctx::{Action, Ctx, Write};
use super::spec::{spec, CommandSpec, Flags, Group, KEY1};

const W: Flags = Flags::WRITE.union(Flags::DENYOOM);
const WF: Flags = W.union(Flags::FAST);
const WD: Flags = Flags::WRITE;
const WDF: Flags = Flags::WRITE.union(Flags::FAST);
const R: Flags = Flags::READONLY;
const RF: Flags = Flags::READONLY.union(Flags::FAST);
const G: Group = Group::List;
const TWO_KEYS: (i32, i32, i32) = (1, 2, 1);

pub const SPECS: &[CommandSpec] = &[
    CommandSpec { summary: "Prepends one or more elements to a list. Creates the key if it doesn't exist.", syntax: "key element...", ..spec("lpush", -3, WF, KEY1, G, lpush) },
    CommandSpec { summary: "Appends one or more elements to a list. Creates the key if it doesn't exist.", syntax: "key element...", ..spec("rpush", -3, WF, KEY1, G, rpush) },
    CommandSpec { since: "2.2.0", summary: "Prepends one or more elements to a list only when the list exists.", syntax: "key element...", ..spec("lpushx", -3, WF, KEY1, G, lpushx) },
    CommandSpec { since: "2.2.0", summary: "Appends an element to a list only when the list exists.", syntax: "key element...", ..spec("rpushx", -3, WF, KEY1, G, rpushx) },
    CommandSpec { summary: "Returns the first elements in a list after removing it. Deletes the list if the last element was popped.", complexity: "O(N) where N is the number of elements returned", syntax: "key [count]", ..spec("lpop", -2, WDF, KEY1, G, lpop) },
    CommandSpec { summary: "Returns and removes the last elements of a list. Deletes the list if the last element was popped.", complexity: "O(N) where N is the number of elements returned", syntax: "key [count]", ..spec("rpop", -2, WDF, KEY1, G, rpop) },
    CommandSpec { summary: "Returns the length of a list.", syntax: "key", ..spec("llen", 2, RF, KEY1, G, llen) },
    CommandSpec { summary: "Returns a range of elements from a list.", complexity: "O(S+N) where S is the distance of start offset from HEAD for small lists, from nearest end (HEAD or TAIL) for large lists; and N is the number of elements in the specified range.", syntax: "key start stop", ..spec("lrange", 4, R, KEY1, G, lrange) },
    CommandSpec { summary: "Returns an element from a list by its index.", complexity: "O(N) where N is the number of elements to traverse to get to the element at index.", syntax: "key index", ..spec("lindex", 3, R, KEY1, G, lindex) },
    CommandSpec { summary: "Sets the value of an element in a list by its index.", complexity: "O(N) where N is the length of the list.", syntax: "key index element", ..spec("lset", 4, W, KEY1, G, lset) },
    CommandSpec { since: "2.2.0", summary: "Inserts an element before or after another element in a list.", complexity: "O(N) where N is the number of elements to traverse before seeing the value pivot.", syntax: "key (BEFORE|AFTER) pivot element", ..spec("linsert", 5, W, KEY1, G, linsert) },
    CommandSpec { summary: "Removes elements from a list. Deletes the list if the last element was removed.", complexity: "O(N+M) where N is the length of the list and M is the number of elements removed.", syntax: "key count element", ..spec("lrem", 4, WD, KEY1, G, lrem) },
    CommandSpec { summary: "Removes elements from both ends a list. Deletes the list if all elements were trimmed.", complexity: "O(N) where N is the number of elements to be removed by the operation.", syntax: "key start stop", ..spec("ltrim", 4, WD, KEY1, G, ltrim) },
    CommandSpec { since: "6.0.6", summary: "Returns the index of matching elements in a list.", complexity: "O(N) where N is the number of elements in the list, for the average case.", syntax: "key element [RANK rank] [COUNT num-matches:integer] [MAXLEN len]", ..spec("lpos", -3, R, KEY1, G, lpos) },
    CommandSpec { since: "6.2.0", summary: "Returns an element after popping it from one list and pushing it to another. Deletes the list if the last element was moved.", syntax: "source destination (LEFT|RIGHT) (LEFT|RIGHT)", ..spec("lmove", 5, W, TWO_KEYS, G, lmove) },
    CommandSpec { since: "1.2.0", summary: "Returns the last element of a list after removing and pushing it to another list. Deletes the list if the last element was popped.", syntax: "source destination", ..spec("rpoplpush", 3, W, TWO_KEYS, G, rpoplpush) },
];

fn push(
    ctx: &mut Ctx<'_>,
    a: &mut Args,
    end: End,
    only_if_exists: bool,
) -> Result<Action, RedisError> {
    let key = ctx.key(a.bytes()?);
    let elems = a.rest();
    Ok(Action::Write(Write::single(Op::Push {
        key,
        end,
        elems,
        only_if_exists,
    })))
}

fn lpush(ctx: &mut Ctx<'_>, a: &mut Args) -> Result<Action, RedisError> {
    push(ctx, a, End::Left, false)
}
fn rpush(ctx: &mut Ctx<'_>, a: &mut Args) -> Result<Action, RedisError> {
    push(ctx, a, End::Right, false)
}
fn lpushx(ctx: &mut Ctx<'_>, a: &mut Args) -> Result<Action, RedisError> {
    push(ctx, a, End::Left, true)
}
fn rpushx(ctx: &mut Ctx<'_>, a: &mut Args) -> Result<Action, RedisError> {
    push(ctx, a, End::Right, true)
}

fn pop(ctx: &mut Ctx<'_>, a: &mut Args, end: End, cmd: &str) -> Result<Action, RedisError> {
    let key = ctx.key(a.bytes()?);
    let count = match a.remaining() {
        0 => None,
        1 => {
            let c = parse_i64(&a.bytes()?).ok_or(RedisError::MustBePositive)?;
            Some(u64::try_from(c).map_err(|_| RedisError::MustBePositive)?)
        }
        _ => return Err(RedisError::arity(cmd)),
    };
    Ok(Action::Write(Write::single(Op::Pop { key, end, count })))
}

fn lpop(ctx: &mut Ctx<'_>, a: &mut Args) -> Result<Action, RedisError> {
    pop(ctx, a, End::Left, "lpop")
}
fn rpop(ctx: &mut Ctx<'_>, a: &mut Args) -> Result<Action, RedisError> {
    pop(ctx, a, End::Right, "rpop")
}

fn llen(ctx: &mut Ctx<'_>, a: &mut Args) -> Result<Action, RedisError> {
    let key = ctx.key(a.bytes()?);
    Ok(Reply::Int(ctx.view()?.list_len(&key)? as i64).into())
}

fn lrange(ctx: &mut Ctx<'_>, a: &mut Args) -> Result<Action, RedisError> {
    let key = ctx.key(a.bytes()?);
    let start = a.i64()?;
    let stop = a.i64()?;
    let items = ctx.view()?.list_range(&key, start, stop)?;
    Ok(Reply::Array(items.into_iter().map(Reply::Bulk).collect()).into())
}

fn lindex(ctx: &mut Ctx<'_>, a: &mut Args) -> Result<Action, RedisError> {
    let key = ctx.key(a.bytes()?);
    let index = a.i64()?;
    let item = ctx.view()?.list_index(&key, index)?;
    Ok(item.map_or(Reply::Nil, Reply::Bulk).into())
}

fn lset(ctx: &mut Ctx<'_>, a: &mut Args) -> Result<Action, RedisError> {
    let key = ctx.key(a.bytes()?);
    let index = a.i64()?;
    let elem = a.bytes()?;
    Ok(Action::Write(Write::single(Op::LSet { key, index, elem })))
}

fn linsert(ctx: &mut Ctx<'_>, a: &mut Args) -> Result<Action, RedisError> {
    let key = ctx.key(a.bytes()?);
    let before = match a.token()?.as_str() {
        "BEFORE" => true,
        "AFTER" => false,
        _ => return Err(RedisError::Syntax),
    };
    let pivot = a.bytes()?;
    let elem = a.bytes()?;
    Ok(Action::Write(Write::single(Op::LInsert {
        key,
        before,
        pivot,
        elem,
    })))
}

fn lrem(ctx: &mut Ctx<'_>, a: &mut Args) -> Result<Action, RedisError> {
    let key = ctx.key(a.bytes()?);
    let count = a.i64()?;
    let elem = a.bytes()?;
    Ok(Action::Write(Write::single(Op::LRem { key, count, elem })))
}

fn ltrim(ctx: &mut Ctx<'_>, a: &mut Args) -> Result<Action, RedisError> {
    let key = ctx.key(a.bytes()?);
    let start = a.i64()?;
    let stop = a.i64()?;
    Ok(Action::Write(Write::single(Op::LTrim { key, start, stop })))
}

/// LPOS's options.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct LposOptions {
    pub rank: i64,
    pub count: Option<u64>,
    pub maxlen: u64,
}

/// Parses LPOS's RANK / COUNT / MAXLEN with Redis's texts.
pub fn parse_lpos_options(a: &mut Args) -> Result<LposOptions, RedisError> {
    let mut o = LposOptions {
        rank: 1,
        count: None,
        maxlen: 0,
    };
    while !a.is_empty() {
        let tok = a.token()?;
        if a.is_empty() {
            return Err(RedisError::Syntax);
        }
        match tok.as_str() {
            "RANK" => {
                let r = a.i64()?;
                if r == 0 {
                    return Err(RedisError::generic(
                        "RANK can't be zero: use 1 to start from the first match, 2 from the second ... or use negative to start from the end of the list",
                    ));
                }
                if r == i64::MIN {
                    return Err(RedisError::generic("value is out of range"));
                }
                o.rank = r;
            }
            "COUNT" => {
                let c = a.i64()?;
                o.count = Some(
                    u64::try_from(c).map_err(|_| RedisError::generic("COUNT can't be negative"))?,
                );
            }
            "MAXLEN" => {
                let m = a.i64()?;
                o.maxlen = u64::try_from(m)
                    .map_err(|_| RedisError::generic("MAXLEN can't be negative"))?;
            }
            _ => return Err(RedisError::Syntax),
        }
    }
    Ok(o)
}

fn lpos(ctx: &mut Ctx<'_>, a: &mut Args) -> Result<Action, RedisError> {
    let key = ctx.key(a.bytes()?);
    let elem = a.bytes()?;
    let o = parse_lpos_options(a)?;
    // Without COUNT, LPOS answers the first match only.
    let found = ctx
        .view()?
        .list_pos(&key, &elem, o.rank, o.count.unwrap_or(1), o.maxlen)?;
    let pos = |i: u64| Reply::Int(i64::try_from(i).unwrap_or(i64::MAX));
    Ok(match o.count {
        Some(_) => Reply::Array(found.into_iter().map(pos).collect()),
        None => found.first().map_or(Reply::Nil, |i| pos(*i)),
    }
    .into())
}

fn end_token(a: &mut Args) -> Result<End, RedisError> {
    match a.token()?.as_str() {
        "LEFT" => Ok(End::Left),
        "RIGHT" => Ok(End::Right),
        _ => Err(RedisError::Syntax),
    }
}

fn lmove(ctx: &mut Ctx<'_>, a: &mut Args) -> Result<Action, RedisError> {
    let src = ctx.key(a.bytes()?);
    let dst = ctx.key(a.bytes()?);
    let from = end_token(a)?;
    let to = end_token(a)?;
    Ok(Action::Write(Write::single(Op::LMove {
        src,
        dst,
        from,
        to,
    })))
}

fn rpoplpush(ctx: &mut Ctx<'_>, a: &mut Args) -> Result<Action, RedisError> {
    let src = ctx.key(a.bytes()?);
    let dst = ctx.key(a.bytes()?);
    Ok(Action::Write(Write::single(Op::LMove {
        src,
        dst,
        from: End::Right,
        to: End::Left,
    })))
}

#[cfg(test)]
mod tests {

    use super::*;

    fn args(parts: &[&str]) -> Args {
        Args::from_strs("lpos", parts)
    }

    #[test]
    fn lpos_options() {
        assert_eq!(
            parse_lpos_options(&mut args(&["rank", "-1", "COUNT", "0", "maxlen", "10"])).unwrap(),
            LposOptions {
                rank: -1,
                count: Some(0),
                maxlen: 10
            }
        );
        assert!(parse_lpos_options(&mut args(&["rank", "0"]))
            .unwrap_err()
            .to_string()
            .starts_with("ERR RANK can't be zero"));
        assert_eq!(
            parse_lpos_options(&mut args(&["count", "-1"]))
                .unwrap_err()
                .to_string(),
            "ERR COUNT can't be negative"
        );
        assert_eq!(
            parse_lpos_options(&mut args(&["maxlen", "-1"]))
                .unwrap_err()
                .to_string(),
            "ERR MAXLEN can't be negative"
        );
        assert_eq!(
            parse_lpos_options(&mut args(&["rank"])),
            Err(RedisError::Syntax)
        );
        assert_eq!(
            parse_lpos_options(&mut args(&["foo", "1"])),
            Err(RedisError::Syntax)
        );
    }
}
