//! Verifiable state in a real 4-node cluster (n = 4, f = 1; `sporedb demo --init-only` files,
//! marginal trust): a replica whose data is not the cluster's is noticed, refuses reads, and
//! heals from its peers by a state transfer checked against their signed roots.
//!
//! - A value edited in a stopped node's LMDB file with another program (raw heed, the tree
//!   left as it was): the scrub at restart finds the data no longer matches the stored root,
//!   the node refuses reads in that database (only: another database keeps serving) with a
//!   clear error, then installs a copy whose recomputed root its peers signed, and serves the
//!   right value again.
//! - A value edited in a stopped node's store through the store's own write path, so the
//!   tree is updated to match (the check at restart cannot see it): the node's root now differs from the roots its peers signed for the same applied spores. Its
//!   attestation book records the conflicts as evidence, f + 1 agreeing peers make it stop
//!   serving reads, and it repairs itself by state transfer.

mod common;

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use common::cluster::*;
use sporedb::store::{KvRead, KvWrite, Store, StoreOptions, Table};

/// A key record's bytes before the string payload: kind, expire_at, version order and acc.
const RECORD_HEADER: usize = 1 + 8 + 32 + 32;

fn set(con: &mut redis::Connection, k: &str, v: &str) {
    let _: String = redis::cmd("SET").arg(k).arg(v).query(con).expect("set");
}

/// The `keys` record of db 0 key `name` with its string payload replaced by `value`.
fn forged_record(current: &[u8], value: &str) -> Vec<u8> {
    assert!(
        current.len() >= RECORD_HEADER && current[0] == 1,
        "a string record"
    );
    let mut rec = current[..RECORD_HEADER].to_vec();
    rec.extend_from_slice(value.as_bytes());
    rec
}

fn key_of(name: &str) -> Vec<u8> {
    let mut k = vec![0u8];
    k.extend_from_slice(name.as_bytes());
    k
}

/// Polls GET `key` on `con` until it answers `want`; returns every distinct answer seen
/// (values, or the error text), in order.
fn get_until(con: &mut redis::Connection, key: &str, want: &str, secs: u64) -> Vec<String> {
    let deadline = Instant::now() + Duration::from_secs(secs);
    let mut seen: Vec<String> = Vec::new();
    loop {
        let got = match redis::cmd("GET").arg(key).query::<Option<String>>(con) {
            Ok(v) => v.unwrap_or_else(|| "<nil>".into()),
            Err(e) => e.to_string(),
        };
        if seen.last() != Some(&got) {
            seen.push(got.clone());
        }
        if got == want {
            return seen;
        }
        assert!(
            Instant::now() < deadline,
            "GET {key} never answered {want:?}; answers seen: {seen:?}"
        );
        std::thread::sleep(Duration::from_millis(10));
    }
}

fn write_some(c: &Cluster) -> BTreeMap<String, String> {
    let mut con = c.con(0);
    for i in 0..20 {
        set(&mut con, &format!("k{i}"), &format!("v{i}"));
    }
    set(&mut con, "balance", "100");
    // One key in database 1, which the tests below leave intact.
    let _: () = redis::cmd("SELECT").arg(1).query(&mut con).expect("select");
    set(&mut con, "other-db", "intact");
    let _: () = redis::cmd("SELECT").arg(0).query(&mut con).expect("select");
    converge(c, 30)
}

#[test]
fn tampered_stopped_node_refuses_reads_then_heals_from_peers() {
    let mut c = start_all();
    let before = write_some(&c);

    // Node 3 stops; its `balance` is edited with raw LMDB access, the tree left untouched.
    c.nodes[2].as_mut().expect("node 3").kill9();
    c.nodes[2] = None;
    {
        let dir = c.node_dir(2).join("db");
        let mut o = heed::EnvOpenOptions::new();
        o.map_size(StoreOptions::default().map_size as usize)
            .max_dbs(16);
        #[allow(unsafe_code)]
        // SAFETY: the node that used this directory is stopped; nothing else has it open.
        let env = unsafe { o.open(&dir).expect("open env") };
        let mut w = env.write_txn().expect("txn");
        let keys: heed::Database<heed::types::Bytes, heed::types::Bytes> = env
            .open_database(&w, Some("keys"))
            .expect("db")
            .expect("keys table");
        let rec = keys
            .get(&w, &key_of("balance"))
            .expect("get")
            .expect("record");
        let forged = forged_record(rec, "999999");
        keys.put(&mut w, &key_of("balance"), &forged).expect("put");
        w.commit().expect("commit");
        env.prepare_for_closing().wait();
    }

    c.start(2);
    let mut con3 = c.con(2);
    // The scrub at open found the edit: reads are refused at once (state transfer needs the
    // mesh and waits a second), never answered with the edited value.
    let first = redis::cmd("GET")
        .arg("balance")
        .query::<Option<String>>(&mut con3);
    let err = first.expect_err("a tampered node must not serve reads");
    let text = err.to_string();
    assert!(
        text.contains("reads refused") && text.contains("behind its back"),
        "clear error expected, got {text}"
    );
    assert_eq!(info_field(&mut con3, "state_integrity"), "tampered");
    assert_eq!(info_field(&mut con3, "state_reads"), "refused");
    // Only the edited database: the scrub pins the edit to database 0, and database 1 serves.
    assert_eq!(info_field(&mut con3, "state_reads_refused_dbs"), "0");
    let mut db1 = c.con(2);
    let _: () = redis::cmd("SELECT").arg(1).query(&mut db1).expect("select");
    let intact: Option<String> = redis::cmd("GET")
        .arg("other-db")
        .query(&mut db1)
        .expect("database 1 must keep serving");
    assert_eq!(intact.as_deref(), Some("intact"));
    // SPORE.ROOT still answers: it is how an operator sees what is wrong.
    let _: Vec<redis::Value> = redis::cmd("SPORE.ROOT").query(&mut con3).expect("root");

    let seen = get_until(&mut con3, "balance", "100", 60);
    assert!(
        !seen.iter().any(|s| s == "999999"),
        "the edited value was served: {seen:?}"
    );
    assert_eq!(info_field(&mut con3, "state_integrity"), "ok");
    assert_eq!(info_field(&mut con3, "state_reads"), "served");
    c.wait_mesh(2);
    assert_eq!(converge(&c, 30), before);
    // The healed node takes part in new writes.
    set(&mut con3, "after", "1");
    let data = converge(&c, 30);
    assert_eq!(data.get("after").map(String::as_str), Some("1"));
}

