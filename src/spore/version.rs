//! Key and database versions: what prerequisites name, and how applying a spore moves them.
//!
//! A key's version has two parts (the reasoning is in `docs/VERSIONS.md`):
//! - `order` changes only when a **non-commutative** write is applied. It chains:
//!   `order' = H(order ‖ acc ‖ spore id)`, so it never repeats (no ABA, even across deletion:
//!   a deleted key keeps a tombstone carrying its version).
//! - `acc` accumulates the **commutative** writes applied since the last order change, as a sum
//!   modulo 2^256 of `H(spore id)`. Addition commutes, so replicas that applied the same
//!   commutative spores in different orders hold the same `acc`.
//!
//! Versions move on every applied spore that writes the key, whatever the write's outcome
//! (a SET NX that found the key does not change the value, but does change the version): this
//! keeps version evolution a pure function of (old version, spore), independent of values, so
//! the consensus engine can project versions without reading values.
//!
//! A database has a generation (changed by FLUSHDB/FLUSHALL) and a sum over the versions of its
//! recorded keys; `db_version` combines them and is what a FLUSHDB prerequisite names.

use crate::crypto::{sha3, Digest};

use super::key::Key;
use super::SporeId;

const ABSENT: &[u8] = b"sporedb/v1/absent";
const ORDER: &[u8] = b"sporedb/v1/order";
const ACC: &[u8] = b"sporedb/v1/acc";
const KEYVER: &[u8] = b"sporedb/v1/keyver";
const DB: &[u8] = b"sporedb/v1/db";
const GEN: &[u8] = b"sporedb/v1/gen";
const MEMBER_ABSENT: &[u8] = b"sporedb/v1/member-absent";

/// A key's version.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct KeyVersion {
    pub order: Digest,
    pub acc: Digest,
}

impl KeyVersion {
    /// The version of a key that has never been written in the current generation of its db.
    pub fn absent(db_gen: &Digest, key: &Key) -> KeyVersion {
        let len = (key.name.len() as u64).to_be_bytes();
        KeyVersion {
            order: sha3(&[ABSENT, db_gen, &[key.db], &len, &key.name]),
            acc: [0; 32],
        }
    }

    /// The version of set member `member` of `key` that no spore has touched since the key's
    /// order became `key_order`. Deriving it from the key's order resets every member's version
    /// when the key goes through a non-commutative write (DEL, SET, EXPIRE, a flush…), so member
    /// versions never repeat either (docs/VERSIONS.md "Set members").
    pub fn member_absent(key_order: &Digest, key: &Key, member: &[u8]) -> KeyVersion {
        let len = (key.name.len() as u64).to_be_bytes();
        let mlen = (member.len() as u64).to_be_bytes();
        KeyVersion {
            order: sha3(&[
                MEMBER_ABSENT,
                key_order,
                &[key.db],
                &len,
                &key.name,
                &mlen,
                member,
            ]),
            acc: [0; 32],
        }
    }

    /// The version after a non-commutative write by `spore`.
    pub fn after_write(&self, spore: &SporeId) -> KeyVersion {
        KeyVersion {
            order: sha3(&[ORDER, &self.order, &self.acc, &spore.0]),
            acc: [0; 32],
        }
    }

    /// The version after a commutative write by `spore`.
    pub fn after_commutative(&self, spore: &SporeId) -> KeyVersion {
        KeyVersion {
            order: self.order,
            acc: add256(&self.acc, &sha3(&[ACC, &spore.0])),
        }
    }

    /// This key's contribution to its database's version sum.
    pub fn db_term(&self, key: &Key) -> Digest {
        let len = (key.name.len() as u64).to_be_bytes();
        sha3(&[KEYVER, &len, &key.name, &self.order, &self.acc])
    }
}

/// A set member's recorded version, with the order of its key when it was written (`stamp`).
/// A record whose stamp is not the key's current order is stale: the key went through a
/// non-commutative write since, and the member's version is `member_absent` of the new order.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct MemberVersion {
    pub stamp: Digest,
    pub version: KeyVersion,
}

