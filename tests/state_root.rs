//! The state root (`sporedb::root`): same data ⇒ same root whatever order commutative spores
//! were applied in and however they were grouped into transactions, on LMDB and in memory;
//! proofs round-trip and fail when tampered; a format-2 store is upgraded; data edited behind
//! the store's back is detected at reopen.

mod common;

use bytes::Bytes;
use common::*;
use sporedb::crypto::NodeKey;
use sporedb::exec::apply_spore;
use sporedb::root::{Integrity, NodeRoots, Proof, RootService, StateRootRead};
use sporedb::spore::conflict::conflicts;
use sporedb::spore::footprint::Footprint;
use sporedb::spore::*;
use sporedb::store::{KvRead, MemStore, RootOptions, Store, StoreOptions, Table};

fn opts() -> StoreOptions {
    StoreOptions { map_size: 64 << 20 }
}

fn sadd(key: &str, m: &str) -> Op {
    Op::SAdd {
        key: k(key),
        members: vec![Bytes::from(m.to_string())],
    }
}

fn srem(key: &str, m: &str) -> Op {
    Op::SRem {
        key: k(key),
        members: vec![Bytes::from(m.to_string())],
    }
}

/// A base state and commutative spores built against it (INCRBY on one key, SADD/SREM of
/// different members), none conflicting with another.
fn scenario() -> (MemStore, Vec<Spore>) {
    let mut base = MemStore::new();
    mem_apply(
        &mut base,
        vec![sadd("s", "m0"), incr("n", 1), set("x", "1")],
    );
    let ops = vec![
        vec![incr("n", 5)],
        vec![incr("n", -3)],
        vec![sadd("s", "m1")],
        vec![sadd("s", "m2"), incr("n", 10)],
        vec![srem("s", "m0")],
        vec![sadd("t", "a")],
    ];
    // Keep the spores that conflict with none kept before (as a committee would let them
    // commit concurrently).
    let mut spores: Vec<Spore> = Vec::new();
    for (i, ops) in ops.into_iter().enumerate() {
        let s = spore_for(&base.read(), ops, 5000 + i as u64);
        let f = Footprint::of(&s);
        if spores.iter().all(|t| !conflicts(&f, &Footprint::of(t))) {
            spores.push(s);
        }
    }
    assert!(spores.len() >= 4, "the scenario must keep most spores");
    (base, spores)
}

/// All permutations of 0..n (Heap's algorithm).
fn permutations(n: usize) -> Vec<Vec<usize>> {
    fn go(k: usize, a: &mut Vec<usize>, out: &mut Vec<Vec<usize>>) {
        if k <= 1 {
            out.push(a.clone());
            return;
        }
        for i in 0..k {
            go(k - 1, a, out);
            let j = if k.is_multiple_of(2) { i } else { 0 };
            a.swap(j, k - 1);
        }
    }
    let mut out = Vec::new();
    go(n, &mut (0..n).collect(), &mut out);
    out
}

#[test]
fn commutative_orders_and_groupings_give_one_root() {
    let (base, spores) = scenario();
    let mut roots = std::collections::BTreeSet::new();
    let mut digests = std::collections::BTreeSet::new();
    for order in permutations(spores.len()) {
        let mut m = base.clone();
        for &i in &order {
            let mut w = m.write();
            assert!(spores[i].prereqs_hold(&w));
            apply_spore(&mut w, &spores[i], &spores[i].id()).unwrap();
            w.commit().unwrap();
        }
        roots.insert(m.state_root().unwrap());
        digests.insert(m.state_digest());
    }
    assert_eq!(digests.len(), 1, "the executor itself must commute");
    assert_eq!(roots.len(), 1, "one root for every order");
    let expected = *roots.iter().next().unwrap();

    // All in one transaction (a group commit), in memory and on LMDB, in two orders each.
    for rev in [false, true] {
        let mut m = base.clone();
        let mut w = m.write();
        let order: Vec<&Spore> = if rev {
            spores.iter().rev().collect()
        } else {
            spores.iter().collect()
        };
        for s in &order {
            apply_spore(&mut w, s, &s.id()).unwrap();
        }
        w.commit().unwrap();
        assert_eq!(m.state_root().unwrap(), expected);

        let dir = tempfile::tempdir().unwrap();
        let store = Store::open(dir.path(), &opts()).unwrap();
        // The same base state on LMDB (its tables copied; the tree follows at commit).
        let mut w = store.write().unwrap();
        copy_replicated(&base, &mut w);
        w.commit().unwrap();
        // Groups of two spores per transaction.
        for pair in order.chunks(2) {
            let mut w = store.write().unwrap();
            for s in pair {
                assert!(s.prereqs_hold(&w));
                apply_spore(&mut w, s, &s.id()).unwrap();
            }
            w.commit().unwrap();
        }
        assert_eq!(store.state_root().unwrap(), expected, "LMDB agrees");
        assert_eq!(store.state_digest().unwrap(), m.state_digest());
        assert!(matches!(store.scrub().unwrap(), Integrity::Verified { .. }));
    }
}

