//! The key ring: `<data_dir>/trust.toml`, the peers this node knows by name, with the trust
//! level the operator gave each and the certifications collected for each key.
//!
//! The file is meant to be read (and, carefully, edited) by people, so it is plain TOML with one
//! `[[key]]` table per peer. Everything in it is checked on load: names and keys are unique,
//! this node's own key is never an entry (it is implicitly ultimate), and every certification
//! must verify; a broken file is refused with the list of problems, never half-used.
//! Writes go to a temporary file that is renamed over the old one, so a crash leaves either
//! the old ring or the new one.

use std::collections::BTreeMap;
use std::io::Write as _;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use super::cert::{parse_id, CertError, Certification};
use super::level::TrustLevel;
use crate::crypto::{NodeId, NodeKey};
use crate::node::keyfile::{self, KeyFileError};

/// Default N of N-marginal trust when neither the ring nor the cluster configuration sets one:
/// f + 1 for the smallest Byzantine-tolerant cluster (n = 4, f = 1).
pub const DEFAULT_MARGINALS_NEEDED: usize = 2;

/// The ring file's name inside a data dir.
pub const RING_FILE: &str = "trust.toml";

/// One known peer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KeyEntry {
    /// Local label (the operator's name for the peer).
    pub name: String,
    pub id: NodeId,
    pub trust: TrustLevel,
    /// Verified certifications of `id`, keyed by certifier (one per certifier).
    pub certifications: BTreeMap<NodeId, Certification>,
}

/// Why the ring could not be loaded, changed or saved.
#[derive(Debug, thiserror::Error)]
pub enum TrustError {
    #[error("cannot access {path}: {source}")]
    Io {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("invalid key ring {path}: {message}")]
    Parse { path: PathBuf, message: String },
    #[error("invalid key ring {path}:\n  - {}", .problems.join("\n  - "))]
    Invalid {
        path: PathBuf,
        problems: Vec<String>,
    },
    #[error(transparent)]
    Key(#[from] KeyFileError),
    #[error("no node key in {0}: run `sporedb keys init` first")]
    NoOwnKey(PathBuf),
    #[error("no key named '{0}' in the ring (see `sporedb keys list`)")]
    UnknownName(String),
    #[error("'{name}' is already {existing}; refusing to replace it with {new} (remove the entry from trust.toml first)")]
    KeyMismatch {
        name: String,
        existing: String,
        new: String,
    },
    #[error("key {id} is already in the ring as '{name}'")]
    DuplicateKey { id: String, name: String },
    #[error("key {0} is this node's own key (it is always ultimately trusted)")]
    OwnKey(String),
    #[error("names must be 1 to 64 characters of letters, digits, '-', '_' and '.': '{0}'")]
    BadName(String),
    #[error(transparent)]
    Cert(#[from] CertError),
    #[error("marginals_needed must be at least 1")]
    ZeroMarginals,
}

/// The on-disk shape of `trust.toml`.
#[derive(Debug, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct RingFile {
    /// N of N-marginal trust; the cluster configuration's `marginals_needed` overrides it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    marginals_needed: Option<usize>,
    #[serde(default, rename = "key")]
    keys: Vec<FileEntry>,
}

#[derive(Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct FileEntry {
    name: String,
    id: String,
    trust: TrustLevel,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    certifications: Vec<Certification>,
}

/// The key ring of one node.
#[derive(Debug, Clone)]
pub struct TrustRing {
    path: PathBuf,
    /// This node's id, if `node.key` exists.
    pub(super) me: Option<NodeId>,
    /// By name (BTreeMap: listing and saving are in a stable order).
    pub(super) keys: BTreeMap<String, KeyEntry>,
    pub(super) marginals_needed: usize,
    /// The ring's own `marginals_needed`, kept so saving does not lose it.
    file_marginals: Option<usize>,
}

