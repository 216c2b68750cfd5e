//! What the state root costs, in one run: (1) single-node write throughput through the real
//! write path (driver, engine n = 1, durable group commits) with root maintenance off and on,
//! alternating rounds so machine noise hits both alike; (2) proof latency (prove + encode, and
//! verify) on a store of N keys (default 1M). Not a test: prints figures.
//! `cargo run --release --example root_bench [clients] [writes per round] [rounds] [proof keys]`

use std::sync::Arc;
use std::time::Instant;

use bytes::Bytes;
use sporedb::crypto::NodeKey;
use sporedb::node::driver::Driver;
use sporedb::node::stats::SporeStats;
use sporedb::node::write_path::{DriverMsg, NodeWritePath};
use sporedb::root::StateRootRead;
use sporedb::spore::{Key, KeyVersion, Op, SetCond, Ttl};
use sporedb::store::layout::{self, Payload, RawRecord};
use sporedb::store::{KvWrite, RootOptions, Store, StoreOptions, Table};
use sporedb::write::{WritePath, WriteRequest};

fn arg(i: usize, default: usize) -> usize {
    std::env::args()
        .nth(i)
        .and_then(|s| s.parse().ok())
        .unwrap_or(default)
}

/// The calling thread's CPU time in µs (the driver thread's, measured from inside it).
fn thread_cpu_us() -> f64 {
    let t = rustix::time::clock_gettime(rustix::time::ClockId::ThreadCPUTime);
    t.tv_sec as f64 * 1e6 + t.tv_nsec as f64 / 1e3
}

/// Writes/s of `writes` SETs by `clients` concurrent clients on a fresh store, and the driver
/// thread's CPU µs per write (the driver is the only store writer and does all the root work;
/// its CPU per write does not depend on what else the machine runs, unlike writes/s).
fn write_round(maintain: bool, clients: usize, writes: usize, round: usize) -> (f64, f64) {
    let dir = tempfile::tempdir().unwrap();
    let root = RootOptions {
        maintain,
        scrub_on_open: false,
    };
    let store =
        Arc::new(Store::open_with(dir.path(), &StoreOptions { map_size: 4 << 30 }, root).unwrap());
    let key = NodeKey::from_seed([3; 32]);
    let stats = Arc::new(SporeStats::default());
    let (tx, rx) = std::sync::mpsc::channel();
    let driver = Driver::single_node(store.clone(), &key, rx, stats.clone()).unwrap();
    let thread = std::thread::spawn(move || {
        let t = thread_cpu_us();
        driver.run();
        thread_cpu_us() - t
    });
    let path = Arc::new(NodeWritePath::new(tx.clone(), 5_000));
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    let start = Instant::now();
    rt.block_on(async {
        let mut tasks = Vec::new();
        for c in 0..clients {
            let w = path.clone();
            let per = writes / clients;
            tasks.push(tokio::spawn(async move {
                for i in 0..per {
                    let op = Op::Set {
                        key: Key::new(0, Bytes::from(format!("key:{round}:{c}:{i}"))),
                        value: Bytes::from_static(b"xxx"),
                        cond: SetCond::Always,
                        ttl: Ttl::Clear,
                        get: false,
                    };
                    w.submit(WriteRequest::blind(vec![op])).await.unwrap();
                }
            }));
        }
        for t in tasks {
            t.await.unwrap();
        }
    });
    let rate = writes as f64 / start.elapsed().as_secs_f64();
    let _ = tx.send(DriverMsg::Shutdown);
    let cpu = thread.join().unwrap_or(f64::NAN);
    let groups = SporeStats::get(&stats.batches).max(1);
    eprintln!(
        "  (root {}: {:.1} writes per commit group)",
        if maintain { "on" } else { "off" },
        writes as f64 / groups as f64
    );
    (rate, cpu / writes as f64)
}

fn percentile(sorted: &[f64], p: f64) -> f64 {
    sorted[((sorted.len() as f64 - 1.0) * p) as usize]
}

