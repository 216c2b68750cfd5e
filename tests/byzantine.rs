//! One Byzantine endorser among four, as a real libp2p peer: three honest `sporedb` processes
//! and, in this test process, node 4's key driving its own libp2p node. It gossips a forged
//! spore batch (flipped signature) and equivocates: it endorses two mutually exclusive spores.
//! The honest nodes must not apply the forgery, must produce signed evidence naming node 4
//! (`SPORE.EVIDENCE`), and must keep committing writes among themselves. It also signs a false
//! state root: the honest nodes keep it as evidence of a conflict and keep serving reads.

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

use common::cluster::info_field;
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

/// Three honest nodes and, in this process, node 4's key on its own libp2p node in their mesh.
struct Setup {
    _tmp: tempfile::TempDir,
    _honest: Vec<TestNode>,
    cons: Vec<redis::Client>,
    byz: sporedb::crypto::NodeKey,
    net: sporedb::net::NetHandle,
    _rt: tokio::runtime::Runtime,
}

fn setup() -> Setup {
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
    Setup {
        _tmp: tmp,
        _honest: honest,
        cons,
        byz,
        net,
        _rt: rt,
    }
}

#[test]
fn equivocating_and_forging_endorser_is_tolerated_and_reported() {
    let s = setup();
    let (cons, byz, net) = (s.cons.as_slice(), &s.byz, &s.net);

    // 1. A forged batch: node 4 "signs" a spore but the signature is broken.
    let forged_spore = Arc::new(set_x(byz, 1, "forged", now_ms() + 4_000));
    let mut forged = SporeBatch::sign(byz, vec![forged_spore]);
    forged.signature[7] ^= 0x40;
    net.broadcast(encode_message(&Message::Bundle(Bundle {
        spores: vec![Arc::new(forged)],
        ..Bundle::default()
    })));

    // 2. Equivocation: two spores that both require x absent, both endorsed by node 4.
    let d = now_ms() + 4_000;
    let a = Arc::new(set_x(byz, 2, "a", d));
    let b = Arc::new(set_x(byz, 3, "b", d));
    let (ia, ib) = (a.id(), b.id());
    let bundle = Bundle {
        spores: vec![
            Arc::new(SporeBatch::sign(byz, vec![a])),
            Arc::new(SporeBatch::sign(byz, vec![b])),
        ],
        endorsements: vec![
            Arc::new(EndorseBatch::sign(byz, vec![ia])),
            Arc::new(EndorseBatch::sign(byz, vec![ib])),
        ],
        rejections: vec![],
    };
    net.broadcast(encode_message(&Message::Bundle(bundle)));

    // Evidence naming node 4 appears on the honest nodes.
    let culprit = hex::encode(byz.id());
    let deadline = Instant::now() + Duration::from_secs(30);
    'wait: loop {
        for c in cons {
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
    for c in cons {
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
    drop(s);
}

/// The honest nodes' common root, once they hold the same one.
fn common_root(cons: &[redis::Client]) -> sporedb::root::Root {
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let roots: Vec<(String, String, u64)> = cons
            .iter()
            .map(|c| {
                let mut con = c.get_connection().expect("con");
                let (root, digest, count, _, _): (String, String, u64, String, String) =
                    redis::cmd("SPORE.ROOT").query(&mut con).expect("root");
                (root, digest, count)
            })
            .collect();
        if roots.windows(2).all(|w| w[0] == w[1]) {
            let hex32 = |h: &str| -> [u8; 32] {
                hex::decode(h).expect("hex").try_into().expect("32 bytes")
            };
            return sporedb::root::Root {
                root: hex32(&roots[0].0),
                applied_digest: hex32(&roots[0].1),
                applied_count: roots[0].2,
            };
        }
        assert!(Instant::now() < deadline, "honest roots differ: {roots:?}");
        std::thread::sleep(Duration::from_millis(200));
    }
}

/// One endorser (f = 1) signs a false root for the applied spores the honest nodes hold, and
/// gossips a forged attestation besides. The honest nodes keep the signed lie as evidence of a
/// conflict, drop the forgery, and go on serving reads: f lying endorsers cannot make an honest
/// node stop (that takes f + 1 agreeing on one root, `root::book`).
#[test]
fn lying_attestation_is_evidence_not_a_verdict() {
    let s = setup();
    let (cons, byz, net) = (s.cons.as_slice(), &s.byz, &s.net);
    let mut con = cons[0].get_connection().expect("con");
    for i in 0..5 {
        let _: String = redis::cmd("SET")
            .arg(format!("k{i}"))
            .arg("v")
            .query(&mut con)
            .expect("honest write");
    }
    let truth = common_root(cons);
    // Each honest node must have recorded its own root at this applied set before the lie
    // arrives (it looks at its root every 250 ms).
    std::thread::sleep(Duration::from_secs(1));

    let lie = sporedb::root::Root {
        root: [0x66; 32],
        ..truth
    };
    let signed = sporedb::root::SignedRoot {
        root: lie,
        attestation: sporedb::root::attest(byz, &lie),
    };
    // The breakdown by database must fold to the signed root: one single-leaf database whose
    // hash is the lie does.
    let mut lie_dbs = sporedb::root::DbRoots::default();
    lie_dbs.0[0] = Some(sporedb::root::DbRoot {
        hash: lie.root,
        leaf: true,
    });
    net.broadcast(sporedb::root::gossip::encode(&signed, &lie_dbs));
    // A forged one too: node 4's attestation with a broken signature.
    let mut forged = signed;
    forged.root.root = [0x77; 32];
    forged.attestation.signature[3] ^= 1;
    let mut forged_dbs = lie_dbs;
    forged_dbs.0[0] = Some(sporedb::root::DbRoot {
        hash: forged.root.root,
        leaf: true,
    });
    net.broadcast(sporedb::root::gossip::encode(&forged, &forged_dbs));

    let culprit = hex::encode(byz.id());
    for c in cons {
        let mut con = c.get_connection().expect("con");
        let deadline = Instant::now() + Duration::from_secs(20);
        while info_field(&mut con, "state_root_conflicts") == "0" {
            assert!(
                Instant::now() < deadline,
                "no conflict recorded for the lying attestation"
            );
            std::thread::sleep(Duration::from_millis(200));
        }
        // Exactly the signed lie: the forged attestation was dropped by the gossip validator.
        assert_eq!(info_field(&mut con, "state_root_conflicts"), "1");
        let report: BTreeMap<String, redis::Value> = redis::cmd("SPORE.ATTESTATIONS")
            .query(&mut con)
            .expect("attestations");
        let Some(redis::Value::Array(conflicts)) = report.get("conflicts") else {
            panic!("no conflicts in {report:?}");
        };
        let text = format!("{conflicts:?}");
        assert!(
            text.contains(&culprit) && text.contains(&"66".repeat(32)),
            "the conflict must carry node 4's signed lie: {text}"
        );
        assert!(!text.contains(&"77".repeat(32)), "forgery kept: {text}");
        // One liar is no divergence: no database is refused.
        assert_eq!(
            report.get("diverged_dbs"),
            Some(&redis::Value::Array(Vec::new())),
            "{report:?}"
        );
        assert_eq!(info_field(&mut con, "state_diverged"), "0");
        assert_eq!(info_field(&mut con, "state_reads_refused_dbs"), "");
        assert_eq!(info_field(&mut con, "state_reads"), "served");
        let v: Option<String> = redis::cmd("GET").arg("k0").query(&mut con).expect("read");
        assert_eq!(v.as_deref(), Some("v"));
    }
    net.shutdown();
    drop(s);
}
