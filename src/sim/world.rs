//! The discrete-event world: N engines, a seeded network (per-link delays, loss, duplication,
//! reordering, a partition that heals, a crash and restart with persisted engine state, clock
//! skew), honest workload, and the faulty nodes' behaviours. Time is simulated milliseconds.

use std::cmp::Reverse;
use std::collections::{BTreeMap, BTreeSet, BinaryHeap, VecDeque};
use std::sync::{Arc, Mutex};

use bytes::Bytes;
use num_bigint::BigInt;

use crate::consensus::wire::encode_message;
use crate::consensus::*;
use crate::crypto::{sha3, Digest, NodeId, NodeKey};
use crate::spore::effects::Projection;
use crate::spore::footprint::merged_accesses;
use crate::spore::{DbPrereq, End, Key, KeyPrereq, Op, SetCond, Spore, SporeId, Ttl, VersionView};

use super::config::{Byzantine, SimConfig, Timing};
use super::rng::Rng;
use super::store::SimStore;

/// What one node did, for the checks.
#[derive(Debug, Clone, Default)]
pub struct NodeLog {
    pub committed: BTreeMap<SporeId, u64>,
    pub dropped: BTreeMap<SporeId, DropReason>,
    pub applied: Vec<SporeId>,
    pub evidence: Vec<Arc<Evidence>>,
    /// Policy changes this node adopted (spore, new policy hash), in apply order.
    pub policies: Vec<(SporeId, Digest)>,
}

pub struct Node {
    pub key: NodeKey,
    pub engine: Engine,
    pub store: SimStore,
    pub skew: i64,
    /// Byzantine (or crashed-from-start) node.
    pub faulty: bool,
    /// Crashed at some point during the run (excluded from S2/S3).
    pub crashed: bool,
    pub down: bool,
    seen: BTreeSet<Digest>,
    seen_queue: VecDeque<(u64, Digest)>,
    forwarded: BTreeSet<Digest>,
    inflight: Vec<(SporeId, Arc<Spore>)>,
    /// Applied by the engine, not yet in the store (`SimConfig::lag_commits`), in order.
    uncommitted: Vec<(SporeId, Arc<Spore>)>,
    nonce: u64,
    history: Vec<(u64, Arc<Message>)>,
    pub log: NodeLog,
}

#[derive(Debug, Clone)]
pub struct Submitted {
    pub origin: usize,
    pub at: u64,
    pub spore: Arc<Spore>,
}

enum Ev {
    Deliver {
        to: usize,
        from: usize,
        msg: Arc<Message>,
        digest: Digest,
        gossip: bool,
    },
    Tick(usize),
    Submit(usize),
    Byz(usize),
    Crash(usize),
    Restart(usize),
}

struct Queued {
    time: u64,
    seq: u64,
    ev: Ev,
}

impl PartialEq for Queued {
    fn eq(&self, o: &Self) -> bool {
        (self.time, self.seq) == (o.time, o.seq)
    }
}
impl Eq for Queued {}
impl PartialOrd for Queued {
    fn partial_cmp(&self, o: &Self) -> Option<std::cmp::Ordering> {
        Some(self.cmp(o))
    }
}
impl Ord for Queued {
    fn cmp(&self, o: &Self) -> std::cmp::Ordering {
        (self.time, self.seq).cmp(&(o.time, o.seq))
    }
}

pub struct World {
    pub cfg: SimConfig,
    pub timing: Timing,
    rng: Rng,
    pub now: u64,
    queue: BinaryHeap<Reverse<Queued>>,
    seq: u64,
    pub nodes: Vec<Node>,
    pub ids: Vec<NodeId>,
    index: BTreeMap<NodeId, usize>,
    pub submitted: BTreeMap<SporeId, Submitted>,
    pub messages: u64,
    pub bytes: u64,
    fanout: usize,
    /// (start, end, isolated side): messages across are held until the end.
    partition: Option<(u64, u64, BTreeSet<usize>)>,
    /// Spores each equivocating node endorsed (S4).
    pub byz_endorsed: BTreeMap<usize, Vec<Arc<Spore>>>,
    pub end: u64,
    pub start: u64,
    /// Every spore content seen applied or submitted (the engines forget old records).
    pub contents: BTreeMap<SporeId, Arc<Spore>>,
    /// Applies the executor refused (a bug: counted under S2).
    pub apply_errors: u64,
}

