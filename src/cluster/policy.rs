//! The global policy (whitepaper "Policies"): the manifest every node of a cluster holds
//! identically. It names the endorsers and ω (quorum) and f (faulty), the spore deadline and
//! grace period, size limits, and per-key-pattern rules restricting which operations may
//! write matching keys.
//!
//! `GlobalPolicy::load` checks everything and reports **every** problem at once. A loaded
//! policy is immutable and always valid (fields are private), so `consensus_policy` cannot fail.
//! Nodes compare policies by `hash()`, computed over a canonical binary encoding
//! (`canonical.rs`), never over the TOML text: formatting, comments, endorser order, endorser
//! names, rule order and alias spellings (`INCR` vs `INCRBY`) do not change the hash; anything
//! that changes a node's behaviour does.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use super::ops::{self, OpName};
use crate::consensus::Policy;
use crate::crypto::NodeId;
use crate::trust::cert::parse_id;

/// Defaults for the optional settings of a policy file.
pub const DEFAULT_SPORE_DEADLINE_MS: u64 = 5_000;
pub const DEFAULT_GRACE_MS: u64 = 2_000;
pub const DEFAULT_MAX_SPORE_BYTES: u64 = 64 << 20;
pub const DEFAULT_MAX_OP_BYTES: u64 = 32 << 20;

/// The on-disk shape of `policy.toml`.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct PolicyFile {
    /// ω: endorsements needed to commit a spore.
    quorum: usize,
    /// f: Byzantine endorsers the cluster tolerates.
    faulty: usize,
    #[serde(default = "d_deadline")]
    spore_deadline_ms: u64,
    #[serde(default = "d_grace")]
    grace_ms: u64,
    #[serde(default = "d_spore")]
    max_spore_bytes: u64,
    #[serde(default = "d_op")]
    max_op_bytes: u64,
    #[serde(default)]
    endorsers: Vec<EndorserEntry>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    rules: Vec<RuleEntry>,
}

fn d_deadline() -> u64 {
    DEFAULT_SPORE_DEADLINE_MS
}
fn d_grace() -> u64 {
    DEFAULT_GRACE_MS
}
fn d_spore() -> u64 {
    DEFAULT_MAX_SPORE_BYTES
}
fn d_op() -> u64 {
    DEFAULT_MAX_OP_BYTES
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct EndorserEntry {
    name: String,
    /// Public key, 64 hex digits.
    key: String,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct RuleEntry {
    /// Redis glob over key names (every database).
    pattern: String,
    /// Operations allowed on matching keys; everything else is refused.
    allow: Vec<String>,
}

/// An endorser of the policy.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Endorser {
    /// A label (not part of the hash).
    pub name: String,
    pub id: NodeId,
}

/// A per-pattern rule: keys matching `pattern` may only be written by ops in `allow`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Rule {
    pub pattern: String,
    /// Allowed op tags.
    pub allow: BTreeSet<u8>,
}

/// A validated global policy.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GlobalPolicy {
    /// Sorted by id.
    pub(super) endorsers: Vec<Endorser>,
    pub(super) quorum: usize,
    pub(super) faulty: usize,
    pub(super) spore_deadline_ms: u64,
    pub(super) grace_ms: u64,
    pub(super) max_spore_bytes: u64,
    pub(super) max_op_bytes: u64,
    /// Sorted by pattern, patterns distinct.
    pub(super) rules: Vec<Rule>,
    consensus: Policy,
}

/// Why a policy file was refused.
#[derive(Debug, thiserror::Error)]
pub enum PolicyLoadError {
    #[error("cannot read policy file {path}: {source}")]
    Read {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("invalid policy file {path}: {message}")]
    Parse { path: PathBuf, message: String },
    #[error("invalid policy file {path}:\n  - {}", .problems.join("\n  - "))]
    Invalid {
        path: PathBuf,
        problems: Vec<String>,
    },
}

impl PolicyLoadError {
    /// Every problem as one line each (for embedding in a configuration report).
    pub fn problems(&self) -> Vec<String> {
        match self {
            PolicyLoadError::Invalid { problems, .. } => problems.clone(),
            other => vec![other.to_string()],
        }
    }
}

