//! The network task: owns the swarm, executes handle commands, validates gossip, answers peer
//! exchange, keeps bootstrap connections up and delivers events to the consumer.
//!
//! Backpressure: events wait in `backlog` until the bounded consumer channel has room; once the
//! backlog reaches `BACKLOG_HIGH` the task stops polling the swarm (it keeps serving commands),
//! so peers are slowed by TCP flow control instead of growing our memory. A consumer must
//! therefore not block on `NetHandle::request` while it is also the only reader of the events.

use std::collections::{BTreeMap, BTreeSet, HashMap, VecDeque};
use std::sync::Arc;
use std::time::{Duration, Instant};

use bytes::Bytes;
use futures::future::BoxFuture;
use futures::stream::FuturesUnordered;
use futures::StreamExt;
use libp2p::core::ConnectedPoint;
use libp2p::gossipsub::{self, IdentTopic, MessageAcceptance, MessageId, PublishError};
use libp2p::multiaddr::Protocol;
use libp2p::request_response::{self, OutboundRequestId, ResponseChannel};
use libp2p::swarm::dial_opts::{DialOpts, PeerCondition};
use libp2p::swarm::{DialError, SwarmEvent};
use libp2p::{identify, Multiaddr, PeerId, Swarm};
use tokio::sync::{mpsc, oneshot};
use tokio::time::MissedTickBehavior;

use super::behaviour::{Behaviour, BehaviourEvent, BAN_SCORE};
use super::bootstrap::Bootstrap;
use super::handle::{lock, Command, Shared};
use super::identity::{node_id, peer_id};
use super::stats::NetCounters;
use super::streams::{self, Outbound};
use super::{px, short, NetConfig, NetError, NetEvent, Responder, Validator, Verdict};
use crate::crypto::NodeId;

/// Events held before the task stops polling the swarm.
const BACKLOG_HIGH: usize = 256;
/// Housekeeping period (bootstrap re-dials, peer-exchange rounds).
const TICK: Duration = Duration::from_millis(250);
/// Peer-exchange period while the peer set is changing (someone joined or left recently)...
const PX_FAST: Duration = Duration::from_secs(2);
/// ...for this long after the last change...
const PX_WARM: Duration = Duration::from_secs(30);
/// ...and in a stable cluster.
const PX_SLOW: Duration = Duration::from_secs(30);
/// Listen addresses taken from one identify message (the rest of a long list is ignored).
const MAX_IDENTIFY_ADDRS: usize = 16;

type Pending = oneshot::Sender<Result<Bytes, NetError>>;

pub(crate) struct Task {
    pub(crate) swarm: Swarm<Behaviour>,
    /// Topics subscribed to, messages on any of them accepted, broadcasts published on each
    /// (one normally; the old and the new one after a policy change, see `topics.rs`).
    pub(crate) topics: Vec<IdentTopic>,
    max: usize,
    validator: Validator,
    discovery: bool,
    local: PeerId,
    shared: Arc<Shared>,
    events: mpsc::Sender<NetEvent>,
    backlog: VecDeque<NetEvent>,
    commands: mpsc::Receiver<Command>,
    /// Our outstanding requests (lookup only, never iterated).
    requests: HashMap<OutboundRequestId, (NodeId, Pending)>,
    /// Inbound requests waiting for the consumer's `Responder`.
    inbound: BTreeMap<u64, ResponseChannel<Vec<u8>>>,
    next_inbound: u64,
    answers: FuturesUnordered<BoxFuture<'static, (u64, Vec<u8>)>>,
    /// Listen addresses of connected peers (identify, or the address we dialled), for px.
    addrs: BTreeMap<PeerId, Vec<Multiaddr>>,
    bootstrap: Bootstrap,
    banned: BTreeSet<PeerId>,
    last_peer_change: Instant,
    last_px: Instant,
    /// Fire-and-forget direct messages, one stream per peer (`streams.rs`).
    outbound: Outbound,
}

