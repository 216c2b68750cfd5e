//! The check every gossiped message passes before a node relays it (issue: "validated before
//! relay"). It is stateless and cheap to share with the network task: size, decoding, the
//! statements' signers (policy endorsers, or allowed origins), their signatures, the deadline
//! horizon and the global policy's rules for spore content.
//!
//! Verdicts follow gossipsub's meaning: `Reject` is provable misbehaviour by whoever sent it
//! (a forged signature, a statement by a key outside the policy, an oversized or undecodable
//! message, a spore the global policy forbids, a deadline beyond the horizon) and costs the
//! sender score; `Ignore` is harmless noise an honest relay may forward late (a spore whose
//! deadline is long past). The engine verifies the same signatures again through the same
//! [`Verifier`] — a shared cache makes that a lookup, not a second ed25519 check.

use std::collections::{BTreeMap, BTreeSet, VecDeque};
use std::sync::{Arc, Mutex};

use bytes::Bytes;
use ed25519_dalek::VerifyingKey;

use crate::crypto::{statement_key, Digest, NodeId};
use crate::spore::validate::validate;
use crate::spore::Spore;

use super::config::{Policy, Verifier};
use super::message::{
    Bundle, EndorseBatch, Message, RejectBatch, SporeBatch, DOMAIN_ENDORSE, DOMAIN_REJECT,
    DOMAIN_SPORES,
};
use super::wire::decode_message;

/// Extra rules on spore content (the global policy's sizes and per-key-pattern operations).
pub type SporeRule = Arc<dyn Fn(&Spore) -> Result<(), String> + Send + Sync>;

/// What a gossiped message is checked against.
#[derive(Clone)]
pub struct GossipRules {
    pub policy: Policy,
    /// Keys allowed to originate spores besides the endorsers (observers with write rights).
    pub extra_origins: BTreeSet<NodeId>,
    pub max_message_bytes: usize,
    pub max_horizon_ms: u64,
    pub max_skew_ms: u64,
    /// A spore whose deadline + this is past is stale (ignored, not punished).
    pub stale_after_ms: u64,
    pub spore_rule: Option<SporeRule>,
    /// When set, `(max_horizon_ms, stale_after_ms)` read at each check instead of the fields
    /// above: a policy change may move the spore deadline and grace while the node runs.
    pub limits: Option<Limits>,
    pub verifier: Verifier,
}

/// `() -> (max_horizon_ms, stale_after_ms)`, see `GossipRules::limits`.
pub type Limits = Arc<dyn Fn() -> (u64, u64) + Send + Sync>;

/// The verdict on one gossiped message.
#[derive(Debug)]
pub enum GossipVerdict {
    /// Relay it and hand the decoded message to the engine.
    Accept(Message),
    /// Do not relay; the sender is scored down.
    Reject(String),
    /// Do not relay; no penalty.
    Ignore(String),
}

/// Checks one gossiped message at local time `now_ms`.
pub fn check_gossip(rules: &GossipRules, now_ms: u64, data: &Bytes) -> GossipVerdict {
    if data.len() > rules.max_message_bytes {
        return GossipVerdict::Reject(format!(
            "message of {} bytes exceeds {}",
            data.len(),
            rules.max_message_bytes
        ));
    }
    let msg = match decode_message(data) {
        Ok(m) => m,
        Err(e) => return GossipVerdict::Reject(format!("undecodable: {e}")),
    };
    let Message::Bundle(bundle) = &msg else {
        return GossipVerdict::Reject("direct message sent on the gossip topic".into());
    };
    match check_bundle(rules, now_ms, bundle) {
        Ok(true) => GossipVerdict::Accept(msg),
        Ok(false) => GossipVerdict::Ignore("only stale statements".into()),
        Err(why) => GossipVerdict::Reject(why),
    }
}

