//! What the driver feeds the engine (PROTOCOL.md §9 "Driver contract").

use crate::crypto::NodeId;
use crate::spore::{Spore, SporeId};

use super::message::Message;

/// One input to `Engine::step`.
#[derive(Debug, Clone)]
pub enum Input {
    /// Spores built by this node, in order; later ones may require the versions left by earlier
    /// ones (chains). Signed as one batch.
    Submit(Vec<Spore>),
    /// A decoded message from peer `from` (the transport sender, used only to answer `Want`).
    Message { from: NodeId, msg: Message },
    /// Time passed: run the timers (drops at deadline + grace, fallbacks, anti-entropy, GC).
    Tick,
    /// The driver durably applied these spores (in the order the engine emitted `Apply`); the
    /// `view` passed from now on reflects them.
    Applied(Vec<SporeId>),
    /// An operator approved a spore held by the local policy (`SPORE.APPROVE`).
    Approve(SporeId),
    /// An operator declined a held spore (`SPORE.REJECT`): this node vetoes it.
    Decline(SporeId),
    /// The driver replaced its state by a verified copy from peers (state transfer). `present`
    /// lists the spores this engine knew as pending or committed that the copy already
    /// contains: they count as applied here without an `Apply`. Everything waiting is
    /// re-checked against the new view.
    Resynced { present: Vec<SporeId> },
}
