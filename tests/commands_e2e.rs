//! End to end through the real front end: `Listener` on 127.0.0.1:0 serving `CommandService`
//! over a real `Store` in a temporary directory, talked to with the `redis` crate and raw
//! sockets (to see exact RESP2/RESP3 types).
//!
//! Writes go through `ImmediateWrites`, **test scaffolding** that applies each request at once
//! with the real executor; the node's consensus-backed write path is tested elsewhere.

use std::net::SocketAddr;
use std::sync::Arc;

use sporedb::commands::immediate_writes::ImmediateWrites;
use sporedb::commands::settings::Settings;
use sporedb::commands::{CommandService, NodeStatus, Shared};
use sporedb::node::clock::now_ms;
use sporedb::server::{Listener, ServerConfig};
use sporedb::store::{Store, StoreOptions};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio_util::sync::CancellationToken;

/// A server on a free port; shut down and its data removed on drop.
struct Server {
    addr: SocketAddr,
    shutdown: CancellationToken,
    _dir: tempfile::TempDir,
}

impl Drop for Server {
    fn drop(&mut self) {
        self.shutdown.cancel();
    }
}

async fn server_with(settings: Settings) -> Server {
    let dir = tempfile::tempdir().unwrap();
    let store = Arc::new(
        Store::open(
            dir.path(),
            &StoreOptions {
                map_size: 256 << 20,
            },
        )
        .unwrap(),
    );
    let clock: Arc<dyn Fn() -> u64 + Send + Sync> = Arc::new(now_ms);
    let writes = Arc::new(ImmediateWrites::new(store.clone(), clock.clone()));
    let shared = Arc::new(Shared::new(
        store,
        writes,
        clock,
        settings,
        Arc::new(NodeStatus::default()),
    ));
    let config = ServerConfig {
        bind: SocketAddr::from(([127, 0, 0, 1], 0)),
        ..ServerConfig::default()
    };
    let listener = Listener::bind(config, Arc::new(CommandService::new(shared)))
        .await
        .unwrap();
    let addr = listener.local_addr().unwrap();
    let shutdown = CancellationToken::new();
    tokio::spawn(listener.run(shutdown.clone()));
    Server {
        addr,
        shutdown,
        _dir: dir,
    }
}

/// A `redis` crate connection. Each test write is an fsync'd commit, so a long pipeline takes
/// longer than the crate's default 500 ms response timeout.
async fn connect(client: &redis::Client) -> redis::aio::MultiplexedConnection {
    let config = redis::AsyncConnectionConfig::new()
        .set_response_timeout(Some(std::time::Duration::from_secs(60)));
    client
        .get_multiplexed_async_connection_with_config(&config)
        .await
        .unwrap()
}

async fn server() -> Server {
    server_with(Settings::default()).await
}

/// A raw RESP connection rendering replies in the compat suite's notation.
struct Raw {
    stream: TcpStream,
    buf: Vec<u8>,
}

impl Raw {
    async fn connect(addr: SocketAddr) -> Raw {
        Raw {
            stream: TcpStream::connect(addr).await.unwrap(),
            buf: Vec::new(),
        }
    }

    async fn send(&mut self, parts: &[&str]) {
        let mut out = format!("*{}\r\n", parts.len()).into_bytes();
        for p in parts {
            out.extend_from_slice(format!("${}\r\n{}\r\n", p.len(), p).as_bytes());
        }
        self.stream.write_all(&out).await.unwrap();
    }

    /// Sends a command and renders its reply.
    async fn cmd(&mut self, parts: &[&str]) -> String {
        self.send(parts).await;
        self.reply().await
    }

    async fn line(&mut self) -> String {
        loop {
            if let Some(i) = self.buf.windows(2).position(|w| w == b"\r\n") {
                let line = String::from_utf8_lossy(&self.buf[..i]).into_owned();
                self.buf.drain(..i + 2);
                return line;
            }
            self.fill().await;
        }
    }

    async fn fill(&mut self) {
        let mut chunk = [0u8; 4096];
        let n = self.stream.read(&mut chunk).await.unwrap();
        assert!(n > 0, "connection closed");
        self.buf.extend_from_slice(&chunk[..n]);
    }

    /// Whether the server closed the connection (after any pending bytes).
    async fn closed(&mut self) -> bool {
        let mut chunk = [0u8; 64];
        matches!(
            tokio::time::timeout(
                std::time::Duration::from_secs(5),
                self.stream.read(&mut chunk)
            )
            .await,
            Ok(Ok(0)) | Ok(Err(_))
        )
    }