/// A verifier shared by every simulated node: each distinct signature is verified once per run
/// (same function as `crypto::verify`, computed once).
fn shared_verifier() -> Verifier {
    let cache: Arc<Mutex<BTreeMap<Digest, bool>>> = Arc::default();
    Verifier(Arc::new(
        move |signer: &NodeId, domain: &str, payload: &[u8], sig: &[u8; 64]| {
            let k = sha3(&[signer, domain.as_bytes(), sig, payload]);
            if let Ok(c) = cache.lock() {
                if let Some(v) = c.get(&k) {
                    return *v;
                }
            }
            let ok = crate::crypto::verify(signer, domain, payload, sig).is_ok();
            if let Ok(mut c) = cache.lock() {
                c.insert(k, ok);
            }
            ok
        },
    ))
}

/// Simulated node keys are a pure function of the index (cheap, shared across seeds).
pub fn node_key(i: usize) -> NodeKey {
    NodeKey::from_seed(sha3(&[b"sporedb/sim/node", &(i as u64).to_be_bytes()]))
}

impl World {
    pub fn new(cfg: SimConfig) -> World {
        let timing = cfg.timing();
        let mut rng = Rng::new(cfg.seed);
        let keys: Vec<NodeKey> = (0..cfg.nodes).map(node_key).collect();
        let ids: Vec<NodeId> = keys.iter().map(|k| k.id()).collect();
        let f = cfg.faulty;
        let n = cfg.nodes;
        let quorum = Policy::min_quorum(n, f).min(n);
        let policy = Policy::new(ids.clone(), quorum, f).unwrap_or_else(|_| Policy {
            endorsers: sorted(&ids),
            quorum: n,
            faulty: 0,
        });
        let verifier = shared_verifier();
        let start = 1_000_000;
        let nodes = keys
            .iter()
            .enumerate()
            .map(|(i, key)| {
                let mut ec = EngineConfig::new(key.clone(), policy.clone());
                ec.grace_ms = timing.grace_ms;
                ec.max_horizon_ms = timing.horizon_ms;
                ec.max_skew_ms = cfg.skew_ms;
                ec.want_interval_ms = timing.grace_ms / 4;
                ec.resend_ms = 4 * cfg.delay_range().1;
                ec.verifier = verifier.clone();
                let half = (cfg.skew_ms / 2) as i64;
                let skew = if half == 0 {
                    0
                } else {
                    rng.range(0, 2 * half as u64) as i64 - half
                };
                Node {
                    key: key.clone(),
                    engine: Engine::new(ec),
                    store: SimStore::default(),
                    skew,
                    faulty: i >= n - f,
                    crashed: false,
                    down: false,
                    seen: BTreeSet::new(),
                    seen_queue: VecDeque::new(),
                    forwarded: BTreeSet::new(),
                    inflight: Vec::new(),
                    uncommitted: Vec::new(),
                    nonce: 0,
                    history: Vec::new(),
                    log: NodeLog::default(),
                }
            })
            .collect();
        let index = ids.iter().enumerate().map(|(i, id)| (*id, i)).collect();
        let fanout = ((n as f64).ln().ceil() as usize + 3)
            .min(n.saturating_sub(1))
            .max(1);
        let mut w = World {
            cfg,
            timing,
            rng,
            now: start,
            queue: BinaryHeap::new(),
            seq: 0,
            nodes,
            ids,
            index,
            submitted: BTreeMap::new(),
            messages: 0,
            bytes: 0,
            fanout,
            partition: None,
            byz_endorsed: BTreeMap::new(),
            end: 0,
            start,
            contents: BTreeMap::new(),
            apply_errors: 0,
        };
        w.schedule_all();
        w
    }

    fn push(&mut self, time: u64, ev: Ev) {
        self.seq += 1;
        self.queue.push(Reverse(Queued {
            time,
            seq: self.seq,
            ev,
        }));
    }

    pub fn honest(&self, i: usize) -> bool {
        !self.nodes[i].faulty
    }

