//! The scrub: recompute the root from the data and compare it with the stored one.
//!
//! The stored root is maintained incrementally, so it only changes through sporedb's own
//! write transactions. If the data tables were changed behind sporedb's back (another program
//! editing the LMDB files while the node was stopped, a disk fault that still decodes), the
//! recomputed root differs and the node knows its state is not what it attested. It cannot
//! repair itself alone: the correct data must come from peers (state transfer), so a mismatch
//! is reported as `Tampered` with the status "repair needs peers" for the cluster layer.

use crate::store::kv::{KvRead, KvWrite, Table};
use crate::store::StoreError;

use super::dbroots::DbRoots;
use super::nodes::TreeState;
use super::update::{build_tree, recompute};

/// The `root` table key of the tamper alarm: `stored root[32] ‖ recomputed root[32] ‖ dbs u16
/// BE`, written when the open finds the data changed, removed only by a state transfer's
/// install (which rewrites the `root` table). Why it is recorded: the open rebuilds the tree
/// from the data it finds (`root::resident`), so once the node commits again its root follows
/// the edited data; without the record a second restart would find data and root agreeing.
const ALARM_KEY: &[u8] = b"tampered";

/// What the last scrub found.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Integrity {
    /// No scrub has run yet.
    Unchecked,
    /// Root maintenance is off for this store (benchmarks): nothing to check.
    Disabled,
    /// The data matches the stored root.
    Verified { root: [u8; 32] },
    /// The data does not match the stored root: tampered or corrupted; repair needs peers.
    /// `dbs`: the databases whose subtrees differ (bit `d` for database `d`).
    Tampered {
        stored: [u8; 32],
        recomputed: [u8; 32],
        dbs: u16,
    },
}

impl Integrity {
    pub fn is_tampered(&self) -> bool {
        matches!(self, Integrity::Tampered { .. })
    }

    /// Whether database `db`'s data is known not to match the stored root.
    pub fn is_tampered_in(&self, db: u8) -> bool {
        match self {
            Integrity::Tampered { dbs, .. } => super::dbroots::covers(*dbs, db),
            _ => false,
        }
    }

    /// One word for INFO.
    pub fn status(&self) -> &'static str {
        match self {
            Integrity::Unchecked => "unchecked",
            Integrity::Disabled => "disabled",
            Integrity::Verified { .. } => "ok",
            Integrity::Tampered { .. } => "tampered",
        }
    }

    /// What must happen next, for INFO and logs.
    pub fn repair(&self) -> &'static str {
        if self.is_tampered() {
            "repair needs peers"
        } else {
            "none"
        }
    }
}

/// At open, in the open's write transaction, for a store that has a tree: builds the tree's
/// nodes from the data (they are not stored, `root::resident`) and compares the root they give
/// with the stored one, so the build is also the scrub. A mismatch, or an alarm recorded by an
/// earlier open, is `Tampered`; a new mismatch is recorded (`ALARM_KEY`).
pub fn verify_at_open<T: KvWrite + ?Sized>(kv: &mut T) -> Result<Integrity, StoreError> {
    let stored = TreeState::load(&*kv)?.ok_or(StoreError::NoStateRoot)?;
    // Records that no longer decode were changed behind the node's back as well: an unreadable
    // breakdown leaves every database suspect on a mismatch, and an unreadable alarm is one.
    let recorded = DbRoots::load_recorded(&*kv).ok().flatten();
    let alarm = load_alarm(&*kv);
    let built = build_tree(kv)?;
    match alarm {
        Ok(Some(a)) => {
            log_tampered(&a, "recorded by an earlier open");
            return Ok(a);
        }
        Ok(None) => {}
        Err(_) => {
            let verdict = Integrity::Tampered {
                stored: stored.root,
                recomputed: built.root,
                dbs: u16::MAX,
            };
            record_alarm(kv, &verdict)?;
            log_tampered(&verdict, "its alarm record is unreadable");
            return Ok(verdict);
        }
    }
    let verdict = compare(&stored, recorded, built.root, &DbRoots::of_tree(&*kv)?);
    if !verdict.is_tampered() {
        return Ok(verdict);
    }
    record_alarm(kv, &verdict)?;
    log_tampered(&verdict, "found at open");
    Ok(verdict)
}

fn load_alarm<T: KvRead + ?Sized>(kv: &T) -> Result<Option<Integrity>, StoreError> {
    let Some(b) = kv.get(Table::Root, ALARM_KEY)? else {
        return Ok(None);
    };
    if b.len() != 66 {
        return Err(StoreError::Corrupt("bad tamper alarm record"));
    }
    let mut stored = [0u8; 32];
    let mut recomputed = [0u8; 32];
    stored.copy_from_slice(&b[..32]);
    recomputed.copy_from_slice(&b[32..64]);
    Ok(Some(Integrity::Tampered {
        stored,
        recomputed,
        dbs: u16::from_be_bytes([b[64], b[65]]),
    }))
}

fn record_alarm<T: KvWrite + ?Sized>(kv: &mut T, verdict: &Integrity) -> Result<(), StoreError> {
    if let Integrity::Tampered {
        stored,
        recomputed,
        dbs,
    } = verdict
    {
        let mut b = Vec::with_capacity(66);
        b.extend_from_slice(stored);
        b.extend_from_slice(recomputed);
        b.extend_from_slice(&dbs.to_be_bytes());
        kv.put(Table::Root, ALARM_KEY, &b)?;
    }
    Ok(())
}

fn log_tampered(verdict: &Integrity, when: &str) {
    if let Integrity::Tampered {
        stored,
        recomputed,
        dbs,
    } = verdict
    {
        tracing::error!(
            stored = %hex::encode(stored),
            recomputed = %hex::encode(recomputed),
            databases = %super::dbroots::list(*dbs),
            "state tampered ({when}): the data no longer matches the stored state root; repair needs peers"
        );
    }
}

/// The verdict on data whose root is `recomputed` (breakdown `by_db`) where `stored` was
/// recorded (breakdown `stored_dbs`, if known). Which databases: the two breakdowns differ
/// somewhere when the roots do (they fold to them); if the stored one is unknown, every
/// database is suspect.
fn compare(
    stored: &TreeState,
    stored_dbs: Option<DbRoots>,
    recomputed: [u8; 32],
    by_db: &DbRoots,
) -> Integrity {
    if recomputed == stored.root {
        return Integrity::Verified { root: recomputed };
    }
    let dbs = stored_dbs.map_or(u16::MAX, |s| s.differing(by_db));
    Integrity::Tampered {
        stored: stored.root,
        recomputed,
        dbs: if dbs == 0 { u16::MAX } else { dbs },
    }
}

/// Recomputes the root of `kv`'s data and compares it with the root stored in the same
/// snapshot. Logs an error on a mismatch.
pub fn scrub<T: KvRead + ?Sized>(kv: &T) -> Result<Integrity, StoreError> {
    let Some(state) = TreeState::load(kv)? else {
        return Ok(Integrity::Disabled);
    };
    // The stored breakdown: recorded with the root (LMDB), or read from the snapshot's root
    // node before the recomputation, during which a resident tree may drop that version's
    // nodes (`resident::KEEP_VERSIONS`).
    let stored = match DbRoots::load_recorded(kv) {
        Ok(Some(recorded)) => Ok(recorded),
        _ => DbRoots::of_tree(kv),
    };
    let (recomputed, by_db) = recompute(kv)?;
    let verdict = compare(&state, stored.ok(), recomputed, &by_db);
    log_tampered(&verdict, "found by a scrub");
    Ok(verdict)
}
