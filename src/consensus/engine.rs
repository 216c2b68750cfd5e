//! The engine: state, the `step` entry point, and the core transitions shared by every input
//! (commit, apply gate, drop, lock release). Input-specific handling lives in `on_submit`,
//! `on_message` and `on_tick`; the endorsement decision in `endorse`.

use std::collections::{BTreeMap, BTreeSet, VecDeque};
use std::sync::Arc;

use crate::crypto::{cmp_digest, statement_key, Digest, NodeId};
use crate::spore::effects::{Overlay, Projection, VersionEffects};
use crate::spore::footprint::KeyClass;
use crate::spore::{Key, Spore, SporeId, VersionView};

use super::config::EngineConfig;
use super::effect::{DropReason, Effect};
use super::evidence::Evidence;
use super::input::Input;
use super::local::{LocalDecision, LocalPolicy};
use super::locks::Locks;
use super::message::{Bundle, EndorseBatch, Message, RejectBatch, RejectReason};
use super::policy_change;
use super::record::{Phase, Record};

/// Counters the simulator and operators read (not part of the protocol).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Stats {
    pub signatures_made: u64,
    pub signatures_verified: u64,
    pub commits: u64,
    pub drops: u64,
    pub evidence: u64,
}

/// The consensus engine of one node: a deterministic state machine (PROTOCOL.md §9).
#[derive(Debug, Clone)]
pub struct Engine {
    pub(super) cfg: EngineConfig,
    pub(super) me: NodeId,
    pub(super) records: BTreeMap<SporeId, Record>,
    /// (deadline + grace, id): the Expiration timer.
    pub(super) expiry: BTreeSet<(u64, SporeId)>,
    /// (deadline − fallback, id): endorsement fallback flood and origin addendum.
    pub(super) fallback: BTreeSet<(u64, SporeId)>,
    /// (time, id): resend this node's endorsement to the origin if still pending.
    pub(super) resend: BTreeSet<(u64, SporeId)>,
    /// (time, id): anti-entropy for spores still unresolved half-way through their grace.
    pub(super) want_timer: BTreeSet<(u64, SporeId)>,
    /// (time, id): forget the record (replay protection ends: Timeout and Expiration hold).
    pub(super) forget: BTreeSet<(u64, SporeId)>,
    pub(super) locks: Locks,
    /// Versions live spores will produce: (key, order, acc) → producer (chain rule, §5.1).
    pub(super) produced: BTreeMap<(Key, Digest, Digest), SporeId>,
    /// Producer → spores whose prerequisites were reachable only through it.
    pub(super) dependents: BTreeMap<SporeId, BTreeSet<SporeId>>,
    /// Spores waiting to be endorsed, by the keys they touch.
    pub(super) deferred_by_key: BTreeMap<Key, BTreeSet<SporeId>>,
    /// Deferred spores that flush a database or change the policy: they wait for database
    /// and policy locks, which `deferred_by_key` cannot find (`ScopeChanges`). Few: such
    /// spores are rare.
    pub(super) deferred_scoped: BTreeSet<SporeId>,
    /// Committed spores waiting for their prerequisites, by key.
    pub(super) waiting_by_key: BTreeMap<Key, BTreeSet<SporeId>>,
    pub(super) waiting: BTreeSet<SporeId>,
    /// The waiting spores with database prerequisites (re-checked after every apply).
    pub(super) waiting_db: BTreeSet<SporeId>,
    /// Applied by the engine, not yet confirmed by the driver (projected over the view), with
    /// their version effects: computed once, when applied, and layered at every step until
    /// confirmed. They stay right while the view only moves by confirming a prefix of them
    /// (the store applies exactly the projected effects), and `Input::Resynced` clears them.
    pub(super) unconfirmed: Vec<Unconfirmed>,
    /// The effects of `unconfirmed`, layered in order: laid under every step's projection.
    /// Rebuilt from `unconfirmed` on a confirmation (once per commit group), extended after a
    /// step by the spores it applied.
    pub(super) overlay: Overlay,
    /// Per key: the order version and the commutative classes applied at it (bit 0 counters,
    /// bit 1 set members) — PROTOCOL.md §5.3.
    pub(super) class_guard: BTreeMap<Key, (Digest, u8)>,
    /// Verified signatures: cache key → forget time, plus their expiry queue.
    pub(super) verified: BTreeSet<Digest>,
    pub(super) verified_queue: VecDeque<(u64, Digest)>,
    /// Recently applied spores per key (answers `Want` by key).
    pub(super) recent_by_key: BTreeMap<Key, BTreeSet<SporeId>>,
    /// (endorser, key, order, acc) → a spore it endorsed there with an exclusive class.
    pub(super) exclusive_slots: BTreeMap<ExclusiveSlot, SporeId>,
    pub(super) evidence_seen: BTreeSet<(NodeId, SporeId, SporeId)>,
    /// Content-less records per endorser (bounded: a flood of endorsements of unknown ids).
    pub(super) unknown_per_endorser: BTreeMap<NodeId, u32>,
    pub(super) peer_cursor: usize,
    pub(super) last_want_ms: u64,
    pub(super) local_policy: Option<LocalPolicy>,
    /// Amnesia guard: a node started without its endorsement memory endorses nothing before
    /// this time (see `EngineConfig::endorse_after_ms`); cleared once it has passed.
    pub(super) quiet_until: Option<u64>,
    /// The adopted policy's rules for data spores, set by a policy switch (see
    /// `policy_change::Successor::spore_rule`).
    pub(super) endorse_rule: Option<super::policy_change::EndorseRule>,
    pub stats: Stats,
}