    fn schedule_all(&mut self) {
        let n = self.cfg.nodes;
        let t = self.timing;
        let begin = self.start + 100;
        let honest: Vec<usize> = (0..n).filter(|&i| self.honest(i)).collect();
        for i in 0..n {
            let phase = self.rng.below(t.tick_ms);
            self.push(begin + phase, Ev::Tick(i));
            if self.nodes[i].faulty {
                if self.cfg.byzantine == Byzantine::None {
                    self.nodes[i].down = true;
                } else {
                    let at = begin + self.rng.below(50);
                    self.push(at, Ev::Byz(i));
                }
            }
        }
        for _ in 0..self.cfg.spores {
            let at = begin + self.rng.below(self.cfg.workload_ms.max(1));
            let who = honest[self.rng.below(honest.len() as u64) as usize];
            self.push(at, Ev::Submit(who));
        }
        self.end = begin + self.cfg.workload_ms + t.timeout_ms + 2 * t.grace_ms + 500;
        if self.cfg.crash && honest.len() > 1 {
            let who = honest[self.rng.below(honest.len() as u64) as usize];
            let at = begin + self.cfg.workload_ms / 3;
            self.push(at, Ev::Crash(who));
            self.push(at + t.grace_ms / 2, Ev::Restart(who));
        }
        if self.cfg.partition {
            // Isolate up to f honest nodes (at least one) for at most half the grace period.
            let k = self
                .cfg
                .faulty
                .max(1)
                .min(honest.len().saturating_sub(1))
                .max(1);
            let mut side = BTreeSet::new();
            while side.len() < k {
                side.insert(honest[self.rng.below(honest.len() as u64) as usize]);
            }
            let at = begin + self.rng.below(self.cfg.workload_ms.max(1));
            self.partition = Some((at, at + t.grace_ms / 2, side));
        }
    }

    /// Runs to the end; returns nothing (read the logs).
    pub fn run(&mut self) {
        while let Some(Reverse(q)) = self.queue.pop() {
            if q.time > self.end {
                break;
            }
            self.now = q.time;
            match q.ev {
                Ev::Tick(i) => {
                    if !self.nodes[i].down {
                        self.step(i, Input::Tick);
                        self.gc_seen(i);
                    }
                    let next = self.now + self.timing.tick_ms;
                    self.push(next, Ev::Tick(i));
                }
                Ev::Deliver {
                    to,
                    from,
                    msg,
                    digest,
                    gossip,
                } => self.deliver(to, from, msg, digest, gossip),
                Ev::Submit(i) => {
                    if !self.nodes[i].down {
                        self.submit(i);
                    }
                }
                Ev::Byz(i) => self.byzantine_action(i),
                Ev::Crash(i) => {
                    // As if the crash came just after the group in flight committed (a real
                    // node that loses it restarts with a fresh engine and resyncs instead).
                    self.commit_lagged(i);
                    self.nodes[i].down = true;
                    self.nodes[i].crashed = true;
                }
                Ev::Restart(i) => self.nodes[i].down = false,
            }
        }
        // The checks read the stores: every group in flight commits.
        for i in 0..self.nodes.len() {
            self.commit_lagged(i);
        }
    }

    /// Writes a node's lagging applies into its store and confirms them to its engine.
    fn commit_lagged(&mut self, i: usize) {
        let lagged = std::mem::take(&mut self.nodes[i].uncommitted);
        if lagged.is_empty() {
            return;
        }
        let mut ids = Vec::with_capacity(lagged.len());
        for (id, spore) in lagged {
            if !self.nodes[i].store.apply(&spore, &id) {
                self.apply_errors += 1;
            }
            ids.push(id);
        }
        let local = self.local_time(i);
        let n = &mut self.nodes[i];
        let effects = n.engine.step(local, Input::Applied(ids), &n.store);
        self.handle(i, effects);
    }

    fn local_time(&self, i: usize) -> u64 {
        (self.now as i64 + self.nodes[i].skew).max(0) as u64
    }

    fn step(&mut self, i: usize, input: Input) {
        // Lagging groups commit at a random later step: sometimes several steps later.
        if !self.nodes[i].uncommitted.is_empty() && self.rng.chance(0.5) {
            self.commit_lagged(i);
        }
        let local = self.local_time(i);
        let effects = {
            let n = &mut self.nodes[i];
            n.engine.step(local, input, &n.store)
        };
        self.handle(i, effects);
    }

