//! The driver: the one thread that owns the consensus engine and writes the store.
//!
//! It turns client writes into spores (materialise on projected versions), feeds them to the
//! engine, hands what the engine says is committed and applicable to its writer thread
//! (`node::writer`), which applies many spores in one durable LMDB transaction (group commit),
//! and only once that commit is back answers the clients. Running on its own OS thread keeps
//! the engine's steps away from tokio's workers; the writer applies in the engine's order,
//! with nothing interleaved.
//!
//! Group commits are pipelined (`Driver::apply`): while the writer applies a group, computes
//! its state root and waits for the disk, this thread steps the engine on what is queued, and
//! the spores it applies meanwhile form the next group. Clients still hear only once their
//! group is durable. Spores no client of this node waits for (other nodes' writes) may wait a
//! few ms for company before their commit starts (`HOLD_OTHERS`).
//!
//! Blind writes whose spore is dropped for a conflict are rebuilt on fresh versions and
//! resubmitted until their deadline; WATCHed writes fail instead (EXEC answers a null array).
//!
//! In a cluster the same loop also feeds the engine the peers' messages (already checked by
//! the network task), sends the engine's messages through the [`PeerLink`], applies spores
//! committed by others (no client waits for those), records evidence and bans its culprit,
//! and answers the `SPORE.*` commands.

use std::collections::{BTreeMap, BTreeSet, VecDeque};
use std::sync::mpsc::{Receiver, RecvTimeoutError, Sender};
use std::sync::Arc;
use std::time::Duration;

use crate::consensus::wire::encode_message;
use crate::consensus::{Bundle, DropReason, Effect, Engine, Evidence, Input, Message};
use crate::reply::Reply;
use crate::spore::effects::Projection;
use crate::spore::footprint::merged_accesses;
use crate::spore::{Key, Spore, SporeId, VersionView};
use crate::store::{HeldRead, ReadTxn, Store, StoreRead};
use crate::write::WriteError;

use super::admin::EvidenceRecord;
use super::clock;
use super::materialize::{materialize, KeyFacts, MaterializeError, Origin};
use super::outcomes::{Outcome, RecentOutcomes};
use super::peer_link::PeerLink;
use super::replies::Replies;
use super::stats::SporeStats;
use super::write_path::{DriverMsg, WriteJob};
use super::writer::{self, Group, GroupDone, Writer};

/// How often `settle_groups`, waiting for the writer, checks that the writer still runs.
const SETTLE_CHECK: Duration = Duration::from_millis(100);
/// How often the engine gets a timer tick when no write arrives.
const TICK: Duration = Duration::from_millis(50);
/// Most client writes turned into spores per engine step (and per group commit).
const MAX_BATCH: usize = 4096;
/// How long spores no client of this node waits for (other nodes' writes) may wait to be
/// committed together. At light load a cluster node otherwise commits (and fsyncs) each other
/// node's spore on its own: with one writer per node that was 43 % of the driver's CPU, on
/// cores every node shares. Holding them a few ms lets them share a commit (4-node demo, one
/// SET writer per node, alternating pairs: 5 of 6 favourable, e.g. 437 -> 495, 454 -> 493 and
/// 471 -> 511 writes/s with p50 8.7 -> 7.7, 8.5 -> 7.7 and 8.1 -> 7.5 ms). No client waits on
/// them here; their origins answer once their own commit is durable.
const HOLD_OTHERS: Duration = Duration::from_millis(3);

/// A client write whose spore is in the engine.
struct Waiting {
    job: WriteJob,
    client_ops: Vec<usize>,
}

/// Outcomes remembered for `SPORE.STATUS` after the engine forgets a record.
const OUTCOMES_KEPT: usize = 100_000;
/// Evidence records kept (the oldest go first; each is also logged).
const EVIDENCE_KEPT: usize = 1_000;

