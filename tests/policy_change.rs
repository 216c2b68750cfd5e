//! Policy-change spores in the consensus engine (docs/CLUSTER.md §3.4): four real engines with
//! the node's real policy gate (`cluster::change::gate`) over a deterministic in-test network
//! that delivers every message in FIFO order, except to nodes that are down.
//!
//! Checked: unanimity commits and every node switches at the change (after which data spores
//! are endorsed under the new rules); n − 1 endorsements (one endorser down, or one veto) do
//! not commit and data writes go on under the old policy; a stale base is refused by the
//! endorsers; two competing changes from one base never both commit.

use std::collections::{BTreeMap, BTreeSet, VecDeque};
use std::sync::Arc;

use bytes::Bytes;
use sporedb::cluster::change::{gate, successor, PolicyChange};
use sporedb::cluster::GlobalPolicy;
use sporedb::consensus::*;
use sporedb::crypto::{Digest, NodeId, NodeKey};
use sporedb::sim::store::SimStore;
use sporedb::sim::world::node_key;
use sporedb::spore::*;

const N: usize = 4;
const GRACE: u64 = 1_000;
const DEADLINE: u64 = 3_000;

/// Policy text over the four simulated nodes: n = 4, f = 1, ω = 3, plus `extra`.
fn policy_text(extra: &str) -> String {
    let mut t = format!("quorum = 3\nfaulty = 1\ngrace_ms = {GRACE}\n{extra}\n");
    for i in 0..N {
        t.push_str(&format!(
            "[[endorsers]]\nname = \"node{i}\"\nkey = \"{}\"\n",
            hex::encode(node_key(i).id())
        ));
    }
    t
}

struct Cluster {
    keys: Vec<NodeKey>,
    engines: Vec<Engine>,
    stores: Vec<SimStore>,
    down: BTreeSet<usize>,
    /// Messages to these nodes are kept in `held` instead of delivered.
    paused: BTreeSet<usize>,
    held: Vec<(usize, NodeId, Arc<Message>)>,
    now: u64,
    queue: VecDeque<(usize, NodeId, Arc<Message>)>,
    adopted: Vec<Vec<(SporeId, Digest)>>,
    applied: Vec<Vec<SporeId>>,
    dropped: Vec<BTreeMap<SporeId, DropReason>>,
    nonce: u64,
}

impl Cluster {
    fn new(policy: &GlobalPolicy) -> Cluster {
        Cluster::with_nodes(policy, N)
    }

    /// `nodes` engines: the N endorsers, then observers (keys outside the policy).
    fn with_nodes(policy: &GlobalPolicy, nodes: usize) -> Cluster {
        let keys: Vec<NodeKey> = (0..nodes).map(node_key).collect();
        let engines = keys
            .iter()
            .map(|k| {
                let mut cfg = EngineConfig::new(k.clone(), policy.consensus_policy());
                cfg.grace_ms = policy.grace_ms();
                cfg.max_horizon_ms = 5_000;
                cfg.max_skew_ms = 10;
                cfg.policy_gate = Some(gate(policy.clone(), 5_000));
                Engine::new(cfg)
            })
            .collect();
        Cluster {
            keys,
            engines,
            stores: (0..nodes).map(|_| SimStore::default()).collect(),
            down: BTreeSet::new(),
            paused: BTreeSet::new(),
            held: Vec::new(),
            now: 1_000,
            queue: VecDeque::new(),
            adopted: vec![Vec::new(); nodes],
            applied: vec![Vec::new(); nodes],
            dropped: vec![BTreeMap::new(); nodes],
            nonce: 0,
        }
    }

    fn index(&self, id: &NodeId) -> usize {
        self.keys
            .iter()
            .position(|k| k.id() == *id)
            .expect("known node")
    }

