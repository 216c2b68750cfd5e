//! What INFO's `sporedb` section reports about this node: its key, policy and spore counters.

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
}

impl NodeInfo for NodeStatusSource {
    fn status(&self) -> NodeStatus {
        NodeStatus {
            node_key: self.node_key.clone(),
            n: self.n,
            quorum: self.quorum,
            f: self.f,
            spores_committed: SporeStats::get(&self.stats.committed),
            spores_dropped: SporeStats::get(&self.stats.dropped),
            spores_pending: SporeStats::get(&self.stats.pending),
            state_transfers: SporeStats::get(&self.stats.syncs),
            startup_sync_pending: self
                .stats
                .startup_sync_pending
                .load(std::sync::atomic::Ordering::Relaxed),
        }
    }
}