pub struct Driver {
    store: Arc<Store>,
    pub(super) engine: Engine,
    origin: crate::crypto::NodeId,
    rx: Receiver<DriverMsg>,
    stats: Arc<SporeStats>,
    nonce: u64,
    waiting: BTreeMap<SporeId, Waiting>,
    retry: VecDeque<WriteJob>,
    /// When the engine is next due a timer tick.
    next_tick_ms: u64,
    pub(super) link: Box<dyn PeerLink>,
    pub(super) outcomes: RecentOutcomes,
    pub(super) evidence: VecDeque<EvidenceRecord>,
    /// The global policy's rule on spore content (peers reject what it refuses, and would
    /// score this node down for sending it).
    pub spore_rule: Option<crate::consensus::gossip_check::SporeRule>,
    /// The gossip message being stepped (its relay by the engine is gossipsub's job).
    relayed: Option<Message>,
    /// A cluster node's global policy and network, switched when a policy change applies.
    pub policy: Option<super::policy_switch::PolicyLink>,
    /// Policy switches the engine made in the step being carried out, done by the node once
    /// the spores applied before them are durable.
    switches: Vec<Effect>,
    /// Applies and commits groups (`node::writer`); `None` before `run` starts it, or if it
    /// could not be started (groups then commit on this thread).
    writer: Option<Writer>,
    /// Where the writer sends its outcomes: this driver's own queue (kept until `run`).
    writer_done: Option<Sender<DriverMsg>>,
    /// Groups sent to the writer whose outcome has not come back.
    outstanding: usize,
    /// While groups are outstanding, the store as of the last commit the engine was told of:
    /// the engine's view (`Engine::step`) must not already hold spores its overlay still
    /// projects. `None` with nothing outstanding: a fresh snapshot is then that view.
    view: Option<HeldRead>,
    /// Messages taken off the queue while `settle_groups` waited for the writer, handled next.
    parked: VecDeque<DriverMsg>,
    /// Spores the engine applied and held for company with no group outstanding
    /// (`HOLD_OTHERS`), in its order: the next group.
    next_group: Group,
    /// A `Shutdown` message was handled.
    shutdown: bool,
    /// When `next_group`, held with no group in flight (`HOLD_OTHERS`), is to start.
    hold_until_ms: u64,
    /// Spores committed and answered whose `Input::Applied` the engine has not taken yet,
    /// because the store could not be read for that step (e.g. LMDB's reader table was full).
    /// They are confirmed before any other input: until then the engine's overlay still
    /// projects them, and every view of the store holds them too.
    unconfirmed: Vec<SporeId>,
}

impl Driver {
    /// A driver reading its queue from `rx`; `tx` is a sender of that same queue, for its
    /// writer's outcomes.
    pub fn new(
        store: Arc<Store>,
        engine: Engine,
        origin: crate::crypto::NodeId,
        (tx, rx): (Sender<DriverMsg>, Receiver<DriverMsg>),
        stats: Arc<SporeStats>,
        link: Box<dyn PeerLink>,
    ) -> Driver {
        // Nonces only need to be unique per origin; starting from the clock keeps them unique
        // across restarts without persisting a counter.
        let nonce = clock::now_ms().saturating_mul(1000);
        Driver {
            store,
            engine,
            origin,
            rx,
            stats,
            nonce,
            waiting: BTreeMap::new(),
            retry: VecDeque::new(),
            next_tick_ms: 0,
            link,
            outcomes: RecentOutcomes::new(OUTCOMES_KEPT),
            evidence: VecDeque::new(),
            relayed: None,
            spore_rule: None,
            policy: None,
            switches: Vec::new(),
            writer: None,
            writer_done: Some(tx),
            outstanding: 0,
            view: None,
            parked: VecDeque::new(),
            next_group: Vec::new(),
            shutdown: false,
            hold_until_ms: 0,
            unconfirmed: Vec::new(),
        }
    }

    /// A driver for a node alone (n = 1, ω = 1, f = 0, no peers): benchmarks and tests of the
    /// write path.
    pub fn single_node(
        store: Arc<Store>,
        key: &crate::crypto::NodeKey,
        queue: (Sender<DriverMsg>, Receiver<DriverMsg>),
        stats: Arc<SporeStats>,
    ) -> Result<Driver, crate::consensus::PolicyError> {
        let policy = crate::consensus::Policy::new(vec![key.id()], 1, 0)?;
        let engine = Engine::new(crate::consensus::EngineConfig::new(key.clone(), policy));
        Ok(Driver::new(
            store,
            engine,
            key.id(),
            queue,
            stats,
            Box::new(super::peer_link::NoPeers),
        ))
    }

    /// Runs until shutdown; every write still waiting then gets `Unavailable`.
    pub fn run(mut self) {
        if let Some(done) = self.writer_done.take() {
            match Writer::start(self.store.clone(), done) {
                Ok(w) => self.writer = Some(w),
                Err(e) => tracing::warn!(
                    "could not start the writer thread ({e}): the driver commits each group itself"
                ),
            }
        }
        loop {
            // Spores held for company (`HOLD_OTHERS`) start once their time is up.
            let wait = if self.next_group.is_empty() {
                TICK
            } else {
                let now = clock::now_ms();
                if now >= self.hold_until_ms {
                    self.start_next_group();
                    continue;
                }
                Duration::from_millis(self.hold_until_ms - now)
            };
            let first = match self
                .parked
                .pop_front()
                .map_or_else(|| self.rx.recv_timeout(wait), Ok)
            {
                Ok(msg) => Some(msg),
                Err(RecvTimeoutError::Timeout) => None,
                Err(RecvTimeoutError::Disconnected) => break,
            };
            self.run_once(first);
            if self.shutdown {
                break;
            }
        }
        self.settle_groups();
        // Joins the writer: nothing is queued for it any more.
        self.writer = None;
        for (_, w) in std::mem::take(&mut self.waiting) {
            let _ = w.job.reply.send(Err(WriteError::Unavailable));
        }
    }

