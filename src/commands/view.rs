//! The read side handlers need from the store: a point-in-time snapshot of the keyspace.
//!
//! `Keyspace::snapshot(now_ms)` opens an MVCC read transaction; everything a handler (or a whole
//! EXEC) reads comes from one snapshot, so it sees one consistent state. Keys whose TTL passed
//! at `now_ms` are hidden, exactly as if they had been deleted (their deletion becomes an
//! explicit op when a write touches them; see `crate::write`).
//!
//! Every method is one typed read the store answers from its indexes (`crate::store::StoreRead`):
//! a list range reads only that range, SISMEMBER one entry, SCAN `COUNT` records from the
//! cursor. Nothing materialises a whole list, set or keyspace unless the command returns all of
//! it (SMEMBERS, LRANGE 0 -1, KEYS). Index arithmetic (negative list indexes, clamping) and glob
//! matching are the store's, so there is one implementation of each. The trait is the seam for
//! unit tests too: they run it over a real store in a temporary directory, never over a second
//! implementation of Redis semantics. Store failures are logged and surface as
//! `RedisError::Internal`.

use std::sync::Arc;

use bytes::Bytes;

use crate::error::RedisError;
use crate::spore::{Key, Op, VersionView};

pub use crate::store::{KeyTtl, KeyType as Kind, ScanCursor};

/// One page of a SCAN / SSCAN: the cursor to continue from (start = done) and the items.
pub type Page = (ScanCursor, Vec<Bytes>);

/// One consistent, read-only view of the keyspace, with expired keys hidden.
pub trait Snapshot: VersionView {
    /// The type of the live key, if any.
    fn kind(&self, key: &Key) -> Result<Option<Kind>, RedisError>;

    /// TTL / PTTL / EXPIRETIME.
    fn ttl(&self, key: &Key) -> Result<KeyTtl, RedisError>;

    /// The string at `key`; WRONGTYPE for other types.
    fn string(&self, key: &Key) -> Result<Option<Bytes>, RedisError>;

    /// The string's length (0 if missing); WRONGTYPE for other types.
    fn string_len(&self, key: &Key) -> Result<u64, RedisError>;

    /// Bytes `from..to` of the string (clamped to it; empty if missing).
    fn string_part(&self, key: &Key, from: usize, to: usize) -> Result<Bytes, RedisError>;

    /// LLEN (0 if missing); WRONGTYPE for other types.
    fn list_len(&self, key: &Key) -> Result<u64, RedisError>;

    /// LRANGE with Redis's index rules (negative from the end, clamped).
    fn list_range(&self, key: &Key, start: i64, stop: i64) -> Result<Vec<Bytes>, RedisError>;

    /// LINDEX with Redis's index rules.
    fn list_index(&self, key: &Key, index: i64) -> Result<Option<Bytes>, RedisError>;

    /// LPOS: positions of `elem`; `rank` ≠ 0, `count` 0 = every match, `maxlen` 0 = no limit.
    fn list_pos(
        &self,
        key: &Key,
        elem: &[u8],
        rank: i64,
        count: u64,
        maxlen: u64,
    ) -> Result<Vec<u64>, RedisError>;

    /// SCARD (0 if missing); WRONGTYPE for other types.
    fn set_card(&self, key: &Key) -> Result<u64, RedisError>;

    /// SISMEMBER; WRONGTYPE for other types.
    fn set_contains(&self, key: &Key, member: &[u8]) -> Result<bool, RedisError>;

    /// SMEMBERS, in member-byte order.
    fn set_members(&self, key: &Key) -> Result<Vec<Bytes>, RedisError>;

    /// SSCAN: visits up to `count` members from `cursor`, returns those matching `pattern`.
    fn set_scan(
        &self,
        key: &Key,
        cursor: &ScanCursor,
        count: u64,
        pattern: Option<&[u8]>,
    ) -> Result<Page, RedisError>;

    /// SRANDMEMBER / SPOP's choice: `count` > 0 distinct members (at most the cardinality),
    /// `count` < 0 |count| members possibly repeated; a pure function of `seed`.
    fn set_random(&self, key: &Key, count: i64, seed: u64) -> Result<Vec<Bytes>, RedisError>;

    /// KEYS: the live keys of `db` matching `pattern`, in byte order.
    fn keys(&self, db: u8, pattern: &[u8]) -> Result<Vec<Bytes>, RedisError>;

    /// SCAN: visits up to `count` keys of `db` from `cursor`, returns the live ones matching.
    fn scan(
        &self,
        db: u8,
        cursor: &ScanCursor,
        count: u64,
        pattern: Option<&[u8]>,
        kind: Option<Kind>,
    ) -> Result<Page, RedisError>;

    /// RANDOMKEY: a live key of `db` chosen from `seed`.
    fn random_key(&self, db: u8, seed: u64) -> Result<Option<Bytes>, RedisError>;

    /// DBSIZE.
    fn dbsize(&self, db: u8) -> Result<u64, RedisError>;

    /// Number of keys of `db` with a TTL (INFO keyspace).
    fn expires(&self, db: u8) -> Result<u64, RedisError>;

    /// Applies `ops` to a private overlay of this snapshot with the real executor (never to the
    /// store), so that later reads through this snapshot see them, as the reads queued after
    /// writes in a MULTI must. Versions (the `VersionView` side) keep reporting the snapshot's
    /// own, unaffected by the overlay.
    fn apply_local(&mut self, ops: &[Op]) -> Result<(), RedisError>;

    /// Hides keys expired at `now_ms` from now on (a snapshot reused by a later command).
    fn set_now(&mut self, now_ms: u64);
}

/// The store as handlers see it.
pub trait Keyspace: Send + Sync {
    /// Opens a snapshot hiding keys expired at `now_ms`. It holds its own handle to the
    /// keyspace, so a connection can keep it across the pipelined reads of one batch
    /// (`dispatch::run`).
    fn snapshot(self: Arc<Self>, now_ms: u64) -> Result<Box<dyn Snapshot + Send>, RedisError>;
}
