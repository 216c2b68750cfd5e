//! The applied-set digest: an order-independent, collision-resistant summary of the spores in
//! this store's `applied` table (every spore applied within the retention window,
//! `exec::APPLIED_RETENTION_MS`; older ids are pruned and subtracted).
//!
//! It is **LtHash16** (Bellare–Micciancio's lattice hash as specified by Lewi, Kim, Maykov and
//! Weis, "Securing Update Propagation with Homomorphic Hashing", 2019): a state of 1024 lanes of
//! 16 bits; an element adds, lane by lane mod 2^16, the 2048 bytes (1024 little-endian u16)
//! of BLAKE3's extendable output for the applied key in key-derivation mode with the context
//! string `"sporedb/v1/applied lthash16 element"`, where the applied key is the `applied`
//! table's `deadline u64 BE ‖ spore id[32]`. Addition commutes, so two
//! replicas that applied the same spores in any order or grouping hold the same state, and it
//! is updated in O(1) per spore in the commit's transaction. The digest nodes sign is
//! `sha3-256("sporedb/v1/applied-lthash" ‖ 0x00 ‖ the 2048 state bytes)`; `count` is how many
//! spores.
//!
//! Why not a plain sum of sha3 hashes mod 2^256 (what format 3 had): state transfer accepts a
//! copy of the `applied` table because its digest matches one trusted peers signed, and the
//! copy comes from one peer, which may be Byzantine. A 256-bit additive hash falls to
//! generalised-birthday (k-sum) attacks in a few billion hash evaluations when the attacker
//! can choose thousands of entries; LtHash16 is estimated at 200+ bits of security. Its one
//! known weakness, an element added 2^16 times cancelling out, cannot occur here: an `applied`
//! key is added once (apply is idempotent, and a copy's keys are strictly ascending).
//!
//! Why BLAKE3 for the element XOF (format 5; format 4 used SHAKE128): each spore squeezes
//! 2048 bytes, which is 13 Keccak permutations in software, 5–6 µs per spore, about a tenth of
//! everything the state root cost a write. BLAKE3's XOF computes its output blocks in parallel
//! SIMD lanes (AVX-512/AVX2 here), about 0.3 µs for the same 2048 bytes (measured with `perf` in
//! `root_bench`: the XOF's share of the driver thread went from 6 % to 0.25 %). It is the XOF
//! that Solana's account LtHash uses for the same reason; the security argument of LtHash only
//! asks the XOF to behave as a random oracle. Everything else in the state root stays sha3-256.
//!
//! Hand-written (40 lines) rather than the `lthash-rs` crate, which needs the older
//! `digest` 0.10 traits and so a second copy of the SHA-3 code.

use crate::store::kv::{KvRead, KvWrite, Table};
use crate::store::StoreError;

/// BLAKE3 key-derivation context of an element (BLAKE3's own domain separation).
const ELEMENT_CONTEXT: &str = "sporedb/v1/applied lthash16 element";
const DIGEST_DOMAIN: &[u8] = b"sporedb/v1/applied-lthash";
/// The `root` table key holding `state[2048] ‖ count u64 BE`.
pub const KEY: &[u8] = b"applied";
const LANES: usize = 1024;
const STATE_BYTES: usize = 2 * LANES;

/// The applied-set state and count.
#[derive(Clone, PartialEq, Eq)]
pub struct AppliedSet {
    lanes: Box<[u16; LANES]>,
    pub count: u64,
}

impl Default for AppliedSet {
    fn default() -> AppliedSet {
        AppliedSet {
            lanes: Box::new([0; LANES]),
            count: 0,
        }
    }
}

impl std::fmt::Debug for AppliedSet {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "AppliedSet {{ digest: {}, count: {} }}",
            hex::encode(self.digest()),
            self.count
        )
    }
}

/// The LtHash16 element of one `applied` key: BLAKE3's XOF in key-derivation mode.
fn element(applied_key: &[u8]) -> [u8; STATE_BYTES] {
    let mut bytes = [0u8; STATE_BYTES];
    blake3::Hasher::new_derive_key(ELEMENT_CONTEXT)
        .update(applied_key)
        .finalize_xof()
        .fill(&mut bytes);
    bytes
}

impl AppliedSet {
    /// Adds one `applied` table key (`deadline u64 BE ‖ spore id`).
    pub fn add(&mut self, applied_key: &[u8]) {
        let bytes = element(applied_key);
        for (lane, b) in self.lanes.iter_mut().zip(bytes.chunks_exact(2)) {
            *lane = lane.wrapping_add(u16::from_le_bytes([b[0], b[1]]));
        }
        self.count = self.count.wrapping_add(1);
    }

    /// Removes one `applied` table key that was added (an entry pruned past the retention
    /// window, `exec::APPLIED_RETENTION_MS`): the set is then that of the remaining entries.
    pub fn remove(&mut self, applied_key: &[u8]) {
        let bytes = element(applied_key);
        for (lane, b) in self.lanes.iter_mut().zip(bytes.chunks_exact(2)) {
            *lane = lane.wrapping_sub(u16::from_le_bytes([b[0], b[1]]));
        }
        self.count = self.count.wrapping_sub(1);
    }