impl TrustRing {
    /// Loads `<data_dir>/trust.toml` (a missing file is an empty ring) and this node's id from
    /// `<data_dir>/node.key` when that exists. Nothing is created.
    pub fn load(data_dir: &Path) -> Result<TrustRing, TrustError> {
        let me = if keyfile::path(data_dir).exists() {
            Some(keyfile::load_or_create(data_dir)?.0.id())
        } else {
            None
        };
        let path = data_dir.join(RING_FILE);
        let file = match std::fs::read_to_string(&path) {
            Ok(text) => toml::from_str::<RingFile>(&text).map_err(|e| TrustError::Parse {
                path: path.clone(),
                message: e.to_string(),
            })?,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => RingFile::default(),
            Err(source) => return Err(TrustError::Io { path, source }),
        };
        Self::from_file(path, me, file)
    }

    fn from_file(
        path: PathBuf,
        me: Option<NodeId>,
        file: RingFile,
    ) -> Result<TrustRing, TrustError> {
        let mut problems = Vec::new();
        let mut keys = BTreeMap::new();
        let mut ids: BTreeMap<NodeId, String> = BTreeMap::new();
        if file.marginals_needed == Some(0) {
            problems.push("marginals_needed must be at least 1".to_string());
        }
        for entry in file.keys {
            let name = entry.name;
            if !valid_name(&name) {
                problems.push(TrustError::BadName(name.clone()).to_string());
            }
            let Some(id) = parse_id(&entry.id) else {
                problems.push(format!("key '{name}': id is not 64 hex digits"));
                continue;
            };
            if let Err(e) = crate::crypto::verifying_key(&id) {
                problems.push(format!("key '{name}': {e}"));
            }
            if Some(id) == me {
                problems.push(format!("key '{name}' is this node's own key"));
            }
            if let Some(other) = ids.insert(id, name.clone()) {
                problems.push(format!("key '{name}' has the same id as '{other}'"));
            }
            let mut certifications = BTreeMap::new();
            for cert in entry.certifications {
                match cert.verify(&id) {
                    Ok(by) => {
                        certifications.insert(by, cert);
                    }
                    Err(e) => problems.push(format!("key '{name}': {e}")),
                }
            }
            let new = KeyEntry {
                name: name.clone(),
                id,
                trust: entry.trust,
                certifications,
            };
            if keys.insert(name.clone(), new).is_some() {
                problems.push(format!("name '{name}' is used twice"));
            }
        }
        if !problems.is_empty() {
            return Err(TrustError::Invalid { path, problems });
        }
        Ok(TrustRing {
            path,
            me,
            keys,
            marginals_needed: file.marginals_needed.unwrap_or(DEFAULT_MARGINALS_NEEDED),
            file_marginals: file.marginals_needed,
        })
    }

    /// Where the ring is saved.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// This node's own id (None before `keys init`).
    pub fn me(&self) -> Option<NodeId> {
        self.me
    }

    /// Sets N of N-marginal trust (the cluster configuration's `marginals_needed`, default
    /// f + 1). Not saved: the ring's own value stays what the file says.
    pub fn set_marginals_needed(&mut self, n: usize) -> Result<(), TrustError> {
        if n == 0 {
            return Err(TrustError::ZeroMarginals);
        }
        self.marginals_needed = n;
        Ok(())
    }

    /// N of N-marginal trust in force.
    pub fn marginals_needed(&self) -> usize {
        self.marginals_needed
    }

    /// Every entry, by name.
    pub fn entries(&self) -> impl Iterator<Item = &KeyEntry> {
        self.keys.values()
    }

    /// The entry called `name`.
    pub fn get(&self, name: &str) -> Option<&KeyEntry> {
        self.keys.get(name)
    }

    /// The entry holding `id`.
    pub fn by_id(&self, id: &NodeId) -> Option<&KeyEntry> {
        self.keys.values().find(|e| &e.id == id)
    }

