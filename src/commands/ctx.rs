//! What a handler runs with (`Ctx`) and what it returns (`Action`).
//!
//! `Shared` is built once by the node and holds the long-lived services: the store (read side),
//! the write path, the clock, the runtime configuration, the node's status for INFO and
//! statistics. (Connected clients are the front end's registry, reached through each session's
//! `ClientHandle`.) A `Ctx` is built per dispatched command (or per EXEC) around it, with
//! the caller's session, the time of the call, and a lazily opened store snapshot that every
//! read of the command shares. Handlers never touch the store's write side: a write returns
//! `Action::Write` (ops + how to shape the per-op replies), and the dispatcher submits it.

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;

use bytes::Bytes;

use crate::error::RedisError;
use crate::reply::Reply;
use crate::spore::{Key, Op};
use crate::write::{WriteError, WritePath};

use super::session::Session;
use super::settings::Settings;
use super::stats::Stats;
use super::view::{Keyspace, Snapshot};

/// A reply that will be ready later (after a spore commits).
pub type ReplyFuture = Pin<Box<dyn Future<Output = Reply> + Send>>;

/// Turns the per-op replies of a write into the command's reply.
pub type Shape = Box<dyn FnOnce(Vec<Reply>) -> Reply + Send>;

/// A write as a handler describes it: ops (one spore) and how to shape their replies.
pub struct Write {
    pub ops: Vec<Op>,
    pub shape: Shape,
}

impl Write {
    /// A write whose reply is the reply of its single op (or of its last op).
    pub fn single(op: Op) -> Write {
        Write::shaped(vec![op], |r| r.into_iter().last().unwrap_or(Reply::Nil))
    }

    pub fn shaped(ops: Vec<Op>, shape: impl FnOnce(Vec<Reply>) -> Reply + Send + 'static) -> Write {
        Write {
            ops,
            shape: Box::new(shape),
        }
    }

    /// The first error among the replies, if any (a WRONGTYPE from one op fails the command).
    pub fn first_error(replies: &[Reply]) -> Option<Reply> {
        replies.iter().find(|r| r.is_error()).cloned()
    }
}

/// What a handler returns.
pub enum Action {
    /// Answer now.
    Reply(Reply),
    /// Submit these ops as one spore and answer with the shaped replies.
    Write(Write),
    /// Answer when this future resolves (EXEC builds its own).
    Later(ReplyFuture),
    /// Answer, then close the connection (QUIT).
    Close(Reply),
}

impl From<Reply> for Action {
    fn from(r: Reply) -> Action {
        Action::Reply(r)
    }
}

/// The node's consensus status, for INFO's `sporedb` section.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct NodeStatus {
    /// The node's public key (hex).
    pub node_key: String,
    /// Committee size.
    pub n: u32,
    /// Endorsements (weight) a spore needs to commit (the quorum ω).
    pub quorum: u32,
    /// Byzantine nodes tolerated.
    pub f: u32,
    /// The global policy's hash (hex); empty on a single node.
    pub policy_hash: String,
    /// Policy-change spores adopted since the node started.
    pub policy_changes: u64,
    pub spores_committed: u64,
    pub spores_dropped: u64,
    /// Blind writes rebuilt as a new spore after theirs was dropped (conflict, veto, expiry).
    pub spores_retried: u64,
    pub spores_pending: u64,
    /// Spores applied by the engine whose group commit it has not been told of yet.
    pub spores_unconfirmed: u64,
    /// State transfers installed since start.
    pub state_transfers: u64,
    /// Applied spores this node's store failed to record (group commit failed).
    pub spores_not_stored: u64,
    /// The node has not yet caught up with its peers since it started (cluster nodes only).
    pub startup_sync_pending: bool,
    /// The network's counters by name (`net::NetStats::fields`); empty on a single node.
    pub net: Vec<(&'static str, u64)>,
}

/// Implemented by the node: a cheap snapshot of its consensus status.
pub trait NodeInfo: Send + Sync {
    fn status(&self) -> NodeStatus;
}

/// A fixed status, for tests and single-node tools.
impl NodeInfo for NodeStatus {
    fn status(&self) -> NodeStatus {
        self.clone()
    }
}

/// The wall clock, injected so tests control time (the node passes `node::clock::now_ms`).
pub type Clock = Arc<dyn Fn() -> u64 + Send + Sync>;

