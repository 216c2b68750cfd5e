//! Starting and stopping a node.
//!
//! Order matters: the store and the key are opened before anything listens (a node that cannot
//! open its data refuses to start); the driver thread starts before the front end so the first
//! client write has somewhere to go; the ready line is printed only once the listener is bound
//! (tests and scripts wait for it, and with `--port 0` it carries the chosen port). On
//! SIGINT/SIGTERM the front end stops accepting and drains, then the driver finishes the
//! spores it holds and exits, then the store is closed.

use std::io::Write as _;
use std::net::SocketAddr;
use std::sync::Arc;

use tokio_util::sync::CancellationToken;

use crate::commands::ctx::Shared;
use crate::commands::service::CommandService;
use crate::commands::settings::Settings;
use crate::config::Config;
use crate::consensus::{Engine, EngineConfig, Policy};
use crate::resp::Limits;
use crate::server::{Listener, ServerConfig};
use crate::store::{RootOptions, Store, StoreOptions};

use super::admin::DriverAdmin;
use super::attestations::{attest_loop, Attestations, ClusterRoots};
use super::cluster::{
    bridge, engine_local_policy, start_network, sync_loop, ClusterError, ClusterSetup, NetLink,
};
use super::driver::Driver;
use super::info::NodeStatusSource;
use super::keyfile;
use super::peer_link::{NoPeers, PeerLink};
use super::policy_switch::PolicyLink;
use super::stats::SporeStats;
use super::write_path::{DriverMsg, NodeWritePath};
use super::{clock, expiry};

/// The line printed on stdout once the node accepts clients (followed by `ADDR:PORT`).
pub const READY_LINE: &str = "sporedb ready: listening on ";

