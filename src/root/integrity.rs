//! The scrub: recompute the root from the data and compare it with the stored one.
//!
//! The stored root is maintained incrementally, so it only changes through sporedb's own
//! write transactions. If the data tables were changed behind sporedb's back (another program
//! editing the LMDB files while the node was stopped, a disk fault that still decodes), the
//! recomputed root differs and the node knows its state is not what it attested. It cannot
//! repair itself alone: the correct data must come from peers (state transfer), so a mismatch
//! is reported as `Tampered` with the status "repair needs peers" for the cluster layer.

use crate::store::kv::KvRead;
use crate::store::StoreError;

use super::dbroots::DbRoots;
use super::nodes::TreeState;
use super::update::recompute;

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

/// Recomputes the root of `kv`'s data and compares it with the root stored in the same
/// snapshot. Logs an error on a mismatch.
pub fn scrub<T: KvRead + ?Sized>(kv: &T) -> Result<Integrity, StoreError> {
    let Some(state) = TreeState::load(kv)? else {
        return Ok(Integrity::Disabled);
    };
    let (recomputed, by_db) = recompute(kv)?;
    if recomputed == state.root {
        Ok(Integrity::Verified { root: recomputed })
    } else {
        // Which databases: the stored tree's root children against the recomputed ones. They
        // differ somewhere (they fold to different roots); if the stored root node itself is
        // unreadable, every database is suspect.
        let dbs = match DbRoots::of_tree(kv) {
            Ok(stored) => stored.differing(&by_db),
            Err(_) => u16::MAX,
        };
        let dbs = if dbs == 0 { u16::MAX } else { dbs };
        tracing::error!(
            stored = %hex::encode(state.root),
            recomputed = %hex::encode(recomputed),
            databases = %super::dbroots::list(dbs),
            "state tampered: the data no longer matches the stored state root; repair needs peers"
        );
        Ok(Integrity::Tampered {
            stored: state.root,
            recomputed,
            dbs,
        })
    }
}
