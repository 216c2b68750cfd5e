//! Running several nodes as one cluster: the shared global policy, this node's local policy,
//! and `sporedb demo`, which sets up (and runs) a local cluster in one command.
//!
//! - `policy`: `GlobalPolicy`, loaded from TOML and validated (every problem at once).
//! - `canonical`: its canonical encoding and hash, compared between peers.
//! - `ops`: op names for policy rules (canonical names and Redis command aliases).
//! - `check`: `GlobalPolicy::check_spore`, the pure size and per-pattern check.
//! - `change`: the policy-change spore: its check (base, validation, same committee) and the
//!   engine's gate.
//! - `local`: `LocalPolicy` (deny / manual approval) and `LocalDecision`.
//! - `peer_id`: a node key's libp2p peer id, for bootstrap addresses.
//! - `demo`: `sporedb demo`.
//!
//! See docs/CLUSTER.md for the file formats and the operator's view.

pub mod canonical;
pub mod change;
pub mod check;
#[cfg(test)]
mod config_tests;
pub mod demo;
pub mod local;
pub mod ops;
pub mod peer_id;
pub mod policy;
#[cfg(test)]
mod policy_tests;

pub use canonical::PolicyMismatch;
pub use change::{PolicyChange, PolicyChangeError};
pub use check::PolicyViolation;
pub use local::{LocalDecision, LocalPolicy};
pub use policy::{Endorser, GlobalPolicy, PolicyLoadError, Rule};

/// A spore carrying just `ops` (tests of the pure policy checks, which look at nothing else).
#[cfg(test)]
pub(crate) fn spore_of(ops: Vec<crate::spore::Op>) -> crate::spore::Spore {
    crate::spore::Spore {
        origin: [0; 32],
        nonce: 0,
        deadline_ms: 0,
        key_prereqs: vec![],
        db_prereqs: vec![],
        ops,
    }
}
