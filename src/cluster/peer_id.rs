//! The libp2p peer id of a node key, computed without libp2p (config.rs and the demo must not
//! depend on the network stack): the identity multihash of the protobuf-encoded ed25519 public
//! key, in base58btc — the `12D3KooW…` form libp2p prints. It is what `/p2p/<peer-id>` in a
//! bootstrap address means, on the assumption (documented in docs/CLUSTER.md) that a node's
//! libp2p identity is its node key.

use crate::crypto::NodeId;

/// The peer id string of `id`.
pub fn peer_id(id: &NodeId) -> String {
    // protobuf PublicKey { Type = Ed25519 (1), Data = 32 bytes }, then multihash identity (0x00)
    // with length 36.
    let mut bytes = vec![0x00, 36, 0x08, 0x01, 0x12, 0x20];
    bytes.extend_from_slice(id);
    base58(&bytes)
}

/// Bitcoin-alphabet base58 (leading zero bytes become '1').
fn base58(input: &[u8]) -> String {
    const ALPHABET: &[u8; 58] = b"123456789ABCDEFGHJKLMNPQRSTUVWXYZabcdefghijkmnopqrstuvwxyz";
    let zeros = input.iter().take_while(|b| **b == 0).count();
    // Little-endian base-58 digits.
    let mut digits: Vec<u8> = Vec::new();
    for &byte in &input[zeros..] {
        let mut carry = u32::from(byte);
        for d in digits.iter_mut() {
            carry += u32::from(*d) << 8;
            *d = (carry % 58) as u8;
            carry /= 58;
        }
        while carry > 0 {
            digits.push((carry % 58) as u8);
            carry /= 58;
        }
    }
    let mut out = String::with_capacity(zeros + digits.len());
    out.extend(std::iter::repeat_n('1', zeros));
    out.extend(
        digits
            .iter()
            .rev()
            .map(|d| ALPHABET[usize::from(*d)] as char),
    );
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn base58_known_vectors() {
        assert_eq!(base58(b"hello world"), "StV1DL6CwTryKyV");
        assert_eq!(base58(&[0, 0, 1]), "112");
        assert_eq!(base58(&[]), "");
    }

    #[test]
    fn ed25519_peer_ids_have_the_libp2p_shape() {
        let p = peer_id(&[7; 32]);
        assert!(p.starts_with("12D3KooW"), "{p}");
        assert_eq!(p.len(), 52);
    }
}
