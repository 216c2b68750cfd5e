//! The global policy a running cluster node holds, and what changes when a committed
//! policy-change spore is applied (docs/CLUSTER.md §3.4).
//!
//! The engine switches itself at the change's place in its apply order (`consensus::
//! policy_change`); this is the rest of the node, switched by the driver right after the
//! change's store transaction: policy.toml is replaced atomically (a restart comes up on the new
//! policy), the gossip check and the origin's pre-check read the new rules, INFO and
//! `SPORE.POLICY` show the new hash, new writes get the new spore deadline, and the node moves
//! to the new policy's gossip topic. For a while after the switch the previous policy is kept:
//! spores committed under it must still pass the gossip check of nodes that switched, and the
//! previous topic is kept so that nodes which have not applied the change yet still hear this
//! one. Both are dropped after `max_horizon + 2 × grace + 2 s` (by then every spore gossiped
//! under the old policy is resolved everywhere).

use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::{Arc, RwLock};

use crate::cluster::change::{PolicyChange, PolicyChangeError};
use crate::cluster::GlobalPolicy;
use crate::consensus::gossip_check::SporeRule;
use crate::crypto::Digest;
use crate::net::NetHandle;

use super::cluster::topic_for;

/// The policies a node holds: the one in force and, shortly after a switch, the one before.
struct Held {
    current: GlobalPolicy,
    previous: Option<GlobalPolicy>,
    /// Local time after which `previous` is forgotten.
    previous_until_ms: u64,
    switches: u64,
}

/// The node's global policy, shared by the driver, the gossip check and the command layer.
pub struct ActivePolicy {
    held: RwLock<Held>,
    /// The policy file to replace on a switch (`[cluster] policy`).
    path: PathBuf,
    /// The node's floor for the deadline horizon (see `ClusterSetup::load`).
    min_horizon_ms: u64,
    /// This node's id, for a tmp file name no other node sharing the file uses.
    me: String,
}

/// Why a committed change could not be carried out by the node (the engine has switched).
#[derive(Debug, thiserror::Error)]
pub enum SwitchError {
    #[error("the adopted policy text does not parse here: {0}")]
    Parse(#[from] PolicyChangeError),
    #[error("the adopted policy's hash {ours} differs from the engine's {engine}")]
    HashMismatch { ours: String, engine: String },
    #[error("cannot write {path}: {source}")]
    Write {
        path: PathBuf,
        source: std::io::Error,
    },
}

impl ActivePolicy {
    pub fn new(
        policy: GlobalPolicy,
        path: PathBuf,
        min_horizon_ms: u64,
        me: &crate::crypto::NodeId,
    ) -> Arc<ActivePolicy> {
        Arc::new(ActivePolicy {
            held: RwLock::new(Held {
                current: policy,
                previous: None,
                previous_until_ms: 0,
                switches: 0,
            }),
            path,
            min_horizon_ms,
            me: hex::encode(&me[..8]),
        })
    }

    fn read(&self) -> std::sync::RwLockReadGuard<'_, Held> {
        self.held.read().unwrap_or_else(|e| e.into_inner())
    }

    /// The policy in force.
    pub fn current(&self) -> GlobalPolicy {
        self.read().current.clone()
    }

    /// The policy in force and the previous one while it is kept.
    pub fn current_and_previous(&self) -> (GlobalPolicy, Option<GlobalPolicy>) {
        let h = self.read();
        (h.current.clone(), h.previous.clone())
    }

