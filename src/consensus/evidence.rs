//! Evidence: self-contained, verifiable proofs that an endorser broke the protocol
//! (whitepaper §5.3 "Dealing with poison"; PROTOCOL.md §10).
//!
//! Two kinds exist, both checkable by anyone holding the policy, without trusting the reporter:
//! - **conflicting endorsements**: one key endorsed two *mutually exclusive* spores whose
//!   deadlines are within the grace period of each other. Mutually exclusive means they require
//!   the same full version `(order, acc)` of a key and both write or read it, so applying either
//!   one invalidates the other. An honest node endorses the second only after the first was
//!   applied (then the second's prerequisite no longer holds: it would not endorse it) or
//!   dropped (which happens at the first's deadline + grace, after which the second's deadline
//!   must still be ahead: they would be more than a grace period apart). So no honest node ever
//!   signs such a pair.
//! - **endorsed and rejected**: one key signed both ENDORSE and REJECT for the same spore.

use std::sync::Arc;

use crate::crypto::NodeId;
use crate::spore::conflict::classes_commute;
use crate::spore::footprint::Footprint;
use crate::spore::{Spore, SporeId};

use super::message::{EndorseBatch, RejectBatch};

/// A proof of misbehaviour by one endorser.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Evidence {
    ConflictingEndorsements {
        a: Arc<Spore>,
        b: Arc<Spore>,
        ea: Arc<EndorseBatch>,
        eb: Arc<EndorseBatch>,
    },
    EndorsedAndRejected {
        id: SporeId,
        endorsed: Arc<EndorseBatch>,
        rejected: Arc<RejectBatch>,
    },
}

impl Evidence {
    /// The key that misbehaved.
    pub fn culprit(&self) -> NodeId {
        match self {
            Evidence::ConflictingEndorsements { ea, .. } => ea.endorser,
            Evidence::EndorsedAndRejected { endorsed, .. } => endorsed.endorser,
        }
    }

    /// Checks the proof from scratch (signatures, membership of the ids, the exclusivity rule).
    pub fn verify(&self, grace_ms: u64) -> bool {
        match self {
            Evidence::ConflictingEndorsements { a, b, ea, eb } => {
                let (ida, idb) = (a.id(), b.id());
                ea.endorser == eb.endorser
                    && ea.verify().is_ok()
                    && eb.verify().is_ok()
                    && ea.contains(&ida)
                    && eb.contains(&idb)
                    && mutually_exclusive(a, b, grace_ms)
            }
            Evidence::EndorsedAndRejected {
                id,
                endorsed,
                rejected,
            } => {
                endorsed.endorser == rejected.rejecter
                    && endorsed.verify().is_ok()
                    && rejected.verify().is_ok()
                    && endorsed.contains(id)
                    && rejected.contains(id)
            }
        }
    }
}

/// Whether no honest endorser can ever sign both `a` and `b` (see the module comment).
pub fn mutually_exclusive(a: &Spore, b: &Spore, grace_ms: u64) -> bool {
    if a == b || a.deadline_ms.abs_diff(b.deadline_ms) > grace_ms {
        return false;
    }
    exclusive_key(a, b)
}

/// The shared full version on which `a` and `b` exclude each other, if any.
fn exclusive_key(a: &Spore, b: &Spore) -> bool {
    let (fa, fb) = (Footprint::of(a), Footprint::of(b));
    for ta in &fa.keys {
        let (Some(pa), Some(pb)) = (a.prereq(&ta.key), b.prereq(&ta.key)) else {
            continue;
        };
        if pa.acc.is_none() || pa != pb {
            continue;
        }
        let Ok(i) = fb.keys.binary_search_by(|t| t.key.cmp(&ta.key)) else {
            continue;
        };
        if !classes_commute(&ta.class, &fb.keys[i].class) {
            return true;
        }
    }
    false
}
