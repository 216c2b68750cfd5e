//! The attestation book: what this node and its peers attested, and what follows from it.
//! Pure bookkeeping (no I/O, no clock): the node feeds it its own roots as they move and the
//! peers' signed roots as they arrive (gossip, state-transfer answers), and asks it two things.
//!
//! - **Conflicts** (alarms with evidence): a peer signed, for an applied set this node also
//!   reached, a root other than the one this node signed for it. Replicas that applied the
//!   same spores must hold the same data (execution is deterministic), so one of the two is
//!   faulty, tampered with or diverged. The two signed statements are the evidence.
//! - **Standing**: `Diverged` once f + 1 distinct endorsers signed one same root, other than
//!   ours, for an applied set whose root we also know. At most f endorsers are faulty, so at
//!   least one honest node holds that root: ours is wrong. The node then refuses reads and
//!   repairs itself by state transfer; the book is `reset` once the repaired state is
//!   installed. A lone dissenting peer (up to f) only raises conflicts: it cannot make an
//!   honest node stop serving.
//!
//! - **Which databases**: attestations may carry the root's breakdown by database
//!   (`DbRoots`, checked to fold to the signed root before it gets here). With both sides'
//!   breakdowns known, a divergence is pinned to the databases whose subtrees differ
//!   (`diverged_dbs`), and the node refuses reads in those only; without them, in all.
//!
//! Roots are compared at equal applied sets only, since nodes apply the same spores at
//! different moments. Both sides keep a short history, so a peer's attestation can match a
//! state this node passed through shortly before, or reaches shortly after.

use std::collections::{BTreeMap, BTreeSet, VecDeque};

use crate::crypto::NodeId;

use super::dbroots::DbRoots;
use super::SignedRoot;

/// Own roots remembered.
const OWN_HISTORY: usize = 256;
/// Attestations remembered per peer.
const PEER_HISTORY: usize = 64;
/// Conflicts kept as evidence (the oldest are dropped beyond this).
const MAX_CONFLICTS: usize = 64;
/// Root breakdowns remembered (own and peers', by root; the oldest are dropped beyond this).
const MAX_BREAKDOWNS: usize = 1024;

/// An applied set: the applied-set digest and count.
pub type AppliedAt = ([u8; 32], u64);

/// Two signed roots for the same applied set that differ.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RootConflict {
    pub ours: SignedRoot,
    pub theirs: SignedRoot,
}

/// Whether this node's state is confirmed by its peers.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Standing {
    /// No f + 1 peers have contradicted this node (yet).
    Serving,
    /// f + 1 endorsers signed `theirs` for an applied set where this node holds `ours`.
    Diverged {
        at: AppliedAt,
        ours: [u8; 32],
        theirs: [u8; 32],
        peers: Vec<NodeId>,
    },
}

/// A snapshot of the book for `SPORE.ATTESTATIONS` and INFO.
#[derive(Debug, Clone)]
pub struct Report {
    /// This node's latest signed root.
    pub current: Option<SignedRoot>,
    pub standing: Standing,
    /// Each peer's latest signed root, and whether it agrees with this node's root at the same
    /// applied set (`None`: this node never held that applied set).
    pub peers: Vec<(SignedRoot, Option<bool>)>,
    pub conflicts: Vec<RootConflict>,
    pub conflicts_total: u64,
    /// The databases reads are refused in because of a divergence (`Book::diverged_dbs`).
    pub diverged_dbs: u16,
}

/// The book. `f` is the policy's fault bound; `me` is left out of every count.
#[derive(Debug)]
pub struct Book {
    me: NodeId,
    f: usize,
    /// Own signed roots, oldest first, and the same indexed by applied set.
    own: VecDeque<SignedRoot>,
    own_at: BTreeMap<AppliedAt, SignedRoot>,
    peers: BTreeMap<NodeId, VecDeque<SignedRoot>>,
    conflicts: VecDeque<RootConflict>,
    /// (peer, applied set) pairs already reported, so a repeated attestation is one alarm.
    reported: BTreeSet<(NodeId, AppliedAt)>,
    conflicts_total: u64,
    standing: Standing,
    /// Known breakdowns by database of roots (a root determines its breakdown), oldest first.
    breakdowns: BTreeMap<[u8; 32], DbRoots>,
    breakdown_order: VecDeque<[u8; 32]>,
}

