//! What INFO's `sporedb` section reports about this node: its key, policy and spore counters,
//! and a cluster node's network counters (messages in and out, refused, dropped).

use std::sync::Arc;

use crate::commands::ctx::{NodeInfo, NodeStatus};

use super::stats::SporeStats;

/// The node's status source for the command layer.
pub struct NodeStatusSource {
    pub node_key: String,
    pub n: u32,
    pub quorum: u32,
    pub f: u32,
    pub stats: Arc<SporeStats>,
    /// A cluster node's global policy (its hash changes with policy-change spores).
    pub policy: Option<Arc<super::policy_state::ActivePolicy>>,
    /// A cluster node's network, for its counters.
    pub net: Option<crate::net::NetHandle>,
}

impl NodeInfo for NodeStatusSource {
    fn status(&self) -> NodeStatus {
        NodeStatus {
            node_key: self.node_key.clone(),
            n: self.n,
            quorum: self.quorum,
            f: self.f,
            policy_hash: self
                .policy
                .as_ref()
                .map(|p| hex::encode(p.current().hash()))
                .unwrap_or_default(),
            policy_changes: self.policy.as_ref().map_or(0, |p| p.switches()),
            spores_committed: SporeStats::get(&self.stats.committed),
            spores_dropped: SporeStats::get(&self.stats.dropped),
            spores_retried: SporeStats::get(&self.stats.retried),
            spores_pending: SporeStats::get(&self.stats.pending),
            spores_unconfirmed: SporeStats::get(&self.stats.unconfirmed),
            state_transfers: SporeStats::get(&self.stats.syncs),
            spores_not_stored: SporeStats::get(&self.stats.not_stored),
            startup_sync_pending: self
                .stats
                .startup_sync_pending
                .load(std::sync::atomic::Ordering::Relaxed),
            net: self
                .net
                .as_ref()
                .map(|n| n.stats().fields())
                .unwrap_or_default(),
        }
    }
}
