//! The node: the only place that owns tasks, channels, files and sockets.
//!
//! It opens the store and the node key, starts the driver thread (which owns the consensus
//! engine; its writer thread is the only writer of spores to the store), starts the Redis front
//! end, and shuts everything down cleanly on SIGINT/SIGTERM.

pub mod admin;
pub mod attestations;
pub mod clock;
pub mod cluster;
pub mod driver;
pub mod expiry;
pub mod info;
pub mod keyfile;
pub mod materialize;
pub mod outcomes;
pub mod peer_link;
pub mod policy_state;
pub mod policy_switch;
pub mod replies;
mod run;
pub mod stats;
pub mod write_path;
pub mod writer;

pub use run::{run, NodeError, READY_LINE};
