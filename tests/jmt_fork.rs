//! The vendored jmt (`vendor/jmt`, see its SPORE-FORK.md) against the published jmt 0.12.0 it
//! forks, fed the same updates: the root must be identical at every version, and so must the
//! update batches (the same node keys, byte-identical encoded nodes, the same stale nodes), so
//! the fork changes neither roots, proofs nor what is stored. Updates mix jmt's batch path
//! (the fork's `batch_put_value_hashes` against upstream's `batch_put_value_sets`), its per-key
//! path for pure insertions, and deletions.

mod common;

use std::collections::BTreeMap;

use common::rng::Rng;
use jmt_upstream as up;
use sha3::{Digest, Sha3_256};

/// sha3-256 for the published jmt (sporedb's `root::hasher::Sha3` implements the fork's trait).
struct UpSha3(Sha3_256);

impl up::SimpleHasher for UpSha3 {
    fn new() -> Self {
        UpSha3(Sha3_256::new())
    }

    fn update(&mut self, data: &[u8]) {
        self.0.update(data);
    }

    fn finalize(self) -> [u8; 32] {
        self.0.finalize().into()
    }
}

type ForkSha3 = sporedb::root::hasher::Sha3;

/// An in-memory node store, written for one jmt flavour by a macro (the two crates' types are
/// distinct though identical).
macro_rules! node_store {
    ($name:ident, $jmt:ident) => {
        #[derive(Default)]
        struct $name {
            nodes: BTreeMap<$jmt::storage::NodeKey, $jmt::storage::Node>,
        }

        impl $jmt::storage::TreeReader for $name {
            fn get_node_option(
                &self,
                key: &$jmt::storage::NodeKey,
            ) -> anyhow::Result<Option<$jmt::storage::Node>> {
                Ok(self.nodes.get(key).cloned())
            }

            fn get_value_option(
                &self,
                _max_version: $jmt::Version,
                _key: $jmt::KeyHash,
            ) -> anyhow::Result<Option<$jmt::OwnedValue>> {
                anyhow::bail!("values are not needed to update a tree")
            }

            fn get_rightmost_leaf(
                &self,
            ) -> anyhow::Result<Option<($jmt::storage::NodeKey, $jmt::storage::LeafNode)>> {
                anyhow::bail!("not used")
            }
        }

        impl $name {
            /// Stores the batch's nodes; returns them encoded (key, node), and the stale keys,
            /// for comparison.
            fn write(&mut self, batch: $jmt::storage::TreeUpdateBatch) -> Encoded {
                let mut nodes = Vec::new();
                for (k, n) in batch.node_batch.nodes() {
                    nodes.push((borsh::to_vec(k).unwrap(), borsh::to_vec(n).unwrap()));
                    self.nodes.insert(k.clone(), n.clone());
                }
                let mut stale: Vec<Vec<u8>> = batch
                    .stale_node_index_batch
                    .iter()
                    .map(|s| borsh::to_vec(&s.node_key).unwrap())
                    .collect();
                stale.sort();
                (nodes, stale)
            }
        }
    };
}

type Encoded = (Vec<(Vec<u8>, Vec<u8>)>, Vec<Vec<u8>>);

node_store!(UpStore, up);
node_store!(ForkStore, jmt);

fn key_of(i: u64) -> [u8; 32] {
    sporedb::crypto::sha3(&[b"jmt-fork-test", &i.to_be_bytes()])
}

#[test]
fn the_fork_gives_upstreams_roots_and_nodes() {
    let mut upstream = UpStore::default();
    let mut fork = ForkStore::default();
    let mut rng = Rng(0xdecaf);
    let mut live: BTreeMap<u64, ()> = BTreeMap::new();
    for version in 0..400u64 {
        let n = 1 + rng.below(80);
        let with_deletes = version % 4 == 3 && !live.is_empty();
        let per_key = version % 5 == 1;
        // Distinct keys per version: jmt's batch path takes each key once.
        let mut changes: BTreeMap<u64, Option<Vec<u8>>> = BTreeMap::new();
        for _ in 0..n {
            let i = rng.below(3_000);
            if with_deletes && rng.below(3) == 0 {
                if let Some((&k, _)) = live.range(i..).next() {
                    changes.insert(k, None);
                    continue;
                }
            }
            changes.insert(i, Some(format!("value {}", rng.next()).into_bytes()));
        }
        for (k, v) in &changes {
            match v {
                Some(_) => live.insert(*k, ()),
                None => live.remove(k),
            };
        }
        let deletes = changes.values().any(Option::is_none);

        let (up_root, up_batch) = {
            let tree = up::JellyfishMerkleTree::<_, UpSha3>::new(&upstream);
            let set: Vec<(up::KeyHash, Option<Vec<u8>>)> = changes
                .iter()
                .map(|(k, v)| (up::KeyHash(key_of(*k)), v.clone()))
                .collect();
            if deletes || per_key {
                tree.put_value_set(set, version).unwrap()
            } else {
                let puts = set.into_iter().map(|(k, v)| (k, v.unwrap())).collect();
                let (roots, batch) = tree
                    .batch_put_value_sets(vec![puts], None, version)
                    .unwrap();
                (roots[0], batch)
            }
        };
        let (fork_root, fork_batch) = {
            let tree = jmt::JellyfishMerkleTree::<_, ForkSha3>::new(&fork);
            if deletes || per_key {
                let set: Vec<(jmt::KeyHash, Option<Vec<u8>>)> = changes
                    .iter()
                    .map(|(k, v)| (jmt::KeyHash(key_of(*k)), v.clone()))
                    .collect();
                tree.put_value_set(set, version).unwrap()
            } else {
                let hashes = changes
                    .iter()
                    .map(|(k, v)| {
                        let value = v.as_ref().unwrap();
                        (
                            jmt::KeyHash(key_of(*k)),
                            jmt::ValueHash::with::<ForkSha3>(value),
                        )
                    })
                    .collect();
                tree.batch_put_value_hashes(hashes, version).unwrap()
            }
        };
        assert_eq!(up_root.0, fork_root.0, "root of version {version}");
        assert_eq!(
            upstream.write(up_batch),
            fork.write(fork_batch),
            "nodes of version {version}"
        );
    }
    assert!(live.len() > 1_000, "the tree grew: {} keys", live.len());
}
