//! What the engine asks the driver to do (PROTOCOL.md §9 "Driver contract").

use std::sync::Arc;

use bytes::Bytes;

use crate::crypto::{Digest, NodeId};
use crate::spore::validate::InvalidSpore;
use crate::spore::{Spore, SporeId};

use super::evidence::Evidence;
use super::message::Message;

/// One effect of `Engine::step`. Network effects come first in the returned vector, then
/// local ones in the order they happened.
#[derive(Debug, Clone)]
pub enum Effect {
    /// Flood to every node through gossip (deduplicated by the message's bytes).
    Broadcast(Arc<Message>),
    /// Send to one node directly.
    Send { to: NodeId, msg: Arc<Message> },
    /// The spore reached ω endorsements here (informational: latency, client bookkeeping).
    Committed { id: SporeId },
    /// Apply the spore now: it is committed and its prerequisites hold in the engine's
    /// projection. The driver applies `Apply`s in exactly this order, then confirms with
    /// `Input::Applied`.
    Apply { id: SporeId, spore: Arc<Spore> },
    /// The spore will never be applied here.
    Dropped { id: SporeId, reason: DropReason },
    /// A verifiable proof that an endorser broke the protocol.
    Evidence(Arc<Evidence>),
    /// A committed policy change was just applied (it follows its `Apply` in this step) and the
    /// engine now runs the policy `policy` (its TOML text) whose hash is `hash`: the node must
    /// persist it and switch its gossip checks and topic before acting on later effects.
    PolicyAdopted {
        id: SporeId,
        hash: Digest,
        policy: Bytes,
    },
    /// A committed policy change was applied but this node's gate refuses it (this node runs
    /// another policy than its base, e.g. it missed an earlier change): the node keeps its
    /// policy and must be repaired by its operator.
    PolicyNotAdopted { id: SporeId, why: String },
}

/// Why a spore was dropped.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum DropReason {
    /// Submitted but structurally invalid.
    #[error("invalid spore: {0}")]
    Invalid(InvalidSpore),
    /// Submitted with a deadline already past or beyond the horizon.
    #[error("deadline out of range")]
    BadDeadline,
    /// Submitted but its prerequisites hold neither now nor after this node's pending spores.
    #[error("prerequisites do not hold")]
    PrereqsDoNotHold,
    /// Submitted but conflicts with a spore this node has endorsed and not yet resolved.
    #[error("conflicts with a pending spore")]
    Conflict,
    /// Submitted but this node's local policy vetoes it.
    #[error("vetoed by this node's local policy")]
    Vetoed,
    /// Commutative class mix at one order version (PROTOCOL.md §5.3).
    #[error("mixes commutative classes on a key")]
    ClassMix,
    /// Not committed by deadline + grace (Expiration rule).
    #[error("not committed by deadline + grace")]
    Expired,
    /// Enough signed rejections that it can never commit.
    #[error("rejected by a rejection quorum")]
    Rejected,
    /// It requires a version only a dropped spore would have produced.
    #[error("its predecessor {0} was dropped")]
    PredecessorDropped(SporeId),
    /// Submitted but refused by the global policy (a policy change this node's gate refuses,
    /// or a data spore a newly adopted policy forbids).
    #[error("refused by the global policy")]
    PolicyRefused,
}