    /// The set of a whole `applied` table's keys (every one must be `deadline ‖ spore id`).
    pub fn of_keys<'a>(
        keys: impl IntoIterator<Item = Result<&'a [u8], StoreError>>,
    ) -> Result<AppliedSet, StoreError> {
        let mut set = AppliedSet::default();
        for k in keys {
            let k = k?;
            if k.len() != 40 {
                return Err(StoreError::Corrupt("bad applied key"));
            }
            set.add(k);
        }
        Ok(set)
    }

    /// The set of the `applied` table's keys in `kv` (what the stored state must equal).
    pub fn of_table<T: KvRead + ?Sized>(kv: &T) -> Result<AppliedSet, StoreError> {
        AppliedSet::of_keys(
            kv.range(
                Table::Applied,
                std::ops::Bound::Unbounded,
                std::ops::Bound::Unbounded,
                false,
            )?
            .map(|e| e.map(|(k, _)| k)),
        )
    }

    /// The 32-byte digest of the state (what roots carry and nodes sign).
    pub fn digest(&self) -> [u8; 32] {
        crate::crypto::sha3(&[DIGEST_DOMAIN, &[0], &self.state_bytes()])
    }

    fn state_bytes(&self) -> [u8; STATE_BYTES] {
        let mut out = [0u8; STATE_BYTES];
        for (chunk, lane) in out.chunks_exact_mut(2).zip(self.lanes.iter()) {
            chunk.copy_from_slice(&lane.to_le_bytes());
        }
        out
    }

    /// Reads the stored set (empty if none).
    pub fn load<T: KvRead + ?Sized>(kv: &T) -> Result<AppliedSet, StoreError> {
        match kv.get(Table::Root, KEY)? {
            None => Ok(AppliedSet::default()),
            Some(b) if b.len() == STATE_BYTES + 8 => {
                let mut s = AppliedSet::default();
                for (lane, c) in s.lanes.iter_mut().zip(b[..STATE_BYTES].chunks_exact(2)) {
                    *lane = u16::from_le_bytes([c[0], c[1]]);
                }
                let mut c = [0u8; 8];
                c.copy_from_slice(&b[STATE_BYTES..]);
                s.count = u64::from_be_bytes(c);
                Ok(s)
            }
            Some(_) => Err(StoreError::Corrupt("bad applied-set state")),
        }
    }

    /// Writes the set.
    pub fn store<T: KvWrite + ?Sized>(&self, kv: &mut T) -> Result<(), StoreError> {
        let mut v = Vec::with_capacity(STATE_BYTES + 8);
        v.extend_from_slice(&self.state_bytes());
        v.extend_from_slice(&self.count.to_be_bytes());
        kv.put(Table::Root, KEY, &v)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key(i: u8) -> [u8; 40] {
        let mut k = [i; 40];
        k[..8].copy_from_slice(&(i as u64).to_be_bytes());
        k
    }

    #[test]
    fn order_independent_and_distinguishing() {
        let keys: Vec<[u8; 40]> = (0u8..5).map(key).collect();
        let mut a = AppliedSet::default();
        let mut b = AppliedSet::default();
        keys.iter().for_each(|k| a.add(k));
        keys.iter().rev().for_each(|k| b.add(k));
        assert_eq!(a, b);
        assert_eq!(a.digest(), b.digest());
        assert_eq!(a.count, 5);
        let mut c = AppliedSet::default();
        keys[..4].iter().for_each(|k| c.add(k));
        c.add(&key(9));
        assert_eq!(c.count, 5);
        assert_ne!(c.digest(), a.digest());
        assert_ne!(AppliedSet::default().digest(), a.digest());
    }

    /// Golden: the digest of the empty set and of one key. Changing either changes every
    /// node's signed roots.
    #[test]
    fn digest_is_frozen() {
        let empty = AppliedSet::default().digest();
        let expected = crate::crypto::sha3(&[DIGEST_DOMAIN, &[0], &[0u8; STATE_BYTES]]);
        assert_eq!(empty, expected);
        let mut one = AppliedSet::default();
        one.add(&[0u8; 40]);
        let mut bytes = [0u8; STATE_BYTES];
        blake3::Hasher::new_derive_key("sporedb/v1/applied lthash16 element")
            .update(&[0u8; 40])
            .finalize_xof()
            .fill(&mut bytes);
        // The first output bytes, pinned so a change of BLAKE3 mode or context is caught;
        // computed independently with PyPI's `blake3` (derive_key_context, length 2048).
        assert_eq!(hex::encode(&bytes[..8]), "255face73551b5ec");
        assert_eq!(
            one.digest(),
            crate::crypto::sha3(&[DIGEST_DOMAIN, &[0], &bytes])
        );
    }
}
