//! Protocol messages and exactly what each signature covers (PROTOCOL.md §3).
//!
//! Three kinds of signed statement exist, each signed once per *batch* (one ed25519 signature
//! covers many spores) under its own domain, so a signature of one kind can never be replayed
//! as another (`crypto::sign` prefixes `domain ‖ 0x00`):
//! - a **spore batch** by its origin: `origin ‖ u32 count ‖ id₁ … idₖ` under
//!   `sporedb/v1/spore-batch`, where idᵢ = sha3-256(canonical spore bytes): the signature binds
//!   every spore's content (study §4.1 item 5);
//! - an **endorsement batch** by an endorser: `endorser ‖ u32 count ‖ id₁ … idₖ` (ids strictly
//!   increasing) under `sporedb/v1/endorse` — whitepaper ENDORSE;
//! - a **rejection batch**: `rejecter ‖ u32 count ‖ (id ‖ reason u8)…` under `sporedb/v1/reject`
//!   — whitepaper REJECT, a signed promise never to endorse those spores.
//!
//! Messages only carry these statements: a `Bundle` (gossiped: flooded by every honest node
//! that learns something from it), a direct `Endorse` to a spore's origin, and a direct `Want`
//! (anti-entropy request). Unsigned wrappers carry no authority.

use std::sync::{Arc, OnceLock};

use crate::crypto::{self, NodeId, NodeKey, SignatureError};
use crate::spore::{Key, Spore, SporeId};

pub const DOMAIN_SPORES: &str = "sporedb/v1/spore-batch";
pub const DOMAIN_ENDORSE: &str = "sporedb/v1/endorse";
pub const DOMAIN_REJECT: &str = "sporedb/v1/reject";

/// Why an honest node refuses a spore (carried in REJECT; PROTOCOL.md §4.2).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum RejectReason {
    /// The deadline had passed on arrival (Timeout rule).
    Expired = 1,
    /// The deadline is beyond now + max horizon.
    TooFarInFuture = 2,
    /// The node's local policy vetoes it (reluctant node, whitepaper §4.2).
    Veto = 3,
    /// Mixed commutative classes at one order version (PROTOCOL.md §5.3).
    ClassMix = 4,
    /// The global policy refuses it: a policy change on another base or proposing an invalid
    /// policy, or (after a policy switch) a data spore the new rules forbid.
    PolicyRefused = 5,
}

impl RejectReason {
    pub fn from_u8(b: u8) -> Option<RejectReason> {
        Some(match b {
            1 => RejectReason::Expired,
            2 => RejectReason::TooFarInFuture,
            3 => RejectReason::Veto,
            4 => RejectReason::ClassMix,
            5 => RejectReason::PolicyRefused,
            _ => return None,
        })
    }
}

/// A batch of spores signed by their origin. Every spore's `origin` field equals `origin`.
/// Built once (`new`, `sign`, decoding) and never changed afterwards.
#[derive(Debug, Clone)]
pub struct SporeBatch {
    pub origin: NodeId,
    pub spores: Vec<Arc<Spore>>,
    pub signature: [u8; 64],
    /// The spores' ids, computed on first use (`ids`). A batch is checked by the network task,
    /// then handled by the engine, and comes again inside certificates: each id (a canonical
    /// encoding and a sha3) is computed once, not at every look. Never stale: the spores do
    /// not change after construction.
    ids: OnceLock<Arc<[SporeId]>>,
}

/// Equal content is an equal batch, whether or not its ids were computed yet.
impl PartialEq for SporeBatch {
    fn eq(&self, other: &SporeBatch) -> bool {
        self.origin == other.origin
            && self.signature == other.signature
            && self.spores == other.spores
    }
}

impl Eq for SporeBatch {}

/// A batch of endorsements by one endorser.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EndorseBatch {
    pub endorser: NodeId,
    /// Strictly increasing.
    pub ids: Vec<SporeId>,
    pub signature: [u8; 64],
}

