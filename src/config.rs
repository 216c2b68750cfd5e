//! Node configuration: the command line (clap) and the TOML file, merged and validated once.
//!
//! Precedence is flags > config file > defaults. `Config::default()` is the documentation of the
//! defaults. `Config::validate` reports every problem at once, so an operator fixes a bad file in
//! one go; an invalid configuration stops the node before it opens anything.

use std::net::IpAddr;
use std::path::{Path, PathBuf};

use serde::Deserialize;

use crate::cluster::{GlobalPolicy, LocalPolicy};

/// Flags of `sporedb server` (all optional: they override the config file and defaults).
#[derive(Debug, Clone, Default, clap::Args)]
pub struct ServerArgs {
    /// TOML configuration file (keys as in `Config`: bind, port, data_dir, requirepass, ...).
    #[arg(long, value_name = "FILE")]
    pub config: Option<PathBuf>,
    /// Address to listen on for Redis clients [default: 127.0.0.1].
    #[arg(long, value_name = "ADDR")]
    pub bind: Option<IpAddr>,
    /// TCP port for Redis clients; 0 picks a free port and prints it [default: 6379].
    #[arg(long, value_name = "N")]
    pub port: Option<u16>,
    /// Directory for the LMDB store and the node key [default: ./sporedb-data].
    #[arg(long, value_name = "DIR")]
    pub data_dir: Option<PathBuf>,
    /// Password clients must give with AUTH or HELLO before any other command.
    #[arg(long, value_name = "PW")]
    pub requirepass: Option<String>,
    /// Log filter: error, warn, info, debug or trace [default: info].
    #[arg(long, value_name = "LEVEL")]
    pub log_level: Option<String>,
}

/// The node's settings.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Config {
    /// Address to listen on for Redis clients. Loopback by default: exposing a node is a choice.
    pub bind: IpAddr,
    /// TCP port for Redis clients (0 = pick a free one).
    pub port: u16,
    /// Where the LMDB store (`db/`) and the node key (`node.key`) live.
    pub data_dir: PathBuf,
    /// Password for AUTH / HELLO AUTH; `None` means no authentication.
    pub requirepass: Option<String>,
    /// Maximum simultaneous client connections (Redis's `maxclients`).
    pub maxclients: usize,
    /// Largest bulk string a client may send (Redis's `proto-max-bulk-len`).
    pub proto_max_bulk_len: u64,
    /// How long a spore may take to commit before it is dropped (its deadline, from creation).
    pub spore_deadline_ms: u64,
    /// LMDB map size in bytes (address space reserved for the store; the file grows as needed).
    pub lmdb_map_size: u64,
    /// Log filter (error, warn, info, debug, trace).
    pub log_level: String,
    /// Threads serving client connections (and, in a cluster, the network); 0 = one per core.
    /// A single node pins each connection to one of them (a current-thread runtime each, no
    /// work stealing: less CPU per request than workers that park, wake and steal from each
    /// other); a cluster uses tokio's multi-thread runtime with this many workers.
    pub io_threads: usize,
    /// Keep the state root (`SPORE.ROOT`, `SPORE.PROOF`, scrubs). `false` exists only to
    /// measure what the root costs a single node, side by side (`compat/root-cost.sh`): those
    /// commands then answer an error, and a cluster node refuses it (peers compare roots).
    /// Turning it back on rebuilds the tree from the data at the next start.
    pub state_root: bool,
    /// `[cluster]`: peers, global policy, trust. Absent = a single node that is its own
    /// committee.
    pub cluster: Option<ClusterConfig>,
    /// `[local_policy]`: this node's own vetoes and manual approvals (docs/CLUSTER.md).
    pub local_policy: LocalPolicy,
}

/// The `[cluster]` table (docs/CLUSTER.md). Addresses stay strings here so configuration does
/// not depend on the network stack; the network layer parses them.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ClusterConfig {
    /// Multiaddr the node listens on for peers, e.g. `/ip4/127.0.0.1/tcp/7100`.
    pub p2p_listen: String,
    /// Peers to dial at start: multiaddrs, optionally ending in `/p2p/<peer-id>`.
    #[serde(default)]
    pub bootstrap: Vec<String>,
    /// The global policy file; relative to the config file's directory.
    pub policy: PathBuf,
    /// N of N-marginal trust [default: the policy's f + 1].
    #[serde(default)]
    pub marginals_needed: Option<usize>,
    /// A node that follows the cluster without endorsing: its key need not be an endorser.
    #[serde(default)]
    pub observer: bool,
    /// Run `policy` even when the store records another global policy (the last change
    /// committed by spore, which otherwise wins at start): only after an offline committee
    /// change (docs/CLUSTER.md §3.4).
    #[serde(default)]
    pub override_recorded_policy: bool,
}

