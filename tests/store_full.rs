//! A store that cannot take a write (the LMDB map is full) answers a clear error and keeps
//! serving, and the node's consensus view stays the store's.
//!
//! A real node runs with the smallest map its config allows (16 MiB) and is filled with
//! 100 KB values until a write fails. That client must hear why (`OOM …lmdb_map_size`), INFO
//! must count the spore the store lacks, reads must go on, and once space is freed writes must
//! commit again — also a WATCHed one on the very key whose write failed: the node must judge
//! its prerequisites against what its store holds, not against the write it could not store.

mod common;

use common::TestNode;

#[test]
fn a_full_store_refuses_clearly_and_keeps_serving() {
    let tmp = tempfile::tempdir().expect("temp dir");
    let config = tmp.path().join("sporedb.toml");
    std::fs::write(&config, "lmdb_map_size = 16777216\n").expect("config");
    let node = TestNode::start_with(&["--config", config.to_str().expect("path")]);
    let mut con = redis::Client::open(node.url())
        .expect("client")
        .get_connection()
        .expect("connection");

    let value = vec![7u8; 100_000];
    let mut stored = 0;
    let failed = loop {
        let key = format!("k{stored}");
        match redis::cmd("SET")
            .arg(&key)
            .arg(&value)
            .query::<String>(&mut con)
        {
            Ok(_) => stored += 1,
            Err(e) => break (key, e),
        }
        assert!(stored < 1_000, "16 MiB cannot hold 100 MB");
    };
    let (failed_key, error) = failed;
    assert_eq!(error.code(), Some("OOM"), "{error}");
    assert!(error.to_string().contains("lmdb_map_size"), "{error}");
    assert!(stored > 10, "only {stored} values stored");

    // Still serving: reads, and INFO says what this store lacks.
    let first: Vec<u8> = redis::cmd("GET").arg("k0").query(&mut con).expect("GET");
    assert_eq!(first, value);
    let absent: Option<Vec<u8>> = redis::cmd("GET")
        .arg(&failed_key)
        .query(&mut con)
        .expect("GET");
    assert_eq!(absent, None, "the failed write is not visible");
    let info: String = redis::cmd("INFO")
        .arg("sporedb")
        .query(&mut con)
        .expect("INFO");
    assert!(info.contains("spores_not_stored:1\r\n"), "{info}");

    // Space freed: writes commit again, the WATCHed one on the failed key included.
    let keys: Vec<String> = (0..stored).map(|i| format!("k{i}")).collect();
    let deleted: usize = redis::cmd("DEL").arg(&keys).query(&mut con).expect("DEL");
    assert_eq!(deleted, stored);
    let _: () = redis::cmd("WATCH")
        .arg(&failed_key)
        .query(&mut con)
        .expect("WATCH");
    let _: () = redis::cmd("MULTI").query(&mut con).expect("MULTI");
    let _: () = redis::cmd("SET")
        .arg(&failed_key)
        .arg("small")
        .query(&mut con)
        .expect("queued");
    let exec: redis::Value = redis::cmd("EXEC").query(&mut con).expect("EXEC");
    assert_eq!(
        exec,
        redis::Value::Array(vec![redis::Value::Okay]),
        "a WATCH on the failed key holds: nothing changed it in this store"
    );
    let now: String = redis::cmd("GET")
        .arg(&failed_key)
        .query(&mut con)
        .expect("GET");
    assert_eq!(now, "small");
    let n: i64 = redis::cmd("INCR")
        .arg("counter")
        .query(&mut con)
        .expect("INCR");
    assert_eq!(n, 1);
}
