//! A key as the replicated store sees it: the database index (SELECT 0..15) and the key bytes.

use bytes::Bytes;

/// Number of logical databases (SELECT 0..=15), as in Redis's default configuration.
pub const DATABASES: u8 = 16;

/// A key in one logical database. Ordering is (db, name bytes), which is the canonical order of
/// prerequisites in a spore.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Key {
    pub db: u8,
    pub name: Bytes,
}

impl Key {
    pub fn new(db: u8, name: impl Into<Bytes>) -> Key {
        Key {
            db,
            name: name.into(),
        }
    }
}
