//! The engine's configuration: who may endorse, how many endorsements commit, and the clock
//! bounds the drop rules rely on (PROTOCOL.md §2 "Policy" and §7 "Clocks").

use std::sync::Arc;

use crate::crypto::{NodeId, NodeKey};

/// Signature validity: `verify(signer, domain, payload, signature)`. The default is
/// `crypto::verify` (ed25519 `verify_strict`), which *defines* validity; an alternative may only
/// be a faster way to compute the same function (a shared cache, batch verification with
/// fallback). The simulator shares one cache across its nodes so that 1000-node runs do not
/// verify each signature 1000 times.
#[derive(Clone)]
pub struct Verifier(pub Arc<VerifyFn>);

/// `(signer, domain, payload, signature) -> valid`.
pub type VerifyFn = dyn Fn(&NodeId, &str, &[u8], &[u8; 64]) -> bool + Send + Sync;

impl Verifier {
    pub fn strict() -> Verifier {
        Verifier(Arc::new(|signer, domain, payload, sig| {
            crate::crypto::verify(signer, domain, payload, sig).is_ok()
        }))
    }
}

impl std::fmt::Debug for Verifier {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Verifier")
    }
}

/// The global policy every honest node holds identically (whitepaper §4.1, Lemma 2).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Policy {
    /// The endorsers' ids, sorted and distinct. Only their endorsements count, once each.
    pub endorsers: Vec<NodeId>,
    /// ω: endorsements needed to commit.
    pub quorum: usize,
    /// f: the number of Byzantine endorsers the policy is sized for.
    pub faulty: usize,
}

/// Why a policy is refused (PROTOCOL.md §8 "Quorum bounds").
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PolicyError {
    #[error("no endorsers")]
    Empty,
    #[error("endorsers are not sorted and distinct")]
    Unsorted,
    #[error("quorum {quorum} must satisfy floor((n+f)/2) < quorum <= n for n={n}, f={f}")]
    Unsafe { n: usize, f: usize, quorum: usize },
}

impl Policy {
    /// A policy over `endorsers` (sorted here), checking the safety bound ⌊(n+f)/2⌋ < ω ≤ n
    /// (whitepaper §6.2 assumption 7). Liveness additionally needs ω ≤ n − f; that is not
    /// enforced because a unanimity policy (ω = n) is a deliberate choice (veto, §4.2).
    pub fn new(
        mut endorsers: Vec<NodeId>,
        quorum: usize,
        faulty: usize,
    ) -> Result<Policy, PolicyError> {
        endorsers.sort();
        endorsers.dedup();
        let n = endorsers.len();
        if n == 0 {
            return Err(PolicyError::Empty);
        }
        if quorum <= (n + faulty) / 2 || quorum > n {
            return Err(PolicyError::Unsafe {
                n,
                f: faulty,
                quorum,
            });
        }
        Ok(Policy {
            endorsers,
            quorum,
            faulty,
        })
    }

    /// The smallest safe quorum for n endorsers tolerating f: ⌊(n+f)/2⌋ + 1.
    pub fn min_quorum(n: usize, f: usize) -> usize {
        (n + f) / 2 + 1
    }

    pub fn n(&self) -> usize {
        self.endorsers.len()
    }

    pub fn is_endorser(&self, id: &NodeId) -> bool {
        self.endorsers.binary_search(id).is_ok()
    }

    /// Whether the policy is live with f silent endorsers: ω ≤ n − f.
    pub fn is_live(&self) -> bool {
        self.quorum + self.faulty <= self.n()
    }

    /// Rejections that prove a spore can never commit even if f rejecters lie:
    /// n − ω + f + 1 (PROTOCOL.md §4.2).
    pub fn reject_quorum(&self) -> usize {
        self.n() - self.quorum + self.faulty + 1
    }
}

/// Everything the engine needs at construction.
#[derive(Debug, Clone)]
pub struct EngineConfig {
    /// This node's key (signs its spore batches, endorsements and rejections).
    pub me: NodeKey,
    pub policy: Policy,
    /// G: how long after a spore's deadline a node keeps waiting for its commit before dropping
    /// it. Must be ≥ 2δ + 2τ (PROTOCOL.md §7).
    pub grace_ms: u64,
    /// Honest nodes refuse spores whose deadline is further than this in the future.
    pub max_horizon_ms: u64,
    /// δ: the clock skew between honest nodes the deployment guarantees.
    pub max_skew_ms: u64,
    /// How long before its deadline an endorsed spore must be committed before endorsers
    /// fall back to flooding their endorsements (origin crashed or withholding).
    pub fallback_before_deadline_ms: u64,
    /// Rate limit for anti-entropy requests (PROTOCOL.md §6.3).
    pub want_interval_ms: u64,
    /// An endorsement whose spore is still pending this long after it was sent is sent to the
    /// origin again (the same signed batch: a lost message costs one resend, not a deadline).
    pub resend_ms: u64,
    pub verifier: Verifier,
    /// Amnesia guard: endorse nothing before this local time. A node restarted without a
    /// durable record of its own endorsements sets it to `start + amnesia_quiet_ms()`: every
    /// spore it may have endorsed before the restart is then resolved everywhere, so it cannot
    /// equivocate by forgetting (PROTOCOL.md §9.3). 0 = no guard (fresh node, simulator).
    pub endorse_after_ms: u64,
    /// Judges policy-change spores (`policy_change.rs`); `None`: this node endorses none and
    /// keeps its policy if one commits (the simulator's default).
    pub policy_gate: Option<super::policy_change::PolicyGate>,
}

impl EngineConfig {
    /// A configuration with the defaults used by the simulator's LAN profile.
    pub fn new(me: NodeKey, policy: Policy) -> EngineConfig {
        EngineConfig {
            me,
            policy,
            grace_ms: 2_000,
            max_horizon_ms: 10_000,
            max_skew_ms: 100,
            fallback_before_deadline_ms: 0,
            want_interval_ms: 500,
            resend_ms: 200,
            verifier: Verifier::strict(),
            endorse_after_ms: 0,
            policy_gate: None,
        }
    }

    /// How long a restarted node without its endorsement memory stays quiet.
    pub fn amnesia_quiet_ms(&self) -> u64 {
        // Any spore endorsed before a crash at time c has deadline ≤ c + horizon + skew and is
        // committed or dropped everywhere by deadline + grace + skew.
        self.max_horizon_ms + self.grace_ms + 2 * self.max_skew_ms
    }

    /// How long records of resolved spores are kept (replay protection): past D + G + δ, a
    /// spore can neither be endorsed (Timeout) nor committed (Expiration), so forgetting it is
    /// safe.
    pub fn retention_ms(&self) -> u64 {
        self.grace_ms + 2 * self.max_skew_ms
    }
}

/// The id of this node (a convenience for tests).
pub fn node_id(key: &NodeKey) -> NodeId {
    key.id()
}