    /// Steps node `i` and queues what it sends; applies and confirms what it applies.
    fn step(&mut self, i: usize, input: Input) {
        let effects = self.engines[i].step(self.now, input, &self.stores[i]);
        let me = self.keys[i].id();
        let mut applied = Vec::new();
        for e in effects {
            match e {
                Effect::Broadcast(msg) => {
                    for j in 0..self.engines.len() {
                        if j != i {
                            self.queue.push_back((j, me, msg.clone()));
                        }
                    }
                }
                Effect::Send { to, msg } => {
                    let j = self.index(&to);
                    self.queue.push_back((j, me, msg));
                }
                Effect::Apply { id, spore } => {
                    assert!(self.stores[i].apply(&spore, &id), "apply failed");
                    self.applied[i].push(id);
                    applied.push(id);
                }
                Effect::Dropped { id, reason } => {
                    self.dropped[i].insert(id, reason);
                }
                Effect::PolicyAdopted { id, hash, .. } => self.adopted[i].push((id, hash)),
                Effect::PolicyNotAdopted { id, why } => panic!("node {i}: {id} not adopted: {why}"),
                Effect::Committed { .. } | Effect::Evidence(_) => {}
            }
        }
        if !applied.is_empty() {
            self.step(i, Input::Applied(applied));
        }
    }

    /// Delivers every queued message (and what answering them sends) to running nodes.
    fn settle(&mut self) {
        while let Some((to, from, msg)) = self.queue.pop_front() {
            if self.down.contains(&to) {
                continue;
            }
            if self.paused.contains(&to) {
                self.held.push((to, from, msg));
                continue;
            }
            self.step(
                to,
                Input::Message {
                    from,
                    msg: (*msg).clone(),
                },
            );
        }
    }

    /// Lets time pass in ticks of 100 ms, delivering messages as they come.
    fn advance(&mut self, ms: u64) {
        let end = self.now + ms;
        while self.now < end {
            self.now += 100;
            for i in 0..N {
                if !self.down.contains(&i) {
                    self.step(i, Input::Tick);
                }
            }
            self.settle();
        }
    }

    fn submit(&mut self, i: usize, spore: Spore) -> SporeId {
        let id = spore.id();
        self.step(i, Input::Submit(vec![spore]));
        id
    }

    fn change(&mut self, i: usize, from: Digest, text: &str) -> Spore {
        self.nonce += 1;
        Spore {
            origin: self.keys[i].id(),
            nonce: self.nonce,
            deadline_ms: self.now + DEADLINE,
            key_prereqs: vec![],
            db_prereqs: vec![],
            ops: vec![PolicyChange {
                from,
                text: text.to_string(),
            }
            .to_op()],
        }
    }

    /// A SET of `name` at node `i`, on the version node `i` holds now.
    fn set(&mut self, i: usize, name: &str) -> Spore {
        self.nonce += 1;
        let key = Key::new(0, Bytes::copy_from_slice(name.as_bytes()));
        let v = self.stores[i].key_version(&key);
        Spore {
            origin: self.keys[i].id(),
            nonce: self.nonce,
            deadline_ms: self.now + DEADLINE,
            key_prereqs: vec![KeyPrereq::full(key.clone(), v)],
            db_prereqs: vec![],
            ops: vec![Op::Set {
                key,
                value: Bytes::from_static(b"v"),
                cond: SetCond::Always,
                ttl: Ttl::Clear,
                get: false,
            }],
        }
    }

    fn applied_everywhere(&self, id: &SporeId) -> bool {
        (0..N)
            .filter(|i| !self.down.contains(i))
            .all(|i| self.applied[i].contains(id))
    }
}

fn base() -> GlobalPolicy {
    GlobalPolicy::parse(&policy_text("")).expect("policy")
}

/// The successor used by most tests: a longer deadline and a rule on `ro:*`.
fn successor_text() -> String {
    policy_text("spore_deadline_ms = 4000\n[[rules]]\npattern = \"ro:*\"\nallow = [\"SADD\"]")
}

