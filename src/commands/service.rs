//! The command layer as the front end's `Service`: one `CommandService` serves every
//! connection of the node.
//!
//! `open` gives each connection a `Session` bound to its entry in the front end's client
//! registry; `dispatch` runs the command layer's `dispatch` and maps its outcome. Two choices
//! here matter for throughput and memory:
//!
//! * Pipelining: a write outside MULTI is *barrier-free*, so a connection's pipelined writes are
//!   submitted back to back (the node applies one connection's writes in submission order),
//!   while a read waits for the connection's earlier writes to resolve and so sees them. Writes
//!   whose handler reads the snapshot to build its op (SPOP picks members, GETEX without options
//!   and SETRANGE with an empty value are reads) are not barrier-free.
//! * Argument buffers: requests arrive as slices of the connection's read buffer. Arguments
//!   that outlive the request (a write's values travel in its spore; MULTI queues whole
//!   commands) are copied out first, so a small stored value never pins a large read buffer.

use std::sync::Arc;

use bytes::Bytes;

use crate::resp::Protocol;
use crate::server::{self, ClientHandle};

use super::ctx::Shared;
use super::dispatch::{dispatch, Outcome};
use super::session::Session;
use super::table;

/// Write commands whose handler reads the snapshot, so they must see earlier writes.
const READING_WRITES: &[&str] = &["spop", "getex", "setrange"];

/// The command layer, as the front end's `Service`.
pub struct CommandService {
    shared: Arc<Shared>,
}

impl CommandService {
    pub fn new(shared: Arc<Shared>) -> CommandService {
        CommandService { shared }
    }

    /// The services this one runs with.
    pub fn shared(&self) -> &Arc<Shared> {
        &self.shared
    }
}

/// Whether `argv` is a write that needs no read of the store to build its ops.
fn is_blind_write(argv: &[Bytes]) -> bool {
    argv.first()
        .and_then(|name| table::lookup(name))
        .is_some_and(|spec| spec.is_write() && !READING_WRITES.contains(&spec.name))
}

/// Copies every argument out of the connection's read buffer.
fn detach(argv: Vec<Bytes>) -> Vec<Bytes> {
    argv.into_iter()
        .map(|a| Bytes::copy_from_slice(&a))
        .collect()
}

impl server::Service for CommandService {
    type Session = Session;

    fn open(&self, client: ClientHandle) -> Session {
        Session::new(client, self.shared.settings.requirepass().is_none())
    }

    fn dispatch(&self, session: &mut Session, argv: Vec<Bytes>) -> server::Outcome {
        let keeps_args = session.in_multi()
            || argv
                .first()
                .and_then(|name| table::lookup(name))
                .is_some_and(|spec| spec.is_write());
        let argv = if keeps_args { detach(argv) } else { argv };
        match dispatch(&self.shared, session, argv) {
            Outcome::Reply(r) => server::Outcome::Reply(r),
            Outcome::Deferred(f) => server::Outcome::Deferred(f),
            Outcome::Close(r) => server::Outcome::Close(r),
        }
    }

    fn protocol(&self, session: &Session) -> Protocol {
        if session.protocol == 3 {
            Protocol::Resp3
        } else {
            Protocol::Resp2
        }
    }

    fn authenticated(&self, session: &Session) -> bool {
        session.authenticated
    }

    fn is_barrier_free(&self, session: &Session, argv: &[Bytes]) -> bool {
        !session.in_multi() && is_blind_write(argv)
    }

    fn end_batch(&self, session: &mut Session) {
        session.read_view = None;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn argv(parts: &[&str]) -> Vec<Bytes> {
        parts.iter().map(|s| Bytes::from(s.to_string())).collect()
    }

    #[test]
    fn only_blind_writes_skip_the_barrier() {
        assert!(is_blind_write(&argv(&["SET", "k", "v"])));
        assert!(is_blind_write(&argv(&["lpush", "l", "x"])));
        assert!(!is_blind_write(&argv(&["GET", "k"])));
        assert!(!is_blind_write(&argv(&["spop", "s"])));
        assert!(!is_blind_write(&argv(&["GETEX", "k"])));
        assert!(!is_blind_write(&argv(&["ping"])));
        assert!(!is_blind_write(&argv(&["nosuch"])));
    }
}
