//! The cluster transport: libp2p over TCP with noise (authenticated encryption, keyed by the
//! node's ed25519 key) and yamux (stream multiplexing).
//!
//! What runs on it (docs/NETWORK.md has the details and limits):
//! - **gossip** on one gossipsub topic (the lead derives it from the policy hash), anonymous
//!   (spores carry their own signatures) with sha3-256 content ids; every message passes the
//!   caller's [`Validator`] on the network task before it is relayed or delivered;
//! - **direct messages**: fire-and-forget ones on one long-lived stream per peer (`streams`),
//!   requests with responses over request-response; both with a length-prefixed bytes codec
//!   (`codec`);
//! - **discovery**: identify (a peer's own listen addresses) plus a small peer exchange (`px`: a
//!   peer's peers), and bootstrap addresses re-dialled with backoff (`bootstrap`);
//! - **bans**: a banned peer is disconnected, refused on reconnect and scored to the bottom.
//!
//! [`start`] (`start`) spawns one tokio task (`task`) that owns the swarm; [`NetHandle`] talks to it over a
//! bounded command queue and reads shared state (peers, counters) directly. Events reach the
//! consumer over a bounded channel; when the consumer falls behind, the task stops polling the
//! swarm, which pushes back on the peers through TCP flow control instead of buffering.

mod behaviour;
mod bootstrap;
mod codec;
mod handle;
mod identity;
mod px;
mod start;
mod stats;
mod streams;
mod task;
mod topics;

use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use tokio::sync::oneshot;

use crate::crypto::{NodeId, NodeKey};

pub use handle::NetHandle;
pub use identity::{node_id, peer_id};
pub use start::start;
pub use stats::{NetCounters, NetStats};

/// Default cap on one gossip or direct message (a spore bundle or a state-transfer page).
pub const DEFAULT_MAX_MESSAGE_BYTES: usize = 4 * 1024 * 1024;
/// Largest `max_message_bytes` accepted (frames carry u32 lengths; gossipsub buffers a whole RPC).
pub const MAX_MESSAGE_BYTES_LIMIT: usize = 64 * 1024 * 1024;
/// Default time a request waits for its response.
pub const DEFAULT_REQUEST_TIMEOUT: Duration = Duration::from_secs(10);

/// Network configuration of one node.
pub struct NetConfig {
    /// The node's ed25519 key IS the libp2p identity.
    pub key: NodeKey,
    /// Addresses to listen on, e.g. `/ip4/127.0.0.1/tcp/0`.
    pub listen: Vec<libp2p::Multiaddr>,
    /// Dialled at start and re-dialled (with backoff) while unconnected. A `/p2p/<id>` suffix is
    /// optional.
    pub bootstrap: Vec<libp2p::Multiaddr>,
    /// The gossip topic.
    pub topic: String,
    /// Limit for gossip and direct messages; larger ones are rejected before the validator runs.
    pub max_message_bytes: usize,
    /// Judges every gossip message before relay.
    pub validator: Validator,
    /// Peer exchange: ask peers for their peers and dial them. Off only in tests that need a
    /// fixed topology (a line of nodes).
    pub discovery: bool,
    /// How long `NetHandle::request` waits for an answer.
    pub request_timeout: Duration,
}

impl NetConfig {
    /// A configuration with the defaults: listen on `127.0.0.1` with an OS-chosen port, no
    /// bootstrap peers, 4 MiB messages, discovery on, 10 s request timeout.
    pub fn new(key: NodeKey, topic: impl Into<String>, validator: Validator) -> NetConfig {
        NetConfig {
            key,
            listen: vec![libp2p::Multiaddr::from(std::net::Ipv4Addr::LOCALHOST)
                .with(libp2p::multiaddr::Protocol::Tcp(0))],
            bootstrap: Vec::new(),
            topic: topic.into(),
            max_message_bytes: DEFAULT_MAX_MESSAGE_BYTES,
            validator,
            discovery: true,
            request_timeout: DEFAULT_REQUEST_TIMEOUT,
        }
    }
}

