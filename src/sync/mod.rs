//! State transfer (whitepaper "Discovery and synchronization"): a new node, or one restarted
//! after missing traffic, copies the replicated tables from a peer — but only once the copy's
//! digest equals a digest that enough trusted peers vouch for (one ultimate-trust peer, or N
//! marginal ones: `crate::trust`). A single lying peer can therefore make a node fail to
//! catch up, never catch up on forged data.
//!
//! - `wire`: the request/response messages (sent over the network's direct channel; their
//!   first byte `b'S'` tells them from consensus messages).
//! - `snapshot`: what is copied (every replicated table, not `meta`), its digest, reading pages
//!   on the serving side and installing a verified copy on the receiving side.
//! - `fetch`: the client: ask every peer for its digest, find one with enough vouchers, copy
//!   from a voucher page by page, verify, hand the copy to the driver to install.
//!
//! Limits (v1, documented in docs/CLUSTER.md): the digest is a full hash of the replicated
//! tables (O(data) per request; the state root of issue 5 makes it O(1)); peers that keep
//! applying writes during the copy make the copied digest miss the vouched one, and the fetch
//! retries — under constant load, catch-up waits for a pause.

pub mod fetch;
pub mod snapshot;
pub mod wire;

pub use fetch::{catch_up, CatchUp, FetchError, Requester};
pub use snapshot::{install, read_page, sync_digest, Snapshot, SYNC_TABLES};
pub use wire::{SyncRequest, SyncResponse, SYNC_TAG};
