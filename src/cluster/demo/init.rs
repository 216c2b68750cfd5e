//! `sporedb demo --init-only`: the files of a local N-node cluster.
//!
//! Layout: `DIR/policy.toml` (all N keys endorse, f = ⌊(N−1)/3⌋, ω = ⌊(N+f)/2⌋ + 1) and per node
//! `DIR/nodeK/{node.key, sporedb.toml, trust.toml}`. Node K serves Redis on BASE+K−1 and peers
//! on BASE+100+K−1; every node bootstraps from node 1 and node 1 from node 2 (so a restarted
//! node 1 finds the cluster again). Each node's ring holds the others with marginal trust,
//! signed by the node (the operator of a demo vouches for all its keys), and
//! `marginals_needed = f + 1`.

use std::path::{Path, PathBuf};

use super::{DemoArgs, DemoError};
use crate::cluster::peer_id::peer_id;
use crate::cluster::GlobalPolicy;
use crate::config::Config;
use crate::consensus::Policy;
use crate::crypto::NodeId;
use crate::node::keyfile;
use crate::trust::{TrustLevel, TrustRing};

/// Most nodes one demo starts (each is a process with its own store).
pub const MAX_NODES: usize = 64;

/// One node of the plan.
#[derive(Debug, Clone)]
pub struct NodePlan {
    /// 1-based.
    pub index: usize,
    pub dir: PathBuf,
    pub config: PathBuf,
    pub id: NodeId,
    /// The ports the config file actually holds (it may predate this run's flags).
    pub redis_port: u16,
    pub p2p_listen: String,
}

/// What `init` wrote or found.
#[derive(Debug, Clone)]
pub struct Plan {
    pub dir: PathBuf,
    pub nodes: Vec<NodePlan>,
    pub quorum: usize,
    pub faulty: usize,
    /// Files kept although they differ from what this run would write.
    pub notes: Vec<String>,
}

