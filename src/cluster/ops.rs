//! Operation names for policy rules: every spore op kind has one canonical name, and the Redis
//! write commands that produce it are accepted as aliases (`INCR`, `DECRBY` → `INCRBY`;
//! `LPUSH`, `RPUSHX` → `PUSH`; ...). Restrictions are therefore per op kind: allowing `INCR`
//! allows INCRBY too, because both become the same op. Redis read commands (`SISMEMBER`,
//! `GET`, ...) are accepted and ignored: reads never become spores, so the global policy cannot
//! and does not restrict them.
//!
//! Policies are compared and hashed by op *tags* (frozen in `spore::op`), never by these names.

use crate::spore::Op;

/// Canonical name of each op tag (index = tag). Tags are append-only, so is this table.
const NAMES: [(&str, u8); 26] = [
    ("SET", 1),
    ("DEL", 2),
    ("GETDEL", 3),
    ("GETEX", 4),
    ("MSETNX", 5),
    ("APPEND", 6),
    ("SETRANGE", 7),
    ("INCRBY", 8),
    ("INCRBYFLOAT", 9),
    ("EXPIRE", 10),
    ("PERSIST", 11),
    ("RENAME", 12),
    ("PUSH", 13),
    ("POP", 14),
    ("LSET", 15),
    ("LINSERT", 16),
    ("LREM", 17),
    ("LTRIM", 18),
    ("LMOVE", 19),
    ("SADD", 20),
    ("SREM", 21),
    ("SPOP", 22),
    ("SMOVE", 23),
    ("SETSTORE", 24),
    ("FLUSHDB", 25),
    ("FLUSHALL", 26),
];

/// Redis write commands that are not the canonical name of their op.
const ALIASES: [(&str, u8); 23] = [
    ("SETNX", 1),
    ("SETEX", 1),
    ("PSETEX", 1),
    ("GETSET", 1),
    ("MSET", 1),
    ("UNLINK", 2),
    ("INCR", 8),
    ("DECR", 8),
    ("DECRBY", 8),
    ("PEXPIRE", 10),
    ("EXPIREAT", 10),
    ("PEXPIREAT", 10),
    ("RENAMENX", 12),
    ("LPUSH", 13),
    ("RPUSH", 13),
    ("LPUSHX", 13),
    ("RPUSHX", 13),
    ("LPOP", 14),
    ("RPOP", 14),
    ("RPOPLPUSH", 19),
    ("SINTERSTORE", 24),
    ("SUNIONSTORE", 24),
    ("SDIFFSTORE", 24),
];

/// What a name in an `allow` list means.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OpName {
    /// A write: the op tag it allows.
    Write(u8),
    /// A read command: always allowed, nothing to restrict.
    Read,
}

/// Resolves a name (case-insensitive) from an `allow` list; `None` if it means nothing.
pub fn resolve(name: &str) -> Option<OpName> {
    let upper = name.to_ascii_uppercase();
    if let Some((_, tag)) = NAMES
        .iter()
        .chain(ALIASES.iter())
        .find(|(n, _)| *n == upper)
    {
        return Some(OpName::Write(*tag));
    }
    match crate::commands::table::lookup(upper.as_bytes()) {
        Some(spec) if !spec.is_write() => Some(OpName::Read),
        _ => None,
    }
}

/// The canonical name of an op tag.
pub fn tag_name(tag: u8) -> &'static str {
    NAMES
        .iter()
        .find(|(_, t)| *t == tag)
        .map_or("UNKNOWN", |(n, _)| n)
}

/// The canonical name of an op.
pub fn op_name(op: &Op) -> &'static str {
    // A policy change touches no key, so no rule can name it; it has a name for messages only.
    if let Op::PolicyChange { .. } = op {
        return "POLICY.CHANGE";
    }
    tag_name(op.tag())
}

/// Every canonical name, for error messages.
pub fn canonical_names() -> impl Iterator<Item = &'static str> {
    NAMES.iter().map(|(n, _)| *n)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_tag_has_one_canonical_name_and_aliases_hit_real_tags() {
        for (i, (_, tag)) in NAMES.iter().enumerate() {
            assert_eq!(usize::from(*tag), i + 1);
        }
        for (alias, tag) in ALIASES.iter() {
            assert!((1..=26).contains(tag), "{alias}");
            // Every alias is a real Redis write command in our table.
            let spec = crate::commands::table::lookup(alias.as_bytes());
            assert!(spec.is_some_and(|s| s.is_write()), "{alias}");
        }
    }

    #[test]
    fn resolve_names() {
        assert_eq!(resolve("sadd"), Some(OpName::Write(20)));
        assert_eq!(resolve("LPUSH"), Some(OpName::Write(13)));
        assert_eq!(resolve("SISMEMBER"), Some(OpName::Read));
        assert_eq!(resolve("SADDD"), None);
        assert_eq!(tag_name(8), "INCRBY");
        assert_eq!(op_name(&Op::FlushAll), "FLUSHALL");
    }
}
