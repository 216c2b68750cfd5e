//! Raw-byte tests of the front end (`sporedb::server` + `sporedb::resp`) over real TCP.
//!
//! Each test starts a `Listener` on 127.0.0.1:0 with `KvService`, a **test-only** service
//! defined below (PING/ECHO/GET/SET/AUTH/HELLO/QUIT/CLIENT over a HashMap, nothing to do with
//! sporedb's real command layer), writes raw bytes and asserts raw replies. SET is deferred like
//! a sporedb write: its reply (and its effect) only lands after a delay, applied in submission
//! order, so ordering bugs in the pipeline show up as wrong replies.
//!
//! Every server is shut down when its `TestServer` is dropped, and every read has a timeout.

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use bytes::Bytes;
use sporedb::error::RedisError;
use sporedb::reply::Reply;
use sporedb::resp::Protocol;
use sporedb::server::{ClientHandle, Clients, Listener, Outcome, ServerConfig, Service};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio::sync::watch;
use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;

// ---------------------------------------------------------------------------------------------
// Test scaffolding: a toy key-value service.
// ---------------------------------------------------------------------------------------------

#[derive(Default)]
struct KvService {
    store: Arc<Mutex<HashMap<Bytes, Bytes>>>,
    password: Option<&'static str>,
    /// How long a SET takes to "commit".
    write_delay: Duration,
    /// Submission tickets, and the last ticket applied: writes apply in submission order.
    next_ticket: AtomicU64,
    applied: Arc<Mutex<Option<watch::Sender<u64>>>>,
    in_flight: Arc<AtomicUsize>,
    max_in_flight: Arc<AtomicUsize>,
}

struct KvSession {
    client: ClientHandle,
    proto: Protocol,
    authed: bool,
}

impl KvService {
    fn new() -> Self {
        let (tx, _) = watch::channel(0);
        KvService {
            applied: Arc::new(Mutex::new(Some(tx))),
            ..KvService::default()
        }
    }

    fn with_delay(ms: u64) -> Self {
        KvService {
            write_delay: Duration::from_millis(ms),
            ..KvService::new()
        }
    }

    fn with_password(pw: &'static str) -> Self {
        KvService {
            password: Some(pw),
            ..KvService::new()
        }
    }

    /// A deferred SET: counted in flight now, applied after the delay in ticket order.
    fn set(&self, key: &Bytes, value: &Bytes) -> Outcome {
        let ticket = self.next_ticket.fetch_add(1, Ordering::SeqCst) + 1;
        let n = self.in_flight.fetch_add(1, Ordering::SeqCst) + 1;
        self.max_in_flight.fetch_max(n, Ordering::SeqCst);
        let store = self.store.clone();
        let in_flight = self.in_flight.clone();
        let applied = self.applied.lock().unwrap().as_ref().unwrap().clone();
        let delay = self.write_delay;
        // Values are copied: argv shares the connection's read buffer.
        let (key, value) = (Bytes::copy_from_slice(key), Bytes::copy_from_slice(value));
        Outcome::Deferred(Box::pin(async move {
            tokio::time::sleep(delay).await;
            let mut rx = applied.subscribe();
            let _ = rx.wait_for(|last| *last + 1 >= ticket).await;
            store.lock().unwrap().insert(key, value);
            applied.send_replace(ticket);
            in_flight.fetch_sub(1, Ordering::SeqCst);
            Reply::OK
        }))
    }

    fn client_cmd(&self, s: &mut KvSession, argv: &[Bytes]) -> Reply {
        let sub = argv
            .get(1)
            .map(|a| a.to_ascii_lowercase())
            .unwrap_or_default();
        match (&sub[..], argv.len()) {
            (b"id", 2) => Reply::Int(s.client.id() as i64),
            (b"setname", 3) => {
                s.client.set_name(String::from_utf8_lossy(&argv[2]));
                Reply::OK
            }
            (b"info", 2) => Reply::Verbatim(format!("{}\n", s.client.info().line())),
            (b"list", 2) => Reply::Verbatim(s.client.clients().list_text()),
            (b"kill", 4) if argv[2].eq_ignore_ascii_case(b"id") => {
                let id = std::str::from_utf8(&argv[3])
                    .ok()
                    .and_then(|t| t.parse().ok());
                Reply::Int(id.map_or(0, |id| s.client.clients().kill(id) as i64))
            }
            _ => RedisError::Syntax.into(),
        }
    }
}