    fn handle(&mut self, i: usize, effects: Vec<Effect>) {
        let mut applied = Vec::new();
        let withhold = self.nodes[i].faulty && self.cfg.byzantine == Byzantine::Withhold;
        let me = self.ids[i];
        for e in effects {
            match e {
                Effect::Broadcast(msg) => {
                    if withhold && carries_endorsement_by(&msg, &me) {
                        continue;
                    }
                    self.gossip(i, msg);
                }
                Effect::Send { to, msg } => {
                    if withhold {
                        continue;
                    }
                    if let Some(&j) = self.index.get(&to) {
                        self.unicast(i, j, msg);
                    }
                }
                Effect::Committed { id } => {
                    self.nodes[i].log.committed.insert(id, self.now);
                }
                Effect::Apply { id, spore } => {
                    self.contents.entry(id).or_insert_with(|| spore.clone());
                    let lag = self.cfg.lag_commits;
                    let n = &mut self.nodes[i];
                    n.log.applied.push(id);
                    n.inflight.retain(|(x, _)| *x != id);
                    if lag {
                        n.uncommitted.push((id, spore));
                        continue;
                    }
                    if !n.store.apply(&spore, &id) {
                        self.apply_errors += 1;
                    }
                    applied.push(id);
                }
                Effect::Dropped { id, reason } => {
                    let n = &mut self.nodes[i];
                    n.log.dropped.insert(id, reason);
                    n.inflight.retain(|(x, _)| *x != id);
                }
                Effect::Evidence(e) => self.nodes[i].log.evidence.push(e),
                Effect::PolicyAdopted { id, hash, .. } => {
                    self.nodes[i].log.policies.push((id, hash));
                }
                Effect::PolicyNotAdopted { .. } => self.apply_errors += 1,
            }
        }
        if !applied.is_empty() {
            self.step(i, Input::Applied(applied));
        }
    }

    fn encode(msg: &Message) -> (Digest, u64) {
        let bytes = encode_message(msg);
        (sha3(&[&bytes]), bytes.len() as u64)
    }

    /// Gossip: forward once to `fanout` random peers (the receivers relay if they learn).
    fn gossip(&mut self, i: usize, msg: Arc<Message>) {
        let (digest, size) = Self::encode(&msg);
        if !self.nodes[i].forwarded.insert(digest) {
            return;
        }
        self.nodes[i].seen.insert(digest);
        let n = self.cfg.nodes;
        let mut peers = BTreeSet::new();
        while peers.len() < self.fanout {
            let p = self.rng.below(n as u64) as usize;
            if p != i {
                peers.insert(p);
            }
        }
        for p in peers {
            self.send(i, p, msg.clone(), digest, size, true);
        }
    }

    fn unicast(&mut self, i: usize, j: usize, msg: Arc<Message>) {
        let (digest, size) = Self::encode(&msg);
        self.send(i, j, msg, digest, size, false);
    }

    fn send(
        &mut self,
        from: usize,
        to: usize,
        msg: Arc<Message>,
        digest: Digest,
        size: u64,
        gossip: bool,
    ) {
        self.messages += 1;
        self.bytes += size;
        if self.rng.chance(self.cfg.loss) {
            return;
        }
        let (lo, hi) = self.cfg.delay_range();
        // Per-link base delay, per-message jitter (reordering comes from the jitter).
        let base = lo + Rng::hash(self.cfg.seed, from as u64, to as u64) % (hi - lo + 1);
        let jitter = self.rng.below(base / 4 + 1);
        let mut at = self.now + base + jitter;
        if let Some((start, end, side)) = &self.partition {
            let cut = side.contains(&from) != side.contains(&to);
            if cut && at >= *start && self.now < *end {
                at = at.max(*end + base);
            }
        }
        let copies = if self.rng.chance(self.cfg.duplication) {
            2
        } else {
            1
        };
        for c in 0..copies {
            self.push(
                at + c * base,
                Ev::Deliver {
                    to,
                    from,
                    msg: msg.clone(),
                    digest,
                    gossip,
                },
            );
        }
    }

