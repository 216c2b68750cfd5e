//! `Input::Message`: signed statements from peers (PROTOCOL.md §3, §6). Every statement is
//! verified (strictly, through the cache) before it changes anything; statements from keys
//! outside the policy are ignored; anything about a spore past its deadline + grace is ignored
//! (Expiration), which also makes replays of old messages inert.

use std::collections::btree_map::Entry;
use std::collections::BTreeSet;
use std::sync::Arc;

use crate::crypto::NodeId;
use crate::spore::footprint::{Footprint, KeyClass};
use crate::spore::validate::validate;
use crate::spore::SporeId;

use super::effect::Effect;
use super::engine::{Cx, Engine, ExclusiveSlot};
use super::evidence::{mutually_exclusive, Evidence};
use super::message::{
    Bundle, EndorseBatch, Message, RejectBatch, SporeBatch, Want, DOMAIN_ENDORSE, DOMAIN_REJECT,
    DOMAIN_SPORES,
};
use super::record::{Content, Phase, Record};

/// The most spore batches one `Want` answer carries.
const MAX_WANT_ANSWER: usize = 64;

impl Engine {
    pub(super) fn on_message(&mut self, cx: &mut Cx<'_>, from: NodeId, msg: Message) {
        match msg {
            Message::Bundle(b) => {
                let new = self.on_bundle(cx, &b);
                // Gossip: relay what taught us something (duplicates and replays die here).
                if new {
                    cx.net.push(Effect::Broadcast(Arc::new(Message::Bundle(b))));
                }
            }
            Message::Endorse(eb) => {
                self.on_endorse(cx, &eb, false);
            }
            Message::Want(w) => self.on_want(cx, from, &w),
        }
    }

    /// Processes a bundle; returns whether it contained anything new and valid.
    fn on_bundle(&mut self, cx: &mut Cx<'_>, b: &Bundle) -> bool {
        let mut new = false;
        for batch in &b.spores {
            new |= self.on_spore_batch(cx, batch);
        }
        let mut counts: std::collections::BTreeMap<SporeId, usize> = Default::default();
        for eb in &b.endorsements {
            new |= self.on_endorse(cx, eb, true);
            for id in &eb.ids {
                *counts.entry(*id).or_default() += 1;
            }
        }
        // A bundle that alone certifies a spore is flooded as is: no need to flood another.
        for (id, n) in counts {
            if n >= self.cfg.policy.quorum {
                if let Some(r) = self.records.get_mut(&id) {
                    r.certified_by_bundle = true;
                }
            }
        }
        for rb in &b.rejections {
            new |= self.on_reject(cx, rb);
        }
        new
    }

    fn on_spore_batch(&mut self, cx: &mut Cx<'_>, batch: &Arc<SporeBatch>) -> bool {
        if !self.cfg.policy.is_endorser(&batch.origin) && batch.origin != self.me {
            return false;
        }
        // Cheap pre-check: is anything in it new and not expired?
        let ids = batch.ids();
        let grace = self.cfg.grace_ms;
        let fresh: Vec<usize> = (0..ids.len())
            .filter(|&i| {
                let known = self
                    .records
                    .get(&ids[i])
                    .is_some_and(|r| r.content.is_some() || !r.is_live());
                !known && cx.now <= batch.spores[i].deadline_ms.saturating_add(grace)
            })
            .collect();
        if fresh.is_empty() || batch.spores.iter().any(|s| s.origin != batch.origin) {
            return false;
        }
        if !self.verify_cached(
            cx.now,
            &batch.origin,
            DOMAIN_SPORES,
            &SporeBatch::payload(&batch.origin, &ids),
            &batch.signature,
        ) {
            return false;
        }
        let mut new = false;
        let batch_ids: Arc<[SporeId]> = ids.clone();
        for i in fresh {
            let (id, spore) = (ids[i], batch.spores[i].clone());
            if validate(&spore).is_err() {
                continue; // a Byzantine origin's malformed spore: never endorsed, never applied
            }
            let content = Content {
                footprint: Footprint::of(&spore),
                spore: spore.clone(),
                batch: batch.clone(),
                batch_ids: batch_ids.clone(),
            };
            let record = self
                .records
                .entry(id)
                .or_insert_with(|| Record::new(cx.now));
            record.content = Some(content);
            // Endorsements that arrived before the content: check them for evidence now.
            let earlier: Vec<Arc<EndorseBatch>> = record.endorsements.values().cloned().collect();
            new = true;
            self.schedule(id, &spore);
            for eb in earlier {
                self.check_exclusive(cx, &eb, id);
            }
            cx.check.push(id);
            self.consider(cx, id);
        }
        new
    }

