//! A 4-node cluster of real `sporedb` processes on loopback, from `sporedb demo --init-only`
//! files (keys, policy n = 4, f = 1, ω = 3, marginal trust): start, restart, connect, wait
//! for the mesh, dump and compare data.

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::time::{Duration, Instant};

use super::TestNode;

pub struct Cluster {
    _tmp: tempfile::TempDir,
    pub dir: PathBuf,
    pub nodes: Vec<Option<TestNode>>,
}

impl Cluster {
    /// Writes a 4-node cluster's files; p2p ports are free ports picked now.
    pub fn init() -> Cluster {
        let tmp = tempfile::tempdir().expect("tmp");
        let dir = tmp.path().to_path_buf();
        super::demo_cluster_files(&dir, 4);
        Cluster {
            _tmp: tmp,
            dir,
            nodes: (0..4).map(|_| None).collect(),
        }
    }

    pub fn node_dir(&self, k: usize) -> PathBuf {
        self.dir.join(format!("node{}", k + 1))
    }

    pub fn start(&mut self, k: usize) {
        let dir = self.node_dir(k);
        let config = dir.join("sporedb.toml");
        let config = config.to_str().expect("utf8").to_string();
        self.nodes[k] = Some(TestNode::start_in(&dir, &["--config", &config]));
    }

    pub fn con(&self, k: usize) -> redis::Connection {
        let node = self.nodes[k].as_ref().expect("node running");
        redis::Client::open(node.url())
            .expect("client")
            .get_connection()
            .expect("connect")
    }

    /// Waits until node k is connected to every other running node.
    pub fn wait_mesh(&self, k: usize) {
        let want = self.nodes.iter().filter(|n| n.is_some()).count() - 1;
        let deadline = Instant::now() + Duration::from_secs(30);
        loop {
            let peers: Vec<BTreeMap<String, String>> = redis::cmd("SPORE.PEERS")
                .query(&mut self.con(k))
                .expect("peers");
            let connected = peers
                .iter()
                .filter(|p| p.get("state").map(String::as_str) == Some("connected"))
                .count();
            if connected >= want {
                return;
            }
            assert!(
                Instant::now() < deadline,
                "node {k} sees {connected}/{want} peers"
            );
            std::thread::sleep(Duration::from_millis(200));
        }
    }
}

pub fn running(c: &Cluster) -> Vec<usize> {
    (0..4).filter(|k| c.nodes[*k].is_some()).collect()
}

/// Every key and value of db 0 on node k (strings and set members), sorted.
pub fn dump(con: &mut redis::Connection) -> BTreeMap<String, String> {
    let keys: Vec<String> = redis::cmd("KEYS").arg("*").query(con).expect("keys");
    let mut out = BTreeMap::new();
    for k in keys {
        let t: String = redis::cmd("TYPE").arg(&k).query(con).expect("type");
        let v = match t.as_str() {
            "string" => redis::cmd("GET").arg(&k).query::<String>(con).expect("get"),
            "set" => {
                let mut m: Vec<String> =
                    redis::cmd("SMEMBERS").arg(&k).query(con).expect("smembers");
                m.sort();
                m.join(",")
            }
            other => format!("<{other}>"),
        };
        out.insert(k, v);
    }
    out
}

/// Waits until every running node holds the same data; returns it.
pub fn converge(c: &Cluster, secs: u64) -> BTreeMap<String, String> {
    let deadline = Instant::now() + Duration::from_secs(secs);
    loop {
        let dumps: Vec<BTreeMap<String, String>> =
            running(c).iter().map(|k| dump(&mut c.con(*k))).collect();
        if dumps.windows(2).all(|w| w[0] == w[1]) {
            return dumps.into_iter().next().unwrap_or_default();
        }
        assert!(
            Instant::now() < deadline,
            "nodes did not converge: {:?}",
            dumps.iter().map(|d| d.len()).collect::<Vec<_>>()
        );
        std::thread::sleep(Duration::from_millis(300));
    }
}

pub fn start_all() -> Cluster {
    let mut c = Cluster::init();
    for k in 0..4 {
        c.start(k);
    }
    for k in 0..4 {
        c.wait_mesh(k);
    }
    c
}

/// One field of `INFO sporedb`.
pub fn info_field(con: &mut redis::Connection, field: &str) -> String {
    let info: String = redis::cmd("INFO").arg("sporedb").query(con).expect("info");
    info.lines()
        .find_map(|l| l.strip_prefix(&format!("{field}:")))
        .unwrap_or_else(|| panic!("INFO has no {field}:\n{info}"))
        .trim()
        .to_string()
}
