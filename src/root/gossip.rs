//! Attestation gossip: the message a node floods every time its root moves (and now and then
//! when it does not), saying "after applying exactly this set of spores, my state root is R",
//! signed. It is the same signature as `SPORE.ROOT`'s (`attest`), so a gossiped attestation
//! can be handed to `sporedb verify --attestation` as it is.
//!
//! Encoding (version 2): `ATTEST_TAG 'A' ‖ version 2 ‖ node[32] ‖ root[32] ‖ applied
//! digest[32] ‖ applied count u64 BE ‖ signature[64] ‖ database roots` (the root's breakdown
//! by database, `DbRoots::encode`: 4 bytes and 32 per non-empty database, so 206 bytes for a
//! store using one database). The signature covers the first part only, as `SPORE.ROOT`'s does;
//! the breakdown is bound to the signed root by folding it back into that root, so a receiver
//! can pin a disagreement to the databases that differ. Consensus messages start with their
//! format byte (1) and state-transfer messages with `'S'`, so the first byte tells them apart.
//! Decoding is strict (known version, exact length).

use crate::crypto::NodeId;

use super::dbroots::DbRoots;
use super::{verify_attestation, Attestation, Root, SignedRoot};

/// First byte of an attestation message.
pub const ATTEST_TAG: u8 = b'A';
const VERSION: u8 = 2;
/// The size of the signed part (tag and version included).
const SIGNED_LEN: usize = 2 + 32 + 32 + 32 + 8 + 64;
/// The largest encoding (all 16 databases non-empty).
pub const ATTEST_MAX_LEN: usize = SIGNED_LEN + 4 + 16 * 32;

/// Encodes a signed root and its breakdown by database for gossip.
pub fn encode(s: &SignedRoot, dbs: &DbRoots) -> Vec<u8> {
    let mut v = Vec::with_capacity(ATTEST_MAX_LEN);
    v.push(ATTEST_TAG);
    v.push(VERSION);
    v.extend_from_slice(&s.attestation.node);
    v.extend_from_slice(&s.root.root);
    v.extend_from_slice(&s.root.applied_digest);
    v.extend_from_slice(&s.root.applied_count.to_be_bytes());
    v.extend_from_slice(&s.attestation.signature);
    dbs.encode(&mut v);
    v
}

/// Decodes an attestation message (signature and breakdown not checked: see [`check`]).
pub fn decode(data: &[u8]) -> Result<(SignedRoot, DbRoots), &'static str> {
    if data.len() < SIGNED_LEN || data.len() > ATTEST_MAX_LEN {
        return Err("attestation of the wrong size");
    }
    if data[0] != ATTEST_TAG || data[1] != VERSION {
        return Err("not an attestation of a known version");
    }
    let take32 = |at: usize| -> [u8; 32] {
        let mut a = [0u8; 32];
        a.copy_from_slice(&data[at..at + 32]);
        a
    };
    let node: NodeId = take32(2);
    let mut count = [0u8; 8];
    count.copy_from_slice(&data[98..106]);
    let mut signature = [0u8; 64];
    signature.copy_from_slice(&data[106..170]);
    let dbs = DbRoots::decode(&data[SIGNED_LEN..])?;
    Ok((
        SignedRoot {
            root: Root {
                root: take32(34),
                applied_digest: take32(66),
                applied_count: u64::from_be_bytes(count),
            },
            attestation: Attestation { node, signature },
        },
        dbs,
    ))
}

/// Decodes and checks an attestation: well formed, signed by its node, its node one of
/// `endorsers` (the committee whose roots count), and its breakdown folding to the signed root.
/// The gossip validator relays only what passes, and scores down the sender of anything else.
pub fn check(
    data: &[u8],
    is_endorser: impl Fn(&NodeId) -> bool,
) -> Result<(SignedRoot, DbRoots), String> {
    let (s, dbs) = decode(data).map_err(str::to_string)?;
    if !is_endorser(&s.attestation.node) {
        return Err(format!(
            "attestation by {}, not an endorser of the policy",
            hex::encode(&s.attestation.node[..8])
        ));
    }
    verify_attestation(&s.root, &s.attestation)
        .map_err(|_| "attestation with a bad signature".to_string())?;
    if dbs.fold() != s.root.root {
        return Err("attestation whose database roots do not fold to its signed root".into());
    }
    Ok((s, dbs))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::crypto::NodeKey;
    use crate::root::DbRoot;

    #[test]
    fn round_trip_and_refusals() {
        let key = NodeKey::from_seed([3; 32]);
        let mut dbs = DbRoots::default();
        dbs.0[0] = Some(DbRoot {
            hash: [4; 32],
            leaf: false,
        });
        dbs.0[2] = Some(DbRoot {
            hash: [5; 32],
            leaf: true,
        });
        let root = Root {
            root: dbs.fold(),
            applied_digest: [2; 32],
            applied_count: 7,
        };
        let s = SignedRoot::sign(&key, root);
        let bytes = encode(&s, &dbs);
        assert_eq!(bytes.len(), SIGNED_LEN + 4 + 64);
        assert_eq!(decode(&bytes), Ok((s, dbs)));
        let me = key.id();
        assert_eq!(check(&bytes, |n| *n == me), Ok((s, dbs)));
        assert!(check(&bytes, |_| false)
            .unwrap_err()
            .contains("not an endorser"));
        // A flipped root bit breaks the signature.
        let mut forged = bytes.clone();
        forged[40] ^= 1;
        assert!(check(&forged, |_| true)
            .unwrap_err()
            .contains("bad signature"));
        // A breakdown that does not fold to the signed root is refused.
        let mut lying = bytes.clone();
        let last = lying.len() - 1;
        lying[last] ^= 1;
        assert!(check(&lying, |_| true).unwrap_err().contains("do not fold"));
        assert!(decode(&bytes[..100]).is_err());
        let mut v1 = bytes;
        v1[1] = 1;
        assert!(decode(&v1).is_err());
    }
}
