//! The endorsement decision (whitepaper §5.2 rules; PROTOCOL.md §5): Timeout, horizon, local
//! veto, class guard, Consistency (with the chain rule) and Promise, in that order.

use std::collections::BTreeSet;

use bytes::Bytes;

use crate::spore::footprint::KeyClass;
use crate::spore::{Key, SporeId, VersionView};

use super::engine::{remove_from, Cx, Engine, ScopeChanges};
use super::local::LocalDecision;
use super::message::RejectReason;
use super::record::Phase;

/// What an honest endorser does with a spore now.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Verdict {
    Endorse,
    Reject(RejectReason),
    /// Consistency: a prerequisite holds neither in the projection nor after a live spore.
    DeferPrereqs,
    /// Promise: conflicts with a spore this node endorsed or committed, still unresolved.
    DeferConflict,
    /// The local policy holds it for a human decision.
    Hold,
    /// Amnesia guard: this node endorses nothing yet (re-evaluated when the guard ends).
    Quiet,
    /// Nothing to do (not an endorser, already decided, resolved, no content).
    Skip,
}

impl Engine {
    /// Decides, without side effects, what to do with spore `id` now.
    pub(super) fn verdict(&self, cx: &Cx<'_>, id: &SporeId) -> Verdict {
        let Some(r) = self.records.get(id) else {
            return Verdict::Skip;
        };
        let Some(c) = &r.content else {
            return Verdict::Skip;
        };
        if !self.cfg.policy.is_endorser(&self.me)
            || r.endorsed_by_me
            || r.rejected_by_me
            || r.phase != Phase::Pending
        {
            return Verdict::Skip;
        }
        let s = &c.spore;
        // Timeout (§5.2): never endorse at or after the deadline.
        if cx.now >= s.deadline_ms {
            return Verdict::Reject(RejectReason::Expired);
        }
        // Horizon (§7): a far-future deadline would block conflicting writers for that long.
        if s.deadline_ms
            > cx.now
                .saturating_add(self.cfg.max_horizon_ms + self.cfg.max_skew_ms)
        {
            return Verdict::Reject(RejectReason::TooFarInFuture);
        }
        // Reluctant node (§4.2 local policies). A spore a human approved is not asked again.
        if !r.approved {
            match self.local_policy.as_ref().map(|p| p.decide(s)) {
                Some(LocalDecision::Veto) => return Verdict::Reject(RejectReason::Veto),
                Some(LocalDecision::Hold) => return Verdict::Hold,
                Some(LocalDecision::Endorse) | None => {}
            }
        }
        // Global policy: a policy change must be one this node's gate accepts; after a switch, a
        // data spore must pass the new rules (it may have been gossiped under the old ones).
        if self.policy_refuses(s) {
            return Verdict::Reject(RejectReason::PolicyRefused);
        }
        // Class guard (§5.3): counters and set members at one order version do not commute
        // once one of them is applied.
        for t in &c.footprint.keys {
            let bit = match t.class {
                KeyClass::Counter => 1u8,
                KeyClass::Members { .. } => 2u8,
                _ => continue,
            };
            if let Some((order, mask)) = self.class_guard.get(&t.key) {
                if *order == t.order && mask & !bit != 0 {
                    return Verdict::Reject(RejectReason::ClassMix);
                }
            }
        }
        // Consistency (§5.2), extended by the chain rule (§5.1).
        if self.unreachable_prereq(cx, id).is_some() {
            return Verdict::DeferPrereqs;
        }
        // Promise (§5.2).
        if r.locked || self.locks.conflicts(&c.footprint) {
            return Verdict::DeferConflict;
        }
        // Amnesia guard (PROTOCOL.md §9.3): checked last so that everything else about the
        // spore is settled; it is deferred and re-evaluated when the guard ends.
        if self.quiet_until.is_some_and(|t| cx.now < t) {
            return Verdict::Quiet;
        }
        Verdict::Endorse
    }

