//! Changing the global policy (whitepaper: "global policies can be updated via special spores,
//! requiring a specific majority, usually unanimity"). docs/CLUSTER.md specifies how such a
//! spore travels; this module holds its types. The transition itself is **not implemented**:
//! `PolicyChange::check` ends in `PolicyChangeError::NotImplemented`, and today a policy is
//! changed by stopping every node, replacing policy.toml everywhere and restarting (nodes refuse
//! peers whose policy hash differs, so a half-done change cannot silently split the cluster).

use super::policy::GlobalPolicy;
use crate::crypto::Digest;

/// A proposal to replace the policy whose hash is `from` by `to`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PolicyChange {
    /// Hash of the policy being replaced (a change applies to exactly one predecessor).
    pub from: Digest,
    pub to: GlobalPolicy,
}

/// Why a policy change is refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PolicyChangeError {
    #[error("policy change is based on policy {based_on}, but this node runs {current}")]
    StaleBase { based_on: String, current: String },
    #[error("policy change spores are not implemented yet: stop every node, replace policy.toml on all of them, restart")]
    NotImplemented,
}

impl PolicyChange {
    /// Endorsements a policy change needs under `current`: every endorser (unanimity), since a
    /// change of endorsers or quorum alters who can commit anything afterwards.
    pub fn required_endorsements(current: &GlobalPolicy) -> usize {
        current.n()
    }

    /// Whether this node could endorse the change. Checks the base; the rest is not built.
    pub fn check(&self, current: &GlobalPolicy) -> Result<(), PolicyChangeError> {
        if self.from != current.hash() {
            return Err(PolicyChangeError::StaleBase {
                based_on: hex::encode(self.from),
                current: hex::encode(current.hash()),
            });
        }
        Err(PolicyChangeError::NotImplemented)
    }
}
