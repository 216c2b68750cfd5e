//! One Byzantine endorser among four, as a real libp2p peer: three honest `sporedb` processes
//! and, in this test process, node 4's key driving its own libp2p node. It gossips a forged
//! spore batch (flipped signature) and equivocates: it endorses two mutually exclusive spores.
//! The honest nodes must not apply the forgery, must produce signed evidence naming node 4
//! (`SPORE.EVIDENCE`), and must keep committing writes among themselves.

mod common;

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::{Duration, Instant};

use bytes::Bytes;
use sporedb::cluster::GlobalPolicy;
use sporedb::consensus::wire::encode_message;
use sporedb::consensus::{Bundle, EndorseBatch, Message, SporeBatch};
use sporedb::net::{NetConfig, Verdict};
use sporedb::spore::*;

use common::TestNode;

fn now_ms() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .expect("clock")
        .as_millis() as u64
}

fn set_x(
    origin: &sporedb::crypto::NodeKey,
    nonce: u64,
    value: &'static str,
    deadline: u64,
) -> Spore {
    let key = Key::new(0, Bytes::from_static(b"x"));
    Spore {
        origin: origin.id(),
        nonce,
        deadline_ms: deadline,
        key_prereqs: vec![KeyPrereq::full(
            key.clone(),
            KeyVersion::absent(&[0; 32], &key),
        )],
        db_prereqs: vec![],
        ops: vec![Op::Set {
            key,
            value: Bytes::from_static(value.as_bytes()),
            cond: SetCond::Always,
            ttl: Ttl::Clear,
            get: false,
        }],
    }
}

#[test]
fn equivocating_and_forging_endorser_is_tolerated_and_reported() {
    let tmp = tempfile::tempdir().expect("tmp");
    let dir = tmp.path();
    let ports = common::demo_cluster_files(dir, 4);
    let honest: Vec<TestNode> = (1..=3)
        .map(|k| {
            let d = dir.join(format!("node{k}"));
            let c = d.join("sporedb.toml").to_str().expect("utf8").to_string();
            TestNode::start_in(&d, &["--config", &c])
        })
        .collect();
    let cons: Vec<redis::Client> = honest
        .iter()
        .map(|n| redis::Client::open(n.url()).expect("client"))
        .collect();

    // The Byzantine node: node 4's key on its own libp2p node, bootstrapping from node 1.
    let (byz, _) = sporedb::node::keyfile::load_or_create(&dir.join("node4")).expect("key");
    let policy = GlobalPolicy::load(&dir.join("policy.toml")).expect("policy");
    let rt = tokio::runtime::Runtime::new().expect("runtime");
    let mut cfg = NetConfig::new(
        byz.clone(),
        sporedb::node::cluster::topic_for(&policy),
        Arc::new(|_: &sporedb::crypto::NodeId, _: &[u8]| Verdict::Accept),
    );
    cfg.listen = vec![format!("/ip4/127.0.0.1/tcp/{}", ports[3])
        .parse()
        .expect("addr")];
    cfg.bootstrap = vec![format!("/ip4/127.0.0.1/tcp/{}", ports[0])
        .parse()
        .expect("addr")];
    let (net, mut events) = rt.block_on(sporedb::net::start(cfg)).expect("net");
    rt.spawn(async move { while events.recv().await.is_some() {} });
    let deadline = Instant::now() + Duration::from_secs(30);
    while net.gossip_peers().len() < 3 {
        assert!(
            Instant::now() < deadline,
            "byzantine peer did not join the mesh"
        );
        std::thread::sleep(Duration::from_millis(200));
    }

    // 1. A forged batch: node 4 "signs" a spore but the signature is broken.
    let forged_spore = Arc::new(set_x(&byz, 1, "forged", now_ms() + 4_000));
    let mut forged = SporeBatch::sign(&byz, vec![forged_spore]);
    forged.signature[7] ^= 0x40;
    net.broadcast(encode_message(&Message::Bundle(Bundle {
        spores: vec![Arc::new(forged)],
        ..Bundle::default()
    })));

    // 2. Equivocation: two spores that both require x absent, both endorsed by node 4.
    let d = now_ms() + 4_000;
    let a = Arc::new(set_x(&byz, 2, "a", d));
    let b = Arc::new(set_x(&byz, 3, "b", d));
    let (ia, ib) = (a.id(), b.id());
    let bundle = Bundle {
        spores: vec![
            Arc::new(SporeBatch::sign(&byz, vec![a])),
            Arc::new(SporeBatch::sign(&byz, vec![b])),
        ],
        endorsements: vec![
            Arc::new(EndorseBatch::sign(&byz, vec![ia])),
            Arc::new(EndorseBatch::sign(&byz, vec![ib])),
        ],
        rejections: vec![],
    };
    net.broadcast(encode_message(&Message::Bundle(bundle)));

    // Evidence naming node 4 appears on the honest nodes.
    let culprit = hex::encode(byz.id());
    let deadline = Instant::now() + Duration::from_secs(30);
    'wait: loop {
        for c in &cons {
            let mut con = c.get_connection().expect("con");
            let ev: Vec<BTreeMap<String, redis::Value>> = redis::cmd("SPORE.EVIDENCE")
                .query(&mut con)
                .expect("evidence");
            let named = ev.iter().any(|e| match e.get("culprit") {
                Some(redis::Value::BulkString(b)) => b == culprit.as_bytes(),
                _ => false,
            });
            if named {
                break 'wait;
            }
        }
        assert!(
            Instant::now() < deadline,
            "no evidence against the equivocating node"
        );
        std::thread::sleep(Duration::from_millis(300));
    }

    // The forgery is never applied; at most one of the two conflicting spores is.
    std::thread::sleep(Duration::from_secs(7));
    for c in &cons {
        let mut con = c.get_connection().expect("con");
        let x: Option<String> = redis::cmd("GET").arg("x").query(&mut con).expect("get");
        assert_ne!(x.as_deref(), Some("forged"), "a forged spore was applied");
    }
    // The honest nodes keep committing (ω = 3 of the 3 honest ones) and agree.
    let mut con = cons[1].get_connection().expect("con");
    let _: String = redis::cmd("SET")
        .arg("honest")
        .arg("1")
        .query(&mut con)
        .expect("honest write");
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        let vals: Vec<(Option<String>, Option<String>)> = cons
            .iter()
            .map(|c| {
                let mut con = c.get_connection().expect("con");
                (
                    redis::cmd("GET")
                        .arg("honest")
                        .query(&mut con)
                        .expect("get"),
                    redis::cmd("GET").arg("x").query(&mut con).expect("get"),
                )
            })
            .collect();
        if vals.iter().all(|v| v == &vals[0]) && vals[0].0.as_deref() == Some("1") {
            break;
        }
        assert!(Instant::now() < deadline, "honest nodes disagree: {vals:?}");
        std::thread::sleep(Duration::from_millis(300));
    }
    net.shutdown();
    drop(honest);
}
