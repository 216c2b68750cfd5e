//! State transfer (whitepaper "Discovery and synchronization"): a new node, or one restarted
//! after missing traffic, or one whose state its peers disagree with, copies the replicated
//! tables from a peer — but only once the copy's recomputed state root equals a root that
//! enough trusted peers signed (one ultimate-trust peer, or N marginal ones: `crate::trust`).
//! A single lying peer can therefore make a node fail to catch up, never catch up on forged
//! data.
//!
//! - `wire`: the request/response messages (sent over the network's direct channel; their
//!   first byte `b'S'` tells them from consensus messages).
//! - `snapshot`: what is copied (the tables the root covers, and `applied`), recomputing a
//!   copy's root, serving pages, and installing a copy (derived indexes and the tree rebuilt,
//!   the result checked against the vouched root before anything commits).
//! - `fetch`: the client: ask every peer for its signed root, find one with enough vouchers,
//!   copy from a voucher page by page, verify, hand the copy to the driver to install.
//!
//! Limits (documented in docs/CLUSTER.md): asking for roots is O(1) (they are maintained at
//! every commit), but copying and checking a copy is O(data); peers that keep applying writes
//! during the copy make the copy's root miss the vouched one, and the fetch retries — under
//! constant load, catch-up waits for a pause.

pub mod fetch;
pub mod snapshot;
pub mod wire;

pub use fetch::{catch_up, roots, vouched, CatchUp, FetchError, Requester};
pub use snapshot::{install_verified, read_page, InstallError, Snapshot, SYNC_TABLES};
pub use wire::{SyncRequest, SyncResponse, SYNC_TAG};
