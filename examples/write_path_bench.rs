//! Measures the node's write path without the network: C concurrent clients each submit
//! blind writes one at a time through the real driver (materialise, engine n = 1, durable group
//! commit). Not a test: prints throughput. `cargo run --release --example write_path_bench [clients] [writes] [op]`.

use std::sync::Arc;
use std::time::Instant;

use bytes::Bytes;
use num_bigint::BigInt;
use sporedb::crypto::NodeKey;
use sporedb::node::driver::Driver;
use sporedb::node::stats::SporeStats;
use sporedb::node::write_path::{DriverMsg, NodeWritePath};
use sporedb::spore::{Key, Op, SetCond, Ttl};
use sporedb::store::{Store, StoreOptions};
use sporedb::write::{WritePath, WriteRequest};

fn main() {
    let args: Vec<String> = std::env::args().collect();
    let clients: usize = args.get(1).and_then(|s| s.parse().ok()).unwrap_or(50);
    let writes: usize = args.get(2).and_then(|s| s.parse().ok()).unwrap_or(20_000);
    let op = args.get(3).cloned().unwrap_or_else(|| "set".into());
    let dir = tempfile::tempdir().unwrap();
    let store = Arc::new(Store::open(dir.path(), &StoreOptions { map_size: 4 << 30 }).unwrap());
    let key = NodeKey::from_seed([3; 32]);
    let stats = Arc::new(SporeStats::default());
    let (tx, rx) = std::sync::mpsc::channel();
    let driver = Driver::single_node(store.clone(), &key, (tx.clone(), rx), stats.clone()).unwrap();
    let thread = std::thread::Builder::new()
        .name("driver".into())
        .spawn(move || driver.run())
        .unwrap();
    let writes_path = Arc::new(NodeWritePath::new(tx.clone(), 5_000));
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    let start = Instant::now();
    rt.block_on(async {
        let mut tasks = Vec::new();
        for c in 0..clients {
            let w = writes_path.clone();
            let op = op.clone();
            let per = writes / clients;
            tasks.push(tokio::spawn(async move {
                for i in 0..per {
                    let name = Bytes::from(format!("key:{c}:{i}"));
                    let o = match op.as_str() {
                        "incr" => Op::IncrBy {
                            key: Key::new(0, "counter"),
                            delta: BigInt::from(1),
                        },
                        _ => Op::Set {
                            key: Key::new(0, name),
                            value: Bytes::from_static(b"xxx"),
                            cond: SetCond::Always,
                            ttl: Ttl::Clear,
                            get: false,
                        },
                    };
                    w.submit(WriteRequest::blind(vec![o])).await.unwrap();
                }
            }));
        }
        for t in tasks {
            t.await.unwrap();
        }
    });
    let secs = start.elapsed().as_secs_f64();
    let batches = SporeStats::get(&stats.batches);
    println!("{op}: {writes} writes by {clients} clients in {secs:.2}s = {:.0}/s, {batches} group commits ({:.1} spores each)", writes as f64 / secs, writes as f64 / batches.max(1) as f64);
    let _ = tx.send(DriverMsg::Shutdown);
    let _ = thread.join();
}