impl Task {
    pub(crate) fn new(
        swarm: Swarm<Behaviour>,
        topic: IdentTopic,
        config: &NetConfig,
        shared: Arc<Shared>,
        events: mpsc::Sender<NetEvent>,
        commands: mpsc::Receiver<Command>,
    ) -> Task {
        let now = Instant::now();
        let mut control = swarm.behaviour().stream.new_control();
        if let Err(e) = streams::accept(
            &mut control,
            events.clone(),
            shared.clone(),
            config.max_message_bytes,
        ) {
            // Only a second registration of the protocol fails, and this is the only one.
            tracing::error!("{e}");
        }
        let outbound = Outbound::new(
            control,
            shared.clone(),
            config.request_timeout,
            config.max_message_bytes,
        );
        Task {
            outbound,
            local: *swarm.local_peer_id(),
            swarm,
            topics: vec![topic],
            max: config.max_message_bytes,
            validator: config.validator.clone(),
            discovery: config.discovery,
            shared,
            events,
            backlog: VecDeque::new(),
            commands,
            requests: HashMap::new(),
            inbound: BTreeMap::new(),
            next_inbound: 0,
            answers: FuturesUnordered::new(),
            addrs: BTreeMap::new(),
            bootstrap: Bootstrap::new(&config.bootstrap, now),
            banned: BTreeSet::new(),
            last_peer_change: now,
            last_px: now,
        }
    }

    /// Runs until shutdown, until every handle is dropped, or until the event receiver is gone.
    pub(crate) async fn run(mut self) {
        let mut tick = tokio::time::interval(TICK);
        tick.set_missed_tick_behavior(MissedTickBehavior::Delay);
        loop {
            let paused = self.backlog.len() >= BACKLOG_HIGH;
            tokio::select! {
                // An owned permit, so the select's output does not borrow `self`.
                permit = self.events.clone().reserve_owned(), if !self.backlog.is_empty() => {
                    let Ok(permit) = permit else { break };
                    if let Some(event) = self.backlog.pop_front() {
                        permit.send(event);
                    }
                    self.drain_backlog();
                }
                command = self.commands.recv() => match command {
                    None | Some(Command::Shutdown) => break,
                    Some(command) => self.on_command(command),
                },
                event = self.swarm.select_next_some(), if !paused => self.on_swarm(event),
                (id, data) = self.answers.select_next_some(), if !self.answers.is_empty() => {
                    if let Some(channel) = self.inbound.remove(&id) {
                        // Err = the requester's connection is gone; nothing left to do.
                        let _ = self.swarm.behaviour_mut().direct.send_response(channel, data);
                    }
                }
                _ = tick.tick() => {
                    if self.events.is_closed() {
                        break;
                    }
                    self.housekeeping();
                }
            }
        }
        tracing::debug!("network task stopped");
    }

    /// Moves as many backlog events into the channel as fit without waiting.
    fn drain_backlog(&mut self) {
        while let Some(event) = self.backlog.pop_front() {
            if let Err(e) = self.events.try_send(event) {
                if let mpsc::error::TrySendError::Full(event) = e {
                    self.backlog.push_front(event);
                }
                break;
            }
        }
    }

    fn emit(&mut self, event: NetEvent) {
        self.backlog.push_back(event);
    }

    fn counters(&self) -> &NetCounters {
        &self.shared.counters
    }

    fn housekeeping(&mut self) {
        let now = Instant::now();
        let swarm = &self.swarm;
        for (index, addr) in self.bootstrap.due(now, |p| swarm.is_connected(p)) {
            let opts = match addr.iter().last() {
                Some(Protocol::P2p(peer)) => DialOpts::peer_id(peer)
                    .addresses(vec![addr.clone()])
                    .condition(PeerCondition::DisconnectedAndNotDialing)
                    .build(),
                _ => DialOpts::unknown_peer_id().address(addr.clone()).build(),
            };
            let id = opts.connection_id();
            match self.swarm.dial(opts) {
                Ok(()) => self.bootstrap.dialing(index, id),
                Err(e) => {
                    tracing::debug!(%addr, error = %e, "bootstrap dial not started");
                    self.bootstrap.dial_refused(index, now);
                }
            }
        }
        let period = if now.duration_since(self.last_peer_change) < PX_WARM {
            PX_FAST
        } else {
            PX_SLOW
        };
        if self.discovery && now.duration_since(self.last_px) >= period {
            self.last_px = now;
            let peers: Vec<PeerId> = self.swarm.connected_peers().copied().collect();
            for peer in peers {
                self.swarm
                    .behaviour_mut()
                    .px
                    .send_request(&peer, Vec::new());
            }
        }
    }

