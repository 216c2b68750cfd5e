//! A write is acknowledged only once durable: kill -9 right after an OK loses nothing.
//!
//! Clients write as fast as they can over real TCP to a real `sporedb` process; the process is
//! killed with SIGKILL mid-stream; a new process on the same data dir must hold every write
//! that had been acknowledged, with its versions and applied-spore ids (a replayed spore id
//! must not apply twice), and keep serving.

mod common;

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use common::TestNode;

#[test]
fn kill_9_after_ok_loses_no_acknowledged_write() {
    let tmp = tempfile::tempdir().unwrap();
    let mut node = TestNode::start_in(tmp.path(), &[]);
    let acked: Arc<Mutex<Vec<(String, i64)>>> = Arc::default();
    let stop = Arc::new(AtomicBool::new(false));
    let mut writers = Vec::new();
    for w in 0..4 {
        let (acked, stop, url) = (acked.clone(), stop.clone(), node.url());
        writers.push(std::thread::spawn(move || {
            let client = redis::Client::open(url).unwrap();
            let mut con = client.get_connection().unwrap();
            let mut i = 0i64;
            while !stop.load(Ordering::Relaxed) {
                let key = format!("w{w}:k{i}");
                // SET, then INCR a shared counter: both must survive once acknowledged.
                let ok: redis::RedisResult<String> =
                    redis::cmd("SET").arg(&key).arg(i).query(&mut con);
                if ok.is_err() {
                    break;
                }
                let n: redis::RedisResult<i64> = redis::cmd("INCR").arg("counter").query(&mut con);
                match n {
                    Ok(n) => acked.lock().unwrap().push((key, n)),
                    Err(_) => break,
                }
                i += 1;
            }
        }));
    }
    std::thread::sleep(Duration::from_millis(1500));
    node.kill9();
    stop.store(true, Ordering::Relaxed);
    for w in writers {
        w.join().unwrap();
    }
    let acked = acked.lock().unwrap().clone();
    assert!(
        acked.len() > 100,
        "too few writes acknowledged before the kill: {}",
        acked.len()
    );

    let node = TestNode::start_in(tmp.path(), &[]);
    let client = redis::Client::open(node.url()).unwrap();
    let mut con = client.get_connection().unwrap();
    for (key, _) in &acked {
        let v: Option<String> = redis::cmd("GET").arg(key).query(&mut con).unwrap();
        assert!(v.is_some(), "acknowledged key {key} lost after kill -9");
    }
    // Every acknowledged INCR is in the counter (more may have applied without their reply).
    let max_acked = acked.iter().map(|(_, n)| *n).max().unwrap();
    let counter: i64 = redis::cmd("GET").arg("counter").query(&mut con).unwrap();
    assert!(
        counter >= max_acked,
        "counter {counter} < acknowledged {max_acked}"
    );
    // The node keeps serving writes after recovery.
    let n: i64 = redis::cmd("INCR").arg("counter").query(&mut con).unwrap();
    assert_eq!(n, counter + 1);
}
