//! Test harness: real `sporedb` processes on free ports, each with its own temp data dir.
//!
//! `TestNode::start()` runs the binary cargo built for this test run with `--port 0`, reads the
//! port it bound from its ready line on stdout, and kills the process when dropped, so a
//! failing test never leaves a server behind.

#![allow(dead_code)]

pub mod cluster;
pub mod gossip;
pub mod leaves;

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::time::Duration;

/// The line prefix a node prints on stdout once it accepts connections.
pub const READY_PREFIX: &str = "sporedb ready: listening on ";

/// A running sporedb process.
pub struct TestNode {
    pub child: Child,
    pub port: u16,
    pub dir: PathBuf,
    _tmp: Option<tempfile::TempDir>,
}

impl TestNode {
    /// Starts a node with a fresh data dir and extra flags.
    pub fn start_with(extra: &[&str]) -> TestNode {
        let tmp = tempfile::tempdir().expect("temp dir");
        let dir = tmp.path().to_path_buf();
        let mut node = TestNode::start_in(&dir, extra);
        node._tmp = Some(tmp);
        node
    }

    /// Starts a node with a fresh data dir.
    pub fn start() -> TestNode {
        TestNode::start_with(&[])
    }

    /// Starts (or restarts) a node on an existing data dir, which the caller keeps.
    pub fn start_in(dir: &Path, extra: &[&str]) -> TestNode {
        let mut child = Command::new(env!("CARGO_BIN_EXE_sporedb"))
            .arg("server")
            .args(["--port", "0", "--data-dir"])
            .arg(dir)
            .args(extra)
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("spawn sporedb");
        let stdout = child.stdout.take().expect("stdout");
        let stderr = child.stderr.take().expect("stderr");
        // Drain stderr in the background so the node never blocks on a full pipe.
        std::thread::spawn(move || {
            let mut sink = Vec::new();
            let _ = BufReader::new(stderr).read_to_end(&mut sink);
        });
        let (tx, rx) = mpsc::channel();
        std::thread::spawn(move || {
            let mut lines = BufReader::new(stdout).lines();
            for line in lines.by_ref() {
                let Ok(line) = line else { break };
                if let Some(addr) = line.strip_prefix(READY_PREFIX) {
                    let _ = tx.send(
                        addr.rsplit(':')
                            .next()
                            .and_then(|p| p.trim().parse::<u16>().ok()),
                    );
                }
            }
        });
        let port = match rx.recv_timeout(Duration::from_secs(30)) {
            Ok(Some(port)) => port,
            other => {
                let _ = child.kill();
                panic!("sporedb did not become ready: {other:?}");
            }
        };
        TestNode {
            child,
            port,
            dir: dir.to_path_buf(),
            _tmp: None,
        }
    }

    /// A raw TCP connection to the node.
    pub fn connect(&self) -> TcpStream {
        let s = TcpStream::connect(("127.0.0.1", self.port)).expect("connect");
        s.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
        s
    }

    /// A redis-rs client URL for this node.
    pub fn url(&self) -> String {
        format!("redis://127.0.0.1:{}/", self.port)
    }

    /// Kills the process with SIGKILL (no chance to clean up) and waits for it.
    pub fn kill9(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Drop for TestNode {
    fn drop(&mut self) {
        self.kill9();
    }
}

/// Sends raw bytes and reads until `expected_len` bytes arrived (or the timeout hits).
pub fn roundtrip(stream: &mut TcpStream, request: &[u8], expected_len: usize) -> Vec<u8> {
    stream.write_all(request).unwrap();
    let mut out = vec![0u8; 0];
    let mut buf = [0u8; 65536];
    while out.len() < expected_len {
        match stream.read(&mut buf) {
            Ok(0) => break,
            Ok(n) => out.extend_from_slice(&buf[..n]),
            Err(_) => break,
        }
    }
    out
}

pub mod rng;
pub mod snapshots;
pub mod spores;
pub mod versions;
#[allow(unused_imports)]
pub use snapshots::*;
#[allow(unused_imports)]
pub use spores::*;

/// `n` distinct free loopback ports for nodes' p2p listeners, which must be written into every
/// node's config before the nodes start (so they cannot bind port 0). They are picked below the
/// kernel's ephemeral range (`ip_local_port_range`): ports the kernel hands out for `bind(0)`
/// and outgoing connections (dozens per cluster test) come from that range, so a picked port
/// released for its node to bind can no longer be taken meanwhile by another test's listener
/// or connection, which made cluster tests fail now and then in a full parallel run. The ports
/// are held until all `n` are found, so they are distinct.
pub fn free_p2p_ports(n: usize) -> Vec<u16> {
    let ephemeral_low = std::fs::read_to_string("/proc/sys/net/ipv4/ip_local_port_range")
        .ok()
        .and_then(|s| {
            s.split_whitespace()
                .next()
                .and_then(|p| p.parse::<u32>().ok())
        })
        .unwrap_or(32_768);
    // From 21000: clear of the placeholder ports `demo --init-only` writes (20100 + k).
    let (low, high) = (21_000u32, ephemeral_low.clamp(21_001, 65_535));
    // A different starting point per test process: concurrent tests seldom try the same ports.
    let mut x = u64::from(std::process::id())
        ^ std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.as_nanos() as u64);
    let mut held = Vec::new();
    for _ in 0..10_000 {
        if held.len() == n {
            break;
        }
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        let port = (low + (x % u64::from(high - low)) as u32) as u16;
        if let Ok(l) = std::net::TcpListener::bind(("127.0.0.1", port)) {
            held.push(l);
        }
    }
    assert_eq!(held.len(), n, "no free ports below {high}");
    held.iter()
        .map(|l| l.local_addr().expect("addr").port())
        .collect()
}

/// Writes an `n`-node cluster's files into `dir` with `sporedb demo --init-only` (keys, policy,
/// one config and key ring per node) and moves every node's p2p port to a free one. Returns the
/// p2p ports, node 1 first. Redis ports come from `--port 0` when the nodes start.
pub fn demo_cluster_files(dir: &Path, n: usize) -> Vec<u16> {
    let base = 20_000u16;
    let out = Command::new(env!("CARGO_BIN_EXE_sporedb"))
        .args([
            "demo",
            "--nodes",
            &n.to_string(),
            "--init-only",
            "--base-port",
        ])
        .arg(base.to_string())
        .arg("--dir")
        .arg(dir)
        .output()
        .expect("demo");
    assert!(out.status.success(), "demo --init-only failed: {out:?}");
    let ports = free_p2p_ports(n);
    for k in 1..=n {
        let path = dir.join(format!("node{k}/sporedb.toml"));
        let mut text = std::fs::read_to_string(&path).expect("read config");
        for (i, p) in ports.iter().enumerate() {
            text = text.replace(
                &format!("/tcp/{}", base + 100 + i as u16),
                &format!("/tcp/{p}"),
            );
        }
        std::fs::write(&path, text).expect("write config");
    }
    ports
}
