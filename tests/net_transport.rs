//! The libp2p transport end to end: several nodes in one process on 127.0.0.1 with OS-chosen
//! ports. Conditions are awaited (generous deadlines for a loaded 2-core machine), never slept
//! for, except where a test must show that something does *not* happen.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use libp2p::Multiaddr;
use sporedb::crypto::{NodeId, NodeKey};
use sporedb::net::{self, NetConfig, NetError, NetEvent, NetHandle, Validator, Verdict};
use tokio::task::JoinHandle;

const DEADLINE: Duration = Duration::from_secs(60);
const TOPIC: &str = "sporedb-test/v1";

/// What a node's consumer saw.
#[derive(Default)]
struct Seen {
    gossip: Vec<(NodeId, Vec<u8>)>,
    direct: Vec<(NodeId, Vec<u8>)>,
    ups: Vec<NodeId>,
    downs: Vec<NodeId>,
}

struct Node {
    id: NodeId,
    net: NetHandle,
    seen: Arc<Mutex<Seen>>,
    consumer: JoinHandle<()>,
}

impl Drop for Node {
    fn drop(&mut self) {
        self.net.shutdown();
        self.consumer.abort();
    }
}

impl Node {
    fn addr(&self) -> Multiaddr {
        self.net.listen_addrs()[0].clone()
    }
    fn gossip_payloads(&self) -> Vec<Vec<u8>> {
        let seen = self.seen.lock().expect("lock");
        seen.gossip.iter().map(|(_, d)| d.clone()).collect()
    }
    fn got_gossip(&self, data: &[u8]) -> bool {
        self.gossip_payloads().iter().any(|d| d == data)
    }
}

fn accept_all() -> Validator {
    Arc::new(|_: &NodeId, _: &[u8]| Verdict::Accept)
}

fn key(seed: u8) -> NodeKey {
    NodeKey::from_seed([seed; 32])
}

fn config(seed: u8, bootstrap: Vec<Multiaddr>) -> NetConfig {
    let mut c = NetConfig::new(key(seed), TOPIC, accept_all());
    c.bootstrap = bootstrap;
    c
}

/// Starts a node whose consumer records everything and answers requests starting with `req:`
/// with `re:` + the request (other direct messages are recorded and left unanswered).
async fn start(config: NetConfig) -> Node {
    let id = config.key.id();
    let (net, mut events) = net::start(config).await.expect("network starts");
    let seen = Arc::new(Mutex::new(Seen::default()));
    let sink = seen.clone();
    let consumer = tokio::spawn(async move {
        while let Some(event) = events.recv().await {
            let mut seen = sink.lock().expect("lock");
            match event {
                NetEvent::Gossip { from, data, .. } => seen.gossip.push((from, data.to_vec())),
                NetEvent::Direct {
                    from,
                    data,
                    respond,
                } => {
                    if data.starts_with(b"req:") {
                        let mut answer = b"re:".to_vec();
                        answer.extend_from_slice(&data);
                        respond.send(answer);
                    }
                    seen.direct.push((from, data.to_vec()));
                }
                NetEvent::PeerUp(p) => seen.ups.push(p),
                NetEvent::PeerDown(p) => seen.downs.push(p),
                NetEvent::Listening(_) => {}
            }
        }
    });
    Node {
        id,
        net,
        seen,
        consumer,
    }
}

