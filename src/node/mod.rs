//! The node: the only place that owns tasks, channels, files and sockets.
//!
//! It opens the store and the node key, starts the driver task (which owns the consensus engine
//! and is the only writer of the store), starts the Redis front end, and shuts everything down
//! cleanly on SIGINT/SIGTERM.

pub mod clock;
pub mod keyfile;
pub mod materialize;