/// Loads `n` string keys (records written directly, 10k per transaction, the tree updated at
/// each commit), then times proofs of random keys.
fn proof_latency(n: usize) {
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(dir.path(), &StoreOptions { map_size: 8 << 30 }).unwrap();
    let t = Instant::now();
    let version = KeyVersion {
        order: [1; 32],
        acc: [2; 32],
    };
    for chunk in (0..n).collect::<Vec<_>>().chunks(10_000) {
        let mut w = store.write().unwrap();
        for i in chunk {
            let value = format!("value-{i}");
            let rec = RawRecord {
                expire_at_ms: 0,
                version,
                payload: Payload::String(value.as_bytes()),
            };
            let key = layout::key_key(&Key::new(0, Bytes::from(format!("key:{i:08}"))));
            w.put(Table::Keys, &key, &layout::encode_record(&rec))
                .unwrap();
        }
        w.commit().unwrap();
    }
    let load = t.elapsed().as_secs_f64();
    println!(
        "proof store: {n} keys loaded in {load:.1}s ({:.0} keys/s incl. tree, 10k per txn)",
        n as f64 / load
    );
    let t = Instant::now();
    let verdict = store.scrub().unwrap();
    println!(
        "scrub (recompute root from data) of {n} keys: {:.1}s, {verdict:?}",
        t.elapsed().as_secs_f64()
    );
    let txn = store.read().unwrap();
    let root = txn.state_root().unwrap();
    let mut prove = Vec::new();
    let mut verify = Vec::new();
    let mut x: u64 = 0x9e37_79b9_7f4a_7c15;
    let mut bytes = 0;
    for i in 0..20_000 {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        // Every other proof is of an absent key.
        let name = if i % 2 == 0 {
            format!("key:{:08}", x % n as u64)
        } else {
            format!("absent:{x}")
        };
        let t = Instant::now();
        let p = txn.prove(0, name.as_bytes()).unwrap();
        let hex = p.to_hex();
        prove.push(t.elapsed().as_secs_f64() * 1e6);
        bytes += hex.len() / 2;
        let t = Instant::now();
        p.verify(&root.root).unwrap();
        verify.push(t.elapsed().as_secs_f64() * 1e6);
    }
    prove.sort_by(f64::total_cmp);
    verify.sort_by(f64::total_cmp);
    println!(
        "proofs at {n} keys (20k, half absent): prove+encode p50 {:.0} µs p99 {:.0} µs max {:.0} µs; verify p50 {:.0} µs p99 {:.0} µs; {} bytes avg",
        percentile(&prove, 0.5),
        percentile(&prove, 0.99),
        prove[prove.len() - 1],
        percentile(&verify, 0.5),
        percentile(&verify, 0.99),
        bytes / 20_000
    );
}

fn main() {
    let clients = arg(1, 50);
    let writes = arg(2, 20_000);
    let rounds = arg(3, 3);
    let proof_keys = arg(4, 1_000_000);
    let (mut off, mut on) = (Vec::new(), Vec::new());
    let (mut off_cpu, mut on_cpu) = (Vec::new(), Vec::new());
    // ROOT_BENCH_ONLY_ON=1 runs only the root-on rounds (for profiling what the root costs).
    let only_on = std::env::var_os("ROOT_BENCH_ONLY_ON").is_some();
    for r in 0..rounds {
        let (rate, cpu) = if only_on {
            (f64::NAN, f64::NAN)
        } else {
            write_round(false, clients, writes, r)
        };
        off.push(rate);
        off_cpu.push(cpu);
        let (rate, cpu) = write_round(true, clients, writes, r);
        on.push(rate);
        on_cpu.push(cpu);
        println!(
            "round {r}: root off {:.0} writes/s ({:.1} µs driver CPU/write), root on {:.0} writes/s ({:.1} µs)",
            off[r], off_cpu[r], on[r], on_cpu[r]
        );
    }
    if rounds > 0 {
        let (off_m, on_m) = (median(&mut off), median(&mut on));
        let (off_c, on_c) = (median(&mut off_cpu), median(&mut on_cpu));
        println!(
            "write path, {clients} clients, SET: root off {off_m:.0}/s, root on {on_m:.0}/s (medians of {rounds}): cost {:.1} % of throughput",
            (1.0 - on_m / off_m) * 100.0
        );
        println!(
            "driver CPU per write: root off {off_c:.1} µs, root on {on_c:.1} µs (medians): a CPU-bound driver loses {:.1} % of its throughput to the root",
            (1.0 - off_c / on_c) * 100.0
        );
    }
    if proof_keys > 0 {
        proof_latency(proof_keys);
    }
}

fn median(v: &mut [f64]) -> f64 {
    v.sort_by(f64::total_cmp);
    v[v.len() / 2]
}