    fn on_command(&mut self, command: Command) {
        match command {
            Command::Broadcast(data) => self.publish(data),
            Command::Send(to, data) => {
                let peer = peer_id(&to);
                if data.len() > self.max || self.banned.contains(&peer) {
                    NetCounters::bump(&self.counters().direct_failed);
                    tracing::debug!(to = short(&to), len = data.len(), "direct message refused");
                    return;
                }
                if self.outbound.send(peer, data) {
                    NetCounters::bump(&self.counters().direct_out);
                } else {
                    NetCounters::bump(&self.counters().direct_failed);
                    tracing::debug!(to = short(&to), "direct message dropped: queue full");
                }
            }
            Command::Request(to, data, reply) => {
                let peer = peer_id(&to);
                if self.banned.contains(&peer) {
                    NetCounters::bump(&self.counters().direct_failed);
                    let _ = reply.send(Err(NetError::Banned(short(&to))));
                    return;
                }
                NetCounters::bump(&self.counters().direct_out);
                let id = self.swarm.behaviour_mut().direct.send_request(&peer, data);
                self.requests.insert(id, (to, reply));
            }
            Command::Ban(node, why) => self.ban(node, why),
            Command::SetTopics(names) => self.set_topics(names),
            // Handled by the loop.
            Command::Shutdown => {}
        }
    }

    fn publish(&mut self, data: Vec<u8>) {
        if data.len() > self.max {
            // Every peer would reject it and score us down: refuse locally.
            NetCounters::bump(&self.counters().publish_failed);
            tracing::warn!(
                len = data.len(),
                max = self.max,
                "broadcast over the size limit dropped"
            );
            return;
        }
        for topic in self.topics.clone() {
            self.publish_on(topic, data.clone());
        }
    }

    fn publish_on(&mut self, topic: IdentTopic, data: Vec<u8>) {
        match self.swarm.behaviour_mut().gossip.publish(topic, data) {
            Ok(_) => {
                NetCounters::bump(&self.counters().gossip_out);
            }
            Err(PublishError::AllQueuesFull(peers)) => {
                // Log the first drop and then every 1000th, so a flood does not flood the log.
                let before = NetCounters::bump(&self.counters().publish_queue_full);
                if before.is_multiple_of(1000) {
                    tracing::warn!(
                        peers,
                        dropped = before + 1,
                        "broadcast dropped: all peer queues full"
                    );
                }
            }
            Err(e) => {
                NetCounters::bump(&self.counters().publish_failed);
                tracing::debug!(error = %e, "broadcast not published");
            }
        }
    }

    fn ban(&mut self, node: NodeId, why: String) {
        let peer = peer_id(&node);
        if peer == self.local || !self.banned.insert(peer) {
            return;
        }
        tracing::warn!(peer = short(&node), why, "banning peer");
        NetCounters::bump(&self.counters().peers_banned);
        let behaviour = self.swarm.behaviour_mut();
        behaviour.gossip.set_application_score(&peer, BAN_SCORE);
        behaviour.gossip.blacklist_peer(&peer);
        // Closes every connection to the peer and denies new ones, both directions.
        behaviour.blocked.block_peer(peer);
        self.outbound.forget(&peer);
        self.addrs.remove(&peer);
    }

    pub(crate) fn on_swarm(&mut self, event: SwarmEvent<BehaviourEvent>) {
        let now = Instant::now();
        match event {
            SwarmEvent::Behaviour(event) => self.on_behaviour(event),
            SwarmEvent::NewListenAddr { address, .. } => {
                lock(&self.shared.listen).push(address.clone());
                self.emit(NetEvent::Listening(address));
            }
            SwarmEvent::ExpiredListenAddr { address, .. } => {
                lock(&self.shared.listen).retain(|a| *a != address);
            }
            SwarmEvent::ConnectionEstablished {
                peer_id: peer,
                connection_id,
                endpoint,
                num_established,
                ..
            } => {
                let Some(node) = node_id(&peer) else {
                    // Not an ed25519 identity, so not a sporedb node: nothing to talk about.
                    NetCounters::bump(&self.counters().foreign_peers);
                    let _ = self.swarm.disconnect_peer_id(peer);
                    return;
                };
                self.bootstrap.established(connection_id, peer);
                if let ConnectedPoint::Dialer { address, .. } = endpoint {
                    self.remember_addrs(peer, [address]);
                }
                if num_established.get() == 1 {
                    lock(&self.shared.peers).insert(node);
                    self.last_peer_change = now;
                    self.emit(NetEvent::PeerUp(node));
                    if self.discovery {
                        self.swarm
                            .behaviour_mut()
                            .px
                            .send_request(&peer, Vec::new());
                    }
                }
            }
            // The last connection to the peer closed.
            SwarmEvent::ConnectionClosed {
                peer_id: peer,
                num_established: 0,
                ..
            } => {
                self.bootstrap.disconnected(&peer, now);
                self.addrs.remove(&peer);
                if let Some(node) = node_id(&peer) {
                    lock(&self.shared.peers).remove(&node);
                    lock(&self.shared.gossip_peers).remove(&node);
                    self.last_peer_change = now;
                    self.emit(NetEvent::PeerDown(node));
                }
            }
            SwarmEvent::OutgoingConnectionError {
                connection_id,
                error,
                ..
            } => {
                let ourselves = matches!(error, DialError::LocalPeerId { .. });
                tracing::debug!(error = %error, "dial failed");
                self.bootstrap.failed(connection_id, ourselves, now);
            }
            SwarmEvent::ListenerError { error, .. } => {
                tracing::warn!(error = %error, "listener error");
            }
            SwarmEvent::ListenerClosed {
                addresses, reason, ..
            } => {
                tracing::warn!(?addresses, ?reason, "listener closed");
                lock(&self.shared.listen).retain(|a| !addresses.contains(a));
            }
            _ => {}
        }
    }