impl MemberVersion {
    /// The member's version when its key's order is `key_order`.
    pub fn resolve(
        record: Option<MemberVersion>,
        key_order: &Digest,
        key: &Key,
        member: &[u8],
    ) -> KeyVersion {
        match record {
            Some(r) if r.stamp == *key_order => r.version,
            _ => KeyVersion::member_absent(key_order, key, member),
        }
    }
}

/// A database's version state: its generation and the sum of its recorded keys' `db_term`s.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct DbState {
    pub generation: Digest,
    pub sum: Digest,
}

impl DbState {
    /// The version a FLUSHDB prerequisite names.
    pub fn version(&self) -> Digest {
        sha3(&[DB, &self.generation, &self.sum])
    }

    /// Replaces one key's contribution (`old` is `None` when the key had no record).
    pub fn replace_term(&mut self, old: Option<&Digest>, new: &Digest) {
        if let Some(old) = old {
            self.sum = sub256(&self.sum, old);
        }
        self.sum = add256(&self.sum, new);
    }

    /// The state after a FLUSHDB/FLUSHALL by `spore`: a new generation, no recorded keys.
    pub fn after_flush(&self, spore: &SporeId) -> DbState {
        DbState {
            generation: sha3(&[GEN, &self.version(), &spore.0]),
            sum: [0; 32],
        }
    }
}

/// Big-endian addition modulo 2^256.
pub fn add256(a: &Digest, b: &Digest) -> Digest {
    let mut out = [0u8; 32];
    let mut carry = 0u16;
    for i in (0..32).rev() {
        let s = a[i] as u16 + b[i] as u16 + carry;
        out[i] = s as u8;
        carry = s >> 8;
    }
    out
}

/// Big-endian subtraction modulo 2^256.
pub fn sub256(a: &Digest, b: &Digest) -> Digest {
    let mut out = [0u8; 32];
    let mut borrow = 0i16;
    for i in (0..32).rev() {
        let mut d = a[i] as i16 - b[i] as i16 - borrow;
        borrow = if d < 0 {
            d += 256;
            1
        } else {
            0
        };
        out[i] = d as u8;
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sid(n: u8) -> SporeId {
        SporeId([n; 32])
    }

    #[test]
    fn commutative_writes_commute() {
        let v = KeyVersion::absent(&[0; 32], &Key::new(0, "k"));
        let ab = v.after_commutative(&sid(1)).after_commutative(&sid(2));
        let ba = v.after_commutative(&sid(2)).after_commutative(&sid(1));
        assert_eq!(ab, ba);
        assert_eq!(ab.order, v.order);
        assert_ne!(ab, v);
    }

    #[test]
    fn writes_chain_and_never_repeat() {
        let v = KeyVersion::absent(&[0; 32], &Key::new(0, "k"));
        let w1 = v.after_write(&sid(1));
        let w2 = w1.after_write(&sid(2));
        assert_ne!(w1.order, v.order);
        assert_ne!(w2.order, w1.order);
        // The order component depends on the commutative writes that preceded it.
        let c = v.after_commutative(&sid(3)).after_write(&sid(1));
        assert_ne!(c, w1);
    }

    #[test]
    fn absent_depends_on_generation_db_and_name() {
        let k = Key::new(0, "k");
        assert_ne!(
            KeyVersion::absent(&[0; 32], &k),
            KeyVersion::absent(&[1; 32], &k)
        );
        assert_ne!(
            KeyVersion::absent(&[0; 32], &k),
            KeyVersion::absent(&[0; 32], &Key::new(1, "k"))
        );
    }

    #[test]
    fn modular_arithmetic_round_trips() {
        let a = [0xff; 32];
        let mut b = [0u8; 32];
        b[31] = 2;
        let s = add256(&a, &b);
        assert_eq!(s[31], 1);
        assert_eq!(sub256(&s, &b), a);
        let mut db = DbState::default();
        let t1 = [5u8; 32];
        let t2 = [9u8; 32];
        db.replace_term(None, &t1);
        db.replace_term(Some(&t1), &t2);
        db.replace_term(Some(&t2), &t1);
        let mut db2 = DbState::default();
        db2.replace_term(None, &t1);
        assert_eq!(db, db2);
    }
}
