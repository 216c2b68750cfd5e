//! Attestations in a running cluster node (issue 5 §3): the node signs its state root whenever
//! it moves and floods it on the gossip topic; peers' signed roots (from gossip and from
//! state-transfer answers) go into the attestation book (`root::book`). A conflict between a
//! peer's root and ours at the same applied set is logged as an alarm with both signed
//! statements kept as evidence (`SPORE.ATTESTATIONS`, INFO). When f + 1 endorsers agree on a
//! root other than ours, or the scrub found our data changed behind our back, the node refuses
//! reads (a clear error) and the sync loop repairs it by state transfer; a successful install
//! resets the book.
//!
//! Attestations carry the root's breakdown by database (`root::dbroots`), and the scrub finds
//! which databases' data changed, so reads are refused only in the databases that differ; the
//! others keep serving. (A divergence known only from state-transfer answers, which carry no
//! breakdown, refuses reads in every database.)

use std::sync::atomic::{AtomicU16, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use tokio_util::sync::CancellationToken;

use crate::crypto::NodeKey;
use crate::net::NetHandle;
use crate::root::book::{Book, Report, RootConflict, Standing};
use crate::root::dbroots::{covers, list as db_list};
use crate::root::{
    DbRoots, Integrity, NodeRoots, Proof, Root, RootService, SignedRoot, StateRootRead,
};
use crate::store::{Store, StoreError};

/// How often the node looks at its own root.
const LOOK_EVERY: Duration = Duration::from_millis(250);
/// Least time between two gossiped attestations while the root keeps moving.
const GOSSIP_MIN_GAP_MS: u64 = 1_000;
/// An unchanged root is gossiped again after this long (peers that joined meanwhile hear it;
/// gossipsub drops exact repeats within its duplicate window anyway).
const GOSSIP_REPEAT_MS: u64 = 30_000;

/// The node's attestation state, shared by the attest loop, the network bridge, the sync loop
/// and the command layer.
pub struct Attestations {
    key: NodeKey,
    book: Mutex<Book>,
    /// The databases `Standing::Diverged` refuses reads in (`Book::diverged_dbs`; 0 while
    /// serving), mirrored for the read path (no lock per read).
    diverged: AtomicU16,
    /// The last root signed: signing costs ~20 µs, and peers ask for the root every 2 s each.
    last_signed: Mutex<Option<SignedRoot>>,
}

impl Attestations {
    pub fn new(key: NodeKey, f: usize) -> Attestations {
        Attestations {
            book: Mutex::new(Book::new(key.id(), f)),
            key,
            diverged: AtomicU16::new(0),
            last_signed: Mutex::new(None),
        }
    }

    /// `root` signed by this node (the signature is reused while the root does not move).
    pub fn sign(&self, root: Root) -> SignedRoot {
        let mut last = self.last_signed.lock().unwrap_or_else(|p| p.into_inner());
        match *last {
            Some(s) if s.root == root => s,
            _ => {
                let s = SignedRoot::sign(&self.key, root);
                *last = Some(s);
                s
            }
        }
    }

    fn book(&self) -> MutexGuard<'_, Book> {
        self.book.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Signs `root` and records it, with its breakdown by database, as this node's current
    /// root.
    pub fn own(&self, root: Root, dbs: DbRoots) -> SignedRoot {
        let signed = self.sign(root);
        self.update(|book| {
            book.breakdown(root.root, dbs);
            book.own(signed)
        });
        signed
    }

    /// Records a peer's signed root (signature already checked) and its breakdown by database
    /// when it came with one (already checked to fold to the root).
    pub fn peer(&self, s: SignedRoot, dbs: Option<DbRoots>) {
        self.update(|book| {
            if let Some(dbs) = dbs {
                book.breakdown(s.root.root, dbs);
            }
            book.peer(s)
        });
    }

    /// After a successful state transfer to `root`.
    pub fn repaired(&self, root: Root) {
        let signed = self.sign(root);
        self.update(|book| {
            book.reset(signed);
            Vec::new()
        });
    }

    /// Changes the book, and mirrors its standing in the read path's flag under the same lock
    /// (two threads updating at once cannot leave the flag saying the opposite of the book);
    /// then logs what changed.
    fn update(&self, change: impl FnOnce(&mut Book) -> Vec<RootConflict>) {
        let (found, standing, was) = {
            let mut book = self.book();
            let found = change(&mut book);
            let standing = book.standing().clone();
            let was = self.diverged.swap(book.diverged_dbs(), Ordering::Relaxed) != 0;
            (found, standing, was)
        };
        for c in &found {
            tracing::error!(
                peer = %hex::encode(c.theirs.attestation.node),
                applied_count = c.ours.root.applied_count,
                ours = %hex::encode(c.ours.root.root),
                theirs = %hex::encode(c.theirs.root.root),
                "state root conflict: a peer signed another root for the same applied spores (evidence kept, see SPORE.ATTESTATIONS)"
            );
        }
        let diverged = matches!(standing, Standing::Diverged { .. });
        if diverged && !was {
            if let Standing::Diverged { peers, theirs, .. } = &standing {
                tracing::error!(
                    "{} endorsers agree on root {} where this node holds another: refusing reads in database(s) {} and repairing by state transfer",
                    peers.len(),
                    hex::encode(theirs),
                    db_list(self.diverged.load(Ordering::Relaxed))
                );
            }
        } else if was && !diverged {
            tracing::warn!(
                "this node's root is no longer contradicted (repaired, or confirmed by f + 1 peers): serving reads"
            );
        }
    }

    pub fn diverged(&self) -> bool {
        self.diverged.load(Ordering::Relaxed) != 0
    }

    pub fn standing(&self) -> Standing {
        self.book().standing().clone()
    }

    /// Why reads of database `db` must be refused now, if they must.
    pub fn reads_refused(&self, store: &Store, db: u8) -> Option<String> {
        let integrity = store.integrity();
        if integrity.is_tampered_in(db) {
            return Some(format!(
                "database {db} of this node does not match its state root (changed behind its back); it is repairing itself from its peers"
            ));
        }
        // The flag first: this runs on every read, and the book's lock is needed only to word
        // the refusal.
        let refused = self.diverged.load(Ordering::Relaxed);
        if !covers(refused, db) {
            return None;
        }
        if let Standing::Diverged { peers, .. } = self.standing() {
            return Some(format!(
                "{} endorsers signed another state root for the spores this node applied, differing in database(s) {}; it is repairing itself from its peers",
                peers.len(),
                db_list(refused)
            ));
        }
        None
    }

    /// Conflicts kept as evidence and how many were ever found; each peer's latest signed root
    /// and whether it agrees with this node.
    pub fn report(&self) -> Report {
        let book = self.book();
        let (conflicts, conflicts_total) = book.conflicts();
        Report {
            current: book.current(),
            standing: book.standing().clone(),
            peers: book.latest(),
            conflicts,
            conflicts_total,
            diverged_dbs: book.diverged_dbs(),
        }
    }
}

/// The node's roots as the command layer sees them in a cluster: `NodeRoots` plus the
/// attestation book (read refusal, `SPORE.ATTESTATIONS`).
pub struct ClusterRoots {
    pub inner: NodeRoots,
    pub attestations: Arc<Attestations>,
}

impl RootService for ClusterRoots {
    fn signed_root(&self) -> Result<SignedRoot, StoreError> {
        self.inner.signed_root()
    }
    fn prove(&self, db: u8, name: &[u8]) -> Result<(Root, Proof), StoreError> {
        self.inner.prove(db, name)
    }
    fn integrity(&self) -> Integrity {
        self.inner.integrity()
    }
    fn tree_nodes(&self) -> Option<usize> {
        self.inner.tree_nodes()
    }
    fn reads_refused(&self, db: u8) -> Option<String> {
        self.attestations.reads_refused(&self.inner.store, db)
    }
    fn attestations(&self) -> Option<Report> {
        Some(self.attestations.report())
    }
}

/// Watches the node's root and gossips it, signed, when it moves (at most once a second) and
/// every `GOSSIP_REPEAT_MS` otherwise.
///
/// Only endorsers gossip (peers relay only endorsers' attestations and score down the sender
/// of any other); an observer still collects its peers' roots and can still stop its reads.
pub async fn attest_loop(
    att: Arc<Attestations>,
    store: Arc<Store>,
    net: NetHandle,
    endorser: bool,
    shutdown: CancellationToken,
) {
    // The last root seen and its breakdown by database (read again only when the root moves).
    let mut last: Option<(Root, DbRoots)> = None;
    let mut sent: Option<(Root, u64)> = None;
    loop {
        tokio::select! {
            _ = tokio::time::sleep(LOOK_EVERY) => {}
            _ = shutdown.cancelled() => return,
        }
        // Root and breakdown from one snapshot.
        let read = store.read().and_then(|txn| {
            let root = txn.state_root()?;
            match last {
                Some((r, dbs)) if r == root => Ok((root, dbs, false)),
                _ => Ok((root, DbRoots::of_tree(&txn)?, true)),
            }
        });
        let (root, dbs) = match read {
            Ok((root, dbs, moved)) => {
                if moved {
                    last = Some((root, dbs));
                    att.own(root, dbs);
                }
                (root, dbs)
            }
            Err(e) => {
                tracing::debug!("attest: no root: {e}");
                continue;
            }
        };
        let now = super::clock::now_ms();
        let due = match sent {
            None => true,
            Some((r, at)) if r != root => now.saturating_sub(at) >= GOSSIP_MIN_GAP_MS,
            Some((_, at)) => now.saturating_sub(at) >= GOSSIP_REPEAT_MS,
        };
        // A node that knows its data is not what its root says does not vouch for the root.
        if endorser && due && !store.integrity().is_tampered() && !net.peers().is_empty() {
            // Recorded above when it moved; `sign` reuses that signature.
            net.broadcast(crate::root::gossip::encode(&att.sign(root), &dbs));
            sent = Some((root, now));
        }
    }
}
