//! Attestation gossip: the message a node floods every time its root moves (and now and then
//! when it does not), saying "after applying exactly this set of spores, my state root is R",
//! signed. It is the same signature as `SPORE.ROOT`'s (`attest`), so a gossiped attestation
//! can be handed to `sporedb verify --attestation` as it is.
//!
//! Encoding (170 bytes): `ATTEST_TAG 'A' ‖ version 1 ‖ node[32] ‖ root[32] ‖ applied
//! digest[32] ‖ applied count u64 BE ‖ signature[64]`. Consensus messages start with their
//! format byte (1) and state-transfer messages with `'S'`, so the first byte tells them
//! apart. Decoding is strict (exact length, known version).

use crate::crypto::NodeId;

use super::{verify_attestation, Attestation, Root, SignedRoot};

/// First byte of an attestation message.
pub const ATTEST_TAG: u8 = b'A';
const VERSION: u8 = 1;
/// The encoded size.
pub const ATTEST_LEN: usize = 2 + 32 + 32 + 32 + 8 + 64;

/// Encodes a signed root for gossip.
pub fn encode(s: &SignedRoot) -> Vec<u8> {
    let mut v = Vec::with_capacity(ATTEST_LEN);
    v.push(ATTEST_TAG);
    v.push(VERSION);
    v.extend_from_slice(&s.attestation.node);
    v.extend_from_slice(&s.root.root);
    v.extend_from_slice(&s.root.applied_digest);
    v.extend_from_slice(&s.root.applied_count.to_be_bytes());
    v.extend_from_slice(&s.attestation.signature);
    v
}

/// Decodes an attestation message (signature not checked: see [`check`]).
pub fn decode(data: &[u8]) -> Result<SignedRoot, &'static str> {
    if data.len() != ATTEST_LEN {
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
    Ok(SignedRoot {
        root: Root {
            root: take32(34),
            applied_digest: take32(66),
            applied_count: u64::from_be_bytes(count),
        },
        attestation: Attestation { node, signature },
    })
}

/// Decodes and checks an attestation: well formed, signed by its node, and its node one of
/// `endorsers` (the committee whose roots count). The gossip validator relays only what
/// passes, and scores down the sender of anything else.
pub fn check(data: &[u8], is_endorser: impl Fn(&NodeId) -> bool) -> Result<SignedRoot, String> {
    let s = decode(data).map_err(str::to_string)?;
    if !is_endorser(&s.attestation.node) {
        return Err(format!(
            "attestation by {}, not an endorser of the policy",
            hex::encode(&s.attestation.node[..8])
        ));
    }
    verify_attestation(&s.root, &s.attestation)
        .map_err(|_| "attestation with a bad signature".to_string())?;
    Ok(s)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::crypto::NodeKey;
    use crate::root::attest;

    #[test]
    fn round_trip_and_refusals() {
        let key = NodeKey::from_seed([3; 32]);
        let root = Root {
            root: [1; 32],
            applied_digest: [2; 32],
            applied_count: 7,
        };
        let s = SignedRoot {
            root,
            attestation: attest(&key, &root),
        };
        let bytes = encode(&s);
        assert_eq!(bytes.len(), ATTEST_LEN);
        assert_eq!(decode(&bytes), Ok(s));
        let me = key.id();
        assert_eq!(check(&bytes, |n| *n == me), Ok(s));
        assert!(check(&bytes, |_| false)
            .unwrap_err()
            .contains("not an endorser"));
        // A flipped root bit breaks the signature.
        let mut forged = bytes.clone();
        forged[40] ^= 1;
        assert!(check(&forged, |_| true)
            .unwrap_err()
            .contains("bad signature"));
        assert!(decode(&bytes[..100]).is_err());
        let mut v2 = bytes;
        v2[1] = 2;
        assert!(decode(&v2).is_err());
    }
}