    /// Adds `name` = `id` with `trust`, or updates the trust of an existing entry with the same
    /// key; certifications are verified and merged. A name already bound to another key, or a
    /// key already known under another name, is refused: silently rebinding would let a
    /// mistaken import redirect trust.
    pub fn import(
        &mut self,
        name: &str,
        id: NodeId,
        trust: TrustLevel,
        certifications: &[Certification],
    ) -> Result<(), TrustError> {
        if !valid_name(name) {
            return Err(TrustError::BadName(name.to_string()));
        }
        crate::crypto::verifying_key(&id).map_err(|source| CertError::Invalid {
            by: hex::encode(id),
            source,
        })?;
        if Some(id) == self.me {
            return Err(TrustError::OwnKey(hex::encode(id)));
        }
        if let Some(other) = self.by_id(&id).filter(|e| e.name != name) {
            return Err(TrustError::DuplicateKey {
                id: hex::encode(id),
                name: other.name.clone(),
            });
        }
        let mut verified = BTreeMap::new();
        for cert in certifications {
            verified.insert(cert.verify(&id)?, cert.clone());
        }
        match self.keys.get_mut(name) {
            Some(existing) if existing.id != id => Err(TrustError::KeyMismatch {
                name: name.to_string(),
                existing: hex::encode(existing.id),
                new: hex::encode(id),
            }),
            Some(existing) => {
                existing.trust = trust;
                existing.certifications.extend(verified);
                Ok(())
            }
            None => {
                self.keys.insert(
                    name.to_string(),
                    KeyEntry {
                        name: name.to_string(),
                        id,
                        trust,
                        certifications: verified,
                    },
                );
                Ok(())
            }
        }
    }

    /// Certifies `name`'s key with this node's key (`key` must be this node's key).
    pub fn sign(&mut self, name: &str, key: &NodeKey) -> Result<Certification, TrustError> {
        let entry = self
            .keys
            .get_mut(name)
            .ok_or_else(|| TrustError::UnknownName(name.to_string()))?;
        let cert = Certification::create(key, &entry.id);
        entry.certifications.insert(key.id(), cert.clone());
        Ok(cert)
    }

    /// Writes the ring back to `trust.toml` (atomically: temporary file, fsync, rename).
    pub fn save(&self) -> Result<(), TrustError> {
        let file = RingFile {
            marginals_needed: self.file_marginals,
            keys: self
                .keys
                .values()
                .map(|e| FileEntry {
                    name: e.name.clone(),
                    id: hex::encode(e.id),
                    trust: e.trust,
                    certifications: e.certifications.values().cloned().collect(),
                })
                .collect(),
        };
        let body = toml::to_string(&file).map_err(|e| TrustError::Parse {
            path: self.path.clone(),
            message: e.to_string(),
        })?;
        let text = format!(
            "# sporedb key ring: the peers this node knows, their trust level (ultimate, complete,\n\
             # marginal, none) and the certifications of their keys. Managed by `sporedb keys`.\n\n{body}"
        );
        write_atomic(&self.path, text.as_bytes())
    }
}

/// Names are short labels used on the command line and in files.
fn valid_name(name: &str) -> bool {
    !name.is_empty()
        && name.len() <= 64
        && name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.'))
}

/// Writes `bytes` to `path` through a temporary sibling file and a rename.
pub(crate) fn write_atomic(path: &Path, bytes: &[u8]) -> Result<(), TrustError> {
    let io = |source| TrustError::Io {
        path: path.to_path_buf(),
        source,
    };
    if let Some(dir) = path.parent() {
        std::fs::create_dir_all(dir).map_err(io)?;
    }
    let tmp = path.with_extension("toml.tmp");
    let mut file = std::fs::File::create(&tmp).map_err(io)?;
    file.write_all(bytes).map_err(io)?;
    file.sync_all().map_err(io)?;
    std::fs::rename(&tmp, path).map_err(io)
}