    fn on_behaviour(&mut self, event: BehaviourEvent) {
        match event {
            BehaviourEvent::Gossip(event) => self.on_gossip(event),
            BehaviourEvent::Identify(identify::Event::Received { peer_id, info, .. }) => {
                let addrs: Vec<Multiaddr> = info
                    .listen_addrs
                    .into_iter()
                    .take(MAX_IDENTIFY_ADDRS)
                    .collect();
                self.remember_addrs(peer_id, addrs);
            }
            BehaviourEvent::Direct(event) => self.on_direct(event),
            BehaviourEvent::Px(event) => self.on_px(event),
            _ => {}
        }
    }

    fn on_gossip(&mut self, event: gossipsub::Event) {
        match event {
            gossipsub::Event::Message {
                propagation_source,
                message_id,
                message,
            } => self.validate(propagation_source, message_id, message),
            gossipsub::Event::Subscribed { peer_id, topic } if self.is_ours(&topic) => {
                if let Some(node) = node_id(&peer_id) {
                    lock(&self.shared.gossip_peers).insert(node);
                }
            }
            gossipsub::Event::Unsubscribed { peer_id, topic } if self.is_ours(&topic) => {
                if let Some(node) = node_id(&peer_id) {
                    lock(&self.shared.gossip_peers).remove(&node);
                }
            }
            gossipsub::Event::SlowPeer {
                peer_id,
                failed_messages,
            } => {
                tracing::debug!(%peer_id, ?failed_messages, "slow gossip peer");
            }
            _ => {}
        }
    }

    /// Runs the size check and the validator, reports the verdict to gossipsub (which relays
    /// only on Accept and scores Reject), and delivers accepted messages.
    fn validate(&mut self, source: PeerId, id: MessageId, message: gossipsub::Message) {
        let from = node_id(&source);
        let verdict = if !self.is_ours(&message.topic) {
            Verdict::Ignore
        } else if message.data.len() > self.max {
            NetCounters::bump(&self.counters().gossip_oversized);
            Verdict::Reject(format!(
                "{} bytes exceeds the limit of {}",
                message.data.len(),
                self.max
            ))
        } else if let Some(from) = &from {
            (self.validator)(from, &message.data)
        } else {
            Verdict::Reject("source is not a sporedb identity".into())
        };
        let acceptance = match &verdict {
            Verdict::Accept | Verdict::AcceptDecoded(_) => MessageAcceptance::Accept,
            Verdict::Reject(why) => {
                if message.data.len() <= self.max {
                    NetCounters::bump(&self.counters().gossip_rejected);
                }
                tracing::debug!(%source, why, "gossip rejected");
                MessageAcceptance::Reject
            }
            Verdict::Ignore => {
                NetCounters::bump(&self.counters().gossip_ignored);
                MessageAcceptance::Ignore
            }
        };
        self.swarm
            .behaviour_mut()
            .gossip
            .report_message_validation_result(&id, &source, acceptance);
        let decoded = match verdict {
            Verdict::Accept => None,
            Verdict::AcceptDecoded(d) => Some(d),
            Verdict::Reject(_) | Verdict::Ignore => return,
        };
        if let Some(from) = from {
            NetCounters::bump(&self.counters().gossip_in);
            self.emit(NetEvent::Gossip {
                from,
                data: Bytes::from(message.data),
                decoded,
            });
        }
    }

