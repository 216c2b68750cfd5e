//! How the `SPORE.*` commands reach the consensus driver: a request, answered later with a
//! reply. The node implements [`SporeAdmin`] over its driver channel (the engine's state lives
//! on the driver thread and is only read there); tools without a node have none, and the
//! commands then answer `RedisError::NoDriver`.

use std::future::Future;
use std::pin::Pin;

use crate::crypto::Digest;
use crate::error::RedisError;
use crate::reply::Reply;
use crate::spore::{Op, SporeId};

/// One question or decision for the driver.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum AdminRequest {
    /// Where a spore is: pending (held?), committed, applied, dropped (why), with its votes.
    Status(SporeId),
    /// Spores held by the local policy for a human decision.
    Pending,
    /// Endorse a held spore.
    Approve(SporeId),
    /// Veto a held spore.
    Reject(SporeId),
    /// Evidence of misbehaviour collected by this node.
    Evidence,
    /// Connected peers and the policy's endorsers.
    Peers,
}

pub type AdminFuture = Pin<Box<dyn Future<Output = Result<Reply, RedisError>> + Send>>;

/// Implemented by the node.
pub trait SporeAdmin: Send + Sync {
    fn request(&self, request: AdminRequest) -> AdminFuture;

    /// The global policy in force (`SPORE.POLICY`). A node without one (single node) refuses.
    fn policy(&self) -> Result<Reply, RedisError> {
        Err(RedisError::NoGlobalPolicy)
    }

    /// Checks a proposed policy (TOML text) against the policy in force, exactly as every
    /// endorser will: the op to submit and the hash of the policy it switches to.
    fn propose_policy(&self, _text: &[u8]) -> Result<(Op, Digest), RedisError> {
        Err(RedisError::NoGlobalPolicy)
    }
}

/// Parses a spore id given as 64 hex digits.
pub fn parse_spore_id(text: &[u8]) -> Result<SporeId, RedisError> {
    let mut id = [0u8; 32];
    hex::decode_to_slice(text, &mut id).map_err(|_| RedisError::BadSporeId)?;
    Ok(SporeId(id))
}
