//! What the driver needs from the network: flood a message, send one to a node, ban a node
//! that produced evidence, list connected peers. The cluster implements it over libp2p
//! (`crate::net`); a single node has no peers ([`NoPeers`]). Methods never block: the driver
//! thread must not wait on sockets.

use crate::crypto::NodeId;

pub trait PeerLink: Send {
    /// Floods an encoded protocol message to every node (gossip).
    fn broadcast(&self, data: Vec<u8>);
    /// Sends an encoded protocol message to one node.
    fn send(&self, to: NodeId, data: Vec<u8>);
    /// Disconnects a node and refuses it from now on (it signed evidence against itself).
    fn ban(&self, node: NodeId, why: String);
    /// Nodes currently connected, sorted.
    fn peers(&self) -> Vec<NodeId>;
    /// True when there is nobody to send to, ever (a single node): the driver then skips
    /// encoding the messages the engine emits.
    fn is_alone(&self) -> bool {
        false
    }
}

/// A node alone: nothing to send, nobody to ban.
pub struct NoPeers;

impl PeerLink for NoPeers {
    fn broadcast(&self, _data: Vec<u8>) {}
    fn send(&self, _to: NodeId, _data: Vec<u8>) {}
    fn ban(&self, _node: NodeId, _why: String) {}
    fn peers(&self) -> Vec<NodeId> {
        Vec::new()
    }
    fn is_alone(&self) -> bool {
        true
    }
}