    fn on_direct(&mut self, event: request_response::Event<Vec<u8>, Vec<u8>>) {
        match event {
            request_response::Event::Message { peer, message, .. } => match message {
                request_response::Message::Request {
                    request, channel, ..
                } => {
                    let Some(from) = node_id(&peer) else { return };
                    NetCounters::bump(&self.counters().direct_in);
                    let id = self.next_inbound;
                    self.next_inbound += 1;
                    self.inbound.insert(id, channel);
                    let (tx, rx) = oneshot::channel();
                    // A dropped Responder answers empty.
                    self.answers
                        .push(Box::pin(async move { (id, rx.await.unwrap_or_default()) }));
                    self.emit(NetEvent::Direct {
                        from,
                        data: Bytes::from(request),
                        respond: Responder(tx),
                    });
                }
                request_response::Message::Response {
                    request_id,
                    response,
                } => {
                    if let Some((_, reply)) = self.requests.remove(&request_id) {
                        let _ = reply.send(Ok(Bytes::from(response)));
                    }
                }
            },
            request_response::Event::OutboundFailure {
                peer,
                request_id,
                error,
                ..
            } => {
                NetCounters::bump(&self.counters().direct_failed);
                tracing::debug!(%peer, error = %error, "direct message failed");
                if let Some((to, reply)) = self.requests.remove(&request_id) {
                    let error = match error {
                        request_response::OutboundFailure::Timeout => NetError::Timeout(short(&to)),
                        other => NetError::Request {
                            peer: short(&to),
                            why: other.to_string(),
                        },
                    };
                    let _ = reply.send(Err(error));
                }
            }
            request_response::Event::InboundFailure { peer, error, .. } => {
                tracing::debug!(%peer, error = %error, "inbound direct message failed");
            }
            request_response::Event::ResponseSent { .. } => {}
        }
    }

    fn on_px(&mut self, event: request_response::Event<Vec<u8>, Vec<u8>>) {
        match event {
            request_response::Event::Message { peer, message, .. } => match message {
                request_response::Message::Request { channel, .. } => {
                    let answer = self.px_answer(&peer);
                    let _ = self.swarm.behaviour_mut().px.send_response(channel, answer);
                }
                request_response::Message::Response { response, .. } => {
                    match px::decode(&response) {
                        Ok(peers) => self.dial_discovered(peers),
                        Err(e) => tracing::debug!(%peer, error = %e, "bad peer-exchange answer"),
                    }
                }
            },
            request_response::Event::OutboundFailure { peer, error, .. } => {
                tracing::debug!(%peer, error = %error, "peer exchange failed");
            }
            _ => {}
        }
    }

    /// The connected peers (other than the asker and banned ones) with their listen addresses.
    fn px_answer(&self, asker: &PeerId) -> Vec<u8> {
        let peers: BTreeMap<NodeId, Vec<Multiaddr>> = self
            .addrs
            .iter()
            .filter(|(p, _)| *p != asker && !self.banned.contains(*p))
            .filter(|(p, _)| self.swarm.is_connected(p))
            .filter_map(|(p, a)| Some((node_id(p)?, a.clone())))
            .collect();
        px::encode(&peers)
    }

    fn dial_discovered(&mut self, peers: BTreeMap<NodeId, Vec<Multiaddr>>) {
        for (node, addrs) in peers {
            let peer = peer_id(&node);
            if peer == self.local
                || addrs.is_empty()
                || self.banned.contains(&peer)
                || self.swarm.is_connected(&peer)
            {
                continue;
            }
            let opts = DialOpts::peer_id(peer)
                .addresses(addrs)
                .condition(PeerCondition::DisconnectedAndNotDialing)
                .build();
            if let Err(e) = self.swarm.dial(opts) {
                tracing::debug!(%peer, error = %e, "discovered peer not dialled");
            }
        }
    }

    /// Records where `peer` listens: dialable addresses only (no wildcard IP, no `/p2p` suffix),
    /// at most `px::MAX_ADDRS`, for connected peers only (the map is cleared on disconnect).
    fn remember_addrs(&mut self, peer: PeerId, addrs: impl IntoIterator<Item = Multiaddr>) {
        if !self.swarm.is_connected(&peer) || self.banned.contains(&peer) {
            return;
        }
        let known = self.addrs.entry(peer).or_default();
        for addr in addrs {
            let addr = without_p2p(addr);
            let dialable = addr.iter().all(|p| match p {
                Protocol::Ip4(ip) => !ip.is_unspecified(),
                Protocol::Ip6(ip) => !ip.is_unspecified(),
                _ => true,
            });
            if dialable && !known.contains(&addr) && known.len() < px::MAX_ADDRS {
                known.push(addr.clone());
                self.swarm.add_peer_address(peer, addr);
            }
        }
    }
}

/// `addr` without a trailing `/p2p/<id>`.
fn without_p2p(mut addr: Multiaddr) -> Multiaddr {
    if let Some(Protocol::P2p(_)) = addr.iter().last() {
        addr.pop();
    }
    addr
}
