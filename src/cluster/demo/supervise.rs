//! `sporedb demo` without `--init-only`: one child process per node, supervised.
//!
//! Each node runs `<this executable> server --config DIR/nodeK/sporedb.toml` in its own process
//! group, so a Ctrl-C in the terminal reaches only the demo, which then sends exactly one
//! SIGTERM to each node (the node's own clean shutdown: drain clients, finish spores, close the
//! store) and waits for all of them. Node logs (stderr) go to `DIR/nodeK/sporedb.log`; the
//! node's stdout is echoed with a `[nodeK]` prefix. A node that fails to start or exits on its
//! own stops the whole demo, with the path of its log in the error.

use std::path::PathBuf;
use std::process::Stdio;
use std::time::Duration;

use tokio::io::{AsyncBufReadExt, BufReader};
use tokio::process::{Child, ChildStdout, Command};
use tokio::signal::unix::{signal, SignalKind};
use tokio::sync::mpsc;

use super::init::Plan;
use super::DemoError;
use crate::node::READY_LINE;

/// How long a node may take to print its ready line.
const READY_TIMEOUT: Duration = Duration::from_secs(60);
/// How long a node may take to stop after SIGTERM before it is killed.
const STOP_TIMEOUT: Duration = Duration::from_secs(30);

/// A started node.
struct Running {
    index: usize,
    pid: u32,
    log: PathBuf,
    listening: String,
}

/// Starts every node of `plan`, waits for Ctrl-C/SIGTERM, stops them.
pub fn supervise(plan: &Plan) -> Result<(), DemoError> {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(DemoError::Runtime)?;
    runtime.block_on(run(plan))
}

async fn run(plan: &Plan) -> Result<(), DemoError> {
    let mut sigint = signal(SignalKind::interrupt()).map_err(DemoError::Runtime)?;
    let mut sigterm = signal(SignalKind::terminate()).map_err(DemoError::Runtime)?;
    let exe = std::env::current_exe().map_err(DemoError::Runtime)?;
    // (node index, exit status text) of every child that exits.
    let (exited_tx, mut exited_rx) = mpsc::unbounded_channel::<(usize, String)>();
    let mut running: Vec<Running> = Vec::new();

    for node in &plan.nodes {
        let log = node.dir.join("sporedb.log");
        let started = start(&exe, node.index, &node.config, &log);
        let (mut child, stdout) = match started {
            Ok(c) => c,
            Err(e) => {
                if let Err(e) = stop_all(&running, &mut exited_rx).await {
                    eprintln!("sporedb demo: {e}");
                }
                return Err(e);
            }
        };
        let pid = child.id().unwrap_or(0);
        let ready = tokio::select! {
            r = wait_ready(stdout, node.index) => r,
            _ = sigint.recv() => Err("interrupted".to_string()),
            _ = sigterm.recv() => Err("interrupted".to_string()),
        };
        match ready {
            Ok(listening) => {
                let tx = exited_tx.clone();
                let index = node.index;
                tokio::spawn(async move {
                    let status = match child.wait().await {
                        Ok(s) => s.to_string(),
                        Err(e) => format!("wait failed: {e}"),
                    };
                    let _ = tx.send((index, status));
                });
                running.push(Running {
                    index: node.index,
                    pid,
                    log,
                    listening,
                });
            }
            Err(why) => {
                // This child is not in `running` yet: stop it here (kill_on_drop is the
                // fallback), then the others.
                signal_pid(pid);
                let _ = tokio::time::timeout(STOP_TIMEOUT, child.wait()).await;
                if let Err(e) = stop_all(&running, &mut exited_rx).await {
                    eprintln!("sporedb demo: {e}");
                }
                if why == "interrupted" {
                    return Ok(());
                }
                return Err(DemoError::NotReady {
                    node: node.index,
                    why,
                    log,
                });
            }
        }
    }

    print_table(plan, &running);
    let outcome = tokio::select! {
        _ = sigint.recv() => Ok(()),
        _ = sigterm.recv() => Ok(()),
        Some((index, status)) = exited_rx.recv() => {
            let log = running.iter().find(|r| r.index == index).map(|r| r.log.clone()).unwrap_or_default();
            running.retain(|r| r.index != index);
            Err(DemoError::NodeExited { node: index, status, log })
        }
    };
    println!("stopping {} node(s)...", running.len());
    let stop = stop_all(&running, &mut exited_rx).await;
    outcome?;
    stop
}