/// A key of `Engine::exclusive_slots`: one endorser's exclusive endorsement at one full key
/// version. Ordered by the key's order version first and word by word (`crypto::cmp_digest`):
/// that is a hash unique to the key and its history, so it nearly always decides at its first
/// word. The accumulated version does not: an exclusive (non-commutative) prerequisite's is
/// all zeros, and leading with it sent every comparison on to the key names, which share long
/// prefixes (`key:000…`), ~8 % of a loaded cluster driver's CPU with random-key SETs. A tuple
/// led by the endorser was worse still (32 equal bytes, then the key). Only probed, so the
/// order is any total one.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) struct ExclusiveSlot {
    order: Digest,
    acc: Digest,
    key: Key,
    endorser: NodeId,
}

impl ExclusiveSlot {
    pub(super) fn new(endorser: NodeId, key: Key, order: Digest, acc: Digest) -> ExclusiveSlot {
        ExclusiveSlot {
            order,
            acc,
            key,
            endorser,
        }
    }
}

impl Ord for ExclusiveSlot {
    fn cmp(&self, other: &Self) -> std::cmp::Ordering {
        cmp_digest(&self.order, &other.order)
            .then_with(|| cmp_digest(&self.acc, &other.acc))
            .then_with(|| self.key.cmp(&other.key))
            .then_with(|| cmp_digest(&self.endorser, &other.endorser))
    }
}

impl PartialOrd for ExclusiveSlot {
    fn partial_cmp(&self, other: &Self) -> Option<std::cmp::Ordering> {
        Some(self.cmp(other))
    }
}

/// Per-step scratch: effects and the work a step accumulates before it is signed and sent.
pub(super) struct Cx<'v> {
    pub now: u64,
    pub proj: Projection<'v>,
    pub net: Vec<Effect>,
    pub local: Vec<Effect>,
    pub to_endorse: Vec<SporeId>,
    pub to_reject: Vec<(SporeId, RejectReason)>,
    /// Spores whose batch must be flooded with every endorsement held for it.
    pub to_flood: BTreeSet<SporeId>,
    /// Our own decided spores whose endorsements arrived after we flooded them (§6.2): their
    /// endorsements travel together, in as few bundles as fit (`flush_floods`).
    pub late_endorsements: BTreeSet<SporeId>,
    /// Spores whose tallies changed (commit / rejection-quorum check).
    /// In the order they changed (a submitted batch commits in submission order).
    pub check: Vec<SporeId>,
    /// Newly committed spores to try to apply.
    /// In commit order: spores that become applicable together apply in this order.
    pub to_apply: Vec<SporeId>,
    /// Keys whose version or locks changed: re-try waiting and deferred spores on them.
    pub changed: BTreeSet<Key>,
    /// What changed beyond single keys (database and policy locks and versions).
    pub scopes: ScopeChanges,
}

/// Changes that concern deferred spores through a whole database or the policy slot rather
/// than through one key (`Locks::conflicts`): a FLUSHDB conflicts with every key of its
/// database, a policy change with any other policy change. `reevaluate` looks at the
/// deferred spores they concern, which `changed` (by key) cannot find.
#[derive(Debug, Default)]
pub struct ScopeChanges {
    /// Databases whose flush lock went or that a spore flushed: every deferred spore on them.
    pub flushed: BTreeSet<u8>,
    /// Databases where a key's lock went or a key's version changed: deferred spores that
    /// flush them.
    pub touched: BTreeSet<u8>,
    /// The policy slot was freed or a policy change applied: deferred policy changes.
    pub policy: bool,
}

impl ScopeChanges {
    pub fn is_empty(&self) -> bool {
        self.flushed.is_empty() && self.touched.is_empty() && !self.policy
    }

    /// Notes what a footprint's lock going, or its spore applying, frees.
    pub fn note(&mut self, fp: &crate::spore::footprint::Footprint) {
        self.flushed.extend(fp.flushed_dbs.iter().copied());
        self.touched.extend(fp.keys.iter().map(|t| t.key.db));
        self.policy |= fp.policy;
    }
}