/// Called for every gossip message before relay, on the network task (keep it cheap and
/// non-blocking). Gets the propagation source (the peer that handed us the message, not
/// necessarily its author: gossip is anonymous) and the payload.
///
/// Reject only what is invalid by itself (bad signature, malformed): the source is scored down
/// and an honest relay never forwards such a message. Judgements that depend on local state
/// (unknown epoch, stale) must be Ignore, or honest peers get penalised for our lag.
pub type Validator = Arc<dyn Fn(&NodeId, &[u8]) -> Verdict + Send + Sync>;

/// A validator's judgement of one gossip message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Verdict {
    /// Deliver and relay.
    Accept,
    /// Deliver and relay, handing the consumer what the validator decoded (`NetEvent::Gossip`'s
    /// `decoded`), so a message is decoded once, not again after validation.
    AcceptDecoded(Decoded),
    /// Drop, never relay, and score the propagation source down.
    Reject(String),
    /// Drop silently (no penalty).
    Ignore,
}

/// A validator's decoding of a gossip message, passed through the network layer as is (it
/// does not know the consumer's message types).
#[derive(Clone)]
pub struct Decoded(pub Arc<dyn std::any::Any + Send + Sync>);

impl std::fmt::Debug for Decoded {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Decoded")
    }
}

/// The same decoding (the same allocation), not merely equal content.
impl PartialEq for Decoded {
    fn eq(&self, other: &Decoded) -> bool {
        Arc::ptr_eq(&self.0, &other.0)
    }
}

impl Eq for Decoded {}

/// What the network reports to its consumer.
#[derive(Debug)]
pub enum NetEvent {
    /// An accepted gossip message (already validated by the Validator). `from` is the peer that
    /// relayed it to us. Our own broadcasts are not delivered back to us.
    Gossip {
        from: NodeId,
        data: Bytes,
        /// What the validator decoded, if it said `AcceptDecoded`.
        decoded: Option<Decoded>,
    },
    /// A direct message from a peer (a request, or a fire-and-forget message from a per-peer
    /// stream, whose `respond` answers nobody); `respond` answers it (for requests that
    /// expect an answer, e.g. state-transfer pages); dropping it answers empty.
    Direct {
        from: NodeId,
        data: Bytes,
        respond: Responder,
    },
    /// The first connection to this node opened.
    PeerUp(NodeId),
    /// The last connection to this node closed.
    PeerDown(NodeId),
    /// Our listen address became known (with port 0 the OS picks one).
    Listening(libp2p::Multiaddr),
}

/// Answers one direct message. Dropping it without `send` answers with an empty body.
#[derive(Debug)]
pub struct Responder(oneshot::Sender<Vec<u8>>);

impl Responder {
    /// Sends the answer (at most `max_message_bytes`; a larger one fails on the requester's side
    /// as a request error). Does nothing if the requester is gone.
    pub fn send(self, data: Vec<u8>) {
        // The only failure is "network task gone", which leaves no one to answer anyway.
        let _ = self.0.send(data);
    }
}

/// Transport errors.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum NetError {
    #[error("invalid network configuration: {0}")]
    Config(String),
    #[error("cannot listen on {addr}: {why}")]
    Listen { addr: String, why: String },
    #[error("the network task has stopped")]
    Closed,
    #[error("peer {0} is banned")]
    Banned(String),
    #[error("message of {len} bytes exceeds the limit of {max}")]
    TooLarge { len: usize, max: usize },
    #[error("request to {peer} failed: {why}")]
    Request { peer: String, why: String },
    #[error("request to {0} timed out")]
    Timeout(String),
}

/// Short printable form of a node id (first 8 bytes in hex), for logs and errors.
pub(crate) fn short(id: &NodeId) -> String {
    hex::encode(&id[..8])
}
