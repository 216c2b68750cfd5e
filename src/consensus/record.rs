//! What a node remembers about one spore (PROTOCOL.md §4 "Life of a spore").

use std::collections::BTreeMap;
use std::sync::Arc;

use crate::crypto::NodeId;
use crate::spore::footprint::Footprint;
use crate::spore::{Spore, SporeId};

use super::effect::DropReason;
use super::message::{EndorseBatch, RejectBatch, SporeBatch};

/// Where a spore is in its life at this node.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Phase {
    /// Known (content or only endorsements), not yet committed or dropped.
    Pending,
    /// ω endorsements seen; waiting for its prerequisites to hold (apply gate).
    Committed,
    /// `Apply` emitted.
    Applied,
    /// Will never be applied here.
    Dropped(DropReason),
}

/// The content of a spore, once known.
#[derive(Debug, Clone)]
pub struct Content {
    pub spore: Arc<Spore>,
    pub footprint: Footprint,
    /// The signed batch it arrived in (what certificates carry).
    pub batch: Arc<SporeBatch>,
    /// The ids of `batch`'s spores, in batch order (computed once, when the batch is signed or
    /// verified: an id is a hash of the whole spore).
    pub batch_ids: Arc<[SporeId]>,
}

/// Everything known about one spore id.
#[derive(Debug, Clone)]
pub struct Record {
    pub content: Option<Content>,
    /// Local time the id was first heard of (bounds how long content-less records live).
    pub first_seen_ms: u64,
    pub phase: Phase,
    /// Valid endorsements by policy endorsers, one per endorser.
    pub endorsements: BTreeMap<NodeId, Arc<EndorseBatch>>,
    pub rejections: BTreeMap<NodeId, Arc<RejectBatch>>,
    /// This node endorsed it (Promise lock taken).
    pub endorsed_by_me: bool,
    pub rejected_by_me: bool,
    /// Its footprint is in the Promise index (endorsed or committed, not yet released).
    pub locked: bool,
    /// Waiting to be endorsed (prerequisites not yet reachable, or Promise conflict).
    pub deferred: bool,
    /// Held by the local policy for a human decision.
    pub held: bool,
    /// A human approved it (the local policy is not asked again).
    pub approved: bool,
    /// A bundle with ≥ ω endorsements for it was received (so no re-flood on commit).
    pub certified_by_bundle: bool,
    /// Endorsement count when this node last flooded it (origin addendum, PROTOCOL.md §6.2).
    pub flooded_with: usize,
    pub committed_at_ms: Option<u64>,
    /// Last anti-entropy request about it.
    pub wanted_at_ms: Option<u64>,
}

impl Record {
    pub fn new(now: u64) -> Record {
        Record {
            content: None,
            first_seen_ms: now,
            phase: Phase::Pending,
            endorsements: BTreeMap::new(),
            rejections: BTreeMap::new(),
            endorsed_by_me: false,
            rejected_by_me: false,
            locked: false,
            deferred: false,
            held: false,
            approved: false,
            certified_by_bundle: false,
            flooded_with: 0,
            committed_at_ms: None,
            wanted_at_ms: None,
        }
    }

    pub fn spore(&self) -> Option<&Arc<Spore>> {
        self.content.as_ref().map(|c| &c.spore)
    }

    pub fn deadline(&self) -> Option<u64> {
        self.content.as_ref().map(|c| c.spore.deadline_ms)
    }

    pub fn is_live(&self) -> bool {
        matches!(self.phase, Phase::Pending | Phase::Committed)
    }
}