/// The most content-less records one endorser may create (bounded memory under floods).
const MAX_UNKNOWN_PER_ENDORSER: u32 = 65_536;

/// A spore the engine applied and the driver has not confirmed yet (`Input::Applied`).
#[derive(Debug, Clone)]
pub struct Unconfirmed {
    pub id: SporeId,
    pub spore: Arc<Spore>,
    /// Its version effects over the view and the spores unconfirmed before it.
    pub effects: VersionEffects,
}

impl Engine {
    /// A new engine. Its state is empty: a restarted node restores a persisted `Engine`
    /// instead (PROTOCOL.md §9.3 lists what must be durable).
    pub fn new(config: EngineConfig) -> Engine {
        let me = config.me.id();
        let config_endorse_after = config.endorse_after_ms;
        Engine {
            cfg: config,
            me,
            records: BTreeMap::new(),
            expiry: BTreeSet::new(),
            fallback: BTreeSet::new(),
            resend: BTreeSet::new(),
            want_timer: BTreeSet::new(),
            forget: BTreeSet::new(),
            locks: Locks::default(),
            produced: BTreeMap::new(),
            dependents: BTreeMap::new(),
            deferred_by_key: BTreeMap::new(),
            deferred_scoped: BTreeSet::new(),
            waiting_by_key: BTreeMap::new(),
            waiting: BTreeSet::new(),
            waiting_db: BTreeSet::new(),
            unconfirmed: Vec::new(),
            overlay: Overlay::default(),
            class_guard: BTreeMap::new(),
            verified: BTreeSet::new(),
            verified_queue: VecDeque::new(),
            recent_by_key: BTreeMap::new(),
            exclusive_slots: BTreeMap::new(),
            evidence_seen: BTreeSet::new(),
            unknown_per_endorser: BTreeMap::new(),
            peer_cursor: 0,
            last_want_ms: 0,
            local_policy: None,
            quiet_until: (config_endorse_after > 0).then_some(config_endorse_after),
            endorse_rule: None,
            stats: Stats::default(),
        }
    }

    /// Installs this node's local policy: spores it returns `true` for are vetoed (REJECT),
    /// whitepaper §4.2 "Local policies". The veto never stops a committed spore (Yield).
    pub fn set_local_veto(&mut self, veto: fn(&Spore) -> bool) {
        self.local_policy = Some(LocalPolicy(Arc::new(move |s: &Spore| {
            if veto(s) {
                LocalDecision::Veto
            } else {
                LocalDecision::Endorse
            }
        })));
    }

    /// Installs this node's local policy (endorse, veto, or hold for a human decision).
    pub fn set_local_policy(&mut self, policy: LocalPolicy) {
        self.local_policy = Some(policy);
    }

    /// Pending spores held by the local policy for a human decision, with their deadlines.
    pub fn held(&self) -> impl Iterator<Item = (&SporeId, &Arc<Spore>)> {
        self.records
            .iter()
            .filter(|(_, r)| r.held && r.phase == Phase::Pending)
            .filter_map(|(id, r)| r.spore().map(|s| (id, s)))
    }

    /// Whether this node currently withholds endorsements (amnesia guard after a restart).
    pub fn quiet_until(&self) -> Option<u64> {
        self.quiet_until
    }

    /// The endorsements and rejections known for a spore: (endorsers, rejecters).
    pub fn votes(&self, id: &SporeId) -> Option<(Vec<NodeId>, Vec<NodeId>)> {
        self.records.get(id).map(|r| {
            (
                r.endorsements.keys().copied().collect(),
                r.rejections.keys().copied().collect(),
            )
        })
    }

    pub fn id(&self) -> NodeId {
        self.me
    }

    pub fn config(&self) -> &EngineConfig {
        &self.cfg
    }

    /// The phase of a spore at this node, if it is remembered.
    pub fn phase(&self, id: &SporeId) -> Option<&Phase> {
        self.records.get(id).map(|r| &r.phase)
    }

    /// The content of a remembered spore.
    pub fn spore(&self, id: &SporeId) -> Option<Arc<Spore>> {
        self.records.get(id).and_then(|r| r.spore().cloned())
    }

    /// The signed batch a remembered spore arrived in (to gossip evidence with its context).
    pub fn batch(&self, id: &SporeId) -> Option<Arc<super::message::SporeBatch>> {
        self.records
            .get(id)
            .and_then(|r| r.content.as_ref())
            .map(|c| c.batch.clone())
    }

    /// Number of remembered spores that are neither applied nor dropped.
    pub fn live_count(&self) -> usize {
        self.records
            .values()
            .filter(|r| r.is_live() && r.content.is_some())
            .count()
    }