async fn wait_for(what: &str, mut condition: impl FnMut() -> bool) {
    let start = Instant::now();
    while !condition() {
        assert!(start.elapsed() < DEADLINE, "timed out waiting for: {what}");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// Waits until every node is connected to and sees the topic subscription of every other.
async fn wait_full_mesh(nodes: &[&Node]) {
    for n in nodes {
        let mut others: Vec<NodeId> = nodes.iter().map(|m| m.id).filter(|m| *m != n.id).collect();
        others.sort();
        wait_for("full connectivity", || n.net.peers() == others).await;
        wait_for("topic subscriptions", || n.net.gossip_peers() == others).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn discovery_via_one_bootstrap_then_broadcast_reaches_all() {
    let a = start(config(1, vec![])).await;
    let boot = vec![a.addr()];
    // Started together, so each asks `a` for its peers before `a` knows all of the others:
    // the later peer-exchange rounds must close the gaps.
    let (b, c, d) = tokio::join!(
        start(config(2, boot.clone())),
        start(config(3, boot.clone())),
        start(config(4, boot.clone()))
    );
    let began = Instant::now();
    wait_full_mesh(&[&a, &b, &c, &d]).await;
    eprintln!("4 nodes fully connected after {:?}", began.elapsed());
    assert!(
        began.elapsed() < Duration::from_secs(10),
        "discovery too slow: {:?}",
        began.elapsed()
    );

    c.net.broadcast(b"hello from c".to_vec());
    a.net.broadcast(b"hello from a".to_vec());
    for n in [&a, &b, &d] {
        wait_for("c's broadcast everywhere", || n.got_gossip(b"hello from c")).await;
    }
    for n in [&b, &c, &d] {
        wait_for("a's broadcast everywhere", || n.got_gossip(b"hello from a")).await;
    }
    // Our own broadcast is not delivered back to us, and nothing is delivered twice.
    assert!(!c.got_gossip(b"hello from c"));
    for n in [&a, &b, &d] {
        let copies = n
            .gossip_payloads()
            .iter()
            .filter(|d| d.as_slice() == b"hello from c")
            .count();
        assert_eq!(copies, 1);
    }
    assert_eq!(c.net.stats().gossip_out, 1);
    assert!(b.net.stats().gossip_in >= 2);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rejected_gossip_is_not_relayed() {
    // A line a - b - c (peer exchange off, so a and c never meet): everything c gets from a
    // went through b's validator.
    let mut cb = config(12, vec![]);
    cb.discovery = false;
    let b_calls = Arc::new(AtomicUsize::new(0));
    let calls = b_calls.clone();
    cb.validator = Arc::new(move |_: &NodeId, data: &[u8]| {
        calls.fetch_add(1, Ordering::Relaxed);
        if data.starts_with(b"bad") {
            Verdict::Reject("test says bad".into())
        } else {
            Verdict::Accept
        }
    });
    let b = start(cb).await;
    let mut ca = config(11, vec![b.addr()]);
    ca.discovery = false;
    let mut cc = config(13, vec![b.addr()]);
    cc.discovery = false;
    let (a, c) = tokio::join!(start(ca), start(cc));
    wait_for("a - b", || a.net.peers() == vec![b.id]).await;
    wait_for("c - b", || c.net.peers() == vec![b.id]).await;
    wait_for("b subscribed (a)", || a.net.gossip_peers() == vec![b.id]).await;
    wait_for("b subscribed (c)", || c.net.gossip_peers() == vec![b.id]).await;
    wait_for("a and c subscribed (b)", || b.net.gossip_peers().len() == 2).await;

    a.net.broadcast(b"bad message".to_vec());
    // Good messages follow on the same connection until one arrives at c through b (b's mesh
    // takes a heartbeat or two to include c, hence the retries).
    let mut n = 0;
    let start = Instant::now();
    while !c.gossip_payloads().iter().any(|d| d.starts_with(b"good")) {
        assert!(start.elapsed() < DEADLINE, "no good message relayed to c");
        a.net.broadcast(format!("good {n}").into_bytes());
        n += 1;
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
    wait_for("b judged the bad message", || {
        b.net.stats().gossip_rejected == 1
    })
    .await;
    // Give a stray relay (or gossip IHAVE/IWANT) time to show up before concluding it never will.
    tokio::time::sleep(Duration::from_secs(3)).await;
    assert!(
        !c.got_gossip(b"bad message"),
        "a rejected message was relayed"
    );
    assert!(
        !b.got_gossip(b"bad message"),
        "a rejected message was delivered"
    );
    assert!(b_calls.load(Ordering::Relaxed) >= 2);
    assert!(c.net.peers() == vec![b.id], "a and c must not have met");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn direct_send_and_request_round_trip() {
    let a = start(config(21, vec![])).await;
    let b = start(config(22, vec![a.addr()])).await;
    wait_for("connected", || a.net.peers() == vec![b.id]).await;

    b.net.send(a.id, b"a note".to_vec());
    wait_for("direct message arrives", || {
        a.seen
            .lock()
            .expect("lock")
            .direct
            .contains(&(b.id, b"a note".to_vec()))
    })
    .await;

    let answer = b
        .net
        .request(a.id, b"req:page 7".to_vec())
        .await
        .expect("answer");
    assert_eq!(&answer[..], b"re:req:page 7");
    // A request the consumer does not answer gets an empty answer, not a hang.
    let empty = a
        .net
        .request(b.id, b"no answer".to_vec())
        .await
        .expect("answer");
    assert!(empty.is_empty());

    // Over the size limit: refused locally.
    let too_big = vec![0u8; net::DEFAULT_MAX_MESSAGE_BYTES + 1];
    assert!(matches!(
        b.net.request(a.id, too_big).await,
        Err(NetError::TooLarge { .. })
    ));
    // A node nobody knows an address of: a prompt error, not a hang.
    let stranger = key(99).id();
    assert!(b.net.request(stranger, b"req:x".to_vec()).await.is_err());
    assert_eq!(a.net.stats().direct_in, 2);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn oversized_gossip_is_rejected_before_the_validator() {
    const SMALL: usize = 1024;
    let seen_lengths = Arc::new(Mutex::new(Vec::new()));
    let lengths = seen_lengths.clone();
    let mut cr = config(31, vec![]);
    cr.max_message_bytes = SMALL;
    cr.validator = Arc::new(move |_: &NodeId, data: &[u8]| {
        lengths.lock().expect("lock").push(data.len());
        Verdict::Accept
    });
    let receiver = start(cr).await;
    // The sender allows larger messages than the receiver.
    let sender = start(config(32, vec![receiver.addr()])).await;
    wait_for("subscribed", || {
        sender.net.gossip_peers() == vec![receiver.id]
    })
    .await;

    sender.net.broadcast(vec![7u8; SMALL + 1000]);
    wait_for("oversized counted", || {
        receiver.net.stats().gossip_oversized == 1
    })
    .await;
    sender.net.broadcast(vec![8u8; SMALL]);
    wait_for("limit-sized message delivered", || {
        receiver.got_gossip(&[8u8; SMALL])
    })
    .await;
    assert!(!receiver.got_gossip(&[7u8; SMALL + 1000]));
    assert_eq!(*seen_lengths.lock().expect("lock"), vec![SMALL]);

    // Our own oversized broadcast is refused locally (peers would score us down for it).
    receiver.net.broadcast(vec![9u8; SMALL + 1]);
    wait_for("local refusal counted", || {
        receiver.net.stats().publish_failed == 1
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ban_disconnects_and_refuses_reconnection() {
    let a = start(config(41, vec![])).await;
    let (b, c) = tokio::join!(
        start(config(42, vec![a.addr()])),
        start(config(43, vec![a.addr()]))
    );
    wait_full_mesh(&[&a, &b, &c]).await;

    a.net.ban(b.id, "test evidence".into());
    wait_for("a drops b", || a.net.peers() == vec![c.id]).await;
    wait_for("b loses a", || !b.net.peers().contains(&a.id)).await;
    let ups_before = a.seen.lock().expect("lock").ups.len();
    // b keeps re-dialling its bootstrap peer a (backoff 0.5 s, 1 s, 2 s...) and c keeps
    // telling b where a is: a must refuse every attempt.
    tokio::time::sleep(Duration::from_secs(4)).await;
    assert_eq!(a.net.peers(), vec![c.id]);
    assert_eq!(
        a.seen.lock().expect("lock").ups.len(),
        ups_before,
        "b got back in"
    );
    assert!(a.seen.lock().expect("lock").downs.contains(&b.id));
    assert_eq!(a.net.stats().peers_banned, 1);
    assert!(matches!(
        a.net.request(b.id, b"req:x".to_vec()).await,
        Err(NetError::Banned(_))
    ));
    // The rest of the cluster is undisturbed.
    assert!(b.net.peers().contains(&c.id));
    a.net.broadcast(b"after the ban".to_vec());
    wait_for("a still reaches c", || c.got_gossip(b"after the ban")).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn nodes_leave_and_rejoin_and_bootstrap_is_redialled() {
    let a = start(config(51, vec![])).await;
    let a_addr = a.addr();
    let (b, c) = tokio::join!(
        start(config(52, vec![a_addr.clone()])),
        start(config(53, vec![a_addr.clone()]))
    );
    wait_full_mesh(&[&a, &b, &c]).await;
    let a_id = a.id;

    // c leaves: the others notice, and keep talking.
    let c_id = c.id;
    drop(c);
    wait_for("a sees c leave", || a.net.peers() == vec![b.id]).await;
    wait_for("b sees c leave", || b.net.peers() == vec![a_id]).await;
    // `peers()` is the network task's own state; the PeerDown event reaches the test's
    // event task a moment later, so it is waited for, not sampled.
    wait_for("b's PeerDown event for c", || {
        b.seen.lock().expect("lock").downs.contains(&c_id)
    })
    .await;
    b.net.broadcast(b"still here".to_vec());
    wait_for("a hears b", || a.got_gossip(b"still here")).await;

    // The bootstrap node a restarts on the same address: b re-dials it on its own.
    drop(a);
    wait_for("b sees a leave", || b.net.peers().is_empty()).await;
    let mut again = config(51, vec![]);
    again.listen = vec![a_addr.clone()];
    let a = start(again).await;
    wait_for("b re-dialled a", || b.net.peers() == vec![a.id]).await;

    // c rejoins (new port) and is connected to everyone again.
    let c = start(config(53, vec![a_addr])).await;
    wait_full_mesh(&[&a, &b, &c]).await;
    c.net.broadcast(b"back".to_vec());
    wait_for("a hears c", || a.got_gossip(b"back")).await;
    wait_for("b hears c", || b.got_gossip(b"back")).await;
}

/// Fire-and-forget messages travel on one stream per peer: many arrive, in order, none lost;
/// after the receiver restarts (same key, same address) the sender's broken stream is replaced
/// and messages flow again.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn direct_messages_use_one_stream_in_order_and_survive_a_restart() {
    let a = start(config(61, vec![])).await;
    let b = start(config(62, vec![a.addr()])).await;
    wait_full_mesh(&[&a, &b]).await;
    let directs = |n: &Node| -> Vec<Vec<u8>> {
        let seen = n.seen.lock().expect("lock");
        seen.direct.iter().map(|(_, d)| d.clone()).collect()
    };
    let sent: Vec<Vec<u8>> = (0..500).map(|i| format!("m{i}").into_bytes()).collect();
    for m in &sent {
        a.net.send(b.id, m.clone());
    }
    wait_for("b got all 500", || directs(&b).len() >= 500).await;
    assert_eq!(directs(&b), sent, "in order, none lost or doubled");
    assert_eq!(a.net.stats().direct_failed, 0);
    assert_eq!(b.net.stats().direct_in, 500);

    // b restarts on the same address; a's stream to the old b is dead.
    let b_addr = b.addr();
    let b_id = b.id;
    drop(b);
    wait_for("a sees b leave", || a.net.peers().is_empty()).await;
    let mut again = config(62, vec![a.addr()]);
    again.listen = vec![b_addr];
    let b = start(again).await;
    wait_for("b back", || a.net.peers() == vec![b_id]).await;
    // The first message after the restart may meet the dead stream: it is written again on a
    // new one. Keep sending until one arrives (each attempt is a distinct message).
    let mut i = 0;
    wait_for("a message after the restart", || {
        i += 1;
        a.net.send(b_id, format!("after{i}").into_bytes());
        directs(&b).iter().any(|d| d.starts_with(b"after"))
    })
    .await;
}
