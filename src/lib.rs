//! sporedb: a Redis-protocol server whose every write is a signed *spore* that a quorum of
//! independent nodes must endorse before any node applies it.
//!
//! Module map (the README's Architecture section has the request flow and invariants):
//! - `reply`, `error`: protocol-free command replies and the one catalogue of Redis error texts.
//! - `resp`: the RESP wire format: request decoder (multibulk and inline, with Redis's limits)
//!   and reply encoder (RESP2/RESP3). Knows nothing about commands.
//! - `server`: the TCP front end: listener, per-connection pipelining loop, client registry, and
//!   the `Service` trait the command layer implements.
//! - `crypto`: node keys and domain-separated ed25519 signing.
//! - `spore`: the replicated transaction model: ops, canonical encoding, versions, conflicts.
//! - `write`: the contract between command handlers and the node's write path.
//! - `commands`: the Redis command layer: command table, dispatch, sessions, handlers (reads
//!   from a store snapshot, writes as ops for the write path).
//! - `consensus`: the endorsement protocol as a pure state machine (docs/PROTOCOL.md).
//! - `sim`: the seeded Byzantine network simulator that drives N consensus engines (S1–S5).
//! - `config`: command line and TOML configuration.
//! - `store`: LMDB / in-memory tables, the frozen on-disk layout, the typed read API.
//! - `root`: the verifiable state: state root (Jellyfish Merkle Tree), proofs, signed roots.
//! - `exec`: the deterministic executor applying a committed spore's ops to the store.
//! - `net`: the libp2p cluster transport: validated gossip, direct messages, discovery, bans.
//! - `node`: tasks, files and sockets: store + engine driver + front end wiring.
//! - `trust`: node keys' web of trust: key ring, PGP validity with N-marginal trust (`sporedb keys`).
//! - `cluster`: global policy (validation, hash, per-pattern rules), local policy, `sporedb demo`.

#![deny(unsafe_code)]

pub mod cluster;
pub mod commands;
pub mod config;
pub mod consensus;
pub mod crypto;
pub mod error;
pub mod exec;
pub mod net;
pub mod node;
pub mod reply;
pub mod resp;
pub mod root;
pub mod server;
pub mod sim;
pub mod spore;
pub mod store;
pub mod sync;
pub mod trust;
pub mod write;