fn text(b: &[u8]) -> String {
    String::from_utf8_lossy(b).into_owned()
}

impl Service for KvService {
    type Session = KvSession;

    fn open(&self, client: ClientHandle) -> KvSession {
        KvSession {
            client,
            proto: Protocol::Resp2,
            authed: false,
        }
    }

    fn dispatch(&self, s: &mut KvSession, argv: Vec<Bytes>) -> Outcome {
        let name = argv[0].to_ascii_lowercase();
        if self.password.is_some() && !s.authed && !matches!(&name[..], b"auth" | b"quit") {
            return Outcome::Reply(RedisError::NoAuth.into());
        }
        let reply = match (&name[..], argv.len()) {
            (b"ping", 1) => Reply::Simple("PONG"),
            (b"ping", 2) | (b"echo", 2) => Reply::Bulk(argv[1].clone()),
            (b"get", 2) => self
                .store
                .lock()
                .unwrap()
                .get(&argv[1])
                .cloned()
                .map_or(Reply::Nil, Reply::Bulk),
            (b"set", 3) => return self.set(&argv[1], &argv[2]),
            (b"quit", 1) => return Outcome::Close(Reply::OK),
            (b"auth", 2) if Some(&argv[1][..]) == self.password.map(str::as_bytes) => {
                s.authed = true;
                Reply::OK
            }
            (b"auth", 2) => RedisError::WrongPass.into(),
            (b"hello", 2) => {
                s.proto = if &argv[1][..] == b"3" {
                    Protocol::Resp3
                } else {
                    Protocol::Resp2
                };
                Reply::Map(vec![(
                    Reply::bulk("proto"),
                    Reply::Int(s.proto.version() as i64),
                )])
            }
            (b"map", 1) => Reply::Map(vec![(Reply::bulk("k"), Reply::Bool(true))]),
            (b"big", 2) => {
                let n: usize = text(&argv[1]).parse().unwrap_or(0);
                Reply::Bulk(Bytes::from(vec![b'x'; n]))
            }
            (b"client", _) => self.client_cmd(s, &argv),
            (b"ping" | b"echo" | b"get" | b"set" | b"quit" | b"auth" | b"hello", _) => {
                RedisError::arity(&text(&argv[0])).into()
            }
            _ => RedisError::UnknownCommand {
                name: text(&argv[0]),
                args: argv[1..].iter().map(|a| text(a)).collect(),
            }
            .into(),
        };
        s.client.set_last_command(match &name[..] {
            b"client" => "client|info",
            b"get" => "get",
            _ => "ping",
        });
        Outcome::Reply(reply)
    }

    fn protocol(&self, s: &KvSession) -> Protocol {
        s.proto
    }

    fn authenticated(&self, s: &KvSession) -> bool {
        self.password.is_none() || s.authed
    }

    fn is_barrier_free(&self, _s: &KvSession, argv: &[Bytes]) -> bool {
        argv[0].eq_ignore_ascii_case(b"set") || argv[0].eq_ignore_ascii_case(b"echo")
    }
}

// ---------------------------------------------------------------------------------------------
// Harness
// ---------------------------------------------------------------------------------------------

const TIMEOUT: Duration = Duration::from_secs(5);

struct TestServer {
    addr: SocketAddr,
    clients: Clients,
    service: Arc<KvService>,
    shutdown: CancellationToken,
    task: Option<JoinHandle<()>>,
}

impl TestServer {
    async fn start(service: KvService) -> TestServer {
        TestServer::start_with(service, ServerConfig::default()).await
    }

    async fn start_with(service: KvService, mut config: ServerConfig) -> TestServer {
        config.bind = SocketAddr::from(([127, 0, 0, 1], 0));
        let service = Arc::new(service);
        let listener = Listener::bind(config, service.clone()).await.expect("bind");
        let addr = listener.local_addr().unwrap();
        let clients = listener.clients().clone();
        let shutdown = CancellationToken::new();
        let task = tokio::spawn(listener.run(shutdown.clone()));
        TestServer {
            addr,
            clients,
            service,
            shutdown,
            task: Some(task),
        }
    }

    async fn connect(&self) -> TcpStream {
        let s = TcpStream::connect(self.addr).await.expect("connect");
        s.set_nodelay(true).unwrap();
        s
    }

