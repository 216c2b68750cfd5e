//! Changing the global policy by a spore (whitepaper: "global policies can be updated via
//! special spores, requiring a specific majority, usually unanimity"; docs/CLUSTER.md §3.4).
//!
//! A change is `Op::PolicyChange { from, policy }`: the hash of the policy it replaces and the
//! new policy's TOML text (the text, not only canonical bytes, so every node writes the same
//! policy.toml, endorser names and comments included). [`PolicyChange::check`] is the one
//! judgement every node makes, before proposing, before endorsing and when applying: the base
//! is the policy in force, the text passes exactly the validation of `GlobalPolicy::load`, it
//! changes something, and it keeps the endorsers, ω and f (changing who counts needs spores
//! bound to a policy epoch, which the wire format does not have; see §3.4). [`gate`] turns it
//! into the engine's pure `PolicyGate`, which carries the gate of the successor with it.

use std::sync::Arc;

use bytes::Bytes;

use super::policy::GlobalPolicy;
use crate::consensus::gossip_check::SporeRule;
use crate::consensus::{PolicyGate, Successor};
use crate::crypto::Digest;
use crate::spore::Op;

/// A proposal to replace the policy whose hash is `from` by the policy `text` describes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PolicyChange {
    /// Hash of the policy being replaced (a change applies to exactly one predecessor).
    pub from: Digest,
    /// The new policy file, as the operator wrote it.
    pub text: String,
}

/// Why a policy change is refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PolicyChangeError {
    #[error("policy change is based on policy {based_on}, but this node runs {current}")]
    StaleBase { based_on: String, current: String },
    #[error("the proposed policy is not UTF-8 text")]
    NotText,
    #[error("the proposed policy is invalid: {0}")]
    Invalid(String),
    #[error("the proposed policy is the policy in force (hash {0}): nothing to change")]
    Unchanged(String),
    #[error(
        "a policy change cannot change the endorsers, quorum or f (in force: n={n} quorum={quorum} \
         f={faulty}): stop every node, replace policy.toml on all of them and restart instead"
    )]
    CommitteeChanged {
        n: usize,
        quorum: usize,
        faulty: usize,
    },
}

impl PolicyChange {
    /// Endorsements a policy change needs under `current`: every endorser (unanimity), since it
    /// alters what the cluster commits afterwards.
    pub fn required_endorsements(current: &GlobalPolicy) -> usize {
        current.n()
    }

    /// The change a spore carries, if it is a policy-change spore.
    pub fn of_op(op: &Op) -> Option<Result<PolicyChange, PolicyChangeError>> {
        let Op::PolicyChange { from, policy } = op else {
            return None;
        };
        Some(match std::str::from_utf8(policy) {
            Ok(text) => Ok(PolicyChange {
                from: *from,
                text: text.to_string(),
            }),
            Err(_) => Err(PolicyChangeError::NotText),
        })
    }

    /// The op that carries this change.
    pub fn to_op(&self) -> Op {
        Op::PolicyChange {
            from: self.from,
            policy: Bytes::from(self.text.clone().into_bytes()),
        }
    }

    /// Whether this node could endorse (and, once committed, adopt) the change while running
    /// `current`: the policy it switches to, or why not. Pure.
    pub fn check(&self, current: &GlobalPolicy) -> Result<GlobalPolicy, PolicyChangeError> {
        if self.from != current.hash() {
            return Err(PolicyChangeError::StaleBase {
                based_on: hex::encode(self.from),
                current: hex::encode(current.hash()),
            });
        }
        let next = GlobalPolicy::parse(&self.text)
            .map_err(|e| PolicyChangeError::Invalid(e.to_string()))?;
        if next.hash() == current.hash() {
            return Err(PolicyChangeError::Unchanged(hex::encode(current.hash())));
        }
        if next.consensus_policy() != current.consensus_policy() {
            return Err(PolicyChangeError::CommitteeChanged {
                n: current.n(),
                quorum: current.quorum(),
                faulty: current.faulty(),
            });
        }
        Ok(next)
    }
}

/// Judges a policy the replicated state records (the last change applied, `store::layout::
/// POLICY_KEY`) against `current`, the policy this node runs: `None` if it is `current`, the
/// policy to adopt if it differs and passes the checks a change passes (UTF-8, exactly
/// `GlobalPolicy::load`'s validation, same endorsers, ω and f), or why not. The base is not
/// checked: a node that catches up may be several changes behind. Pure.
pub fn check_recorded(
    current: &GlobalPolicy,
    text: &[u8],
) -> Result<Option<GlobalPolicy>, PolicyChangeError> {
    let text = std::str::from_utf8(text).map_err(|_| PolicyChangeError::NotText)?;
    let change = PolicyChange {
        from: current.hash(),
        text: text.to_string(),
    };
    match change.check(current) {
        Ok(next) => Ok(Some(next)),
        Err(PolicyChangeError::Unchanged(_)) => Ok(None),
        Err(e) => Err(e),
    }
}

/// The global policy's rule for data spores (size and per-pattern operations), as the gossip
/// check and the engine call it.
pub fn spore_rule(policy: GlobalPolicy) -> SporeRule {
    Arc::new(move |s| policy.admits(s).map_err(|e| e.to_string()))
}