#[test]
fn unanimity_commits_and_every_node_switches_at_the_change() {
    let p0 = base();
    let text = successor_text();
    let h1 = GlobalPolicy::parse(&text).expect("successor").hash();
    let mut c = Cluster::new(&p0);
    let before = c.set(1, "ro:before");
    let before = c.submit(1, before);
    c.settle();
    assert!(
        c.applied_everywhere(&before),
        "a data write under the old policy"
    );

    let change = c.change(0, p0.hash(), &text);
    let id = c.submit(0, change);
    c.settle();
    for i in 0..N {
        assert_eq!(
            c.adopted[i],
            vec![(id, h1)],
            "node {i} switched once, to h1"
        );
        assert!(c.applied[i].contains(&id));
        // The switch is at the change's place in the apply order: after the earlier write.
        let at = |x: &SporeId| c.applied[i].iter().position(|a| a == x);
        assert!(at(&before) < at(&id));
    }

    // After the switch: a data write the new rules allow commits everywhere; one they forbid is
    // refused at its origin (it runs the new policy too).
    let ok = c.set(2, "free");
    let ok = c.submit(2, ok);
    c.settle();
    assert!(c.applied_everywhere(&ok));
    let forbidden = c.set(2, "ro:x");
    let forbidden = c.submit(2, forbidden);
    assert_eq!(
        c.dropped[2].get(&forbidden),
        Some(&DropReason::PolicyRefused)
    );

    // A second change must name h1 as its base: one on h0 is refused at its origin.
    let stale = c.change(3, p0.hash(), &policy_text("max_op_bytes = 100000"));
    let stale = c.submit(3, stale);
    assert_eq!(c.dropped[3].get(&stale), Some(&DropReason::PolicyRefused));
    let next = c.change(3, h1, &policy_text("max_op_bytes = 100000"));
    let next = c.submit(3, next);
    c.settle();
    assert!(c.applied_everywhere(&next));
    assert!((0..N).all(|i| c.adopted[i].len() == 2));
}

/// A restarted endorser defers everything until its amnesia guard ends, then looks at every
/// deferred spore again — also a policy change, which touches no key (it used to be looked
/// for by key only, so it was never endorsed and, needing every endorser, never committed).
#[test]
fn a_change_heard_during_the_amnesia_guard_is_endorsed_when_it_ends() {
    let p0 = base();
    let mut c = Cluster::new(&p0);
    let mut cfg = EngineConfig::new(c.keys[3].clone(), p0.consensus_policy());
    cfg.grace_ms = p0.grace_ms();
    cfg.max_horizon_ms = 5_000;
    cfg.max_skew_ms = 10;
    cfg.policy_gate = Some(gate(p0.clone(), 5_000));
    cfg.endorse_after_ms = c.now + 1_000;
    c.engines[3] = Engine::new(cfg);

    let change = c.change(0, p0.hash(), &successor_text());
    let id = c.submit(0, change);
    c.settle();
    assert!(!c.applied_everywhere(&id), "node 4 is still quiet");
    c.advance(1_500);
    assert!(
        c.applied_everywhere(&id),
        "the change commits once node 4's guard ends (dropped: {:?})",
        c.dropped[0].get(&id)
    );
}

/// A change deferred because another change held the policy slot is looked at again when
/// that one goes (deferred spores used to be found by key only: a change touches none, so it
/// stayed deferred and, needing every endorser, was dropped at its deadline — the cause of a
/// rare failure of `policy_cluster::one_endorser_decides_by_hand`, where a vetoed change
/// still held the slot on one node when the next change reached it).
#[test]
fn a_change_deferred_behind_another_is_endorsed_once_that_one_is_gone() {
    let p0 = base();
    let mut c = Cluster::new(&p0);
    // Node 3 never hears A: A cannot get every endorsement, and expires.
    c.paused.insert(3);
    let a = c.change(0, p0.hash(), &policy_text("spore_deadline_ms = 4000"));
    let a = c.submit(0, a);
    c.settle();
    c.advance(1_500);
    c.held.clear();
    c.paused.clear();
    // B, proposed by node 3 while A holds the policy slot on nodes 0-2: deferred there.
    let mut b = c.change(3, p0.hash(), &policy_text("spore_deadline_ms = 4500"));
    b.deadline_ms = c.now + 4_500;
    let b = c.submit(3, b);
    c.settle();
    assert!(!c.applied_everywhere(&b), "nodes 0-2 wait for A");
    // A expires (deadline + grace): nodes 0-2 endorse B, which commits.
    c.advance(DEADLINE + GRACE);
    assert_eq!(c.dropped[0].get(&a), Some(&DropReason::Expired));
    assert!(
        c.applied_everywhere(&b),
        "B commits once A is gone (dropped: {:?})",
        c.dropped[3].get(&b)
    );
}

