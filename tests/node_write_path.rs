//! The node's real write path without the network front end: client write requests go through
//! the materialiser, the consensus engine (n = 1), group commit into LMDB, and come back as
//! per-op replies. Chains of writes to one key, commutative writes, WATCH failures and expiry
//! deletes are exercised on a real store.

use std::sync::Arc;

use bytes::Bytes;
use num_bigint::BigInt;
use sporedb::crypto::NodeKey;
use sporedb::node::driver::Driver;
use sporedb::node::stats::SporeStats;
use sporedb::node::write_path::{DriverMsg, NodeWritePath};
use sporedb::reply::Reply;
use sporedb::spore::{End, Key, Op, SetCond, Ttl, VersionView};
use sporedb::store::{Store, StoreOptions, StoreRead};
use sporedb::write::{WriteError, WritePath, WriteRequest};

struct Node {
    store: Arc<Store>,
    writes: NodeWritePath,
    tx: std::sync::mpsc::Sender<DriverMsg>,
    thread: Option<std::thread::JoinHandle<()>>,
    stats: Arc<SporeStats>,
    _dir: tempfile::TempDir,
}

impl Node {
    fn start() -> Node {
        let dir = tempfile::tempdir().unwrap();
        let store = Arc::new(Store::open(dir.path(), &StoreOptions { map_size: 1 << 30 }).unwrap());
        let key = NodeKey::from_seed([3; 32]);
        let stats = Arc::new(SporeStats::default());
        let (tx, rx) = std::sync::mpsc::channel();
        let driver =
            Driver::single_node(store.clone(), &key, (tx.clone(), rx), stats.clone()).unwrap();
        let thread = std::thread::spawn(move || driver.run());
        let writes = NodeWritePath::new(tx.clone(), 5_000);
        Node {
            store,
            writes,
            tx,
            thread: Some(thread),
            stats,
            _dir: dir,
        }
    }
}

