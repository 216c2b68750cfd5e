//! `Input::Tick`: the timers (PROTOCOL.md §4.4, §6.2, §6.3): Expiration at deadline + grace,
//! the endorsement fallback and origin addendum at the deadline, anti-entropy requests for
//! spores still unresolved half-way through their grace, and forgetting resolved spores.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;

use crate::crypto::NodeId;
use crate::spore::{Key, SporeId, VersionView};

use super::effect::{DropReason, Effect};
use super::engine::{remove_from, Cx, Engine, ExclusiveSlot};
use super::message::{EndorseBatch, Message, Want};
use super::record::Phase;

impl Engine {
    pub(super) fn on_tick(&mut self, cx: &mut Cx<'_>) {
        let now = cx.now;
        self.end_quiet(cx);
        // Expiration (§5.2): not committed by deadline + grace → dropped; the Promise lock of
        // a spore dropped early is released now.
        for (_, id) in take_due(&mut self.expiry, now) {
            match self.records.get(&id).map(|r| r.phase.clone()) {
                Some(Phase::Pending) => self.drop_spore(cx, id, DropReason::Expired),
                Some(Phase::Dropped(_)) => self.unlock(cx, id),
                _ => {}
            }
        }
        // Fallback (§6.2): an endorser whose endorsement has not produced a commit by the
        // deadline floods it (the origin may have crashed or be withholding); the origin
        // floods endorsements that arrived after its certificate (evidence visibility, §10).
        for (_, id) in take_due(&mut self.fallback, now) {
            let Some(r) = self.records.get(&id) else {
                continue;
            };
            let mine = r.spore().is_some_and(|s| s.origin == self.me);
            match r.phase {
                Phase::Pending if r.endorsed_by_me || mine => {
                    cx.to_flood.insert(id);
                }
                Phase::Committed | Phase::Applied | Phase::Dropped(_)
                    if mine && r.endorsements.len() > r.flooded_with =>
                {
                    cx.late_endorsements.insert(id);
                }
                _ => {}
            }
        }
        // Resend (§6.2): the origin may have lost our endorsement; the origin re-floods.
        let mut resends: BTreeMap<[u8; 64], (Arc<EndorseBatch>, BTreeSet<NodeId>)> =
            BTreeMap::new();
        for (_, id) in take_due(&mut self.resend, now) {
            let Some(r) = self.records.get(&id) else {
                continue;
            };
            if r.phase != Phase::Pending || cx.now >= r.deadline().unwrap_or(0) {
                continue;
            }
            let (Some(eb), Some(s)) = (r.endorsements.get(&self.me), r.spore()) else {
                continue;
            };
            if s.origin != self.me {
                resends
                    .entry(eb.signature)
                    .or_insert_with(|| (eb.clone(), BTreeSet::new()))
                    .1
                    .insert(s.origin);
            } else {
                // The origin re-floods a spore still pending (with the endorsements it holds):
                // an endorser that missed the first flood cannot endorse, and with ω = n − f
                // every live endorser is needed.
                cx.to_flood.insert(id);
            }
            self.resend
                .insert((now.saturating_add(self.cfg.resend_ms), id));
        }
        for (_, (eb, origins)) in resends {
            let msg = Arc::new(Message::Endorse(eb));
            for to in origins {
                cx.net.push(Effect::Send {
                    to,
                    msg: msg.clone(),
                });
            }
        }
        self.anti_entropy(cx);
        for (_, id) in take_due(&mut self.forget, now) {
            self.forget_record(now, id);
        }
        while self.verified_queue.front().is_some_and(|(t, _)| *t <= now) {
            if let Some((_, k)) = self.verified_queue.pop_front() {
                self.verified.remove(&k);
            }
        }
    }

