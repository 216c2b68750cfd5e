//! The read side handlers need from the store: a point-in-time snapshot of the keyspace.
//!
//! `Keyspace::snapshot(now_ms)` opens an MVCC read transaction; everything a handler (or a whole
//! EXEC) reads comes from one snapshot, so it sees one consistent state. Keys whose TTL is at or
//! before `now_ms` are hidden, exactly as if they had been deleted (their deletion becomes an
//! explicit op when a write touches them; see `crate::write`). The two required methods are the
//! primitives; the provided ones derive typed reads from them and may be overridden by the store
//! with cheaper versions. Store failures are logged by the store and surface as
//! `RedisError::Internal`.

use bytes::Bytes;

use crate::error::RedisError;
use crate::spore::{Key, Op, VersionView};

/// A live value.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Value {
    Str(Bytes),
    List(Vec<Bytes>),
    /// Members in ascending byte order.
    Set(Vec<Bytes>),
}

/// The type names TYPE answers and SCAN TYPE filters on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    String,
    List,
    Set,
}

impl Kind {
    pub fn name(self) -> &'static str {
        match self {
            Kind::String => "string",
            Kind::List => "list",
            Kind::Set => "set",
        }
    }
}

impl Value {
    pub fn kind(&self) -> Kind {
        match self {
            Value::Str(_) => Kind::String,
            Value::List(_) => Kind::List,
            Value::Set(_) => Kind::Set,
        }
    }
}

/// A live key's value and its absolute expiry time.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Entry {
    pub value: Value,
    pub expire_at_ms: Option<u64>,
}

/// One consistent, read-only view of the keyspace, with expired keys hidden.
pub trait Snapshot: VersionView {
    /// The live entry at `key`, if any.
    fn entry(&self, key: &Key) -> Result<Option<Entry>, RedisError>;

    /// Every live key of `db`, in ascending byte order.
    fn keys(&self, db: u8) -> Result<Vec<Bytes>, RedisError>;

    fn kind(&self, key: &Key) -> Result<Option<Kind>, RedisError> {
        Ok(self.entry(key)?.map(|e| e.value.kind()))
    }

    /// The string at `key`; WRONGTYPE for other types.
    fn string(&self, key: &Key) -> Result<Option<Bytes>, RedisError> {
        match self.entry(key)?.map(|e| e.value) {
            None => Ok(None),
            Some(Value::Str(s)) => Ok(Some(s)),
            Some(_) => Err(RedisError::WrongType),
        }
    }

    /// The list at `key`; WRONGTYPE for other types.
    fn list(&self, key: &Key) -> Result<Option<Vec<Bytes>>, RedisError> {
        match self.entry(key)?.map(|e| e.value) {
            None => Ok(None),
            Some(Value::List(l)) => Ok(Some(l)),
            Some(_) => Err(RedisError::WrongType),
        }
    }

    /// The set at `key` (sorted members); WRONGTYPE for other types.
    fn set(&self, key: &Key) -> Result<Option<Vec<Bytes>>, RedisError> {
        match self.entry(key)?.map(|e| e.value) {
            None => Ok(None),
            Some(Value::Set(s)) => Ok(Some(s)),
            Some(_) => Err(RedisError::WrongType),
        }
    }

    /// The list's length (0 if missing); WRONGTYPE for other types.
    fn list_len(&self, key: &Key) -> Result<u64, RedisError> {
        Ok(self.list(key)?.map_or(0, |l| l.len() as u64))
    }

    /// Elements `start..=stop` (already clamped to the list) of the list at `key`.
    fn list_slice(&self, key: &Key, start: u64, stop: u64) -> Result<Vec<Bytes>, RedisError> {
        let l = self.list(key)?.unwrap_or_default();
        Ok(l.into_iter()
            .skip(start as usize)
            .take((stop.saturating_sub(start) + 1) as usize)
            .collect())
    }

    /// The set's cardinality (0 if missing); WRONGTYPE for other types.
    fn set_card(&self, key: &Key) -> Result<u64, RedisError> {
        Ok(self.set(key)?.map_or(0, |s| s.len() as u64))
    }

    /// Whether `member` is in the set at `key`; WRONGTYPE for other types.
    fn set_contains(&self, key: &Key, member: &[u8]) -> Result<bool, RedisError> {
        Ok(self
            .set(key)?
            .is_some_and(|s| s.binary_search_by(|m| m.as_ref().cmp(member)).is_ok()))
    }

    /// Applies `ops` to a private overlay of this snapshot with the real executor (never to the
    /// store), so that later reads through this snapshot see them, as the reads queued after
    /// writes in a MULTI must. Versions (the `VersionView` side) keep reporting the snapshot's
    /// own, unaffected by the overlay. A snapshot that cannot do this says so, and EXEC answers
    /// those reads with an error instead of a wrong value.
    fn apply_local(&mut self, ops: &[Op]) -> Result<(), RedisError> {
        let _ = ops;
        Err(RedisError::Unsupported(
            "reading a key written earlier in the same transaction".into(),
        ))
    }

    /// `None` if the key is missing, `Some(None)` if it has no TTL.
    fn expire_at(&self, key: &Key) -> Result<Option<Option<u64>>, RedisError> {
        Ok(self.entry(key)?.map(|e| e.expire_at_ms))
    }

    /// Number of live keys in `db`.
    fn dbsize(&self, db: u8) -> Result<u64, RedisError> {
        Ok(self.keys(db)?.len() as u64)
    }

    /// Number of live keys in `db` that have a TTL.
    fn expires(&self, db: u8) -> Result<u64, RedisError> {
        let mut n = 0;
        for name in self.keys(db)? {
            if let Some(Some(_)) = self.expire_at(&Key::new(db, name))? {
                n += 1;
            }
        }
        Ok(n)
    }
}

/// The store as handlers see it.
pub trait Keyspace: Send + Sync {
    /// Opens a snapshot hiding keys expired at `now_ms`.
    fn snapshot(&self, now_ms: u64) -> Result<Box<dyn Snapshot + '_>, RedisError>;
}