    /// One turn of the loop: `first` (if any) and whatever else is queued, then the timer.
    fn run_once(&mut self, first: Option<DriverMsg>) {
        let mut writes: Vec<WriteJob> = self.retry.drain(..).collect();
        if let Some(msg) = first {
            self.shutdown = self.handle(msg, &mut writes);
            // Drain what else is queued: writes become one batch (one signature, one
            // group commit); peer messages are stepped as they come.
            let mut taken = 1;
            while !self.shutdown && taken < MAX_BATCH {
                match self.parked.pop_front().or_else(|| self.rx.try_recv().ok()) {
                    Some(msg) => {
                        self.shutdown = self.handle(msg, &mut writes);
                        taken += 1;
                    }
                    None => break,
                }
            }
        }
        if !writes.is_empty() {
            self.submit(writes);
        }
        if self.shutdown {
            return;
        }
        // Timers must run under sustained load too (drops at deadline + grace, retries):
        // a steady stream of messages never lets `recv_timeout` time out.
        if clock::now_ms() >= self.next_tick_ms {
            self.step(Input::Tick);
        }
    }

    /// Handles one message; returns whether it asks to shut down.
    fn handle(&mut self, msg: DriverMsg, writes: &mut Vec<WriteJob>) -> bool {
        match msg {
            DriverMsg::Write(job) => writes.push(job),
            DriverMsg::Net { from, msg, gossip } => {
                self.relayed = gossip.then(|| msg.clone());
                self.step(Input::Message { from, msg });
                self.relayed = None;
            }
            DriverMsg::Admin { request, reply } => {
                // Answers (SPORE.STATUS, approvals…) describe the store as committed.
                self.settle_groups();
                let answer = self.answer(request);
                let _ = reply.send(answer);
            }
            DriverMsg::Install { catch_up, reply } => {
                // An install writes the store: the groups applied before it commit first.
                self.settle_groups();
                let _ = reply.send(self.install(*catch_up));
            }
            DriverMsg::Shutdown => return true,
            DriverMsg::Committed(done) => self.committed(*done),
        }
        false
    }

    /// Installs a verified copy of the replicated state, then tells the engine which of the
    /// spores it was still working on the copy already contains.
    fn install(&mut self, catch_up: crate::sync::CatchUp) -> Result<(), String> {
        let was_tampered = self.store.integrity().is_tampered();
        self.store
            .install_snapshot(&catch_up.snapshot, &catch_up.root)
            .map_err(|e| e.to_string())?;
        let mut known: Vec<(SporeId, u64)> =
            self.engine.pending().map(|(id, d)| (*id, d)).collect();
        known.extend(
            self.engine
                .waiting()
                .filter_map(|id| self.engine.spore(id).map(|s| (*id, s.deadline_ms))),
        );
        let present: Vec<SporeId> = {
            let read = self.store.read().map_err(|e| e.to_string())?;
            known
                .into_iter()
                .filter(|(id, d)| read.applied(*d, id).unwrap_or(false))
                .map(|(id, _)| id)
                .collect()
        };
        // Own writes the copy already contains were applied, but their replies are not known
        // here: the outcome is reported as unknown rather than retried (a retry could apply a
        // non-idempotent write twice).
        for id in &present {
            if let Some(w) = self.waiting.remove(id) {
                self.stats_pending_done(1);
                fail(w.job, WriteError::Unavailable);
            }
        }
        tracing::info!(
            "state transfer: installed {} entries from {} (root {}, {} spores applied, vouched by {} peers), {} known spores were in it",
            catch_up.snapshot.entries(),
            hex::encode(catch_up.source),
            hex::encode(catch_up.root.root),
            catch_up.root.applied_count,
            catch_up.vouchers.len(),
            present.len()
        );
        SporeStats::add(&self.stats.syncs, 1);
        // Every replicated entry and the whole tree were rewritten and checked against the
        // vouched root: a store found tampered with is healed.
        if was_tampered {
            tracing::warn!(
                "state transfer repaired the tampered store: it now matches root {}",
                hex::encode(catch_up.root.root)
            );
        }
        // The copy may record a policy change this node missed: run it before anything
        // waiting is re-checked against the new state.
        self.adopt_recorded_policy();
        self.step(Input::Resynced { present });
        Ok(())
    }

