//! Per-connection state: protocol, selected database, authentication, client identity, the
//! MULTI queue and the WATCH set.
//!
//! The fields other connections can see (CLIENT LIST / CLIENT INFO / CLIENT KILL) live in a
//! `ClientMeta` shared with the client table; everything else is private to the connection.

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex, MutexGuard};

use bytes::Bytes;

use crate::spore::{Key, KeyVersion};

use super::spec::CommandSpec;

/// What CLIENT LIST shows about a connection.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct ClientMeta {
    pub id: u64,
    pub addr: String,
    pub laddr: String,
    pub name: String,
    pub lib_name: String,
    pub lib_ver: String,
    pub db: u8,
    pub resp: u8,
    /// Commands queued in MULTI, or -1 outside MULTI.
    pub multi: i64,
    /// Number of WATCHed keys.
    pub watch: usize,
    pub created_ms: u64,
    pub last_cmd_ms: u64,
    /// Last command, `name` or `name|sub`.
    pub cmd: String,
    pub no_evict: bool,
    pub no_touch: bool,
    /// Set by CLIENT KILL; the connection closes before its next command.
    pub killed: bool,
}

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
#[derive(Debug)]
pub struct Session {
    pub id: u64,
    /// 2 or 3 (HELLO).
    pub protocol: u8,
    /// SELECTed database, 0..DATABASES.
    pub db: u8,
    pub authenticated: bool,
    pub multi: Option<Multi>,
    /// WATCHed keys and their versions when WATCH ran.
    pub watched: BTreeMap<Key, KeyVersion>,
    meta: Arc<Mutex<ClientMeta>>,
}

impl Session {
    /// A new connection. `authenticated` is false when a password is required.
    pub fn new(id: u64, authenticated: bool, meta: Arc<Mutex<ClientMeta>>) -> Session {
        Session {
            id,
            protocol: 2,
            db: 0,
            authenticated,
            multi: None,
            watched: BTreeMap::new(),
            meta,
        }
    }

    /// A session with its own (unregistered) metadata, for tests and internal callers.
    pub fn detached(id: u64) -> Session {
        let meta = ClientMeta {
            id,
            resp: 2,
            multi: -1,
            ..ClientMeta::default()
        };
        Session::new(id, true, Arc::new(Mutex::new(meta)))
    }

    /// The shared metadata (poisoning is ignored: the data is plain values).
    pub fn meta(&self) -> MutexGuard<'_, ClientMeta> {
        self.meta.lock().unwrap_or_else(|e| e.into_inner())
    }

    pub fn meta_handle(&self) -> &Arc<Mutex<ClientMeta>> {
        &self.meta
    }

    pub fn in_multi(&self) -> bool {
        self.multi.is_some()
    }

    /// Mirrors the fields CLIENT LIST shows from the session into the shared metadata.
    pub fn publish(&self, cmd: &str, now_ms: u64) {
        let queued = self.multi.as_ref().map_or(-1, |m| m.queue.len() as i64);
        let mut m = self.meta();
        m.db = self.db;
        m.resp = self.protocol;
        m.multi = queued;
        m.watch = self.watched.len();
        m.last_cmd_ms = now_ms;
        if m.cmd != cmd {
            m.cmd = cmd.to_string();
        }
    }

    /// Forgets MULTI and WATCH state (EXEC, DISCARD, RESET).
    pub fn end_transaction(&mut self) {
        self.multi = None;
        self.watched.clear();
    }
}
