//! The read gate: a node whose `RootService` says a database's data must not be served answers
//! every data read in that database with `TRYAGAIN sporedb: reads refused: …`, keeps serving
//! the other databases, keeps answering INFO and the `SPORE.*` commands (they show what is
//! wrong), and serves again once the reason is gone.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

use crate::reply::Reply;
use crate::root::{Integrity, Proof, Root, RootService, SignedRoot};
use crate::store::StoreError;

use super::session::Session;
use super::testkit::kit;

struct Gate(AtomicBool);

impl RootService for Gate {
    fn signed_root(&self) -> Result<SignedRoot, StoreError> {
        Err(StoreError::Tree("no root in this test".into()))
    }
    fn prove(&self, _db: u8, _name: &[u8]) -> Result<(Root, Proof), StoreError> {
        Err(StoreError::Tree("no root in this test".into()))
    }
    fn integrity(&self) -> Integrity {
        Integrity::Unchecked
    }
    /// Database 0 is refused while the flag is set.
    fn reads_refused(&self, db: u8) -> Option<String> {
        (db == 0 && self.0.load(Ordering::Relaxed))
            .then(|| "test says the data is wrong".to_string())
    }
}

fn error_text(r: &Reply) -> Option<String> {
    match r {
        Reply::Error(e) => Some(e.to_string()),
        _ => None,
    }
}

#[test]
fn refused_reads_answer_a_clear_error_and_recover() {
    let mut k = kit();
    let gate = Arc::new(Gate(AtomicBool::new(false)));
    k.shared.roots = Some(gate.clone());
    k.given(&["SET", "a", "1"]);
    k.given(&["SADD", "s", "m"]);
    let mut s = Session::detached();
    assert_eq!(k.run(&mut s, &["GET", "a"]), Reply::bulk_str("1"));

    gate.0.store(true, Ordering::Relaxed);
    for read in [
        &["GET", "a"][..],
        &["MGET", "a", "b"],
        &["SMEMBERS", "s"],
        &["EXISTS", "a"],
        &["KEYS", "*"],
        &["SCAN", "0"],
        &["DBSIZE"],
        &["TTL", "a"],
    ] {
        let text = error_text(&k.run(&mut s, read))
            .unwrap_or_else(|| panic!("{read:?} was served while reads are refused"));
        assert_eq!(
            text, "TRYAGAIN sporedb: reads refused: test says the data is wrong",
            "{read:?}"
        );
    }
    // Not data reads: still answered.
    assert_eq!(k.run(&mut s, &["PING"]), Reply::Simple("PONG"));
    assert!(error_text(&k.run(&mut s, &["INFO", "sporedb"])).is_none());
    let root = error_text(&k.run(&mut s, &["SPORE.ROOT"])).unwrap_or_default();
    assert!(!root.contains("reads refused"), "{root}");
    // Another database keeps serving.
    let mut other = Session::detached();
    assert_eq!(k.run(&mut other, &["SELECT", "1"]), Reply::Simple("OK"));
    assert_eq!(k.run(&mut other, &["GET", "a"]), Reply::Nil);
    assert_eq!(k.run(&mut other, &["DBSIZE"]), Reply::Int(0));

    gate.0.store(false, Ordering::Relaxed);
    assert_eq!(k.run(&mut s, &["GET", "a"]), Reply::bulk_str("1"));
}