/// A batch of rejections by one node.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RejectBatch {
    pub rejecter: NodeId,
    /// Strictly increasing by id.
    pub entries: Vec<(SporeId, RejectReason)>,
    pub signature: [u8; 64],
}

/// A gossiped bundle of signed statements: a submission (spores + the origin's own
/// endorsement), a commit certificate (spores + ≥ ω endorsements), a fallback flood, a report
/// of rejections. Its meaning is only the sum of the statements it carries.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Bundle {
    pub spores: Vec<Arc<SporeBatch>>,
    pub endorsements: Vec<Arc<EndorseBatch>>,
    pub rejections: Vec<Arc<RejectBatch>>,
}

/// An anti-entropy request: send me what you know about these spores (by id) and the recent
/// committed spores that wrote these keys.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Want {
    pub ids: Vec<SporeId>,
    pub keys: Vec<Key>,
}

/// A protocol message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Message {
    /// Gossiped (flooded) by every honest node that learnt something from it.
    Bundle(Bundle),
    /// Sent directly to the origins of the endorsed spores.
    Endorse(Arc<EndorseBatch>),
    /// Sent directly to one peer, answered with a `Bundle` sent directly back.
    Want(Want),
}

/// Why a message's statements are refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum MessageError {
    #[error("bad signature: {0}")]
    Signature(#[from] SignatureError),
    #[error("a spore's origin differs from the batch signer")]
    OriginMismatch,
    #[error("ids are not strictly increasing")]
    Unsorted,
    #[error("empty batch")]
    Empty,
}

fn id_list_payload(signer: &NodeId, ids: &[SporeId]) -> Vec<u8> {
    let mut out = Vec::with_capacity(36 + 32 * ids.len());
    out.extend_from_slice(signer);
    out.extend_from_slice(&(ids.len() as u32).to_be_bytes());
    for id in ids {
        out.extend_from_slice(&id.0);
    }
    out
}

impl SporeBatch {
    /// The exact bytes the origin's signature covers (after the domain prefix).
    pub fn payload(origin: &NodeId, ids: &[SporeId]) -> Vec<u8> {
        id_list_payload(origin, ids)
    }

    /// Signs a batch of spores built by `key`'s node.
    pub fn sign(key: &NodeKey, spores: Vec<Arc<Spore>>) -> SporeBatch {
        let ids: Vec<SporeId> = spores.iter().map(|s| s.id()).collect();
        Self::sign_with_ids(key, spores, &ids)
    }

    /// `sign` when the caller already holds the spores' ids (`ids[i]` must be
    /// `spores[i].id()`; verifiers recompute them, so a wrong id only makes the batch invalid).
    pub fn sign_with_ids(key: &NodeKey, spores: Vec<Arc<Spore>>, ids: &[SporeId]) -> SporeBatch {
        debug_assert!(spores.len() == ids.len());
        let origin = key.id();
        let signature = key.sign(DOMAIN_SPORES, &Self::payload(&origin, ids));
        SporeBatch::new(origin, spores, signature)
    }

    /// A batch as signed (or received): its ids are computed when first asked for.
    pub fn new(origin: NodeId, spores: Vec<Arc<Spore>>, signature: [u8; 64]) -> SporeBatch {
        SporeBatch {
            origin,
            spores,
            signature,
            ids: OnceLock::new(),
        }
    }

    /// The ids of the spores, in batch order (computed once per batch).
    pub fn ids(&self) -> Arc<[SporeId]> {
        self.ids
            .get_or_init(|| self.spores.iter().map(|s| s.id()).collect())
            .clone()
    }

    /// Checks the signature and that every spore names the signer as origin; returns the ids.
    pub fn verify(&self) -> Result<Arc<[SporeId]>, MessageError> {
        if self.spores.is_empty() {
            return Err(MessageError::Empty);
        }
        if self.spores.iter().any(|s| s.origin != self.origin) {
            return Err(MessageError::OriginMismatch);
        }
        let ids = self.ids();
        crypto::verify(
            &self.origin,
            DOMAIN_SPORES,
            &Self::payload(&self.origin, &ids),
            &self.signature,
        )?;
        Ok(ids)
    }
}