    fn deliver(&mut self, to: usize, from: usize, msg: Arc<Message>, digest: Digest, gossip: bool) {
        if self.nodes[to].down {
            return; // lost: the node is crashed
        }
        if gossip || matches!(*msg, Message::Bundle(_)) {
            if !self.nodes[to].seen.insert(digest) {
                return; // gossip duplicate
            }
            let ttl = self.now + 2 * (self.timing.horizon_ms + self.timing.grace_ms);
            self.nodes[to].seen_queue.push_back((ttl, digest));
        }
        let faulty = self.nodes[to].faulty;
        if faulty
            && matches!(self.cfg.byzantine, Byzantine::Replay)
            && self.nodes[to].history.len() < 10_000
        {
            self.nodes[to].history.push((self.now, msg.clone()));
        }
        let from_id = self.ids[from];
        self.step(
            to,
            Input::Message {
                from: from_id,
                msg: (*msg).clone(),
            },
        );
        if faulty && self.cfg.byzantine == Byzantine::Equivocate {
            self.equivocate(to, &msg);
        }
    }

    fn gc_seen(&mut self, i: usize) {
        let now = self.now;
        let n = &mut self.nodes[i];
        while n.seen_queue.front().is_some_and(|(t, _)| *t <= now) {
            if let Some((_, d)) = n.seen_queue.pop_front() {
                n.seen.remove(&d);
                n.forwarded.remove(&d);
            }
        }
    }

    // ---- honest workload -------------------------------------------------------------

    fn submit(&mut self, i: usize) {
        let local = self.local_time(i);
        let deadline = local + self.timing.timeout_ms;
        // Pipelined chains (LPUSH) only in workloads with non-commutative ops.
        let chain = if self.cfg.conflict_rate > 0.0 && self.rng.chance(0.1) {
            2 + self.rng.below(2) as usize
        } else {
            1
        };
        let mut spores = Vec::new();
        {
            let conflict = self.rng.chance(self.cfg.conflict_rate);
            // Now and then a FLUSHDB: it conflicts with every key of its database, through
            // database locks rather than key locks (and its version effects touch every key).
            let flush = conflict && chain == 1 && self.rng.chance(0.02);
            let kind = self.rng.below(3);
            let hot = self.rng.below(3);
            let n = &mut self.nodes[i];
            // Applied but not yet in the store (`lag_commits`): the engine's overlay has them.
            let layered = n.engine.overlay().over(&n.store);
            let mut proj = Projection::new(&layered);
            for (id, s) in &n.inflight {
                proj.push(s, id);
            }
            for c in 0..chain {
                n.nonce += 1;
                if flush {
                    let s = Spore {
                        origin: n.key.id(),
                        nonce: n.nonce,
                        deadline_ms: deadline,
                        key_prereqs: vec![],
                        db_prereqs: vec![DbPrereq {
                            db: 0,
                            version: proj.db_state(0).version(),
                        }],
                        ops: vec![Op::FlushDb { db: 0 }],
                    };
                    proj.push(&s, &s.id());
                    spores.push(s);
                    continue;
                }
                let tag = format!("{}-{}", i, n.nonce);
                let (key, op, commutative) = if conflict || chain > 1 {
                    match if chain > 1 { 1 } else { kind } {
                        0 => {
                            let k = Key::new(0, format!("c{hot}"));
                            (
                                k.clone(),
                                Op::Set {
                                    key: k,
                                    value: Bytes::from(format!("{}", n.nonce)),
                                    cond: SetCond::Always,
                                    ttl: Ttl::Clear,
                                    get: false,
                                },
                                false,
                            )
                        }
                        1 => {
                            let k = Key::new(0, format!("l{}", hot % 2));
                            (
                                k.clone(),
                                Op::Push {
                                    key: k,
                                    end: End::Left,
                                    elems: vec![Bytes::from(tag)],
                                    only_if_exists: false,
                                },
                                false,
                            )
                        }
                        _ => {
                            let k = Key::new(0, format!("s{hot}"));
                            (
                                k.clone(),
                                Op::SRem {
                                    key: k,
                                    members: vec![Bytes::from(format!("m{}", hot))],
                                },
                                false,
                            )
                        }
                    }
                } else if kind.is_multiple_of(2) {
                    let k = Key::new(0, format!("c{hot}"));
                    (
                        k.clone(),
                        Op::IncrBy {
                            key: k,
                            delta: BigInt::from(1 + (n.nonce % 7) as i64),
                        },
                        true,
                    )
                } else {
                    let k = Key::new(0, format!("s{hot}"));
                    (
                        k.clone(),
                        Op::SAdd {
                            key: k,
                            members: vec![Bytes::from(tag)],
                        },
                        true,
                    )
                };
                let mut s = Spore {
                    origin: n.key.id(),
                    nonce: n.nonce,
                    deadline_ms: deadline + c as u64,
                    key_prereqs: vec![],
                    db_prereqs: vec![],
                    ops: vec![op],
                };
                let prereq = match merged_accesses(&s).pop() {
                    Some((_, access)) if commutative => KeyPrereq::commutative(key, &access, &proj),
                    _ => KeyPrereq::full(key.clone(), proj.key_version(&key)),
                };
                s.key_prereqs.push(prereq);
                proj.push(&s, &s.id());
                spores.push(s);
            }
        }
        for s in &spores {
            let id = s.id();
            let arc = Arc::new(s.clone());
            self.submitted.insert(
                id,
                Submitted {
                    origin: i,
                    at: self.now,
                    spore: arc.clone(),
                },
            );
            self.contents.insert(id, arc.clone());
            self.nodes[i].inflight.push((id, arc));
        }
        self.step(i, Input::Submit(spores));
    }

