//! Policy-change spores in the engine (docs/CLUSTER.md §3.4): who may endorse one, how many
//! endorsements commit it, and the switch at its place in this node's apply order.
//!
//! The engine does not know the policy format (TOML, rules): the node hands it a
//! [`PolicyGate`], a pure function that judges a proposed successor against the policy in
//! force and, when it accepts, returns the successor's consensus parameters together with the
//! gate for the policy after it. The engine asks the gate twice with the same inputs: before
//! endorsing (refuse a stale base or an invalid policy) and when the committed change is
//! applied (switch). Since the gate is pure and every honest node runs the same policy, every
//! honest node reaches the same decision at the same point of its apply order.

use std::sync::Arc;

use crate::crypto::Digest;
use crate::spore::{Op, Spore, SporeId};

use super::config::Policy;
use super::effect::Effect;
use super::engine::{Cx, Engine};
use super::gossip_check::SporeRule;

/// The policy a committed change switches to, as far as the engine is concerned.
#[derive(Clone)]
pub struct Successor {
    /// Its hash (what the next change must name as its base).
    pub hash: Digest,
    /// Endorsers, ω and f. A change may not alter them (the node's gate refuses it, and the
    /// engine checks again with `same_committee`): spores in flight across the switch are then
    /// counted the same way by every node, whichever side of the switch it counts them on.
    pub policy: Policy,
    pub grace_ms: u64,
    pub max_horizon_ms: u64,
    /// The successor's rules for data spores, checked before endorsing after the switch (before
    /// it, the gossip check alone applies them; after it, the gossip check also admits what the
    /// previous policy allowed, so that spores committed under it still reach every node).
    pub spore_rule: Option<SporeRule>,
    /// Judges changes proposed on top of the successor.
    pub gate: PolicyGate,
}

impl std::fmt::Debug for Successor {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Successor")
            .field("hash", &hex::encode(self.hash))
            .field("policy", &self.policy)
            .field("grace_ms", &self.grace_ms)
            .field("max_horizon_ms", &self.max_horizon_ms)
            .finish()
    }
}

/// `(from, policy text) -> successor or why not`, for the policy in force.
pub type GateFn = dyn Fn(&Digest, &[u8]) -> Result<Successor, String> + Send + Sync;

/// Judges a proposed policy change against the policy in force. Must be pure: the same inputs
/// give the same answer on every node and at every call.
#[derive(Clone)]
pub struct PolicyGate {
    /// The hash of the policy in force: a committed change on this base is applicable.
    pub base: Digest,
    pub judge: Arc<GateFn>,
}

impl std::fmt::Debug for PolicyGate {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("PolicyGate")
    }
}

impl PolicyGate {
    /// The gate's verdict on `spore` if it is a policy change (`None` for a data spore).
    pub fn judge(&self, spore: &Spore) -> Option<Result<Successor, String>> {
        let (from, text) = change_of(spore)?;
        Some((self.judge)(from, text))
    }
}

/// The base and policy text of a policy-change spore (validation makes it the only op).
pub fn change_of(spore: &Spore) -> Option<(&Digest, &[u8])> {
    match spore.ops.as_slice() {
        [Op::PolicyChange { from, policy }] => Some((from, policy)),
        _ => None,
    }
}

/// Why the engine refuses a successor the gate accepted: it would change who counts.
pub fn same_committee(current: &Policy, next: &Policy) -> Result<(), String> {
    if current == next {
        return Ok(());
    }
    Err(format!(
        "a policy spore cannot change the endorsers, quorum or f (now n={} quorum={} f={}, \
         proposed n={} quorum={} f={}): spores in flight would be counted differently on either \
         side of the switch; stop every node and replace policy.toml instead",
        current.n(),
        current.quorum,
        current.faulty,
        next.n(),
        next.quorum,
        next.faulty
    ))
}

/// Endorsements that commit a spore under `policy`: every endorser for a policy change
/// (unanimity: any one endorser may veto it), ω otherwise.
pub fn commit_quorum(policy: &Policy, is_change: bool) -> usize {
    if is_change {
        policy.n()
    } else {
        policy.quorum
    }
}