/// Long-lived services shared by every connection.
pub struct Shared {
    pub store: Arc<dyn Keyspace>,
    pub writes: Arc<dyn WritePath>,
    pub clock: Clock,
    pub settings: Settings,
    pub node: Arc<dyn NodeInfo>,
    /// The consensus driver, for the `SPORE.*` commands (absent in tools without a node).
    pub admin: Option<Arc<dyn super::spore_admin::SporeAdmin>>,
    pub stats: Stats,
    /// When the server started (ms), for INFO uptime.
    pub started_ms: u64,
    /// The state root service (SPORE.ROOT / SPORE.PROOF, INFO); `None` answers an error.
    pub roots: Option<Arc<dyn crate::root::RootService>>,
}

impl Shared {
    pub fn new(
        store: Arc<dyn Keyspace>,
        writes: Arc<dyn WritePath>,
        clock: Clock,
        settings: Settings,
        node: Arc<dyn NodeInfo>,
    ) -> Shared {
        let started_ms = clock();
        Shared {
            store,
            writes,
            clock,
            settings,
            node,
            admin: None,
            stats: Stats::default(),
            started_ms,
            roots: None,
        }
    }

    /// Connects the `SPORE.*` commands to the node's driver.
    pub fn with_admin(mut self, admin: Arc<dyn super::spore_admin::SporeAdmin>) -> Shared {
        self.admin = Some(admin);
        self
    }

    /// The same services with a state root service.
    pub fn with_roots(mut self, roots: Arc<dyn crate::root::RootService>) -> Shared {
        self.roots = Some(roots);
        self
    }

    /// Submits ops as one blind spore and shapes the replies.
    pub fn submit(&self, write: Write) -> ReplyFuture {
        let fut = self
            .writes
            .submit(crate::write::WriteRequest::blind(write.ops));
        let shape = write.shape;
        Box::pin(async move {
            match fut.await {
                Ok(replies) => shape(replies),
                Err(e) => Reply::Error(write_error(e)),
            }
        })
    }
}

/// The client-visible error for a failed write outside EXEC.
pub fn write_error(e: WriteError) -> RedisError {
    match e {
        WriteError::Dropped { id, reason } => RedisError::SporeDropped { id, reason },
        WriteError::Vetoed { rule } => RedisError::LocalVeto { rule },
        WriteError::Refused { why } => RedisError::PolicyRefused { why },
        WriteError::NotStored { why, full } => RedisError::NotStored { why, full },
        // A blind write never carries WATCH prerequisites; treat it like an unavailable path.
        WriteError::WatchFailed | WriteError::Unavailable => {
            tracing::warn!("write failed: {e}");
            RedisError::Internal
        }
    }
}

/// One command's (or one EXEC's) execution context.
pub struct Ctx<'a> {
    pub shared: &'a Shared,
    pub session: &'a mut Session,
    /// The time of the call, used for TTL hiding and to turn relative TTLs into absolute ones.
    pub now_ms: u64,
    snapshot: Option<Box<dyn Snapshot + Send>>,
}

impl<'a> Ctx<'a> {
    pub fn new(shared: &'a Shared, session: &'a mut Session) -> Ctx<'a> {
        let now_ms = (shared.clock)();
        Ctx {
            shared,
            session,
            now_ms,
            snapshot: None,
        }
    }

    /// Starts with `view` (a snapshot an earlier command of the batch opened) as this
    /// command's, now hiding keys expired at this command's time.
    pub fn reuse(&mut self, mut view: Box<dyn Snapshot + Send>) {
        view.set_now(self.now_ms);
        self.snapshot = Some(view);
    }

    /// The snapshot this command opened or reused, if any.
    pub fn into_view(self) -> Option<Box<dyn Snapshot + Send>> {
        self.snapshot
    }

    /// The snapshot every read of this command (or EXEC) shares, opened on first use.
    pub fn view(&mut self) -> Result<&dyn Snapshot, RedisError> {
        if self.snapshot.is_none() {
            self.snapshot = Some(self.shared.store.clone().snapshot(self.now_ms)?);
        }
        match &self.snapshot {
            Some(s) => Ok(s.as_ref()),
            None => Err(RedisError::Internal),
        }
    }

    /// The snapshot, mutably (EXEC layers the transaction's own writes over it).
    pub fn view_mut(&mut self) -> Result<&mut (dyn Snapshot + Send), RedisError> {
        if self.snapshot.is_none() {
            self.snapshot = Some(self.shared.store.clone().snapshot(self.now_ms)?);
        }
        match &mut self.snapshot {
            Some(s) => Ok(s.as_mut()),
            None => Err(RedisError::Internal),
        }
    }

    /// `name` in the session's selected database.
    pub fn key(&self, name: Bytes) -> Key {
        Key::new(self.session.db, name)
    }
}