    /// The first prerequisite of `id` that holds neither in the projection nor after a live
    /// spore, if any. Records the producers the spore depends on.
    pub(super) fn unreachable_prereq(&self, cx: &Cx<'_>, id: &SporeId) -> Option<Key> {
        let s = self.records.get(id)?.spore()?;
        for p in &s.key_prereqs {
            let current = cx.proj.key_version(&p.key);
            if p.holds(&current) {
                continue;
            }
            if self.producer_of(p).is_some() {
                continue;
            }
            return Some(p.key.clone());
        }
        for p in &s.db_prereqs {
            if cx.proj.db_state(p.db).version() != p.version {
                return s
                    .key_prereqs
                    .first()
                    .map(|p| p.key.clone())
                    .or(Some(Key::new(p.db, "")));
            }
        }
        None
    }

    fn producer_of(&self, p: &crate::spore::KeyPrereq) -> Option<SporeId> {
        match p.acc {
            Some(acc) => self.produced.get(&(p.key.clone(), p.order, acc)).copied(),
            None => self
                .produced
                .range((p.key.clone(), p.order, [0u8; 32])..=(p.key.clone(), p.order, [0xffu8; 32]))
                .next()
                .map(|(_, id)| *id),
        }
    }

    /// Endorses now: takes the Promise lock, indexes what it produces, queues the signature.
    pub(super) fn endorse_now(&mut self, cx: &mut Cx<'_>, id: SporeId) {
        // Remember which live spores it was reachable through: if one is dropped, so is it.
        if let Some(s) = self.records.get(&id).and_then(|r| r.spore().cloned()) {
            for p in &s.key_prereqs {
                if !p.holds(&cx.proj.key_version(&p.key)) {
                    if let Some(prod) = self.producer_of(p) {
                        self.dependents.entry(prod).or_default().insert(id);
                    }
                }
            }
            for p in &s.key_prereqs {
                remove_from(&mut self.deferred_by_key, &p.key, &id);
            }
            let fb = s
                .deadline_ms
                .saturating_sub(self.cfg.fallback_before_deadline_ms);
            self.fallback.insert((fb, id));
        }
        if let Some(r) = self.records.get_mut(&id) {
            r.endorsed_by_me = true;
            r.deferred = false;
        }
        self.lock(id);
        self.add_produced(id);
        // Successors deferred on the versions it will produce can now pass the chain rule.
        if let Some(s) = self.records.get(&id).and_then(|r| r.spore()) {
            cx.changed
                .extend(s.key_prereqs.iter().map(|p| p.key.clone()));
        }
        cx.to_endorse.push(id);
    }

    /// Applies a verdict for a spore received from another node.
    pub(super) fn consider(&mut self, cx: &mut Cx<'_>, id: SporeId) {
        match self.verdict(cx, &id) {
            Verdict::Endorse => self.endorse_now(cx, id),
            Verdict::Reject(reason) => self.refuse(cx, id, reason),
            Verdict::DeferPrereqs | Verdict::DeferConflict | Verdict::Quiet => self.defer(id),
            Verdict::Hold => self.hold(id),
            Verdict::Skip => {}
        }
    }

    /// Keeps a spore for a human decision: no lock, no signature; it is dropped at its
    /// deadline like any spore that does not commit.
    pub(super) fn hold(&mut self, id: SporeId) {
        self.forget_deferred(id);
        if let Some(r) = self.records.get_mut(&id) {
            r.held = true;
        }
    }

    /// Ends the amnesia guard once its time has come: every deferred spore is looked at again.
    pub(super) fn end_quiet(&mut self, cx: &mut Cx<'_>) {
        if self.quiet_until.is_some_and(|t| cx.now >= t) {
            self.quiet_until = None;
            // Every deferred record, not only those found by key: a spore that touches no
            // key (a policy change) is deferred too, and is in no `deferred_by_key` entry.
            let ids: BTreeSet<SporeId> = self
                .records
                .iter()
                .filter(|(_, r)| r.deferred)
                .map(|(id, _)| *id)
                .collect();
            self.reevaluate_ids(cx, ids);
        }
    }