    /// After an install: if the state records a global policy other than the one in force
    /// (a change committed while this node was behind), the engine and the node switch to it
    /// (docs/CLUSTER.md §3.4). One that fails the checks a change passes is logged, not run.
    fn adopt_recorded_policy(&mut self) {
        let Some(link) = &self.policy else {
            return;
        };
        let text = match self.store.read().and_then(|r| {
            let rec = r.recorded_policy()?;
            Ok(rec.map(|p| p.text.to_vec()))
        }) {
            Ok(Some(text)) => text,
            Ok(None) => return,
            Err(e) => {
                tracing::error!("state transfer: cannot read the recorded policy: {e}");
                return;
            }
        };
        match link.recorded_successor(&text) {
            Ok(None) => {}
            Ok(Some(next)) => {
                let hash = next.hash;
                match self.engine.adopt_installed_policy(next) {
                    Ok(()) => link.adopt_installed(&hash, &text),
                    Err(why) => tracing::error!(
                        "state transfer installed policy {} but the engine refuses it: {why}",
                        hex::encode(hash)
                    ),
                }
            }
            Err(why) => tracing::error!(
                "state transfer installed a state that records a global policy this node \
                 cannot adopt ({why}); it keeps {} and no longer agrees with its peers, and its \
                 next start refuses this policy.toml unless `override_recorded_policy` is set \
                 (docs/CLUSTER.md §3.4)",
                hex::encode(link.active.current().hash())
            ),
        }
    }

    /// Materialises a batch of writes on projected versions and submits the spores.
    ///
    /// A batch may be submitted in parts (`build_spores`); each part is one engine step.
    fn submit(&mut self, mut batch: Vec<WriteJob>) {
        while !batch.is_empty() {
            let mut jobs = Some(batch);
            let built =
                self.with_view(|d, read| d.build_spores(read, jobs.take().unwrap_or_default()));
            let (spores, rest) = match built {
                Ok(built) => built,
                Err(e) => {
                    tracing::error!("store read failed: {e}");
                    for j in jobs.into_iter().flatten() {
                        fail(j, WriteError::Unavailable);
                    }
                    return;
                }
            };
            batch = rest;
            if spores.is_empty() {
                continue;
            }
            SporeStats::add(&self.stats.pending, spores.len() as u64);
            self.step(Input::Submit(spores));
        }
    }