    /// Committed spores still waiting for their prerequisites.
    pub fn waiting(&self) -> impl Iterator<Item = &SporeId> {
        self.waiting.iter()
    }

    /// When the longest-waiting committed spore committed here (a spore committed but never
    /// applicable means this node missed earlier spores: time for state transfer).
    pub fn oldest_waiting_ms(&self) -> Option<u64> {
        self.waiting
            .iter()
            .filter_map(|id| self.records.get(id).and_then(|r| r.committed_at_ms))
            .min()
    }

    /// Remembered spores with content that are still pending (neither committed nor dropped),
    /// with their deadlines.
    pub fn pending(&self) -> impl Iterator<Item = (&SporeId, u64)> {
        self.records
            .iter()
            .filter(|(_, r)| r.phase == Phase::Pending)
            .filter_map(|(id, r)| r.deadline().map(|d| (id, d)))
    }

    /// Spores this engine applied whose apply the driver has not confirmed yet
    /// (`Input::Applied`), in apply order: the store's committed versions do not reflect them.
    pub fn unconfirmed(&self) -> impl Iterator<Item = &Unconfirmed> {
        self.unconfirmed.iter()
    }

    /// The version effects of `unconfirmed`, layered: `overlay().over(view)` is the view with
    /// them applied.
    pub fn overlay(&self) -> &Overlay {
        &self.overlay
    }

    /// Feeds one input at local time `now_ms`; `view` is the store's committed versions
    /// (reflecting every spore confirmed by `Input::Applied`). Returns the effects, network
    /// ones first.
    pub fn step(&mut self, now_ms: u64, input: Input, view: &dyn VersionView) -> Vec<Effect> {
        if let Input::Applied(ids) = &input {
            // Nothing else happens on a confirmation (no timer, no message, no decision), and
            // the view already holds these spores: projecting them again over it would only
            // cost a version computation per spore of the group just committed.
            self.on_applied(ids);
            return Vec::new();
        }
        // Taken out for the step (the projection borrows it while the step borrows `self`).
        let overlay = std::mem::take(&mut self.overlay);
        let resync = matches!(input, Input::Resynced { .. });
        let before = self.unconfirmed.len();
        let layered = overlay.over(view);
        let proj = Projection::new(&layered);
        let mut cx = Cx {
            now: now_ms,
            proj,
            net: Vec::new(),
            local: Vec::new(),
            to_endorse: Vec::new(),
            to_reject: Vec::new(),
            to_flood: BTreeSet::new(),
            late_endorsements: BTreeSet::new(),
            check: Vec::new(),
            to_apply: Vec::new(),
            changed: BTreeSet::new(),
            scopes: ScopeChanges::default(),
        };
        match input {
            Input::Submit(spores) => self.on_submit(&mut cx, spores),
            Input::Message { from, msg } => self.on_message(&mut cx, from, msg),
            Input::Tick => self.on_tick(&mut cx),
            Input::Applied(_) => {}
            Input::Approve(id) => self.on_decision(&mut cx, id, true),
            Input::Decline(id) => self.on_decision(&mut cx, id, false),
            Input::Resynced { present } => self.on_resynced(&mut cx, &present),
        }
        self.settle(&mut cx);
        let mut out = cx.net;
        out.append(&mut cx.local);
        self.overlay = overlay;
        if resync {
            // The resync replaced the view and cleared the unconfirmed spores it covers.
            self.rebuild_overlay();
        } else {
            for u in &self.unconfirmed[before..] {
                self.overlay.layer(&u.effects);
            }
        }
        out
    }

    fn rebuild_overlay(&mut self) {
        self.overlay = Overlay::default();
        for u in &self.unconfirmed {
            self.overlay.layer(&u.effects);
        }
    }

    /// A human decided about a held spore: approve (endorse it if the other rules allow) or
    /// decline (veto it). Unknown or no longer pending spores are ignored.
    fn on_decision(&mut self, cx: &mut Cx<'_>, id: SporeId, approve: bool) {
        let Some(r) = self.records.get_mut(&id) else {
            return;
        };
        if r.phase != Phase::Pending || r.endorsed_by_me || r.rejected_by_me {
            return;
        }
        r.held = false;
        if approve {
            r.approved = true;
            self.consider(cx, id);
        } else {
            self.refuse(cx, id, RejectReason::Veto);
        }
    }

