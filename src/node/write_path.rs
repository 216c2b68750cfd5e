//! The node's `WritePath`: hands client writes to the driver thread and awaits the outcome.
//!
//! The channel is unbounded on purpose: the sender runs on tokio worker threads and must never
//! block them. Load is bounded upstream: every write holds a client connection waiting for its
//! reply, and the front end caps connections and per-connection buffered input.

use std::sync::mpsc::Sender;

use tokio::sync::oneshot;

use crate::reply::Reply;
use crate::write::{WriteError, WriteFuture, WritePath, WriteRequest};

use super::clock;

/// Where a client write's outcome goes: each op's reply, or why it failed.
pub type ReplySender = oneshot::Sender<Result<Vec<Reply>, WriteError>>;

/// A client write waiting for the driver.
pub struct WriteJob {
    pub request: WriteRequest,
    pub reply: ReplySender,
    /// After this time the write is no longer retried; the client gets a drop error.
    pub deadline_ms: u64,
    /// The I/O thread the client is served on, if any: its reply goes back with the others
    /// of its group for that thread (`node::replies`).
    pub home: Option<super::replies::Home>,
}

/// What the driver thread receives.
pub enum DriverMsg {
    Write(WriteJob),
    /// A protocol message from a peer, already checked (`consensus::gossip_check`).
    Net {
        from: crate::crypto::NodeId,
        msg: crate::consensus::Message,
        /// It came by gossip: gossipsub already relays it, so the engine's relay of the very
        /// same message is not published again.
        gossip: bool,
    },
    /// A `SPORE.*` command.
    Admin {
        request: crate::commands::spore_admin::AdminRequest,
        reply: oneshot::Sender<Result<Reply, crate::error::RedisError>>,
    },
    /// Replace the replicated state by a verified copy (state transfer).
    Install {
        catch_up: Box<crate::sync::CatchUp>,
        reply: oneshot::Sender<Result<(), String>>,
    },
    Shutdown,
    /// The driver's writer committed (or failed to commit) groups (`node::writer`).
    Committed(Box<super::writer::GroupDone>),
}

/// Submits writes to the driver thread.
pub struct NodeWritePath {
    tx: Sender<DriverMsg>,
    deadline_ms: u64,
    /// A cluster node's policy: its spore deadline, which a policy change may move.
    policy: Option<std::sync::Arc<super::policy_state::ActivePolicy>>,
}

impl NodeWritePath {
    pub fn new(tx: Sender<DriverMsg>, deadline_ms: u64) -> NodeWritePath {
        NodeWritePath {
            tx,
            deadline_ms,
            policy: None,
        }
    }

    /// Takes the spore deadline from the policy in force instead of `deadline_ms`.
    pub fn with_policy(
        mut self,
        policy: Option<std::sync::Arc<super::policy_state::ActivePolicy>>,
    ) -> NodeWritePath {
        self.policy = policy;
        self
    }
}

impl WritePath for NodeWritePath {
    fn submit(&self, request: WriteRequest) -> WriteFuture {
        let (reply, rx) = oneshot::channel();
        let job = WriteJob {
            request,
            reply,
            deadline_ms: clock::now_ms()
                + self
                    .policy
                    .as_ref()
                    .map_or(self.deadline_ms, |p| p.spore_deadline_ms()),
            home: super::replies::home(),
        };
        if self.tx.send(DriverMsg::Write(job)).is_err() {
            return Box::pin(async { Err(WriteError::Unavailable) });
        }
        Box::pin(async move { rx.await.unwrap_or(Err(WriteError::Unavailable)) })
    }
}