    /// Asks a peer (rotating through the policy, deterministically) for spores that should be
    /// resolved by now and for the predecessors of committed spores that wait too long.
    fn anti_entropy(&mut self, cx: &mut Cx<'_>) {
        let due = take_due(&mut self.want_timer, cx.now);
        let mut want = Want::default();
        for (_, id) in due {
            if self
                .records
                .get(&id)
                .is_some_and(|r| r.phase == Phase::Pending)
            {
                want.ids.push(id);
            }
        }
        if cx.now >= self.last_want_ms.saturating_add(self.cfg.want_interval_ms) {
            let mut keys: BTreeSet<Key> = BTreeSet::new();
            for id in &self.waiting {
                let Some(r) = self.records.get(id) else {
                    continue;
                };
                if r.committed_at_ms
                    .is_some_and(|t| t.saturating_add(self.cfg.want_interval_ms) <= cx.now)
                {
                    if let Some(s) = r.spore() {
                        for p in &s.key_prereqs {
                            if !p.holds(&cx.proj.key_version(&p.key)) {
                                keys.insert(p.key.clone());
                            }
                        }
                    }
                }
                if keys.len() >= 256 {
                    break;
                }
            }
            want.keys = keys.into_iter().collect();
        }
        if want.ids.is_empty() && want.keys.is_empty() {
            return;
        }
        self.last_want_ms = cx.now;
        want.ids.sort();
        let peers: Vec<_> = self
            .cfg
            .policy
            .endorsers
            .iter()
            .filter(|p| **p != self.me)
            .copied()
            .collect();
        if peers.is_empty() {
            return;
        }
        let msg = Arc::new(Message::Want(want));
        // Two peers: one of them may be faulty.
        for _ in 0..2.min(peers.len()) {
            self.peer_cursor = (self.peer_cursor + 1) % peers.len();
            cx.net.push(Effect::Send {
                to: peers[self.peer_cursor],
                msg: msg.clone(),
            });
        }
    }

    /// Forgets a resolved spore: past deadline + grace + retention nothing about it can be
    /// accepted any more (Timeout and Expiration), so the id is safe to forget.
    fn forget_record(&mut self, now: u64, id: SporeId) {
        let Some(r) = self.records.get(&id) else {
            return;
        };
        if matches!(r.phase, Phase::Committed) || r.locked {
            // Still waiting for its prerequisites (or holding a lock): keep it, and look again
            // later. (Its timer has just been taken: without a new one, a spore that waited
            // this long would be remembered for ever once it applied.)
            let again = now.saturating_add(self.cfg.retention_ms().max(1));
            self.forget.insert((again, id));
            return;
        }
        let Some(r) = self.records.remove(&id) else {
            return;
        };
        self.deferred_scoped.remove(&id);
        if let Some(c) = &r.content {
            for t in &c.footprint.keys {
                remove_from(&mut self.recent_by_key, &t.key, &id);
                remove_from(&mut self.deferred_by_key, &t.key, &id);
                for e in r.endorsements.keys() {
                    if let Some(acc) = c.spore.prereq(&t.key).and_then(|p| p.acc) {
                        let slot = ExclusiveSlot::new(*e, t.key.clone(), t.order, acc);
                        if self.exclusive_slots.get(&slot) == Some(&id) {
                            self.exclusive_slots.remove(&slot);
                        }
                    }
                }
            }
        } else {
            for e in r.endorsements.keys() {
                if let Some(n) = self.unknown_per_endorser.get_mut(e) {
                    *n = n.saturating_sub(1);
                }
            }
        }
        self.dependents.remove(&id);
    }
}

/// Removes and returns the timer entries due at `now`.
fn take_due(set: &mut BTreeSet<(u64, SporeId)>, now: u64) -> Vec<(u64, SporeId)> {
    let rest = set.split_off(&(now.saturating_add(1), SporeId([0; 32])));
    let due = std::mem::replace(set, rest);
    due.into_iter().collect()
}

/// Keeps the `VersionView` import used by `cx.proj` explicit for readers.
#[allow(dead_code)]
fn _uses_view(v: &dyn VersionView) {
    let _ = v;
}
