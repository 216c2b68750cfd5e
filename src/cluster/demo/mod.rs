//! `sporedb demo`: a local cluster in one command.
//!
//! `init` writes everything a cluster of N nodes on this machine needs (keys, one global
//! policy, one config and one key ring per node) and `supervise` starts every node as its own
//! process, waits until each is ready, prints where to reach them and stops them all cleanly on
//! Ctrl-C or SIGTERM. Re-running on an existing directory reuses what is there: keys are never
//! regenerated, and files that already exist are kept (a note says when one differs from what
//! the demo would write now).

pub mod init;
pub mod supervise;

use std::path::PathBuf;

use crate::config::ConfigError;
use crate::node::keyfile::KeyFileError;
use crate::trust::TrustError;

/// Flags of `sporedb demo`.
#[derive(Debug, Clone, clap::Args)]
pub struct DemoArgs {
    /// Number of nodes (f = floor((n-1)/3), quorum = the smallest safe one).
    #[arg(long, default_value_t = 4, value_name = "N")]
    pub nodes: usize,
    /// Redis port of node 1; node K listens on BASE+K-1 for clients and BASE+100+K-1 for peers.
    #[arg(long, default_value_t = 7000, value_name = "PORT")]
    pub base_port: u16,
    /// Directory holding policy.toml and one nodeK/ directory per node.
    #[arg(long, default_value = "sporedb-demo", value_name = "DIR")]
    pub dir: PathBuf,
    /// Only write the files; start nodes with `sporedb server --config DIR/nodeK/sporedb.toml`.
    #[arg(long)]
    pub init_only: bool,
}

/// Why the demo could not set up or run the cluster.
#[derive(Debug, thiserror::Error)]
pub enum DemoError {
    #[error("{0}")]
    BadArgs(String),
    #[error("cannot write {path}: {source}")]
    Io {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error(transparent)]
    Key(#[from] KeyFileError),
    #[error(transparent)]
    Trust(#[from] TrustError),
    #[error("generated policy is invalid: {}", .0.join("; "))]
    Policy(Vec<String>),
    #[error("node {node}: {source}")]
    Config { node: usize, source: ConfigError },
    #[error("cannot start node {node}: {source}")]
    Spawn { node: usize, source: std::io::Error },
    #[error("node {node} did not become ready ({why}); see {log}")]
    NotReady {
        node: usize,
        why: String,
        log: PathBuf,
    },
    #[error("node {node} exited unexpectedly ({status}); see {log}")]
    NodeExited {
        node: usize,
        status: String,
        log: PathBuf,
    },
    #[error("{0}")]
    Shutdown(String),
    #[error("runtime: {0}")]
    Runtime(std::io::Error),
}

/// Runs `sporedb demo`.
pub fn run(args: &DemoArgs) -> Result<(), DemoError> {
    let plan = init::init(args)?;
    for note in &plan.notes {
        println!("note: {note}");
    }
    if args.init_only {
        println!(
            "wrote a {}-node cluster in {} (f = {}, quorum = {}); start a node with:",
            plan.nodes.len(),
            args.dir.display(),
            plan.faulty,
            plan.quorum
        );
        for node in &plan.nodes {
            println!("  sporedb server --config {}", node.config.display());
        }
        return Ok(());
    }
    supervise::supervise(&plan)
}
