//! The client registry: who is connected, for `CLIENT LIST/INFO/KILL/ID` and INFO's clients
//! section.
//!
//! Every accepted connection gets an entry with a connection id, monotonic from 1 and never
//! reused (Redis's `CLIENT ID`). The entry is removed when the connection ends, even if its task
//! panics (the `Registration` guard's `Drop` does it). The command layer sees its own entry
//! through a [`ClientHandle`] and updates what only it knows (name, db, last command, library).
//!
//! Cost: one uncontended mutex per update of a client's own fields, one registry mutex on
//! connect/disconnect/list. The connection touches only an atomic per read.

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::time::Instant;

use tokio_util::sync::CancellationToken;

use crate::resp::Protocol;

/// The registry of connected clients. Cheap to clone (shared).
#[derive(Clone)]
pub struct Clients {
    inner: Arc<Registry>,
}

struct Registry {
    next_id: AtomicU64,
    table: Mutex<BTreeMap<u64, Arc<Entry>>>,
    connected: AtomicUsize,
    maxclients: AtomicUsize,
    total_received: AtomicU64,
    rejected: AtomicU64,
    /// Origin of the millisecond clocks kept per client.
    epoch: Instant,
}

/// One connected client.
struct Entry {
    id: u64,
    addr: SocketAddr,
    laddr: SocketAddr,
    fd: i64,
    created_ms: u64,
    /// Last time the client sent or was sent something, in ms since the registry's epoch.
    last_active_ms: AtomicU64,
    fields: Mutex<Fields>,
    /// Cancelled to close the connection: by CLIENT KILL, or through its parent, the server's
    /// shutdown token. One token per connection, so the connection loop polls a waiter that no
    /// other task shares.
    kill: CancellationToken,
}

/// What the command layer reports about a client.
#[derive(Debug, Clone)]
struct Fields {
    name: String,
    lib_name: String,
    lib_ver: String,
    db: i64,
    last_command: &'static str,
    resp: u8,
    /// Commands queued in MULTI, or -1 outside MULTI.
    multi: i64,
}

/// A snapshot of one client, as `CLIENT LIST` shows it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ClientInfo {
    pub id: u64,
    pub addr: SocketAddr,
    pub laddr: SocketAddr,
    pub fd: i64,
    pub name: String,
    /// Seconds since the connection was accepted.
    pub age: u64,
    /// Seconds since the client last sent or received anything.
    pub idle: u64,
    pub db: i64,
    /// Queued commands in MULTI, or -1.
    pub multi: i64,
    /// Last command run, lower-case (`get`, `client|list`), or `NULL` before the first.
    pub cmd: &'static str,
    pub resp: u8,
    pub lib_name: String,
    pub lib_ver: String,
}

impl ClientInfo {
    /// The `CLIENT LIST` / `CLIENT INFO` line, without its trailing newline, in Redis 7.2's
    /// field order (7.0 lacks the final `lib-name`/`lib-ver`). Buffer and memory fields we do
    /// not track are reported as Redis reports an idle client.
    pub fn line(&self) -> String {
        let flags = if self.multi >= 0 { "x" } else { "N" };
        let mut s = String::with_capacity(320);
        let _ = write!(
            s,
            "id={} addr={} laddr={} fd={} name={} age={} idle={} flags={} db={} sub=0 psub=0 \
             ssub=0 multi={} qbuf=0 qbuf-free=20474 argv-mem=0 multi-mem=0 rbs=1024 rbp=0 obl=0 \
             oll=0 omem=0 tot-mem=22272 events=r cmd={} user=default redir=-1 resp={} \
             lib-name={} lib-ver={}",
            self.id,
            self.addr,
            self.laddr,
            self.fd,
            self.name,
            self.age,
            self.idle,
            flags,
            self.db,
            self.multi,
            self.cmd,
            self.resp,
            self.lib_name,
            self.lib_ver,
        );
        s
    }
}

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    // A panic while holding one of these locks cannot leave the data half-updated (every
    // critical section is a plain assignment or a map insert/remove), so poisoning is ignored.
    m.lock().unwrap_or_else(PoisonError::into_inner)
}