    /// Policy changes adopted since this node started.
    pub fn switches(&self) -> u64 {
        self.read().switches
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    /// The spore deadline new writes get.
    pub fn spore_deadline_ms(&self) -> u64 {
        self.read().current.spore_deadline_ms()
    }

    /// Checks a proposed policy text against the policy in force: the change to submit and
    /// the hash it switches to.
    pub fn propose(&self, text: &str) -> Result<(PolicyChange, Digest), PolicyChangeError> {
        let current = self.current();
        let change = PolicyChange {
            from: current.hash(),
            text: text.to_string(),
        };
        let next = change.check(&current)?;
        Ok((change, next.hash()))
    }

    /// What the engine switches to when it adopts `next`.
    pub fn successor(&self, next: GlobalPolicy) -> crate::consensus::Successor {
        crate::cluster::change::successor(next, self.min_horizon_ms)
    }

    /// The engine's gate for the policy in force.
    pub fn gate(&self) -> crate::consensus::PolicyGate {
        crate::cluster::change::gate(self.current(), self.min_horizon_ms)
    }

    /// The gossip check's content rule: the policy in force, or the previous one while kept
    /// (spores committed under it must reach every node; the engine refuses to *endorse* what
    /// the policy in force forbids).
    pub fn gossip_rule(self: &Arc<Self>) -> SporeRule {
        let me = self.clone();
        Arc::new(move |s| {
            let len = crate::spore::codec::encode_spore(s).len();
            let h = me.read();
            match h.current.check_spore(s, len) {
                Ok(()) => Ok(()),
                Err(why) => match &h.previous {
                    Some(prev) if prev.check_spore(s, len).is_ok() => Ok(()),
                    _ => Err(why.to_string()),
                },
            }
        })
    }

    /// The gossip check's deadline horizon and staleness bound, `(max_horizon_ms,
    /// stale_after_ms)`: the widest of the policy in force and the previous one while kept.
    pub fn gossip_limits(
        self: &Arc<Self>,
        max_skew_ms: u64,
    ) -> crate::consensus::gossip_check::Limits {
        let me = self.clone();
        Arc::new(move || {
            let h = me.read();
            let both = std::iter::once(&h.current).chain(h.previous.as_ref());
            let (deadline, grace) = both.fold((0, 0), |(d, g), p| {
                (d.max(p.spore_deadline_ms()), g.max(p.grace_ms()))
            });
            (deadline.max(me.min_horizon_ms), 2 * grace + 2 * max_skew_ms)
        })
    }

    /// The origin's pre-check (what this node's peers will accept from it): the policy in
    /// force only.
    pub fn origin_rule(self: &Arc<Self>) -> SporeRule {
        let me = self.clone();
        Arc::new(move |s| me.read().current.admits(s).map_err(|e| e.to_string()))
    }

    /// Carries out an adopted change: persists `text`, switches the rules, moves to the new
    /// topic (keeping the old one for a while). `hash` is the engine's hash of the successor.
    pub fn adopt(
        &self,
        hash: &Digest,
        text: &[u8],
        now_ms: u64,
        net: Option<&NetHandle>,
    ) -> Result<(), SwitchError> {
        let text = std::str::from_utf8(text).map_err(|_| PolicyChangeError::NotText)?;
        let next =
            GlobalPolicy::parse(text).map_err(|e| PolicyChangeError::Invalid(e.to_string()))?;
        if next.hash() != *hash {
            return Err(SwitchError::HashMismatch {
                ours: hex::encode(next.hash()),
                engine: hex::encode(hash),
            });
        }
        let keep_ms =
            next.spore_deadline_ms().max(self.min_horizon_ms) + 2 * next.grace_ms() + 2_000;
        let old = {
            let mut h = self.held.write().unwrap_or_else(|e| e.into_inner());
            let old = std::mem::replace(&mut h.current, next.clone());
            h.previous = Some(old.clone());
            h.previous_until_ms = now_ms + keep_ms;
            h.switches += 1;
            old
        };
        if let Some(net) = net {
            net.set_topics(vec![topic_for(&next), topic_for(&old)]);
        }
        // After the switch in memory: a write failure must not leave the node half-switched
        // (the engine already runs the new policy); it is reported and logged loudly instead.
        write_atomically(&self.path, text.as_bytes(), &self.me).map_err(|source| {
            SwitchError::Write {
                path: self.path.clone(),
                source,
            }
        })
    }

    /// Forgets the previous policy and its topic once their time is up.
    pub fn expire_previous(&self, now_ms: u64, net: Option<&NetHandle>) {
        {
            let h = self.read();
            if h.previous.is_none() || now_ms < h.previous_until_ms {
                return;
            }
        }
        let current = {
            let mut h = self.held.write().unwrap_or_else(|e| e.into_inner());
            if h.previous.is_none() || now_ms < h.previous_until_ms {
                return;
            }
            h.previous = None;
            h.current.clone()
        };
        tracing::info!("previous global policy forgotten; gossip on the current topic only");
        if let Some(net) = net {
            net.set_topics(vec![topic_for(&current)]);
        }
    }
}

/// Why a node refuses to start: its store records a policy it cannot run.
#[derive(Debug, thiserror::Error)]
#[error(
    "the replicated state records global policy {recorded} (the last policy change the cluster \
     committed), but {path} holds {loaded} and the recorded policy cannot be adopted: {why}. \
     Refusing to start on a policy that differs from the replicated one. If the committee was \
     changed offline on every node (docs/CLUSTER.md §3.4), set `override_recorded_policy = true` \
     in [cluster]"
)]
pub struct RecordedPolicyError {
    recorded: String,
    loaded: String,
    path: String,
    why: PolicyChangeError,
}