#[test]
fn an_endorser_down_means_no_commit_and_writes_go_on_under_the_old_policy() {
    let p0 = base();
    let mut c = Cluster::new(&p0);
    c.down.insert(3);
    let change = c.change(0, p0.hash(), &successor_text());
    let id = c.submit(0, change);
    c.settle();
    // Three endorsements (ω, but not n): a data spore would commit with them, this does not.
    assert!((0..3).all(|i| !c.applied[i].contains(&id)));
    let w = c.set(1, "ro:still-writable");
    let w = c.submit(1, w);
    c.settle();
    assert!(
        c.applied_everywhere(&w),
        "ω = 3 of the 3 running nodes commit writes"
    );
    c.advance(DEADLINE + GRACE + 500);
    assert_eq!(c.dropped[0].get(&id), Some(&DropReason::Expired));
    assert!((0..N).all(|i| c.adopted[i].is_empty()));
    // Old rules still in force: a SET on ro:* (forbidden only by the successor) commits.
    let w2 = c.set(2, "ro:after");
    let w2 = c.submit(2, w2);
    c.settle();
    assert!(c.applied_everywhere(&w2));
}

#[test]
fn one_veto_blocks_the_change() {
    let p0 = base();
    let mut c = Cluster::new(&p0);
    // Node 3's local policy vetoes policy changes (and nothing else).
    c.engines[3].set_local_policy(LocalPolicy(Arc::new(|s: &Spore| {
        if matches!(s.ops.as_slice(), [Op::PolicyChange { .. }]) {
            LocalDecision::Veto
        } else {
            LocalDecision::Endorse
        }
    })));
    let change = c.change(0, p0.hash(), &successor_text());
    let id = c.submit(0, change);
    c.settle();
    assert!((0..N).all(|i| !c.applied[i].contains(&id)));
    c.advance(DEADLINE + GRACE + 500);
    assert!(matches!(c.dropped[0].get(&id), Some(DropReason::Expired)));
    assert!((0..N).all(|i| c.adopted[i].is_empty()));
}

#[test]
fn a_stale_base_is_refused_by_the_endorsers() {
    let p0 = base();
    let mut c = Cluster::new(&p0);
    // Node 0 is a faulty origin whose gate accepts any base: the others must refuse.
    let lax = {
        let p0 = p0.clone();
        let base = p0.hash();
        let judge = Arc::new(move |_from: &Digest, text: &[u8]| {
            let change = PolicyChange {
                from: p0.hash(),
                text: String::from_utf8_lossy(text).into_owned(),
            };
            let next = change.check(&p0).map_err(|e| e.to_string())?;
            Ok(sporedb::cluster::change::successor(next, 5_000))
        });
        PolicyGate { base, judge }
    };
    let mut cfg = c.engines[0].config().clone();
    cfg.policy_gate = Some(lax);
    c.engines[0] = Engine::new(cfg);
    let stale = c.change(0, [9; 32], &successor_text());
    let id = c.submit(0, stale);
    c.settle();
    // Three signed refusals ≥ f + 1: the origin knows at once it can never commit.
    assert_eq!(c.dropped[0].get(&id), Some(&DropReason::Rejected));
    assert!((0..N).all(|i| c.adopted[i].is_empty() && !c.applied[i].contains(&id)));
}

#[test]
fn two_competing_changes_never_both_commit() {
    for order in 0..4 {
        let p0 = base();
        let mut c = Cluster::new(&p0);
        let a = c.change(0, p0.hash(), &policy_text("spore_deadline_ms = 4000"));
        let b = c.change(1, p0.hash(), &policy_text("spore_deadline_ms = 4500"));
        // Both submitted before anything is delivered (order 0-1), or one delivered first
        // (order 2-3): the second is then on a stale base or conflicts with the first.
        let (first, second) = if order % 2 == 0 { (0, 1) } else { (1, 0) };
        let spores = [a, b];
        let id_first = c.submit(first, spores[first].clone());
        if order >= 2 {
            c.settle();
        }
        let id_second = c.submit(second, spores[second].clone());
        c.settle();
        c.advance(DEADLINE + GRACE + 500);
        let committed: Vec<bool> = [id_first, id_second]
            .iter()
            .map(|id| (0..N).any(|i| c.applied[i].contains(id)))
            .collect();
        assert!(
            !(committed[0] && committed[1]),
            "order {order}: both committed"
        );
        // Every node holds the same policy afterwards.
        let last: Vec<Option<Digest>> = (0..N)
            .map(|i| c.adopted[i].last().map(|(_, h)| *h))
            .collect();
        assert!(
            last.windows(2).all(|w| w[0] == w[1]),
            "order {order}: {last:?}"
        );
        assert!((0..N).all(|i| c.adopted[i].len() <= 1));
        if order >= 2 {
            // Delivered first, the first change commits; the second is refused (stale base
            // at its origin, which switched) and never commits.
            assert!(committed[0], "order {order}");
        }
    }
}

