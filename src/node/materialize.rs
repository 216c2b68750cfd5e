//! Turning a handler's `WriteRequest` into a spore.
//!
//! The origin chooses the prerequisites from its *projected* versions (the store plus the
//! spores it has built but not yet applied), so a client pipelining many writes to one key
//! produces a chain of spores, each requiring the version the previous one leaves behind,
//! instead of a pile of conflicting spores. Keys written only commutatively get order-only
//! prerequisites; every other touched key (and every WATCHed key) a full one. A key that is
//! already expired at the origin gets an explicit `Del` first, so every replica deletes it at
//! the same point in the order (execution never reads a clock).

use std::collections::BTreeSet;

use crate::crypto::NodeId;
use crate::spore::footprint::{flushed_dbs, merged_accesses};
use crate::spore::{DbPrereq, Key, KeyPrereq, Op, Spore, VersionView};
use crate::write::WriteRequest;

/// What the materialiser needs to know beyond versions.
pub struct Origin {
    pub id: NodeId,
    pub nonce: u64,
    pub deadline_ms: u64,
}

/// What the origin knows about a key's value (not its version) when it builds a spore.
/// (Whether the key has a TTL does not matter: set-member writes commute on a set with a TTL
/// too, since an emptied one keeps it hidden; docs/VERSIONS.md "Sets with a TTL".)
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct KeyFacts {
    /// The key holds a value whose TTL has passed at the origin's clock.
    pub expired: bool,
}

/// A built spore, and where the request's own ops sit in it (the materialiser may insert
/// expiry deletes, whose replies the client must not see).
#[derive(Debug, Clone, PartialEq)]
pub struct Materialized {
    pub spore: Spore,
    /// For each op of the request, its index in `spore.ops`.
    pub client_ops: Vec<usize>,
}

/// Why a request could not become a spore.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum MaterializeError {
    /// A WATCHed key's version changed since WATCH.
    WatchFailed,
}

