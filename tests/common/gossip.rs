//! The gossip checks' rules for tests: four-endorser policy (ω = 3, f = 1), 64 KiB messages,
//! a 10 s horizon, no spore-content rule (a test that needs one sets `spore_rule`).

use std::collections::BTreeSet;

use sporedb::consensus::{cached_verifier, GossipRules, Policy};
use sporedb::crypto::NodeKey;

pub fn rules(keys: &[NodeKey]) -> GossipRules {
    GossipRules {
        policy: Policy::new(keys.iter().map(|k| k.id()).collect(), 3, 1).expect("policy"),
        extra_origins: BTreeSet::new(),
        max_message_bytes: 64 * 1024,
        max_horizon_ms: 10_000,
        max_skew_ms: 100,
        stale_after_ms: 5_000,
        spore_rule: None,
        limits: None,
        verifier: cached_verifier(1024),
    }
}
