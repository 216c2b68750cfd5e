//! Node keys, hashing and domain-separated ed25519 signatures.
//!
//! Every signature sporedb makes covers `domain ‖ 0x00 ‖ message`, where `domain` names the kind
//! of message (`sporedb/v1/spore-batch`, `sporedb/v1/endorse`, ...). A signature made for one kind
//! can therefore never be replayed as another. Verification is `verify_strict` (rejects weak keys
//! and non-canonical signatures), which is what defines validity; batch verification may only be
//! used as a fast path that falls back to single checks.

use ed25519_dalek::{Signature, Signer, SigningKey, VerifyingKey};
use sha3::{Digest as _, Sha3_256};

/// A sha3-256 digest.
pub type Digest = [u8; 32];

/// A node's public identity: its ed25519 verifying key bytes.
pub type NodeId = [u8; 32];

/// The bytes' lexicographic order of two digests (what `Ord` for `[u8; 32]` gives), compared as
/// four big-endian words, inlined: the derived order calls `memcmp` for every comparison,
/// which showed in the engine's maps keyed by ids and versions (~4-5 % of a loaded cluster
/// driver's CPU each). Digests are hashes, so the first word nearly always decides.
#[inline]
pub fn cmp_digest(a: &Digest, b: &Digest) -> std::cmp::Ordering {
    let word = |d: &Digest, i: usize| {
        let mut w = [0u8; 8];
        w.copy_from_slice(&d[i * 8..i * 8 + 8]);
        u64::from_be_bytes(w)
    };
    (0..4)
        .map(|i| word(a, i).cmp(&word(b, i)))
        .find(|o| o.is_ne())
        .unwrap_or(std::cmp::Ordering::Equal)
}

/// sha3-256 over the concatenation of `parts`, each prefixed by nothing: callers that hash
/// variable-length fields must length-prefix them themselves (see `spore::codec`).
pub fn sha3(parts: &[&[u8]]) -> Digest {
    let mut h = Sha3_256::new();
    for p in parts {
        h.update(p);
    }
    h.finalize().into()
}

/// A memo key for "this signed statement was verified": BLAKE3 over the signer, the domain
/// (length-prefixed), the signature and the payload. Only ever a local cache key (the gossip
/// verifier's and the engine's), never on the wire or in replicated state, so it need not be
/// sha3: the payload of an endorsement batch is every endorsed id, and hashing it with sha3,
/// three times per statement per node, was ~4 % of a loaded cluster node's network thread.
pub fn statement_key(
    signer: &NodeId,
    domain: &str,
    signature: &[u8; 64],
    payload: &[u8],
) -> Digest {
    let mut h = blake3::Hasher::new_derive_key("sporedb/v1 verified statement memo");
    h.update(signer);
    h.update(&(domain.len() as u64).to_be_bytes());
    h.update(domain.as_bytes());
    h.update(signature);
    h.update(payload);
    h.finalize().into()
}

/// A node's signing key.
#[derive(Clone)]
pub struct NodeKey {
    signing: SigningKey,
}

impl std::fmt::Debug for NodeKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // Never print secret material.
        write!(f, "NodeKey({})", hex::encode(self.id()))
    }
}

impl NodeKey {
    /// A fresh key from the operating system's randomness.
    pub fn generate() -> Result<NodeKey, getrandom::Error> {
        let mut seed = [0u8; 32];
        getrandom::fill(&mut seed)?;
        Ok(NodeKey::from_seed(seed))
    }

    /// The key whose 32-byte secret seed is `seed` (deterministic: used for stored keys and tests).
    pub fn from_seed(seed: [u8; 32]) -> NodeKey {
        NodeKey {
            signing: SigningKey::from_bytes(&seed),
        }
    }

    /// The 32-byte secret seed (for the key file).
    pub fn seed(&self) -> [u8; 32] {
        self.signing.to_bytes()
    }

    /// The node's public identity.
    pub fn id(&self) -> NodeId {
        self.signing.verifying_key().to_bytes()
    }

    /// Signs `domain ‖ 0x00 ‖ message`.
    pub fn sign(&self, domain: &str, message: &[u8]) -> [u8; 64] {
        self.signing
            .sign(&signing_bytes(domain, message))
            .to_bytes()
    }
}

/// The exact bytes a signature of `domain` over `message` covers.
pub fn signing_bytes(domain: &str, message: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(domain.len() + 1 + message.len());
    out.extend_from_slice(domain.as_bytes());
    out.push(0);
    out.extend_from_slice(message);
    out
}

/// Why a signature or key was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SignatureError {
    #[error("public key is not a valid ed25519 point")]
    BadKey,
    #[error("public key is weak (small order)")]
    WeakKey,
    #[error("signature does not verify")]
    BadSignature,
}

/// Decodes a public key, refusing weak (small-order) keys: a weak key could make a forged
/// signature pass in one verification mode and fail in another.
pub fn verifying_key(id: &NodeId) -> Result<VerifyingKey, SignatureError> {
    let key = VerifyingKey::from_bytes(id).map_err(|_| SignatureError::BadKey)?;
    if key.is_weak() {
        return Err(SignatureError::WeakKey);
    }
    Ok(key)
}

/// Verifies a signature of `domain` over `message` by `signer` (strict verification).
pub fn verify(
    signer: &NodeId,
    domain: &str,
    message: &[u8],
    signature: &[u8; 64],
) -> Result<(), SignatureError> {
    verify_with(&verifying_key(signer)?, domain, message, signature)
}

/// [`verify`] with the signer's key already decoded (`verifying_key`): decoding it is a point
/// decompression, ~20 % of a verification here, that a node checking the same few endorsers'
/// statements all day need not repeat.
pub fn verify_with(
    key: &VerifyingKey,
    domain: &str,
    message: &[u8],
    signature: &[u8; 64],
) -> Result<(), SignatureError> {
    let sig = Signature::from_bytes(signature);
    key.verify_strict(&signing_bytes(domain, message), &sig)
        .map_err(|_| SignatureError::BadSignature)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sign_verify_and_domain_separation() {
        let k = NodeKey::from_seed([7; 32]);
        let sig = k.sign("sporedb/v1/test", b"hello");
        assert_eq!(verify(&k.id(), "sporedb/v1/test", b"hello", &sig), Ok(()));
        assert_eq!(
            verify(&k.id(), "sporedb/v1/other", b"hello", &sig),
            Err(SignatureError::BadSignature)
        );
        assert_eq!(
            verify(&k.id(), "sporedb/v1/test", b"hellO", &sig),
            Err(SignatureError::BadSignature)
        );
    }

    #[test]
    fn weak_keys_are_refused() {
        // The identity point (small order) encoded as a public key.
        let mut weak = [0u8; 32];
        weak[0] = 1;
        assert_eq!(verifying_key(&weak).err(), Some(SignatureError::WeakKey));
    }
}
