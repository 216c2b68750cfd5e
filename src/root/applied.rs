//! The applied-set digest: an order-independent summary of every spore id this store applied.
//!
//! `digest = Σ sha3-256("sporedb/v1/applied" ‖ 0x00 ‖ id) mod 2^256` (big-endian numbers) and
//! `count` = how many ids. Addition commutes, so two replicas that applied the same set of
//! spores in different orders or commit groups hold the same pair, and it is updated in O(1)
//! per spore in the commit's transaction. Ids are added when their `applied` entry is first
//! written; removing `applied` entries later (pruning old deadlines) does not subtract: the
//! digest covers every spore ever applied.
//!
//! Caveat: an additive hash is a checksum, not a collision-resistant set commitment: someone
//! free to choose many ids could search for two different sets with the same sum (a k-sum
//! problem). Spore ids are hashes of signed content, which makes that expensive, but a
//! multiset hash with a proof of security (e.g. LtHash) is the upgrade if the digest is ever
//! used as a commitment rather than as a consistency check.

use crate::store::kv::{KvRead, KvWrite, Table};
use crate::store::StoreError;

const DOMAIN: &[u8] = b"sporedb/v1/applied";
/// The `root` table key holding `digest[32] ‖ count u64 BE`.
pub const KEY: &[u8] = b"applied";

/// The applied-set digest and count.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct AppliedSet {
    pub digest: [u8; 32],
    pub count: u64,
}

impl AppliedSet {
    /// Adds one spore id.
    pub fn add(&mut self, id: &[u8; 32]) {
        let h = crate::crypto::sha3(&[DOMAIN, &[0], id]);
        add_256(&mut self.digest, &h);
        self.count = self.count.wrapping_add(1);
    }

    /// Reads the stored set (empty if none).
    pub fn load<T: KvRead + ?Sized>(kv: &T) -> Result<AppliedSet, StoreError> {
        match kv.get(Table::Root, KEY)? {
            None => Ok(AppliedSet::default()),
            Some(b) if b.len() == 40 => {
                let mut s = AppliedSet::default();
                s.digest.copy_from_slice(&b[..32]);
                let mut c = [0u8; 8];
                c.copy_from_slice(&b[32..]);
                s.count = u64::from_be_bytes(c);
                Ok(s)
            }
            Some(_) => Err(StoreError::Corrupt("bad applied-set digest")),
        }
    }

    /// Writes the set.
    pub fn store<T: KvWrite + ?Sized>(&self, kv: &mut T) -> Result<(), StoreError> {
        let mut v = [0u8; 40];
        v[..32].copy_from_slice(&self.digest);
        v[32..].copy_from_slice(&self.count.to_be_bytes());
        kv.put(Table::Root, KEY, &v)
    }
}

/// `a += b mod 2^256`, both big-endian.
fn add_256(a: &mut [u8; 32], b: &[u8; 32]) {
    let mut carry = 0u16;
    for i in (0..32).rev() {
        let s = a[i] as u16 + b[i] as u16 + carry;
        a[i] = s as u8;
        carry = s >> 8;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn order_independent_and_wraps() {
        let ids: Vec<[u8; 32]> = (0u8..5).map(|i| [i; 32]).collect();
        let mut a = AppliedSet::default();
        let mut b = AppliedSet::default();
        ids.iter().for_each(|i| a.add(i));
        ids.iter().rev().for_each(|i| b.add(i));
        assert_eq!(a, b);
        assert_eq!(a.count, 5);
        let mut x = [0xff; 32];
        add_256(&mut x, &{
            let mut one = [0; 32];
            one[31] = 1;
            one
        });
        assert_eq!(x, [0; 32]);
    }
}
