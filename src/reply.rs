//! The value a command answers with, independent of the wire protocol.
//!
//! Handlers and the spore executor build `Reply` values; the RESP encoder (`crate::resp`)
//! turns them into RESP2 or RESP3 bytes for the connection's negotiated protocol, downgrading
//! RESP3-only types (map, set, double, boolean, big number, verbatim, null) the way Redis 7 does
//! for RESP2 clients. Keeping replies protocol-free lets the same handler serve both protocols
//! and lets the executor's results be compared byte-for-byte in tests.

use bytes::Bytes;
use num_bigint::BigInt;

use crate::error::RedisError;

/// A reply to one command.
#[derive(Debug, Clone, PartialEq)]
pub enum Reply {
    /// `+OK`-style status line. Must not contain CR or LF.
    Simple(&'static str),
    /// A status line built at run time (e.g. `TYPE` answers). Must not contain CR or LF.
    Status(String),
    /// An error reply; its text comes from the error catalogue in `crate::error`.
    Error(RedisError),
    /// `:n`.
    Int(i64),
    /// An integer outside i64: RESP3 big number (`(`); RESP2 has no big number, so, as Redis 7
    /// does, it gets a bulk string of the digits (a `:` reply beyond i64 breaks hiredis clients).
    BigInt(BigInt),
    /// `$n` bulk string.
    Bulk(Bytes),
    /// The null bulk string in RESP2 (`$-1`), `_` in RESP3.
    Nil,
    /// `*n` array.
    Array(Vec<Reply>),
    /// The null array in RESP2 (`*-1`), `_` in RESP3 (EXEC aborted by WATCH, BLPOP timeouts).
    NilArray,
    /// RESP3 map (`%`); RESP2 flattens it to an array of 2n elements.
    Map(Vec<(Reply, Reply)>),
    /// RESP3 set (`~`); RESP2 sends an array.
    Set(Vec<Reply>),
    /// RESP3 double (`,`); RESP2 sends it as a bulk string.
    Double(f64),
    /// RESP3 boolean (`#`); RESP2 sends `:1` / `:0`.
    Bool(bool),
    /// RESP3 verbatim string (`=`, format `txt`); RESP2 sends a bulk string.
    Verbatim(String),
}

impl Reply {
    /// `+OK`.
    pub const OK: Reply = Reply::Simple("OK");

    /// A bulk reply from anything byte-like.
    pub fn bulk(data: impl Into<Bytes>) -> Reply {
        Reply::Bulk(data.into())
    }

    /// A bulk reply holding the decimal text of `n` (INCRBYFLOAT, CONFIG GET values, ...).
    pub fn bulk_str(text: impl Into<String>) -> Reply {
        Reply::Bulk(Bytes::from(text.into()))
    }

    /// An integer reply, as `:n` when it fits in i64 and as a big number otherwise.
    pub fn integer(n: &BigInt) -> Reply {
        match i64::try_from(n) {
            Ok(v) => Reply::Int(v),
            Err(_) => Reply::BigInt(n.clone()),
        }
    }

    /// True for error replies (used by MULTI bookkeeping and statistics).
    pub fn is_error(&self) -> bool {
        matches!(self, Reply::Error(_))
    }
}

impl From<RedisError> for Reply {
    fn from(e: RedisError) -> Reply {
        Reply::Error(e)
    }
}
