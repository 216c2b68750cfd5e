//! The catching-up side of state transfer: find a digest enough trusted peers vouch for, copy
//! the tables from one of them, and accept the copy only if it hashes to a vouched digest.

use std::collections::BTreeMap;
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;

use bytes::Bytes;

use crate::crypto::{Digest, NodeId};

use super::snapshot::{Snapshot, SYNC_TABLES};
use super::wire::{SyncRequest, SyncResponse};

/// Sends one request to one peer and returns its answer.
pub type Requester = Arc<
    dyn Fn(NodeId, Vec<u8>) -> Pin<Box<dyn Future<Output = Result<Bytes, String>> + Send>>
        + Send
        + Sync,
>;

/// A verified copy, ready for the driver to install.
#[derive(Debug)]
pub struct CatchUp {
    pub snapshot: Snapshot,
    pub digest: Digest,
    /// The peers whose digests vouched for it.
    pub vouchers: Vec<NodeId>,
    /// The peer it was copied from.
    pub source: NodeId,
}

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum FetchError {
    #[error("already holds the state trusted peers vouch for")]
    UpToDate,
    #[error("no digest is vouched for by enough trusted peers ({answers} peers answered)")]
    NoAgreement { answers: usize },
    #[error("no copy matched a vouched digest (peers changed state during the copy, or lied)")]
    Mismatch,
}

/// Each peer's digest (peers that do not answer, or answer junk, are left out).
pub async fn digests(request: &Requester, peers: &[NodeId]) -> BTreeMap<Digest, Vec<NodeId>> {
    let asks = peers.iter().map(|p| {
        let fut = request(*p, SyncRequest::Digest.encode());
        let p = *p;
        async move { (p, fut.await) }
    });
    let mut by_digest: BTreeMap<Digest, Vec<NodeId>> = BTreeMap::new();
    for (peer, answer) in futures::future::join_all(asks).await {
        if let Ok(bytes) = answer {
            if let Ok(SyncResponse::Digest { digest, .. }) = SyncResponse::decode(&bytes) {
                by_digest.entry(digest).or_default().push(peer);
            }
        }
    }
    by_digest
}

/// Copies every replicated table from `source`.
async fn copy_from(
    request: &Requester,
    source: NodeId,
    page_bytes: u32,
) -> Result<Snapshot, String> {
    let mut snap = Snapshot::default();
    for t in SYNC_TABLES {
        let mut after: Option<Bytes> = None;
        loop {
            let req = SyncRequest::Page {
                table: t as u8,
                after: after.clone(),
                max_bytes: page_bytes,
            };
            let answer = request(source, req.encode()).await?;
            let SyncResponse::Page { entries, more } =
                SyncResponse::decode(&answer).map_err(|e| e.to_string())?
            else {
                return Err("unexpected answer to a page request".into());
            };
            if more && entries.is_empty() {
                return Err("empty page announcing more".into());
            }
            after = entries.last().map(|(k, _)| k.clone());
            snap.tables.entry(t as u8).or_default().extend(entries);
            if !more {
                break;
            }
        }
    }
    Ok(snap)
}

/// Catches up from `peers`. `agreement(vouchers)` is the trust rule (one ultimate peer, or N
/// marginal ones); `own` is this node's current digest.
pub async fn catch_up(
    request: &Requester,
    peers: &[NodeId],
    agreement: &(dyn Fn(&[NodeId]) -> bool + Send + Sync),
    own: Digest,
    page_bytes: u32,
) -> Result<CatchUp, FetchError> {
    let by_digest = digests(request, peers).await;
    let answers: usize = by_digest.values().map(Vec::len).sum();
    // The vouched digest with the most vouchers (ties: the smaller digest, deterministic).
    let Some((digest, vouchers)) = by_digest
        .iter()
        .filter(|(_, v)| agreement(v))
        .max_by(|a, b| a.1.len().cmp(&b.1.len()).then(b.0.cmp(a.0)))
        .map(|(d, v)| (*d, v.clone()))
    else {
        return Err(FetchError::NoAgreement { answers });
    };
    if digest == own {
        return Err(FetchError::UpToDate);
    }
    let candidates = vouchers.clone();
    for source in &candidates {
        let Ok(snapshot) = copy_from(request, *source, page_bytes).await else {
            continue;
        };
        let Some(got) = snapshot.digest() else {
            tracing::warn!(
                "state transfer: malformed copy from {}",
                hex::encode(source)
            );
            continue;
        };
        if got == digest {
            return Ok(CatchUp {
                snapshot,
                digest,
                vouchers,
                source: *source,
            });
        }
        // The source may have applied more spores meanwhile: accept the copy if its digest is
        // vouched for *now*.
        let now = digests(request, peers).await;
        if let Some(v) = now.get(&got).filter(|v| agreement(v)) {
            return Ok(CatchUp {
                snapshot,
                digest: got,
                vouchers: v.clone(),
                source: *source,
            });
        }
    }
    Err(FetchError::Mismatch)
}