    /// State transfer replaced the view (see `Input::Resynced`).
    fn on_resynced(&mut self, cx: &mut Cx<'_>, present: &[SporeId]) {
        self.unconfirmed.clear();
        for id in present {
            let Some(s) = self.records.get(id).and_then(|r| r.spore().cloned()) else {
                continue;
            };
            if !matches!(
                self.records.get(id).map(|r| &r.phase),
                Some(Phase::Pending | Phase::Committed)
            ) {
                continue;
            }
            self.forget_deferred(*id);
            self.waiting.remove(id);
            self.waiting_db.remove(id);
            for p in &s.key_prereqs {
                remove_from(&mut self.waiting_by_key, &p.key, id);
            }
            self.remove_produced(*id);
            self.unlock(cx, *id);
            if let Some(r) = self.records.get_mut(id) {
                r.phase = Phase::Applied;
            }
        }
        cx.to_apply.extend(self.waiting.iter().copied());
        // Every deferred spore is looked at again: by key, and the scoped ones through
        // every database and the policy slot.
        let keys: BTreeSet<Key> = self.deferred_by_key.keys().cloned().collect();
        cx.changed.extend(keys);
        cx.scopes.flushed.extend(0..crate::spore::key::DATABASES);
        cx.scopes.policy = true;
    }

    /// The driver confirmed these applies: the view now reflects them.
    fn on_applied(&mut self, ids: &[SporeId]) {
        let done: BTreeSet<&SporeId> = ids.iter().collect();
        self.unconfirmed.retain(|u| !done.contains(&u.id));
        self.rebuild_overlay();
    }

    /// Runs the consequences of a step to a fixed point: sign pending endorsements, commit,
    /// apply, re-evaluate deferred spores; then sign rejections and flood bundles.
    fn settle(&mut self, cx: &mut Cx<'_>) {
        loop {
            self.flush_endorsements(cx);
            let checks = std::mem::take(&mut cx.check);
            for id in checks {
                self.check(cx, id);
            }
            self.apply_ready(cx);
            let changed = std::mem::take(&mut cx.changed);
            let scopes = std::mem::take(&mut cx.scopes);
            self.reevaluate(cx, &changed, &scopes);
            if cx.to_endorse.is_empty()
                && cx.check.is_empty()
                && cx.to_apply.is_empty()
                && cx.changed.is_empty()
                && cx.scopes.is_empty()
            {
                break;
            }
        }
        self.flush_rejections(cx);
        self.flush_floods(cx);
    }

    /// Signs one endorsement batch for everything endorsed in this round (one signature per
    /// batch, PROTOCOL.md §3.1) and sends it to the spores' origins.
    fn flush_endorsements(&mut self, cx: &mut Cx<'_>) {
        if cx.to_endorse.is_empty() {
            return;
        }
        let ids = std::mem::take(&mut cx.to_endorse);
        let eb = Arc::new(EndorseBatch::sign(&self.cfg.me, ids.clone()));
        self.stats.signatures_made += 1;
        let mut origins = BTreeSet::new();
        // In endorsement (for a submission: submission) order, not the batch's sorted order.
        for id in &ids {
            self.resend
                .insert((cx.now.saturating_add(self.cfg.resend_ms), *id));
            if let Some(r) = self.records.get_mut(id) {
                r.endorsements.insert(self.me, eb.clone());
                if let Some(s) = r.spore() {
                    origins.insert(s.origin);
                }
            }
            cx.check.push(*id);
        }
        origins.remove(&self.me);
        let msg = Arc::new(Message::Endorse(eb));
        for to in origins {
            cx.net.push(Effect::Send {
                to,
                msg: msg.clone(),
            });
        }
    }

    fn flush_rejections(&mut self, cx: &mut Cx<'_>) {
        if cx.to_reject.is_empty() {
            return;
        }
        let entries = std::mem::take(&mut cx.to_reject);
        let rb = Arc::new(RejectBatch::sign(&self.cfg.me, entries));
        self.stats.signatures_made += 1;
        for (id, _) in &rb.entries {
            if let Some(r) = self.records.get_mut(id) {
                r.rejections.insert(self.me, rb.clone());
                r.rejected_by_me = true;
            }
        }
        let mut origins = BTreeSet::new();
        for (id, _) in &rb.entries {
            if let Some(s) = self.records.get(id).and_then(|r| r.spore()) {
                origins.insert(s.origin);
            }
        }
        origins.remove(&self.me);
        // Sent to the origins, whose engines relay (flood) what is new to them: a Byzantine
        // origin's junk costs honest nodes one direct message, not a flood each.
        let msg = Arc::new(Message::Bundle(Bundle {
            rejections: vec![rb],
            ..Bundle::default()
        }));
        for to in origins {
            cx.net.push(Effect::Send {
                to,
                msg: msg.clone(),
            });
        }
    }

