//! Everything a peer can send is decoded and checked without a panic, whatever the bytes: the
//! gossip validator (`check_gossip`, run before relay), the direct-message check
//! (`check_direct`), state-transfer requests and answers, and signed-root gossip. Inputs are
//! arbitrary bytes and, more searching, valid messages with bytes overwritten, cut short,
//! inserted or appended (a decoder that trusts a length or a count read from the wire fails
//! there). Checked: the call returns, and a mutated message is never accepted as something
//! it does not re-encode to.

use std::sync::Arc;

use bytes::Bytes;
use proptest::prelude::*;
use sporedb::consensus::wire::{decode_message, encode_message};
use sporedb::consensus::*;
use sporedb::crypto::NodeKey;
use sporedb::root::gossip as root_gossip;
use sporedb::root::{DbRoot, DbRoots, Root, SignedRoot};
use sporedb::sim::world::node_key;
use sporedb::spore::*;
use sporedb::sync::{SyncRequest, SyncResponse};

mod common;

use common::gossip::rules;

const NOW: u64 = 100_000;

fn keys() -> Vec<NodeKey> {
    (0..4).map(node_key).collect()
}

fn spore(origin: &NodeKey, nonce: u64) -> Spore {
    let key = Key::new(0, Bytes::from_static(b"k"));
    let list = Key::new(1, Bytes::from_static(b"l"));
    Spore {
        origin: origin.id(),
        nonce,
        deadline_ms: NOW + 5_000,
        key_prereqs: vec![
            KeyPrereq::order_only(key.clone(), KeyVersion::absent(&[0; 32], &key)),
            KeyPrereq::full(list.clone(), KeyVersion::absent(&[0; 32], &list)),
        ],
        db_prereqs: vec![],
        ops: vec![
            Op::IncrBy {
                key: key.clone(),
                delta: 7.into(),
            },
            Op::Push {
                key: list,
                end: End::Left,
                elems: vec![Bytes::from_static(b"a"), Bytes::from_static(b"bc")],
                only_if_exists: false,
            },
        ],
    }
}

/// Valid wire messages of every kind the engine exchanges.
fn samples() -> Vec<Vec<u8>> {
    let keys = keys();
    let batch = SporeBatch::sign(
        &keys[1],
        vec![Arc::new(spore(&keys[1], 1)), Arc::new(spore(&keys[1], 2))],
    );
    let ids: Vec<SporeId> = batch.spores.iter().map(|s| s.id()).collect();
    let endorse = Arc::new(EndorseBatch::sign(&keys[2], ids.clone()));
    vec![
        encode_message(&Message::Bundle(Bundle {
            spores: vec![Arc::new(batch)],
            ..Bundle::default()
        })),
        encode_message(&Message::Endorse(endorse.clone())),
        encode_message(&Message::Bundle(Bundle {
            endorsements: vec![endorse],
            ..Bundle::default()
        })),
        encode_message(&Message::Want(Want {
            ids,
            keys: vec![Key::new(0, Bytes::from_static(b"k"))],
        })),
    ]
}

fn sync_samples() -> Vec<Vec<u8>> {
    let root = Root {
        root: [1; 32],
        applied_digest: [2; 32],
        applied_count: 3,
    };
    vec![
        SyncRequest::Root.encode(),
        SyncRequest::Page {
            table: 1,
            after: Some(Bytes::from_static(b"key")),
            max_bytes: 1 << 16,
        }
        .encode(),
        SyncResponse::Root {
            root,
            signature: [4; 64],
        }
        .encode(),
        SyncResponse::Page {
            entries: vec![
                (Bytes::from_static(b"a"), Bytes::from_static(b"1")),
                (Bytes::from_static(b"b"), Bytes::from_static(b"22")),
            ],
            more: true,
        }
        .encode(),
    ]
}

/// A signed root over a few non-empty databases, internal subtrees and single leaves mixed,
/// so mutations land in every part of the encoding.
fn root_gossip_sample() -> Vec<u8> {
    let mut dbs = DbRoots::default();
    for (i, db) in [0usize, 3, 5, 15].into_iter().enumerate() {
        dbs.0[db] = Some(DbRoot {
            hash: [i as u8 + 4; 32],
            leaf: i % 2 == 1,
        });
    }
    let root = Root {
        root: dbs.fold(),
        applied_digest: [2; 32],
        applied_count: 7,
    };
    root_gossip::encode(&SignedRoot::sign(&NodeKey::from_seed([3; 32]), root), &dbs)
}