impl Clients {
    /// An empty registry admitting at most `maxclients` connections.
    pub fn new(maxclients: usize) -> Self {
        Clients {
            inner: Arc::new(Registry {
                next_id: AtomicU64::new(1),
                table: Mutex::new(BTreeMap::new()),
                connected: AtomicUsize::new(0),
                maxclients: AtomicUsize::new(maxclients),
                total_received: AtomicU64::new(0),
                rejected: AtomicU64::new(0),
                epoch: Instant::now(),
            }),
        }
    }

    /// `connected_clients`.
    pub fn connected(&self) -> usize {
        self.inner.connected.load(Ordering::Relaxed)
    }

    /// `maxclients`.
    pub fn maxclients(&self) -> usize {
        self.inner.maxclients.load(Ordering::Relaxed)
    }

    /// `CONFIG SET maxclients`: applies to connections accepted from now on (existing ones stay,
    /// as in Redis).
    pub fn set_maxclients(&self, n: usize) {
        self.inner.maxclients.store(n, Ordering::Relaxed);
    }

    /// `total_connections_received` (rejected ones included, as in Redis).
    pub fn total_connections_received(&self) -> u64 {
        self.inner.total_received.load(Ordering::Relaxed)
    }

    /// `rejected_connections` (refused by `maxclients`).
    pub fn rejected_connections(&self) -> u64 {
        self.inner.rejected.load(Ordering::Relaxed)
    }

    /// Snapshots of all clients, by id.
    pub fn list(&self) -> Vec<ClientInfo> {
        let now = self.now_ms();
        lock(&self.inner.table)
            .values()
            .map(|e| e.info(now))
            .collect()
    }

    /// The snapshot of client `id`, if connected.
    pub fn get(&self, id: u64) -> Option<ClientInfo> {
        let now = self.now_ms();
        lock(&self.inner.table).get(&id).map(|e| e.info(now))
    }

    /// `CLIENT LIST` text: one line per client, each ending in `\n`.
    pub fn list_text(&self) -> String {
        self.list().iter().fold(String::new(), |mut out, c| {
            out.push_str(&c.line());
            out.push('\n');
            out
        })
    }

    /// Closes client `id` (`CLIENT KILL ID`). False if no such client. The connection stops at
    /// once: replies already encoded are sent best-effort, pending ones are dropped.
    pub fn kill(&self, id: u64) -> bool {
        match lock(&self.inner.table).get(&id) {
            Some(e) => {
                e.kill.cancel();
                true
            }
            None => false,
        }
    }

    /// Closes every client `pred` selects (the filters of `CLIENT KILL`); returns how many.
    pub fn kill_where(&self, pred: impl Fn(&ClientInfo) -> bool) -> usize {
        let now = self.now_ms();
        let table = lock(&self.inner.table);
        let mut n = 0;
        for e in table.values() {
            if pred(&e.info(now)) {
                e.kill.cancel();
                n += 1;
            }
        }
        n
    }

    /// Counts a connection refused by `maxclients`.
    pub(crate) fn note_rejected(&self) {
        self.inner.total_received.fetch_add(1, Ordering::Relaxed);
        self.inner.rejected.fetch_add(1, Ordering::Relaxed);
    }

    /// Admits a connection: assigns its id and lists it until the guard is dropped. Its kill
    /// token is a child of `shutdown`.
    pub(crate) fn register(
        &self,
        addr: SocketAddr,
        laddr: SocketAddr,
        fd: i64,
        shutdown: &CancellationToken,
    ) -> Registration {
        let now = self.now_ms();
        let entry = Arc::new(Entry {
            id: self.inner.next_id.fetch_add(1, Ordering::Relaxed),
            addr,
            laddr,
            fd,
            created_ms: now,
            last_active_ms: AtomicU64::new(now),
            fields: Mutex::new(Fields {
                name: String::new(),
                lib_name: String::new(),
                lib_ver: String::new(),
                db: 0,
                last_command: "NULL",
                resp: 2,
                multi: -1,
            }),
            kill: shutdown.child_token(),
        });
        lock(&self.inner.table).insert(entry.id, entry.clone());
        self.inner.connected.fetch_add(1, Ordering::Relaxed);
        self.inner.total_received.fetch_add(1, Ordering::Relaxed);
        Registration {
            handle: ClientHandle {
                entry,
                clients: self.clone(),
            },
        }
    }

