//! Operations: what a spore does to the store, one variant per kind of write.
//!
//! Every variant has a **stable tag** (its byte in the canonical encoding). Tags are append-only:
//! a released tag never changes meaning, because spores are signed and gossiped by their bytes.
//! An op carries everything its execution needs (no clock, no randomness): TTLs are absolute
//! milliseconds chosen by the origin, SPOP's members are chosen by the origin, and an EXPIRE
//! whose time is already past at the origin says so (`delete`). Execution is deterministic given
//! the store state, which the spore's prerequisites pin.
//!
//! `access()` classifies how an op touches each key; the conflict relation and the prerequisite
//! rules are built on it (see `conflict.rs` and `docs/VERSIONS.md`).

use bytes::Bytes;
use num_bigint::BigInt;

use super::key::Key;
use crate::crypto::Digest;

/// SET's NX / XX condition.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SetCond {
    Always = 0,
    /// Only if the key does not exist.
    Nx = 1,
    /// Only if the key exists.
    Xx = 2,
}

/// What a write does to the key's time to live.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Ttl {
    /// Remove any TTL (plain SET, GETEX PERSIST).
    Clear,
    /// Keep the current TTL (SET KEEPTTL; GETEX without options never becomes an op).
    Keep,
    /// Expire at this absolute unix time in milliseconds.
    At(u64),
}

/// The end of a list.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum End {
    Left = 0,
    Right = 1,
}

/// EXPIRE's NX / XX / GT / LT condition (Redis 7).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ExpireCond {
    Always = 0,
    Nx = 1,
    Xx = 2,
    Gt = 3,
    Lt = 4,
}

/// SINTERSTORE / SUNIONSTORE / SDIFFSTORE.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SetAlgebra {
    Inter = 0,
    Union = 1,
    Diff = 2,
}

/// One write operation. The comment on each variant gives its tag and the reply its execution
/// produces (as a `Reply`; the command layer may reshape it, e.g. SETNX maps OK/nil to 1/0).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Op {
    /// tag 1. SET family. Reply: OK, or nil when the condition failed; with `get`, the old
    /// value (nil if none) and WRONGTYPE if the old value is not a string.
    Set {
        key: Key,
        value: Bytes,
        cond: SetCond,
        ttl: Ttl,
        get: bool,
    },
    /// tag 2. DEL / UNLINK of one key, and node-initiated expiry. Reply: 1 if it existed, else 0.
    Del { key: Key },
    /// tag 3. GETDEL. Reply: old value or nil; WRONGTYPE for non-strings (nothing deleted).
    GetDel { key: Key },
    /// tag 4. GETEX with EX/PX/EXAT/PXAT/PERSIST. Reply: value or nil.
    GetEx { key: Key, ttl: Ttl },
    /// tag 5. MSETNX: all keys set (TTL cleared) if none exists. Reply: 1 or 0.
    MSetNx { pairs: Vec<(Key, Bytes)> },
    /// tag 6. APPEND. Reply: new length.
    Append { key: Key, data: Bytes },
    /// tag 7. SETRANGE. Reply: new length.
    SetRange { key: Key, offset: u64, data: Bytes },
    /// tag 8. INCR / DECR / INCRBY / DECRBY with an arbitrary-length delta. Commutative.
    /// Reply: the new value (integer or big number).
    IncrBy { key: Key, delta: BigInt },
    /// tag 9. INCRBYFLOAT with exact decimal arithmetic; `delta` is the decimal text the client
    /// sent, validated by the origin. Reply: the new value as a bulk string.
    IncrByFloat { key: Key, delta: Bytes },
    /// tag 10. EXPIRE / PEXPIRE / EXPIREAT / PEXPIREAT. `delete` is set when `at_ms` was already
    /// past at the origin, in which case a passing condition deletes the key. Reply: 1 or 0.
    Expire {
        key: Key,
        at_ms: u64,
        cond: ExpireCond,
        delete: bool,
    },
    /// tag 11. PERSIST. Reply: 1 if a TTL was removed, else 0.
    Persist { key: Key },
    /// tag 12. RENAME / RENAMENX. Reply: OK (RENAME) or 1/0 (RENAMENX); ERR no such key.
    Rename { src: Key, dst: Key, nx: bool },
    /// tag 13. LPUSH / RPUSH / LPUSHX / RPUSHX. Reply: new length (0 for *X on a missing key).
    Push {
        key: Key,
        end: End,
        elems: Vec<Bytes>,
        only_if_exists: bool,
    },
    /// tag 14. LPOP / RPOP. Reply: bulk or nil without count; array or nil array with count.
    Pop {
        key: Key,
        end: End,
        count: Option<u64>,
    },
    /// tag 15. LSET. Reply: OK; ERR no such key; ERR index out of range.
    LSet { key: Key, index: i64, elem: Bytes },
    /// tag 16. LINSERT. Reply: new length, -1 if the pivot is missing, 0 if the key is missing.
    LInsert {
        key: Key,
        before: bool,
        pivot: Bytes,
        elem: Bytes,
    },
    /// tag 17. LREM. Reply: number removed.
    LRem { key: Key, count: i64, elem: Bytes },
    /// tag 18. LTRIM. Reply: OK.
    LTrim { key: Key, start: i64, stop: i64 },
    /// tag 19. LMOVE / RPOPLPUSH. Reply: the moved element or nil.
    LMove {
        src: Key,
        dst: Key,
        from: End,
        to: End,
    },
    /// tag 20. SADD. Commutative with other SADDs (not with SREM, which is a write).
    /// Reply: number of members added.
    SAdd { key: Key, members: Vec<Bytes> },
    /// tag 21. SREM. A non-commutative write (docs/VERSIONS.md "SREM"): it must be ordered
    /// after any SADD of the same member applied before it. Reply: number of members removed.
    SRem { key: Key, members: Vec<Bytes> },
    /// tag 22. SPOP with the members the origin chose. Reply: array of the members removed.
    SPop { key: Key, members: Vec<Bytes> },
    /// tag 23. SMOVE. Reply: 1 or 0.
    SMove { src: Key, dst: Key, member: Bytes },
    /// tag 24. SINTERSTORE / SUNIONSTORE / SDIFFSTORE. Reply: cardinality of the result.
    SetStore {
        dst: Key,
        algebra: SetAlgebra,
        sources: Vec<Key>,
    },
    /// tag 25. FLUSHDB. Reply: OK.
    FlushDb { db: u8 },
    /// tag 26. FLUSHALL. Reply: OK.
    FlushAll,
    /// tag 27. A global policy change (docs/CLUSTER.md §3.4): replace the policy whose hash is
    /// `from` by the one `policy` describes (its TOML text, so every node writes the same
    /// file, names and comments included). It touches no key; it must be a spore's only op.
    /// Applying it changes no data. Reply: OK.
    PolicyChange { from: Digest, policy: Bytes },
}