    /// Builds the spores of `batch` on `read` (the engine's view) and the engine's overlay;
    /// writes that fail here (deadline, WATCH, policy) are answered at once. Returns the
    /// spores and the writes left for a later part of the batch: from the first one that
    /// needs an exact version (a full prerequisite) of a key an earlier spore of this part
    /// changed commutatively. Its prerequisite would name the accumulation of those pending
    /// increments (or set additions), which the engine can neither find in its projection
    /// nor credit to one pending spore (the chain rule follows non-commutative producers
    /// only, PROTOCOL.md §5): it would be dropped and retried. Built after them in a part of
    /// its own instead, it finds them applied on a single node (ω = 1 applies in the step)
    /// and in the engine's overlay.
    fn build_spores(
        &mut self,
        read: &ReadTxn<'_>,
        batch: Vec<WriteJob>,
    ) -> (Vec<Spore>, Vec<WriteJob>) {
        let now = clock::now_ms();
        let mut spores: Vec<Spore> = Vec::with_capacity(batch.len());
        let mut rest: Vec<WriteJob> = Vec::new();
        {
            // The groups applied but not committed (`apply`) are not in the snapshot: lay
            // their effects under the projection, or every blind write on their keys would be
            // built on stale versions and conflict.
            // (A copy, once per batch: the loop below needs `self` mutably.)
            let overlay = self.engine.overlay().clone();
            let layered = overlay.over(read);
            let mut projection = Projection::new(&layered);
            // Keys an earlier spore of this batch, or an uncommitted one, wrote
            // non-commutatively: their TTL state is not in the store yet.
            let mut rewritten: BTreeSet<Key> = BTreeSet::new();
            for u in self.engine.unconfirmed() {
                rewritten.extend(non_commutative_keys(&u.spore));
            }
            // Keys the spores of this part wrote commutatively.
            let mut accumulated: BTreeSet<Key> = BTreeSet::new();
            let mut jobs = batch.into_iter();
            while let Some(job) = jobs.next() {
                if now >= job.deadline_ms {
                    self.drop_job(
                        job,
                        None,
                        "deadline passed before the spore was built".into(),
                    );
                    continue;
                }
                let facts = |key: &Key| -> KeyFacts {
                    if rewritten.contains(key) {
                        // An unapplied spore of ours rewrote it: its expiry is unknown here,
                        // so delete nothing.
                        return KeyFacts::default();
                    }
                    match read.raw_record(key) {
                        Ok(Some(rec)) if rec.is_live() && rec.expire_at_ms != 0 => KeyFacts {
                            expired: rec.expire_at_ms <= now,
                        },
                        // Unknown (a read error) counts as not expired: delete nothing.
                        Ok(_) | Err(_) => KeyFacts::default(),
                    }
                };
                self.nonce += 1;
                let origin = Origin {
                    id: self.origin,
                    nonce: self.nonce,
                    deadline_ms: job.deadline_ms,
                };
                match materialize(&job.request, &projection, &facts, origin) {
                    Err(MaterializeError::WatchFailed) => fail(job, WriteError::WatchFailed),
                    Ok(m) => {
                        if let Some(Err(why)) = self.spore_rule.as_ref().map(|r| r(&m.spore)) {
                            SporeStats::add(&self.stats.dropped, 1);
                            fail(job, WriteError::Refused { why });
                            continue;
                        }
                        let needs_exact = m
                            .spore
                            .key_prereqs
                            .iter()
                            .any(|p| p.acc.is_some() && accumulated.contains(&p.key));
                        if needs_exact {
                            rest.push(job);
                            rest.extend(jobs);
                            break;
                        }
                        // Only a non-commutative write can change a key's TTL; increments and
                        // set additions leave the store's TTL facts valid.
                        for (key, access) in merged_accesses(&m.spore) {
                            if access.is_commutative() {
                                accumulated.insert(key);
                            } else {
                                rewritten.insert(key);
                            }
                        }
                        let id = m.spore.id();
                        projection.push(&m.spore, &id);
                        self.waiting.insert(
                            id,
                            Waiting {
                                job,
                                client_ops: m.client_ops,
                            },
                        );
                        spores.push(m.spore);
                    }
                }
            }
        }
        (spores, rest)
    }