/// Writes `mem`'s replicated tables into an LMDB write txn (the same base state).
fn copy_replicated(mem: &MemStore, w: &mut sporedb::store::WriteTxn<'_>) {
    use sporedb::store::{KvRead, KvWrite};
    use std::ops::Bound;
    let r = mem.read();
    for t in Table::REPLICATED {
        for e in r
            .range(t, Bound::Unbounded, Bound::Unbounded, false)
            .unwrap()
        {
            let (key, v) = e.unwrap();
            w.put(t, key, v).unwrap();
        }
    }
}

#[test]
fn proofs_round_trip_and_fail_when_tampered() {
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(dir.path(), &opts()).unwrap();
    for i in 0..200 {
        lmdb_apply(&store, vec![set(&format!("k{i}"), &format!("v{i}"))]);
    }
    lmdb_apply(&store, vec![sadd("s", "m"), del("k7")]);
    let txn = store.read().unwrap();
    let root = txn.state_root().unwrap();
    assert_eq!(root.applied_count, 201);

    // Membership.
    let p = txn.prove(0, b"k3").unwrap();
    assert!(p.present());
    assert_eq!(
        p.record().unwrap().payload,
        sporedb::store::layout::Payload::String(b"v3")
    );
    let decoded = Proof::from_hex(&p.to_hex()).unwrap();
    assert_eq!(decoded, p);
    decoded.verify(&root.root).unwrap();
    decoded.check_key(0, b"k3").unwrap();
    assert!(decoded.check_key(0, b"k4").is_err());
    assert!(decoded.check_key(1, b"k3").is_err());

    // Non-membership (never written), and a deleted key (its tombstone record is proven).
    let absent = txn.prove(0, b"nope").unwrap();
    assert!(!absent.present() && absent.value.is_none());
    absent.verify(&root.root).unwrap();
    let deleted = txn.prove(0, b"k7").unwrap();
    assert!(!deleted.present() && deleted.value.is_some());
    deleted.verify(&root.root).unwrap();
    // Another database is another key.
    let other_db = txn.prove(1, b"k3").unwrap();
    assert!(other_db.value.is_none());
    other_db.verify(&root.root).unwrap();

    // Tampering: another value, another key, a claim of absence, another root.
    let mut t = p.clone();
    t.value = Some(b"forged".to_vec());
    assert!(t.verify(&root.root).is_err());
    let mut t = p.clone();
    t.key = b"\x00k4".to_vec();
    assert!(t.verify(&root.root).is_err());
    let mut t = p.clone();
    t.value = None;
    assert!(t.verify(&root.root).is_err());
    let mut t = absent.clone();
    t.value = Some(b"x".to_vec());
    assert!(t.verify(&root.root).is_err());
    let mut other = root.root;
    other[0] ^= 1;
    assert!(p.verify(&other).is_err());
    // A flipped byte anywhere in the encoding either fails to decode or fails to verify.
    let bytes = p.encode();
    for i in 0..bytes.len() {
        let mut b = bytes.clone();
        b[i] ^= 0x40;
        if let Ok(q) = Proof::decode(&b) {
            assert!(
                q.verify(&root.root).is_err() || q == p,
                "flipping byte {i} still verifies"
            );
        }
    }
    // Truncated or extended encodings are refused.
    assert!(Proof::decode(&bytes[..bytes.len() - 1]).is_err());
    let mut longer = bytes.clone();
    longer.push(0);
    assert!(Proof::decode(&longer).is_err());
    assert!(Proof::from_hex("zz").is_err());
}

