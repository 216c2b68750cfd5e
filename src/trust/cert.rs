//! Key certifications: a signature by one node's key over another node's public key, saying
//! "I have checked that this key belongs to the peer it claims to be".
//!
//! The signed message is the certified 32-byte key under its own signature domain, so a
//! certification can never be replayed as a spore, endorsement or any other signed message
//! (`crypto::sign` prefixes the domain). Names are not signed: they are local labels, and two
//! operators may call the same peer differently.

use serde::{Deserialize, Serialize};

use crate::crypto::{self, NodeId, NodeKey, SignatureError};

/// Signature domain of key certifications.
pub const CERT_DOMAIN: &str = "sporedb/v1/key-certification";

/// A certification of some key (the entry that holds it) by `by`.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Certification {
    /// The certifier's public key, hex.
    pub by: String,
    /// ed25519 signature over `CERT_DOMAIN ‖ 0 ‖ certified key`, hex.
    pub signature: String,
}

/// Why a certification was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CertError {
    #[error("certifier key '{0}' is not 64 hex digits")]
    BadCertifier(String),
    #[error("certification signature is not 128 hex digits")]
    BadEncoding,
    #[error("certification by {by} does not verify: {source}")]
    Invalid { by: String, source: SignatureError },
}

impl Certification {
    /// `key`'s certification of `certified`.
    pub fn create(key: &NodeKey, certified: &NodeId) -> Certification {
        Certification {
            by: hex::encode(key.id()),
            signature: hex::encode(key.sign(CERT_DOMAIN, certified)),
        }
    }

    /// Checks the signature and returns the certifier's id.
    pub fn verify(&self, certified: &NodeId) -> Result<NodeId, CertError> {
        let by = parse_id(&self.by).ok_or_else(|| CertError::BadCertifier(self.by.clone()))?;
        let sig: [u8; 64] = hex::decode(&self.signature)
            .ok()
            .and_then(|b| b.try_into().ok())
            .ok_or(CertError::BadEncoding)?;
        crypto::verify(&by, CERT_DOMAIN, certified, &sig).map_err(|source| CertError::Invalid {
            by: self.by.clone(),
            source,
        })?;
        Ok(by)
    }
}

/// A node id from 64 hex digits (surrounding whitespace ignored), or `None`.
pub fn parse_id(text: &str) -> Option<NodeId> {
    hex::decode(text.trim()).ok()?.try_into().ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn certification_binds_the_certified_key() {
        let a = NodeKey::from_seed([1; 32]);
        let b = NodeKey::from_seed([2; 32]);
        let c = NodeKey::from_seed([3; 32]);
        let cert = Certification::create(&a, &b.id());
        assert_eq!(cert.verify(&b.id()), Ok(a.id()));
        assert!(matches!(
            cert.verify(&c.id()),
            Err(CertError::Invalid { .. })
        ));
        // The same bytes signed under another domain are not a certification.
        let forged = Certification {
            by: hex::encode(a.id()),
            signature: hex::encode(a.sign("sporedb/v1/endorse", &b.id())),
        };
        assert!(forged.verify(&b.id()).is_err());
        let garbled = Certification {
            by: "zz".into(),
            signature: cert.signature.clone(),
        };
        assert!(matches!(
            garbled.verify(&b.id()),
            Err(CertError::BadCertifier(_))
        ));
    }
}
