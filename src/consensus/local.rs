//! A node's local policy (whitepaper §4.2 "Local policies"): before endorsing a spore, a node
//! may consult rules of its own. It can endorse, veto (a signed REJECT: it will never endorse
//! the spore) or hold the spore for a human to approve or decline (`Input::Approve` /
//! `Input::Decline`, the `SPORE.APPROVE` / `SPORE.REJECT` commands).
//!
//! The decision only gates *this node's endorsement*: a spore the rest of the quorum commits is
//! applied here too (Yield rule), veto or not — a local policy is a vote, not a filter on the
//! replicated state. The function must be pure (same spore ⇒ same answer): the engine may ask
//! more than once.

use std::sync::Arc;

use crate::spore::Spore;

/// What the local policy says about one spore.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum LocalDecision {
    Endorse,
    /// Never endorse it; sign a rejection (reason `Veto`).
    Veto,
    /// Wait for a human decision (or the deadline).
    Hold,
}

/// The policy function, shared with the driver.
#[derive(Clone)]
pub struct LocalPolicy(pub Arc<dyn Fn(&Spore) -> LocalDecision + Send + Sync>);

impl LocalPolicy {
    pub fn decide(&self, spore: &Spore) -> LocalDecision {
        (self.0)(spore)
    }
}

impl std::fmt::Debug for LocalPolicy {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("LocalPolicy")
    }
}