    fn reply(&mut self) -> std::pin::Pin<Box<dyn std::future::Future<Output = String> + '_>> {
        Box::pin(async move {
            let line = self.line().await;
            let (tag, rest) = line.split_at(1);
            match tag {
                "+" | "-" | ":" | "(" | "," | "#" => line,
                "_" => "_".into(),
                "$" | "=" => {
                    let n: i64 = rest.parse().unwrap();
                    if n < 0 {
                        return "$-1".into();
                    }
                    while self.buf.len() < n as usize + 2 {
                        self.fill().await;
                    }
                    let data = String::from_utf8_lossy(&self.buf[..n as usize]).into_owned();
                    self.buf.drain(..n as usize + 2);
                    if tag == "=" {
                        format!("={data}")
                    } else {
                        format!("'{data}'")
                    }
                }
                "*" | "~" => {
                    let n: i64 = rest.parse().unwrap();
                    if n < 0 {
                        return "*-1".into();
                    }
                    let mut v = Vec::new();
                    for _ in 0..n {
                        v.push(self.reply().await);
                    }
                    let (open, close) = if tag == "*" { ("[", "]") } else { ("~{", "}") };
                    format!("{open}{}{close}", v.join(", "))
                }
                "%" => {
                    let n: usize = rest.parse().unwrap();
                    let mut v = Vec::new();
                    for _ in 0..2 * n {
                        v.push(self.reply().await);
                    }
                    let pairs: Vec<String> =
                        v.chunks(2).map(|p| format!("{}: {}", p[0], p[1])).collect();
                    format!("%{{{}}}", pairs.join(", "))
                }
                _ => panic!("unexpected reply line {line:?}"),
            }
        })
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn strings_through_the_redis_crate() {
    let s = server().await;
    let client = redis::Client::open(format!("redis://{}/", s.addr)).unwrap();
    let mut con = connect(&client).await;
    let ok: String = redis::cmd("SET")
        .arg("k")
        .arg("v")
        .query_async(&mut con)
        .await
        .unwrap();
    assert_eq!(ok, "OK");
    let v: Option<String> = redis::cmd("GET")
        .arg("k")
        .query_async(&mut con)
        .await
        .unwrap();
    assert_eq!(v.as_deref(), Some("v"));
    let n: i64 = redis::cmd("INCRBY")
        .arg("n")
        .arg(5)
        .query_async(&mut con)
        .await
        .unwrap();
    assert_eq!(n, 5);
    // A pipeline of writes then a read: the read sees every write before it.
    let mut pipe = redis::pipe();
    for i in 0..200 {
        pipe.cmd("SET").arg(format!("p{i}")).arg(i).ignore();
        pipe.cmd("INCR").arg("counter").ignore();
    }
    pipe.cmd("MGET").arg("p0").arg("p199").arg("missing");
    pipe.cmd("GET").arg("counter");
    let (mget, counter): (Vec<Option<String>>, String) = pipe.query_async(&mut con).await.unwrap();
    assert_eq!(
        mget,
        vec![Some("0".to_string()), Some("199".to_string()), None]
    );
    assert_eq!(counter, "200");
    let size: i64 = redis::cmd("DBSIZE").query_async(&mut con).await.unwrap();
    assert_eq!(size, 203);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn lists_and_sets() {
    let s = server().await;
    let mut c = Raw::connect(s.addr).await;
    assert_eq!(c.cmd(&["RPUSH", "l", "a", "b", "c", "d"]).await, ":4");
    assert_eq!(c.cmd(&["LRANGE", "l", "1", "-2"]).await, "['b', 'c']");
    assert_eq!(c.cmd(&["LRANGE", "l", "5", "10"]).await, "[]");
    assert_eq!(c.cmd(&["LINDEX", "l", "-1"]).await, "'d'");
    assert_eq!(c.cmd(&["LLEN", "l"]).await, ":4");
    assert_eq!(c.cmd(&["LPOP", "missing", "2"]).await, "*-1");
    assert_eq!(c.cmd(&["LPOP", "l", "0"]).await, "[]");
    assert_eq!(c.cmd(&["LPOP", "l", "2"]).await, "['a', 'b']");
    assert_eq!(c.cmd(&["SADD", "s", "x", "y", "z"]).await, ":3");
    assert_eq!(c.cmd(&["SISMEMBER", "s", "y"]).await, ":1");
    assert_eq!(c.cmd(&["SCARD", "s"]).await, ":3");
    // Members come in the store's hash order; compare as a set.
    let members = c.cmd(&["SMEMBERS", "s"]).await;
    assert_eq!(members.len(), "['x', 'y', 'z']".len());
    for m in ["'x'", "'y'", "'z'"] {
        assert!(members.contains(m), "{members}");
    }
    assert_eq!(
        c.cmd(&["GET", "s"]).await,
        "-WRONGTYPE Operation against a key holding the wrong kind of value"
    );
    assert_eq!(
        c.cmd(&["SET", &"k".repeat(600), "v"]).await,
        "-ERR sporedb: key name or set member too long for the store"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn scan_visits_every_key_once() {
    let s = server().await;
    let mut c = Raw::connect(s.addr).await;
    let mut args = vec!["MSET".to_string()];
    for i in 0..1500 {
        args.push(format!("key:{i:05}"));
        args.push("v".into());
    }
    let refs: Vec<&str> = args.iter().map(String::as_str).collect();
    assert_eq!(c.cmd(&refs).await, "+OK");
    let client = redis::Client::open(format!("redis://{}/", s.addr)).unwrap();
    let mut con = connect(&client).await;
    let mut cursor: u64 = 0;
    let mut seen = Vec::new();
    loop {
        // Cursors are unsigned 64-bit integers, as clients (redis-cli, go-redis) parse them.
        let (next, keys): (String, Vec<String>) = redis::cmd("SCAN")
            .arg(cursor.to_string())
            .arg("COUNT")
            .arg(100)
            .query_async(&mut con)
            .await
            .unwrap();
        seen.extend(keys);
        cursor = next.parse().unwrap();
        if cursor == 0 {
            break;
        }
    }
    let expected: Vec<String> = (0..1500).map(|i| format!("key:{i:05}")).collect();
    seen.sort();
    assert_eq!(seen, expected);
    assert_eq!(
        c.cmd(&["KEYS", "key:0000[^1]"]).await.matches('\'').count(),
        18
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn multi_exec_reads_its_own_writes_and_watch_aborts() {
    let s = server().await;
    let mut a = Raw::connect(s.addr).await;
    let mut b = Raw::connect(s.addr).await;
    assert_eq!(a.cmd(&["MULTI"]).await, "+OK");
    for cmd in [
        &["SET", "x", "10"][..],
        &["INCRBY", "x", "5"],
        &["GET", "x"],
        &["INCRBY", "x", "notanumber"],
        &["RPUSH", "l", "a"],
        &["LRANGE", "l", "0", "-1"],
    ] {
        assert_eq!(a.cmd(cmd).await, "+QUEUED");
    }
    assert_eq!(
        a.cmd(&["EXEC"]).await,
        "[+OK, :15, '15', -ERR value is not an integer or out of range, :1, ['a']]"
    );
    // EXECABORT for an arity error at queue time.
    a.cmd(&["MULTI"]).await;
    assert!(a.cmd(&["GET"]).await.starts_with("-ERR wrong number"));
    assert_eq!(
        a.cmd(&["EXEC"]).await,
        "-EXECABORT Transaction discarded because of previous errors."
    );
    // WATCH: another client's write aborts EXEC with the null array.
    assert_eq!(a.cmd(&["WATCH", "x"]).await, "+OK");
    assert_eq!(b.cmd(&["SET", "x", "changed"]).await, "+OK");
    a.cmd(&["MULTI"]).await;
    a.cmd(&["SET", "x", "mine"]).await;
    assert_eq!(a.cmd(&["EXEC"]).await, "*-1");
    assert_eq!(a.cmd(&["GET", "x"]).await, "'changed'");
    // And in RESP3 the null is `_`.
    assert!(a.cmd(&["HELLO", "3"]).await.starts_with("%{"));
    a.cmd(&["WATCH", "x"]).await;
    b.cmd(&["SET", "x", "again"]).await;
    a.cmd(&["MULTI"]).await;
    a.cmd(&["GET", "x"]).await;
    assert_eq!(a.cmd(&["EXEC"]).await, "_");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn resp3_reply_types() {
    let s = server().await;
    let mut c = Raw::connect(s.addr).await;
    let hello = c.cmd(&["HELLO", "3"]).await;
    assert!(hello.contains("'proto': :3"), "{hello}");
    c.cmd(&["SADD", "s", "a", "b"]).await;
    assert_eq!(c.cmd(&["SMEMBERS", "s"]).await, "~{'a', 'b'}");
    assert_eq!(c.cmd(&["SINTER", "s", "s"]).await, "~{'a', 'b'}");
    assert!(c.cmd(&["SRANDMEMBER", "s", "2"]).await.starts_with('['));
    assert!(c.cmd(&["SPOP", "s", "1"]).await.starts_with("~{"));
    assert_eq!(c.cmd(&["GET", "missing"]).await, "_");
    assert_eq!(
        c.cmd(&["CONFIG", "GET", "appendonly"]).await,
        "%{'appendonly': 'no'}"
    );
    assert!(c.cmd(&["CLIENT", "INFO"]).await.starts_with("=txt:id="));
    assert_eq!(c.cmd(&["HELLO", "2"]).await.chars().next(), Some('['));
    assert_eq!(c.cmd(&["GET", "missing"]).await, "$-1");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn client_list_and_kill_through_the_registry() {
    let s = server().await;
    let mut a = Raw::connect(s.addr).await;
    let mut b = Raw::connect(s.addr).await;
    assert_eq!(b.cmd(&["CLIENT", "SETNAME", "victim"]).await, "+OK");
    let b_id = b.cmd(&["CLIENT", "ID"]).await[1..].to_string();
    let list = a.cmd(&["CLIENT", "LIST"]).await;
    assert!(list.contains("name=victim"), "{list}");
    assert!(list.contains("cmd=client|list"), "{list}");
    let info = a.cmd(&["INFO", "clients"]).await;
    assert!(info.contains("connected_clients:2"), "{info}");
    assert_eq!(a.cmd(&["CLIENT", "KILL", "ID", &b_id]).await, ":1");
    assert!(
        b.closed().await,
        "the killed client is disconnected at once"
    );
    let list = a.cmd(&["CLIENT", "LIST"]).await;
    assert!(!list.contains("name=victim"), "{list}");
    // Killing itself: the reply still arrives, then the connection closes.
    let a_id = a.cmd(&["CLIENT", "ID"]).await[1..].to_string();
    assert_eq!(
        a.cmd(&["CLIENT", "KILL", "ID", &a_id, "SKIPME", "no"])
            .await,
        ":1"
    );
    assert!(a.closed().await);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn requirepass_gates_commands() {
    let settings = Settings::default();
    settings
        .set_all(&[("requirepass".into(), "secret".into())])
        .unwrap();
    let s = server_with(settings).await;
    let mut c = Raw::connect(s.addr).await;
    assert_eq!(
        c.cmd(&["GET", "k"]).await,
        "-NOAUTH Authentication required."
    );
    assert_eq!(
        c.cmd(&["AUTH", "wrong"]).await,
        "-WRONGPASS invalid username-password pair or user is disabled."
    );
    assert_eq!(c.cmd(&["AUTH", "secret"]).await, "+OK");
    assert_eq!(c.cmd(&["GET", "k"]).await, "$-1");
    let client = redis::Client::open(format!("redis://:secret@{}/", s.addr)).unwrap();
    let mut con = connect(&client).await;
    let pong: String = redis::cmd("PING").query_async(&mut con).await.unwrap();
    assert_eq!(pong, "PONG");
}

/// Pipelined reads of one batch share a read snapshot (`Session::read_view`). It must never
/// hide a write acknowledged before the batch's requests were sent: another client's (the
/// snapshot goes when the batch ends; kept, the second round fails) or this connection's own
/// (a read waits for the connection's earlier writes, and a write drops the snapshot).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn pipelined_reads_never_miss_an_acknowledged_write() {
    let s = server().await;
    let client = redis::Client::open(format!("redis://{}/", s.addr)).unwrap();
    let mut reader = connect(&client).await;
    let mut writer = connect(&client).await;
    let mut expected: Option<String> = None;
    for round in 0..30 {
        let mut pipe = redis::pipe();
        for _ in 0..16 {
            pipe.cmd("GET").arg("k");
        }
        let got: Vec<Option<String>> = pipe.query_async(&mut reader).await.unwrap();
        assert!(
            got.iter().all(|v| *v == expected),
            "round {round}: {got:?}, expected {expected:?} everywhere"
        );
        let ok: String = redis::cmd("SET")
            .arg("k")
            .arg(round)
            .query_async(&mut writer)
            .await
            .unwrap();
        assert_eq!(ok, "OK");
        expected = Some(round.to_string());
    }
    // This connection's own writes, in the middle of a pipeline of reads.
    let mut pipe = redis::pipe();
    pipe.cmd("GET").arg("k");
    pipe.cmd("SET").arg("k").arg("mine").ignore();
    pipe.cmd("GET").arg("k");
    pipe.cmd("STRLEN").arg("k");
    pipe.cmd("INCR").arg("c").ignore();
    pipe.cmd("GET").arg("c");
    pipe.cmd("EXISTS").arg("c");
    let got: (Option<String>, String, i64, String, i64) =
        pipe.query_async(&mut reader).await.unwrap();
    assert_eq!(
        got,
        (expected, "mine".to_string(), 4, "1".to_string(), 1),
        "reads after a write in the same pipeline see it"
    );
}
