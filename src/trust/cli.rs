//! `sporedb keys`: manage this node's key and its key ring from the command line.
//!
//! The data dir is taken from `--data-dir`, else from the `data_dir` of `--config FILE`, else
//! the server's default (`./sporedb-data`), so `keys` and `server` agree without repeating it.
//! Output goes to stdout in a form meant for people (and, for `export`, for another node).

use std::path::{Path, PathBuf};

use clap::{Args, Subcommand};

use super::export::{ExportError, KeyExport};
use super::level::TrustLevel;
use super::ring::{TrustError, TrustRing};
use crate::config::{Config, ConfigError};
use crate::node::keyfile;

/// Flags of `sporedb keys`.
#[derive(Debug, Clone, Args)]
pub struct KeysArgs {
    /// Node configuration file; its data_dir (and [cluster] marginals_needed) are used.
    #[arg(long, value_name = "FILE", global = true)]
    pub config: Option<PathBuf>,
    /// Data directory holding node.key and trust.toml [default: ./sporedb-data].
    #[arg(long, value_name = "DIR", global = true)]
    pub data_dir: Option<PathBuf>,
    #[command(subcommand)]
    pub action: KeysAction,
}

/// What `sporedb keys` does.
#[derive(Debug, Clone, Subcommand)]
pub enum KeysAction {
    /// Create this node's key (node.key) if absent and print its id.
    Init,
    /// Print this node's id.
    Show,
    /// Print a snippet another node can import: this node's key, or NAME's with the
    /// certifications held for it.
    Export {
        /// A key in the ring (default: this node's own key).
        name: Option<String>,
    },
    /// Add a peer's key to the ring (or change its trust), from a snippet file or a hex key.
    Import {
        /// The local name for the peer.
        name: String,
        /// How far the peer is trusted to vouch for other keys and for data.
        #[arg(long, value_name = "LEVEL")]
        trust: TrustLevel,
        /// A file written by `sporedb keys export` (or holding the hex key).
        #[arg(long, value_name = "F", conflicts_with = "key")]
        file: Option<PathBuf>,
        /// The peer's public key in hex.
        #[arg(required_unless_present = "file")]
        key: Option<String>,
        /// Also certify the key with this node's key (you checked it out of band).
        #[arg(long)]
        sign: bool,
    },
    /// Certify NAME's key with this node's key (makes it valid here; exportable).
    Sign { name: String },
    /// List the ring: trust level, validity and certifications of every key.
    List,
}

