//! The pre-relay check of gossiped messages: forged, foreign, oversized, far-future and
//! undecodable messages are rejected (sender punished), stale ones ignored, good ones accepted.

use std::sync::Arc;

use bytes::Bytes;
use sporedb::consensus::wire::encode_message;
use sporedb::consensus::*;
use sporedb::crypto::NodeKey;
use sporedb::sim::world::node_key;
use sporedb::spore::*;

mod common;

/// The common rules, with a spore-content rule: at most three ops.
fn rules(keys: &[NodeKey]) -> GossipRules {
    GossipRules {
        spore_rule: Some(Arc::new(|s: &Spore| {
            if s.ops.len() > 3 {
                Err("too many ops".into())
            } else {
                Ok(())
            }
        })),
        ..common::gossip::rules(keys)
    }
}

fn spore(origin: &NodeKey, nonce: u64, deadline: u64, ops: usize) -> Spore {
    let key = Key::new(0, Bytes::from_static(b"k"));
    Spore {
        origin: origin.id(),
        nonce,
        deadline_ms: deadline,
        key_prereqs: vec![KeyPrereq::order_only(
            key.clone(),
            KeyVersion::absent(&[0; 32], &key),
        )],
        db_prereqs: vec![],
        ops: (0..ops)
            .map(|i| Op::IncrBy {
                key: key.clone(),
                delta: (i as i64 + 1).into(),
            })
            .collect(),
    }
}

fn bundle_of(batch: SporeBatch) -> Bytes {
    Bytes::from(encode_message(&Message::Bundle(Bundle {
        spores: vec![Arc::new(batch)],
        ..Bundle::default()
    })))
}

#[test]
fn verdicts() {
    let keys: Vec<NodeKey> = (0..4).map(node_key).collect();
    let r = rules(&keys);
    let now = 100_000;
    let good = SporeBatch::sign(&keys[1], vec![Arc::new(spore(&keys[1], 1, now + 5_000, 1))]);
    assert!(matches!(
        check_gossip(&r, now, &bundle_of(good.clone())),
        GossipVerdict::Accept(_)
    ));

    let mut forged = good.clone();
    forged.signature[0] ^= 1;
    assert!(
        matches!(check_gossip(&r, now, &bundle_of(forged)), GossipVerdict::Reject(w) if w.contains("forged"))
    );

    let outsider = node_key(99);
    let foreign = SporeBatch::sign(
        &outsider,
        vec![Arc::new(spore(&outsider, 1, now + 5_000, 1))],
    );
    assert!(
        matches!(check_gossip(&r, now, &bundle_of(foreign)), GossipVerdict::Reject(w) if w.contains("unknown origin"))
    );

    let far = SporeBatch::sign(
        &keys[1],
        vec![Arc::new(spore(&keys[1], 2, now + 60_000, 1))],
    );
    assert!(
        matches!(check_gossip(&r, now, &bundle_of(far)), GossipVerdict::Reject(w) if w.contains("horizon"))
    );

    let stale = SporeBatch::sign(
        &keys[1],
        vec![Arc::new(spore(&keys[1], 3, now - 20_000, 1))],
    );
    assert!(matches!(
        check_gossip(&r, now, &bundle_of(stale.clone())),
        GossipVerdict::Ignore(_)
    ));
    // Limits read at each check (a policy change moved the deadline and grace) replace the
    // fixed fields: the far spore is within a 70 s horizon, the stale one current for 30 s.
    let mut moved = r.clone();
    moved.limits = Some(Arc::new(|| (70_000, 30_000)));
    let far = SporeBatch::sign(
        &keys[1],
        vec![Arc::new(spore(&keys[1], 2, now + 60_000, 1))],
    );
    assert!(matches!(
        check_gossip(&moved, now, &bundle_of(far)),
        GossipVerdict::Accept(_)
    ));
    assert!(matches!(
        check_gossip(&moved, now, &bundle_of(stale)),
        GossipVerdict::Accept(_)
    ));

    let big = SporeBatch::sign(&keys[1], vec![Arc::new(spore(&keys[1], 4, now + 5_000, 5))]);
    assert!(
        matches!(check_gossip(&r, now, &bundle_of(big)), GossipVerdict::Reject(w) if w.contains("global policy"))
    );

    let huge = Bytes::from(vec![1u8; 64 * 1024 + 1]);
    assert!(
        matches!(check_gossip(&r, now, &huge), GossipVerdict::Reject(w) if w.contains("exceeds"))
    );
    assert!(matches!(
        check_gossip(&r, now, &Bytes::from_static(b"\x01\x09junk")),
        GossipVerdict::Reject(_)
    ));

    let id = good.spores[0].id();
    let endorse = Bytes::from(encode_message(&Message::Bundle(Bundle {
        endorsements: vec![Arc::new(EndorseBatch::sign(&keys[2], vec![id]))],
        ..Bundle::default()
    })));
    assert!(matches!(
        check_gossip(&r, now, &endorse),
        GossipVerdict::Accept(_)
    ));
    let foreign_endorse = Bytes::from(encode_message(&Message::Bundle(Bundle {
        endorsements: vec![Arc::new(EndorseBatch::sign(&outsider, vec![id]))],
        ..Bundle::default()
    })));
    assert!(matches!(
        check_gossip(&r, now, &foreign_endorse),
        GossipVerdict::Reject(_)
    ));
    let direct = Bytes::from(encode_message(&Message::Endorse(Arc::new(
        EndorseBatch::sign(&keys[2], vec![id]),
    ))));
    assert!(matches!(
        check_gossip(&r, now, &direct),
        GossipVerdict::Reject(_)
    ));
    assert!(check_direct(&r, now, &direct).is_ok());
}
