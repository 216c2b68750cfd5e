//! Local policy (whitepaper "Local policies"): this node's own rules, on top of the global
//! policy, about which spores it endorses. They are not shared and need not agree across nodes:
//! a veto only withholds this node's endorsement, so it blocks a spore only if more than
//! n − ω endorsers veto it (a single veto is decisive under a unanimity policy).
//!
//! Configured in the node's config file:
//!
//! ```toml
//! [local_policy]
//! deny = ["admin:*"]              # never endorse writes to matching keys
//! manual_approval = ["payout:*"]  # wait for a human (SPORE.PENDING / APPROVE / REJECT)
//! policy_changes = "manual"       # endorse | deny | manual: global policy changes (§3.4)
//! ```
//!
//! `decide` is pure: a veto wins over a hold, a hold over an endorsement. FLUSHDB/FLUSHALL
//! delete every key, so any deny pattern vetoes them and any manual pattern holds them.

use serde::Deserialize;

use crate::spore::{Op, Spore};
use crate::store::glob::glob_match;

/// The `[local_policy]` table.
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct LocalPolicy {
    /// Redis globs over key names: writes to matching keys are vetoed.
    pub deny: Vec<String>,
    /// Redis globs over key names: spores writing matching keys wait for a human decision.
    pub manual_approval: Vec<String>,
    /// What this node does with global policy-change spores (they touch no key, so the
    /// patterns above never match them). A change needs every endorser: `deny` vetoes all.
    pub policy_changes: PolicyChanges,
}

/// `[local_policy] policy_changes`.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum PolicyChanges {
    /// Endorse those the global policy's checks accept.
    #[default]
    Endorse,
    /// Veto every one.
    Deny,
    /// Hold each for a human decision (SPORE.PENDING / SPORE.APPROVE / SPORE.REJECT).
    Manual,
}

/// What this node does with a spore that passed the global policy.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum LocalDecision {
    /// Endorse it.
    Endorse,
    /// Refuse to endorse it, with the reason (sent with the rejection).
    Veto(String),
    /// Wait for a human to approve or reject it.
    Hold,
}

impl LocalPolicy {
    /// Problems with the patterns (empty patterns are almost certainly mistakes).
    pub fn problems(&self) -> Vec<String> {
        let mut out = Vec::new();
        if self.deny.iter().any(String::is_empty) {
            out.push("local_policy.deny: patterns must not be empty".to_string());
        }
        if self.manual_approval.iter().any(String::is_empty) {
            out.push("local_policy.manual_approval: patterns must not be empty".to_string());
        }
        out
    }

    /// Whether there is anything to decide (no patterns: every spore is endorsed).
    pub fn is_empty(&self) -> bool {
        self.deny.is_empty()
            && self.manual_approval.is_empty()
            && self.policy_changes == PolicyChanges::Endorse
    }

    /// This node's decision on `spore`.
    pub fn decide(&self, spore: &Spore) -> LocalDecision {
        let mut hold = false;
        for op in &spore.ops {
            if let Op::PolicyChange { .. } = op {
                match self.policy_changes {
                    PolicyChanges::Endorse => {}
                    PolicyChanges::Deny => {
                        return LocalDecision::Veto(
                            "this node's local policy denies global policy changes".into(),
                        )
                    }
                    PolicyChanges::Manual => hold = true,
                }
            }
            if op.db_scope().is_some() {
                if let Some(p) = self.deny.first() {
                    return LocalDecision::Veto(format!(
                        "{} would delete keys matching '{p}', which this node's local policy denies",
                        super::ops::op_name(op)
                    ));
                }
                hold |= !self.manual_approval.is_empty();
            }
            let mut veto = None;
            op.access(&mut |key, _| {
                if veto.is_some() {
                    return;
                }
                if let Some(p) = self
                    .deny
                    .iter()
                    .find(|p| glob_match(p.as_bytes(), &key.name))
                {
                    veto = Some(format!(
                        "{} on key '{}' is denied by this node's local policy ('{p}')",
                        super::ops::op_name(op),
                        key.name.escape_ascii()
                    ));
                }
                hold |= self
                    .manual_approval
                    .iter()
                    .any(|p| glob_match(p.as_bytes(), &key.name));
            });
            if let Some(reason) = veto {
                return LocalDecision::Veto(reason);
            }
        }
        if hold {
            LocalDecision::Hold
        } else {
            LocalDecision::Endorse
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::spore::{Key, Op};
    use bytes::Bytes;

    fn spore(ops: Vec<Op>) -> Spore {
        super::super::spore_of(ops)
    }

    fn del(k: &'static str) -> Op {
        Op::Del {
            key: Key::new(0, Bytes::from_static(k.as_bytes())),
        }
    }

    #[test]
    fn veto_beats_hold_beats_endorse() {
        let p: LocalPolicy =
            toml::from_str("deny = [\"admin:*\"]\nmanual_approval = [\"pay:*\"]\n").unwrap();
        assert_eq!(p.decide(&spore(vec![del("x")])), LocalDecision::Endorse);
        assert_eq!(p.decide(&spore(vec![del("pay:1")])), LocalDecision::Hold);
        match p.decide(&spore(vec![del("pay:1"), del("admin:root")])) {
            LocalDecision::Veto(reason) => {
                assert!(reason.contains("DEL on key 'admin:root'"), "{reason}")
            }
            other => panic!("{other:?}"),
        }
        assert!(matches!(
            p.decide(&spore(vec![Op::FlushAll])),
            LocalDecision::Veto(_)
        ));
        let hold_only = LocalPolicy {
            manual_approval: vec!["*".into()],
            ..LocalPolicy::default()
        };
        assert_eq!(
            hold_only.decide(&spore(vec![Op::FlushDb { db: 1 }])),
            LocalDecision::Hold
        );
        assert_eq!(
            LocalPolicy::default().decide(&spore(vec![del("admin:x")])),
            LocalDecision::Endorse
        );
    }

    #[test]
    fn policy_changes_are_endorsed_denied_or_held_as_configured() {
        let change = spore(vec![Op::PolicyChange {
            from: [0; 32],
            policy: Bytes::from_static(b"quorum = 1"),
        }]);
        // Key patterns never match a policy change (it touches no key).
        let patterns: LocalPolicy =
            toml::from_str("deny = [\"*\"]\nmanual_approval = [\"*\"]\n").unwrap();
        assert_eq!(patterns.decide(&change), LocalDecision::Endorse);
        let deny: LocalPolicy = toml::from_str("policy_changes = \"deny\"").unwrap();
        assert!(!deny.is_empty());
        assert!(
            matches!(deny.decide(&change), LocalDecision::Veto(r) if r.contains("policy changes"))
        );
        assert_eq!(deny.decide(&spore(vec![del("x")])), LocalDecision::Endorse);
        let manual: LocalPolicy = toml::from_str("policy_changes = \"manual\"").unwrap();
        assert_eq!(manual.decide(&change), LocalDecision::Hold);
        assert!(toml::from_str::<LocalPolicy>("policy_changes = \"maybe\"").is_err());
    }

    #[test]
    fn unknown_fields_and_empty_patterns_are_reported() {
        assert!(toml::from_str::<LocalPolicy>("denied = []").is_err());
        let p = LocalPolicy {
            deny: vec![String::new()],
            ..LocalPolicy::default()
        };
        assert_eq!(p.problems().len(), 1);
    }
}
