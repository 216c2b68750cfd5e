//! Spores: the signed, replicated transactions every write becomes.
//!
//! A spore names its origin node, a nonce, a deadline, the versions it requires of the keys it
//! touches (its prerequisites), and its operations. Its id is the sha3-256 of its canonical
//! encoding (`codec`), so two different spores can never share an id and endorsements that sign
//! the id bind the content. This module is pure and deterministic: no I/O, no clock, no
//! randomness, no hash-map iteration; the consensus engine and the executor both build on it.
//!
//! Layout: `key` (db + name), `op` (operations and their stable tags), `version` (how versions
//! move), `codec` (canonical bytes), `footprint` + `conflict` (the conflict relation),
//! `validate` (structural rules every honest node checks before endorsing), `effects` (the one
//! implementation of how a spore moves versions, and `Projection` over unapplied spores).

pub mod codec;
pub mod conflict;
pub mod effects;
pub mod footprint;
pub mod key;
pub mod op;
pub mod validate;
pub mod version;

pub use key::{Key, DATABASES};
pub use op::{Access, DbScope, End, ExpireCond, Op, SetAlgebra, SetCond, Ttl};
pub use version::{DbState, KeyVersion};

use crate::crypto::{sha3, Digest, NodeId};

/// A spore's id: sha3-256 of its canonical encoding.
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct SporeId(pub Digest);

impl std::fmt::Debug for SporeId {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "SporeId({})", &hex::encode(self.0)[..16])
    }
}

impl std::fmt::Display for SporeId {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&hex::encode(self.0))
    }
}

/// A prerequisite on one key. With `acc == None` it requires only the key's order version
/// (allowed only when every op of the spore on that key is commutative); with `Some`, the
/// full version.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KeyPrereq {
    pub key: Key,
    pub order: Digest,
    pub acc: Option<Digest>,
}

impl KeyPrereq {
    /// A full-version prerequisite.
    pub fn full(key: Key, v: KeyVersion) -> KeyPrereq {
        KeyPrereq {
            key,
            order: v.order,
            acc: Some(v.acc),
        }
    }

    /// An order-only prerequisite (commutative writes).
    pub fn order_only(key: Key, v: KeyVersion) -> KeyPrereq {
        KeyPrereq {
            key,
            order: v.order,
            acc: None,
        }
    }

    /// Whether the key's current version satisfies this prerequisite.
    pub fn holds(&self, current: &KeyVersion) -> bool {
        self.order == current.order && self.acc.is_none_or(|acc| acc == current.acc)
    }
}

/// A prerequisite on a whole database's version (FLUSHDB, FLUSHALL).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DbPrereq {
    pub db: u8,
    pub version: Digest,
}

/// A replicated transaction.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Spore {
    /// The node that built and signed the spore.
    pub origin: NodeId,
    /// Origin-chosen number making otherwise identical spores distinct.
    pub nonce: u64,
    /// Unix time in milliseconds after which honest nodes no longer endorse it.
    pub deadline_ms: u64,
    /// Sorted by key, one per key.
    pub key_prereqs: Vec<KeyPrereq>,
    /// Sorted by db, one per db.
    pub db_prereqs: Vec<DbPrereq>,
    /// Applied in order, atomically.
    pub ops: Vec<Op>,
}

impl Spore {
    /// The canonical bytes (what the id hashes).
    pub fn encode(&self) -> Vec<u8> {
        codec::encode_spore(self)
    }

    /// The spore's id.
    pub fn id(&self) -> SporeId {
        SporeId(sha3(&[&self.encode()]))
    }

    /// The prerequisite on `key`, if any.
    pub fn prereq(&self, key: &Key) -> Option<&KeyPrereq> {
        self.key_prereqs
            .binary_search_by(|p| p.key.cmp(key))
            .ok()
            .map(|i| &self.key_prereqs[i])
    }
}

/// Read access to the versions a node currently holds. Implemented by the store (LMDB) and by
/// the in-memory state of the simulator; the consensus engine only ever reads through it.
pub trait VersionView {
    /// The version of `key` now (the absent version of its db's generation if never written).
    fn key_version(&self, key: &Key) -> KeyVersion;
    /// The version state of database `db`.
    fn db_state(&self, db: u8) -> DbState;
}

impl Spore {
    /// Whether every prerequisite holds in `view` (the apply gate and the Consistency rule).
    pub fn prereqs_hold(&self, view: &dyn VersionView) -> bool {
        self.key_prereqs
            .iter()
            .all(|p| p.holds(&view.key_version(&p.key)))
            && self
                .db_prereqs
                .iter()
                .all(|p| view.db_state(p.db).version() == p.version)
    }
}