/// How one op touches one key.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Access<'a> {
    /// Reads the key's value (e.g. a SINTERSTORE source): must be ordered after every write.
    Read,
    /// A non-commutative write.
    Write,
    /// An integer increment: commutes with other increments.
    Counter,
    /// Adds these set members: commutes with adds, and with removals of other members.
    AddMembers(&'a [Bytes]),
    /// Removes these set members (SREM): commutes with additions and removals of other
    /// members; ordered against the same member by member versions (docs/VERSIONS.md).
    RemoveMembers(&'a [Bytes]),
}

/// How an op touches a whole database (FLUSHDB, FLUSHALL).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DbScope {
    One(u8),
    All,
}

impl Op {
    /// The op's stable tag.
    pub fn tag(&self) -> u8 {
        match self {
            Op::Set { .. } => 1,
            Op::Del { .. } => 2,
            Op::GetDel { .. } => 3,
            Op::GetEx { .. } => 4,
            Op::MSetNx { .. } => 5,
            Op::Append { .. } => 6,
            Op::SetRange { .. } => 7,
            Op::IncrBy { .. } => 8,
            Op::IncrByFloat { .. } => 9,
            Op::Expire { .. } => 10,
            Op::Persist { .. } => 11,
            Op::Rename { .. } => 12,
            Op::Push { .. } => 13,
            Op::Pop { .. } => 14,
            Op::LSet { .. } => 15,
            Op::LInsert { .. } => 16,
            Op::LRem { .. } => 17,
            Op::LTrim { .. } => 18,
            Op::LMove { .. } => 19,
            Op::SAdd { .. } => 20,
            Op::SRem { .. } => 21,
            Op::SPop { .. } => 22,
            Op::SMove { .. } => 23,
            Op::SetStore { .. } => 24,
            Op::FlushDb { .. } => 25,
            Op::FlushAll => 26,
            Op::PolicyChange { .. } => 27,
        }
    }

    /// Calls `f` for every key this op touches, with how it touches it. A key may be reported
    /// more than once (RENAME k k, SMOVE k k).
    pub fn access<'a>(&'a self, f: &mut dyn FnMut(&'a Key, Access<'a>)) {
        match self {
            Op::IncrBy { key, .. } => f(key, Access::Counter),
            Op::SAdd { key, members } => f(key, Access::AddMembers(members)),
            Op::Set { key, .. }
            | Op::Del { key }
            | Op::GetDel { key }
            | Op::GetEx { key, .. }
            | Op::Append { key, .. }
            | Op::SetRange { key, .. }
            | Op::IncrByFloat { key, .. }
            | Op::Expire { key, .. }
            | Op::Persist { key }
            | Op::Push { key, .. }
            | Op::Pop { key, .. }
            | Op::LSet { key, .. }
            | Op::LInsert { key, .. }
            | Op::LRem { key, .. }
            | Op::LTrim { key, .. }
            | Op::SPop { key, .. } => f(key, Access::Write),
            Op::SRem { key, members } => f(key, Access::RemoveMembers(members)),
            Op::MSetNx { pairs } => pairs.iter().for_each(|(k, _)| f(k, Access::Write)),
            Op::Rename { src, dst, .. }
            | Op::LMove { src, dst, .. }
            | Op::SMove { src, dst, .. } => {
                f(src, Access::Write);
                f(dst, Access::Write);
            }
            Op::SetStore { dst, sources, .. } => {
                sources.iter().for_each(|k| f(k, Access::Read));
                f(dst, Access::Write);
            }
            // A policy change touches no key: its conflicts are the policy slot (footprint.rs).
            Op::FlushDb { .. } | Op::FlushAll | Op::PolicyChange { .. } => {}
        }
    }

    /// The databases this op replaces wholesale, if any.
    pub fn db_scope(&self) -> Option<DbScope> {
        match self {
            Op::FlushDb { db } => Some(DbScope::One(*db)),
            Op::FlushAll => Some(DbScope::All),
            _ => None,
        }
    }
}
