//! Changing the gossip topics of a running node. The topic is derived from the global policy's
//! hash, so a committed policy change moves the cluster to a new topic. Nodes apply the change
//! at slightly different times; a node that switched keeps the old topic as well (subscribed,
//! accepted, published on) so that nodes which have not applied the change yet still hear it,
//! until the node drops it (`NetHandle::set_topics` with the new topic alone).

use libp2p::gossipsub::{IdentTopic, TopicHash};

use super::behaviour::topic_score_params;
use super::task::Task;

impl Task {
    /// Whether `topic` is one this node is subscribed to.
    pub(crate) fn is_ours(&self, topic: &TopicHash) -> bool {
        self.topics.iter().any(|t| &t.hash() == topic)
    }

    /// Subscribes to `names` (the first becomes the primary), leaves every other topic.
    pub(crate) fn set_topics(&mut self, names: Vec<String>) {
        if names.is_empty() || names.iter().any(String::is_empty) {
            tracing::warn!("refusing to set an empty gossip topic list or topic");
            return;
        }
        let wanted: Vec<IdentTopic> = names.iter().map(|n| IdentTopic::new(n.clone())).collect();
        let gossip = &mut self.swarm.behaviour_mut().gossip;
        for old in &self.topics {
            if !wanted.iter().any(|t| t.hash() == old.hash()) {
                // Err only if we were not subscribed: nothing to undo.
                let _ = gossip.unsubscribe(old);
            }
        }
        for topic in &wanted {
            if self.topics.iter().any(|t| t.hash() == topic.hash()) {
                continue;
            }
            if let Err(e) = gossip.set_topic_params(topic.clone(), topic_score_params()) {
                tracing::warn!(topic = %topic, "gossip topic scoring not set: {e}");
            }
            if let Err(e) = gossip.subscribe(topic) {
                tracing::error!(topic = %topic, "cannot subscribe to gossip topic: {e:?}");
            }
        }
        tracing::info!(topics = ?names, "gossip topics changed");
        // Peers' subscriptions to the new topic arrive as gossipsub events (the known-peers set
        // is approximate across a switch: it serves SPORE.PEERS, not delivery).
        self.topics = wanted;
    }
}