    /// Records an endorsement batch; returns whether it taught anything new.
    fn on_endorse(&mut self, cx: &mut Cx<'_>, eb: &Arc<EndorseBatch>, _gossiped: bool) -> bool {
        if !self.cfg.policy.is_endorser(&eb.endorser)
            || eb.ids.is_empty()
            || eb.ids.windows(2).any(|w| w[0] >= w[1])
        {
            return false;
        }
        let grace = self.cfg.grace_ms;
        let relevant: Vec<SporeId> = eb
            .ids
            .iter()
            .filter(|id| match self.records.get(id) {
                Some(r) => {
                    !r.endorsements.contains_key(&eb.endorser)
                        && r.deadline()
                            .is_none_or(|d| cx.now <= d.saturating_add(grace))
                }
                None => true,
            })
            .copied()
            .collect();
        if relevant.is_empty() {
            return false;
        }
        if !self.verify_cached(
            cx.now,
            &eb.endorser,
            DOMAIN_ENDORSE,
            &EndorseBatch::payload(&eb.endorser, &eb.ids),
            &eb.signature,
        ) {
            return false;
        }
        let mut new = false;
        for id in relevant {
            if !self.records.contains_key(&id) {
                if !self.note_unknown(&eb.endorser) {
                    continue;
                }
                self.records.insert(id, Record::new(cx.now));
                // Content-less records are forgotten after the longest life a spore can have.
                let t = cx.now.saturating_add(
                    self.cfg.max_horizon_ms + self.cfg.grace_ms + self.cfg.retention_ms(),
                );
                self.forget.insert((t, id));
                self.want_timer
                    .insert((cx.now.saturating_add(self.cfg.grace_ms / 2), id));
            }
            let Some(r) = self.records.get_mut(&id) else {
                continue;
            };
            r.endorsements.insert(eb.endorser, eb.clone());
            let rejected = r.rejections.get(&eb.endorser).cloned();
            new = true;
            if let Some(rb) = rejected {
                self.evidence(
                    cx,
                    Evidence::EndorsedAndRejected {
                        id,
                        endorsed: eb.clone(),
                        rejected: rb,
                    },
                    id,
                    id,
                );
            }
            self.check_exclusive(cx, eb, id);
            cx.check.push(id);
        }
        new
    }

    fn on_reject(&mut self, cx: &mut Cx<'_>, rb: &Arc<RejectBatch>) -> bool {
        if !self.cfg.policy.is_endorser(&rb.rejecter)
            || rb.entries.is_empty()
            || rb.entries.windows(2).any(|w| w[0].0 >= w[1].0)
        {
            return false;
        }
        let relevant: Vec<SporeId> = rb
            .entries
            .iter()
            .map(|(id, _)| *id)
            .filter(|id| {
                self.records
                    .get(id)
                    .is_some_and(|r| r.is_live() && !r.rejections.contains_key(&rb.rejecter))
            })
            .collect();
        if relevant.is_empty() {
            return false;
        }
        if !self.verify_cached(
            cx.now,
            &rb.rejecter,
            DOMAIN_REJECT,
            &RejectBatch::payload(&rb.rejecter, &rb.entries),
            &rb.signature,
        ) {
            return false;
        }
        for id in relevant {
            let Some(r) = self.records.get_mut(&id) else {
                continue;
            };
            r.rejections.insert(rb.rejecter, rb.clone());
            if let Some(eb) = r.endorsements.get(&rb.rejecter).cloned() {
                self.evidence(
                    cx,
                    Evidence::EndorsedAndRejected {
                        id,
                        endorsed: eb,
                        rejected: rb.clone(),
                    },
                    id,
                    id,
                );
            }
            cx.check.push(id);
        }
        true
    }

    /// Looks for a mutually exclusive spore the same endorser endorsed (evidence, §10).
    pub(super) fn check_exclusive(&mut self, cx: &mut Cx<'_>, eb: &Arc<EndorseBatch>, id: SporeId) {
        let Some(c) = self.records.get(&id).and_then(|r| r.content.clone()) else {
            return;
        };
        for t in &c.footprint.keys {
            if !matches!(t.class, KeyClass::Read | KeyClass::Write) {
                continue;
            }
            let Some(acc) = c.spore.prereq(&t.key).and_then(|p| p.acc) else {
                continue;
            };
            let slot = ExclusiveSlot::new(eb.endorser, t.key.clone(), t.order, acc);
            // One walk down the map for the usual case, a slot seen for the first time.
            let other = match self.exclusive_slots.entry(slot) {
                Entry::Vacant(v) => {
                    v.insert(id);
                    continue;
                }
                Entry::Occupied(o) => *o.get(),
            };
            if other == id {
                continue;
            }
            let Some(r) = self.records.get(&other) else {
                continue;
            };
            let (Some(oc), Some(oe)) =
                (r.content.clone(), r.endorsements.get(&eb.endorser).cloned())
            else {
                continue;
            };
            if mutually_exclusive(&c.spore, &oc.spore, self.cfg.grace_ms) {
                let e = Evidence::ConflictingEndorsements {
                    a: oc.spore.clone(),
                    b: c.spore.clone(),
                    ea: oe,
                    eb: eb.clone(),
                };
                self.evidence(cx, e, other, id);
            }
        }
    }

    /// Answers an anti-entropy request directly (PROTOCOL.md §6.3).
    fn on_want(&mut self, cx: &mut Cx<'_>, from: NodeId, w: &Want) {
        let mut ids: BTreeSet<SporeId> = w.ids.iter().copied().collect();
        for k in &w.keys {
            if let Some(set) = self.recent_by_key.get(k) {
                ids.extend(set.iter().copied());
            }
        }
        let mut bundle = Bundle::default();
        let mut batches: BTreeSet<[u8; 64]> = BTreeSet::new();
        let mut sigs: BTreeSet<[u8; 64]> = BTreeSet::new();
        for id in ids {
            let Some(r) = self.records.get(&id) else {
                continue;
            };
            if matches!(r.phase, Phase::Dropped(_)) {
                continue;
            }
            if let Some(c) = &r.content {
                if batches.len() >= MAX_WANT_ANSWER {
                    break;
                }
                if batches.insert(c.batch.signature) {
                    bundle.spores.push(c.batch.clone());
                }
            }
            for eb in r.endorsements.values() {
                if sigs.insert(eb.signature) {
                    bundle.endorsements.push(eb.clone());
                }
            }
        }
        if !bundle.is_empty() {
            cx.net.push(Effect::Send {
                to: from,
                msg: Arc::new(Message::Bundle(bundle)),
            });
        }
    }
}