    /// Refuses a spore for good. Only a veto and a class mix are signed and sent (to the
    /// origin, which floods them): an expired or far-future spore is simply never endorsed,
    /// so a Byzantine origin cannot make every honest node sign and send for each junk spore.
    pub(super) fn refuse(&mut self, cx: &mut Cx<'_>, id: SporeId, reason: RejectReason) {
        if let Some(r) = self.records.get_mut(&id) {
            r.rejected_by_me = true;
        }
        if matches!(
            reason,
            RejectReason::Veto | RejectReason::ClassMix | RejectReason::PolicyRefused
        ) {
            cx.to_reject.push((id, reason));
        }
    }

    pub(super) fn defer(&mut self, id: SporeId) {
        let Some(r) = self.records.get_mut(&id) else {
            return;
        };
        if r.deferred {
            return;
        }
        r.deferred = true;
        let keys: Vec<Key> = r
            .content
            .iter()
            .flat_map(|c| c.footprint.keys.iter().map(|t| t.key.clone()))
            .collect();
        let scoped = r
            .content
            .as_ref()
            .is_some_and(|c| c.footprint.policy || !c.footprint.flushed_dbs.is_empty());
        for k in keys {
            self.deferred_by_key.entry(k).or_default().insert(id);
        }
        if scoped {
            self.deferred_scoped.insert(id);
        }
    }

    /// Re-evaluates deferred spores touching keys whose versions or locks changed, and those
    /// the database and policy changes in `scopes` concern.
    pub(super) fn reevaluate(
        &mut self,
        cx: &mut Cx<'_>,
        changed: &BTreeSet<Key>,
        scopes: &ScopeChanges,
    ) {
        let mut ids = BTreeSet::new();
        for k in changed {
            if let Some(set) = self.deferred_by_key.get(k) {
                ids.extend(set.iter().copied());
            }
        }
        if !scopes.is_empty() {
            // A flush lock went: every deferred spore with a key in that database.
            for &db in &scopes.flushed {
                let from = Key::new(db, Bytes::new());
                let keys = match db.checked_add(1) {
                    Some(next) => self
                        .deferred_by_key
                        .range(from..Key::new(next, Bytes::new())),
                    None => self.deferred_by_key.range(from..),
                };
                for (_, set) in keys {
                    ids.extend(set.iter().copied());
                }
            }
            for id in &self.deferred_scoped {
                let Some(c) = self.records.get(id).and_then(|r| r.content.as_ref()) else {
                    continue;
                };
                let fp = &c.footprint;
                let concerned = (scopes.policy && fp.policy)
                    || fp
                        .flushed_dbs
                        .iter()
                        .any(|db| scopes.flushed.contains(db) || scopes.touched.contains(db))
                    || fp.keys.iter().any(|t| scopes.flushed.contains(&t.key.db));
                if concerned {
                    ids.insert(*id);
                }
            }
        }
        self.reevaluate_ids(cx, ids);
    }

    /// Re-evaluates these deferred spores (those no longer deferred and pending are forgotten).
    fn reevaluate_ids(&mut self, cx: &mut Cx<'_>, ids: BTreeSet<SporeId>) {
        for id in ids {
            let still = self
                .records
                .get(&id)
                .is_some_and(|r| r.deferred && r.phase == Phase::Pending);
            if !still {
                self.forget_deferred(id);
                continue;
            }
            match self.verdict(cx, &id) {
                Verdict::Endorse => self.endorse_now(cx, id),
                Verdict::Reject(reason) => {
                    self.forget_deferred(id);
                    self.refuse(cx, id, reason);
                }
                Verdict::Hold => self.hold(id),
                _ => {}
            }
        }
    }

    pub(super) fn forget_deferred(&mut self, id: SporeId) {
        let keys: Vec<Key> = self
            .records
            .get(&id)
            .and_then(|r| r.content.as_ref())
            .map(|c| c.footprint.keys.iter().map(|t| t.key.clone()).collect())
            .unwrap_or_default();
        for k in keys {
            remove_from(&mut self.deferred_by_key, &k, &id);
        }
        self.deferred_scoped.remove(&id);
        if let Some(r) = self.records.get_mut(&id) {
            r.deferred = false;
        }
    }
}