impl Drop for Node {
    fn drop(&mut self) {
        let _ = self.tx.send(DriverMsg::Shutdown);
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

fn k(name: &str) -> Key {
    Key::new(0, Bytes::copy_from_slice(name.as_bytes()))
}

fn set(name: &str, v: &str) -> Op {
    Op::Set {
        key: k(name),
        value: Bytes::copy_from_slice(v.as_bytes()),
        cond: SetCond::Always,
        ttl: Ttl::Clear,
        get: false,
    }
}

/// RPUSH `elem` onto `name`.
fn rpush(name: &str, elem: impl ToString) -> Op {
    Op::Push {
        key: k(name),
        end: End::Right,
        elems: vec![Bytes::from(elem.to_string())],
        only_if_exists: false,
    }
}

/// Submits RPUSHes of 0..n onto `name` all at once (a pipeline), then checks each reply in
/// order: each push saw exactly the ones before it.
async fn pipelined_pushes(writes: &NodeWritePath, name: &str, n: usize) {
    let futures: Vec<_> = (0..n)
        .map(|i| writes.submit(WriteRequest::blind(vec![rpush(name, i)])))
        .collect();
    for (i, f) in futures.into_iter().enumerate() {
        assert_eq!(f.await.unwrap(), vec![Reply::Int(i as i64 + 1)]);
    }
}

/// Asserts that the list `name` holds "0", "1", … "n-1", in that order.
fn assert_counted_list(store: &Store, name: &str, n: usize) {
    let all: Vec<Vec<u8>> = store
        .read()
        .unwrap()
        .list_all(&k(name), 0)
        .unwrap()
        .into_iter()
        .map(|e| e.to_vec())
        .collect();
    assert_eq!(
        all,
        (0..n)
            .map(|i| i.to_string().into_bytes())
            .collect::<Vec<_>>(),
        "list {name}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn writes_commit_and_apply_in_submission_order() {
    let node = Node::start();
    // Many pipelined pushes to one key: a chain of spores, all committed, in order.
    pipelined_pushes(&node.writes, "l", 200).await;
    assert_counted_list(&node.store, "l", 200);
    assert_eq!(SporeStats::get(&node.stats.committed), 200);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn commutative_increments_beyond_i64() {
    let node = Node::start();
    let big = BigInt::from(i64::MAX);
    let futures: Vec<_> = (0..10)
        .map(|_| {
            node.writes.submit(WriteRequest::blind(vec![Op::IncrBy {
                key: k("c"),
                delta: big.clone(),
            }]))
        })
        .collect();
    for f in futures {
        f.await.unwrap();
    }
    let read = node.store.read().unwrap();
    let expected = (big * BigInt::from(10)).to_string();
    assert_eq!(
        read.string(&k("c"), 0).unwrap().unwrap(),
        expected.as_bytes()
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_changed_watched_key_fails_the_write_and_applies_nothing() {
    let node = Node::start();
    node.writes
        .submit(WriteRequest::blind(vec![set("w", "1")]))
        .await
        .unwrap();
    let watched = node.store.read().unwrap().key_version(&k("w"));
    node.writes
        .submit(WriteRequest::blind(vec![set("w", "2")]))
        .await
        .unwrap();
    let r = node
        .writes
        .submit(WriteRequest {
            ops: vec![set("x", "1")],
            watched: vec![(k("w"), watched)],
        })
        .await;
    assert_eq!(r, Err(WriteError::WatchFailed));
    assert!(node
        .store
        .read()
        .unwrap()
        .string(&k("x"), 0)
        .unwrap()
        .is_none());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn writes_to_an_expired_key_see_it_absent() {
    let node = Node::start();
    let past = Op::Set {
        key: k("e"),
        value: Bytes::from_static(b"old"),
        cond: SetCond::Always,
        ttl: Ttl::At(1),
        get: false,
    };
    node.writes
        .submit(WriteRequest::blind(vec![past]))
        .await
        .unwrap();
    // SET NX succeeds because the key is expired at the origin; GET-style reply is nil.
    let nx = Op::Set {
        key: k("e"),
        value: Bytes::from_static(b"new"),
        cond: SetCond::Nx,
        ttl: Ttl::Clear,
        get: true,
    };
    let r = node
        .writes
        .submit(WriteRequest::blind(vec![nx]))
        .await
        .unwrap();
    assert_eq!(
        r,
        vec![Reply::Nil],
        "only the client's op replies; the inserted delete is hidden"
    );
    assert_eq!(
        node.store
            .read()
            .unwrap()
            .string(&k("e"), u64::MAX / 2)
            .unwrap()
            .unwrap(),
        b"new"
    );
}

/// Blind writes on a few hot keys from many concurrent writers, each waiting for its reply
/// before the next, so that one engine step often takes several writes to one key: on one
/// node no spore may conflict. The counter is both incremented (commutative: its version
/// accumulates) and rewritten (a full prerequisite on its version); a SET built in the same
/// batch after pending INCRs named their accumulation, which the engine could not credit, and
/// was dropped and retried (3-6 retries per run before the driver split such batches).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn hot_keys_under_concurrent_blind_writes_never_conflict() {
    let node = Arc::new(Node::start());
    const WRITERS: usize = 8;
    const EACH: usize = 150;
    let tasks: Vec<_> = (0..WRITERS)
        .map(|w| {
            let node = node.clone();
            tokio::spawn(async move {
                for i in 0..EACH {
                    let op = match i % 4 {
                        // A counter both rewritten (a prerequisite on its version) and
                        // incremented (commutative: its version accumulates the increments).
                        0 => set("hot:c", "5"),
                        3 => Op::IncrBy {
                            key: k("hot:c"),
                            delta: BigInt::from(1),
                        },
                        1 => rpush("hot:l", format!("{w}.{i}")),
                        _ => Op::Append {
                            key: k("hot:a"),
                            data: Bytes::from_static(b"x"),
                        },
                    };
                    node.writes
                        .submit(WriteRequest::blind(vec![op]))
                        .await
                        .unwrap_or_else(|e| panic!("writer {w}, write {i}: {e:?}"));
                }
            })
        })
        .collect();
    for t in tasks {
        t.await.unwrap();
    }
    let pushes = (0..EACH).filter(|i| i % 4 == 1).count() * WRITERS;
    let appends = (0..EACH).filter(|i| i % 4 == 2).count() * WRITERS;
    let read = node.store.read().unwrap();
    assert_eq!(read.list_all(&k("hot:l"), 0).unwrap().len(), pushes);
    assert_eq!(read.string(&k("hot:a"), 0).unwrap().unwrap().len(), appends);
    assert_eq!(
        SporeStats::get(&node.stats.committed),
        (WRITERS * EACH) as u64
    );
    assert_eq!(
        SporeStats::get(&node.stats.retried),
        0,
        "a blind write on one node conflicted"
    );
    assert_eq!(SporeStats::get(&node.stats.dropped), 0);
}

/// `SPORE.*` requests answer from the store as committed, so the driver first waits for every
/// group its writer thread still holds, parking the messages that arrive meanwhile. With
/// writers pipelining pushes and an admin client asking all the time, every push must still
/// commit, in each writer's order, and every request be answered.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn admin_requests_between_pipelined_writes_lose_and_reorder_nothing() {
    use sporedb::commands::spore_admin::{AdminRequest, SporeAdmin};
    use sporedb::node::admin::DriverAdmin;

    let node = Arc::new(Node::start());
    const WRITERS: usize = 6;
    const EACH: usize = 100;
    let admin = DriverAdmin::new(node.tx.clone());
    let run = async {
        let writers: Vec<_> = (0..WRITERS)
            .map(|w| {
                let node = node.clone();
                tokio::spawn(async move {
                    pipelined_pushes(&node.writes, &format!("l{w}"), EACH).await;
                })
            })
            .collect();
        for i in 0..200u8 {
            let request = if i % 2 == 0 {
                AdminRequest::Pending
            } else {
                AdminRequest::Status(sporedb::spore::SporeId([i; 32]))
            };
            match admin.request(request).await {
                Ok(_) | Err(sporedb::error::RedisError::NoSuchSpore { .. }) => {}
                Err(e) => panic!("admin request {i}: {e:?}"),
            }
            tokio::task::yield_now().await;
        }
        for w in writers {
            w.await.unwrap();
        }
    };
    tokio::time::timeout(std::time::Duration::from_secs(60), run)
        .await
        .expect("a write or an admin request was never answered");
    for w in 0..WRITERS {
        assert_counted_list(&node.store, &format!("l{w}"), EACH);
    }
    assert_eq!(
        SporeStats::get(&node.stats.committed),
        (WRITERS * EACH) as u64
    );
}

/// `SET s value GET` (a blind write: its prerequisite is the key's projected version).
fn set_get(value: usize) -> Op {
    Op::Set {
        key: k("s"),
        value: Bytes::from(value.to_string()),
        cond: SetCond::Always,
        ttl: Ttl::Clear,
        get: true,
    }
}

/// LMDB's reader table full now and then while writes run (another thread takes every free
/// slot for a moment, again and again): a write may fail with a clear error, but the
/// acknowledged `SET … GET`s form one chain (each saw the one before it) that ends in the
/// stored value, and none that failed is in it. Once readers are free again, writes to the
/// key all succeed. That last part failed while the driver could lose the news that spores
/// were applied (a store read failed in that step): the engine kept projecting them over a
/// store that already held them, so every later write to the key missed its prerequisite
/// until its deadline.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_full_reader_table_fails_writes_cleanly_and_loses_no_confirmation() {
    use std::collections::BTreeMap;
    use std::sync::atomic::{AtomicBool, Ordering};
    use std::time::Duration;

    let node = Node::start();
    let stop = Arc::new(AtomicBool::new(false));
    let hog = {
        let (store, stop) = (node.store.clone(), stop.clone());
        std::thread::spawn(move || {
            let mut full = 0;
            while !stop.load(Ordering::Relaxed) {
                let mut held = Vec::new();
                while held.len() < 4096 {
                    match sporedb::store::HeldRead::begin(store.clone()) {
                        Ok(r) => held.push(r),
                        Err(_) => {
                            full += 1;
                            break;
                        }
                    }
                }
                std::thread::sleep(Duration::from_micros(700));
                drop(held);
                std::thread::sleep(Duration::from_micros(300));
            }
            full
        })
    };
    // Acknowledged writes: the value each one replaced ("" for none) -> its own value.
    let mut after: BTreeMap<String, String> = BTreeMap::new();
    let mut failed = 0;
    for wave in 0..40 {
        let futures: Vec<_> = (wave * 25..wave * 25 + 25)
            .map(|i| (i, node.writes.submit(WriteRequest::blind(vec![set_get(i)]))))
            .collect();
        for (i, f) in futures {
            match f.await {
                Ok(r) => {
                    let prev = match r.as_slice() {
                        [Reply::Nil] => String::new(),
                        [Reply::Bulk(b)] => String::from_utf8(b.to_vec()).unwrap(),
                        other => panic!("write {i}: {other:?}"),
                    };
                    let twice = after.insert(prev.clone(), i.to_string());
                    assert!(twice.is_none(), "two writes replaced {prev:?}");
                }
                Err(e) => {
                    assert!(matches!(e, WriteError::Unavailable), "write {i}: {e:?}");
                    failed += 1;
                }
            }
        }
    }
    stop.store(true, Ordering::Relaxed);
    let full = hog.join().unwrap();
    assert!(full > 0, "the reader table was never full");
    // Follow the chain from the empty key: it covers every acknowledged write and ends in
    // the stored value.
    let (mut at, mut len) = (String::new(), 0);
    while let Some(next) = after.get(&at) {
        at = next.clone();
        len += 1;
    }
    assert_eq!(len, after.len(), "{failed} writes failed; chain {after:?}");
    let read = node.store.read().unwrap();
    let stored = read.string(&k("s"), 0).unwrap().map(<[u8]>::to_vec);
    assert_eq!(stored, (len > 0).then(|| at.clone().into_bytes()));
    drop(read);
    // Readers free again: every write succeeds and sees the one before it.
    for i in 1000..1050 {
        let r = node.writes.submit(WriteRequest::blind(vec![set_get(i)]));
        let expected = if at.is_empty() {
            Reply::Nil
        } else {
            Reply::Bulk(Bytes::from(at.clone()))
        };
        assert_eq!(
            r.await,
            Ok(vec![expected]),
            "write {i} after the readers left"
        );
        at = i.to_string();
    }
    // Every applied spore is confirmed to the engine once nothing is in flight (the last
    // group's confirmation follows its replies).
    let deadline = std::time::Instant::now() + Duration::from_secs(5);
    while SporeStats::get(&node.stats.unconfirmed) != 0 && std::time::Instant::now() < deadline {
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    assert_eq!(
        SporeStats::get(&node.stats.unconfirmed),
        0,
        "unconfirmed spores"
    );
    eprintln!("reader table full {full} times; {len} writes acknowledged, {failed} failed");
}