    /// Runs `f` on the engine's view of the store: the snapshot held while groups are
    /// outstanding (`view`), or a fresh one when none is.
    fn with_view<R>(
        &mut self,
        f: impl FnOnce(&mut Driver, &ReadTxn<'_>) -> R,
    ) -> Result<R, crate::store::StoreError> {
        match self.view.take() {
            Some(view) => {
                let r = f(self, view.get());
                self.view = Some(view);
                Ok(r)
            }
            None => {
                if self.outstanding > 0 {
                    // The writer could not hand over the snapshot of its last commit (a store
                    // read failed). A fresh snapshot may already hold spores the engine's
                    // overlay still projects, which would count them twice: wait until every
                    // group is confirmed, so the store is again exactly the engine's view.
                    self.settle_groups();
                    if !self.unconfirmed.is_empty() {
                        // Settling confirmed nothing (the store is still unreadable).
                        return Err(crate::store::StoreError::NotYet(
                            "applied spores not yet confirmed to the engine",
                        ));
                    }
                }
                let store = self.store.clone();
                let read = store.read()?;
                Ok(f(self, &read))
            }
        }
    }

    /// Runs one engine step and carries out its effects.
    pub(super) fn step(&mut self, input: Input) {
        let now = clock::now_ms();
        if matches!(input, Input::Tick) {
            self.next_tick_ms = now + TICK.as_millis() as u64;
            if let Some(p) = &self.policy {
                p.tick(now);
            }
        }
        let input = match input {
            Input::Applied(ids) if !self.unconfirmed.is_empty() => {
                let mut all = std::mem::take(&mut self.unconfirmed);
                all.extend(ids);
                Input::Applied(all)
            }
            other if !self.unconfirmed.is_empty() => {
                let ids = std::mem::take(&mut self.unconfirmed);
                self.step(Input::Applied(ids));
                if !self.unconfirmed.is_empty() {
                    // Still unreadable, and no other input may pass the confirmation (see
                    // `unconfirmed`): a peer's message is lost as if the network dropped it,
                    // a tick comes again.
                    return;
                }
                other
            }
            other => other,
        };
        // Taken by the step only once the store could be read.
        let mut input = Some(input);
        let stepped = self.with_view(|d, read| match input.take() {
            Some(input) => d.engine.step(now, input, read as &dyn VersionView),
            None => Vec::new(),
        });
        let effects = match stepped {
            Ok(effects) => effects,
            Err(e) => {
                tracing::error!("store read failed: {e}");
                if let Some(Input::Applied(ids)) = input {
                    // Never lost: the engine must learn these spores are in the store. (Groups
                    // confirmed while this step waited for the writer may be listed already.)
                    self.unconfirmed.extend(ids);
                }
                return;
            }
        };
        self.carry_out(effects);
        let stalled = self.engine.oldest_waiting_ms().unwrap_or(0);
        self.stats
            .stalled_since_ms
            .store(stalled, std::sync::atomic::Ordering::Relaxed);
        self.stats.unconfirmed.store(
            self.engine.unconfirmed().count() as u64,
            std::sync::atomic::Ordering::Relaxed,
        );
    }

    fn carry_out(&mut self, effects: Vec<Effect>) {
        let mut to_apply: Vec<(SporeId, Arc<Spore>)> = Vec::new();
        let alone = self.link.is_alone();
        for effect in effects {
            match effect {
                Effect::Broadcast(_) | Effect::Send { .. } if alone => {}
                Effect::Broadcast(msg) => {
                    if self.relayed.as_ref() != Some(&*msg) {
                        self.link.broadcast(encode_message(&msg));
                    }
                }
                Effect::Send { to, msg } => {
                    if to != self.origin {
                        self.link.send(to, encode_message(&msg));
                    }
                }
                Effect::Committed { id } => self.outcomes.set(id, Outcome::Committed),
                Effect::Apply { id, spore } => to_apply.push((id, spore)),
                Effect::Dropped { id, reason } => {
                    self.outcomes.set(id, Outcome::Dropped(reason.to_string()));
                    if let Some(w) = self.waiting.remove(&id) {
                        self.stats_pending_done(1);
                        if reason == DropReason::PolicyRefused {
                            // Retrying cannot help: the policy in force refuses it.
                            SporeStats::add(&self.stats.dropped, 1);
                            fail(
                                w.job,
                                WriteError::Refused {
                                    why: "this node's global policy refuses it".into(),
                                },
                            );
                        } else if reason == DropReason::Vetoed {
                            SporeStats::add(&self.stats.dropped, 1);
                            fail(
                                w.job,
                                WriteError::Vetoed {
                                    rule: "this node does not endorse it".into(),
                                },
                            );
                        } else {
                            self.retry_or_drop(w.job, id, reason.to_string());
                        }
                    }
                }
                Effect::Evidence(evidence) => self.record_evidence(evidence),
                e @ (Effect::PolicyAdopted { .. } | Effect::PolicyNotAdopted { .. }) => {
                    self.switches.push(e)
                }
            }
        }
        if !to_apply.is_empty() {
            self.apply(to_apply);
        }
        // Normally done by `apply` (a switch always follows its spore's `Apply`); the spores
        // applied before a switch are durable before it, whatever happens.
        if !self.switches.is_empty() {
            self.settle_groups();
        }
        self.switch_policy();
    }

    /// Carries out the policy switches of the last step (the engine has already switched).
    fn switch_policy(&mut self) {
        for e in std::mem::take(&mut self.switches) {
            match (&self.policy, e) {
                (Some(p), Effect::PolicyAdopted { id, hash, policy }) => {
                    p.adopt(id, &hash, &policy)
                }
                (_, Effect::PolicyNotAdopted { id, why }) => tracing::error!(
                    "policy change {id} committed but not adopted: {why}; this node keeps its \
                     policy and no longer agrees with its peers: replace its policy.toml"
                ),
                (None, Effect::PolicyAdopted { id, .. }) => {
                    tracing::error!("policy change {id} adopted by a node without a policy file")
                }
                _ => {}
            }
        }
    }

    /// Has committed spores applied in one durable transaction, then answers their clients.
    ///
    /// Groups are pipelined: the writer thread applies a group, computes its root and waits
    /// for the disk while this thread goes back to its loop and does the work that is queued
    /// (the next batch: its engine step, signature, endorsements). The spores the engine
    /// applies meanwhile are sent at once and wait in the writer's queue, which commits
    /// everything queued as one group. The engine projects uncommitted spores over the store
    /// (they stay unconfirmed until `Input::Applied`), and so does `submit`, both over `view`;
    /// a group's clients still hear only once it is durable (`committed`).
    fn apply(&mut self, spores: Group) {
        // With nothing outstanding and nobody here waiting for them, they wait briefly for
        // company (`HOLD_OTHERS`): the loop starts them when the time is up, and any group
        // sent before that takes them.
        let nobody_waits = || !spores.iter().any(|(id, _)| self.waiting.contains_key(id));
        if self.switches.is_empty() && self.outstanding == 0 && nobody_waits() {
            if self.next_group.is_empty() {
                self.hold_until_ms = clock::now_ms() + HOLD_OTHERS.as_millis() as u64;
            }
            self.next_group.extend(spores);
            return;
        }
        let mut group = std::mem::take(&mut self.next_group);
        group.extend(spores);
        self.send_group(group);
        // A policy change among these spores: the node switches once they are durable, before
        // it answers anyone or steps the engine again (`committed`).
        if !self.switches.is_empty() {
            self.settle_groups();
        }
    }

    /// Sends `group` to the writer, or commits it here if there is none.
    fn send_group(&mut self, group: Group) {
        if group.is_empty() {
            return;
        }
        let group = match &self.writer {
            Some(w) => {
                if self.outstanding == 0 {
                    // The engine's view until this group is confirmed: the store as it is
                    // now, without it.
                    match HeldRead::begin(self.store.clone()) {
                        Ok(v) => self.view = Some(v),
                        Err(e) => {
                            // Without that snapshot, the group commits on this thread:
                            // nothing is outstanding afterwards, so a fresh snapshot is the
                            // engine's view again (`with_view`).
                            tracing::error!("store read failed: {e}");
                            self.view = None;
                            self.commit_on_this_thread(group);
                            return;
                        }
                    }
                }
                match w.send(group) {
                    Ok(()) => {
                        self.outstanding += 1;
                        return;
                    }
                    Err(group) => group,
                }
            }
            None => group,
        };
        self.commit_here(group);
    }

    /// Commits `group` on this thread (no writer thread, or it stopped) and answers at once.
    fn commit_here(&mut self, group: Group) {
        if self.writer.take().is_some() {
            tracing::error!("the writer thread stopped: the driver commits each group itself");
        }
        self.commit_on_this_thread(group);
    }

    /// Commits `group` on this thread and answers at once (nothing may be outstanding).
    fn commit_on_this_thread(&mut self, group: Group) {
        let ids: Vec<SporeId> = group.iter().map(|(id, _)| *id).collect();
        let outcome = writer::commit_group(&self.store, &group);
        self.committed(GroupDone {
            groups: 0,
            ids,
            outcome,
            view: None,
        });
    }

    /// Makes every spore the engine applied durable, and confirms it: nothing is outstanding
    /// afterwards. Messages that arrive meanwhile are parked for the loop.
    fn settle_groups(&mut self) {
        self.start_next_group();
        while self.outstanding > 0 {
            match self.rx.recv_timeout(SETTLE_CHECK) {
                Ok(DriverMsg::Committed(done)) => self.committed(*done),
                Ok(other) => self.parked.push_back(other),
                Err(_) => {
                    if self.writer.as_ref().is_some_and(|w| w.is_running()) {
                        continue;
                    }
                    // Cannot happen unless the writer thread died outside its guarded apply
                    // (nothing there panics): its outstanding spores' fate is unknown, and
                    // their clients hear only at shutdown (`Unavailable`). Later groups
                    // commit on this thread.
                    tracing::error!(
                        "the writer thread stopped with {} groups outstanding",
                        self.outstanding
                    );
                    self.outstanding = 0;
                    self.view = None;
                    self.writer = None;
                }
            }
        }
    }

    /// Sends `next_group`, if it holds spores.
    fn start_next_group(&mut self) {
        if !self.next_group.is_empty() {
            let group = std::mem::take(&mut self.next_group);
            self.send_group(group);
        }
    }

    /// After a group's commit (or its failure): switch policy, answer the clients, confirm the
    /// applies to the engine.
    fn committed(&mut self, done: GroupDone) {
        let GroupDone {
            groups,
            ids,
            outcome,
            view,
        } = done;
        self.outstanding = self.outstanding.saturating_sub(groups);
        // From here the engine is told these spores are applied (below): its view is the
        // store as of this commit while later groups are out, a fresh snapshot once none is.
        self.view = if self.outstanding > 0 { view } else { None };
        // A policy change among the spores sent: the node switches once they are all durable,
        // before it answers anyone or steps the engine again (the engine switched at the
        // change's place in the order).
        if self.outstanding == 0 {
            self.switch_policy();
        }
        match outcome {
            Ok(replies) => {
                SporeStats::add(&self.stats.committed, ids.len() as u64);
                for id in &ids {
                    self.outcomes.set(*id, Outcome::Applied);
                }
                SporeStats::add(&self.stats.batches, 1);
                let mut answers = Replies::default();
                for (id, replies) in ids.iter().zip(replies) {
                    if let Some(w) = self.waiting.remove(id) {
                        self.stats_pending_done(1);
                        let client: Vec<Reply> = w
                            .client_ops
                            .iter()
                            .filter_map(|&i| replies.get(i).cloned())
                            .collect();
                        answers.push(w.job.home.as_ref(), w.job.reply, Ok(client));
                    }
                }
                answers.send();
                self.step(Input::Applied(ids));
            }
            Err(e) => {
                // Nothing of the transaction is visible; its clients get an error saying so,
                // and the node keeps serving. The spores are committed (in a cluster, peers
                // apply them), so the engine cannot take them back; it is told they are
                // applied, which drops them from its overlay: its view of versions is then
                // this store's again, and later spores (WATCH, prerequisites) are checked
                // against what is really here, not against writes the store lacks. From here
                // this node's store differs from its peers': state transfer repairs it (peers
                // agreeing on a root that is not this node's, or a restart: docs/CLUSTER.md
                // §7). Not retried: a store that fails a commit (map full, I/O) needs an
                // operator first; until then, writes that fit (a DEL, a smaller value) still
                // commit.
                tracing::error!(
                    "group commit failed, {} applied spores not stored on this node: {e}",
                    ids.len()
                );
                SporeStats::add(&self.stats.not_stored, ids.len() as u64);
                let full = matches!(e, crate::store::StoreError::MapFull);
                let why = e.to_string();
                for id in &ids {
                    if let Some(w) = self.waiting.remove(id) {
                        self.stats_pending_done(1);
                        let why = why.clone();
                        fail(w.job, WriteError::NotStored { why, full });
                    }
                }
                self.step(Input::Applied(ids));
            }
        }
    }

    /// Logs and keeps evidence, bans its culprit, and floods the statements that prove it so
    /// every honest node can check it and act on its own.
    fn record_evidence(&mut self, evidence: Arc<Evidence>) {
        let culprit = evidence.culprit();
        tracing::warn!(
            culprit = %hex::encode(culprit),
            "evidence of protocol violation: {evidence:?}"
        );
        let bundle = match &*evidence {
            Evidence::ConflictingEndorsements { a, b, ea, eb } => Bundle {
                spores: [a.id(), b.id()]
                    .iter()
                    .filter_map(|id| self.engine.batch(id))
                    .collect(),
                endorsements: vec![ea.clone(), eb.clone()],
                rejections: vec![],
            },
            Evidence::EndorsedAndRejected {
                endorsed, rejected, ..
            } => Bundle {
                spores: vec![],
                endorsements: vec![endorsed.clone()],
                rejections: vec![rejected.clone()],
            },
        };
        self.link
            .broadcast(encode_message(&Message::Bundle(bundle)));
        self.link
            .ban(culprit, "signed evidence of equivocation".into());
        self.evidence.push_back(EvidenceRecord {
            detected_ms: clock::now_ms(),
            evidence,
        });
        while self.evidence.len() > EVIDENCE_KEPT {
            self.evidence.pop_front();
        }
    }

    fn retry_or_drop(&mut self, job: WriteJob, id: SporeId, reason: String) {
        if job.request.watched.is_empty() && clock::now_ms() < job.deadline_ms {
            SporeStats::add(&self.stats.retried, 1);
            self.retry.push_back(job);
        } else if !job.request.watched.is_empty() {
            fail(job, WriteError::WatchFailed);
        } else {
            self.drop_job(job, Some(id), reason);
        }
    }

    /// Fails a write that will not be retried. `id` is the last spore built for it, if any
    /// (a write whose deadline passed while queued never became a spore).
    fn drop_job(&mut self, job: WriteJob, id: Option<SporeId>, reason: String) {
        SporeStats::add(&self.stats.dropped, 1);
        let id = id.map(|id| id.to_string()).unwrap_or_default();
        fail(job, WriteError::Dropped { id, reason });
    }

    fn stats_pending_done(&self, n: u64) {
        self.stats
            .pending
            .fetch_sub(n, std::sync::atomic::Ordering::Relaxed);
    }
}

fn fail(job: WriteJob, error: WriteError) {
    let _ = job.reply.send(Err(error));
}

/// The keys `spore` writes non-commutatively (the only writes that can change a key's TTL).
fn non_commutative_keys(spore: &Spore) -> impl Iterator<Item = Key> {
    merged_accesses(spore)
        .into_iter()
        .filter(|(_, access)| !access.is_commutative())
        .map(|(k, _)| k)
}
