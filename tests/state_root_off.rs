//! `state_root = false`, the setting that exists only to measure what the state root costs a
//! single node (`compat/root-cost.sh`): the node serves reads and writes without a root,
//! refuses SPORE.ROOT / SPORE.PROOF with a clear error (not `ERR internal error`), and the
//! next start with the root on rebuilds the tree from the data, so proofs work again.

mod common;

use common::TestNode;

fn config_without_root(dir: &std::path::Path) -> std::path::PathBuf {
    let file = dir.join("no-root.toml");
    std::fs::write(&file, "state_root = false\n").unwrap();
    file
}

#[test]
fn a_node_without_its_root_says_so_and_rebuilds_it_when_turned_back_on() {
    let tmp = tempfile::tempdir().unwrap();
    let data = tmp.path().join("data");
    let file = config_without_root(tmp.path());
    let config = file.to_str().unwrap();
    let node = TestNode::start_in(&data, &["--config", config]);
    let mut con = redis::Client::open(node.url())
        .unwrap()
        .get_connection()
        .unwrap();
    let _: String = redis::cmd("SET").arg("a").arg("1").query(&mut con).unwrap();
    let _: i64 = redis::cmd("SADD")
        .arg("s")
        .arg("x")
        .query(&mut con)
        .unwrap();
    let v: String = redis::cmd("GET").arg("a").query(&mut con).unwrap();
    assert_eq!(v, "1");
    for cmd in [
        redis::cmd("SPORE.ROOT"),
        redis::cmd("SPORE.PROOF").arg("a").clone(),
    ] {
        let err = cmd.query::<redis::Value>(&mut con).unwrap_err();
        // (the redis crate shows an `ERR …` reply as `ResponseError: …`)
        assert!(
            err.to_string()
                .ends_with(": sporedb: this node keeps no state root (state_root = false)"),
            "{err:?}"
        );
    }
    drop(con);
    drop(node);

    // Back on: the tree is built from the data written without it.
    let node = TestNode::start_in(&data, &[]);
    let mut con = redis::Client::open(node.url())
        .unwrap()
        .get_connection()
        .unwrap();
    let root: Vec<redis::Value> = redis::cmd("SPORE.ROOT").query(&mut con).unwrap();
    assert!(!root.is_empty());
    let proof: Vec<redis::Value> = redis::cmd("SPORE.PROOF").arg("a").query(&mut con).unwrap();
    // [root, 1 = member / 0 = absent, record, proof]
    assert_eq!(
        proof.get(1),
        Some(&redis::Value::Int(1)),
        "a key written while the root was off is proved a member: {proof:?}"
    );
    assert_eq!(
        proof.first(),
        root.first(),
        "proved against the current root"
    );
}

#[test]
fn a_cluster_node_refuses_to_run_without_its_root() {
    let tmp = tempfile::tempdir().unwrap();
    let file = tmp.path().join("cluster.toml");
    std::fs::write(
        &file,
        "state_root = false\n[cluster]\np2p_listen = \"/ip4/127.0.0.1/tcp/0\"\npolicy = \"policy.toml\"\n",
    )
    .unwrap();
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_sporedb"))
        .args(["server", "--config"])
        .arg(&file)
        .args(["--port", "0", "--data-dir"])
        .arg(tmp.path())
        .output()
        .unwrap();
    assert!(!out.status.success());
    let text = String::from_utf8_lossy(&out.stderr);
    assert!(
        text.contains("state_root = false is for measuring a single node"),
        "{text}"
    );
}