/// The policy a cluster node starts on, given `loaded` (its policy.toml at `path`) and the
/// policy its store records (`recorded`: the text of the last change applied, if any). The
/// recorded one was committed by every endorser and is part of the replicated state, so it
/// wins: a node that crashed between the change's store commit and the file write, or whose
/// file was put back, comes up on it, and policy.toml is rewritten to it. It must pass the
/// checks a change passes against `loaded` (`change::check_recorded`); otherwise the node
/// refuses to start — unless `file_wins` (`[cluster] override_recorded_policy`, after an
/// offline committee change), which runs the file and says so.
pub fn policy_at_start(
    loaded: GlobalPolicy,
    path: &Path,
    recorded: Option<&[u8]>,
    file_wins: bool,
    me: &crate::crypto::NodeId,
) -> Result<GlobalPolicy, RecordedPolicyError> {
    let Some(text) = recorded else {
        return Ok(loaded);
    };
    let judged = crate::cluster::change::check_recorded(&loaded, text);
    if file_wins && !matches!(judged, Ok(None)) {
        tracing::warn!(
            "override_recorded_policy: running {} from {} although the replicated state records \
             another policy (the last change committed by spore); remove the option once a \
             policy change has been committed under the new policy",
            hex::encode(loaded.hash()),
            path.display()
        );
        return Ok(loaded);
    }
    match judged {
        Ok(None) => Ok(loaded),
        Ok(Some(next)) => {
            tracing::warn!(
                "global policy {} in {} is not the one the replicated state records: adopting \
                 the recorded policy {} (committed by every endorser; the node probably stopped \
                 before it rewrote the file)",
                hex::encode(loaded.hash()),
                path.display(),
                hex::encode(next.hash())
            );
            // The text is what every node writes: byte for byte the change's text.
            let tag = hex::encode(&me[..8]);
            match write_atomically(path, text, &tag) {
                Ok(()) => tracing::info!("{} rewritten to the recorded policy", path.display()),
                // The store still holds it: the next start adopts it again.
                Err(e) => tracing::error!(
                    "cannot rewrite {} to the recorded policy: {e}; running it anyway",
                    path.display()
                ),
            }
            Ok(next)
        }
        Err(why) => Err(RecordedPolicyError {
            recorded: std::str::from_utf8(text)
                .ok()
                .and_then(|t| GlobalPolicy::parse(t).ok())
                .map(|p| hex::encode(p.hash()))
                .unwrap_or_else(|| format!("(unparsable, {} bytes)", text.len())),
            loaded: hex::encode(loaded.hash()),
            path: path.display().to_string(),
            why,
        }),
    }
}

