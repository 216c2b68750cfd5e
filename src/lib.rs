//! sporedb: a Redis-protocol server whose every write is a signed *spore* that a quorum of
//! independent nodes must endorse before any node applies it.
//!
//! Module map (the README's Architecture section has the request flow and invariants):
//! - `reply`, `error`: protocol-free command replies and the one catalogue of Redis error texts.
//! - `crypto`: node keys and domain-separated ed25519 signing.
//! - `spore`: the replicated transaction model: ops, canonical encoding, versions, conflicts.
//! - `write`: the contract between command handlers and the node's write path.
//! - `consensus`: the endorsement protocol as a pure state machine (docs/PROTOCOL.md).
//! - `sim`: the seeded Byzantine network simulator that drives N consensus engines.
//! - `config`: command line and TOML configuration.
//! - `node`: tasks, files and sockets: store + engine driver + front end wiring.

#![deny(unsafe_code)]

pub mod config;
pub mod consensus;
pub mod crypto;
pub mod error;
pub mod node;
pub mod reply;
pub mod sim;
pub mod spore;
pub mod write;