/// Why a `keys` command failed.
#[derive(Debug, thiserror::Error)]
pub enum KeysError {
    #[error(transparent)]
    Config(#[from] ConfigError),
    #[error(transparent)]
    Trust(#[from] TrustError),
    #[error(transparent)]
    KeyFile(#[from] keyfile::KeyFileError),
    #[error(transparent)]
    Export(#[from] ExportError),
    #[error("cannot read {path}: {source}")]
    Read {
        path: PathBuf,
        source: std::io::Error,
    },
}

/// Runs `sporedb keys`.
pub fn run(args: &KeysArgs) -> Result<(), KeysError> {
    let (data_dir, marginals) = locate(args)?;
    match &args.action {
        KeysAction::Init => {
            let (key, created) = keyfile::load_or_create(&data_dir)?;
            let verb = if created { "created" } else { "exists" };
            println!(
                "node key {verb}: {} ({})",
                hex::encode(key.id()),
                keyfile::path(&data_dir).display()
            );
        }
        KeysAction::Show => {
            let ring = TrustRing::load(&data_dir)?;
            let me = ring.me().ok_or(TrustError::NoOwnKey(data_dir.clone()))?;
            println!("{}", hex::encode(me));
        }
        KeysAction::Export { name } => {
            let ring = TrustRing::load(&data_dir)?;
            let own_name = own_name(&data_dir);
            print!("{}", ring.export(name.as_deref(), &own_name)?.to_text());
        }
        KeysAction::Import {
            name,
            trust,
            file,
            key,
            sign,
        } => {
            let text = match (file, key) {
                (Some(path), _) => {
                    std::fs::read_to_string(path).map_err(|source| KeysError::Read {
                        path: path.clone(),
                        source,
                    })?
                }
                (None, Some(key)) => key.clone(),
                (None, None) => String::new(),
            };
            let snippet = KeyExport::parse(&text)?;
            let id = snippet.node_id()?;
            let mut ring = load_ring(&data_dir, marginals)?;
            ring.import(name, id, *trust, &snippet.certifications)?;
            if *sign {
                ring.sign(name, &own_key(&data_dir)?)?;
            }
            ring.save()?;
            println!(
                "imported {name} = {} (trust {trust}, {})",
                hex::encode(id),
                validity_word(&ring, &id)
            );
        }
        KeysAction::Sign { name } => {
            let mut ring = load_ring(&data_dir, marginals)?;
            ring.sign(name, &own_key(&data_dir)?)?;
            ring.save()?;
            println!("signed {name}; `sporedb keys export {name}` carries the certification");
        }
        KeysAction::List => {
            let ring = load_ring(&data_dir, marginals)?;
            print!("{}", list(&ring));
        }
    }
    Ok(())
}

/// The data dir and the configured N of N-marginal trust, if any.
fn locate(args: &KeysArgs) -> Result<(PathBuf, Option<usize>), KeysError> {
    let config = match &args.config {
        Some(path) => Config::from_file(path)?,
        None => Config::default(),
    };
    // The node's N: configured, else the policy's f + 1 (if the policy loads).
    let marginals = config.cluster.as_ref().and_then(|c| match c.load_policy() {
        Ok(policy) => Some(c.marginals_needed(&policy)),
        Err(_) => c.marginals_needed,
    });
    Ok((args.data_dir.clone().unwrap_or(config.data_dir), marginals))
}

fn load_ring(data_dir: &Path, marginals: Option<usize>) -> Result<TrustRing, TrustError> {
    let mut ring = TrustRing::load(data_dir)?;
    if let Some(n) = marginals {
        ring.set_marginals_needed(n)?;
    }
    Ok(ring)
}

/// This node's key; `sign` refuses to create one implicitly (that is `keys init`'s job).
fn own_key(data_dir: &Path) -> Result<crate::crypto::NodeKey, KeysError> {
    if !keyfile::path(data_dir).exists() {
        return Err(TrustError::NoOwnKey(data_dir.to_path_buf()).into());
    }
    Ok(keyfile::load_or_create(data_dir)?.0)
}

/// A default name for this node in exports: its data dir's name.
fn own_name(data_dir: &Path) -> String {
    data_dir
        .canonicalize()
        .ok()
        .and_then(|p| p.file_name().map(|n| n.to_string_lossy().into_owned()))
        .unwrap_or_else(|| "node".to_string())
}

fn validity_word(ring: &TrustRing, id: &crate::crypto::NodeId) -> &'static str {
    if ring.is_valid(id) {
        "valid"
    } else {
        "not valid yet: sign it or import certifications from trusted peers"
    }
}

/// The `keys list` table.
pub fn list(ring: &TrustRing) -> String {
    let valid = ring.valid_keys();
    let mut out = format!(
        "marginals needed: {}\n{:<16} {:<9} {:<7} {:<5} id\n",
        ring.marginals_needed(),
        "name",
        "trust",
        "valid",
        "certs"
    );
    if let Some(me) = ring.me() {
        out.push_str(&format!(
            "{:<16} {:<9} {:<7} {:<5} {}\n",
            "(this node)",
            "ultimate",
            "yes",
            "-",
            hex::encode(me)
        ));
    }
    for e in ring.entries() {
        out.push_str(&format!(
            "{:<16} {:<9} {:<7} {:<5} {}\n",
            e.name,
            e.trust.as_str(),
            if valid.contains(&e.id) { "yes" } else { "no" },
            e.certifications.len(),
            hex::encode(e.id)
        ));
    }
    out
}
