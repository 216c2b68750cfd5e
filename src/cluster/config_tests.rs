//! The `[cluster]` and `[local_policy]` tables of the node configuration.

use crate::config::{Config, ServerArgs};
use crate::crypto::NodeKey;

fn write_policy(dir: &std::path::Path, ids: &[[u8; 32]]) {
    let mut text = format!("quorum = {}\nfaulty = 0\n", ids.len());
    for (i, id) in ids.iter().enumerate() {
        text.push_str(&format!(
            "[[endorsers]]\nname = \"n{i}\"\nkey = \"{}\"\n",
            hex::encode(id)
        ));
    }
    std::fs::write(dir.join("policy.toml"), text).unwrap();
}

fn load(dir: &std::path::Path, text: &str) -> Result<Config, String> {
    let file = dir.join("sporedb.toml");
    std::fs::write(&file, text).unwrap();
    Config::load(&ServerArgs {
        config: Some(file),
        ..Default::default()
    })
    .map_err(|e| e.to_string())
}

const CLUSTER: &str = "data_dir = \"data\"\n[cluster]\np2p_listen = \"/ip4/127.0.0.1/tcp/7100\"\n\
    bootstrap = [\"/ip4/127.0.0.1/tcp/7101/p2p/12D3KooWabc\", \"/dns4/peer/tcp/7102\"]\n\
    policy = \"policy.toml\"\n";

#[test]
fn absent_cluster_is_a_single_node() {
    let c = Config::default();
    assert!(c.cluster.is_none() && c.local_policy.is_empty());
}

#[test]
fn cluster_table_parses_and_resolves_the_policy_next_to_the_file() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let key = NodeKey::from_seed([1; 32]);
    crate::node::keyfile::save(&crate::node::keyfile::path(&data), &key).unwrap();
    write_policy(dir.path(), &[key.id()]);
    let c = load(dir.path(), CLUSTER).unwrap();
    let cluster = c.cluster.unwrap();
    assert_eq!(cluster.policy, dir.path().join("policy.toml"));
    assert_eq!(cluster.bootstrap.len(), 2);
    let policy = cluster.load_policy().unwrap();
    assert_eq!(cluster.marginals_needed(&policy), 1); // f + 1 with f = 0
}

#[test]
fn cluster_problems_are_listed_together() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let me = NodeKey::from_seed([1; 32]);
    crate::node::keyfile::save(&crate::node::keyfile::path(&data), &me).unwrap();
    // The policy names someone else.
    write_policy(dir.path(), &[NodeKey::from_seed([2; 32]).id()]);
    let text = CLUSTER
        .replace("/ip4/127.0.0.1/tcp/7100", "127.0.0.1:7100")
        .replace("/dns4/peer/tcp/7102", "/ip4/x/udp/1")
        + "marginals_needed = 0\n";
    let err = load(dir.path(), &text).unwrap_err();
    for needle in [
        "cluster.p2p_listen '127.0.0.1:7100'",
        "cluster.bootstrap '/ip4/x/udp/1'",
        "cluster.marginals_needed must be at least 1",
        "is not an endorser",
    ] {
        assert!(err.contains(needle), "missing {needle:?} in {err}");
    }
    // As an observer the same node is fine.
    let ok = CLUSTER.to_string() + "observer = true\n";
    assert!(load(dir.path(), &ok).is_ok());
    // A broken policy file is reported with its path.
    std::fs::write(dir.path().join("policy.toml"), "quorum = 1\nfaulty = 0\n").unwrap();
    let err = load(dir.path(), CLUSTER).unwrap_err();
    assert!(
        err.contains("cluster.policy") && err.contains("no endorsers"),
        "{err}"
    );
}

#[test]
fn missing_node_key_is_explained() {
    let dir = tempfile::tempdir().unwrap();
    write_policy(dir.path(), &[NodeKey::from_seed([2; 32]).id()]);
    let err = load(dir.path(), CLUSTER).unwrap_err();
    assert!(err.contains("sporedb keys init"), "{err}");
}

#[test]
fn local_policy_table() {
    let dir = tempfile::tempdir().unwrap();
    let c = load(
        dir.path(),
        "[local_policy]\ndeny = [\"admin:*\"]\nmanual_approval = [\"pay:*\"]\n",
    )
    .unwrap();
    assert_eq!(c.local_policy.deny, vec!["admin:*".to_string()]);
    let err = load(dir.path(), "[local_policy]\ndeny = [\"\"]\n").unwrap_err();
    assert!(err.contains("local_policy.deny"), "{err}");
    let err = load(dir.path(), "[local_policy]\nveto = []\n").unwrap_err();
    assert!(err.contains("unknown field `veto`"), "{err}");
}