/// Writes (or reuses) the cluster's files and checks every node's configuration.
pub fn init(args: &DemoArgs) -> Result<Plan, DemoError> {
    let n = args.nodes;
    if n == 0 || n > MAX_NODES {
        return Err(DemoError::BadArgs(format!(
            "--nodes must be between 1 and {MAX_NODES}"
        )));
    }
    let base = usize::from(args.base_port);
    if base == 0 || base + 100 + n - 1 > usize::from(u16::MAX) {
        return Err(DemoError::BadArgs(format!(
            "--base-port {base} leaves no room for {n} Redis ports and {n} peer ports (BASE+100..)"
        )));
    }
    let redis_port = |k: usize| base + k - 1;
    let p2p_port = |k: usize| base + 100 + k - 1;
    let node_dir = |k: usize| args.dir.join(format!("node{k}"));

    // Keys first: everything else is derived from them.
    let mut keys = Vec::with_capacity(n);
    for k in 1..=n {
        let dir = node_dir(k);
        std::fs::create_dir_all(&dir).map_err(|source| DemoError::Io {
            path: dir.clone(),
            source,
        })?;
        keys.push(keyfile::load_or_create(&dir)?.0);
    }
    let ids: Vec<(String, NodeId)> = keys
        .iter()
        .enumerate()
        .map(|(i, key)| (format!("node{}", i + 1), key.id()))
        .collect();
    let faulty = (n - 1) / 3;
    let quorum = Policy::min_quorum(n, faulty);
    let policy = GlobalPolicy::new(&ids, quorum, faulty).map_err(DemoError::Policy)?;

    let mut notes = Vec::new();
    let policy_text = format!(
        "# Global policy of a {n}-node sporedb demo cluster (every node must hold the same one).\n\
         # quorum = endorsements needed to commit; faulty = Byzantine endorsers tolerated.\n{}",
        policy.to_toml()
    );
    write_if_absent(&args.dir.join("policy.toml"), &policy_text, &mut notes)?;

    let bootstrap_of = |k: usize| -> Vec<String> {
        let seed = if k == 1 { 2 } else { 1 };
        if seed > n {
            return Vec::new();
        }
        vec![format!(
            "/ip4/127.0.0.1/tcp/{}/p2p/{}",
            p2p_port(seed),
            peer_id(&ids[seed - 1].1)
        )]
    };

    let mut nodes = Vec::with_capacity(n);
    for k in 1..=n {
        let dir = node_dir(k);
        let bootstrap = bootstrap_of(k)
            .iter()
            .map(|a| format!("\"{a}\""))
            .collect::<Vec<_>>()
            .join(", ");
        let config_text = format!(
            "# Node {k} of a {n}-node sporedb demo cluster, written by `sporedb demo`.\n\
             # Start it with: sporedb server --config {config}\n\
             bind = \"127.0.0.1\"\n\
             port = {port}\n\
             data_dir = \".\"\n\n\
             [cluster]\n\
             p2p_listen = \"/ip4/127.0.0.1/tcp/{p2p}\"\n\
             bootstrap = [{bootstrap}]\n\
             policy = \"../policy.toml\"\n\
             marginals_needed = {marginals}\n",
            config = dir.join("sporedb.toml").display(),
            port = redis_port(k),
            p2p = p2p_port(k),
            marginals = faulty + 1,
        );
        let config_path = dir.join("sporedb.toml");
        write_if_absent(&config_path, &config_text, &mut notes)?;
        write_ring(&dir, k, &ids, &keys[k - 1], &mut notes)?;

        let config = Config::from_file(&config_path)
            .and_then(|c| c.validate().map(|()| c))
            .map_err(|source| DemoError::Config { node: k, source })?;
        nodes.push(NodePlan {
            index: k,
            dir,
            config: config_path,
            id: keys[k - 1].id(),
            redis_port: config.port,
            p2p_listen: config
                .cluster
                .as_ref()
                .map_or_else(String::new, |c| c.p2p_listen.clone()),
        });
    }
    Ok(Plan {
        dir: args.dir.clone(),
        nodes,
        quorum,
        faulty,
        notes,
    })
}

/// Node k's ring: every other node, marginal, certified by node k.
fn write_ring(
    dir: &Path,
    k: usize,
    ids: &[(String, NodeId)],
    key: &crate::crypto::NodeKey,
    notes: &mut Vec<String>,
) -> Result<(), DemoError> {
    let path = dir.join(crate::trust::ring::RING_FILE);
    if path.exists() {
        // A ring is the operator's record of whom they trust: never rewritten behind their back.
        let ring = TrustRing::load(dir)?;
        if ids
            .iter()
            .enumerate()
            .any(|(i, (_, id))| i + 1 != k && !ring.is_valid(id))
        {
            notes.push(format!(
                "kept {} although it does not vouch for every other node",
                path.display()
            ));
        }
        return Ok(());
    }
    let mut ring = TrustRing::load(dir)?;
    for (i, (name, id)) in ids.iter().enumerate() {
        if i + 1 == k {
            continue;
        }
        ring.import(name, *id, TrustLevel::Marginal, &[])?;
        ring.sign(name, key)?;
    }
    ring.save()?;
    Ok(())
}

/// Creates `path` with `text` unless it exists; an existing file that differs is kept and noted.
fn write_if_absent(path: &Path, text: &str, notes: &mut Vec<String>) -> Result<(), DemoError> {
    let io = |source| DemoError::Io {
        path: path.to_path_buf(),
        source,
    };
    match std::fs::read_to_string(path) {
        Ok(existing) => {
            if existing != text {
                notes.push(format!(
                    "kept existing {} (it differs from what this run would write; delete it to regenerate)",
                    path.display()
                ));
            }
            Ok(())
        }
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            std::fs::write(path, text).map_err(io)
        }
        Err(e) => Err(io(e)),
    }
}
