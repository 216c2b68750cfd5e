//! Node configuration: the command line (clap) and the TOML file, merged and validated once.
//!
//! Precedence is flags > config file > defaults. `Config::default()` is the documentation of the
//! defaults. `Config::validate` reports every problem at once, so an operator fixes a bad file in
//! one go; an invalid configuration stops the node before it opens anything.

use std::net::IpAddr;
use std::path::{Path, PathBuf};

use serde::Deserialize;

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