#[test]
fn lmdb_and_memory_agree_including_deletes_and_lists() {
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(dir.path(), &opts()).unwrap();
    let mut mem = MemStore::new();
    let empty = store.state_root().unwrap();
    assert_eq!(empty, mem.state_root().unwrap());
    let steps: Vec<Vec<Op>> = vec![
        vec![set("a", "1"), set("b", "2")],
        vec![Op::Push {
            key: k("l"),
            end: End::Right,
            elems: vec![b("x"), b("y"), b("z")],
            only_if_exists: false,
        }],
        vec![sadd("s", "1"), sadd("s", "2")],
        vec![srem("s", "1"), srem("s", "2"), del("a")],
        vec![Op::FlushAll],
    ];
    let mut seen = Vec::new();
    for ops in steps {
        let nonce = seen.len() as u64 + 1;
        let s_mem = spore_for(&mem.read(), ops.clone(), nonce);
        let mut w = mem.write();
        apply_spore(&mut w, &s_mem, &s_mem.id()).unwrap();
        w.commit().unwrap();
        let s_lmdb = spore_for(&store.read().unwrap(), ops, nonce);
        assert_eq!(s_mem.id(), s_lmdb.id());
        let mut w = store.write().unwrap();
        apply_spore(&mut w, &s_lmdb, &s_lmdb.id()).unwrap();
        w.commit().unwrap();
        let r = store.state_root().unwrap();
        assert_eq!(r, mem.state_root().unwrap());
        assert!(!seen.contains(&r.root) || r.root == empty.root);
        seen.push(r.root);
    }
    assert!(matches!(store.scrub().unwrap(), Integrity::Verified { .. }));
}

/// Opens the LMDB environment of a stopped store directly (as another program would).
fn raw_env(dir: &std::path::Path) -> heed::Env {
    let mut o = heed::EnvOpenOptions::new();
    o.map_size(64 << 20).max_dbs(16);
    #[allow(unsafe_code)]
    // SAFETY: the store that used this directory is closed; nothing else has it open.
    unsafe {
        o.open(dir.join("db")).unwrap()
    }
}

type RawDb = heed::Database<heed::types::Bytes, heed::types::Bytes>;

/// Edits a closed store's LMDB tables behind sporedb's back: opens `tables`, hands them to
/// `edit` with one write transaction, commits and closes the environment.
fn edit_raw(dir: &std::path::Path, tables: &[&str], edit: impl FnOnce(&[RawDb], &mut heed::RwTxn)) {
    let env = raw_env(dir);
    let dbs: Vec<RawDb> = {
        let r = env.read_txn().unwrap();
        let dbs = tables
            .iter()
            .map(|t| env.open_database(&r, Some(t)).unwrap().unwrap())
            .collect();
        r.commit().unwrap();
        dbs
    };
    let mut w = env.write_txn().unwrap();
    edit(&dbs, &mut w);
    w.commit().unwrap();
    env.prepare_for_closing().wait();
}

/// Changes the last three bytes of database 0's `balance` record to "999" behind the closed
/// store's back (its value "100" becomes "999"; the tree is left as it was).
fn edit_balance(dir: &std::path::Path) {
    edit_raw(dir, &["keys"], |t, w| {
        let mut rec = t[0].get(w, b"\x00balance").unwrap().unwrap().to_vec();
        let n = rec.len();
        rec[n - 3..].copy_from_slice(b"999");
        t[0].put(w, b"\x00balance", &rec).unwrap();
    });
}