fn at(s: &SignedRoot) -> AppliedAt {
    (s.root.applied_digest, s.root.applied_count)
}

impl Book {
    pub fn new(me: NodeId, f: usize) -> Book {
        Book {
            me,
            f,
            own: VecDeque::new(),
            own_at: BTreeMap::new(),
            peers: BTreeMap::new(),
            conflicts: VecDeque::new(),
            reported: BTreeSet::new(),
            conflicts_total: 0,
            standing: Standing::Serving,
            breakdowns: BTreeMap::new(),
            breakdown_order: VecDeque::new(),
        }
    }

    /// Remembers `root`'s breakdown by database (already checked to fold to it).
    pub fn breakdown(&mut self, root: [u8; 32], dbs: DbRoots) {
        if self.breakdowns.insert(root, dbs).is_none() {
            self.breakdown_order.push_back(root);
            if self.breakdown_order.len() > MAX_BREAKDOWNS {
                if let Some(old) = self.breakdown_order.pop_front() {
                    self.breakdowns.remove(&old);
                }
            }
        }
    }

    /// The databases this node must not serve reads from: none while serving; when diverged,
    /// those whose subtrees differ between our root and the one f + 1 endorsers signed, or all
    /// of them if either breakdown is unknown.
    pub fn diverged_dbs(&self) -> u16 {
        match &self.standing {
            Standing::Serving => 0,
            Standing::Diverged { ours, theirs, .. } => {
                match (self.breakdowns.get(ours), self.breakdowns.get(theirs)) {
                    (Some(a), Some(b)) => match a.differing(b) {
                        0 => u16::MAX,
                        d => d,
                    },
                    _ => u16::MAX,
                }
            }
        }
    }

    /// Records this node's current signed root; returns the new conflicts it reveals.
    pub fn own(&mut self, s: SignedRoot) -> Vec<RootConflict> {
        if self.own.back().is_some_and(|last| last.root == s.root) {
            return Vec::new();
        }
        if let Some(old) = self.own_at.insert(at(&s), s) {
            // The same applied set with another root: this node's own state changed without a
            // spore (only a repair does that, and it resets the book). Keep the newest.
            self.own.retain(|o| o.root != old.root);
        }
        self.own.push_back(s);
        if self.own.len() > OWN_HISTORY {
            if let Some(gone) = self.own.pop_front() {
                if self.own_at.get(&at(&gone)) == Some(&gone) {
                    self.own_at.remove(&at(&gone));
                    // Alarms about states no longer remembered cannot repeat: forget them, so
                    // a peer contradicting every state cannot grow this set without bound.
                    self.reported.retain(|(_, a)| *a != at(&gone));
                }
            }
        }
        let found = self.scan_peers_at(at(&s));
        self.evaluate();
        found
    }

    /// Records a peer's signed root (its signature already checked by the caller); returns
    /// the new conflicts it reveals. This node's own attestations are ignored.
    pub fn peer(&mut self, s: SignedRoot) -> Vec<RootConflict> {
        let node = s.attestation.node;
        if node == self.me {
            return Vec::new();
        }
        let queue = self.peers.entry(node).or_default();
        if queue.iter().any(|q| q.root == s.root) {
            return Vec::new();
        }
        queue.push_back(s);
        if queue.len() > PEER_HISTORY {
            queue.pop_front();
        }
        let found = self.check_pair(&s).into_iter().collect();
        self.evaluate();
        found
    }

    /// After a repair (state transfer installed a vouched copy): forget own history and the
    /// verdict; `now` is the installed state's signed root.
    pub fn reset(&mut self, now: SignedRoot) {
        self.own.clear();
        self.own_at.clear();
        self.standing = Standing::Serving;
        self.own(now);
    }