/// Checks a direct (non-gossip) message the same way: signatures and signers of whatever it
/// carries. `Want` carries no statement and is accepted as is.
pub fn check_direct(rules: &GossipRules, now_ms: u64, data: &Bytes) -> Result<Message, String> {
    if data.len() > rules.max_message_bytes {
        return Err(format!("message of {} bytes is too large", data.len()));
    }
    let msg = decode_message(data).map_err(|e| format!("undecodable: {e}"))?;
    match &msg {
        Message::Bundle(b) => {
            check_bundle(rules, now_ms, b)?;
        }
        Message::Endorse(eb) => check_endorse(rules, eb)?,
        Message::Want(_) => {}
    }
    Ok(msg)
}

/// `Ok(true)` if something in it is current, `Ok(false)` if everything is stale.
fn check_bundle(rules: &GossipRules, now_ms: u64, b: &Bundle) -> Result<bool, String> {
    if b.is_empty() {
        return Err("empty bundle".into());
    }
    let mut current = !b.endorsements.is_empty() || !b.rejections.is_empty();
    for batch in &b.spores {
        current |= check_spore_batch(rules, now_ms, batch)?;
    }
    for eb in &b.endorsements {
        check_endorse(rules, eb)?;
    }
    for rb in &b.rejections {
        check_reject(rules, rb)?;
    }
    Ok(current)
}

fn check_spore_batch(rules: &GossipRules, now_ms: u64, batch: &SporeBatch) -> Result<bool, String> {
    let origin = batch.origin;
    if !rules.policy.is_endorser(&origin) && !rules.extra_origins.contains(&origin) {
        return Err(format!(
            "spores from unknown origin {}",
            hex::encode(origin)
        ));
    }
    if batch.spores.is_empty() {
        return Err("empty spore batch".into());
    }
    let (max_horizon_ms, stale_after_ms) = rules
        .limits
        .as_ref()
        .map_or((rules.max_horizon_ms, rules.stale_after_ms), |l| l());
    let horizon = now_ms.saturating_add(max_horizon_ms + rules.max_skew_ms);
    let mut current = false;
    for s in &batch.spores {
        if s.origin != origin {
            return Err("a spore's origin differs from the batch signer".into());
        }
        validate(s).map_err(|e| format!("invalid spore: {e}"))?;
        if s.deadline_ms > horizon {
            return Err("spore deadline beyond the horizon".into());
        }
        if s.deadline_ms.saturating_add(stale_after_ms) > now_ms {
            current = true;
        }
        if let Some(rule) = &rules.spore_rule {
            rule(s).map_err(|e| format!("spore refused by the global policy: {e}"))?;
        }
    }
    // Computed here once for the batch; the engine reuses them (`SporeBatch::ids`).
    let payload = SporeBatch::payload(&origin, &batch.ids());
    if !(rules.verifier.0)(&origin, DOMAIN_SPORES, &payload, &batch.signature) {
        return Err("forged spore batch signature".into());
    }
    Ok(current)
}

fn check_endorse(rules: &GossipRules, eb: &EndorseBatch) -> Result<(), String> {
    if !rules.policy.is_endorser(&eb.endorser) {
        return Err(format!(
            "endorsement by non-endorser {}",
            hex::encode(eb.endorser)
        ));
    }
    if eb.ids.is_empty() || eb.ids.windows(2).any(|w| w[0] >= w[1]) {
        return Err("malformed endorsement batch".into());
    }
    let payload = EndorseBatch::payload(&eb.endorser, &eb.ids);
    if !(rules.verifier.0)(&eb.endorser, DOMAIN_ENDORSE, &payload, &eb.signature) {
        return Err("forged endorsement signature".into());
    }
    Ok(())
}

fn check_reject(rules: &GossipRules, rb: &RejectBatch) -> Result<(), String> {
    if !rules.policy.is_endorser(&rb.rejecter) {
        return Err(format!(
            "rejection by non-endorser {}",
            hex::encode(rb.rejecter)
        ));
    }
    if rb.entries.is_empty() || rb.entries.windows(2).any(|w| w[0].0 >= w[1].0) {
        return Err("malformed rejection batch".into());
    }
    let payload = RejectBatch::payload(&rb.rejecter, &rb.entries);
    if !(rules.verifier.0)(&rb.rejecter, DOMAIN_REJECT, &payload, &rb.signature) {
        return Err("forged rejection signature".into());
    }
    Ok(())
}

