//! Spore-building helpers for store/executor tests: build spores with correct prerequisites and apply
//! them to a store.

use bytes::Bytes;
use sporedb::exec::{apply_spore, Applied};
use sporedb::reply::Reply;
use sporedb::spore::footprint::{flushed_dbs, merged_accesses};
use sporedb::spore::*;
use sporedb::store::{MemStore, Store};

/// An SADD (`add`) or SREM of one member of `key`, with the prerequisites an honest origin
/// builds from `view` (order-only on the key, one member prerequisite), checked by `validate`.
pub fn member_spore(
    view: &dyn VersionView,
    key: Key,
    member: &[u8],
    add: bool,
    nonce: u64,
) -> Spore {
    let members = vec![Bytes::copy_from_slice(member)];
    let op = if add {
        Op::SAdd { key, members }
    } else {
        Op::SRem { key, members }
    };
    let s = spore_for(view, vec![op], nonce);
    assert_eq!(validate::validate(&s), Ok(()));
    s
}

/// A spore over `ops` with the prerequisites an honest origin would build from `view`.
pub fn spore_for(view: &dyn VersionView, ops: Vec<Op>, nonce: u64) -> Spore {
    let mut s = Spore {
        origin: [7; 32],
        nonce,
        deadline_ms: 1,
        key_prereqs: vec![],
        db_prereqs: vec![],
        ops,
    };
    s.key_prereqs = merged_accesses(&s)
        .into_iter()
        .map(|(k, a)| {
            if a.is_commutative() {
                KeyPrereq::commutative(k, &a, view)
            } else {
                let v = view.key_version(&k);
                KeyPrereq::full(k, v)
            }
        })
        .collect();
    // Member versions do not count in a database the spore flushes (`validate`).
    let flushed = flushed_dbs(&s);
    for p in &mut s.key_prereqs {
        if flushed.contains(&p.key.db) {
            p.members.clear();
        }
    }
    s.db_prereqs = flushed_dbs(&s)
        .into_iter()
        .map(|db| DbPrereq {
            db,
            version: view.db_state(db).version(),
        })
        .collect();
    s
}

/// Applies ops as one spore to a memory store; the replies.
pub fn mem_apply(store: &mut MemStore, ops: Vec<Op>) -> Vec<Reply> {
    let nonce = NONCE.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    let spore = spore_for(&store.read(), ops, nonce);
    let id = spore.id();
    let mut w = store.write();
    assert!(spore.prereqs_hold(&w));
    let Applied::Done(r) = apply_spore(&mut w, &spore, &id).unwrap() else {
        panic!("already applied")
    };
    w.commit().unwrap();
    r
}

/// Applies ops as one spore to an LMDB store; the replies.
pub fn lmdb_apply(store: &Store, ops: Vec<Op>) -> Vec<Reply> {
    let nonce = NONCE.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    let spore = spore_for(&store.read().unwrap(), ops, nonce);
    let id = spore.id();
    let mut w = store.write().unwrap();
    assert!(spore.prereqs_hold(&w));
    let Applied::Done(r) = apply_spore(&mut w, &spore, &id).unwrap() else {
        panic!("already applied")
    };
    w.commit().unwrap();
    r
}

static NONCE: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(1);

pub fn k(name: &str) -> Key {
    Key::new(0, Bytes::copy_from_slice(name.as_bytes()))
}

pub fn b(s: &str) -> Bytes {
    Bytes::copy_from_slice(s.as_bytes())
}

pub fn set(key: &str, v: &str) -> Op {
    Op::Set {
        key: k(key),
        value: b(v),
        cond: SetCond::Always,
        ttl: Ttl::Clear,
        get: false,
    }
}

pub fn del(key: &str) -> Op {
    Op::Del { key: k(key) }
}

pub fn incr(key: &str, by: i64) -> Op {
    Op::IncrBy {
        key: k(key),
        delta: by.into(),
    }
}

pub fn bulk(s: &str) -> Reply {
    Reply::bulk(b(s))
}