    fn now_ms(&self) -> u64 {
        u64::try_from(self.inner.epoch.elapsed().as_millis()).unwrap_or(u64::MAX)
    }
}

impl Entry {
    fn info(&self, now_ms: u64) -> ClientInfo {
        let f = lock(&self.fields).clone();
        let last = self.last_active_ms.load(Ordering::Relaxed);
        ClientInfo {
            id: self.id,
            addr: self.addr,
            laddr: self.laddr,
            fd: self.fd,
            name: f.name,
            age: now_ms.saturating_sub(self.created_ms) / 1000,
            idle: now_ms.saturating_sub(last) / 1000,
            db: f.db,
            multi: f.multi,
            cmd: f.last_command,
            resp: f.resp,
            lib_name: f.lib_name,
            lib_ver: f.lib_ver,
        }
    }
}

/// Keeps a client listed; dropping it (connection end, or its task unwinding) unlists it.
pub(crate) struct Registration {
    pub(crate) handle: ClientHandle,
}

impl Drop for Registration {
    fn drop(&mut self) {
        let reg = &self.handle.clients.inner;
        if lock(&reg.table).remove(&self.handle.entry.id).is_some() {
            reg.connected.fetch_sub(1, Ordering::Relaxed);
        }
    }
}

/// One client's view of itself, given to the command layer at connect time. Cheap to clone.
#[derive(Clone)]
pub struct ClientHandle {
    entry: Arc<Entry>,
    clients: Clients,
}

impl ClientHandle {
    /// `CLIENT ID`.
    pub fn id(&self) -> u64 {
        self.entry.id
    }

    /// The client's address.
    pub fn addr(&self) -> SocketAddr {
        self.entry.addr
    }

    /// The local address the client connected to.
    pub fn laddr(&self) -> SocketAddr {
        self.entry.laddr
    }

    /// `CLIENT GETNAME` (empty when unset).
    pub fn name(&self) -> String {
        lock(&self.entry.fields).name.clone()
    }

    /// `CLIENT SETNAME` (validation, e.g. no spaces, is the caller's).
    pub fn set_name(&self, name: impl Into<String>) {
        lock(&self.entry.fields).name = name.into();
    }

    /// `CLIENT SETINFO LIB-NAME`.
    pub fn set_lib_name(&self, v: impl Into<String>) {
        lock(&self.entry.fields).lib_name = v.into();
    }

    /// `CLIENT SETINFO LIB-VER`.
    pub fn set_lib_ver(&self, v: impl Into<String>) {
        lock(&self.entry.fields).lib_ver = v.into();
    }

    /// `SELECT`.
    pub fn set_db(&self, db: i64) {
        lock(&self.entry.fields).db = db;
    }

    /// The command just run, lower-case, `container|sub` for subcommands (`cmd=` field).
    pub fn set_last_command(&self, cmd: &'static str) {
        lock(&self.entry.fields).last_command = cmd;
    }

    /// `Some(queued)` inside MULTI, `None` outside (`flags=x`, `multi=`).
    pub fn set_multi(&self, queued: Option<usize>) {
        lock(&self.entry.fields).multi =
            queued.map_or(-1, |n| i64::try_from(n).unwrap_or(i64::MAX));
    }

    /// After each command, in one lock: its name (`cmd=`), the selected db, and `Some(queued)`
    /// inside MULTI.
    pub fn set_command_state(&self, cmd: &'static str, db: i64, multi: Option<usize>) {
        let mut f = lock(&self.entry.fields);
        f.last_command = cmd;
        f.db = db;
        f.multi = multi.map_or(-1, |n| i64::try_from(n).unwrap_or(i64::MAX));
    }