#[test]
fn diverged_node_is_found_by_attestations_and_repaired() {
    let mut c = start_all();
    let before = write_some(&c);
    // Every node has attested the quiet state (roots are gossiped when they move).
    let mut con4 = c.con(3);
    let deadline = Instant::now() + Duration::from_secs(30);
    while info_field(&mut con4, "state_peers_agreeing") != "3" {
        assert!(
            Instant::now() < deadline,
            "node 4 never saw its peers agree with its root"
        );
        std::thread::sleep(Duration::from_millis(200));
    }
    assert_eq!(info_field(&mut con4, "state_root_conflicts"), "0");

    // Node 4 stops, and `balance` is rewritten in its store through the store's own write
    // path: the tree follows, so node 4's data and root agree with each other (the check at
    // open cannot see it), but not with what its peers signed for the same applied spores.
    // (Writing into a *running* node's environment from another process is outside what a
    // node supports: its tree's nodes live in its memory, `root::resident`.)
    drop(con4);
    c.nodes[3].as_mut().expect("node 4").kill9();
    c.nodes[3] = None;
    {
        let store = Store::open(&c.node_dir(3), &StoreOptions::default()).expect("open store");
        let applied_before = store.state_root().expect("root").applied_count;
        let mut w = store.write().expect("write");
        let rec = w
            .get(Table::Keys, &key_of("balance"))
            .expect("get")
            .expect("record")
            .to_vec();
        w.put(
            Table::Keys,
            &key_of("balance"),
            &forged_record(&rec, "999999"),
        )
        .expect("put");
        w.commit().expect("commit");
        let after = store.state_root().expect("root");
        assert_eq!(after.applied_count, applied_before, "no spore was applied");
        assert!(!store.scrub().expect("scrub").is_tampered());
    }
    c.start(3);
    let mut con4 = c.con(3);
    assert_eq!(info_field(&mut con4, "state_integrity"), "ok");
    // The open rebuilt the tree's nodes in memory from the data.
    let nodes: u64 = info_field(&mut con4, "state_tree_nodes")
        .parse()
        .expect("state_tree_nodes");
    assert!(
        nodes > 20,
        "{nodes} tree nodes for 22 keys and their records"
    );

    let seen = get_until(&mut con4, "balance", "100", 60);
    eprintln!("node 4 answers to GET balance while diverging and repairing: {seen:?}");
    // The edited value can be served only in the moment before the node notices (its next
    // look at its own root); once it refused reads, it never serves it again.
    if let Some(refused) = seen.iter().position(|s| s.contains("reads refused")) {
        // Attestations carry each root's breakdown by database: the refusal is pinned to the
        // edited database (database 1 was not touched).
        assert!(
            seen[refused].contains("database(s) 0;"),
            "refusal not pinned to database 0: {seen:?}"
        );
        assert!(
            !seen[refused..].iter().any(|s| s == "999999"),
            "edited value served after the node knew: {seen:?}"
        );
    }
    // The peers' signed roots contradict node 4's: each is a conflict kept as evidence.
    let conflicts: u64 = info_field(&mut con4, "state_root_conflicts")
        .parse()
        .expect("number");
    assert!(
        conflicts >= 2,
        "f + 1 = 2 conflicting attestations expected, got {conflicts}"
    );
    let report: BTreeMap<String, redis::Value> = redis::cmd("SPORE.ATTESTATIONS")
        .query(&mut con4)
        .expect("attestations");
    match report.get("conflicts") {
        Some(redis::Value::Array(items)) => assert!(items.len() as u64 >= 2, "{report:?}"),
        other => panic!("conflicts missing: {other:?}"),
    }
    assert_eq!(info_field(&mut con4, "state_diverged"), "0");
    assert_eq!(info_field(&mut con4, "state_reads"), "served");
    assert_eq!(converge(&c, 30), before);
    let mut con1 = c.con(0);
    set(&mut con1, "after", "1");
    let data = converge(&c, 30);
    assert_eq!(data.get("after").map(String::as_str), Some("1"));
}