    // ---- faulty behaviours -------------------------------------------------------------

    fn byzantine_action(&mut self, i: usize) {
        let period = match self.cfg.byzantine {
            Byzantine::Flood => 50,
            Byzantine::Forge => 50,
            Byzantine::Replay => 100,
            _ => return,
        };
        // Faulty nodes act during the workload, then the network goes quiet (S2 is checked
        // on a quiet network).
        if self.now + period <= self.start + 100 + self.cfg.workload_ms {
            self.push(self.now + period, Ev::Byz(i));
        }
        let local = self.local_time(i);
        let key = self.nodes[i].key.clone();
        match self.cfg.byzantine {
            Byzantine::Flood => {
                // Far-future deadlines on hot keys, valid-looking spores on fresh keys, and
                // endorsements of ids nobody knows.
                let n = &mut self.nodes[i];
                n.nonce += 1;
                let hot = Key::new(0, "c0");
                let v = n.store.key_version(&hot);
                let far = Spore {
                    origin: key.id(),
                    nonce: n.nonce,
                    deadline_ms: local + 1_000 * self.timing.horizon_ms,
                    key_prereqs: vec![KeyPrereq::full(hot.clone(), v)],
                    db_prereqs: vec![],
                    ops: vec![Op::Set {
                        key: hot,
                        value: Bytes::from_static(b"x"),
                        cond: SetCond::Always,
                        ttl: Ttl::Clear,
                        get: false,
                    }],
                };
                let fresh_key = Key::new(1, format!("junk{}", n.nonce));
                let fv = n.store.key_version(&fresh_key);
                let junk = Spore {
                    origin: key.id(),
                    nonce: n.nonce,
                    deadline_ms: local + self.timing.timeout_ms,
                    key_prereqs: vec![KeyPrereq::full(fresh_key.clone(), fv)],
                    db_prereqs: vec![],
                    ops: vec![Op::Del { key: fresh_key }],
                };
                let batch = Arc::new(SporeBatch::sign(&key, vec![Arc::new(far), Arc::new(junk)]));
                let unknown = EndorseBatch::sign(
                    &key,
                    vec![SporeId(sha3(&[&n.nonce.to_be_bytes(), b"unknown"]))],
                );
                let msg = Arc::new(Message::Bundle(Bundle {
                    spores: vec![batch],
                    endorsements: vec![Arc::new(unknown)],
                    rejections: vec![],
                }));
                self.gossip(i, msg);
            }
            Byzantine::Forge => {
                // A real spore re-signed wrongly, an endorsement in another node's name, and a
                // batch claiming another origin.
                let victim = self.ids[self.rng.below(self.cfg.nodes as u64) as usize];
                let some: Vec<SporeId> = self.submitted.keys().rev().take(3).copied().collect();
                let mut ids = some.clone();
                ids.sort();
                ids.dedup();
                if ids.is_empty() {
                    return;
                }
                let mut sig = [0u8; 64];
                for b in sig.iter_mut() {
                    *b = self.rng.next_u64() as u8;
                }
                let forged = EndorseBatch {
                    endorser: victim,
                    ids: ids.clone(),
                    signature: sig,
                };
                let mut bundle = Bundle {
                    endorsements: vec![Arc::new(forged)],
                    ..Bundle::default()
                };
                if let Some(s) = some.first().and_then(|id| self.submitted.get(id)) {
                    let mut altered = (*s.spore).clone();
                    altered.nonce ^= 1;
                    let real = SporeBatch::sign(&key, vec![s.spore.clone()]);
                    // Signed over the original ids, carrying altered content: must not verify.
                    bundle.spores.push(Arc::new(SporeBatch::new(
                        s.spore.origin,
                        vec![Arc::new(altered)],
                        real.signature,
                    )));
                }
                self.gossip(i, Arc::new(Message::Bundle(bundle)));
            }
            Byzantine::Replay => {
                let cutoff = self
                    .now
                    .saturating_sub(2 * (self.timing.horizon_ms + self.timing.grace_ms) + 1);
                let h = &self.nodes[i].history;
                if h.is_empty() {
                    return;
                }
                // Half the time an old message (beyond every seen-cache), else a recent one.
                let old: Vec<usize> = h
                    .iter()
                    .enumerate()
                    .filter(|(_, (t, _))| *t < cutoff)
                    .map(|(k, _)| k)
                    .collect();
                let pick = if !old.is_empty() && self.rng.chance(0.5) {
                    old[self.rng.below(old.len() as u64) as usize]
                } else {
                    self.rng.below(h.len() as u64) as usize
                };
                let msg = h[pick].1.clone();
                let (digest, size) = Self::encode(&msg);
                for _ in 0..self.fanout {
                    let p = self.rng.below(self.cfg.nodes as u64) as usize;
                    self.send(i, p, msg.clone(), digest, size, true);
                }
            }
            _ => {}
        }
    }