/// Builds the spore for `request` on top of `view`.
///
/// `facts` answers what the origin knows about each key's value (see `KeyFacts`).
///
/// Set member additions and removals commute only while the set keeps no TTL: a removal that
/// empties a set deletes it (and its TTL) and a later addition recreates it without one, so
/// on a key that may have a TTL they get a full prerequisite and are ordered.
pub fn materialize(
    request: &WriteRequest,
    view: &dyn VersionView,
    facts: &dyn Fn(&Key) -> KeyFacts,
    origin: Origin,
) -> Result<Materialized, MaterializeError> {
    for (key, version) in &request.watched {
        if view.key_version(key) != *version {
            return Err(MaterializeError::WatchFailed);
        }
    }

    let mut ops = Vec::with_capacity(request.ops.len() + 1);
    let mut client_ops = Vec::with_capacity(request.ops.len());
    let mut deleted: BTreeSet<Key> = BTreeSet::new();
    for op in &request.ops {
        let mut touched: Vec<Key> = Vec::new();
        op.access(&mut |k, _| touched.push(k.clone()));
        for key in touched {
            let is_own_del = matches!(op, Op::Del { key: k } if *k == key);
            if !is_own_del && !deleted.contains(&key) && facts(&key).expired {
                ops.push(Op::Del { key: key.clone() });
            }
            deleted.insert(key);
        }
        client_ops.push(ops.len());
        ops.push(op.clone());
    }

    let mut spore = Spore {
        origin: origin.id,
        nonce: origin.nonce,
        deadline_ms: origin.deadline_ms,
        key_prereqs: Vec::new(),
        db_prereqs: Vec::new(),
        ops,
    };
    let watched: BTreeSet<&Key> = request.watched.iter().map(|(k, _)| k).collect();
    let accesses = merged_accesses(&spore);
    let flushed = flushed_dbs(&spore);
    for (key, access) in &accesses {
        let v = view.key_version(key);
        let prereq = if access.is_commutative() && !watched.contains(key) {
            // Members added or removed commutatively carry their own versions: an addition
            // needs the member's order, a removal its full version (docs/VERSIONS.md).
            let mut p = KeyPrereq::commutative(key.clone(), access, view);
            if flushed.contains(&key.db) {
                p.members.clear();
            }
            p
        } else {
            KeyPrereq::full(key.clone(), v)
        };
        spore.key_prereqs.push(prereq);
    }
    // WATCHed keys the transaction does not touch are reads at the watched version.
    for (key, version) in &request.watched {
        if accesses.binary_search_by(|(k, _)| k.cmp(key)).is_err() {
            spore
                .key_prereqs
                .push(KeyPrereq::full(key.clone(), *version));
        }
    }
    spore.key_prereqs.sort_by(|a, b| a.key.cmp(&b.key));
    spore.key_prereqs.dedup_by(|a, b| a.key == b.key);
    spore.db_prereqs = flushed_dbs(&spore)
        .into_iter()
        .map(|db| DbPrereq {
            db,
            version: view.db_state(db).version(),
        })
        .collect();
    Ok(Materialized { spore, client_ops })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::crypto::Digest;
    use crate::spore::effects::Projection;
    use crate::spore::validate::validate;
    use crate::spore::{DbState, KeyVersion, SetCond, Ttl};
    use bytes::Bytes;
    use num_bigint::BigInt;

    struct Empty;
    impl VersionView for Empty {
        fn key_version(&self, key: &Key) -> KeyVersion {
            KeyVersion::absent(&[0; 32], key)
        }
        fn db_state(&self, _: u8) -> DbState {
            DbState::default()
        }
        fn member_version_at(&self, key: &Key, member: &[u8], order: &Digest) -> KeyVersion {
            KeyVersion::member_absent(order, key, member)
        }
    }

    fn origin(nonce: u64) -> Origin {
        Origin {
            id: [9; 32],
            nonce,
            deadline_ms: 100,
        }
    }

    fn set(k: &str) -> Op {
        Op::Set {
            key: Key::new(0, k.to_string()),
            value: Bytes::from_static(b"v"),
            cond: SetCond::Always,
            ttl: Ttl::Clear,
            get: false,
        }
    }

    #[test]
    fn commutative_writes_get_order_only_prerequisites() {
        let req = WriteRequest::blind(vec![
            Op::IncrBy {
                key: Key::new(0, "c"),
                delta: BigInt::from(1),
            },
            set("s"),
        ]);
        let s = materialize(&req, &Empty, &|_| KeyFacts::default(), origin(1))
            .unwrap()
            .spore;
        assert_eq!(validate(&s), Ok(()));
        assert!(s.prereq(&Key::new(0, "c")).unwrap().acc.is_none());
        assert!(s.prereq(&Key::new(0, "s")).unwrap().acc.is_some());
    }

    #[test]
    fn chains_follow_the_projection() {
        let base = Empty;
        let mut proj = Projection::new(&base);
        let s1 = materialize(
            &WriteRequest::blind(vec![set("k")]),
            &proj,
            &|_| KeyFacts::default(),
            origin(1),
        )
        .unwrap()
        .spore;
        proj.push(&s1, &s1.id());
        let s2 = materialize(
            &WriteRequest::blind(vec![set("k")]),
            &proj,
            &|_| KeyFacts::default(),
            origin(2),
        )
        .unwrap()
        .spore;
        assert!(!s2.prereqs_hold(&base));
        assert!(s2.prereqs_hold(&proj));
    }

    #[test]
    fn expired_keys_get_an_explicit_delete_and_watch_is_checked() {
        let req = WriteRequest::blind(vec![Op::IncrBy {
            key: Key::new(0, "c"),
            delta: BigInt::from(1),
        }]);
        let s = materialize(&req, &Empty, &|_| KeyFacts { expired: true }, origin(1))
            .unwrap()
            .spore;
        assert!(matches!(s.ops[0], Op::Del { .. }));
        assert!(
            s.prereq(&Key::new(0, "c")).unwrap().acc.is_some(),
            "a delete is not commutative"
        );
        assert_eq!(validate(&s), Ok(()));
        let watched = WriteRequest {
            ops: vec![set("k")],
            watched: vec![(
                Key::new(0, "w"),
                KeyVersion {
                    order: [1; 32],
                    acc: [0; 32],
                },
            )],
        };
        assert_eq!(
            materialize(&watched, &Empty, &|_| KeyFacts::default(), origin(2)),
            Err(MaterializeError::WatchFailed)
        );
    }

    #[test]
    fn client_ops_skip_inserted_deletes() {
        let req = WriteRequest::blind(vec![set("a"), set("b")]);
        let facts = |k: &Key| KeyFacts {
            expired: k.name.as_ref() == b"b",
        };
        let m = materialize(&req, &Empty, &facts, origin(1)).unwrap();
        assert_eq!(m.spore.ops.len(), 3);
        assert_eq!(m.client_ops, vec![0, 2]);
    }

    #[test]
    fn flushes_carry_database_prerequisites() {
        let s = materialize(
            &WriteRequest::blind(vec![Op::FlushAll]),
            &Empty,
            &|_| KeyFacts::default(),
            origin(1),
        )
        .unwrap()
        .spore;
        assert_eq!(s.db_prereqs.len(), 16);
        assert_eq!(validate(&s), Ok(()));
    }
}