    pub fn standing(&self) -> &Standing {
        &self.standing
    }

    /// The conflicts kept as evidence, oldest first, and how many were ever found.
    pub fn conflicts(&self) -> (Vec<RootConflict>, u64) {
        (
            self.conflicts.iter().cloned().collect(),
            self.conflicts_total,
        )
    }

    /// Each peer's latest attestation and whether it agrees with this node at that applied
    /// set (`None`: this node did not hold that applied set, so there is nothing to compare).
    pub fn latest(&self) -> Vec<(SignedRoot, Option<bool>)> {
        self.peers
            .values()
            .filter_map(|q| q.back())
            .map(|s| {
                let verdict = self.own_at.get(&at(s)).map(|o| o.root.root == s.root.root);
                (*s, verdict)
            })
            .collect()
    }

    /// The latest own signed root.
    pub fn current(&self) -> Option<SignedRoot> {
        self.own.back().copied()
    }

    fn scan_peers_at(&mut self, applied: AppliedAt) -> Vec<RootConflict> {
        let candidates: Vec<SignedRoot> = self
            .peers
            .values()
            .flat_map(|q| q.iter().filter(|s| at(s) == applied).copied())
            .collect();
        candidates
            .iter()
            .filter_map(|s| self.check_pair(s))
            .collect()
    }

    /// A conflict between a peer's attestation and ours at the same applied set, if new.
    fn check_pair(&mut self, theirs: &SignedRoot) -> Option<RootConflict> {
        let ours = *self.own_at.get(&at(theirs))?;
        if ours.root.root == theirs.root.root {
            return None;
        }
        if !self.reported.insert((theirs.attestation.node, at(theirs))) {
            return None;
        }
        let c = RootConflict {
            ours,
            theirs: *theirs,
        };
        self.conflicts.push_back(c.clone());
        if self.conflicts.len() > MAX_CONFLICTS {
            self.conflicts.pop_front();
        }
        self.conflicts_total += 1;
        Some(c)
    }