/// The engine's gate for changes on top of `current`. `min_horizon_ms` is the node's floor
/// for the deadline horizon (the horizon is the policy's spore deadline, at least that).
pub fn gate(current: GlobalPolicy, min_horizon_ms: u64) -> PolicyGate {
    let base = current.hash();
    let judge = Arc::new(move |from: &Digest, text: &[u8]| {
        let change = PolicyChange {
            from: *from,
            text: std::str::from_utf8(text)
                .map_err(|_| PolicyChangeError::NotText.to_string())?
                .to_string(),
        };
        let next = change.check(&current).map_err(|e| e.to_string())?;
        Ok(successor(next, min_horizon_ms))
    });
    PolicyGate { base, judge }
}

/// What the engine switches to when a change to `next` is applied.
pub fn successor(next: GlobalPolicy, min_horizon_ms: u64) -> Successor {
    Successor {
        hash: next.hash(),
        policy: next.consensus_policy(),
        grace_ms: next.grace_ms(),
        max_horizon_ms: next.spore_deadline_ms().max(min_horizon_ms),
        spore_rule: Some(spore_rule(next.clone())),
        gate: gate(next, min_horizon_ms),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::crypto::NodeKey;

    fn text(extra: &str) -> String {
        let mut t = String::from("quorum = 3\nfaulty = 1\n");
        t.push_str(extra);
        for i in 0..4u8 {
            let key = hex::encode(NodeKey::from_seed([i + 1; 32]).id());
            t.push_str(&format!(
                "[[endorsers]]\nname = \"n{i}\"\nkey = \"{key}\"\n"
            ));
        }
        t
    }

    fn current() -> GlobalPolicy {
        GlobalPolicy::parse(&text("")).unwrap()
    }

    #[test]
    fn a_valid_change_on_the_current_base_is_accepted() {
        let cur = current();
        let change = PolicyChange {
            from: cur.hash(),
            text: text("spore_deadline_ms = 7000\n"),
        };
        let next = change.check(&cur).unwrap();
        assert_eq!(next.spore_deadline_ms(), 7000);
        assert_ne!(next.hash(), cur.hash());
        assert_eq!(PolicyChange::required_endorsements(&cur), 4);
        // The op round-trips to the same change.
        assert_eq!(PolicyChange::of_op(&change.to_op()), Some(Ok(change)));
    }

    #[test]
    fn stale_invalid_unchanged_and_committee_changes_are_refused() {
        let cur = current();
        let stale = PolicyChange {
            from: [7; 32],
            text: text("grace_ms = 3000\n"),
        };
        assert!(matches!(
            stale.check(&cur),
            Err(PolicyChangeError::StaleBase { .. })
        ));
        let invalid = PolicyChange {
            from: cur.hash(),
            text: text("spore_deadline_ms = 0\n"),
        };
        let err = invalid.check(&cur).unwrap_err();
        assert!(
            matches!(&err, PolicyChangeError::Invalid(m) if m.contains("spore_deadline_ms")),
            "{err}"
        );
        let same = PolicyChange {
            from: cur.hash(),
            text: text("# only a comment differs\n"),
        };
        assert!(matches!(
            same.check(&cur),
            Err(PolicyChangeError::Unchanged(_))
        ));
        let quorum = PolicyChange {
            from: cur.hash(),
            text: text("").replace("quorum = 3", "quorum = 4"),
        };
        assert!(matches!(
            quorum.check(&cur),
            Err(PolicyChangeError::CommitteeChanged {
                n: 4,
                quorum: 3,
                faulty: 1
            })
        ));
        let not_text = Op::PolicyChange {
            from: cur.hash(),
            policy: Bytes::from_static(&[0xff, 0xfe]),
        };
        assert_eq!(
            PolicyChange::of_op(&not_text),
            Some(Err(PolicyChangeError::NotText))
        );
    }

    #[test]
    fn a_recorded_policy_is_judged_like_a_change_without_its_base() {
        let cur = current();
        // The policy in force: nothing to adopt (comments and order do not count).
        assert_eq!(check_recorded(&cur, text("").as_bytes()), Ok(None));
        assert_eq!(check_recorded(&cur, text("# c\n").as_bytes()), Ok(None));
        // Several changes ahead: adopted, whatever base the last change named.
        let next = check_recorded(&cur, text("grace_ms = 3000\n").as_bytes())
            .unwrap()
            .unwrap();
        assert_eq!(next.grace_ms(), 3000);
        // What a change may not do, a recorded policy may not either.
        assert_eq!(
            check_recorded(&cur, b"\xff"),
            Err(PolicyChangeError::NotText)
        );
        assert!(matches!(
            check_recorded(&cur, b"quorum = "),
            Err(PolicyChangeError::Invalid(_))
        ));
        assert!(matches!(
            check_recorded(
                &cur,
                text("").replace("quorum = 3", "quorum = 4").as_bytes()
            ),
            Err(PolicyChangeError::CommitteeChanged { .. })
        ));
    }

    #[test]
    fn the_gate_chains_to_the_successor() {
        let cur = current();
        let g = gate(cur.clone(), 1_000);
        let t1 = text("spore_deadline_ms = 7000\n");
        assert_eq!(g.base, cur.hash());
        let s1 = (g.judge)(&cur.hash(), t1.as_bytes()).unwrap();
        assert_eq!(s1.gate.base, s1.hash);
        assert_eq!(s1.max_horizon_ms, 7000);
        // The successor's gate judges changes on the successor's base, not the old one.
        let t2 = text("spore_deadline_ms = 8000\n");
        assert!((s1.gate.judge)(&cur.hash(), t2.as_bytes()).is_err());
        let s2 = (s1.gate.judge)(&s1.hash, t2.as_bytes()).unwrap();
        assert_eq!(s2.max_horizon_ms, 8000);
        assert!((g.judge)(&cur.hash(), b"\xff").is_err());
    }
}