    /// Stops the server and waits until the listener and every connection are gone.
    async fn stop(mut self) {
        self.shutdown.cancel();
        if let Some(task) = self.task.take() {
            tokio::time::timeout(TIMEOUT, task)
                .await
                .expect("listener stops")
                .expect("no panic");
        }
    }
}

impl Drop for TestServer {
    fn drop(&mut self) {
        // A test that fails before `stop` still shuts its server down.
        self.shutdown.cancel();
    }
}

async fn send(s: &mut TcpStream, bytes: &[u8]) {
    s.write_all(bytes).await.expect("write");
}

/// Reads exactly `want.len()` bytes and compares them.
async fn expect(s: &mut TcpStream, want: &[u8]) {
    let mut got = vec![0u8; want.len()];
    match tokio::time::timeout(TIMEOUT, s.read_exact(&mut got)).await {
        Ok(Ok(_)) => assert_eq!(text(&got), text(want)),
        other => panic!("reading {:?}: {other:?}", text(want)),
    }
}

/// The server closed the connection (after everything already expected).
async fn expect_eof(s: &mut TcpStream) {
    let mut byte = [0u8; 1];
    match tokio::time::timeout(TIMEOUT, s.read(&mut byte)).await {
        Ok(Ok(0)) | Ok(Err(_)) => {}
        other => panic!(
            "expected the connection closed, got {other:?} {:?}",
            text(&byte)
        ),
    }
}

async fn roundtrip(s: &mut TcpStream, req: &[u8], reply: &[u8]) {
    send(s, req).await;
    expect(s, reply).await;
}

fn cmd(args: &[&[u8]]) -> Vec<u8> {
    let mut out = format!("*{}\r\n", args.len()).into_bytes();
    for a in args {
        out.extend_from_slice(format!("${}\r\n", a.len()).as_bytes());
        out.extend_from_slice(a);
        out.extend_from_slice(b"\r\n");
    }
    out
}