    /// Floods, per spore batch, the batch with every endorsement held for its spores (a
    /// submission, a certificate, a fallback or an addendum: PROTOCOL.md §6).
    fn flush_floods(&mut self, cx: &mut Cx<'_>) {
        let ids = std::mem::take(&mut cx.to_flood);
        let mut batches: BTreeMap<[u8; 64], (Bundle, Arc<[SporeId]>)> = BTreeMap::new();
        for id in ids {
            let Some(r) = self.records.get(&id) else {
                continue;
            };
            let Some(c) = &r.content else { continue };
            batches.entry(c.batch.signature).or_insert_with(|| {
                let bundle = Bundle {
                    spores: vec![c.batch.clone()],
                    ..Bundle::default()
                };
                (bundle, c.batch_ids.clone())
            });
        }
        for (bundle, batch_ids) in batches.values_mut() {
            let mut seen: BTreeSet<[u8; 64]> = BTreeSet::new();
            for id in batch_ids.iter() {
                if let Some(r) = self.records.get_mut(id) {
                    for eb in r.endorsements.values() {
                        if seen.insert(eb.signature) {
                            bundle.endorsements.push(eb.clone());
                        }
                    }
                    r.flooded_with = r.endorsements.len();
                }
            }
        }
        for (_, (bundle, _)) in batches {
            cx.net
                .push(Effect::Broadcast(Arc::new(Message::Bundle(bundle))));
        }
        self.flush_late_endorsements(cx);
    }

    /// Floods the endorsements of our decided spores that arrived after their certificate
    /// (evidence visibility, PROTOCOL.md §6.2 and §10): peers have the spores from their
    /// submission or certificate floods (one that missed both asks with `Want` when it meets an
    /// endorsement of an unknown spore), so the bundles carry endorsements only, and one
    /// carries those of every spore that became due in this step — one flood per spore cost a
    /// quarter of all gossip publishes at light load (`INFO` `net_gossip_out`, README "Cluster
    /// benchmark").
    fn flush_late_endorsements(&mut self, cx: &mut Cx<'_>) {
        /// Endorsement bytes per bundle, well under the gossip size limit (4 MiB by default).
        const MAX_BUNDLE_BYTES: usize = 1 << 20;
        let ids = std::mem::take(&mut cx.late_endorsements);
        let mut seen: BTreeSet<[u8; 64]> = BTreeSet::new();
        let mut bundle = Bundle::default();
        let mut bytes = 0;
        for id in ids {
            let Some(r) = self.records.get_mut(&id) else {
                continue;
            };
            for eb in r.endorsements.values() {
                if !seen.insert(eb.signature) {
                    continue;
                }
                // endorser ‖ count ‖ ids ‖ signature
                let size = 32 + 4 + 32 * eb.ids.len() + 64;
                if bytes + size > MAX_BUNDLE_BYTES && !bundle.endorsements.is_empty() {
                    let full = std::mem::take(&mut bundle);
                    cx.net
                        .push(Effect::Broadcast(Arc::new(Message::Bundle(full))));
                    bytes = 0;
                }
                bundle.endorsements.push(eb.clone());
                bytes += size;
            }
            r.flooded_with = r.endorsements.len();
        }
        if !bundle.endorsements.is_empty() {
            cx.net
                .push(Effect::Broadcast(Arc::new(Message::Bundle(bundle))));
        }
    }

    /// The commit rule (PROTOCOL.md §4.3) and the rejection quorum (§4.2) for one spore.
    pub(super) fn check(&mut self, cx: &mut Cx<'_>, id: SporeId) {
        let grace = self.cfg.grace_ms;
        let Some(r) = self.records.get(&id) else {
            return;
        };
        let is_change = r.content.as_ref().is_some_and(|c| c.footprint.policy);
        let quorum = policy_change::commit_quorum(&self.cfg.policy, is_change);
        let reject_quorum = policy_change::reject_quorum(&self.cfg.policy, is_change);
        if r.phase != Phase::Pending {
            return;
        }
        let Some(deadline) = r.deadline() else { return };
        if r.endorsements.len() >= quorum && cx.now <= deadline.saturating_add(grace) {
            self.commit(cx, id);
        } else if r.rejections.len() >= reject_quorum {
            self.drop_spore(cx, id, DropReason::Rejected);
        }
    }

    fn commit(&mut self, cx: &mut Cx<'_>, id: SporeId) {
        let me = self.me;
        let Some(r) = self.records.get_mut(&id) else {
            return;
        };
        r.phase = Phase::Committed;
        r.committed_at_ms = Some(cx.now);
        r.deferred = false;
        let origin_is_me = r.spore().is_some_and(|s| s.origin == me);
        // A committer that did not receive a full certificate floods one, so a Byzantine
        // origin or endorser cannot make a commit known to only some nodes (§6.2).
        if origin_is_me || !r.certified_by_bundle {
            cx.to_flood.insert(id);
        }
        self.stats.commits += 1;
        // Committed spores are in "staging": the Promise rule holds against them too.
        self.lock(id);
        self.add_produced(id);
        self.waiting.insert(id);
        if let Some(s) = self.records.get(&id).and_then(|r| r.spore().cloned()) {
            for p in &s.key_prereqs {
                self.waiting_by_key
                    .entry(p.key.clone())
                    .or_default()
                    .insert(id);
            }
            if !s.db_prereqs.is_empty() {
                self.waiting_db.insert(id);
            }
        }
        cx.to_apply.push(id);
        cx.local.push(Effect::Committed { id });
    }