/// The records the open's check reads beside the root (the breakdown by database, the
/// tamper alarm) may be edited too: the store still opens, and says what it can.
#[test]
fn unreadable_check_records_do_not_stop_the_open() {
    let dir = tempfile::tempdir().unwrap();
    let root = {
        let store = Store::open(dir.path(), &opts()).unwrap();
        lmdb_apply(&store, vec![set("balance", "100")]);
        store.state_root().unwrap()
    };
    // A garbled breakdown alone: the data still matches the root.
    edit_raw(dir.path(), &["root"], |t, w| {
        t[0].put(w, b"dbroots", b"garbage").unwrap()
    });
    let store = Store::open(dir.path(), &opts()).unwrap();
    assert_eq!(store.integrity(), Integrity::Verified { root: root.root });
    drop(store);
    // A garbled breakdown and an edited value: tampered, every database suspect.
    edit_raw(dir.path(), &["root"], |t, w| {
        t[0].put(w, b"dbroots", b"garbage").unwrap()
    });
    edit_balance(dir.path());
    let store = Store::open(dir.path(), &opts()).unwrap();
    assert!(
        matches!(store.integrity(), Integrity::Tampered { dbs: u16::MAX, .. }),
        "{:?}",
        store.integrity()
    );
    drop(store);
    // A garbled alarm is an alarm.
    let clean = tempfile::tempdir().unwrap();
    drop(Store::open(clean.path(), &opts()).unwrap());
    edit_raw(clean.path(), &["root"], |t, w| {
        t[0].put(w, b"tampered", b"x").unwrap()
    });
    let store = Store::open(clean.path(), &opts()).unwrap();
    assert!(
        matches!(store.integrity(), Integrity::Tampered { dbs: u16::MAX, .. }),
        "{:?}",
        store.integrity()
    );
}

/// Every entry of a closed store's `root` table (tree state, applied digest, breakdown, alarm).
fn root_table(dir: &std::path::Path) -> Vec<(Vec<u8>, Vec<u8>)> {
    let env = raw_env(dir);
    let out = {
        let r = env.read_txn().unwrap();
        let db: RawDb = env.open_database(&r, Some("root")).unwrap().unwrap();
        let all = db
            .iter(&r)
            .unwrap()
            .map(|e| e.map(|(k, v)| (k.to_vec(), v.to_vec())).unwrap())
            .collect();
        r.commit().unwrap();
        all
    };
    env.prepare_for_closing().wait();
    out
}