impl EndorseBatch {
    pub fn payload(endorser: &NodeId, ids: &[SporeId]) -> Vec<u8> {
        id_list_payload(endorser, ids)
    }

    /// Signs endorsements of `ids` (sorted and deduplicated here).
    pub fn sign(key: &NodeKey, mut ids: Vec<SporeId>) -> EndorseBatch {
        ids.sort();
        ids.dedup();
        let endorser = key.id();
        let signature = key.sign(DOMAIN_ENDORSE, &Self::payload(&endorser, &ids));
        EndorseBatch {
            endorser,
            ids,
            signature,
        }
    }

    pub fn verify(&self) -> Result<(), MessageError> {
        if self.ids.is_empty() {
            return Err(MessageError::Empty);
        }
        if self.ids.windows(2).any(|w| w[0] >= w[1]) {
            return Err(MessageError::Unsorted);
        }
        crypto::verify(
            &self.endorser,
            DOMAIN_ENDORSE,
            &Self::payload(&self.endorser, &self.ids),
            &self.signature,
        )?;
        Ok(())
    }

    pub fn contains(&self, id: &SporeId) -> bool {
        self.ids.binary_search(id).is_ok()
    }
}

impl RejectBatch {
    pub fn payload(rejecter: &NodeId, entries: &[(SporeId, RejectReason)]) -> Vec<u8> {
        let mut out = Vec::with_capacity(36 + 33 * entries.len());
        out.extend_from_slice(rejecter);
        out.extend_from_slice(&(entries.len() as u32).to_be_bytes());
        for (id, reason) in entries {
            out.extend_from_slice(&id.0);
            out.push(*reason as u8);
        }
        out
    }

    pub fn sign(key: &NodeKey, mut entries: Vec<(SporeId, RejectReason)>) -> RejectBatch {
        entries.sort();
        entries.dedup_by(|a, b| a.0 == b.0);
        let rejecter = key.id();
        let signature = key.sign(DOMAIN_REJECT, &Self::payload(&rejecter, &entries));
        RejectBatch {
            rejecter,
            entries,
            signature,
        }
    }

    pub fn verify(&self) -> Result<(), MessageError> {
        if self.entries.is_empty() {
            return Err(MessageError::Empty);
        }
        if self.entries.windows(2).any(|w| w[0].0 >= w[1].0) {
            return Err(MessageError::Unsorted);
        }
        crypto::verify(
            &self.rejecter,
            DOMAIN_REJECT,
            &Self::payload(&self.rejecter, &self.entries),
            &self.signature,
        )?;
        Ok(())
    }

    pub fn contains(&self, id: &SporeId) -> bool {
        self.entries.binary_search_by(|(i, _)| i.cmp(id)).is_ok()
    }
}

impl Bundle {
    pub fn is_empty(&self) -> bool {
        self.spores.is_empty() && self.endorsements.is_empty() && self.rejections.is_empty()
    }
}

#[cfg(test)]
mod tests {
    use super::RejectReason;

    /// Reasons are signed inside rejection batches by their byte: frozen, append-only.
    #[test]
    fn reject_reason_tags_are_frozen() {
        let all = [
            RejectReason::Expired,
            RejectReason::TooFarInFuture,
            RejectReason::Veto,
            RejectReason::ClassMix,
            RejectReason::PolicyRefused,
        ];
        for (i, r) in all.iter().enumerate() {
            assert_eq!(*r as u8, i as u8 + 1);
            assert_eq!(RejectReason::from_u8(i as u8 + 1), Some(*r));
        }
        assert_eq!(RejectReason::from_u8(6), None);
        assert_eq!(RejectReason::from_u8(0), None);
    }
}
