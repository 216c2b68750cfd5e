//! `NetHandle`: the cloneable front of the network task.
//!
//! Fire-and-forget operations (`broadcast`, `send`, `ban`) never block: they `try_send` on the
//! bounded command queue and, if the task is that far behind, drop the command and count it
//! (`commands_dropped`): gossip is already best-effort and consensus retransmits. Only
//! `request` awaits (queue space, then the answer). Read-only views (peers, addresses,
//! counters) come from state the task shares, without a round trip.

use std::collections::BTreeSet;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use bytes::Bytes;
use libp2p::Multiaddr;
use tokio::sync::{mpsc, oneshot};

use super::stats::{NetCounters, NetStats};
use super::{short, NetError};
use crate::crypto::NodeId;

/// What a handle asks the network task to do.
pub(crate) enum Command {
    Broadcast(Vec<u8>),
    Send(NodeId, Vec<u8>),
    Request(NodeId, Vec<u8>, oneshot::Sender<Result<Bytes, NetError>>),
    Ban(NodeId, String),
    SetTopics(Vec<String>),
    Shutdown,
}

/// State the task writes and handles read.
#[derive(Debug, Default)]
pub(crate) struct Shared {
    pub counters: NetCounters,
    pub peers: Mutex<BTreeSet<NodeId>>,
    pub gossip_peers: Mutex<BTreeSet<NodeId>>,
    pub listen: Mutex<Vec<Multiaddr>>,
}

/// Locks a mutex even if a panicking thread poisoned it: the guarded sets stay consistent on
/// every step (single inserts/removes), so the data is still good.
pub(crate) fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|e| e.into_inner())
}

/// A handle on a running network task. Cheap to clone; the task stops when `shutdown` is called,
/// when every handle is dropped, or when the event receiver is dropped.
#[derive(Clone)]
pub struct NetHandle {
    pub(crate) commands: mpsc::Sender<Command>,
    pub(crate) shared: Arc<Shared>,
    pub(crate) local: NodeId,
    pub(crate) max_message_bytes: usize,
    pub(crate) request_timeout: Duration,
}

impl NetHandle {
    fn submit(&self, command: Command) {
        if self.commands.try_send(command).is_err() {
            NetCounters::bump(&self.shared.counters.commands_dropped);
            tracing::debug!("network command dropped: task queue full or stopped");
        }
    }

    /// Publishes `data` on the topic (content-hash id). Best-effort: failures are counted.
    pub fn broadcast(&self, data: Vec<u8>) {
        self.submit(Command::Broadcast(data));
    }

    /// Sends a direct message; the answer, if any, is discarded. Best-effort: failures are counted.
    pub fn send(&self, to: NodeId, data: Vec<u8>) {
        self.submit(Command::Send(to, data));
    }

    /// Sends a request and waits for its answer (empty if the peer dropped its `Responder`).
    pub async fn request(&self, to: NodeId, data: Vec<u8>) -> Result<Bytes, NetError> {
        if data.len() > self.max_message_bytes {
            return Err(NetError::TooLarge {
                len: data.len(),
                max: self.max_message_bytes,
            });
        }
        let (tx, rx) = oneshot::channel();
        self.commands
            .send(Command::Request(to, data, tx))
            .await
            .map_err(|_| NetError::Closed)?;
        // request-response enforces `request_timeout` itself; this outer bound only guards
        // against a task that stopped answering altogether.
        let outer = self.request_timeout + Duration::from_secs(5);
        match tokio::time::timeout(outer, rx).await {
            Ok(Ok(result)) => result,
            Ok(Err(_)) => Err(NetError::Closed),
            Err(_) => Err(NetError::Timeout(short(&to))),
        }
    }

    /// Disconnects `peer`, refuses its further connections and drops its gossip score to the
    /// bottom. `why` is logged (it is the evidence summary).
    pub fn ban(&self, peer: NodeId, why: String) {
        self.submit(Command::Ban(peer, why));
    }

    /// Replaces the gossip topics: subscribes to each (the first is the node's own), accepts
    /// messages on any of them and publishes broadcasts on all, and leaves the others. Used
    /// when a policy change moves the cluster to the new policy's topic.
    pub fn set_topics(&self, topics: Vec<String>) {
        self.submit(Command::SetTopics(topics));
    }

    /// Nodes currently connected (sorted).
    pub fn peers(&self) -> Vec<NodeId> {
        lock(&self.shared.peers).iter().copied().collect()
    }

    /// Connected nodes known to be subscribed to our topic (sorted): the ones a broadcast reaches
    /// directly.
    pub fn gossip_peers(&self) -> Vec<NodeId> {
        lock(&self.shared.gossip_peers).iter().copied().collect()
    }

    /// Our listen addresses (known once `start` returns).
    pub fn listen_addrs(&self) -> Vec<Multiaddr> {
        lock(&self.shared.listen).clone()
    }

    /// This node's id.
    pub fn local_id(&self) -> NodeId {
        self.local
    }

    /// A snapshot of the transport counters (for INFO).
    pub fn stats(&self) -> NetStats {
        self.shared.counters.snapshot()
    }

    /// Stops the network task: every connection closes and the event channel ends.
    pub fn shutdown(&self) {
        // Not `submit`: a full queue must not swallow a shutdown, so wait for room on a helper
        // task when needed.
        if let Err(mpsc::error::TrySendError::Full(cmd)) = self.commands.try_send(Command::Shutdown)
        {
            let commands = self.commands.clone();
            tokio::spawn(async move {
                let _ = commands.send(cmd).await;
            });
        }
    }
}