impl GlobalPolicy {
    /// Reads and validates a policy file.
    pub fn load(path: &Path) -> Result<GlobalPolicy, PolicyLoadError> {
        let text = std::fs::read_to_string(path).map_err(|source| PolicyLoadError::Read {
            path: path.to_path_buf(),
            source,
        })?;
        GlobalPolicy::parse(&text).map_err(|e| match e {
            ParseError::Toml(message) => PolicyLoadError::Parse {
                path: path.to_path_buf(),
                message,
            },
            ParseError::Invalid(problems) => PolicyLoadError::Invalid {
                path: path.to_path_buf(),
                problems,
            },
        })
    }

    /// Parses and validates policy text.
    pub fn parse(text: &str) -> Result<GlobalPolicy, ParseError> {
        let file: PolicyFile = toml::from_str(text).map_err(|e| ParseError::Toml(e.to_string()))?;
        validate(file).map_err(ParseError::Invalid)
    }

    /// A policy over `endorsers` with quorum and f given and default limits, no rules (what
    /// `sporedb demo` writes).
    pub fn new(
        endorsers: &[(String, NodeId)],
        quorum: usize,
        faulty: usize,
    ) -> Result<GlobalPolicy, Vec<String>> {
        validate(PolicyFile {
            quorum,
            faulty,
            spore_deadline_ms: DEFAULT_SPORE_DEADLINE_MS,
            grace_ms: DEFAULT_GRACE_MS,
            max_spore_bytes: DEFAULT_MAX_SPORE_BYTES,
            max_op_bytes: DEFAULT_MAX_OP_BYTES,
            endorsers: endorsers
                .iter()
                .map(|(name, id)| EndorserEntry {
                    name: name.clone(),
                    key: hex::encode(id),
                })
                .collect(),
            rules: Vec::new(),
        })
    }

    /// The policy as TOML (endorsers by id, rules by pattern, op names canonical).
    pub fn to_toml(&self) -> String {
        let file = PolicyFile {
            quorum: self.quorum,
            faulty: self.faulty,
            spore_deadline_ms: self.spore_deadline_ms,
            grace_ms: self.grace_ms,
            max_spore_bytes: self.max_spore_bytes,
            max_op_bytes: self.max_op_bytes,
            endorsers: self
                .endorsers
                .iter()
                .map(|e| EndorserEntry {
                    name: e.name.clone(),
                    key: hex::encode(e.id),
                })
                .collect(),
            rules: self
                .rules
                .iter()
                .map(|r| RuleEntry {
                    pattern: r.pattern.clone(),
                    allow: r
                        .allow
                        .iter()
                        .map(|t| ops::tag_name(*t).to_string())
                        .collect(),
                })
                .collect(),
        };
        toml::to_string(&file).unwrap_or_default()
    }

    /// The engine's view: endorsers, ω and f.
    pub fn consensus_policy(&self) -> Policy {
        self.consensus.clone()
    }

    pub fn endorsers(&self) -> &[Endorser] {
        &self.endorsers
    }
    pub fn is_endorser(&self, id: &NodeId) -> bool {
        self.consensus.is_endorser(id)
    }
    pub fn n(&self) -> usize {
        self.endorsers.len()
    }
    pub fn quorum(&self) -> usize {
        self.quorum
    }
    pub fn faulty(&self) -> usize {
        self.faulty
    }
    pub fn spore_deadline_ms(&self) -> u64 {
        self.spore_deadline_ms
    }
    pub fn grace_ms(&self) -> u64 {
        self.grace_ms
    }
    pub fn max_spore_bytes(&self) -> u64 {
        self.max_spore_bytes
    }
    pub fn max_op_bytes(&self) -> u64 {
        self.max_op_bytes
    }
    pub fn rules(&self) -> &[Rule] {
        &self.rules
    }

    /// Legal but risky settings worth printing at start-up: a quorum that f silent endorsers
    /// can block (ω > n − f) stalls writes whenever f nodes are down.
    pub fn warnings(&self) -> Vec<String> {
        let mut out = Vec::new();
        if !self.consensus.is_live() {
            out.push(format!(
                "quorum {} needs more than n - f = {} endorsers: writes stall while {} endorser(s) are unreachable",
                self.quorum,
                self.n() - self.faulty.min(self.n()),
                self.faulty
            ));
        }
        out
    }
}

/// Why policy text was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ParseError {
    #[error("{0}")]
    Toml(String),
    #[error("{}", .0.join("; "))]
    Invalid(Vec<String>),
}

