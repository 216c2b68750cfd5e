//! The boundary between the front end and the command layer.
//!
//! The front end owns sockets, framing, pipelining and reply order; the command layer owns
//! everything a request means. Per connection, the front end calls `open` once, then
//! `dispatch` for each request in arrival order, and `close` once at the end. Every call for
//! one connection happens on that connection's task, one at a time, so a `Session` needs no
//! locking.
//!
//! Writes are asynchronous: `dispatch` returns `Outcome::Deferred` with a future that resolves
//! to the reply once the write is committed and applied. The connection keeps replies in request
//! order regardless of when futures resolve, and uses `is_barrier_free` to decide whether a
//! request may be dispatched while earlier deferred replies are outstanding (see
//! [`Service::is_barrier_free`]).

use std::future::Future;
use std::pin::Pin;

use bytes::Bytes;

use super::clients::ClientHandle;
use crate::reply::Reply;
use crate::resp::Protocol;

/// The reply to a request that is still in progress (a write waiting for commit and apply).
pub type DeferredReply = Pin<Box<dyn Future<Output = Reply> + Send + 'static>>;

/// What `dispatch` did with a request.
pub enum Outcome {
    /// Answered now.
    Reply(Reply),
    /// Submitted; the future yields the reply. The work must already be under way when
    /// `dispatch` returns (submitted to the write path, not merely described by a lazy future):
    /// the connection polls these futures concurrently but cannot know whether polling starts
    /// anything. Dropping the future (the client went away) must not cancel a submitted write;
    /// it only discards the reply.
    Deferred(DeferredReply),
    /// Write this reply, then close the connection (QUIT). Earlier replies are written first.
    Close(Reply),
}

/// The command layer, as the front end sees it. One value serves every connection.
pub trait Service: Send + Sync + 'static {
    /// Per-connection state: selected db, MULTI queue, WATCHed versions, auth, protocol...
    type Session: Send + 'static;

    /// A connection was accepted. `client` is its registry entry: keep it to update name, db and
    /// last command, and to reach the registry for `CLIENT LIST/KILL` and INFO.
    fn open(&self, client: ClientHandle) -> Self::Session;

    /// Runs one request. `argv` is non-empty; its `Bytes` share the connection's read buffer,
    /// so copy any argument you keep beyond the request (a stored value) instead of holding the
    /// slice, or the whole read buffer stays allocated. Command errors are replies
    /// (`Reply::Error`); they never close the connection.
    fn dispatch(&self, session: &mut Self::Session, argv: Vec<Bytes>) -> Outcome;

    /// The protocol replies are encoded in. Read after every `dispatch`, so `HELLO 3`'s own
    /// reply is already RESP3, as in Redis. A deferred reply uses the protocol current when its
    /// request was dispatched.
    fn protocol(&self, _session: &Self::Session) -> Protocol {
        Protocol::Resp2
    }

    /// False while a password is required and the client has not authenticated: the request
    /// decoder then applies Redis's pre-AUTH limits (at most 10 arguments of 16 KiB). Read after
    /// every `dispatch`, so an `AUTH` lifts the limits from the very next request.
    fn authenticated(&self, _session: &Self::Session) -> bool {
        true
    }

    /// Asked only while earlier deferred replies of this connection are outstanding: may
    /// `argv` be dispatched now, or must the connection wait for those replies first?
    ///
    /// Return true for requests that need not observe the earlier writes' effects: writes that
    /// can be queued behind earlier writes (the node applies a connection's writes in
    /// submission order), and commands that touch no data (e.g. PING, ECHO). Return false for
    /// reads, and whenever unsure: the default is false, which is always correct, only slower.
    /// Replies are written in request order either way.
    fn is_barrier_free(&self, _session: &Self::Session, _argv: &[Bytes]) -> bool {
        false
    }

    /// The connection has dispatched every request it had read, or stopped at a barrier:
    /// whatever the session kept for that batch of requests (e.g. one read snapshot shared by
    /// pipelined reads) must go now, before the connection waits for more input.
    fn end_batch(&self, _session: &mut Self::Session) {}

    /// The connection ended (client quit or vanished, protocol error, kill, shutdown). Called
    /// once, after the last `dispatch`; deferred replies still outstanding have been dropped.
    fn close(&self, _session: Self::Session) {}
}
