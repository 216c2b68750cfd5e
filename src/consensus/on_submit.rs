//! `Input::Submit`: spores built by this node (PROTOCOL.md §4.1). The origin checks its own
//! spores exactly as an endorser would (it is one when it is in the policy), signs the accepted
//! ones as one batch, endorses them, and floods the batch with its endorsement. With n = 1 and
//! ω = 1 this commits and applies the whole chain within the same step.

use std::sync::Arc;

use crate::spore::footprint::Footprint;
use crate::spore::validate::validate;
use crate::spore::{Spore, SporeId};

use super::effect::{DropReason, Effect};
use super::endorse::Verdict;
use super::engine::{Cx, Engine};
use super::message::{RejectReason, SporeBatch};
use super::record::{Content, Record};

impl Engine {
    pub(super) fn on_submit(&mut self, cx: &mut Cx<'_>, spores: Vec<Spore>) {
        let placeholder = Arc::new(SporeBatch::new(self.me, vec![], [0; 64]));
        let no_ids: Arc<[SporeId]> = Arc::new([]);
        let mut accepted = Vec::new();
        for spore in spores {
            let id = spore.id();
            if self.records.contains_key(&id) {
                continue; // a resubmission of a known spore: nothing new
            }
            let refuse = |cx: &mut Cx<'_>, reason| cx.local.push(Effect::Dropped { id, reason });
            if let Err(e) = validate(&spore) {
                refuse(cx, DropReason::Invalid(e));
                continue;
            }
            if spore.origin != self.me
                || spore.deadline_ms <= cx.now
                || spore.deadline_ms > cx.now.saturating_add(self.cfg.max_horizon_ms)
            {
                refuse(cx, DropReason::BadDeadline);
                continue;
            }
            let spore = Arc::new(spore);
            let mut record = Record::new(cx.now);
            record.content = Some(Content {
                footprint: Footprint::of(&spore),
                spore: spore.clone(),
                batch: placeholder.clone(),
                batch_ids: no_ids.clone(),
            });
            self.records.insert(id, record);
            let verdict = if self.cfg.policy.is_endorser(&self.me) {
                self.verdict(cx, &id)
            } else if self.unreachable_prereq(cx, &id).is_some() {
                Verdict::DeferPrereqs
            } else {
                Verdict::Skip
            };
            let reason = match verdict {
                Verdict::Endorse => {
                    self.endorse_now(cx, id);
                    None
                }
                Verdict::Skip => None,
                // Sent without this node's endorsement: it follows when a human approves, or
                // when the amnesia guard ends.
                Verdict::Hold => {
                    self.hold(id);
                    None
                }
                Verdict::Quiet => {
                    self.defer(id);
                    None
                }
                Verdict::DeferPrereqs => Some(DropReason::PrereqsDoNotHold),
                Verdict::DeferConflict => Some(DropReason::Conflict),
                Verdict::Reject(RejectReason::ClassMix) => Some(DropReason::ClassMix),
                Verdict::Reject(RejectReason::Veto) => Some(DropReason::Vetoed),
                Verdict::Reject(RejectReason::PolicyRefused) => Some(DropReason::PolicyRefused),
                Verdict::Reject(_) => Some(DropReason::BadDeadline),
            };
            match reason {
                Some(reason) => {
                    // Never signed or sent: forget it entirely.
                    self.records.remove(&id);
                    refuse(cx, reason);
                }
                None => accepted.push((id, spore)),
            }
        }
        if accepted.is_empty() {
            return;
        }
        let batch_ids: Arc<[SporeId]> = accepted.iter().map(|(id, _)| *id).collect();
        let batch = Arc::new(SporeBatch::sign_with_ids(
            &self.cfg.me,
            accepted.iter().map(|(_, s)| s.clone()).collect(),
            &batch_ids,
        ));
        self.stats.signatures_made += 1;
        for (id, spore) in &accepted {
            if let Some(c) = self.records.get_mut(id).and_then(|r| r.content.as_mut()) {
                c.batch = batch.clone();
                c.batch_ids = batch_ids.clone();
            }
            self.schedule(*id, spore);
            cx.to_flood.insert(*id);
        }
    }

    /// Arms the timers of a spore whose content is now known.
    pub(super) fn schedule(&mut self, id: crate::spore::SporeId, spore: &Spore) {
        let d = spore.deadline_ms;
        self.expiry
            .insert((d.saturating_add(self.cfg.grace_ms), id));
        self.want_timer
            .insert((d.saturating_add(self.cfg.grace_ms / 2), id));
        self.forget.insert((
            d.saturating_add(self.cfg.grace_ms + self.cfg.retention_ms()),
            id,
        ));
    }
}
