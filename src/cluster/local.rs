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
//! ```
//!
//! `decide` is pure: a veto wins over a hold, a hold over an endorsement. FLUSHDB/FLUSHALL
//! delete every key, so any deny pattern vetoes them and any manual pattern holds them.

use serde::Deserialize;

use crate::spore::Spore;
use crate::store::glob::glob_match;

/// The `[local_policy]` table.
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct LocalPolicy {
    /// Redis globs over key names: writes to matching keys are vetoed.
    pub deny: Vec<String>,
    /// Redis globs over key names: spores writing matching keys wait for a human decision.
    pub manual_approval: Vec<String>,
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
        self.deny.is_empty() && self.manual_approval.is_empty()
    }

    /// This node's decision on `spore`.
    pub fn decide(&self, spore: &Spore) -> LocalDecision {
        let mut hold = false;
        for op in &spore.ops {
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
            deny: vec![],
            manual_approval: vec!["*".into()],
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
    fn unknown_fields_and_empty_patterns_are_reported() {
        assert!(toml::from_str::<LocalPolicy>("denied = []").is_err());
        let p = LocalPolicy {
            deny: vec![String::new()],
            manual_approval: vec![],
        };
        assert_eq!(p.problems().len(), 1);
    }
}