/// Why the node could not start or stopped with an error.
#[derive(Debug, thiserror::Error)]
pub enum NodeError {
    #[error("cannot create data dir {path}: {source}")]
    DataDir {
        path: String,
        source: std::io::Error,
    },
    #[error(transparent)]
    Key(#[from] keyfile::KeyFileError),
    #[error("cannot open the store: {0}")]
    Store(#[from] crate::store::StoreError),
    #[error("invalid policy: {0}")]
    Policy(#[from] crate::consensus::PolicyError),
    #[error("cannot listen on {addr}: {source}")]
    Listen {
        addr: SocketAddr,
        source: std::io::Error,
    },
    #[error("cluster: {0}")]
    Cluster(#[from] ClusterError),
    #[error("runtime: {0}")]
    Runtime(std::io::Error),
}

/// Runs a node until SIGINT/SIGTERM.
pub fn run(config: Config) -> Result<(), NodeError> {
    init_logging(&config.log_level);
    std::fs::create_dir_all(&config.data_dir).map_err(|source| NodeError::DataDir {
        path: config.data_dir.display().to_string(),
        source,
    })?;
    let (key, created) = keyfile::load_or_create(&config.data_dir)?;
    let node_id = hex::encode(key.id());
    if created {
        tracing::info!("generated node key {node_id}");
    }
    let store = Arc::new(Store::open_with(
        &config.data_dir,
        &StoreOptions {
            map_size: config.lmdb_map_size,
        },
        RootOptions {
            maintain: config.state_root,
        },
    )?);
    if !config.state_root {
        tracing::warn!("state_root = false: no state root (SPORE.ROOT and SPORE.PROOF refused)");
    }

    let io = IoRuntimes::new(config.io_threads, config.cluster.is_some())?;
    let runtime = &io.main;

    // A node that ran before with this data dir may have endorsed spores it no longer
    // remembers: it stays quiet for a while (the amnesia guard, PROTOCOL.md §9.3).
    let marker = config.data_dir.join("engine.started");
    let restarted = marker.exists();
    let _ = std::fs::write(&marker, b"");

    let max_horizon_ms = config.spore_deadline_ms.max(10_000);
    let (engine, deadline_ms, cluster) = match &config.cluster {
        None => {
            // A single node is its own committee: n = 1, ω = 1, f = 0.
            let policy = Policy::new(vec![key.id()], 1, 0)?;
            let mut engine = Engine::new(EngineConfig {
                max_horizon_ms,
                ..EngineConfig::new(key.clone(), policy)
            });
            if let Some(p) = engine_local_policy(&config.local_policy) {
                engine.set_local_policy(p);
            }
            (engine, config.spore_deadline_ms, None)
        }
        Some(cc) => {
            // The policy the replicated state records (the last change applied) wins over
            // policy.toml when they differ (docs/CLUSTER.md §3.4).
            let recorded = {
                use crate::store::StoreRead as _;
                let read = store.read()?;
                read.recorded_policy()?.map(|r| r.text.to_vec())
            };
            let setup = ClusterSetup::load(
                cc,
                &config.data_dir,
                &key.id(),
                max_horizon_ms,
                100,
                recorded.as_deref(),
            )?;
            let deadline = setup.policy.spore_deadline_ms();
            let mut engine =
                Engine::new(setup.engine_config(key.clone(), clock::now_ms(), restarted));
            if restarted {
                tracing::info!(
                    "restarted: endorsing nothing for {} ms (amnesia guard)",
                    engine.config().amnesia_quiet_ms()
                );
            }
            if let Some(p) = engine_local_policy(&config.local_policy) {
                engine.set_local_policy(p);
            }
            let (net, events) = runtime.block_on(start_network(&setup, cc, &key))?;
            (engine, deadline, Some((setup, net, events)))
        }
    };
    let policy = engine.config().policy.clone();
    let (n, quorum, f) = (
        policy.n() as u32,
        policy.quorum as u32,
        policy.faulty as u32,
    );

    let stats = Arc::new(SporeStats::default());
    let (tx, rx) = std::sync::mpsc::channel();
    let link: Box<dyn PeerLink> = match &cluster {
        Some((_, net, _)) => Box::new(NetLink(net.clone())),
        None => Box::new(NoPeers),
    };
    let mut driver = Driver::new(
        store.clone(),
        engine,
        key.id(),
        (tx.clone(), rx),
        stats.clone(),
        link,
    );
    driver.spore_rule = match &cluster {
        // An observer's spores would be rejected by every peer (only endorsers originate
        // spores), and the peers would score it down for sending them: refuse writes here.
        Some((s, _, _)) if !s.policy.is_endorser(&key.id()) => Some(Arc::new(|_: &_| {
            Err("this node is an observer (not an endorser in the global policy): it serves reads only".to_string())
        })),
        Some((s, _, _)) => Some(s.active.origin_rule()),
        None => None,
    };
    let active = cluster.as_ref().map(|(s, _, _)| s.active.clone());
    driver.policy = cluster.as_ref().map(|(s, net, _)| PolicyLink {
        active: s.active.clone(),
        net: Some(net.clone()),
    });
    let driver_thread = std::thread::Builder::new()
        .name("sporedb-driver".into())
        .spawn(move || driver.run())
        .map_err(NodeError::Runtime)?;
    let writes = Arc::new(NodeWritePath::new(tx.clone(), deadline_ms).with_policy(active.clone()));

    // In a cluster, peers' signed roots are collected and can stop this node's reads.
    let attestations = cluster
        .as_ref()
        .map(|_| Arc::new(Attestations::new(key.clone(), f as usize)));
    let node_roots = crate::root::NodeRoots {
        store: store.clone(),
        key: key.clone(),
    };
    let roots: Arc<dyn crate::root::RootService> = match &attestations {
        Some(att) => Arc::new(ClusterRoots {
            inner: node_roots,
            attestations: att.clone(),
        }),
        None => Arc::new(node_roots),
    };

    let served = runtime.block_on(async {
        let node_info = NodeStatusSource {
            node_key: node_id,
            n,
            quorum,
            f,
            stats: stats.clone(),
            policy: active.clone(),
            net: cluster.as_ref().map(|(_, net, _)| net.clone()),
        };
        let shared = Arc::new(
            Shared::new(
                store.clone(),
                writes.clone(),
                Arc::new(clock::now_ms),
                Settings::from_config(&config),
                Arc::new(node_info),
            )
            .with_admin(Arc::new(
                DriverAdmin::new(tx.clone()).with_policy(active.clone()),
            ))
            .with_roots(roots),
        );
        let service = Arc::new(CommandService::new(shared));
        let addr = SocketAddr::new(config.bind, config.port);
        let server_config = ServerConfig {
            bind: addr,
            maxclients: config.maxclients,
            limits: Limits {
                max_bulk_len: config.proto_max_bulk_len,
                ..Limits::default()
            },
            workers: io.workers.clone(),
            ..ServerConfig::default()
        };
        let listener = Listener::bind(server_config, service)
            .await
            .map_err(|source| NodeError::Listen { addr, source })?;
        let local = listener.local_addr().map_err(NodeError::Runtime)?;
        tracing::info!(
            "node {} serving Redis clients on {local}",
            hex::encode(key.id())
        );
        println!("{READY_LINE}{local}");
        let _ = std::io::stdout().flush();

        let shutdown = CancellationToken::new();
        let mut cluster_tasks = Vec::new();
        if let (Some((setup, net, events)), Some(att)) = (cluster, attestations) {
            cluster_tasks.push(tokio::spawn(bridge(
                events,
                tx.clone(),
                setup.rules.clone(),
                store.clone(),
                att.clone(),
                shutdown.clone(),
            )));
            stats
                .startup_sync_pending
                .store(true, std::sync::atomic::Ordering::Relaxed);
            cluster_tasks.push(tokio::spawn(sync_loop(
                net.clone(),
                tx.clone(),
                store.clone(),
                setup.trust.clone(),
                stats.clone(),
                att.clone(),
                shutdown.clone(),
            )));
            let endorser = setup.policy.is_endorser(&key.id());
            cluster_tasks.push(tokio::spawn(attest_loop(
                att,
                store.clone(),
                net.clone(),
                endorser,
                shutdown.clone(),
            )));
        }
        let expirer = tokio::spawn(expiry::run(store.clone(), writes.clone(), shutdown.clone()));
        let server = tokio::spawn(listener.run(shutdown.clone()));
        wait_for_signal().await;
        tracing::info!("shutting down");
        shutdown.cancel();
        let _ = server.await;
        let _ = expirer.await;
        for t in cluster_tasks {
            let _ = t.await;
        }
        Ok::<(), NodeError>(())
    });
    io.stop_workers();
    let _ = tx.send(DriverMsg::Shutdown);
    let _ = driver_thread.join();
    served
}

/// The runtimes serving clients (and, in a cluster, the network).
///
/// A single node gets a current-thread runtime for the listener and the node's own tasks, plus
/// `io_threads` (0 = one per core) worker threads, each running a current-thread runtime that
/// serves the connections handed to it: its driver thread does the write work, and a
/// request's front-end work is small enough that work stealing between workers (parking,
/// waking, stealing) cost more CPU per request than it gained. A cluster also runs the network
/// stack (noise, yamux, gossipsub) and keeps tokio's multi-thread runtime (`io_threads`
/// workers, 0 = one per core).
struct IoRuntimes {
    main: tokio::runtime::Runtime,
    /// Connection workers: their handles, the token that stops them, their threads.
    workers: Vec<tokio::runtime::Handle>,
    stop: CancellationToken,
    threads: Vec<std::thread::JoinHandle<()>>,
}

impl IoRuntimes {
    fn new(io_threads: usize, clustered: bool) -> Result<IoRuntimes, NodeError> {
        let stop = CancellationToken::new();
        if clustered {
            let mut b = tokio::runtime::Builder::new_multi_thread();
            if io_threads > 0 {
                b.worker_threads(io_threads);
            }
            let main = b.enable_all().build().map_err(NodeError::Runtime)?;
            return Ok(IoRuntimes {
                main,
                workers: Vec::new(),
                stop,
                threads: Vec::new(),
            });
        }
        let current = || {
            tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .map_err(NodeError::Runtime)
        };
        let main = current()?;
        let n = match io_threads {
            0 => std::thread::available_parallelism().map_or(1, |n| n.get()),
            n => n,
        };
        let mut workers = Vec::with_capacity(n);
        let mut threads = Vec::with_capacity(n);
        for i in 0..n {
            let rt = current()?;
            workers.push(rt.handle().clone());
            let stop = stop.clone();
            threads.push(
                std::thread::Builder::new()
                    .name(format!("sporedb-io-{i}"))
                    .spawn(move || {
                        super::replies::set_home(i, rt.handle().clone());
                        rt.block_on(stop.cancelled())
                    })
                    .map_err(NodeError::Runtime)?,
            );
        }
        Ok(IoRuntimes {
            main,
            workers,
            stop,
            threads,
        })
    }

    /// Stops the connection workers (after the listener has returned: every connection task
    /// has ended by then).
    fn stop_workers(self) {
        self.stop.cancel();
        for t in self.threads {
            let _ = t.join();
        }
    }
}

/// Resolves on SIGINT (Ctrl-C) or SIGTERM.
async fn wait_for_signal() {
    #[cfg(unix)]
    {
        use tokio::signal::unix::{signal, SignalKind};
        match signal(SignalKind::terminate()) {
            Ok(mut term) => {
                tokio::select! {
                    _ = tokio::signal::ctrl_c() => {}
                    _ = term.recv() => {}
                }
            }
            Err(_) => {
                let _ = tokio::signal::ctrl_c().await;
            }
        }
    }
    #[cfg(not(unix))]
    {
        let _ = tokio::signal::ctrl_c().await;
    }
}

fn init_logging(level: &str) {
    let filter = match level {
        "error" => tracing::Level::ERROR,
        "warn" => tracing::Level::WARN,
        "debug" => tracing::Level::DEBUG,
        "trace" => tracing::Level::TRACE,
        _ => tracing::Level::INFO,
    };
    // Logs go to stderr; stdout carries only the ready line, which scripts parse.
    let _ = tracing_subscriber::fmt()
        .with_max_level(filter)
        .with_writer(std::io::stderr)
        .try_init();
}
