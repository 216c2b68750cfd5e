//! The TCP front end: accepts Redis clients and runs each connection's request/reply loop.
//!
//! - [`Listener`]: binds, enforces `maxclients` (the refused client gets
//!   `-ERR max number of clients reached` and is closed), sets `TCP_NODELAY`, and shuts down
//!   gracefully on a [`CancellationToken`](tokio_util::sync::CancellationToken).
//! - The connection loop (`connection.rs`): pipelining with replies in request order, one write
//!   per batch, protocol errors answered and then closed, bounded output.
//! - [`Service`]: what the command layer implements; [`Outcome`] is what a request produced.
//! - [`Clients`] / [`ClientHandle`]: the registry behind `CLIENT LIST/INFO/KILL` and INFO.
//!
//! Invariants:
//! - Replies are written in request order, always.
//! - A request that is not barrier-free (see [`Service::is_barrier_free`]) is dispatched only
//!   after every earlier deferred reply of its connection has resolved.
//! - A protocol error closes the connection after the replies to the requests before it; a
//!   command error never closes it.
//! - Per-connection memory is bounded: requests by [`crate::resp::Limits`], output by
//!   [`ServerConfig::output_pause_bytes`] / [`ServerConfig::output_limit_bytes`], in-flight
//!   writes by [`ServerConfig::max_deferred`].

mod clients;
mod connection;
mod listener;
mod pending;
mod service;

use std::net::SocketAddr;
use std::time::Duration;

pub use clients::{ClientHandle, ClientInfo, Clients};
pub use listener::Listener;
pub use service::{DeferredReply, Outcome, Service};

use crate::resp::Limits;

/// Front-end settings. `Default` is the documentation of the defaults.
#[derive(Debug, Clone)]
pub struct ServerConfig {
    /// Address to listen on (Redis's `bind` + `port`). Default `127.0.0.1:6379`.
    pub bind: SocketAddr,
    /// Most simultaneous clients (`maxclients`). Default 10000.
    pub maxclients: usize,
    /// Request limits (`proto-max-bulk-len`, ...). `authenticated` is ignored here: each
    /// connection takes it from [`Service::authenticated`].
    pub limits: Limits,
    /// While this many reply bytes are waiting for the client to read them, the connection
    /// stops reading and executing requests (backpressure). Default 16 MiB: far above any
    /// pipeline a client writes before reading, so clients that send a whole pipeline first
    /// (redis-py, redis-benchmark) never stall, while a client that never reads cannot make the
    /// server buffer without bound.
    pub output_pause_bytes: usize,
    /// If unsent replies grow past this anyway (deferred replies resolving while paused), the
    /// connection is closed, like Redis's `client-output-buffer-limit`. One reply alone may be
    /// larger (a 512 MB GET is legal). Default 256 MiB.
    pub output_limit_bytes: usize,
    /// Most deferred replies (writes in flight) per connection before it stops reading.
    /// Default 1024.
    pub max_deferred: usize,
    /// On shutdown, how long connections may take to deliver replies already in progress
    /// before they are closed. Default 2 s.
    pub shutdown_grace: Duration,
    /// Runtimes the connections are spread over, round-robin; a connection stays on the one
    /// it was given for its whole life (no work stealing: each runtime is typically a
    /// current-thread runtime on its own thread, so a request costs no cross-thread wake-up).
    /// They must keep running until [`Listener::run`] has returned. Empty (the default): the
    /// runtime running the listener.
    pub workers: Vec<tokio::runtime::Handle>,
}

impl Default for ServerConfig {
    fn default() -> Self {
        ServerConfig {
            bind: SocketAddr::from(([127, 0, 0, 1], 6379)),
            maxclients: 10_000,
            limits: Limits::default(),
            output_pause_bytes: 16 * 1024 * 1024,
            output_limit_bytes: 256 * 1024 * 1024,
            max_deferred: 1024,
            shutdown_grace: Duration::from_secs(2),
            workers: Vec::new(),
        }
    }
}