/// N endorsers and one observer (index N, paused: it hears nothing until unpaused); node 0
/// has proposed the first of two successive changes and the cluster has settled. Returns the
/// cluster, the observer, the first change's spore id and the texts of both changes (the
/// second raises `max_op_bytes`, based on the first).
fn first_change_missed_by_an_observer() -> (Cluster, usize, SporeId, String, String) {
    let p0 = base();
    let t1 = successor_text();
    let t2 = policy_text("max_op_bytes = 100000");
    let mut c = Cluster::with_nodes(&p0, N + 1);
    let observer = N;
    c.paused.insert(observer);
    let first = c.change(0, p0.hash(), &t1);
    let first = c.submit(0, first);
    c.settle();
    (c, observer, first, t1, t2)
}

/// A node that does not endorse (an observer) may hear of a change before the change it is
/// based on (gossip does not keep order): it applies them in base order, never out of it.
#[test]
fn an_observer_applies_changes_in_base_order_whatever_order_it_hears_them() {
    let (mut c, observer, first, t1, t2) = first_change_missed_by_an_observer();
    let h1 = GlobalPolicy::parse(&t1).expect("p1").hash();
    let h2 = GlobalPolicy::parse(&t2).expect("p2").hash();
    let second = c.change(1, h1, &t2);
    let second = c.submit(1, second);
    c.settle();
    assert!((0..N).all(|i| c.adopted[i] == vec![(first, h1), (second, h2)]));
    assert!(c.adopted[observer].is_empty());
    // Everything the observer missed, newest first.
    c.paused.clear();
    let mut held = std::mem::take(&mut c.held);
    held.reverse();
    c.queue.extend(held);
    c.settle();
    assert_eq!(c.adopted[observer], vec![(first, h1), (second, h2)]);
    let at = |x: &SporeId| c.applied[observer].iter().position(|a| a == x);
    assert!(at(&first) < at(&second));
}

/// A node that missed a change (here an observer that heard nothing of it) and catches up by
/// state transfer: the copy records the policy (the executor writes every applied change's
/// text), the engine adopts it (`adopt_installed_policy`, then `Resynced`), and the next
/// change, based on that policy, applies there too; without the adoption it would wait forever
/// for a base it never sees.
#[test]
fn an_engine_adopts_the_policy_a_state_transfer_installed() {
    let p0 = base();
    let (mut c, observer, first, t1, t2) = first_change_missed_by_an_observer();
    let p1 = GlobalPolicy::parse(&t1).expect("p1");
    let h2 = GlobalPolicy::parse(&t2).expect("p2").hash();
    assert!(c.applied_everywhere(&first));
    for i in 0..N {
        assert_eq!(
            c.stores[i].recorded_policy().as_deref(),
            Some(t1.as_bytes()),
            "node {i} records the text it adopted"
        );
    }
    // The observer never hears of it; it installs node 0's state instead.
    c.held.clear();
    c.paused.clear();
    assert_eq!(c.stores[observer].recorded_policy(), None);
    c.stores[observer] = c.stores[0].clone();
    assert_eq!(
        c.stores[observer].recorded_policy().as_deref(),
        Some(t1.as_bytes())
    );
    // A successor that would change who counts is refused.
    let other = GlobalPolicy::parse(&policy_text("").replace("quorum = 3", "quorum = 4"))
        .expect("unanimity policy");
    assert!(c.engines[observer]
        .adopt_installed_policy(successor(other, 5_000))
        .is_err());
    assert_eq!(c.engines[observer].policy_hash(), Some(p0.hash()));
    c.engines[observer]
        .adopt_installed_policy(successor(p1.clone(), 5_000))
        .expect("same committee");
    assert_eq!(c.engines[observer].policy_hash(), Some(p1.hash()));
    c.step(observer, Input::Resynced { present: vec![] });

    let second = c.change(1, p1.hash(), &t2);
    let second = c.submit(1, second);
    c.settle();
    assert!(c.applied[observer].contains(&second));
    assert_eq!(c.adopted[observer], vec![(second, h2)]);
    assert_eq!(
        c.stores[observer].recorded_policy().as_deref(),
        Some(t2.as_bytes())
    );
}
