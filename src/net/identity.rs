//! The mapping between sporedb node identities and libp2p peer identities.
//!
//! A node's ed25519 key *is* its libp2p identity: the noise handshake proves possession of the
//! same key that signs spores, so a `PeerId` seen on a connection names exactly one `NodeId`.
//! libp2p encodes an ed25519 `PeerId` as an identity multihash of the protobuf public key, i.e.
//! the 32 key bytes are inline; the conversions below are therefore pure byte reshuffles with no
//! curve arithmetic and no lookup table.

use libp2p::identity::{Keypair, PublicKey};
use libp2p::PeerId;

use crate::crypto::{NodeId, NodeKey};

/// `identity multihash code ‖ digest length ‖ protobuf(KeyType = Ed25519) ‖ protobuf(Data, 32 B)`.
/// 0x24 = 36 = the length of the protobuf-encoded public key that follows.
const PEER_ID_PREFIX: [u8; 6] = [0x00, 0x24, 0x08, 0x01, 0x12, 0x20];

/// The libp2p keypair for a node key (same secret, so same public key).
pub fn keypair(key: &NodeKey) -> Result<Keypair, libp2p::identity::DecodingError> {
    // `ed25519_from_bytes` zeroises the buffer it is given, so hand it a copy.
    let mut seed = key.seed();
    Keypair::ed25519_from_bytes(&mut seed)
}

/// The libp2p `PeerId` of a node.
///
/// Works for any 32 bytes (even ones that are not a valid curve point), because the encoding
/// inlines the key rather than parsing it; such a peer can never complete a noise handshake.
pub fn peer_id(node: &NodeId) -> PeerId {
    let mut bytes = [0u8; 38];
    bytes[..6].copy_from_slice(&PEER_ID_PREFIX);
    bytes[6..].copy_from_slice(node);
    // A 38-byte identity multihash with a 36-byte digest is always a valid PeerId (libp2p
    // accepts identity digests up to 42 bytes); the input is a fixed-size array, never network
    // data, and `peer_id_matches_libp2p` pins this.
    PeerId::from_bytes(&bytes).expect("identity multihash of a 32-byte ed25519 key is a PeerId")
}

/// The node identity behind a `PeerId`, if the peer uses an ed25519 key (every sporedb node does;
/// any other key type is not a cluster node and gets disconnected).
pub fn node_id(peer: &PeerId) -> Option<NodeId> {
    let bytes = peer.to_bytes();
    if bytes.len() != 38 || bytes[..2] != PEER_ID_PREFIX[..2] {
        return None;
    }
    let key = PublicKey::try_decode_protobuf(&bytes[2..])
        .ok()?
        .try_into_ed25519()
        .ok()?;
    Some(key.to_bytes())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn peer_id_matches_libp2p() {
        for seed in [[1u8; 32], [42; 32], [255; 32]] {
            let key = NodeKey::from_seed(seed);
            let kp = keypair(&key).expect("valid seed");
            let libp2p_peer = PeerId::from_public_key(&kp.public());
            assert_eq!(peer_id(&key.id()), libp2p_peer);
            assert_eq!(node_id(&libp2p_peer), Some(key.id()));
        }
    }

    #[test]
    fn non_ed25519_peers_have_no_node_id() {
        // A random PeerId is an identity multihash of random bytes, not an ed25519 key.
        assert_eq!(node_id(&PeerId::random()), None);
    }
}