/// Spawns node `index`: its own process group, stdout piped, stderr to its log file.
fn start(
    exe: &std::path::Path,
    index: usize,
    config: &std::path::Path,
    log: &std::path::Path,
) -> Result<(Child, ChildStdout), DemoError> {
    let log_file = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(log)
        .map_err(|source| DemoError::Io {
            path: log.to_path_buf(),
            source,
        })?;
    let mut child = Command::new(exe)
        .arg("server")
        .arg("--config")
        .arg(config)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::from(log_file))
        .process_group(0)
        .kill_on_drop(true)
        .spawn()
        .map_err(|source| DemoError::Spawn {
            node: index,
            source,
        })?;
    let stdout = child.stdout.take().ok_or_else(|| DemoError::Spawn {
        node: index,
        source: std::io::Error::other("no stdout pipe"),
    })?;
    Ok((child, stdout))
}

/// Reads stdout until the ready line; then echoes the rest in the background.
async fn wait_ready(stdout: ChildStdout, index: usize) -> Result<String, String> {
    let mut lines = BufReader::new(stdout).lines();
    let found = tokio::time::timeout(READY_TIMEOUT, async {
        loop {
            match lines.next_line().await {
                Ok(Some(line)) => {
                    if let Some(addr) = line.strip_prefix(READY_LINE) {
                        return Ok(addr.trim().to_string());
                    }
                    println!("[node{index}] {line}");
                }
                Ok(None) => return Err("it exited before listening".to_string()),
                Err(e) => return Err(format!("reading its output failed: {e}")),
            }
        }
    })
    .await
    .map_err(|_| format!("no ready line within {}s", READY_TIMEOUT.as_secs()))??;
    tokio::spawn(async move {
        while let Ok(Some(line)) = lines.next_line().await {
            println!("[node{index}] {line}");
        }
    });
    Ok(found)
}

fn print_table(plan: &Plan, running: &[Running]) {
    println!(
        "sporedb demo: {} node(s) running (f = {}, quorum = {}); Ctrl-C stops them all",
        running.len(),
        plan.faulty,
        plan.quorum
    );
    println!(
        "{:<7} {:>8} {:<22} {:<28} log",
        "node", "pid", "redis", "p2p"
    );
    for r in running {
        let p2p = plan
            .nodes
            .iter()
            .find(|n| n.index == r.index)
            .map_or("", |n| n.p2p_listen.as_str());
        println!(
            "{:<7} {:>8} {:<22} {:<28} {}",
            format!("node{}", r.index),
            r.pid,
            r.listening,
            p2p,
            r.log.display()
        );
    }
    if let Some(first) = running.first() {
        println!(
            "try: redis-cli -p {} set hello world",
            port_of(&first.listening)
        );
    }
}

fn port_of(addr: &str) -> &str {
    addr.rsplit(':').next().unwrap_or(addr)
}

/// Sends SIGTERM to one process (ignoring a process that is already gone).
fn signal_pid(pid: u32) {
    let pid = i32::try_from(pid)
        .ok()
        .and_then(rustix::process::Pid::from_raw);
    if let Some(pid) = pid {
        let _ = rustix::process::kill_process(pid, rustix::process::Signal::TERM);
    }
}

/// SIGTERM to every running node, then waits for each exit (SIGKILL after STOP_TIMEOUT).
async fn stop_all(
    running: &[Running],
    exited: &mut mpsc::UnboundedReceiver<(usize, String)>,
) -> Result<(), DemoError> {
    for r in running {
        signal_pid(r.pid);
    }
    let mut pending: Vec<usize> = running.iter().map(|r| r.index).collect();
    let deadline = tokio::time::Instant::now() + STOP_TIMEOUT;
    let mut failures = Vec::new();
    while !pending.is_empty() {
        match tokio::time::timeout_at(deadline, exited.recv()).await {
            Ok(Some((index, status))) => {
                if pending.contains(&index) {
                    pending.retain(|i| *i != index);
                    println!("node{index} stopped ({status})");
                    if !status.contains("exit status: 0") {
                        failures.push(format!("node{index} {status}"));
                    }
                }
            }
            Ok(None) => break,
            Err(_) => {
                for r in running.iter().filter(|r| pending.contains(&r.index)) {
                    let pid = i32::try_from(r.pid)
                        .ok()
                        .and_then(rustix::process::Pid::from_raw);
                    if let Some(pid) = pid {
                        let _ = rustix::process::kill_process(pid, rustix::process::Signal::KILL);
                    }
                    failures.push(format!(
                        "node{} did not stop within {}s, killed",
                        r.index,
                        STOP_TIMEOUT.as_secs()
                    ));
                }
                // The wait tasks reap the killed children; give them a moment to report.
                let _ = tokio::time::timeout(Duration::from_secs(5), async {
                    while !pending.is_empty() {
                        match exited.recv().await {
                            Some((index, _)) => pending.retain(|i| *i != index),
                            None => break,
                        }
                    }
                })
                .await;
                break;
            }
        }
    }
    if failures.is_empty() {
        Ok(())
    } else {
        Err(DemoError::Shutdown(failures.join("; ")))
    }
}
