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

/// The store configurations compared.
#[derive(Clone, Copy, PartialEq)]
enum Mode {
    /// No state root.
    Off,
    /// State root as a node runs it.
    On,
}

impl Mode {
    fn name(self) -> &'static str {
        match self {
            Mode::Off => "root off",
            Mode::On => "root on",
        }
    }
}

/// Writes/s of `writes` SETs by `clients` concurrent clients on a fresh store, and the driver
/// thread's CPU µs per write (the driver is the only store writer and does all the root work;
/// its CPU per write does not depend on what else the machine runs, unlike writes/s).
fn write_round(mode: Mode, clients: usize, writes: usize, round: usize) -> (f64, f64) {
    let dir = tempfile::tempdir().unwrap();
    let root = RootOptions {
        maintain: mode != Mode::Off,
    };
    let store =
        Arc::new(Store::open_with(dir.path(), &StoreOptions { map_size: 4 << 30 }, root).unwrap());
    let key = NodeKey::from_seed([3; 32]);
    let stats = Arc::new(SporeStats::default());
    let (tx, rx) = std::sync::mpsc::channel();
    let driver = Driver::single_node(store.clone(), &key, (tx.clone(), rx), stats.clone()).unwrap();
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
        "  ({}: {:.1} writes per commit group)",
        mode.name(),
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
    // The tree's nodes live in memory (`root::resident`) and the open rebuilds them from the
    // data: what that costs, and how many nodes a fresh build holds. (The memory they take is
    // best read from a server process, RssAnon after its open: in this process the allocator
    // keeps what the load freed. README, "Tree nodes in memory".)
    drop(store);
    let t = Instant::now();
    let store = Store::open(dir.path(), &StoreOptions { map_size: 8 << 30 }).unwrap();
    println!(
        "reopen of {n} keys (tree rebuilt from the data and checked): {:.1}s, {:?}; {} tree nodes",
        t.elapsed().as_secs_f64(),
        store.integrity(),
        store.tree_nodes(),
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
    let modes = [Mode::Off, Mode::On];
    let mut rates: [Vec<f64>; 2] = Default::default();
    let mut cpus: [Vec<f64>; 2] = Default::default();
    // ROOT_BENCH_ONLY=off|on runs only that configuration (for profiling one);
    // ROOT_BENCH_ONLY_ON=1 is ROOT_BENCH_ONLY=on.
    let only = match std::env::var("ROOT_BENCH_ONLY").ok().as_deref() {
        Some("off") => Some(Mode::Off),
        Some("on") => Some(Mode::On),
        _ if std::env::var_os("ROOT_BENCH_ONLY_ON").is_some() => Some(Mode::On),
        _ => None,
    };
    for r in 0..rounds {
        // The order rotates each round, so a machine that slows down or speeds up during the
        // run does not favour one configuration.
        for k in 0..modes.len() {
            let i = (k + r) % modes.len();
            if only.is_some_and(|m| m != modes[i]) {
                continue;
            }
            let (rate, cpu) = write_round(modes[i], clients, writes, r);
            rates[i].push(rate);
            cpus[i].push(cpu);
        }
        let line: Vec<String> = (0..modes.len())
            .filter(|&i| !rates[i].is_empty())
            .map(|i| {
                format!(
                    "{} {:.0} writes/s ({:.1} µs driver CPU/write)",
                    modes[i].name(),
                    rates[i][r],
                    cpus[i][r]
                )
            })
            .collect();
        println!("round {r}: {}", line.join(", "));
    }
    if rounds > 0 && only.is_none() {
        let rate: Vec<f64> = rates.iter_mut().map(|v| median(v)).collect();
        let cpu: Vec<f64> = cpus.iter_mut().map(|v| median(v)).collect();
        println!("write path, {clients} clients, SET, medians of {rounds} rounds:");
        for i in 0..modes.len() {
            println!(
                "  {:<24} {:>7.0} writes/s  {:>6.1} µs driver CPU/write",
                modes[i].name(),
                rate[i],
                cpu[i]
            );
        }
        println!(
            "{}: costs {:.1} % of throughput; a CPU-bound driver loses {:.1} % (by CPU per write)",
            modes[1].name(),
            (1.0 - rate[1] / rate[0]) * 100.0,
            (1.0 - cpu[0] / cpu[1]) * 100.0
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
