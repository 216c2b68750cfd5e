//! Per-connection state: protocol, selected database, authentication, the MULTI queue and the
//! WATCH set, and the connection's entry in the front end's client registry.
//!
//! What other connections can see (CLIENT LIST / INFO / KILL, INFO's clients section) lives in
//! that registry (`crate::server::Clients`), the one source of truth: the session reports its
//! name, library, db, MULTI state and last command to it through its `ClientHandle`, and reads
//! its own identity back from it. Everything else is private to the connection.

use std::collections::BTreeMap;
use std::net::SocketAddr;

use bytes::Bytes;
use tokio_util::sync::CancellationToken;

use crate::server::{ClientHandle, Clients};
use crate::spore::{Key, KeyVersion};

use super::spec::CommandSpec;
use super::view::Snapshot;

/// A command queued by MULTI, already looked up and arity-checked.
#[derive(Debug, Clone)]
pub struct Queued {
    pub spec: &'static CommandSpec,
    /// Cursor start: 1, or 2 for subcommands.
    pub skip: usize,
    pub argv: Vec<Bytes>,
}

/// MULTI state.
#[derive(Debug, Default)]
pub struct Multi {
    pub queue: Vec<Queued>,
    /// An unknown command or arity error was queued: EXEC answers EXECABORT.
    pub dirty: bool,
}

/// One connection's state.
pub struct Session {
    /// 2 or 3 (HELLO).
    pub protocol: u8,
    /// SELECTed database, 0..DATABASES.
    pub db: u8,
    pub authenticated: bool,
    pub multi: Option<Multi>,
    /// WATCHed keys and their versions when WATCH ran.
    pub watched: BTreeMap<Key, KeyVersion>,
    /// CLIENT NO-EVICT / NO-TOUCH: accepted and remembered; sporedb neither evicts nor tracks
    /// access times.
    pub no_evict: bool,
    pub no_touch: bool,
    /// The read snapshot the pipelined read-only commands of one batch share (`dispatch::run`):
    /// opened by the first, dropped by any other command and when the connection has run
    /// out of requests (`Service::end_batch`). Every request of a batch arrived before the
    /// batch started, so a write acknowledged before any of them was sent is in it.
    pub read_view: Option<Box<dyn Snapshot + Send>>,
    client: ClientHandle,
}

impl Session {
    /// A new connection. `authenticated` is false when a password is required.
    pub fn new(client: ClientHandle, authenticated: bool) -> Session {
        Session {
            protocol: 2,
            db: 0,
            authenticated,
            multi: None,
            watched: BTreeMap::new(),
            no_evict: false,
            no_touch: false,
            read_view: None,
            client,
        }
    }

    /// A session with an entry in a registry of its own, not listed anywhere (tests and
    /// internal callers without a connection).
    pub fn detached() -> Session {
        let clients = Clients::new(1);
        let addr = SocketAddr::from(([127, 0, 0, 1], 0));
        let registration = clients.register(addr, addr, -1, &CancellationToken::new());
        Session::new(registration.handle.clone(), true)
    }

    /// CLIENT ID.
    pub fn id(&self) -> u64 {
        self.client.id()
    }

    /// This connection's registry entry (and through it, the registry).
    pub fn client(&self) -> &ClientHandle {
        &self.client
    }

    pub fn in_multi(&self) -> bool {
        self.multi.is_some()
    }

    /// Reports the command just run (`cmd=`) and the state CLIENT LIST shows with it.
    pub fn publish(&self, cmd: &'static str) {
        let queued = self.multi.as_ref().map(|m| m.queue.len());
        self.client
            .set_command_state(cmd, i64::from(self.db), queued);
    }

    /// Forgets MULTI and WATCH state (EXEC, DISCARD, RESET).
    pub fn end_transaction(&mut self) {
        self.multi = None;
        self.watched.clear();
    }
}

impl std::fmt::Debug for Session {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Session")
            .field("id", &self.id())
            .field("protocol", &self.protocol)
            .field("db", &self.db)
            .field("authenticated", &self.authenticated)
            .field("multi", &self.multi)
            .finish_non_exhaustive()
    }
}