/// Every problem with a parsed file, or the validated policy.
fn validate(file: PolicyFile) -> Result<GlobalPolicy, Vec<String>> {
    let mut problems = Vec::new();

    let mut endorsers = Vec::new();
    let mut by_id: BTreeMap<NodeId, String> = BTreeMap::new();
    let mut names = BTreeSet::new();
    if file.endorsers.is_empty() {
        problems.push("no endorsers: add at least one [[endorsers]] with name and key".to_string());
    }
    for (i, e) in file.endorsers.iter().enumerate() {
        let label = format!("endorsers[{i}] ('{}')", e.name);
        if e.name.is_empty() {
            problems.push(format!("endorsers[{i}]: name must not be empty"));
        } else if !names.insert(e.name.clone()) {
            problems.push(format!("{label}: name used twice"));
        }
        let Some(id) = parse_id(&e.key) else {
            problems.push(format!("{label}: key is not 64 hex digits"));
            continue;
        };
        if let Err(err) = crate::crypto::verifying_key(&id) {
            problems.push(format!("{label}: {err}"));
            continue;
        }
        if let Some(other) = by_id.insert(id, e.name.clone()) {
            problems.push(format!("{label}: same key as '{other}'"));
            continue;
        }
        endorsers.push(Endorser {
            name: e.name.clone(),
            id,
        });
    }
    endorsers.sort_by_key(|e| e.id);

    let (n, f, q) = (endorsers.len(), file.faulty, file.quorum);
    if n > 0 && n == file.endorsers.len() {
        let lo = Policy::min_quorum(n, f);
        if lo > n {
            problems.push(format!(
                "faulty {f} leaves no safe quorum for n={n}: need floor((n+f)/2) < quorum <= n (lower faulty or add endorsers)"
            ));
        } else if q < lo || q > n {
            problems.push(format!(
                "quorum {q} is unsafe for n={n}, f={f}: need {lo} ≤ quorum ≤ {n}"
            ));
        }
    }
    if file.spore_deadline_ms == 0 || file.spore_deadline_ms > 3_600_000 {
        problems.push("spore_deadline_ms must be between 1 and 3600000".to_string());
    }
    if file.grace_ms == 0 || file.grace_ms > 3_600_000 {
        problems.push("grace_ms must be between 1 and 3600000".to_string());
    }
    // The canonical codec length-prefixes with u32, so nothing larger can be encoded.
    if file.max_spore_bytes < 1024 || file.max_spore_bytes > u64::from(u32::MAX) {
        problems.push("max_spore_bytes must be between 1024 and 4294967295".to_string());
    }
    if file.max_op_bytes < 64 || file.max_op_bytes > file.max_spore_bytes {
        problems.push(format!(
            "max_op_bytes must be between 64 and max_spore_bytes ({})",
            file.max_spore_bytes
        ));
    }

    let mut rules: BTreeMap<String, BTreeSet<u8>> = BTreeMap::new();
    for (i, r) in file.rules.iter().enumerate() {
        let label = format!("rules[{i}] (pattern '{}')", r.pattern);
        if r.pattern.is_empty() {
            problems.push(format!("rules[{i}]: pattern must not be empty"));
        }
        let mut allow = BTreeSet::new();
        for name in &r.allow {
            match ops::resolve(name) {
                Some(OpName::Write(tag)) => {
                    allow.insert(tag);
                }
                Some(OpName::Read) => {}
                None => problems.push(format!(
                    "{label}: unknown operation '{name}' (use a Redis write command or one of {})",
                    ops::canonical_names().collect::<Vec<_>>().join(", ")
                )),
            }
        }
        if rules.insert(r.pattern.clone(), allow).is_some() {
            problems.push(format!("{label}: pattern used by two rules (merge them)"));
        }
    }

    if !problems.is_empty() {
        return Err(problems);
    }
    let consensus = Policy::new(endorsers.iter().map(|e| e.id).collect(), q, f)
        .map_err(|e| vec![e.to_string()])?;
    Ok(GlobalPolicy {
        endorsers,
        quorum: q,
        faulty: f,
        spore_deadline_ms: file.spore_deadline_ms,
        grace_ms: file.grace_ms,
        max_spore_bytes: file.max_spore_bytes,
        max_op_bytes: file.max_op_bytes,
        rules: rules
            .into_iter()
            .map(|(pattern, allow)| Rule { pattern, allow })
            .collect(),
        consensus,
    })
}
