//! The first milestone: one endorser (n = 1, ω = 1). A submitted batch is signed, broadcast,
//! committed and applied within the same step, chains included, in submission order.

mod common;

use bytes::Bytes;
use num_bigint::BigInt;
use sporedb::consensus::*;
use sporedb::crypto::NodeKey;
use sporedb::spore::effects::version_effects;
use sporedb::spore::*;

use common::versions::Versions;

fn engine() -> (Engine, NodeKey) {
    let key = NodeKey::from_seed([1; 32]);
    let policy = Policy::new(vec![key.id()], 1, 0).expect("n=1 policy");
    (Engine::new(EngineConfig::new(key.clone(), policy)), key)
}

fn lpush(origin: [u8; 32], nonce: u64, v: KeyVersion) -> Spore {
    let k = Key::new(0, "list");
    Spore {
        origin,
        nonce,
        deadline_ms: 5_000,
        key_prereqs: vec![KeyPrereq::full(k.clone(), v)],
        db_prereqs: vec![],
        ops: vec![Op::Push {
            key: k,
            end: End::Left,
            elems: vec![Bytes::from(format!("e{nonce}"))],
            only_if_exists: false,
        }],
    }
}

#[test]
fn single_node_commits_and_applies_a_chain_in_the_same_step() {
    let (mut e, key) = engine();
    let mut store = Versions::default();
    // The node builds a chain: each LPUSH requires the version left by the previous one.
    let k = Key::new(0, "list");
    let mut v = store.key_version(&k);
    let mut chain = Vec::new();
    for i in 0..5 {
        let s = lpush(key.id(), i, v);
        v = version_effects(&s, &s.id(), &VersionsAt(k.clone(), v)).keys[0].1;
        chain.push(s);
    }
    let ids: Vec<SporeId> = chain.iter().map(|s| s.id()).collect();
    let effects = e.step(1_000, Input::Submit(chain), &store);
    let broadcasts = effects
        .iter()
        .filter(|f| matches!(f, Effect::Broadcast(_)))
        .count();
    assert_eq!(broadcasts, 1, "{effects:?}");
    let applied: Vec<SporeId> = effects
        .iter()
        .filter_map(|f| match f {
            Effect::Apply { id, .. } => Some(*id),
            _ => None,
        })
        .collect();
    assert_eq!(applied, ids, "applied in submission order");
    // The broadcast carries the signed batch and this node's endorsement of every spore.
    let Some(Effect::Broadcast(msg)) = effects.first() else {
        panic!("broadcast first")
    };
    let Message::Bundle(b) = &**msg else {
        panic!("bundle")
    };
    assert_eq!(b.spores[0].verify().expect("valid batch").to_vec(), ids);
    assert!(b.endorsements[0].verify().is_ok());
    // Driver applies and confirms.
    for (id, s) in applied.iter().zip(b.spores[0].spores.iter()) {
        assert_eq!(*id, s.id());
        store.apply(s);
    }
    assert!(e
        .step(1_001, Input::Applied(applied.clone()), &store)
        .is_empty());
    assert_eq!(store.key_version(&k), v);
}

/// A one-key view at a given version (to build chains in the test).
struct VersionsAt(Key, KeyVersion);
impl VersionView for VersionsAt {
    fn key_version(&self, key: &Key) -> KeyVersion {
        if *key == self.0 {
            self.1
        } else {
            KeyVersion::absent(&[0; 32], key)
        }
    }
    fn db_state(&self, _db: u8) -> DbState {
        DbState::default()
    }
    fn member_version_at(&self, key: &Key, member: &[u8], order: &[u8; 32]) -> KeyVersion {
        KeyVersion::member_absent(order, key, member)
    }
}

#[test]
fn single_node_drops_a_spore_whose_prerequisites_cannot_hold() {
    let (mut e, key) = engine();
    let store = Versions::default();
    let stale = lpush(
        key.id(),
        9,
        KeyVersion {
            order: [7; 32],
            acc: [0; 32],
        },
    );
    let id = stale.id();
    let effects = e.step(1_000, Input::Submit(vec![stale]), &store);
    assert!(
        effects.iter().any(|f| matches!(f, Effect::Dropped { id: d, reason: DropReason::PrereqsDoNotHold } if *d == id)),
        "{effects:?}"
    );
    assert!(!effects.iter().any(|f| matches!(f, Effect::Broadcast(_))));
}

#[test]
fn single_node_commutative_increments_apply_without_projection_conflicts() {
    let (mut e, key) = engine();
    let store = Versions::default();
    let k = Key::new(0, "ctr");
    let v = store.key_version(&k);
    let incr = |n: u64| Spore {
        origin: key.id(),
        nonce: n,
        deadline_ms: 5_000,
        key_prereqs: vec![KeyPrereq::order_only(k.clone(), v)],
        db_prereqs: vec![],
        ops: vec![Op::IncrBy {
            key: k.clone(),
            delta: BigInt::from(n),
        }],
    };
    let spores: Vec<Spore> = (0..10).map(incr).collect();
    let ids: Vec<SporeId> = spores.iter().map(|s| s.id()).collect();
    let effects = e.step(1_000, Input::Submit(spores), &store);
    let applied: Vec<SporeId> = effects
        .iter()
        .filter_map(|f| match f {
            Effect::Apply { id, .. } => Some(*id),
            _ => None,
        })
        .collect();
    assert_eq!(
        applied, ids,
        "independent spores also apply in submission order"
    );
}
