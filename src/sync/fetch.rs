//! The catching-up side of state transfer: collect the signed roots of the peers, find one
//! enough trusted peers vouch for, copy the tables from one of them, and accept the copy only
//! if the root recomputed from it is a vouched root.

use std::collections::BTreeMap;
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;

use bytes::Bytes;

use crate::crypto::NodeId;
use crate::root::{verify_attestation, Attestation, Root, SignedRoot};

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
    /// The root the copy hashes to, which `vouchers` signed.
    pub root: Root,
    /// The peers whose signed roots vouched for it.
    pub vouchers: Vec<NodeId>,
    /// The peer it was copied from.
    pub source: NodeId,
}

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum FetchError {
    #[error("already holds the state trusted peers vouch for")]
    UpToDate,
    #[error("no root is vouched for by enough trusted peers ({answers} peers answered)")]
    NoAgreement { answers: usize },
    #[error("no copy matched a vouched root (peers changed state during the copy, or lied)")]
    Mismatch,
}

/// Each peer's signed root. A peer whose answer is junk, or not signed by that same peer, is
/// left out: a root counts for a peer only if the peer signed it.
pub async fn signed_roots(request: &Requester, peers: &[NodeId]) -> Vec<SignedRoot> {
    let asks = peers.iter().map(|p| {
        let fut = request(*p, SyncRequest::Root.encode());
        let p = *p;
        async move { (p, fut.await) }
    });
    let mut out = Vec::new();
    for (peer, answer) in futures::future::join_all(asks).await {
        let Ok(bytes) = answer else { continue };
        let Ok(SyncResponse::Root { root, signature }) = SyncResponse::decode(&bytes) else {
            continue;
        };
        let attestation = Attestation {
            node: peer,
            signature,
        };
        if verify_attestation(&root, &attestation).is_ok() {
            out.push(SignedRoot { root, attestation });
        } else {
            tracing::warn!(
                "state transfer: peer {} sent a root with a bad signature",
                hex::encode(&peer[..8])
            );
        }
    }
    out
}

/// Signed roots grouped by root: who vouches for what.
pub fn group(signed: &[SignedRoot]) -> BTreeMap<Root, Vec<NodeId>> {
    let mut by_root: BTreeMap<Root, Vec<NodeId>> = BTreeMap::new();
    for s in signed {
        let v = by_root.entry(s.root).or_default();
        if !v.contains(&s.attestation.node) {
            v.push(s.attestation.node);
        }
    }
    by_root
}

/// Each peer's signed root, grouped by root.
pub async fn roots(request: &Requester, peers: &[NodeId]) -> BTreeMap<Root, Vec<NodeId>> {
    group(&signed_roots(request, peers).await)
}

/// The vouched root with the most vouchers (ties: the smaller root, deterministic).
pub fn vouched(
    by_root: &BTreeMap<Root, Vec<NodeId>>,
    agreement: &(dyn Fn(&[NodeId]) -> bool + Send + Sync),
) -> Option<(Root, Vec<NodeId>)> {
    by_root
        .iter()
        .filter(|(_, v)| agreement(v))
        .max_by(|a, b| a.1.len().cmp(&b.1.len()).then(b.0.cmp(a.0)))
        .map(|(r, v)| (*r, v.clone()))
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

/// Catches up from `peers`, whose signed roots the caller just collected (`signed_roots`,
/// grouped: `by_root`). `agreement(vouchers)` is the trust rule (one ultimate peer, or N
/// marginal ones); `own` is this node's current root, or `None` when it must not count (a
/// store found tampered, or one whose root peers disagree with).
pub async fn catch_up(
    request: &Requester,
    peers: &[NodeId],
    by_root: &BTreeMap<Root, Vec<NodeId>>,
    agreement: &(dyn Fn(&[NodeId]) -> bool + Send + Sync),
    own: Option<Root>,
    page_bytes: u32,
) -> Result<CatchUp, FetchError> {
    let answers: usize = by_root.values().map(Vec::len).sum();
    let Some((root, vouchers)) = vouched(by_root, agreement) else {
        return Err(FetchError::NoAgreement { answers });
    };
    if Some(root) == own {
        return Err(FetchError::UpToDate);
    }
    let candidates = vouchers.clone();
    for source in &candidates {
        let snapshot = match copy_from(request, *source, page_bytes).await {
            Ok(s) => s,
            Err(e) => {
                tracing::info!(
                    "state transfer: copy from {} failed: {e}",
                    hex::encode(source)
                );
                continue;
            }
        };
        // Recomputing the root costs a pass over the copy: done off the async threads.
        let (snapshot, got) = match tokio::task::spawn_blocking(move || {
            let got = snapshot.root();
            (snapshot, got)
        })
        .await
        {
            Ok((s, Some(got))) => (s, got),
            _ => {
                tracing::warn!(
                    "state transfer: malformed copy from {}",
                    hex::encode(source)
                );
                continue;
            }
        };
        if got == root {
            return Ok(CatchUp {
                snapshot,
                root,
                vouchers,
                source: *source,
            });
        }
        // The source may have applied more spores meanwhile: accept the copy if its root is
        // vouched for *now*.
        let now = roots(request, peers).await;
        if let Some(v) = now.get(&got).filter(|v| agreement(v)) {
            return Ok(CatchUp {
                snapshot,
                root: got,
                vouchers: v.clone(),
                source: *source,
            });
        }
    }
    Err(FetchError::Mismatch)
}