async fn wait_until(what: &str, cond: impl Fn() -> bool) {
    let deadline = tokio::time::Instant::now() + TIMEOUT;
    while !cond() {
        assert!(
            tokio::time::Instant::now() < deadline,
            "timed out waiting for {what}"
        );
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
}

// ---------------------------------------------------------------------------------------------
// Tests
// ---------------------------------------------------------------------------------------------

#[tokio::test]
async fn multibulk_and_inline_commands() {
    let srv = TestServer::start(KvService::new()).await;
    let mut c = srv.connect().await;
    roundtrip(&mut c, &cmd(&[b"PING"]), b"+PONG\r\n").await;
    roundtrip(&mut c, b"PING\r\n", b"+PONG\r\n").await;
    roundtrip(&mut c, b"SET a b\n", b"+OK\r\n").await;
    roundtrip(&mut c, b"GET a\r\n", b"$1\r\nb\r\n").await;
    roundtrip(&mut c, b"ECHO \"x y\\n\"\r\n", b"$4\r\nx y\n\r\n").await;
    // Blank lines are skipped, empty multibulks too.
    roundtrip(&mut c, b"\r\n\n  \r\n*0\r\n*-1\r\nPING\r\n", b"+PONG\r\n").await;
    srv.stop().await;
}

#[tokio::test]
async fn pipelined_replies_come_back_in_request_order() {
    let srv = TestServer::start(KvService::with_delay(20)).await;
    let mut c = srv.connect().await;
    let mut req = Vec::new();
    for part in [
        cmd(&[b"SET", b"k1", b"v1"]),
        cmd(&[b"GET", b"k1"]),
        cmd(&[b"ECHO", b"e"]),
        cmd(&[b"SET", b"k2", b"v2"]),
        b"ECHO f\r\n".to_vec(),
        cmd(&[b"GET", b"k2"]),
        cmd(&[b"NOPE"]),
        cmd(&[b"PING"]),
    ] {
        req.extend_from_slice(&part);
    }
    send(&mut c, &req).await;
    expect(
        &mut c,
        b"+OK\r\n$2\r\nv1\r\n$1\r\ne\r\n+OK\r\n$1\r\nf\r\n$2\r\nv2\r\n\
          -ERR unknown command 'NOPE', with args beginning with: \r\n+PONG\r\n",
    )
    .await;
    srv.stop().await;
}

#[tokio::test]
async fn requests_split_at_every_byte() {
    let srv = TestServer::start(KvService::new()).await;
    let mut c = srv.connect().await;
    let mut req = cmd(&[b"SET", b"key", b"a\r\nb"]);
    req.extend_from_slice(b"GET key\r\n");
    req.extend_from_slice(&cmd(&[b"GET", b"key"]));
    for b in &req {
        send(&mut c, std::slice::from_ref(b)).await;
        tokio::task::yield_now().await;
    }
    expect(&mut c, b"+OK\r\n$4\r\na\r\nb\r\n$4\r\na\r\nb\r\n").await;
    srv.stop().await;
}

#[tokio::test]
async fn a_read_after_a_deferred_write_sees_it() {
    let srv = TestServer::start(KvService::with_delay(100)).await;
    let mut c = srv.connect().await;
    roundtrip(
        &mut c,
        b"SET x 1\r\nGET x\r\nSET x 2\r\nGET x\r\n",
        b"+OK\r\n$1\r\n1\r\n+OK\r\n$1\r\n2\r\n",
    )
    .await;
    srv.stop().await;
}

#[tokio::test]
async fn consecutive_writes_are_dispatched_back_to_back() {
    let srv = TestServer::start(KvService::with_delay(100)).await;
    let mut c = srv.connect().await;
    let start = tokio::time::Instant::now();
    let req: Vec<u8> = (0..5)
        .flat_map(|i| format!("SET k{i} v\r\n").into_bytes())
        .collect();
    roundtrip(&mut c, &req, &b"+OK\r\n".repeat(5)).await;
    assert_eq!(
        srv.service.max_in_flight.load(Ordering::SeqCst),
        5,
        "writes were awaited one by one"
    );
    assert!(
        start.elapsed() < Duration::from_millis(450),
        "took {:?}",
        start.elapsed()
    );
    // Writes to one key apply in submission order.
    roundtrip(
        &mut c,
        b"SET k a\r\nSET k b\r\nSET k c\r\nGET k\r\n",
        b"+OK\r\n+OK\r\n+OK\r\n$1\r\nc\r\n",
    )
    .await;
    srv.stop().await;
}

#[tokio::test]
async fn ready_replies_wait_behind_deferred_ones() {
    let srv = TestServer::start(KvService::with_delay(100)).await;
    let mut c = srv.connect().await;
    // ECHO is barrier-free, so it runs at once, but its reply must follow SET's.
    roundtrip(
        &mut c,
        b"SET a 1\r\nECHO hi\r\nPING\r\n",
        b"+OK\r\n$2\r\nhi\r\n+PONG\r\n",
    )
    .await;
    srv.stop().await;
}

#[tokio::test]
async fn protocol_error_replies_then_closes() {
    let srv = TestServer::start(KvService::with_delay(50)).await;
    let cases: &[(&[u8], &[u8])] = &[
        (
            b"PING\r\n*1\r\n$x\r\n",
            b"+PONG\r\n-ERR Protocol error: invalid bulk length\r\n",
        ),
        (
            b"SET a 1\r\n*x\r\nPING\r\n",
            b"+OK\r\n-ERR Protocol error: invalid multibulk length\r\n",
        ),
        (
            b"*1\r\n:1\r\n",
            b"-ERR Protocol error: expected '$', got ':'\r\n",
        ),
        (
            b"ECHO \"unclosed\r\n",
            b"-ERR Protocol error: unbalanced quotes in request\r\n",
        ),
        (
            b"*3000000000\r\n",
            b"-ERR Protocol error: invalid multibulk length\r\n",
        ),
        (
            b"*1\r\n$536870913\r\n",
            b"-ERR Protocol error: invalid bulk length\r\n",
        ),
    ];
    for (req, reply) in cases {
        let mut c = srv.connect().await;
        roundtrip(&mut c, req, reply).await;
        expect_eof(&mut c).await;
    }
    let mut c = srv.connect().await;
    send(&mut c, &vec![b'A'; 70 * 1024]).await;
    expect(&mut c, b"-ERR Protocol error: too big inline request\r\n").await;
    expect_eof(&mut c).await;
    srv.stop().await;
}

#[tokio::test]
async fn command_errors_keep_the_connection() {
    let srv = TestServer::start(KvService::new()).await;
    let mut c = srv.connect().await;
    roundtrip(
        &mut c,
        b"FOO bar\r\nGET\r\nPING\r\n",
        b"-ERR unknown command 'FOO', with args beginning with: 'bar' \r\n\
          -ERR wrong number of arguments for 'get' command\r\n+PONG\r\n",
    )
    .await;
    srv.stop().await;
}

#[tokio::test]
async fn quit_replies_then_closes() {
    let srv = TestServer::start(KvService::with_delay(50)).await;
    let mut c = srv.connect().await;
    roundtrip(&mut c, b"SET q 1\r\nQUIT\r\nPING\r\n", b"+OK\r\n+OK\r\n").await;
    expect_eof(&mut c).await;
    srv.stop().await;
}

#[tokio::test]
async fn maxclients_refuses_extra_connections() {
    let config = ServerConfig {
        maxclients: 2,
        ..ServerConfig::default()
    };
    let srv = TestServer::start_with(KvService::new(), config).await;
    let mut a = srv.connect().await;
    let mut b = srv.connect().await;
    roundtrip(&mut a, b"PING\r\n", b"+PONG\r\n").await;
    roundtrip(&mut b, b"PING\r\n", b"+PONG\r\n").await;
    let mut c = srv.connect().await;
    expect(&mut c, b"-ERR max number of clients reached\r\n").await;
    expect_eof(&mut c).await;
    assert_eq!(srv.clients.rejected_connections(), 1);
    drop(a);
    wait_until("a slot frees", || srv.clients.connected() == 1).await;
    let mut d = srv.connect().await;
    roundtrip(&mut d, b"PING\r\n", b"+PONG\r\n").await;
    assert_eq!(srv.clients.total_connections_received(), 4);
    srv.stop().await;
}

/// Connections handed to worker runtimes (the node's thread-per-core front end) behave the
/// same: pipelining with deferred replies, several clients, kill, and a shutdown that waits
/// for them.
#[tokio::test]
async fn connections_served_by_worker_runtimes() {
    let stop = CancellationToken::new();
    let mut handles = Vec::new();
    let mut threads = Vec::new();
    for _ in 0..2 {
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap();
        handles.push(rt.handle().clone());
        let stop = stop.clone();
        threads.push(std::thread::spawn(move || rt.block_on(stop.cancelled())));
    }
    let config = ServerConfig {
        workers: handles,
        ..ServerConfig::default()
    };
    let srv = TestServer::start_with(KvService::with_delay(20), config).await;
    let mut conns = Vec::new();
    for i in 0..4 {
        let mut c = srv.connect().await;
        let req = format!("SET k{i} v{i}\r\nSET k{i} w{i}\r\nGET k{i}\r\nPING\r\n");
        let want = format!("+OK\r\n+OK\r\n$2\r\nw{i}\r\n+PONG\r\n");
        roundtrip(&mut c, req.as_bytes(), want.as_bytes()).await;
        conns.push(c);
    }
    assert_eq!(srv.clients.connected(), 4);
    let first = srv.clients.list()[0].id;
    assert!(srv.clients.kill(first));
    expect_eof(&mut conns[0]).await;
    wait_until("the killed client is gone", || srv.clients.connected() == 3).await;
    roundtrip(&mut conns[1], b"GET k1\r\n", b"$2\r\nw1\r\n").await;
    srv.stop().await;
    for c in conns.iter_mut().skip(1) {
        expect_eof(c).await;
    }
    stop.cancel();
    for t in threads {
        t.join().unwrap();
    }
}

#[tokio::test]
async fn unauthenticated_clients_get_small_limits() {
    let srv = TestServer::start(KvService::with_password("pw")).await;
    let mut c = srv.connect().await;
    roundtrip(&mut c, b"PING\r\n", b"-NOAUTH Authentication required.\r\n").await;
    roundtrip(
        &mut c,
        b"*11\r\n",
        b"-ERR Protocol error: unauthenticated multibulk length\r\n",
    )
    .await;
    expect_eof(&mut c).await;
    let mut c = srv.connect().await;
    roundtrip(
        &mut c,
        b"*1\r\n$16385\r\n",
        b"-ERR Protocol error: unauthenticated bulk length\r\n",
    )
    .await;
    expect_eof(&mut c).await;
    // AUTH lifts the limits for the very next request of the same pipeline.
    let mut c = srv.connect().await;
    let mut req = b"AUTH pw\r\n".to_vec();
    req.extend_from_slice(&cmd(&[&b"ECHO"[..]; 11]));
    req.extend_from_slice(&cmd(&[b"ECHO", &[b'v'; 20000]]));
    send(&mut c, &req).await;
    expect(
        &mut c,
        b"+OK\r\n-ERR wrong number of arguments for 'echo' command\r\n$20000\r\n",
    )
    .await;
    expect(&mut c, &[b'v'; 20000]).await;
    expect(&mut c, b"\r\n").await;
    srv.stop().await;
}

#[tokio::test]
async fn hello_3_switches_the_reply_protocol() {
    let srv = TestServer::start(KvService::new()).await;
    let mut c = srv.connect().await;
    roundtrip(
        &mut c,
        b"MAP\r\nGET nothing\r\n",
        b"*2\r\n$1\r\nk\r\n:1\r\n$-1\r\n",
    )
    .await;
    // HELLO's own reply is already RESP3.
    roundtrip(
        &mut c,
        b"HELLO 3\r\nMAP\r\nGET nothing\r\n",
        b"%1\r\n$5\r\nproto\r\n:3\r\n%1\r\n$1\r\nk\r\n#t\r\n_\r\n",
    )
    .await;
    roundtrip(&mut c, b"CLIENT INFO\r\n", b"=").await;
    srv.stop().await;
}

#[tokio::test]
async fn client_registry_list_info_and_kill() {
    let srv = TestServer::start(KvService::new()).await;
    let mut a = srv.connect().await;
    let mut b = srv.connect().await;
    roundtrip(&mut a, b"CLIENT ID\r\n", b":1\r\n").await;
    roundtrip(&mut b, b"CLIENT ID\r\n", b":2\r\n").await;
    roundtrip(&mut a, b"CLIENT SETNAME worker\r\n", b"+OK\r\n").await;

    send(&mut a, b"CLIENT INFO\r\n").await;
    let info = read_bulk(&mut a).await;
    let a_port = a.local_addr().unwrap().port();
    let want_prefix = format!("id=1 addr=127.0.0.1:{a_port} laddr={} fd=", srv.addr);
    assert!(info.starts_with(&want_prefix), "{info}");
    assert!(
        info.contains(
            " name=worker age=0 idle=0 flags=N db=0 sub=0 psub=0 ssub=0 multi=-1 qbuf=0 "
        ),
        "{info}"
    );
    assert!(
        info.ends_with(" cmd=client|info user=default redir=-1 resp=2 lib-name= lib-ver=\n"),
        "{info}"
    );

    send(&mut b, b"CLIENT LIST\r\n").await;
    let list = read_bulk(&mut b).await;
    let ids: Vec<&str> = list.lines().map(|l| l.split(' ').next().unwrap()).collect();
    assert_eq!(ids, ["id=1", "id=2"], "{list}");

    roundtrip(&mut b, b"CLIENT KILL ID 1\r\n", b":1\r\n").await;
    expect_eof(&mut a).await;
    wait_until("the killed client leaves", || srv.clients.connected() == 1).await;
    roundtrip(&mut b, b"CLIENT KILL ID 1\r\n", b":0\r\n").await;
    // Killing yourself still delivers the reply.
    roundtrip(&mut b, b"CLIENT KILL ID 2\r\n", b":1\r\n").await;
    expect_eof(&mut b).await;
    srv.stop().await;
}

async fn read_bulk(s: &mut TcpStream) -> String {
    let mut header = Vec::new();
    let mut byte = [0u8; 1];
    while !header.ends_with(b"\r\n") {
        tokio::time::timeout(TIMEOUT, s.read_exact(&mut byte))
            .await
            .unwrap()
            .unwrap();
        header.push(byte[0]);
    }
    let len: usize = text(&header[1..header.len() - 2]).parse().unwrap();
    let mut body = vec![0u8; len + 2];
    tokio::time::timeout(TIMEOUT, s.read_exact(&mut body))
        .await
        .unwrap()
        .unwrap();
    body.truncate(len);
    text(&body)
}

#[tokio::test]
async fn shutdown_delivers_replies_in_progress_then_closes() {
    let srv = TestServer::start(KvService::with_delay(200)).await;
    let mut idle = srv.connect().await;
    roundtrip(&mut idle, b"PING\r\n", b"+PONG\r\n").await;
    let mut busy = srv.connect().await;
    send(&mut busy, b"SET a 1\r\n").await;
    wait_until("the write is in flight", || {
        srv.service.in_flight.load(Ordering::SeqCst) == 1
    })
    .await;
    let clients = srv.clients.clone();
    srv.stop().await;
    expect(&mut busy, b"+OK\r\n").await;
    expect_eof(&mut busy).await;
    expect_eof(&mut idle).await;
    assert_eq!(clients.connected(), 0);
}

#[tokio::test]
async fn large_arguments_and_replies() {
    let srv = TestServer::start(KvService::new()).await;
    let mut c = srv.connect().await;
    let value: Vec<u8> = (0..3_000_000u32).map(|i| (i % 251) as u8).collect();
    let mut want = b"+OK\r\n$3000000\r\n".to_vec();
    want.extend_from_slice(&value);
    want.extend_from_slice(b"\r\n");
    let mut req = cmd(&[b"SET", b"big", &value]);
    req.extend_from_slice(&cmd(&[b"GET", b"big"]));
    send(&mut c, &req).await;
    expect(&mut c, &want).await;
    srv.stop().await;
}

#[tokio::test]
async fn a_client_that_reads_late_gets_everything_in_order() {
    // Output pauses at 64 KiB: the server stops executing until the client reads, instead of
    // buffering 8 MiB of replies.
    let config = ServerConfig {
        output_pause_bytes: 64 * 1024,
        output_limit_bytes: 1024 * 1024,
        ..ServerConfig::default()
    };
    let srv = TestServer::start_with(KvService::new(), config).await;
    let mut c = srv.connect().await;
    let req: Vec<u8> = (0..128)
        .flat_map(|i| format!("BIG {}\r\n", 65536 + i).into_bytes())
        .collect();
    send(&mut c, &req).await;
    tokio::time::sleep(Duration::from_millis(300)).await;
    for i in 0..128 {
        let n = 65536 + i;
        expect(&mut c, format!("${n}\r\n").as_bytes()).await;
        let mut body = vec![0u8; n + 2];
        tokio::time::timeout(TIMEOUT, c.read_exact(&mut body))
            .await
            .unwrap()
            .unwrap();
    }
    roundtrip(&mut c, b"PING\r\n", b"+PONG\r\n").await;
    srv.stop().await;
}

#[tokio::test]
async fn a_client_that_never_reads_is_cut_off_at_the_output_limit() {
    // Pausing disabled, so only the hard limit protects the server.
    let config = ServerConfig {
        output_pause_bytes: usize::MAX,
        output_limit_bytes: 512 * 1024,
        ..ServerConfig::default()
    };
    let srv = TestServer::start_with(KvService::new(), config).await;
    let mut c = srv.connect().await;
    let req: Vec<u8> = b"BIG 65536\r\n".repeat(1024);
    send(&mut c, &req).await;
    wait_until("the server drops the client", || {
        srv.clients.connected() == 0
    })
    .await;
    let mut got = 0usize;
    let mut buf = vec![0u8; 1 << 16];
    loop {
        match tokio::time::timeout(TIMEOUT, c.read(&mut buf))
            .await
            .unwrap()
        {
            Ok(0) | Err(_) => break,
            Ok(n) => got += n,
        }
    }
    assert!(got < 1024 * 65536, "received all {got} bytes");
    srv.stop().await;
}

#[tokio::test]
async fn a_real_client_library_works() {
    let srv = TestServer::start(KvService::with_delay(5)).await;
    let client = redis::Client::open(format!("redis://{}/", srv.addr)).unwrap();
    let mut con = client
        .get_multiplexed_async_connection()
        .await
        .expect("connect");
    let pong: String = redis::cmd("PING").query_async(&mut con).await.unwrap();
    assert_eq!(pong, "PONG");
    let _: () = redis::cmd("SET")
        .arg("lib")
        .arg("value")
        .query_async(&mut con)
        .await
        .unwrap();
    let (a, b): (String, Option<String>) = redis::pipe()
        .cmd("GET")
        .arg("lib")
        .cmd("GET")
        .arg("missing")
        .query_async(&mut con)
        .await
        .unwrap();
    assert_eq!((a.as_str(), b), ("value", None));
    drop(con);
    srv.stop().await;
}
