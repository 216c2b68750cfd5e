//! Signed roots: a node's statement "my state has this root and covers these applied spores".
//!
//! The signature is `crypto::sign` with domain `sporedb/v1/root` over the 72-byte message
//! `root[32] ‖ applied digest[32] ‖ applied count u64 BE`. Anyone holding the node's id (its
//! ed25519 public key) can check it offline; a client that collects such attestations from
//! enough nodes of the committee can trust a root without trusting any single node.

use crate::crypto::{self, NodeId, NodeKey, SignatureError};

use super::Root;

/// Domain of root signatures.
pub const ROOT_DOMAIN: &str = "sporedb/v1/root";

/// One node's signature of a root.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Attestation {
    pub node: NodeId,
    pub signature: [u8; 64],
}

/// The bytes a root signature covers (after the domain).
pub fn root_message(root: &Root) -> [u8; 72] {
    let mut m = [0u8; 72];
    m[..32].copy_from_slice(&root.root);
    m[32..64].copy_from_slice(&root.applied_digest);
    m[64..].copy_from_slice(&root.applied_count.to_be_bytes());
    m
}

/// Signs `root` with the node's key.
pub fn attest(key: &NodeKey, root: &Root) -> Attestation {
    Attestation {
        node: key.id(),
        signature: key.sign(ROOT_DOMAIN, &root_message(root)),
    }
}

/// Checks an attestation of `root` (strict ed25519 verification).
pub fn verify_attestation(root: &Root, a: &Attestation) -> Result<(), SignatureError> {
    crypto::verify(&a.node, ROOT_DOMAIN, &root_message(root), &a.signature)
}

impl Attestation {
    /// Parses `NODE:SIG` (hex node id, hex signature), as `sporedb verify --attestation` takes.
    pub fn parse(s: &str) -> Result<Attestation, String> {
        let (node, sig) = s
            .split_once(':')
            .ok_or_else(|| format!("attestation {s:?} is not NODE:SIG"))?;
        let node: NodeId = hex::decode(node)
            .ok()
            .and_then(|b| b.try_into().ok())
            .ok_or_else(|| format!("attestation node id {node:?} is not 32 hex bytes"))?;
        let signature: [u8; 64] = hex::decode(sig)
            .ok()
            .and_then(|b| b.try_into().ok())
            .ok_or_else(|| format!("attestation signature {sig:?} is not 64 hex bytes"))?;
        Ok(Attestation { node, signature })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sign_verify_and_tamper() {
        let key = NodeKey::from_seed([7; 32]);
        let root = Root {
            root: [1; 32],
            applied_digest: [2; 32],
            applied_count: 3,
        };
        let a = attest(&key, &root);
        assert_eq!(verify_attestation(&root, &a), Ok(()));
        let text = format!("{}:{}", hex::encode(a.node), hex::encode(a.signature));
        assert_eq!(Attestation::parse(&text), Ok(a));
        let other = Root {
            applied_count: 4,
            ..root
        };
        assert!(verify_attestation(&other, &a).is_err());
        // A root signature is not valid under another domain.
        assert!(crypto::verify(
            &a.node,
            "sporedb/v1/endorse",
            &root_message(&root),
            &a.signature
        )
        .is_err());
    }
}
