//! The composed libp2p behaviour and its configuration: who may connect, how gossip is
//! validated and scored, and the two request-response protocols (direct messages, peer exchange).
//!
//! Gossipsub runs anonymous (`MessageAuthenticity::Anonymous` + `ValidationMode::Anonymous`):
//! spores and endorsements already carry ed25519 signatures, and a second libp2p signature per
//! message cost 4x throughput in the dependency survey. Message ids are BLAKE3 of the topic and
//! payload, so the same bytes are one message network-wide no matter who relays them. (They were
//! sha3-256, the hash of sporedb's replicated data; but an id is computed for every copy a node
//! receives, relays included, and software keccak made that 5 % of a cluster node's CPU under
//! load. An id only needs collision resistance, which BLAKE3 gives at a fraction of the cost;
//! nothing replicated or signed depends on it.)

use std::time::Duration;

use libp2p::gossipsub::{
    self, IdentTopic, MessageAuthenticity, MessageId, PeerScoreParams, PeerScoreThresholds,
    TopicScoreParams, ValidationMode,
};
use libp2p::identity::Keypair;
use libp2p::request_response::{self, ProtocolSupport};
use libp2p::swarm::NetworkBehaviour;
use libp2p::{allow_block_list, identify, StreamProtocol};

use super::codec::BytesCodec;
use super::{px, NetError};

/// A gossip message's id: BLAKE3 of `topic length u32 BE ‖ topic ‖ payload` (see the module
/// doc).
pub fn message_id(topic: &gossipsub::TopicHash, data: &[u8]) -> [u8; 32] {
    let topic = topic.as_str().as_bytes();
    let mut h = blake3::Hasher::new();
    h.update(&(topic.len() as u32).to_be_bytes());
    h.update(topic);
    h.update(data);
    *h.finalize().as_bytes()
}

/// Direct (point-to-point) messages and requests.
pub const DIRECT_PROTOCOL: StreamProtocol = StreamProtocol::new("/sporedb/direct/1");
/// Peer exchange (see `px`).
pub const PX_PROTOCOL: StreamProtocol = StreamProtocol::new("/sporedb/px/1");
/// Identify's protocol version string: peers announcing another one are still identified, the
/// string only documents what we speak.
const IDENTIFY_VERSION: &str = "/sporedb/1";

/// Room for gossipsub's protobuf framing (topic, message fields, piggybacked control messages)
/// on top of a maximal payload. Payloads between `max_message_bytes` and this are decoded by
/// gossipsub and then rejected by us (scored); larger RPCs are dropped by gossipsub's codec.
pub const GOSSIP_FRAME_SLACK: usize = 16 * 1024;

/// Score given to a banned peer through gossipsub's application-specific score (weight 10): far
/// below the graylist threshold, so even a reconnect under another connection is ignored.
pub const BAN_SCORE: f64 = -1_000_000.0;

#[derive(NetworkBehaviour)]
pub struct Behaviour {
    /// First, so a banned peer's connection is denied before any other behaviour sees it.
    pub blocked: allow_block_list::Behaviour<allow_block_list::BlockedPeers>,
    pub gossip: gossipsub::Behaviour,
    pub identify: identify::Behaviour,
    pub direct: request_response::Behaviour<BytesCodec>,
    pub px: request_response::Behaviour<BytesCodec>,
    /// Long-lived per-peer streams for fire-and-forget direct messages (`streams.rs`).
    pub stream: libp2p_stream::Behaviour,
}

/// Builds the behaviour for a node with identity `keypair`.
pub fn build(
    keypair: &Keypair,
    topic: &IdentTopic,
    max_message_bytes: usize,
    request_timeout: Duration,
) -> Result<Behaviour, NetError> {
    let gossip_config = gossipsub::ConfigBuilder::default()
        .validation_mode(ValidationMode::Anonymous)
        .validate_messages()
        // The topic is part of the id: after a policy change a node publishes the same message
        // on the old and the new policy's topic (net/topics.rs), and both copies must travel.
        .message_id_fn(|m: &gossipsub::Message| MessageId::new(&message_id(&m.topic, &m.data)))
        .max_transmit_size(max_message_bytes + GOSSIP_FRAME_SLACK)
        .build()
        .map_err(|e| NetError::Config(format!("gossipsub: {e}")))?;
    let mut gossip = gossipsub::Behaviour::new(MessageAuthenticity::Anonymous, gossip_config)
        .map_err(|e| NetError::Config(format!("gossipsub: {e}")))?;
    gossip
        .with_peer_score(score_params(topic), PeerScoreThresholds::default())
        .map_err(|e| NetError::Config(format!("gossipsub scoring: {e}")))?;

    let identify = identify::Behaviour::new(
        identify::Config::new(IDENTIFY_VERSION.into(), keypair.public())
            .with_push_listen_addr_updates(true),
    );
    let rr_config = request_response::Config::default().with_request_timeout(request_timeout);
    let direct = request_response::Behaviour::with_codec(
        BytesCodec {
            max_bytes: max_message_bytes,
        },
        [(DIRECT_PROTOCOL, ProtocolSupport::Full)],
        rr_config.clone(),
    );
    let px = request_response::Behaviour::with_codec(
        BytesCodec {
            max_bytes: px::MAX_BYTES,
        },
        [(PX_PROTOCOL, ProtocolSupport::Full)],
        rr_config,
    );
    Ok(Behaviour {
        blocked: allow_block_list::Behaviour::default(),
        gossip,
        identify,
        direct,
        px,
        stream: libp2p_stream::Behaviour::new(),
    })
}

/// Peer scoring tuned for a small permissioned cluster rather than an open network:
/// - invalid messages (our validator said Reject) cost 10 points each, squared, decaying over
///   about ten minutes: three rejected messages put a peer below the graylist threshold (-80);
/// - no penalty for quiet mesh peers (P3/P3b off): a cluster may be idle for hours, and the
///   default deficit penalty would graylist every honest node of an idle cluster;
/// - no IP-colocation penalty: several nodes on one host is a normal deployment (and every test).
fn score_params(topic: &IdentTopic) -> PeerScoreParams {
    let mut params = PeerScoreParams {
        ip_colocation_factor_weight: 0.0,
        ..PeerScoreParams::default()
    };
    params.topics.insert(topic.hash(), topic_score_params());
    params
}

/// The scoring of one gossip topic (every topic a node subscribes to is scored alike).
pub(crate) fn topic_score_params() -> TopicScoreParams {
    TopicScoreParams {
        topic_weight: 1.0,
        mesh_message_deliveries_weight: 0.0,
        mesh_failure_penalty_weight: 0.0,
        invalid_message_deliveries_weight: -10.0,
        invalid_message_deliveries_decay: gossipsub::score_parameter_decay(Duration::from_secs(
            600,
        )),
        ..TopicScoreParams::default()
    }
}
