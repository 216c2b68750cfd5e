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
pub use version::{DbState, KeyVersion, MemberVersion};

use bytes::Bytes;

use crate::crypto::{sha3, Digest, NodeId};

/// A spore's id: sha3-256 of its canonical encoding.
#[derive(Clone, Copy, PartialEq, Eq, Hash)]
pub struct SporeId(pub Digest);

/// The bytes' lexicographic order (what a derived `Ord` gives), without a `memcmp` call per
/// comparison (`crypto::cmp_digest`): the engine's maps are keyed by ids.
impl Ord for SporeId {
    fn cmp(&self, other: &Self) -> std::cmp::Ordering {
        crate::crypto::cmp_digest(&self.0, &other.0)
    }
}

impl PartialOrd for SporeId {
    fn partial_cmp(&self, other: &Self) -> Option<std::cmp::Ordering> {
        Some(self.cmp(other))
    }
}

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
    /// Set-member prerequisites, sorted by member, one per member: present exactly when the
    /// spore only adds/removes members of the key under an order-only prerequisite (one per
    /// member it adds or removes: order-only for an added member, full for a removed one).
    pub members: Vec<MemberPrereq>,
}

/// A prerequisite on one set member's version (docs/VERSIONS.md "Set members").
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MemberPrereq {
    pub member: Bytes,
    pub order: Digest,
    pub acc: Option<Digest>,
}

impl MemberPrereq {
    pub fn full(member: Bytes, v: KeyVersion) -> MemberPrereq {
        MemberPrereq {
            member,
            order: v.order,
            acc: Some(v.acc),
        }
    }

    pub fn order_only(member: Bytes, v: KeyVersion) -> MemberPrereq {
        MemberPrereq {
            member,
            order: v.order,
            acc: None,
        }
    }

    /// Whether the member's current version satisfies this prerequisite.
    pub fn holds(&self, current: &KeyVersion) -> bool {
        self.order == current.order && self.acc.is_none_or(|acc| acc == current.acc)
    }
}

impl KeyPrereq {
    /// A full-version prerequisite.
    pub fn full(key: Key, v: KeyVersion) -> KeyPrereq {
        KeyPrereq {
            key,
            order: v.order,
            acc: Some(v.acc),
            members: Vec::new(),
        }
    }

    /// An order-only prerequisite (commutative writes).
    pub fn order_only(key: Key, v: KeyVersion) -> KeyPrereq {
        KeyPrereq {
            key,
            order: v.order,
            acc: None,
            members: Vec::new(),
        }
    }

    /// Whether the key's current version satisfies this prerequisite (members not included).
    pub fn holds(&self, current: &KeyVersion) -> bool {
        self.order == current.order && self.acc.is_none_or(|acc| acc == current.acc)
    }

    /// The prerequisite of a key accessed only commutatively (`access.is_commutative()`),
    /// from the versions in `view`: order-only on the key and, for set members, one member
    /// prerequisite per member added (order-only) or removed (full). Leave `members` empty when
    /// the spore also flushes the key's database (`validate` requires it).
    pub fn commutative(
        key: Key,
        access: &footprint::MergedAccess,
        view: &dyn VersionView,
    ) -> KeyPrereq {
        let v = view.key_version(&key);
        let mut p = KeyPrereq::order_only(key, v);
        if let footprint::MergedAccess::Members { added, removed } = access {
            p.members = added
                .union(removed)
                .map(|m| {
                    let mv = view.member_version_at(&p.key, m, &v.order);
                    if removed.contains(m) {
                        MemberPrereq::full(m.clone(), mv)
                    } else {
                        MemberPrereq::order_only(m.clone(), mv)
                    }
                })
                .collect();
        }
        p
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
    /// The version of set member `member` of `key` while the key's order is `key_order`
    /// (`MemberVersion::resolve` over the member's record).
    fn member_version_at(&self, key: &Key, member: &[u8], key_order: &Digest) -> KeyVersion;

    /// The version of set member `member` of `key` now.
    fn member_version(&self, key: &Key, member: &[u8]) -> KeyVersion {
        let order = self.key_version(key).order;
        self.member_version_at(key, member, &order)
    }
}

impl Spore {
    /// Whether every prerequisite holds in `view` (the apply gate and the Consistency rule).
    pub fn prereqs_hold(&self, view: &dyn VersionView) -> bool {
        self.key_prereqs.iter().all(|p| {
            p.holds(&view.key_version(&p.key))
                // The key's order is `p.order` here (it just held).
                && p.members
                    .iter()
                    .all(|m| m.holds(&view.member_version_at(&p.key, &m.member, &p.order)))
        }) && self
            .db_prereqs
            .iter()
            .all(|p| view.db_state(p.db).version() == p.version)
    }
}
