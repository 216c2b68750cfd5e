//! Grouped-apply throughput of the LMDB store (durable commits): N spores of one SET each,
//! grouped G per write transaction, plus INCRBY on hot keys and point reads. Reports numbers,
//! asserts nothing. Run: `cargo run --release --example store_bench [spores] [group]`.

use std::time::Instant;

use bytes::Bytes;
use sporedb::exec::apply_spore;
use sporedb::spore::*;
use sporedb::store::{Store, StoreOptions, StoreRead};

fn spore(ops: Vec<Op>, view: &dyn VersionView, nonce: u64) -> Spore {
    let mut s = Spore {
        origin: [1; 32],
        nonce,
        deadline_ms: 0,
        key_prereqs: vec![],
        db_prereqs: vec![],
        ops,
    };
    s.key_prereqs = sporedb::spore::footprint::merged_accesses(&s)
        .into_iter()
        .map(|(k, a)| {
            let v = view.key_version(&k);
            if a.is_commutative() {
                KeyPrereq::order_only(k, v)
            } else {
                KeyPrereq::full(k, v)
            }
        })
        .collect();
    s
}

fn run(store: &Store, label: &str, n: u64, group: u64, make: impl Fn(u64) -> Op) {
    // Build outside the timed region (ids, prerequisites): only apply + commit is measured.
    let rt = store.read().unwrap();
    let spores: Vec<(Spore, SporeId)> = (0..n)
        .map(|i| {
            let s = spore(vec![make(i)], &rt, i);
            let id = s.id();
            (s, id)
        })
        .collect();
    drop(rt);
    let t = Instant::now();
    for chunk in spores.chunks(group as usize) {
        let mut w = store.write().unwrap();
        for (s, id) in chunk {
            apply_spore(&mut w, s, id).unwrap();
        }
        w.commit().unwrap();
    }
    let secs = t.elapsed().as_secs_f64();
    println!(
        "{label:<32} {n:>7} spores, {group:>5}/txn: {:>9.0} spores/s ({:.1} µs each)",
        n as f64 / secs,
        secs * 1e6 / n as f64
    );
}

fn main() {
    let args: Vec<u64> = std::env::args()
        .skip(1)
        .filter_map(|a| a.parse().ok())
        .collect();
    let n = args.first().copied().unwrap_or(100_000);
    let group = args.get(1).copied().unwrap_or(1000);
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(dir.path(), &StoreOptions { map_size: 8 << 30 }).unwrap();
    let value = Bytes::from(vec![b'v'; 100]);
    let key = |i: u64| {
        Key::new(
            0,
            Bytes::from(format!("key:{:016x}", i.wrapping_mul(0x9e3779b97f4a7c15))),
        )
    };
    run(&store, "SET new keys (100 B)", n, group, |i| Op::Set {
        key: key(i),
        value: value.clone(),
        cond: SetCond::Always,
        ttl: Ttl::Clear,
        get: false,
    });
    run(&store, "SET overwrite", n, group, |i| Op::Set {
        key: key(i),
        value: value.clone(),
        cond: SetCond::Always,
        ttl: Ttl::Clear,
        get: false,
    });
    run(&store, "INCRBY 100 hot keys", n, group, |i| Op::IncrBy {
        key: Key::new(0, Bytes::from(format!("ctr:{}", i % 100))),
        delta: 1.into(),
    });
    run(&store, "SET new keys, 1 spore/txn", n.min(2000), 1, |i| {
        Op::Set {
            key: key((i + 1) << 40),
            value: value.clone(),
            cond: SetCond::Always,
            ttl: Ttl::Clear,
            get: false,
        }
    });
    let rt = store.read().unwrap();
    let t = Instant::now();
    let mut found = 0u64;
    for i in 0..n {
        found += rt.string(&key(i), 0).unwrap().is_some() as u64;
    }
    let secs = t.elapsed().as_secs_f64();
    println!(
        "{:<32} {n:>7} gets in one read txn: {:>9.0} gets/s ({found} found)",
        "GET (typed read API)",
        n as f64 / secs
    );
    println!("{:?}", store.stats().unwrap());
}