    /// The apply gate (PROTOCOL.md §5.4): a committed spore is applied only when its
    /// prerequisites hold in the projection; applying may unblock others, so iterate.
    fn apply_ready(&mut self, cx: &mut Cx<'_>) {
        let mut candidates = std::mem::take(&mut cx.to_apply);
        while !candidates.is_empty() {
            // What this round's applies moved. The waiting spores that may unblock are listed
            // once the round is over, so only those still waiting: listing them at each apply
            // was quadratic in a round of commits on one hot key (each INCR applied re-listed
            // every other one of the round, still waiting until its turn came).
            let mut moved: BTreeSet<Key> = BTreeSet::new();
            let mut applied = false;
            let mut flushed = false;
            for id in candidates {
                if !self.waiting.contains(&id) {
                    continue;
                }
                let Some(s) = self.records.get(&id).and_then(|r| r.spore().cloned()) else {
                    continue;
                };
                if !s.prereqs_hold(&cx.proj) || !self.change_applicable(&s) {
                    continue;
                }
                self.apply(cx, id, s.clone());
                applied = true;
                moved.extend(s.key_prereqs.iter().map(|p| p.key.clone()));
                flushed |= s.ops.iter().any(|op| op.db_scope().is_some());
            }
            let mut next: BTreeSet<SporeId> = BTreeSet::new();
            if flushed {
                // A flush moves every key of its database.
                next.extend(self.waiting.iter().copied());
            } else if applied {
                // Keys moved may unblock spores waiting on them; any apply moves a database
                // version (flush prerequisites).
                for k in &moved {
                    if let Some(ws) = self.waiting_by_key.get(k) {
                        next.extend(ws.iter().copied());
                    }
                }
                next.extend(self.waiting_db.iter().copied());
            }
            candidates = next.into_iter().collect();
        }
    }

    fn apply(&mut self, cx: &mut Cx<'_>, id: SporeId, s: Arc<Spore>) {
        let effects = cx.proj.push_kept(&s, &id);
        self.unconfirmed.push(Unconfirmed {
            id,
            spore: s.clone(),
            effects,
        });
        self.waiting.remove(&id);
        self.waiting_db.remove(&id);
        for p in &s.key_prereqs {
            remove_from(&mut self.waiting_by_key, &p.key, &id);
            self.recent_by_key
                .entry(p.key.clone())
                .or_default()
                .insert(id);
            cx.changed.insert(p.key.clone());
        }
        self.note_classes(&id);
        self.remove_produced(id);
        // Its effects changed database versions (and, for a flush, every key of the
        // database; for a policy change, the base): `unlock` notes that if this node had
        // locked it, and otherwise it is noted here.
        let locked = self.records.get(&id).is_some_and(|r| r.locked);
        self.unlock(cx, id);
        if !locked {
            if let Some(c) = self.records.get(&id).and_then(|r| r.content.as_ref()) {
                cx.scopes.note(&c.footprint);
            }
        }
        if let Some(r) = self.records.get_mut(&id) {
            r.phase = Phase::Applied;
        }
        cx.local.push(Effect::Apply {
            id,
            spore: s.clone(),
        });
        // The switch happens here, between this spore and whatever the engine applies or
        // endorses next, at the same point of every node's apply order.
        self.switch_policy(cx, id, &s);
    }

    /// Records which commutative classes were applied at each key's order (§5.3).
    fn note_classes(&mut self, id: &SporeId) {
        let Some(c) = self.records.get(id).and_then(|r| r.content.as_ref()) else {
            return;
        };
        for t in &c.footprint.keys {
            let bit = match t.class {
                KeyClass::Counter => 1u8,
                KeyClass::Members { .. } => 2u8,
                _ => {
                    self.class_guard.remove(&t.key);
                    continue;
                }
            };
            let e = self
                .class_guard
                .entry(t.key.clone())
                .or_insert((t.order, 0));
            if e.0 != t.order {
                *e = (t.order, 0);
            }
            e.1 |= bit;
        }
    }