/// One change to a valid message.
#[derive(Debug, Clone)]
enum Mutation {
    Overwrite(prop::sample::Index, u8),
    Truncate(prop::sample::Index),
    Insert(prop::sample::Index, Vec<u8>),
    Append(Vec<u8>),
}

fn mutation() -> impl Strategy<Value = Mutation> {
    prop_oneof![
        4 => (any::<prop::sample::Index>(), any::<u8>()).prop_map(|(i, b)| Mutation::Overwrite(i, b)),
        1 => any::<prop::sample::Index>().prop_map(Mutation::Truncate),
        1 => (any::<prop::sample::Index>(), prop::collection::vec(any::<u8>(), 1..9))
            .prop_map(|(i, b)| Mutation::Insert(i, b)),
        1 => prop::collection::vec(any::<u8>(), 1..9).prop_map(Mutation::Append),
    ]
}

fn mutate(mut bytes: Vec<u8>, mutations: &[Mutation]) -> Vec<u8> {
    for m in mutations {
        match m {
            Mutation::Overwrite(i, b) if !bytes.is_empty() => {
                let at = i.index(bytes.len());
                bytes[at] = *b;
            }
            Mutation::Truncate(i) if !bytes.is_empty() => {
                let at = i.index(bytes.len());
                bytes.truncate(at);
            }
            Mutation::Insert(i, b) => {
                let at = i.index(bytes.len() + 1);
                bytes.splice(at..at, b.iter().copied());
            }
            Mutation::Append(b) => bytes.extend_from_slice(b),
            _ => {}
        }
    }
    bytes
}

/// Runs every network-facing check on `bytes`; whatever decodes re-encodes to those bytes.
fn every_check(bytes: &[u8]) -> Result<(), TestCaseError> {
    let data = Bytes::copy_from_slice(bytes);
    let keys = keys();
    let r = rules(&keys);
    if let Ok(m) = decode_message(&data) {
        prop_assert_eq!(
            encode_message(&m),
            bytes.to_vec(),
            "a decoded message re-encodes"
        );
    }
    let _ = check_gossip(&r, NOW, &data);
    let _ = check_direct(&r, NOW, &data);
    if let Ok(q) = SyncRequest::decode(&data) {
        prop_assert_eq!(q.encode(), bytes.to_vec());
    }
    if let Ok(a) = SyncResponse::decode(&data) {
        prop_assert_eq!(a.encode(), bytes.to_vec());
    }
    if let Ok((s, dbs)) = root_gossip::decode(bytes) {
        prop_assert_eq!(root_gossip::encode(&s, &dbs), bytes.to_vec());
    }
    let _ = root_gossip::check(bytes, |_| true);
    Ok(())
}

/// The samples are what they claim: each decodes, and the gossip validator accepts the
/// signed ones.
#[test]
fn samples_are_valid() {
    let keys = keys();
    let r = rules(&keys);
    for s in samples() {
        let data = Bytes::from(s.clone());
        assert_eq!(encode_message(&decode_message(&data).unwrap()), s);
    }
    let first = Bytes::from(samples()[0].clone());
    let verdict = check_gossip(&r, NOW, &first);
    assert!(matches!(verdict, GossipVerdict::Accept(_)), "{verdict:?}");
    for s in sync_samples() {
        let data = Bytes::from(s.clone());
        assert!(SyncRequest::decode(&data).is_ok() || SyncResponse::decode(&data).is_ok());
    }
    assert!(root_gossip::check(&root_gossip_sample(), |_| true).is_ok());
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 2_000, ..ProptestConfig::default() })]

    #[test]
    fn arbitrary_bytes_never_panic(bytes in prop::collection::vec(any::<u8>(), 0..600)) {
        every_check(&bytes)?;
    }

    #[test]
    fn mutated_consensus_messages_never_panic(
        which in 0usize..4,
        mutations in prop::collection::vec(mutation(), 1..5),
    ) {
        every_check(&mutate(samples()[which].clone(), &mutations))?;
    }

    #[test]
    fn mutated_sync_messages_never_panic(
        which in 0usize..4,
        mutations in prop::collection::vec(mutation(), 1..5),
    ) {
        every_check(&mutate(sync_samples()[which].clone(), &mutations))?;
    }

    #[test]
    fn mutated_root_gossip_never_panics(mutations in prop::collection::vec(mutation(), 1..5)) {
        every_check(&mutate(root_gossip_sample(), &mutations))?;
    }
}
