//! `sporedb demo`: the files it writes (and reuses), and a real run of 4 node processes:
//! every node answers on its Redis port, and SIGTERM to the demo stops every node cleanly with
//! no process left behind.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{TcpListener, TcpStream};
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use sporedb::cluster::GlobalPolicy;
use sporedb::config::Config;
use sporedb::trust::TrustRing;

const BIN: &str = env!("CARGO_BIN_EXE_sporedb");

/// A base port with BASE..BASE+n and BASE+100..BASE+100+n free right now.
fn free_base(n: u16) -> u16 {
    let seed = std::process::id() as u16;
    for attempt in 0..200u16 {
        let base = 20_000 + (seed.wrapping_add(attempt.wrapping_mul(397)) % 30_000);
        let all_free = (0..n)
            .flat_map(|i| [base + i, base + 100 + i])
            .all(|p| TcpListener::bind(("127.0.0.1", p)).is_ok());
        if all_free {
            return base;
        }
    }
    panic!("no free port range found");
}

/// Kills (SIGKILL) whatever is still running when a test fails half-way.
struct Reaper {
    demo: Option<Child>,
    pids: Vec<u32>,
}

impl Drop for Reaper {
    fn drop(&mut self) {
        for pid in &self.pids {
            kill(*pid, rustix::process::Signal::KILL);
        }
        if let Some(child) = &mut self.demo {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

fn kill(pid: u32, sig: rustix::process::Signal) {
    if let Some(pid) = rustix::process::Pid::from_raw(pid as i32) {
        let _ = rustix::process::kill_process(pid, sig);
    }
}

/// Whether `pid` is a live (not zombie) process.
fn alive(pid: u32) -> bool {
    match std::fs::read_to_string(format!("/proc/{pid}/stat")) {
        Ok(stat) => !stat
            .rsplit(')')
            .next()
            .is_some_and(|rest| rest.trim_start().starts_with('Z')),
        Err(_) => false,
    }
}

fn init(dir: &Path, base: u16) -> String {
    let out = Command::new(BIN)
        .args(["demo", "--nodes", "4", "--init-only", "--base-port"])
        .arg(base.to_string())
        .arg("--dir")
        .arg(dir)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

#[test]
fn init_only_writes_a_consistent_cluster_and_reuses_keys() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("demo");
    let base = 7000; // nothing binds: --init-only only writes files
    let text = init(&dir, base);
    assert!(text.contains("sporedb server --config"), "{text}");

    let policy = GlobalPolicy::load(&dir.join("policy.toml")).unwrap();
    assert_eq!((policy.n(), policy.quorum(), policy.faulty()), (4, 3, 1));
    let mut keys = Vec::new();
    for k in 1..=4u16 {
        let node = dir.join(format!("node{k}"));
        let config = Config::from_file(&node.join("sporedb.toml")).unwrap();
        config.validate().unwrap();
        assert_eq!(config.port, base + k - 1);
        let cluster = config.cluster.as_ref().unwrap();
        assert_eq!(
            cluster.p2p_listen,
            format!("/ip4/127.0.0.1/tcp/{}", base + 100 + k - 1)
        );
        let seed_port = if k == 1 { base + 101 } else { base + 100 };
        assert_eq!(cluster.bootstrap.len(), 1);
        assert!(
            cluster.bootstrap[0]
                .starts_with(&format!("/ip4/127.0.0.1/tcp/{seed_port}/p2p/12D3KooW")),
            "{:?}",
            cluster.bootstrap
        );
        assert_eq!(cluster.marginals_needed(&policy), 2);
        let ring = TrustRing::load(&node).unwrap();
        let me = ring.me().unwrap();
        assert!(policy.is_endorser(&me));
        for other in policy.endorsers().iter().filter(|e| e.id != me) {
            assert!(
                ring.is_valid(&other.id),
                "node{k} does not vouch for {}",
                other.name
            );
        }
        keys.push(std::fs::read(node.join("node.key")).unwrap());
    }

    // Re-running reuses every key and keeps every file.
    let text = init(&dir, base);
    assert!(!text.contains("note:"), "{text}");
    for (k, key) in keys.iter().enumerate() {
        let again = std::fs::read(dir.join(format!("node{}", k + 1)).join("node.key")).unwrap();
        assert_eq!(&again, key);
    }
    // A different base port keeps the existing configs and says so.
    let text = init(&dir, base + 10);
    assert!(text.contains("note: kept existing"), "{text}");
}

#[test]
fn demo_runs_four_nodes_and_stops_them_cleanly() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("demo");
    let base = free_base(4);
    let child = Command::new(BIN)
        .args(["demo", "--nodes", "4", "--base-port"])
        .arg(base.to_string())
        .arg("--dir")
        .arg(&dir)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut reaper = Reaper {
        demo: Some(child),
        pids: Vec::new(),
    };
    let demo = reaper.demo.as_mut().unwrap();
    let demo_pid = demo.id();
    let stdout = demo.stdout.take().unwrap();
    let (tx, rx) = mpsc::channel();
    std::thread::spawn(move || {
        for line in BufReader::new(stdout).lines().map_while(Result::ok) {
            let _ = tx.send(line);
        }
    });

    // Table rows: "nodeK  PID  127.0.0.1:PORT  /ip4/...  LOG".
    let mut rows = Vec::new();
    let mut seen = Vec::new();
    let deadline = Instant::now() + Duration::from_secs(120);
    while rows.len() < 4 {
        let left = deadline.saturating_duration_since(Instant::now());
        let line = rx
            .recv_timeout(left)
            .unwrap_or_else(|_| panic!("demo did not print its table; got {seen:?}"));
        seen.push(line.clone());
        let cols: Vec<&str> = line.split_whitespace().collect();
        if cols.len() == 5 && cols[0].starts_with("node") && cols[1].parse::<u32>().is_ok() {
            let pid: u32 = cols[1].parse().unwrap();
            reaper.pids.push(pid);
            rows.push((cols[0].to_string(), pid, cols[2].to_string()));
        }
    }
    for (k, (name, pid, addr)) in rows.iter().enumerate() {
        assert_eq!(name, &format!("node{}", k + 1));
        assert_eq!(addr, &format!("127.0.0.1:{}", base + k as u16));
        assert!(alive(*pid));
        let mut s = TcpStream::connect(addr.as_str()).unwrap();
        s.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
        s.write_all(b"PING\r\n").unwrap();
        let mut buf = [0u8; 7];
        s.read_exact(&mut buf).unwrap();
        assert_eq!(&buf, b"+PONG\r\n", "{name}");
    }

    kill(demo_pid, rustix::process::Signal::TERM);
    let demo = reaper.demo.as_mut().unwrap();
    let deadline = Instant::now() + Duration::from_secs(60);
    let status = loop {
        if let Some(status) = demo.try_wait().unwrap() {
            break status;
        }
        assert!(Instant::now() < deadline, "demo did not exit after SIGTERM");
        std::thread::sleep(Duration::from_millis(50));
    };
    let mut err = String::new();
    demo.stderr
        .take()
        .unwrap()
        .read_to_string(&mut err)
        .unwrap();
    assert!(status.success(), "demo exited with {status}: {err}");
    for (name, pid, _) in &rows {
        assert!(!alive(*pid), "{name} (pid {pid}) is still running");
    }
    // Every node logged a clean start; the stop lines came through the demo.
    let rest: Vec<String> = rx.try_iter().collect();
    for k in 1..=4 {
        assert!(
            rest.iter()
                .any(|l| l == &format!("node{k} stopped (exit status: 0)")),
            "{rest:?}"
        );
    }
}