/// Signed rejections proving a spore can never commit even if f rejecters lie: n − ω + f + 1
/// with ω the spore's commit quorum (f + 1 for a policy change: one honest refusal suffices).
pub fn reject_quorum(policy: &Policy, is_change: bool) -> usize {
    policy.n() - commit_quorum(policy, is_change) + policy.faulty + 1
}

/// The adopted policy's rule for data spores (a newtype so the engine stays `Debug`).
#[derive(Clone)]
pub struct EndorseRule(pub SporeRule);

impl std::fmt::Debug for EndorseRule {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("EndorseRule")
    }
}

impl Engine {
    /// The gate's verdict on a policy-change spore, including the committee check (`None` for
    /// a data spore). Without a gate every change is refused.
    pub(super) fn judge_change(&self, spore: &Spore) -> Option<Result<Successor, String>> {
        change_of(spore)?;
        let Some(gate) = &self.cfg.policy_gate else {
            return Some(Err("this node accepts no policy changes".into()));
        };
        Some(gate.judge(spore)?.and_then(|next| {
            same_committee(&self.cfg.policy, &next.policy)?;
            Ok(next)
        }))
    }

    /// The apply gate's extra condition for a committed policy change: its base is the policy
    /// in force. Its endorsers all switched to that base before endorsing it, but a node that
    /// does not endorse (an observer) may hear of it before it hears of the change before it;
    /// it then waits for that one, like a data spore waits for its prerequisites.
    pub(super) fn change_applicable(&self, spore: &Spore) -> bool {
        match (change_of(spore), &self.cfg.policy_gate) {
            (Some((from, _)), Some(gate)) => *from == gate.base,
            _ => true,
        }
    }

    /// Whether the global policy forbids endorsing `spore` (see `Verdict`).
    pub(super) fn policy_refuses(&self, spore: &Spore) -> bool {
        if let Some(judged) = self.judge_change(spore) {
            return judged.is_err();
        }
        self.endorse_rule
            .as_ref()
            .is_some_and(|rule| (rule.0)(spore).is_err())
    }

    /// Called for every applied spore: a policy change switches the engine to its successor
    /// (endorsers, ω and f are the same by the gate; grace, horizon and rules may differ).
    pub(super) fn switch_policy(&mut self, cx: &mut Cx<'_>, id: SporeId, spore: &Spore) {
        let Some(judged) = self.judge_change(spore) else {
            return;
        };
        match judged {
            Ok(next) => {
                let hash = next.hash;
                self.take_successor(next);
                // A committed change waiting for this base can apply now.
                let waiting_changes: Vec<SporeId> = self
                    .waiting
                    .iter()
                    .filter(|w| {
                        self.records
                            .get(*w)
                            .and_then(|r| r.content.as_ref())
                            .is_some_and(|c| c.footprint.policy)
                    })
                    .copied()
                    .collect();
                cx.to_apply.extend(waiting_changes);
                let policy = change_of(spore)
                    .map(|(_, t)| t.to_vec())
                    .unwrap_or_default();
                cx.local.push(Effect::PolicyAdopted {
                    id,
                    hash,
                    policy: policy.into(),
                });
            }
            Err(why) => cx.local.push(Effect::PolicyNotAdopted { id, why }),
        }
    }

    /// Runs `next` from now on: the policy a state-transfer copy records (the last change the
    /// cluster applied, `store::layout::POLICY_KEY`), which this node missed. The node calls it
    /// between the install and `Input::Resynced` (which re-checks everything waiting, so a
    /// committed change based on `next` can then apply). Refused if it would change who counts
    /// (the node's check refuses that first).
    pub fn adopt_installed_policy(&mut self, next: Successor) -> Result<(), String> {
        same_committee(&self.cfg.policy, &next.policy)?;
        self.take_successor(next);
        Ok(())
    }

    /// The hash of the policy in force, as far as the engine knows it (`None` without a gate).
    pub fn policy_hash(&self) -> Option<Digest> {
        self.cfg.policy_gate.as_ref().map(|g| g.base)
    }

    /// Switches the consensus parameters, rules and gate to `next`.
    fn take_successor(&mut self, next: Successor) {
        self.cfg.policy = next.policy;
        self.cfg.grace_ms = next.grace_ms;
        self.cfg.max_horizon_ms = next.max_horizon_ms;
        self.cfg.policy_gate = Some(next.gate);
        self.endorse_rule = next.spore_rule.map(EndorseRule);
    }
}
