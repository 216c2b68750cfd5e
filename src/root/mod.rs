//! Verifiable state: an authenticated tree over the replicated data, proofs, signed roots.
//!
//! The state root is the root of a Jellyfish Merkle Tree (the `jmt` crate, sha3-256) with one
//! leaf per entry of the `keys` and `elems` tables (`leaf`). Write transactions note the
//! entries they touch; at commit, one jmt batch per transaction updates the tree, and the new
//! root is written in the same LMDB transaction as the data (`update`). The tree's nodes are
//! a function of the data: an LMDB store keeps them in memory and rebuilds them from the data
//! at open, which is also where it checks the data against the stored root (`resident`,
//! `integrity`); the in-memory store keeps them in its `nodes` table (`nodes`). Beside the
//! tree, the applied-set digest summarises every spore id applied (`applied`).
//! `Root` is the triple a node signs (`attest`) and a client checks proofs against (`proof`);
//! `integrity` recomputes the root from the data to detect changes made behind the node's back.
//! `gossip` is the signed-root message nodes flood, and `book` what a node concludes from its
//! peers' signed roots (conflicts as evidence; divergence once f + 1 endorsers disagree).
//! The in-memory store runs the same code, so both backends give the same root.
//! Format and reasoning: `docs/STATE-ROOT.md`.

pub mod applied;
pub mod attest;
pub mod book;
pub mod cli;
pub mod dbroots;
pub mod gossip;
pub mod hasher;
pub mod integrity;
pub mod leaf;
pub mod nodes;
pub mod proof;
pub mod resident;
pub mod service;
pub mod update;

use jmt::JellyfishMerkleTree;

use crate::store::kv::{KvRead, Table};
use crate::store::StoreError;

pub use applied::AppliedSet;
pub use attest::{attest, verify_attestation, Attestation, ROOT_DOMAIN};
pub use dbroots::{DbRoot, DbRoots};
pub use integrity::Integrity;
pub use proof::{Proof, ProofError};
pub use service::{NodeRoots, RootService, SignedRoot};

use hasher::Sha3;
use nodes::{Nodes, TreeState};

/// The state root of a snapshot: the tree root and the applied-set digest and count.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Root {
    pub root: [u8; 32],
    pub applied_digest: [u8; 32],
    pub applied_count: u64,
}

/// Root and proofs on any store snapshot (LMDB read/write txn, in-memory store).
pub trait StateRootRead: KvRead {
    /// The state root of this snapshot; `StoreError::Tree` if the store keeps no tree.
    fn state_root(&self) -> Result<Root, StoreError> {
        let state = TreeState::load(self)?.ok_or(no_tree())?;
        let applied = AppliedSet::load(self)?;
        Ok(Root {
            root: state.root,
            applied_digest: applied.digest(),
            applied_count: applied.count,
        })
    }

    /// A proof of Redis key `name` of database `db` against this snapshot's root: membership
    /// with its key record, or non-membership.
    fn prove(&self, db: u8, name: &[u8]) -> Result<Proof, StoreError> {
        prove_entry(self, Table::Keys, &Proof::record_key(db, name))
    }
}

impl<T: KvRead + ?Sized> StateRootRead for T {}

fn no_tree() -> StoreError {
    StoreError::NoStateRoot
}

/// A proof of entry `key` of leaf table `table`.
pub fn prove_entry<T: KvRead + ?Sized>(
    kv: &T,
    table: Table,
    key: &[u8],
) -> Result<Proof, StoreError> {
    let state = TreeState::load(kv)?.ok_or(no_tree())?;
    let value = kv.get(table, key)?.map(<[u8]>::to_vec);
    let hash = leaf::key_hash(table, key);
    let reader = match &value {
        Some(v) => Nodes::with_value(kv, hash, v.clone()),
        None => Nodes::new(kv),
    };
    let (found, merkle) = JellyfishMerkleTree::<_, Sha3>::new(&reader)
        .get_with_proof(hash, state.version)
        .map_err(|e| StoreError::Tree(e.to_string()))?;
    // The tree and the data disagree about whether the entry exists: not a valid proof.
    if found.is_some() != value.is_some() {
        return Err(StoreError::Tree(
            "the state tree and the data disagree about this key (see INFO state_integrity)".into(),
        ));
    }
    let proof = Proof {
        table,
        key: key.to_vec(),
        value,
        merkle,
    };
    // Never hand out a proof that does not verify: a mismatch means the data changed behind
    // the tree's back (the scrub reports it).
    proof.verify(&state.root).map_err(|e| {
        StoreError::Tree(format!(
            "the state tree and the data disagree about this key ({e}); see INFO state_integrity"
        ))
    })?;
    Ok(proof)
}