    /// Drops a spore here (Expiration, rejection quorum, or a dropped predecessor), and every
    /// spore that could only follow it.
    pub(super) fn drop_spore(&mut self, cx: &mut Cx<'_>, id: SporeId, reason: DropReason) {
        let mut queue = vec![(id, reason)];
        while let Some((id, reason)) = queue.pop() {
            let Some(r) = self.records.get_mut(&id) else {
                continue;
            };
            if !r.is_live() {
                continue;
            }
            let had_content = r.content.is_some();
            let expired = matches!(reason, DropReason::Expired);
            r.phase = Phase::Dropped(reason.clone());
            r.deferred = false;
            self.stats.drops += 1;
            self.waiting.remove(&id);
            self.waiting_db.remove(&id);
            self.remove_produced(id);
            // The Promise lock of an endorsed spore is held until its deadline + grace even if
            // it is dropped early: that is what makes conflicting-endorsement evidence sound.
            if expired || !self.records.get(&id).is_some_and(|r| r.endorsed_by_me) {
                self.unlock(cx, id);
            }
            if had_content {
                cx.local.push(Effect::Dropped { id, reason });
            }
            if let Some(deps) = self.dependents.remove(&id) {
                for d in deps {
                    queue.push((d, DropReason::PredecessorDropped(id)));
                }
            }
        }
    }

    pub(super) fn lock(&mut self, id: SporeId) {
        let Some(r) = self.records.get_mut(&id) else {
            return;
        };
        if r.locked {
            return;
        }
        let Some(c) = &r.content else { return };
        self.locks.add(&c.footprint);
        r.locked = true;
    }

    pub(super) fn unlock(&mut self, cx: &mut Cx<'_>, id: SporeId) {
        let Some(r) = self.records.get_mut(&id) else {
            return;
        };
        if !r.locked {
            return;
        }
        let Some(c) = &r.content else { return };
        self.locks.remove(&c.footprint);
        r.locked = false;
        for t in &c.footprint.keys {
            cx.changed.insert(t.key.clone());
        }
        cx.scopes.note(&c.footprint);
    }

    /// Indexes the versions a live spore will produce on the keys it holds a full
    /// prerequisite for, so successors built on it can be endorsed before it is applied.
    pub(super) fn add_produced(&mut self, id: SporeId) {
        let Some(s) = self.records.get(&id).and_then(|r| r.spore().cloned()) else {
            return;
        };
        let flushed = s.ops.iter().any(|op| op.db_scope().is_some());
        if flushed {
            return;
        }
        for p in &s.key_prereqs {
            if let Some(acc) = p.acc {
                let after = crate::spore::KeyVersion {
                    order: p.order,
                    acc,
                }
                .after_write(&id);
                self.produced
                    .insert((p.key.clone(), after.order, after.acc), id);
            }
        }
    }

    pub(super) fn remove_produced(&mut self, id: SporeId) {
        let Some(s) = self.records.get(&id).and_then(|r| r.spore().cloned()) else {
            return;
        };
        for p in &s.key_prereqs {
            if let Some(acc) = p.acc {
                let after = crate::spore::KeyVersion {
                    order: p.order,
                    acc,
                }
                .after_write(&id);
                let slot = (p.key.clone(), after.order, after.acc);
                if self.produced.get(&slot) == Some(&id) {
                    self.produced.remove(&slot);
                }
            }
        }
    }

    /// Verifies a signature through the cache (a statement relayed in many bundles is
    /// verified once). `payload` is what the signature covers after the domain.
    pub(super) fn verify_cached(
        &mut self,
        now: u64,
        signer: &NodeId,
        domain: &str,
        payload: &[u8],
        signature: &[u8; 64],
    ) -> bool {
        let key = statement_key(signer, domain, signature, payload);
        if self.verified.contains(&key) {
            return true;
        }
        self.stats.signatures_verified += 1;
        if !(self.cfg.verifier.0)(signer, domain, payload, signature) {
            return false;
        }
        self.verified.insert(key);
        let ttl = self.cfg.max_horizon_ms + self.cfg.grace_ms + self.cfg.retention_ms();
        self.verified_queue
            .push_back((now.saturating_add(ttl), key));
        true
    }

    pub(super) fn evidence(&mut self, cx: &mut Cx<'_>, e: Evidence, a: SporeId, b: SporeId) {
        let (lo, hi) = if a <= b { (a, b) } else { (b, a) };
        if self.evidence_seen.insert((e.culprit(), lo, hi)) {
            self.stats.evidence += 1;
            cx.local.push(Effect::Evidence(Arc::new(e)));
        }
    }

    pub(super) fn note_unknown(&mut self, endorser: &NodeId) -> bool {
        let n = self.unknown_per_endorser.entry(*endorser).or_insert(0);
        if *n >= MAX_UNKNOWN_PER_ENDORSER {
            return false;
        }
        *n += 1;
        true
    }
}

pub(super) fn remove_from(map: &mut BTreeMap<Key, BTreeSet<SporeId>>, key: &Key, id: &SporeId) {
    if let Some(set) = map.get_mut(key) {
        set.remove(id);
        if set.is_empty() {
            map.remove(key);
        }
    }
}
