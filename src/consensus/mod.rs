//! The endorsement consensus engine: a pure, deterministic state machine (docs/PROTOCOL.md).
//!
//! No I/O, no clock, no randomness, no hash-map iteration: the driver calls
//! [`Engine::step`]`(now_ms, input, view)` and performs the returned [`Effect`]s. The same
//! engine runs in the node and in the seeded simulator (`crate::sim`), so what the simulator
//! checks is what the cluster runs.
//!
//! Public API:
//! - [`Engine::new`]`(EngineConfig) -> Engine`; [`Engine::step`]`(&mut self, u64, Input,
//!   &dyn VersionView) -> Vec<Effect>`; [`Engine::set_local_policy`] for a reluctant node;
//!   read-only accessors (`phase`, `pending`, `waiting`, `stats`).
//! - [`Input`]: `Submit(Vec<Spore>)`, `Message { from, msg }`, `Tick`, `Applied(Vec<SporeId>)`,
//!   `Approve(id)` / `Decline(id)` (a human decision on a spore the local policy held).
//! - [`Effect`]: `Broadcast`, `Send`, `Committed`, `Apply`, `Dropped`, `Evidence`.
//! - [`message`]: the signed statements, [`wire`]: their canonical bytes.
//!
//! Layout: `config` (policy, quorum bounds, clocks), `policy_change` (unanimity and the
//! switch for policy-change spores), `message` + `wire` (what is signed and
//! sent), `input`/`effect`, `record` (one spore's life), `locks` (Promise index), `endorse`
//! (the endorsement rules), `evidence`, `engine` (commit, apply gate, drop), and one handler
//! file per input: `on_submit`, `on_message`, `on_tick`.

#![cfg_attr(not(test), deny(clippy::unwrap_used, clippy::panic))]

pub mod config;
pub mod effect;
mod endorse;
pub mod engine;
pub mod evidence;
pub mod gossip_check;
pub mod input;
pub mod local;
pub mod locks;
pub mod message;
mod on_message;
mod on_submit;
mod on_tick;
pub mod policy_change;
pub mod record;
pub mod wire;

pub use config::{EngineConfig, Policy, PolicyError, Verifier};
pub use effect::{DropReason, Effect};
pub use engine::{Engine, Stats, Unconfirmed};
pub use evidence::Evidence;
pub use gossip_check::{cached_verifier, check_direct, check_gossip, GossipRules, GossipVerdict};
pub use input::Input;
pub use local::{LocalDecision, LocalPolicy};
pub use message::{Bundle, EndorseBatch, Message, RejectBatch, RejectReason, SporeBatch, Want};
pub use policy_change::{PolicyGate, Successor};
pub use record::Phase;