    /// An equivocating endorser endorses every fresh spore it sees, whatever the rules say,
    /// sends the endorsement to the origin and floods it.
    fn equivocate(&mut self, i: usize, msg: &Message) {
        let Message::Bundle(b) = msg else { return };
        let local = self.local_time(i);
        let mut ids = Vec::new();
        let already: BTreeSet<SporeId> = self
            .byz_endorsed
            .get(&i)
            .map(|v| v.iter().map(|s| s.id()).collect())
            .unwrap_or_default();
        let mut spores = Vec::new();
        for batch in &b.spores {
            for s in &batch.spores {
                let id = s.id();
                if !already.contains(&id) && s.deadline_ms > local && s.origin != self.ids[i] {
                    ids.push(id);
                    spores.push(s.clone());
                }
            }
        }
        if ids.is_empty() {
            return;
        }
        let key = self.nodes[i].key.clone();
        let eb = Arc::new(EndorseBatch::sign(&key, ids));
        self.byz_endorsed
            .entry(i)
            .or_default()
            .extend(spores.iter().cloned());
        let origins: BTreeSet<NodeId> = spores.iter().map(|s| s.origin).collect();
        let direct = Arc::new(Message::Endorse(eb.clone()));
        for o in origins {
            if let Some(&j) = self.index.get(&o) {
                self.unicast(i, j, direct.clone());
            }
        }
        let flood = Bundle {
            spores: b.spores.clone(),
            endorsements: vec![eb],
            rejections: vec![],
        };
        self.gossip(i, Arc::new(Message::Bundle(flood)));
    }
}

fn sorted(ids: &[NodeId]) -> Vec<NodeId> {
    let mut v = ids.to_vec();
    v.sort();
    v
}

fn carries_endorsement_by(msg: &Message, me: &NodeId) -> bool {
    match msg {
        Message::Bundle(b) => b.endorsements.iter().any(|e| e.endorser == *me),
        Message::Endorse(e) => e.endorser == *me,
        Message::Want(_) => false,
    }
}

impl Node {
    /// The content of a spore this node's engine remembers (for the checks).
    pub fn engine_spore(&self, id: &SporeId) -> Option<Arc<Spore>> {
        self.engine.spore(id)
    }
}