impl ClusterConfig {
    /// Loads the global policy named by `policy`.
    pub fn load_policy(&self) -> Result<GlobalPolicy, crate::cluster::PolicyLoadError> {
        GlobalPolicy::load(&self.policy)
    }

    /// N of N-marginal trust: the configured value, else f + 1.
    pub fn marginals_needed(&self, policy: &GlobalPolicy) -> usize {
        self.marginals_needed.unwrap_or(policy.faulty() + 1)
    }

    /// Every problem with the table, the policy file and this node's place in it.
    fn problems(&self, data_dir: &Path) -> Vec<String> {
        let mut problems = Vec::new();
        if let Some(why) = multiaddr_problem(&self.p2p_listen, false) {
            problems.push(format!("cluster.p2p_listen '{}': {why}", self.p2p_listen));
        }
        for addr in &self.bootstrap {
            if let Some(why) = multiaddr_problem(addr, true) {
                problems.push(format!("cluster.bootstrap '{addr}': {why}"));
            }
        }
        if self.marginals_needed == Some(0) {
            problems.push("cluster.marginals_needed must be at least 1".to_string());
        }
        let policy = match self.load_policy() {
            Ok(p) => p,
            Err(e) => {
                problems.extend(
                    e.problems()
                        .into_iter()
                        .map(|p| format!("cluster.policy {}: {p}", self.policy.display())),
                );
                return problems;
            }
        };
        let key_path = crate::node::keyfile::path(data_dir);
        if self.observer {
            return problems;
        }
        if !key_path.exists() {
            problems.push(format!(
                "cluster: no node key at {} yet; run `sporedb keys init --data-dir {}` and list its id among the policy's endorsers (or set observer = true)",
                key_path.display(),
                data_dir.display()
            ));
        } else {
            match crate::node::keyfile::load_or_create(data_dir) {
                Ok((key, _)) if !policy.is_endorser(&key.id()) => problems.push(format!(
                    "cluster: this node's key {} is not an endorser in {}; add it to [[endorsers]] or set observer = true",
                    hex::encode(key.id()),
                    self.policy.display()
                )),
                Ok(_) => {}
                Err(e) => problems.push(format!("cluster: {e}")),
            }
        }
        problems
    }
}

/// Why `addr` does not look like a TCP multiaddr (`/ip4|ip6|dns|dns4|dns6/HOST/tcp/PORT`,
/// plus `/p2p/ID` when `peer_allowed`), or None. A shape check only: libp2p parses it for real.
fn multiaddr_problem(addr: &str, peer_allowed: bool) -> Option<&'static str> {
    let parts: Vec<&str> = match addr.strip_prefix('/') {
        Some(rest) => rest.split('/').collect(),
        None => return Some("a multiaddr starts with '/' (e.g. /ip4/127.0.0.1/tcp/7100)"),
    };
    let shape_ok = match parts.as_slice() {
        [proto, host, "tcp", port] | [proto, host, "tcp", port, "p2p", _] => {
            matches!(*proto, "ip4" | "ip6" | "dns" | "dns4" | "dns6")
                && !host.is_empty()
                && port.parse::<u16>().is_ok()
        }
        _ => false,
    };
    if !shape_ok {
        return Some("expected /ip4/HOST/tcp/PORT (or ip6, dns, dns4, dns6)");
    }
    if parts.len() == 6 && !peer_allowed {
        return Some("a listen address takes no /p2p/ part");
    }
    if parts.len() == 6 && parts[5].is_empty() {
        return Some("empty peer id after /p2p/");
    }
    None
}

impl Default for Config {
    fn default() -> Config {
        Config {
            bind: IpAddr::from([127, 0, 0, 1]),
            port: 6379,
            data_dir: PathBuf::from("./sporedb-data"),
            requirepass: None,
            maxclients: 10_000,
            proto_max_bulk_len: 512 * 1024 * 1024,
            spore_deadline_ms: 5_000,
            lmdb_map_size: 64 << 30,
            log_level: "info".to_string(),
            io_threads: 0,
            state_root: true,
            cluster: None,
            local_policy: LocalPolicy::default(),
        }
    }
}

/// Why a configuration was refused.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error("cannot read config file {path}: {source}")]
    Read {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("invalid config file {path}: {message}")]
    Parse { path: PathBuf, message: String },
    #[error("invalid configuration:\n  - {}", .0.join("\n  - "))]
    Invalid(Vec<String>),
}

impl Config {
    /// Reads the file named by `--config` (if any), applies the flags and validates.
    pub fn load(args: &ServerArgs) -> Result<Config, ConfigError> {
        let mut config = match &args.config {
            Some(path) => Config::from_file(path)?,
            None => Config::default(),
        };
        config.apply(args);
        config.validate()?;
        Ok(config)
    }

