//! Store errors: what can go wrong below the command layer.
//!
//! `StoreError` is for failures of the storage itself (I/O, a full map, a record that does not
//! decode). They never depend on the data a client sent, so they are not replies: the caller
//! aborts the write transaction (nothing of it is applied) and answers `ERR internal error`.
//! `ReadError` is what the typed read API returns: a Redis-visible WRONGTYPE / invalid cursor,
//! or a store failure. Both convert into `RedisError` at the command boundary.

use crate::error::RedisError;

/// A failure of the storage layer.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum StoreError {
    /// The LMDB map is full (`MDB_MAP_FULL`): raise `lmdb_map_size` and restart.
    #[error("the LMDB map is full; raise lmdb_map_size")]
    MapFull,
    /// A stored record or index entry does not decode: the store is corrupt.
    #[error("corrupt store: {0}")]
    Corrupt(&'static str),
    /// The store was written in another format version (older or newer); there is no
    /// migration between versions (see `layout`).
    #[error(
        "the store is in format version {0} but this build reads only version {expected}: \
         move the data directory's db/ away and let the node resync from its peers",
        expected = super::layout::FORMAT_VERSION
    )]
    Format(u32),
    /// The state tree (`crate::root`) failed or is missing.
    #[error("state tree: {0}")]
    Tree(String),
    /// This store keeps no state tree (opened with `RootOptions::maintain` off): not a failure
    /// of the storage, so it reaches the client as itself.
    #[error("this store does not maintain a state root")]
    NoStateRoot,
    /// A write transaction used out of order (written after its tree version started, used
    /// after its commit): a bug in the caller, refused rather than committed with a wrong root.
    #[error("write transaction misuse: {0}")]
    Misuse(&'static str),
    /// The store is readable but not yet as the reader must see it (a node's engine waits for
    /// the news of a commit that an earlier failed read held back): transient, retry later.
    #[error("store not readable yet: {0}")]
    NotYet(&'static str),
    /// Any other LMDB failure.
    #[error("lmdb: {0}")]
    Lmdb(heed::Error),
    /// Filesystem failure while opening the store.
    #[error("i/o: {0}")]
    Io(#[from] std::io::Error),
}

impl From<heed::Error> for StoreError {
    fn from(e: heed::Error) -> StoreError {
        match e {
            heed::Error::Mdb(heed::MdbError::MapFull) => StoreError::MapFull,
            other => StoreError::Lmdb(other),
        }
    }
}

/// An error from the typed read API.
#[derive(Debug, thiserror::Error)]
pub enum ReadError {
    /// The key holds another type than the read expects.
    #[error("wrong type")]
    WrongType,
    /// A SCAN/SSCAN cursor that this store never produced.
    #[error("invalid cursor")]
    InvalidCursor,
    #[error(transparent)]
    Store(#[from] StoreError),
}

impl From<ReadError> for RedisError {
    fn from(e: ReadError) -> RedisError {
        match e {
            ReadError::WrongType => RedisError::WrongType,
            ReadError::InvalidCursor => RedisError::InvalidCursor,
            ReadError::Store(e) => e.into(),
        }
    }
}

impl From<StoreError> for RedisError {
    fn from(e: StoreError) -> RedisError {
        if let StoreError::NoStateRoot = e {
            return RedisError::NoStateRoot;
        }
        tracing::error!(error = %e, "store failure");
        RedisError::Internal
    }
}