/// A verifier that remembers the last `capacity` valid signatures, shared by the network task
/// (which checks before relay) and the engine (which checks again): one ed25519 verification per
/// statement per node. Only *valid* results are cached, so a forged statement costs its full
/// check every time but cannot evict much (FIFO of valid entries). Signers' decoded keys are
/// kept too (`KEYS_KEPT`): the callers only verify statements by policy endorsers and allowed
/// origins, a handful of keys, and decoding one is a point decompression per verification.
pub fn cached_verifier(capacity: usize) -> Verifier {
    let cache: Arc<Mutex<(BTreeSet<Digest>, VecDeque<Digest>)>> = Arc::default();
    let keys: Arc<Mutex<BTreeMap<NodeId, VerifyingKey>>> = Arc::default();
    Verifier(Arc::new(
        move |signer: &NodeId, domain: &str, payload: &[u8], sig: &[u8; 64]| {
            let k = statement_key(signer, domain, sig, payload);
            if let Ok(c) = cache.lock() {
                if c.0.contains(&k) {
                    return true;
                }
            }
            let known = keys.lock().ok().and_then(|m| m.get(signer).copied());
            let key = match known {
                Some(key) => key,
                None => match crate::crypto::verifying_key(signer) {
                    Ok(key) => {
                        if let Ok(mut m) = keys.lock() {
                            // Bounded whatever callers do; refilled by the next checks.
                            if m.len() >= KEYS_KEPT {
                                m.clear();
                            }
                            m.insert(*signer, key);
                        }
                        key
                    }
                    Err(_) => return false,
                },
            };
            let ok = crate::crypto::verify_with(&key, domain, payload, sig).is_ok();
            if ok {
                if let Ok(mut c) = cache.lock() {
                    if c.0.insert(k) {
                        c.1.push_back(k);
                    }
                    while c.1.len() > capacity {
                        if let Some(old) = c.1.pop_front() {
                            c.0.remove(&old);
                        }
                    }
                }
            }
            ok
        },
    ))
}

/// Most decoded signer keys `cached_verifier` keeps (policies name far fewer endorsers).
const KEYS_KEPT: usize = 1_024;

#[cfg(test)]
mod tests {
    use super::*;
    use crate::crypto::NodeKey;

    /// Keeping a signer's decoded key must not let anything but a valid signature through.
    #[test]
    fn cached_verifier_checks_every_new_signature_of_a_known_signer() {
        let v = cached_verifier(16);
        let k = NodeKey::from_seed([3; 32]);
        let sig = k.sign("sporedb/v1/test", b"payload");
        assert!((v.0)(&k.id(), "sporedb/v1/test", b"payload", &sig));
        // The key is now kept: a forged statement by the same signer still fails, every time.
        for _ in 0..2 {
            assert!(!(v.0)(&k.id(), "sporedb/v1/test", b"other payload", &sig));
            assert!(!(v.0)(&k.id(), "sporedb/v1/other", b"payload", &sig));
        }
        // Another signer's signature does not pass as this one's.
        let other = NodeKey::from_seed([4; 32]);
        assert!(!(v.0)(&other.id(), "sporedb/v1/test", b"payload", &sig));
        // Not a point on the curve, and a small-order (weak) key: refused, never kept.
        let mut bad = [0u8; 32];
        bad[0] = 2;
        assert!(crate::crypto::verifying_key(&bad).is_err());
        assert!(!(v.0)(&bad, "sporedb/v1/test", b"payload", &sig));
        let weak = [0u8; 32];
        assert!(crate::crypto::verifying_key(&weak).is_err());
        assert!(!(v.0)(&weak, "sporedb/v1/test", b"payload", &[0; 64]));
    }
}