/// Replaces `path` by `data` so that a crash leaves either the old or the new file: write a
/// sibling tmp file, fsync it, rename it over, fsync the directory.
fn write_atomically(path: &Path, data: &[u8], tag: &str) -> std::io::Result<()> {
    let dir = path
        .parent()
        .filter(|d| !d.as_os_str().is_empty())
        .unwrap_or(Path::new("."));
    let name = path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_else(|| "policy.toml".into());
    // Several nodes may share one policy file (`sporedb demo`): each uses its own tmp name.
    let tmp = dir.join(format!(".{name}.{tag}.tmp"));
    {
        let mut f = std::fs::File::create(&tmp)?;
        f.write_all(data)?;
        f.sync_all()?;
    }
    std::fs::rename(&tmp, path)?;
    std::fs::File::open(dir)?.sync_all()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::crypto::NodeKey;

    fn text(extra: &str) -> String {
        let key = hex::encode(NodeKey::from_seed([3; 32]).id());
        format!("quorum = 1\nfaulty = 0\n{extra}[[endorsers]]\nname = \"a\"\nkey = \"{key}\"\n")
    }

    #[test]
    fn the_recorded_policy_wins_at_start_or_the_node_refuses() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("policy.toml");
        let old = text("");
        std::fs::write(&path, &old).unwrap();
        let p0 = GlobalPolicy::load(&path).unwrap();
        let me = [1; 32];
        // Nothing recorded, or the file's own policy: the file as it is.
        let p = policy_at_start(p0.clone(), &path, None, false, &me).unwrap();
        assert_eq!(p.hash(), p0.hash());
        let p = policy_at_start(p0.clone(), &path, Some(old.as_bytes()), false, &me).unwrap();
        assert_eq!(p.hash(), p0.hash());
        // A committed change the file missed: adopted, and the file rewritten byte for byte.
        let t1 = text("# committed\ngrace_ms = 3000\n");
        let p = policy_at_start(p0.clone(), &path, Some(t1.as_bytes()), false, &me).unwrap();
        assert_eq!(p.grace_ms(), 3000);
        assert_eq!(std::fs::read_to_string(&path).unwrap(), t1);
        // One that a change could not make (another committee), or that does not parse: the
        // node refuses to start, saying what the file and the store hold.
        std::fs::write(&path, &old).unwrap();
        let other = text("").replace("faulty = 0", "faulty = 0\nquorum = 2");
        for bad in [
            other.as_bytes(),
            b"quorum = ".as_slice(),
            b"\xff".as_slice(),
        ] {
            let err = policy_at_start(p0.clone(), &path, Some(bad), false, &me).unwrap_err();
            let msg = err.to_string();
            assert!(
                msg.contains("Refusing to start") && msg.contains(&hex::encode(p0.hash())),
                "{msg}"
            );
            assert_eq!(
                std::fs::read_to_string(&path).unwrap(),
                old,
                "file untouched"
            );
        }
        // Unless the operator says the file wins (offline committee change).
        let bad = b"quorum = ".as_slice();
        let p = policy_at_start(p0.clone(), &path, Some(bad), true, &me).unwrap();
        assert_eq!(p.hash(), p0.hash());
        let p = policy_at_start(p0.clone(), &path, Some(t1.as_bytes()), true, &me).unwrap();
        assert_eq!(p.hash(), p0.hash());
        assert_eq!(std::fs::read_to_string(&path).unwrap(), old);
    }

    #[test]
    fn adopt_persists_switches_and_expires_the_previous_policy() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("policy.toml");
        std::fs::write(&path, text("")).unwrap();
        let p0 = GlobalPolicy::load(&path).unwrap();
        let active = ActivePolicy::new(p0.clone(), path.clone(), 1_000, &[1; 32]);
        let t1 =
            text("spore_deadline_ms = 9000\n[[rules]]\npattern = \"ro:*\"\nallow = [\"SADD\"]\n");
        let (change, h1) = active.propose(&t1).unwrap();
        assert_eq!(change.from, p0.hash());
        // A stale or unchanged proposal is refused before anything is submitted.
        assert!(active.propose(&text("")).is_err());

        let rule = active.gossip_rule();
        let limits = active.gossip_limits(10);
        assert_eq!(
            limits(),
            (5_000, 2 * 2_000 + 20),
            "the defaults: 5 s deadline, 2 s grace"
        );
        let set = crate::cluster::spore_of(vec![crate::spore::Op::Del {
            key: crate::spore::Key::new(0, "ro:x"),
        }]);
        assert!(rule(&set).is_ok());
        active.adopt(&h1, t1.as_bytes(), 100, None).unwrap();
        assert_eq!(active.current().hash(), h1);
        assert_eq!(active.spore_deadline_ms(), 9000);
        assert_eq!(
            limits().0,
            9_000,
            "the gossip horizon follows the new deadline"
        );
        assert_eq!(std::fs::read_to_string(&path).unwrap(), t1);
        assert_eq!(GlobalPolicy::load(&path).unwrap().hash(), h1);
        // The previous policy still admits its spores at the gossip check; the origin's
        // pre-check applies the new rules only.
        assert!(rule(&set).is_ok());
        assert!(active.origin_rule()(&set).is_err());
        active.expire_previous(101, None);
        assert!(rule(&set).is_ok(), "kept until its time is up");
        active.expire_previous(100 + 60_000, None);
        assert!(rule(&set).is_err());
        // A text that does not hash to what the engine adopted is refused.
        assert!(matches!(
            active.adopt(&[0; 32], text("grace_ms = 3000\n").as_bytes(), 0, None),
            Err(SwitchError::HashMismatch { .. })
        ));
    }
}