    /// Parses a TOML file; unknown keys are errors (a typo must not be silently ignored).
    pub fn from_file(path: &Path) -> Result<Config, ConfigError> {
        let text = std::fs::read_to_string(path).map_err(|source| ConfigError::Read {
            path: path.to_path_buf(),
            source,
        })?;
        let mut config: Config = toml::from_str(&text).map_err(|e| ConfigError::Parse {
            path: path.to_path_buf(),
            message: e.to_string(),
        })?;
        // A relative data_dir in a file is relative to the file, so configs can be moved as a unit.
        if config.data_dir.is_relative() {
            if let Some(dir) = path.parent() {
                config.data_dir = dir.join(&config.data_dir);
            }
        }
        // The same for the policy file, so a cluster directory can be moved as a unit.
        if let Some(cluster) = &mut config.cluster {
            if cluster.policy.is_relative() {
                if let Some(dir) = path.parent() {
                    cluster.policy = dir.join(&cluster.policy);
                }
            }
        }
        Ok(config)
    }

    fn apply(&mut self, args: &ServerArgs) {
        if let Some(bind) = args.bind {
            self.bind = bind;
        }
        if let Some(port) = args.port {
            self.port = port;
        }
        if let Some(dir) = &args.data_dir {
            self.data_dir = dir.clone();
        }
        if let Some(pw) = &args.requirepass {
            self.requirepass = Some(pw.clone());
        }
        if let Some(level) = &args.log_level {
            self.log_level = level.clone();
        }
    }

    /// Every problem with the settings, at once.
    pub fn validate(&self) -> Result<(), ConfigError> {
        let mut problems = Vec::new();
        if self.maxclients == 0 {
            problems.push("maxclients must be at least 1".to_string());
        }
        if self.proto_max_bulk_len < 1024 || self.proto_max_bulk_len > (4 << 30) - 1 {
            problems.push("proto_max_bulk_len must be between 1024 and 4294967295".to_string());
        }
        if self.spore_deadline_ms == 0 || self.spore_deadline_ms > 3_600_000 {
            problems.push("spore_deadline_ms must be between 1 and 3600000".to_string());
        }
        if self.lmdb_map_size < (16 << 20) {
            problems.push("lmdb_map_size must be at least 16 MiB".to_string());
        }
        if !["error", "warn", "info", "debug", "trace"].contains(&self.log_level.as_str()) {
            problems.push(format!(
                "log_level '{}' is not one of error, warn, info, debug, trace",
                self.log_level
            ));
        }
        if self.requirepass.as_deref() == Some("") {
            problems.push(
                "requirepass must not be empty (omit it to disable authentication)".to_string(),
            );
        }
        if self.data_dir.as_os_str().is_empty() {
            problems.push("data_dir must not be empty".to_string());
        }
        problems.extend(self.local_policy.problems());
        if let Some(cluster) = &self.cluster {
            problems.extend(cluster.problems(&self.data_dir));
            if !self.state_root {
                problems.push(
                    "state_root = false is for measuring a single node: a cluster node needs \
                     its state root (peers compare roots, state transfer checks them)"
                        .to_string(),
                );
            }
        }
        if problems.is_empty() {
            Ok(())
        } else {
            Err(ConfigError::Invalid(problems))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn flags_override_file_and_defaults() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("sporedb.toml");
        std::fs::write(
            &file,
            "port = 7001\ndata_dir = \"d\"\nrequirepass = \"pw\"\n",
        )
        .unwrap();
        let args = ServerArgs {
            config: Some(file),
            port: Some(7002),
            ..Default::default()
        };
        let c = Config::load(&args).unwrap();
        assert_eq!(c.port, 7002);
        assert_eq!(c.data_dir, dir.path().join("d"));
        assert_eq!(c.requirepass.as_deref(), Some("pw"));
        assert_eq!(c.bind, IpAddr::from([127, 0, 0, 1]));
    }

    #[test]
    fn unknown_keys_and_bad_values_are_refused_with_every_problem() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("bad.toml");
        std::fs::write(&file, "prot = 1\n").unwrap();
        let err = Config::load(&ServerArgs {
            config: Some(file.clone()),
            ..Default::default()
        })
        .unwrap_err();
        assert!(err.to_string().contains("unknown field `prot`"), "{err}");
        std::fs::write(&file, "maxclients = 0\nlog_level = \"loud\"\n").unwrap();
        let err = Config::load(&ServerArgs {
            config: Some(file),
            ..Default::default()
        })
        .unwrap_err();
        let text = err.to_string();
        assert!(
            text.contains("maxclients") && text.contains("log_level"),
            "{text}"
        );
    }
}