    /// Recomputes the standing. Once diverged, the node stays so until `reset`, or until
    /// f + 1 peers sign its *current* root (it is then confirmed right after all).
    fn evaluate(&mut self) {
        if let Standing::Diverged { .. } = self.standing {
            if let Some(cur) = self.own.back() {
                let agree = self
                    .peers
                    .values()
                    .filter(|q| q.iter().any(|s| s.root == cur.root))
                    .count();
                if agree > self.f {
                    self.standing = Standing::Serving;
                }
            }
            return;
        }
        // (applied set, their root) → distinct peers, where it differs from ours.
        let mut against: BTreeMap<(AppliedAt, [u8; 32]), Vec<NodeId>> = BTreeMap::new();
        for (node, q) in &self.peers {
            for s in q {
                if let Some(ours) = self.own_at.get(&at(s)) {
                    if ours.root.root != s.root.root {
                        let peers = against.entry((at(s), s.root.root)).or_default();
                        if !peers.contains(node) {
                            peers.push(*node);
                        }
                    }
                }
            }
        }
        if let Some(((applied, theirs), peers)) =
            against.into_iter().find(|(_, p)| p.len() > self.f)
        {
            let ours = self.own_at.get(&applied).map_or([0; 32], |o| o.root.root);
            self.standing = Standing::Diverged {
                at: applied,
                ours,
                theirs,
                peers,
            };
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::crypto::NodeKey;
    use crate::root::Root;

    fn signed(seed: u8, root: u8, applied: u8) -> SignedRoot {
        let key = NodeKey::from_seed([seed; 32]);
        let r = Root {
            root: [root; 32],
            applied_digest: [applied; 32],
            applied_count: applied as u64,
        };
        SignedRoot::sign(&key, r)
    }

    fn id(seed: u8) -> NodeId {
        NodeKey::from_seed([seed; 32]).id()
    }

    #[test]
    fn agreement_is_quiet() {
        let mut b = Book::new(id(1), 1);
        assert!(b.own(signed(1, 10, 1)).is_empty());
        for p in 2..=4 {
            assert!(b.peer(signed(p, 10, 1)).is_empty());
        }
        assert_eq!(b.standing(), &Standing::Serving);
        assert!(b.latest().iter().all(|(_, v)| *v == Some(true)));
    }

    #[test]
    fn one_dissenter_is_an_alarm_not_a_divergence() {
        let mut b = Book::new(id(1), 1);
        b.own(signed(1, 10, 1));
        let c = b.peer(signed(2, 99, 1));
        assert_eq!(c.len(), 1);
        assert_eq!(c[0].theirs.attestation.node, id(2));
        // Repeated: one alarm only.
        assert!(b.peer(signed(2, 99, 1)).is_empty());
        assert_eq!(b.conflicts().1, 1);
        assert_eq!(b.standing(), &Standing::Serving);
    }

    #[test]
    fn f_plus_one_agreeing_dissenters_mean_divergence_until_reset() {
        let mut b = Book::new(id(1), 1);
        b.own(signed(1, 10, 1));
        b.peer(signed(2, 99, 1));
        assert_eq!(b.standing(), &Standing::Serving);
        // Two dissenters that disagree with each other do not make f + 1 on one root.
        b.peer(signed(3, 98, 1));
        assert_eq!(b.standing(), &Standing::Serving);
        b.peer(signed(4, 99, 1));
        match b.standing() {
            Standing::Diverged {
                ours,
                theirs,
                peers,
                ..
            } => {
                assert_eq!(ours, &[10; 32]);
                assert_eq!(theirs, &[99; 32]);
                assert_eq!(peers.len(), 2);
            }
            s => panic!("expected divergence, got {s:?}"),
        }
        // Without breakdowns every database is refused; with both, only those that differ.
        assert_eq!(b.diverged_dbs(), u16::MAX);
        let mut ours = crate::root::DbRoots::default();
        ours.0[0] = Some(crate::root::DbRoot {
            hash: [1; 32],
            leaf: false,
        });
        let mut theirs = ours;
        theirs.0[3] = Some(crate::root::DbRoot {
            hash: [2; 32],
            leaf: true,
        });
        b.breakdown([10; 32], ours);
        assert_eq!(b.diverged_dbs(), u16::MAX);
        b.breakdown([99; 32], theirs);
        assert_eq!(b.diverged_dbs(), 1 << 3);
        // Moving on does not clear it; a repair does.
        b.own(signed(1, 11, 2));
        assert!(matches!(b.standing(), Standing::Diverged { .. }));
        b.reset(signed(1, 99, 1));
        assert_eq!(b.standing(), &Standing::Serving);
        assert_eq!(b.diverged_dbs(), 0);
    }

    #[test]
    fn attestations_match_states_reached_later_and_confirmation_clears() {
        let mut b = Book::new(id(1), 1);
        // Peers are ahead: nothing to compare yet.
        b.peer(signed(2, 50, 5));
        b.peer(signed(3, 50, 5));
        assert!(b.latest().iter().all(|(_, v)| v.is_none()));
        // This node reaches applied set 5 with another root: divergence found then.
        let c = b.own(signed(1, 51, 5));
        assert_eq!(c.len(), 2);
        assert!(matches!(b.standing(), Standing::Diverged { .. }));
        // f + 1 peers later sign this node's current root: confirmed after all.
        b.own(signed(1, 60, 6));
        b.peer(signed(2, 60, 6));
        assert!(matches!(b.standing(), Standing::Diverged { .. }));
        b.peer(signed(3, 60, 6));
        assert_eq!(b.standing(), &Standing::Serving);
    }

    #[test]
    fn own_attestations_from_gossip_are_ignored() {
        let mut b = Book::new(id(1), 0);
        b.own(signed(1, 10, 1));
        assert!(b.peer(signed(1, 11, 1)).is_empty());
        assert_eq!(b.standing(), &Standing::Serving);
    }
}