    /// Kept current by the connection after each command (`resp=` field).
    pub(crate) fn set_resp(&self, proto: Protocol) {
        lock(&self.entry.fields).resp = proto.version();
    }

    /// Marks activity now (`idle=` field).
    pub(crate) fn touch(&self) {
        let now = self.clients.now_ms();
        self.entry.last_active_ms.store(now, Ordering::Relaxed);
    }

    /// `CLIENT INFO`: a snapshot of this client (`.line()` renders it).
    pub fn info(&self) -> ClientInfo {
        self.entry.info(self.clients.now_ms())
    }

    /// The registry, for `CLIENT LIST`, `CLIENT KILL` and INFO.
    pub fn clients(&self) -> &Clients {
        &self.clients
    }

    /// Closes this connection (as `CLIENT KILL` on itself): replies already produced are still
    /// sent, best-effort.
    pub fn kill(&self) {
        self.entry.kill.cancel();
    }

    /// Cancelled when the client is killed or the server shuts down.
    pub(crate) fn kill_token(&self) -> &CancellationToken {
        &self.entry.kill
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn addr(port: u16) -> SocketAddr {
        SocketAddr::from(([127, 0, 0, 1], port))
    }

    #[test]
    fn ids_are_monotonic_and_entries_leave_on_drop() {
        let clients = Clients::new(10);
        let root = CancellationToken::new();
        let a = clients.register(addr(1000), addr(6379), 7, &root);
        let b = clients.register(addr(1001), addr(6379), 8, &root);
        assert_eq!((a.handle.id(), b.handle.id()), (1, 2));
        assert_eq!(clients.connected(), 2);
        drop(a);
        assert_eq!(clients.connected(), 1);
        let c = clients.register(addr(1002), addr(6379), 9, &root);
        assert_eq!(c.handle.id(), 3);
        assert_eq!(
            clients.list().iter().map(|c| c.id).collect::<Vec<_>>(),
            vec![2, 3]
        );
        assert_eq!(clients.total_connections_received(), 3);
    }

    #[test]
    fn line_matches_redis_format() {
        let clients = Clients::new(10);
        let root = CancellationToken::new();
        let r = clients.register(addr(50382), addr(6379), 8, &root);
        r.handle.set_last_command("client|info");
        r.handle.set_name("worker");
        let line = r.handle.info().line();
        assert_eq!(
            line,
            "id=1 addr=127.0.0.1:50382 laddr=127.0.0.1:6379 fd=8 name=worker age=0 idle=0 flags=N \
             db=0 sub=0 psub=0 ssub=0 multi=-1 qbuf=0 qbuf-free=20474 argv-mem=0 multi-mem=0 \
             rbs=1024 rbp=0 obl=0 oll=0 omem=0 tot-mem=22272 events=r cmd=client|info \
             user=default redir=-1 resp=2 lib-name= lib-ver="
        );
        r.handle.set_multi(Some(2));
        r.handle.set_db(3);
        r.handle.set_resp(Protocol::Resp3);
        let line = r.handle.info().line();
        assert!(
            line.contains(" flags=x db=3 ")
                && line.contains(" multi=2 ")
                && line.contains(" resp=3 ")
        );
        assert!(clients.list_text().ends_with("lib-ver=\n"));
    }

    #[test]
    fn kill_cancels_the_token() {
        let clients = Clients::new(10);
        let root = CancellationToken::new();
        let a = clients.register(addr(1), addr(2), 1, &root);
        let b = clients.register(addr(3), addr(2), 2, &root);
        assert!(clients.kill(a.handle.id()));
        assert!(a.handle.kill_token().is_cancelled());
        assert!(!b.handle.kill_token().is_cancelled());
        assert!(!clients.kill(99));
        assert_eq!(clients.kill_where(|c| c.addr == addr(3)), 1);
        assert!(b.handle.kill_token().is_cancelled());
        let c = clients.register(addr(4), addr(2), 3, &root);
        root.cancel();
        assert!(
            c.handle.kill_token().is_cancelled(),
            "shutdown reaches every client"
        );
    }
}
