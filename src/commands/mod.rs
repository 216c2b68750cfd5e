//! The command layer: one command table, argument parsing, dispatch, per-connection sessions,
//! and every command handler.
//!
//! Flow: the front end calls `Service::dispatch` (`service.rs`) with a connection's `Session`
//! and argv; `dispatch.rs` looks the command up in the table (`table.rs`, rows from `spec.rs`
//! declared by each family file), checks arity and authentication, queues it inside MULTI, and
//! otherwise runs its handler with a `Ctx` (`ctx.rs`). Reads answer from one store snapshot
//! (`view.rs`); writes return ops that become one spore through the node's `WritePath`, and the
//! reply is shaped from the executor's per-op replies once the spore applied.
//!
//! Invariants: no handler formats an error text (they all come from `crate::error`); no panic is
//! reachable from client input; a command absent from the table answers Redis's unknown-command
//! error, never a wrong result.

pub mod args;
pub mod connection;
pub mod ctx;
pub mod dispatch;
pub mod docs;
#[doc(hidden)]
pub mod immediate_writes;
pub mod keys;
pub mod keyspace_store;
pub mod lists;
pub mod scan_args;
pub mod server;
pub mod service;
pub mod session;
pub mod sets;
pub mod settings;
pub mod spec;
pub mod spore_admin;
pub mod spore_cmds;
pub mod spore_policy;
pub mod spore_root;
pub mod stats;
pub mod strings;
pub mod syntax;
pub mod table;
pub mod transactions;
pub mod view;

pub use ctx::{Action, Ctx, NodeInfo, NodeStatus, Shared};
pub use dispatch::{dispatch, Outcome};
pub use service::CommandService;
pub use session::Session;
pub use view::{Keyspace, Snapshot};

#[cfg(test)]
mod read_gate_tests;
#[cfg(test)]
mod testkit;
#[cfg(test)]
mod tests;
