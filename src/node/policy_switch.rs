//! The driver's side of a policy switch: what it does with the engine's `PolicyAdopted`
//! effect (persist, switch rules and topic, log) and the periodic expiry of the previous
//! policy. The state itself is `policy_state::ActivePolicy`.

use std::sync::Arc;

use crate::cluster::change::PolicyChangeError;
use crate::crypto::Digest;
use crate::net::NetHandle;
use crate::spore::SporeId;

use super::clock;
use super::policy_state::ActivePolicy;

/// What the driver needs to switch a cluster node's policy.
pub struct PolicyLink {
    pub active: Arc<ActivePolicy>,
    /// Absent in tests that run a driver without a network.
    pub net: Option<NetHandle>,
}

impl PolicyLink {
    /// Carries out a change the engine adopted when it applied spore `id`.
    pub fn adopt(&self, id: SporeId, hash: &Digest, text: &[u8]) {
        let before = hex::encode(self.active.current().hash());
        match self
            .active
            .adopt(hash, text, clock::now_ms(), self.net.as_ref())
        {
            Ok(()) => tracing::info!(
                "global policy changed by spore {id}: {before} -> {} (written to {})",
                hex::encode(hash),
                self.active.path().display()
            ),
            // The engine runs the new policy whatever happens here; the operator must fix the
            // file before the next restart or the node comes up on the old one.
            Err(e) => tracing::error!(
                "global policy changed by spore {id} to {} but not carried out here: {e}",
                hex::encode(hash)
            ),
        }
    }

    /// After a state-transfer install: the policy the copy records, if it differs from the
    /// one in force and may be adopted (`change::check_recorded`), as the engine's successor
    /// with its text; `Ok(None)` if it is the policy in force (or the copy records none).
    pub fn recorded_successor(
        &self,
        text: &[u8],
    ) -> Result<Option<crate::consensus::Successor>, PolicyChangeError> {
        let current = self.active.current();
        Ok(crate::cluster::change::check_recorded(&current, text)?
            .map(|next| self.active.successor(next)))
    }

    /// Carries out, on the node's side (file, rules, topic), the policy a state-transfer copy
    /// recorded, once the engine runs it.
    pub fn adopt_installed(&self, hash: &Digest, text: &[u8]) {
        let before = hex::encode(self.active.current().hash());
        match self
            .active
            .adopt(hash, text, clock::now_ms(), self.net.as_ref())
        {
            Ok(()) => tracing::warn!(
                "global policy changed by state transfer (the installed copy records a change \
                 the cluster committed while this node was behind): {before} -> {} (written to \
                 {})",
                hex::encode(hash),
                self.active.path().display()
            ),
            Err(e) => tracing::error!(
                "state transfer installed policy {} but it was not carried out here: {e}",
                hex::encode(hash)
            ),
        }
    }

    /// Called on every engine tick.
    pub fn tick(&self, now_ms: u64) {
        self.active.expire_previous(now_ms, self.net.as_ref());
    }
}