/// `sporedb verify --data-dir` runs the open's check (tree rebuilt from the data, compared
/// with the stored root) and aborts it: it writes nothing, so pointing it at a running node's
/// directory cannot leave tree versions behind that the node did not commit.
#[test]
fn verify_data_dir_reports_and_writes_nothing() {
    let dir = tempfile::tempdir().unwrap();
    {
        let store = Store::open(dir.path(), &opts()).unwrap();
        lmdb_apply(&store, vec![set("balance", "100"), set("other", "x")]);
    }
    let before = root_table(dir.path());
    let verify = || {
        let out = std::process::Command::new(env!("CARGO_BIN_EXE_sporedb"))
            .arg("verify")
            .arg("--data-dir")
            .arg(dir.path())
            .output()
            .unwrap();
        let text = format!(
            "{}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
        (out.status.code(), text)
    };
    let (code, text) = verify();
    assert_eq!(code, Some(0), "{text}");
    assert!(text.contains("data matches the state root"), "{text}");
    assert_eq!(root_table(dir.path()), before, "verify wrote to the store");

    edit_balance(dir.path());
    let (code, text) = verify();
    assert_eq!(code, Some(1), "{text}");
    assert!(text.contains("state tampered in database(s) 0"), "{text}");
    assert_eq!(
        root_table(dir.path()),
        before,
        "verify recorded an alarm or moved the tree"
    );
}

#[test]
fn format_2_store_is_upgraded() {
    let dir = tempfile::tempdir().unwrap();
    let (root, digest) = {
        let store = Store::open(dir.path(), &opts()).unwrap();
        for i in 0..50 {
            lmdb_apply(
                &store,
                vec![set(&format!("k{i}"), "v"), sadd("s", &format!("m{i}"))],
            );
        }
        (store.state_root().unwrap(), store.state_digest().unwrap())
    };
    {
        // Make it look like a format-2 store: no tree tables' content, format 2.
        edit_raw(dir.path(), &["nodes", "root", "meta"], |t, w| {
            t[0].clear(w).unwrap();
            t[1].clear(w).unwrap();
            t[2].put(w, b"format", &2u32.to_be_bytes()).unwrap();
        });
    }
    let store = Store::open(dir.path(), &opts()).unwrap();
    assert_eq!(store.state_root().unwrap(), root);
    assert_eq!(store.state_digest().unwrap(), digest);
    assert!(matches!(store.integrity(), Integrity::Verified { .. }));
    // And it keeps working incrementally after the upgrade.
    lmdb_apply(&store, vec![set("after", "upgrade")]);
    assert!(matches!(store.scrub().unwrap(), Integrity::Verified { .. }));
}

#[test]
fn tampered_value_is_detected_at_reopen() {
    let dir = tempfile::tempdir().unwrap();
    let root = {
        let store = Store::open(dir.path(), &opts()).unwrap();
        let mut elsewhere = set("elsewhere", "y");
        if let Op::Set { key, .. } = &mut elsewhere {
            key.db = 2;
        }
        lmdb_apply(
            &store,
            vec![set("balance", "100"), set("other", "x"), elsewhere],
        );
        store.state_root().unwrap()
    };
    edit_balance(dir.path());
    let store = Store::open(dir.path(), &opts()).unwrap();
    match store.integrity() {
        Integrity::Tampered {
            stored,
            recomputed,
            dbs,
        } => {
            assert_eq!(stored, root.root);
            assert_ne!(recomputed, root.root);
            // Pinned to the database that was edited; database 2 is intact.
            assert_eq!(dbs, 1 << 0);
        }
        other => panic!("tampering not detected: {other:?}"),
    }
    assert_eq!(store.integrity().repair(), "repair needs peers");
    // The open rebuilt the tree from the data it found. Proofs in the edited database are
    // refused rather than served against that tree; the intact database's still verify.
    let roots = NodeRoots {
        store: std::sync::Arc::new(store),
        key: NodeKey::from_seed([5; 32]),
    };
    for name in [&b"balance"[..], b"other"] {
        let err = roots.prove(0, name).unwrap_err().to_string();
        assert!(err.contains("changed behind its back"), "{err}");
    }
    let (current, proof) = roots.prove(2, b"elsewhere").unwrap();
    proof.verify(&current.root).unwrap();
    // Committing again moves the root on from the rebuilt tree, yet the verdict survives
    // the next open: the first one recorded it.
    let store = std::sync::Arc::into_inner(roots.store).unwrap();
    lmdb_apply(&store, vec![set("later", "z")]);
    drop(store);
    let store = Store::open(dir.path(), &opts()).unwrap();
    assert!(
        matches!(store.integrity(), Integrity::Tampered { stored, dbs, .. } if stored == root.root && dbs == 1),
        "{:?}",
        store.integrity()
    );
}

#[test]
fn root_off_then_on_rebuilds() {
    let dir = tempfile::tempdir().unwrap();
    let off = RootOptions { maintain: false };
    {
        let store = Store::open_with(dir.path(), &opts(), off).unwrap();
        lmdb_apply(&store, vec![set("a", "1")]);
        assert!(
            store.state_root().is_err(),
            "no root while maintenance is off"
        );
        assert_eq!(store.integrity(), Integrity::Disabled);
    }
    // Reopened with the root on: the tree is rebuilt from the data, then kept incrementally.
    let store = Store::open(dir.path(), &opts()).unwrap();
    assert!(matches!(store.integrity(), Integrity::Verified { .. }));
    let r = store.state_root().unwrap();
    assert_eq!(r.applied_count, 1);
    lmdb_apply(&store, vec![set("b", "2")]);
    let r2 = store.state_root().unwrap();
    assert_ne!(r2.root, r.root);
    assert!(matches!(store.scrub().unwrap(), Integrity::Verified { root } if root == r2.root));
}

/// A FLUSHDB that removes most of the tree rebuilds it from what remains instead of removing
/// leaves one path at a time; the result is the root the data implies, and proofs still work.
#[test]
fn large_flush_rebuilds_the_tree_to_the_right_root() {
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(dir.path(), &StoreOptions { map_size: 1 << 30 }).unwrap();
    for chunk in 0..4 {
        let ops = (0..1000)
            .map(|i| set(&format!("k{chunk}:{i}"), "v"))
            .collect();
        lmdb_apply(&store, ops);
    }
    let kept = Key::new(1, Bytes::from_static(b"kept"));
    lmdb_apply(
        &store,
        vec![Op::Set {
            key: kept,
            value: Bytes::from_static(b"1"),
            cond: SetCond::Always,
            ttl: Ttl::Clear,
            get: false,
        }],
    );
    let before = store.state_root().unwrap();
    let t = std::time::Instant::now();
    lmdb_apply(&store, vec![Op::FlushDb { db: 0 }]);
    eprintln!("FLUSHDB of 4000 keys: {:?}", t.elapsed());
    let after = store.state_root().unwrap();
    assert_ne!(after.root, before.root);
    assert_eq!(after.applied_count, before.applied_count + 1);
    assert_eq!(
        store.scrub().unwrap(),
        Integrity::Verified { root: after.root }
    );
    let txn = store.read().unwrap();
    let p = txn.prove(1, b"kept").unwrap();
    assert!(p.present());
    p.verify(&after.root).unwrap();
    assert!(!txn.prove(0, b"k0:1").unwrap().present());
}

/// Replaced tree nodes stay in memory for `KEEP_VERSIONS` commit groups, so readers of
/// older snapshots can still walk their version (`root::resident`), and then go: under a
/// steady stream of overwrites the tree's size stays put. Roots and proofs never depend on it.
#[test]
fn replaced_nodes_stay_for_a_while_then_go() {
    use sporedb::root::resident::KEEP_VERSIONS;
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(dir.path(), &opts()).unwrap();
    let names: Vec<String> = (0..50).map(|i| format!("key{i}")).collect();
    lmdb_apply(&store, names.iter().map(|n| set(n, "0")).collect());
    let fresh = store.tree_nodes();
    let early = store.read().unwrap();
    let early_root = early.state_root().unwrap();
    // Overwrites, one commit group each: every one replaces a leaf and its path.
    let mut round = 0;
    let mut overwrite = |n: u64| {
        for _ in 0..n {
            round += 1;
            lmdb_apply(&store, vec![set("key7", &round.to_string())]);
        }
    };
    overwrite(KEEP_VERSIONS / 2);
    assert!(store.tree_nodes() > fresh);
    // A snapshot from before them still walks its own version's nodes.
    let proof = early.prove(0, b"key7").unwrap();
    proof.verify(&early_root.root).unwrap();
    assert!(proof.value.as_deref().is_some_and(|v| v.ends_with(b"0")));
    drop(early);
    overwrite(2 * KEEP_VERSIONS);
    let steady = store.tree_nodes();
    overwrite(KEEP_VERSIONS);
    assert_eq!(
        store.tree_nodes(),
        steady,
        "replaced nodes go as fast as they come"
    );
    let root = store.state_root().unwrap();
    let txn = store.read().unwrap();
    txn.prove(0, b"key7").unwrap().verify(&root.root).unwrap();
    drop(txn);
    drop(store);
    // The next open builds exactly the current tree from the data, to the same root.
    let reopened = Store::open(dir.path(), &opts()).unwrap();
    assert_eq!(reopened.state_root().unwrap(), root);
    assert!(matches!(reopened.integrity(), Integrity::Verified { .. }));
    assert!(reopened.tree_nodes() < steady);
}

/// A format-4 store (a tree whose leaf keys lack the database nibble, an applied digest over
/// SHAKE128) is upgraded at open: its tree and digest are rebuilt, not trusted. Simulated by
/// replacing the stored root and applied state with other bytes and marking the store format 4:
/// the reopened store has the right root and digest again, and is not reported as tampered.
#[test]
fn format_4_store_is_rebuilt_not_trusted() {
    let dir = tempfile::tempdir().unwrap();
    let root = {
        let store = Store::open(dir.path(), &opts()).unwrap();
        for i in 0..20 {
            lmdb_apply(&store, vec![set(&format!("k{i}"), "v")]);
        }
        store.state_root().unwrap()
    };
    {
        edit_raw(dir.path(), &["root", "meta"], |t, w| {
            let mut tree = t[0].get(w, b"tree").unwrap().unwrap().to_vec();
            tree[8..].copy_from_slice(&[0x44; 32]);
            t[0].put(w, b"tree", &tree).unwrap();
            let mut applied = t[0].get(w, b"applied").unwrap().unwrap().to_vec();
            applied[0] ^= 1;
            t[0].put(w, b"applied", &applied).unwrap();
            t[1].put(w, b"format", &4u32.to_be_bytes()).unwrap();
        });
    }
    let store = Store::open(dir.path(), &opts()).unwrap();
    assert_eq!(store.state_root().unwrap(), root);
    assert!(matches!(store.integrity(), Integrity::Verified { .. }));
    let format = store
        .read()
        .unwrap()
        .get(Table::Meta, b"format")
        .unwrap()
        .map(<[u8]>::to_vec);
    assert_eq!(
        format,
        Some(
            sporedb::store::layout::FORMAT_VERSION
                .to_be_bytes()
                .to_vec()
        )
    );
}
