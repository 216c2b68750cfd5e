//! What the command layer asks of a node about its state: a signed root (SPORE.ROOT), a proof
//! (SPORE.PROOF) and the scrub's verdict (INFO). `NodeRoots` answers from the node's store and
//! signs with its key; the command layer holds it as `Arc<dyn RootService>` so tests and the
//! cluster layer can provide their own.

use std::sync::Arc;

use crate::crypto::NodeKey;
use crate::store::{Store, StoreError};

use super::{attest, Attestation, Integrity, Proof, Root, StateRootRead};

/// A root with its signer's attestation.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SignedRoot {
    pub root: Root,
    pub attestation: Attestation,
}

impl SignedRoot {
    /// `root` attested by `key`.
    pub fn sign(key: &NodeKey, root: Root) -> SignedRoot {
        SignedRoot {
            root,
            attestation: attest(key, &root),
        }
    }
}

/// The node's state-root facts.
pub trait RootService: Send + Sync {
    /// The current root, signed by this node.
    fn signed_root(&self) -> Result<SignedRoot, StoreError>;

    /// The root of one snapshot and a proof of `name` in database `db` against it.
    fn prove(&self, db: u8, name: &[u8]) -> Result<(Root, Proof), StoreError>;

    /// What the last scrub found.
    fn integrity(&self) -> Integrity;

    /// Tree nodes held in memory (`root::resident`), for INFO.
    fn tree_nodes(&self) -> Option<usize> {
        None
    }

    /// Why this node must not serve reads of database `db` now (its data there is known not
    /// to match what its peers or its own root say), if it must not. A node without peers
    /// always serves.
    fn reads_refused(&self, _db: u8) -> Option<String> {
        None
    }

    /// What peers attested (cluster nodes only).
    fn attestations(&self) -> Option<super::book::Report> {
        None
    }
}

/// The node's store and signing key.
pub struct NodeRoots {
    pub store: Arc<Store>,
    pub key: NodeKey,
}

impl RootService for NodeRoots {
    fn signed_root(&self) -> Result<SignedRoot, StoreError> {
        let root = self.store.read()?.state_root()?;
        Ok(SignedRoot::sign(&self.key, root))
    }

    fn prove(&self, db: u8, name: &[u8]) -> Result<(Root, Proof), StoreError> {
        // The open rebuilt the tree from the data it found (`root::resident`): a proof there
        // would vouch for the edited data, against a root no honest peer signs.
        if self.store.integrity().is_tampered_in(db) {
            return Err(StoreError::Tree(format!(
                "database {db} of this node does not match the state root it attested (changed behind its back, see INFO state_integrity): no proofs there until it is repaired"
            )));
        }
        // A snapshot that fell more than `resident::KEEP_VERSIONS` commits behind while the
        // proof was built misses nodes: try again on a fresh one. Other failures (the data
        // disagreeing with the tree) fail every time.
        let mut attempts = 0;
        loop {
            let txn = self.store.read()?;
            match txn
                .state_root()
                .and_then(|root| Ok((root, txn.prove(db, name)?)))
            {
                Err(StoreError::Tree(_)) if attempts < 2 => attempts += 1,
                other => return other,
            }
        }
    }

    fn integrity(&self) -> Integrity {
        self.store.integrity()
    }

    fn tree_nodes(&self) -> Option<usize> {
        Some(self.store.tree_nodes())
    }
}
