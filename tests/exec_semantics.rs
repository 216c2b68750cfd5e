//! Redis 7 semantics of every op, as replies and resulting state, on the in-memory backend
//! (the LMDB backend runs the same code over the same tables; see store_lmdb.rs). Expected
//! replies were checked against redis-server 7.0.15 where Redis has the same command.

mod common;

use bytes::Bytes;
use common::*;
use num_bigint::BigInt;
use sporedb::error::RedisError;
use sporedb::reply::Reply;
use sporedb::spore::*;
use sporedb::store::layout::{self, MAX_NAME};
use sporedb::store::{KeyTtl, KeyType, MemStore, ScanCursor, StoreRead};

fn one(s: &mut MemStore, op: Op) -> Reply {
    mem_apply(s, vec![op]).remove(0)
}

fn err(e: RedisError) -> Reply {
    Reply::Error(e)
}

fn push(key: &str, end: End, elems: &[&str]) -> Op {
    Op::Push {
        key: k(key),
        end,
        elems: elems.iter().map(|e| b(e)).collect(),
        only_if_exists: false,
    }
}

fn sadd(key: &str, members: &[&str]) -> Op {
    Op::SAdd {
        key: k(key),
        members: members.iter().map(|e| b(e)).collect(),
    }
}

fn list(s: &MemStore, key: &str) -> Vec<String> {
    s.read()
        .list_range(&k(key), 0, -1, 0)
        .unwrap()
        .into_iter()
        .map(|e| String::from_utf8_lossy(e).into_owned())
        .collect()
}

/// A set's members, sorted (the store keeps them in hash order; Redis promises no order).
fn members(s: &MemStore, key: &str) -> Vec<String> {
    let mut m: Vec<String> = s
        .read()
        .set_members(&k(key), 0)
        .unwrap()
        .into_iter()
        .map(|e| String::from_utf8_lossy(e).into_owned())
        .collect();
    m.sort();
    m
}

fn string(s: &MemStore, key: &str) -> Option<String> {
    s.read()
        .string(&k(key), 0)
        .unwrap()
        .map(|v| String::from_utf8_lossy(v).into_owned())
}

fn setop(key: &str, v: &str, cond: SetCond, ttl: Ttl, get: bool) -> Op {
    Op::Set {
        key: k(key),
        value: b(v),
        cond,
        ttl,
        get,
    }
}

#[test]
fn set_family() {
    let mut s = MemStore::new();
    assert_eq!(
        one(&mut s, setop("k", "v", SetCond::Nx, Ttl::Clear, false)),
        Reply::OK
    );
    assert_eq!(
        one(&mut s, setop("k", "w", SetCond::Nx, Ttl::Clear, false)),
        Reply::Nil
    );
    assert_eq!(
        one(&mut s, setop("k", "w", SetCond::Nx, Ttl::Clear, true)),
        bulk("v")
    );
    assert_eq!(
        one(&mut s, setop("nokey", "w", SetCond::Xx, Ttl::Clear, true)),
        Reply::Nil
    );
    assert_eq!(string(&s, "nokey"), None);
    assert_eq!(
        one(&mut s, setop("k", "x", SetCond::Xx, Ttl::At(5000), true)),
        bulk("v")
    );
    assert_eq!(
        s.read().ttl_ms(&k("k"), 1000).unwrap(),
        KeyTtl::At {
            at_ms: 5000,
            remaining_ms: 4000
        }
    );
    // KEEPTTL keeps it, a plain SET clears it.
    one(&mut s, setop("k", "y", SetCond::Always, Ttl::Keep, false));
    assert_eq!(
        s.read()
            .get_record(&k("k"), 0)
            .unwrap()
            .unwrap()
            .expire_at_ms,
        Some(5000)
    );
    assert_eq!(s.read().expired_keys(5001, 10).unwrap(), vec![k("k")]);
    one(&mut s, set("k", "z"));
    assert_eq!(s.read().ttl_ms(&k("k"), 0).unwrap(), KeyTtl::Persistent);
    assert!(s.read().expired_keys(u64::MAX, 10).unwrap().is_empty());
    // SET GET on a list: WRONGTYPE, nothing set. Plain SET replaces the list.
    one(&mut s, push("l", End::Right, &["a"]));
    assert_eq!(
        one(&mut s, setop("l", "v", SetCond::Always, Ttl::Clear, true)),
        err(RedisError::WrongType)
    );
    assert_eq!(s.read().key_type(&k("l"), 0).unwrap(), Some(KeyType::List));
    assert_eq!(one(&mut s, set("l", "v")), Reply::OK);
    assert_eq!(string(&s, "l").as_deref(), Some("v"));
    assert_eq!(
        s.read().list_len(&k("l"), 0).unwrap_err().to_string(),
        "wrong type"
    );
}

#[test]
fn getdel_getex_msetnx() {
    let mut s = MemStore::new();
    one(&mut s, set("a", "1"));
    one(&mut s, push("l", End::Left, &["x"]));
    assert_eq!(one(&mut s, Op::GetDel { key: k("a") }), bulk("1"));
    assert_eq!(one(&mut s, Op::GetDel { key: k("a") }), Reply::Nil);
    assert_eq!(
        one(&mut s, Op::GetDel { key: k("l") }),
        err(RedisError::WrongType)
    );
    one(&mut s, set("a", "1"));
    assert_eq!(
        one(
            &mut s,
            Op::GetEx {
                key: k("a"),
                ttl: Ttl::At(99)
            }
        ),
        bulk("1")
    );
    assert_eq!(
        s.read().ttl_ms(&k("a"), 0).unwrap(),
        KeyTtl::At {
            at_ms: 99,
            remaining_ms: 99
        }
    );
    assert_eq!(
        one(
            &mut s,
            Op::GetEx {
                key: k("a"),
                ttl: Ttl::Clear
            }
        ),
        bulk("1")
    );
    assert_eq!(s.read().ttl_ms(&k("a"), 0).unwrap(), KeyTtl::Persistent);
    assert_eq!(
        one(
            &mut s,
            Op::GetEx {
                key: k("zz"),
                ttl: Ttl::Clear
            }
        ),
        Reply::Nil
    );
    assert_eq!(
        one(
            &mut s,
            Op::GetEx {
                key: k("l"),
                ttl: Ttl::Clear
            }
        ),
        err(RedisError::WrongType)
    );
    let pairs = |ps: &[(&str, &str)]| Op::MSetNx {
        pairs: ps.iter().map(|(a, v)| (k(a), b(v))).collect(),
    };
    assert_eq!(one(&mut s, pairs(&[("x", "1"), ("a", "2")])), Reply::Int(0));
    assert_eq!(string(&s, "x"), None);
    assert_eq!(
        one(&mut s, pairs(&[("x", "1"), ("y", "2"), ("x", "3")])),
        Reply::Int(1)
    );
    assert_eq!(string(&s, "x").as_deref(), Some("3"));
    assert_eq!(string(&s, "y").as_deref(), Some("2"));
}

#[test]
fn append_and_setrange() {
    let mut s = MemStore::new();
    let append = |key: &str, d: &str| Op::Append {
        key: k(key),
        data: b(d),
    };
    let setrange = |key: &str, off: u64, d: &str| Op::SetRange {
        key: k(key),
        offset: off,
        data: b(d),
    };
    assert_eq!(one(&mut s, append("a", "he")), Reply::Int(2));
    assert_eq!(one(&mut s, append("a", "llo")), Reply::Int(5));
    assert_eq!(string(&s, "a").as_deref(), Some("hello"));
    assert_eq!(one(&mut s, setrange("a", 1, "ipp")), Reply::Int(5));
    assert_eq!(string(&s, "a").as_deref(), Some("hippo"));
    assert_eq!(one(&mut s, setrange("a", 7, "!")), Reply::Int(8));
    assert_eq!(string(&s, "a").as_deref(), Some("hippo\0\0!"));
    assert_eq!(one(&mut s, setrange("a", 3, "")), Reply::Int(8));
    assert_eq!(one(&mut s, setrange("m", 0, "")), Reply::Int(0));
    assert!(!s.read().exists(&k("m"), 0).unwrap());
    assert_eq!(one(&mut s, setrange("m", 2, "x")), Reply::Int(3));
    // Limits: no huge allocation for any offset.
    assert_eq!(
        one(&mut s, setrange("a", 536870911, "xx")),
        err(RedisError::StringTooLong)
    );
    assert_eq!(
        one(&mut s, setrange("a", u64::MAX, "x")),
        err(RedisError::StringTooLong)
    );
    assert_eq!(
        one(&mut s, setrange("new", u64::MAX - 1, "xy")),
        err(RedisError::StringTooLong)
    );
    one(&mut s, push("l", End::Left, &["x"]));
    assert_eq!(one(&mut s, append("l", "x")), err(RedisError::WrongType));
    assert_eq!(
        one(&mut s, setrange("l", 0, "x")),
        err(RedisError::WrongType)
    );
}

#[test]
fn incrby_is_exact_beyond_i64() {
    let mut s = MemStore::new();
    assert_eq!(one(&mut s, incr("n", i64::MAX)), Reply::Int(i64::MAX));
    let r = one(&mut s, incr("n", 1));
    let expected: BigInt = BigInt::from(i64::MAX) + 1;
    assert_eq!(r, Reply::BigInt(expected.clone()));
    assert_eq!(string(&s, "n"), Some(expected.to_string()));
    let huge: BigInt = "-123456789012345678901234567890".parse().unwrap();
    let r = one(
        &mut s,
        Op::IncrBy {
            key: k("n"),
            delta: huge.clone(),
        },
    );
    assert_eq!(r, Reply::integer(&(expected + huge)));
    one(&mut s, set("n", "-5"));
    assert_eq!(one(&mut s, incr("n", 5)), Reply::Int(0));
    assert_eq!(string(&s, "n").as_deref(), Some("0"));
    for bad in ["007", "+1", " 1", "1.5", "", "-0", "abc"] {
        one(&mut s, set("bad", bad));
        assert_eq!(
            one(&mut s, incr("bad", 1)),
            err(RedisError::NotInteger),
            "{bad:?}"
        );
        assert_eq!(string(&s, "bad").as_deref(), Some(bad));
    }
    one(&mut s, sadd("set", &["a"]));
    assert_eq!(one(&mut s, incr("set", 1)), err(RedisError::WrongType));
    // TTL survives INCRBY.
    one(&mut s, setop("t", "1", SetCond::Always, Ttl::At(77), false));
    one(&mut s, incr("t", 1));
    assert_eq!(
        s.read()
            .get_record(&k("t"), 0)
            .unwrap()
            .unwrap()
            .expire_at_ms,
        Some(77)
    );
}

#[test]
fn incrbyfloat() {
    let mut s = MemStore::new();
    let f = |key: &str, d: &str| Op::IncrByFloat {
        key: k(key),
        delta: b(d),
    };
    one(&mut s, set("f", "10.5"));
    assert_eq!(one(&mut s, f("f", "0.1")), bulk("10.6"));
    one(&mut s, set("g", "5.0e3"));
    assert_eq!(one(&mut s, f("g", "2.0e2")), bulk("5200"));
    assert_eq!(string(&s, "g").as_deref(), Some("5200"));
    assert_eq!(one(&mut s, f("h", "inf")), err(RedisError::NanOrInfinity));
    assert_eq!(one(&mut s, f("h", "nan")), err(RedisError::NotFloat));
    assert!(!s.read().exists(&k("h"), 0).unwrap());
    one(&mut s, set("i", " 1"));
    assert_eq!(one(&mut s, f("i", "1")), err(RedisError::NotFloat));
    assert_eq!(one(&mut s, f("new", "3")), bulk("3"));
}

#[test]
fn del_expire_persist() {
    let mut s = MemStore::new();
    let expire = |key: &str, at: u64, cond: ExpireCond, delete: bool| Op::Expire {
        key: k(key),
        at_ms: at,
        cond,
        delete,
    };
    one(&mut s, set("a", "1"));
    assert_eq!(
        one(&mut s, expire("zz", 5, ExpireCond::Always, false)),
        Reply::Int(0)
    );
    assert_eq!(
        one(&mut s, expire("a", 100, ExpireCond::Gt, false)),
        Reply::Int(0)
    );
    assert_eq!(
        one(&mut s, expire("a", 100, ExpireCond::Xx, false)),
        Reply::Int(0)
    );
    assert_eq!(
        one(&mut s, expire("a", 100, ExpireCond::Lt, false)),
        Reply::Int(1)
    );
    assert_eq!(
        one(&mut s, expire("a", 50, ExpireCond::Nx, false)),
        Reply::Int(0)
    );
    assert_eq!(
        one(&mut s, expire("a", 50, ExpireCond::Gt, false)),
        Reply::Int(0)
    );
    assert_eq!(
        one(&mut s, expire("a", 200, ExpireCond::Gt, false)),
        Reply::Int(1)
    );
    assert_eq!(s.read().expired_keys(201, 10).unwrap(), vec![k("a")]);
    assert_eq!(s.read().expired_keys(200, 10).unwrap(), vec![]);
    // Reads hide it once expired (now > at), the executor does not.
    assert!(s.read().exists(&k("a"), 200).unwrap());
    assert!(!s.read().exists(&k("a"), 201).unwrap());
    assert_eq!(s.read().dbsize(0).unwrap(), 1);
    assert_eq!(one(&mut s, incr("a", 1)), Reply::Int(2));
    assert_eq!(one(&mut s, Op::Persist { key: k("a") }), Reply::Int(1));
    assert_eq!(one(&mut s, Op::Persist { key: k("a") }), Reply::Int(0));
    assert!(s.read().expired_keys(u64::MAX, 10).unwrap().is_empty());
    assert_eq!(
        one(&mut s, expire("a", 1, ExpireCond::Always, true)),
        Reply::Int(1)
    );
    assert!(!s.read().exists(&k("a"), 0).unwrap());
    assert_eq!(one(&mut s, del("a")), Reply::Int(0));
    assert_eq!(s.read().dbsize(0).unwrap(), 0);
}

#[test]
fn rename_moves_value_ttl_and_elements() {
    let mut s = MemStore::new();
    let rename = |a: &str, b_: &str, nx: bool| Op::Rename {
        src: k(a),
        dst: k(b_),
        nx,
    };
    assert_eq!(
        one(&mut s, rename("x", "y", false)),
        err(RedisError::NoSuchKey)
    );
    assert_eq!(
        one(&mut s, rename("x", "y", true)),
        err(RedisError::NoSuchKey)
    );
    one(&mut s, push("l", End::Right, &["a", "b", "c"]));
    one(
        &mut s,
        Op::Expire {
            key: k("l"),
            at_ms: 500,
            cond: ExpireCond::Always,
            delete: false,
        },
    );
    one(&mut s, sadd("s", &["m1", "m2"]));
    one(&mut s, set("str", "v"));
    assert_eq!(one(&mut s, rename("l", "l", false)), Reply::OK);
    assert_eq!(one(&mut s, rename("l", "l", true)), Reply::Int(0));
    assert_eq!(one(&mut s, rename("l", "str", true)), Reply::Int(0));
    assert_eq!(one(&mut s, rename("l", "str", false)), Reply::OK);
    assert_eq!(list(&s, "str"), ["a", "b", "c"]);
    assert_eq!(
        s.read().ttl_ms(&k("str"), 0).unwrap(),
        KeyTtl::At {
            at_ms: 500,
            remaining_ms: 500
        }
    );
    assert_eq!(s.read().expired_keys(u64::MAX, 10).unwrap(), vec![k("str")]);
    assert!(!s.read().exists(&k("l"), 0).unwrap());
    assert_eq!(one(&mut s, rename("s", "str", false)), Reply::OK);
    assert_eq!(members(&s, "str"), ["m1", "m2"]);
    assert!(s.read().expired_keys(u64::MAX, 10).unwrap().is_empty());
    assert_eq!(one(&mut s, rename("str", "s2", true)), Reply::Int(1));
    assert_eq!(members(&s, "s2"), ["m1", "m2"]);
    assert_eq!(s.read().dbsize(0).unwrap(), 1);
    // No element of the old names is left behind.
    assert_eq!(s.read().list_len(&k("l"), 0).unwrap(), 0);
}

#[test]
fn lists() {
    let mut s = MemStore::new();
    assert_eq!(
        one(&mut s, push("l", End::Left, &["a", "b", "c"])),
        Reply::Int(3)
    );
    assert_eq!(list(&s, "l"), ["c", "b", "a"]);
    assert_eq!(one(&mut s, push("l", End::Right, &["d"])), Reply::Int(4));
    let pushx = Op::Push {
        key: k("nol"),
        end: End::Left,
        elems: vec![b("x")],
        only_if_exists: true,
    };
    assert_eq!(one(&mut s, pushx), Reply::Int(0));
    assert!(!s.read().exists(&k("nol"), 0).unwrap());
    let r = s.read();
    assert_eq!(
        r.list_range(&k("l"), 1, 2, 0).unwrap(),
        vec![&b"b"[..], b"a"]
    );
    assert_eq!(
        r.list_range(&k("l"), -2, -1, 0).unwrap(),
        vec![&b"a"[..], b"d"]
    );
    assert_eq!(
        r.list_range(&k("l"), 5, 10, 0).unwrap(),
        Vec::<&[u8]>::new()
    );
    assert_eq!(r.list_index(&k("l"), -1, 0).unwrap(), Some(&b"d"[..]));
    assert_eq!(r.list_index(&k("l"), 4, 0).unwrap(), None);
    let pop = |key: &str, end: End, count: Option<u64>| Op::Pop {
        key: k(key),
        end,
        count,
    };
    assert_eq!(one(&mut s, pop("l", End::Left, None)), bulk("c"));
    assert_eq!(
        one(&mut s, pop("l", End::Right, Some(0))),
        Reply::Array(vec![])
    );
    assert_eq!(
        one(&mut s, pop("l", End::Right, Some(2))),
        Reply::Array(vec![bulk("d"), bulk("a")])
    );
    assert_eq!(
        one(&mut s, pop("l", End::Right, Some(5))),
        Reply::Array(vec![bulk("b")])
    );
    assert!(!s.read().exists(&k("l"), 0).unwrap());
    assert_eq!(one(&mut s, pop("l", End::Right, Some(0))), Reply::NilArray);
    assert_eq!(one(&mut s, pop("l", End::Right, None)), Reply::Nil);
    one(&mut s, set("str", "v"));
    assert_eq!(
        one(&mut s, pop("str", End::Right, None)),
        err(RedisError::WrongType)
    );
    assert_eq!(
        one(&mut s, push("str", End::Right, &["x"])),
        err(RedisError::WrongType)
    );
}

#[test]
fn lset_linsert_lrem_ltrim() {
    let mut s = MemStore::new();
    let lset = |i: i64, e: &str| Op::LSet {
        key: k("l"),
        index: i,
        elem: b(e),
    };
    assert_eq!(one(&mut s, lset(0, "x")), err(RedisError::NoSuchKey));
    one(&mut s, push("l", End::Right, &["a", "b", "c"]));
    assert_eq!(one(&mut s, lset(-1, "C")), Reply::OK);
    assert_eq!(one(&mut s, lset(3, "x")), err(RedisError::IndexOutOfRange));
    assert_eq!(list(&s, "l"), ["a", "b", "C"]);
    let ins = |before: bool, p: &str, e: &str| Op::LInsert {
        key: k("l"),
        before,
        pivot: b(p),
        elem: b(e),
    };
    assert_eq!(one(&mut s, ins(true, "b", "X")), Reply::Int(4));
    assert_eq!(one(&mut s, ins(false, "C", "Y")), Reply::Int(5));
    assert_eq!(one(&mut s, ins(true, "a", "Z")), Reply::Int(6));
    assert_eq!(one(&mut s, ins(false, "a", "W")), Reply::Int(7));
    assert_eq!(list(&s, "l"), ["Z", "a", "W", "X", "b", "C", "Y"]);
    assert_eq!(one(&mut s, ins(true, "nope", "Q")), Reply::Int(-1));
    let nokey = Op::LInsert {
        key: k("zz"),
        before: true,
        pivot: b("a"),
        elem: b("b"),
    };
    assert_eq!(one(&mut s, nokey), Reply::Int(0));
    // LPOS.
    one(&mut s, del("l"));
    one(&mut s, push("l", End::Right, &["a", "b", "a", "c", "a"]));
    let r = s.read();
    assert_eq!(
        r.list_pos(&k("l"), b"a", 1, 0, 0, 0).unwrap(),
        vec![0, 2, 4]
    );
    assert_eq!(r.list_pos(&k("l"), b"a", -1, 2, 0, 0).unwrap(), vec![4, 2]);
    assert_eq!(r.list_pos(&k("l"), b"a", 2, 1, 0, 0).unwrap(), vec![2]);
    assert_eq!(r.list_pos(&k("l"), b"a", 1, 0, 2, 0).unwrap(), vec![0]);
    assert_eq!(
        r.list_pos(&k("l"), b"z", 1, 0, 0, 0).unwrap(),
        Vec::<u64>::new()
    );
    let lrem = |c: i64, e: &str| Op::LRem {
        key: k("l"),
        count: c,
        elem: b(e),
    };
    assert_eq!(one(&mut s, lrem(-2, "a")), Reply::Int(2));
    assert_eq!(list(&s, "l"), ["a", "b", "c"]);
    assert_eq!(one(&mut s, lrem(0, "z")), Reply::Int(0));
    assert_eq!(one(&mut s, lrem(1, "b")), Reply::Int(1));
    assert_eq!(list(&s, "l"), ["a", "c"]);
    assert_eq!(s.read().list_len(&k("l"), 0).unwrap(), 2);
    assert_eq!(one(&mut s, lrem(0, "a")), Reply::Int(1));
    assert_eq!(one(&mut s, lrem(0, "c")), Reply::Int(1));
    assert!(!s.read().exists(&k("l"), 0).unwrap());
    let ltrim = |a: i64, z: i64| Op::LTrim {
        key: k("l"),
        start: a,
        stop: z,
    };
    assert_eq!(one(&mut s, ltrim(0, 1)), Reply::OK);
    one(&mut s, push("l", End::Right, &["0", "1", "2", "3", "4"]));
    assert_eq!(one(&mut s, ltrim(1, -2)), Reply::OK);
    assert_eq!(list(&s, "l"), ["1", "2", "3"]);
    assert_eq!(one(&mut s, ltrim(5, 10)), Reply::OK);
    assert!(!s.read().exists(&k("l"), 0).unwrap());
    assert_eq!(s.read().dbsize(0).unwrap(), 0);
}

#[test]
fn lmove() {
    let mut s = MemStore::new();
    let mv = |a: &str, z: &str, from: End, to: End| Op::LMove {
        src: k(a),
        dst: k(z),
        from,
        to,
    };
    one(&mut s, push("one", End::Right, &["z"]));
    assert_eq!(
        one(&mut s, mv("one", "one", End::Left, End::Right)),
        bulk("z")
    );
    assert_eq!(list(&s, "one"), ["z"]);
    one(&mut s, set("str", "v"));
    assert_eq!(
        one(&mut s, mv("one", "str", End::Left, End::Left)),
        err(RedisError::WrongType)
    );
    assert_eq!(
        one(&mut s, mv("nol", "str", End::Left, End::Left)),
        Reply::Nil
    );
    assert_eq!(
        one(&mut s, mv("one", "two", End::Left, End::Left)),
        bulk("z")
    );
    assert!(!s.read().exists(&k("one"), 0).unwrap());
    one(&mut s, push("two", End::Right, &["a", "b"]));
    assert_eq!(
        one(&mut s, mv("two", "two", End::Right, End::Left)),
        bulk("b")
    );
    assert_eq!(list(&s, "two"), ["b", "z", "a"]);
}

#[test]
fn sets() {
    let mut s = MemStore::new();
    assert_eq!(one(&mut s, sadd("s", &["b", "a", "b"])), Reply::Int(2));
    assert_eq!(one(&mut s, sadd("s", &["a", "c"])), Reply::Int(1));
    assert_eq!(members(&s, "s"), ["a", "b", "c"]);
    let r = s.read();
    assert_eq!(r.set_len(&k("s"), 0).unwrap(), 3);
    assert!(r.set_contains(&k("s"), b"a", 0).unwrap());
    assert!(!r.set_contains(&k("s"), b"z", 0).unwrap());
    assert!(!r.set_contains(&k("nos"), b"z", 0).unwrap());
    // Members come in hash order: h64 c < a < b.
    let (c1, page1) = r
        .set_scan(&k("s"), &ScanCursor::start(), 2, None, 0)
        .unwrap();
    assert_eq!(page1, vec![&b"c"[..], b"a"]);
    assert_eq!(c1.to_text(), layout::h64(b"b").to_string());
    let (c2, page2) = r
        .set_scan(
            &k("s"),
            &ScanCursor::parse(c1.to_text().as_bytes()).unwrap(),
            2,
            None,
            0,
        )
        .unwrap();
    assert_eq!(page2, vec![&b"b"[..]]);
    assert!(c2.is_start());
    let some = r.set_random_members(&k("s"), 2, 42, 0).unwrap();
    assert_eq!(some.len(), 2);
    assert_ne!(some[0], some[1]);
    assert_eq!(r.set_random_members(&k("s"), 2, 42, 0).unwrap(), some);
    assert_eq!(r.set_random_members(&k("s"), 10, 1, 0).unwrap().len(), 3);
    assert_eq!(r.set_random_members(&k("s"), -7, 1, 0).unwrap().len(), 7);
    let srem = |m: &[&str]| Op::SRem {
        key: k("s"),
        members: m.iter().map(|e| b(e)).collect(),
    };
    assert_eq!(one(&mut s, srem(&["a", "z"])), Reply::Int(1));
    let spop = Op::SPop {
        key: k("s"),
        members: vec![b("b"), b("q")],
    };
    assert_eq!(one(&mut s, spop), Reply::Array(vec![bulk("b")]));
    assert_eq!(one(&mut s, srem(&["c"])), Reply::Int(1));
    assert!(!s.read().exists(&k("s"), 0).unwrap());
    assert_eq!(one(&mut s, srem(&["c"])), Reply::Int(0));
    one(&mut s, set("str", "v"));
    assert_eq!(one(&mut s, sadd("str", &["a"])), err(RedisError::WrongType));
    assert_eq!(
        s.read().set_members(&k("str"), 0).unwrap_err().to_string(),
        "wrong type"
    );
}

#[test]
fn smove_and_setstore() {
    let mut s = MemStore::new();
    let smove = |a: &str, z: &str, m: &str| Op::SMove {
        src: k(a),
        dst: k(z),
        member: b(m),
    };
    one(&mut s, set("str", "v"));
    one(&mut s, sadd("ss", &["a", "b"]));
    assert_eq!(one(&mut s, smove("nos", "str", "a")), Reply::Int(0));
    assert_eq!(
        one(&mut s, smove("ss", "str", "a")),
        err(RedisError::WrongType)
    );
    assert_eq!(one(&mut s, smove("ss", "ss", "a")), Reply::Int(1));
    assert_eq!(one(&mut s, smove("ss", "ss", "q")), Reply::Int(0));
    assert_eq!(one(&mut s, smove("ss", "t", "a")), Reply::Int(1));
    assert_eq!(one(&mut s, smove("ss", "t", "b")), Reply::Int(1));
    assert!(!s.read().exists(&k("ss"), 0).unwrap());
    assert_eq!(members(&s, "t"), ["a", "b"]);
    one(&mut s, sadd("u", &["b", "c"]));
    let store = |alg: SetAlgebra, dst: &str, src: &[&str]| Op::SetStore {
        dst: k(dst),
        algebra: alg,
        sources: src.iter().map(|x| k(x)).collect(),
    };
    assert_eq!(
        one(&mut s, store(SetAlgebra::Inter, "d", &["t", "str"])),
        err(RedisError::WrongType)
    );
    assert_eq!(
        one(&mut s, store(SetAlgebra::Inter, "d", &["nos", "str"])),
        err(RedisError::WrongType)
    );
    assert_eq!(
        one(&mut s, store(SetAlgebra::Inter, "d", &["t", "u"])),
        Reply::Int(1)
    );
    assert_eq!(members(&s, "d"), ["b"]);
    assert_eq!(
        one(&mut s, store(SetAlgebra::Union, "d", &["t", "u", "nos"])),
        Reply::Int(3)
    );
    assert_eq!(members(&s, "d"), ["a", "b", "c"]);
    assert_eq!(
        one(&mut s, store(SetAlgebra::Diff, "d", &["d", "u"])),
        Reply::Int(1)
    );
    assert_eq!(members(&s, "d"), ["a"]);
    // Replaces a string destination and clears its TTL; an empty result deletes it.
    one(
        &mut s,
        setop("str", "v", SetCond::Always, Ttl::At(9), false),
    );
    assert_eq!(
        one(&mut s, store(SetAlgebra::Union, "str", &["t"])),
        Reply::Int(2)
    );
    assert_eq!(s.read().ttl_ms(&k("str"), 0).unwrap(), KeyTtl::Persistent);
    assert_eq!(
        one(&mut s, store(SetAlgebra::Inter, "str", &["t", "nos"])),
        Reply::Int(0)
    );
    assert!(!s.read().exists(&k("str"), 0).unwrap());
    assert_eq!(
        one(&mut s, store(SetAlgebra::Diff, "d", &["nos", "t"])),
        Reply::Int(0)
    );
    assert!(!s.read().exists(&k("d"), 0).unwrap());
}

#[test]
fn errors_do_not_stop_the_other_ops_and_versions_move_anyway() {
    let mut s = MemStore::new();
    one(&mut s, set("str", "v"));
    let v0 = s.read().key_version(&k("str"));
    let r = mem_apply(
        &mut s,
        vec![
            sadd("str", &["a"]),
            set("x", "1"),
            setop("str", "w", SetCond::Nx, Ttl::Clear, false),
        ],
    );
    assert_eq!(r, vec![err(RedisError::WrongType), Reply::OK, Reply::Nil]);
    assert_eq!(string(&s, "x").as_deref(), Some("1"));
    assert_ne!(s.read().key_version(&k("str")), v0);
}

#[test]
fn tombstones_are_invisible_and_keep_versions() {
    let mut s = MemStore::new();
    let absent = s.read().key_version(&k("t"));
    one(&mut s, set("t", "1"));
    one(&mut s, del("t"));
    let r = s.read();
    let v = r.key_version(&k("t"));
    assert_ne!(v, absent);
    assert!(r.get_record(&k("t"), 0).unwrap().is_none());
    assert_eq!(r.key_type(&k("t"), 0).unwrap(), None);
    assert_eq!(r.string(&k("t"), 0).unwrap(), None);
    assert_eq!(r.list_len(&k("t"), 0).unwrap(), 0);
    assert_eq!(r.set_len(&k("t"), 0).unwrap(), 0);
    assert_eq!(r.ttl_ms(&k("t"), 0).unwrap(), KeyTtl::Missing);
    assert!(r.keys(0, b"*", 0).unwrap().is_empty());
    assert_eq!(
        r.scan_keys(0, &ScanCursor::start(), 10, None, None, 0)
            .unwrap()
            .1
            .len(),
        0
    );
    assert_eq!(r.random_key(0, 5, 0).unwrap(), None);
    assert_eq!(r.dbsize(0).unwrap(), 0);
    // A write to a never-written key leaves a tombstone too (DEL of a missing key).
    let absent2 = s.read().key_version(&k("never"));
    one(&mut s, del("never"));
    assert_ne!(s.read().key_version(&k("never")), absent2);
}

#[test]
fn flushdb_then_writes() {
    let mut s = MemStore::new();
    one(&mut s, set("a", "1"));
    one(&mut s, push("l", End::Left, &["x", "y"]));
    one(&mut s, setop("e", "1", SetCond::Always, Ttl::At(10), false));
    one(
        &mut s,
        Op::Set {
            key: Key::new(1, "other"),
            value: b("1"),
            cond: SetCond::Always,
            ttl: Ttl::At(10),
            get: false,
        },
    );
    let gen0 = s.read().db_state(0).generation;
    let va = s.read().key_version(&k("a"));
    let r = mem_apply(
        &mut s,
        vec![
            set("before", "1"),
            Op::FlushDb { db: 0 },
            set("a", "2"),
            incr("n", 1),
        ],
    );
    assert_eq!(r, vec![Reply::OK, Reply::OK, Reply::OK, Reply::Int(1)]);
    let rd = s.read();
    assert_ne!(rd.db_state(0).generation, gen0);
    assert_eq!(rd.keys(0, b"*", 0).unwrap(), vec![&b"a"[..], b"n"]);
    assert_eq!(rd.dbsize(0).unwrap(), 2);
    assert_ne!(rd.key_version(&k("a")), va);
    // Only db 1's expiry entry is left; `l`'s elements are gone.
    assert_eq!(
        rd.expired_keys(u64::MAX, 10).unwrap(),
        vec![Key::new(1, "other")]
    );
    assert_eq!(rd.list_len(&k("l"), 0).unwrap(), 0);
    assert!(rd.raw_record(&k("before")).unwrap().is_none());
    assert_eq!(rd.dbsize(1).unwrap(), 1);
    one(&mut s, Op::FlushAll);
    assert_eq!(s.read().dbsize(1).unwrap(), 0);
    assert!(s.read().expired_keys(u64::MAX, 10).unwrap().is_empty());
}

#[test]
fn keys_scan_random() {
    let mut s = MemStore::new();
    let names = ["user:1", "user:2", "user:10", "other", "x"];
    mem_apply(&mut s, names.iter().map(|n| set(n, "v")).collect());
    one(&mut s, push("user:list", End::Left, &["a"]));
    let r = s.read();
    assert_eq!(
        r.keys(0, b"user:?", 0).unwrap(),
        vec![&b"user:1"[..], b"user:2"]
    );
    assert_eq!(r.keys(0, b"user:*", 0).unwrap().len(), 4);
    assert_eq!(r.keys(1, b"*", 0).unwrap().len(), 0);
    // SCAN in pages of 2 returns every key exactly once.
    let mut cursor = ScanCursor::start();
    let mut seen = Vec::new();
    loop {
        let (next, page) = r.scan_keys(0, &cursor, 2, None, None, 0).unwrap();
        seen.extend(page.into_iter().map(|n| n.to_vec()));
        if next.is_start() {
            break;
        }
        cursor = ScanCursor::parse(next.to_text().as_bytes()).unwrap();
    }
    assert_eq!(seen.len(), 6);
    let (_, lists) = r
        .scan_keys(
            0,
            &ScanCursor::start(),
            100,
            Some(b"user*"),
            Some(KeyType::List),
            0,
        )
        .unwrap();
    assert_eq!(lists, vec![&b"user:list"[..]]);
    for seed in 0..20 {
        assert!(r
            .random_key(0, seed * 0x0123_4567_89ab_cdef, 0)
            .unwrap()
            .is_some());
    }
}

#[test]
fn too_long_names_and_members_are_refused_deterministically() {
    let mut s = MemStore::new();
    let long = "k".repeat(MAX_NAME + 1);
    assert_eq!(one(&mut s, set(&long, "v")), err(RedisError::KeyTooLong));
    let ok = "k".repeat(MAX_NAME);
    assert_eq!(one(&mut s, set(&ok, "v")), Reply::OK);
    let m = "m".repeat(600);
    assert_eq!(
        one(&mut s, sadd("s", &[m.as_str()])),
        err(RedisError::KeyTooLong)
    );
    assert!(!s.read().exists(&k("s"), 0).unwrap());
    let bytes = Bytes::from(vec![b'q'; 400]);
    one(
        &mut s,
        Op::SAdd {
            key: k("s"),
            members: vec![bytes],
        },
    );
    let dst = "d".repeat(200);
    let st = Op::SetStore {
        dst: k(&dst),
        algebra: SetAlgebra::Union,
        sources: vec![k("s")],
    };
    assert_eq!(one(&mut s, st), err(RedisError::KeyTooLong));
}

#[test]
fn emptied_set_with_ttl_stays_invisible_and_keeps_ttl_for_sadd() {
    let mut s = MemStore::new();
    one(&mut s, sadd("s", &["a"]));
    one(
        &mut s,
        Op::Expire {
            key: k("s"),
            at_ms: 1000,
            cond: ExpireCond::Always,
            delete: false,
        },
    );
    let srem = Op::SRem {
        key: k("s"),
        members: vec![b("a")],
    };
    assert_eq!(one(&mut s, srem), Reply::Int(1));
    let r = s.read();
    assert!(!r.exists(&k("s"), 0).unwrap());
    assert_eq!(r.set_len(&k("s"), 0).unwrap(), 0);
    assert_eq!(r.list_len(&k("s"), 0).unwrap(), 0);
    assert_eq!(r.dbsize(0).unwrap(), 0);
    assert!(r.keys(0, b"*", 0).unwrap().is_empty());
    // Every other op sees no key.
    assert_eq!(one(&mut s, Op::Persist { key: k("s") }), Reply::Int(0));
    assert_eq!(one(&mut s, sadd("s", &["b"])), Reply::Int(1));
    assert_eq!(
        s.read().ttl_ms(&k("s"), 0).unwrap(),
        KeyTtl::At {
            at_ms: 1000,
            remaining_ms: 1000
        }
    );
    // Emptied again, then deleted by the expiry path: nothing is left in the index.
    one(
        &mut s,
        Op::SRem {
            key: k("s"),
            members: vec![b("b")],
        },
    );
    assert_eq!(s.read().expired_keys(2000, 10).unwrap(), vec![k("s")]);
    assert_eq!(one(&mut s, del("s")), Reply::Int(0));
    assert!(s.read().expired_keys(u64::MAX, 10).unwrap().is_empty());
    // A SET over a hidden set starts without TTL, as over a missing key.
    one(&mut s, sadd("s", &["a"]));
    one(
        &mut s,
        Op::Expire {
            key: k("s"),
            at_ms: 1000,
            cond: ExpireCond::Always,
            delete: false,
        },
    );
    one(
        &mut s,
        Op::SRem {
            key: k("s"),
            members: vec![b("a")],
        },
    );
    one(&mut s, setop("s", "v", SetCond::Always, Ttl::Keep, false));
    assert_eq!(s.read().ttl_ms(&k("s"), 0).unwrap(), KeyTtl::Persistent);
    assert!(s.read().expired_keys(u64::MAX, 10).unwrap().is_empty());
    assert_eq!(s.read().dbsize(0).unwrap(), 1);
}

/// An INCR spore with deadline `deadline_ms`, built against `s`.
fn incr_at(s: &MemStore, key: &str, deadline_ms: u64, nonce: u64) -> Spore {
    let mut sp = spore_for(
        &s.read(),
        vec![Op::IncrBy {
            key: k(key),
            delta: BigInt::from(1),
        }],
        nonce,
    );
    sp.deadline_ms = deadline_ms;
    sp
}

fn apply_one(s: &mut MemStore, sp: &Spore) -> sporedb::exec::Applied {
    let mut w = s.write();
    let out = sporedb::exec::apply_spore(&mut w, sp, &sp.id()).unwrap();
    w.commit().unwrap();
    out
}

/// Order-only SADD and SREM of different members of a set *with a TTL* (as an origin builds
/// them: set-member writes commute whatever the TTL) converge: the SREM that empties the set
/// keeps it hidden with its TTL, so SADD-then-SREM and SREM-then-SADD leave the same bytes,
/// TTL included.
#[test]
fn order_only_set_writes_on_a_set_with_ttl_converge_in_either_order() {
    let mut base = MemStore::new();
    mem_apply(&mut base, vec![sadd("s", &["b"])]);
    mem_apply(
        &mut base,
        vec![Op::Expire {
            key: k("s"),
            at_ms: 10_000,
            cond: ExpireCond::Always,
            delete: false,
        }],
    );
    let add = spore_for(&base.read(), vec![sadd("s", &["a"])], 1);
    let rem = spore_for(
        &base.read(),
        vec![Op::SRem {
            key: k("s"),
            members: vec![b("b")],
        }],
        2,
    );
    assert!(add.key_prereqs[0].acc.is_none(), "order-only on the key");
    let (mut x, mut y) = (base.clone(), base.clone());
    for (store, order) in [(&mut x, [&add, &rem]), (&mut y, [&rem, &add])] {
        for sp in order {
            assert!(sp.prereqs_hold(&store.write()));
            assert!(matches!(
                apply_one(store, sp),
                sporedb::exec::Applied::Done(_)
            ));
        }
    }
    assert_eq!(x.state_digest(), y.state_digest());
    assert_eq!(
        y.read().ttl_ms(&k("s"), 0).unwrap(),
        KeyTtl::At {
            at_ms: 10_000,
            remaining_ms: 10_000
        }
    );
}

/// The applied-set digest and count, and the ones recomputed from the `applied` table.
fn applied_views(s: &MemStore) -> (([u8; 32], u64), ([u8; 32], u64)) {
    use sporedb::root::StateRootRead;
    let r = s.read();
    let root = r.state_root().unwrap();
    let set = sporedb::root::AppliedSet::of_table(&r).unwrap();
    (
        (root.applied_digest, root.applied_count),
        (set.digest(), set.count),
    )
}

#[test]
fn applied_ids_are_pruned_past_the_retention_window_the_same_in_any_order() {
    use sporedb::exec::{Applied, APPLIED_RETENTION_MS as R};
    let base = MemStore::new();
    let x = incr_at(&base, "n", 1_000, 1);
    let y = incr_at(&base, "m", 1_000 + R / 2, 2);
    let z = incr_at(&base, "p", 1_500 + R, 3);
    let mut a = base.clone();
    let mut b = base.clone();
    for sp in [&x, &y, &z] {
        assert!(matches!(apply_one(&mut a, sp), Applied::Done(_)));
    }
    // z before y: z prunes x, y is still inside the window and applies.
    for sp in [&x, &z, &y] {
        assert!(matches!(apply_one(&mut b, sp), Applied::Done(_)));
    }
    assert_eq!(a.state_digest(), b.state_digest());
    let (stored, recomputed) = applied_views(&a);
    assert_eq!(
        stored, recomputed,
        "the digest is that of the remaining ids"
    );
    assert_eq!(stored.1, 2, "x's id was pruned, y's and z's kept");
    // x again (a replay): older than the window behind z, so it counts as applied and
    // changes nothing, although its id is gone.
    let before = a.state_digest();
    assert!(matches!(apply_one(&mut a, &x), Applied::AlreadyApplied));
    assert_eq!(a.state_digest(), before);
    assert_eq!(string(&a, "n"), Some("1".into()));
}

/// Where a set member's version lives: in its `elems` entry while it is in the set (so an SADD
/// writes no extra entry and no extra tree leaf), in `members` once removed, and back when
/// re-added; a non-commutative write of the key drops the removed members' records.
#[test]
fn member_versions_live_in_the_elems_entry_then_in_members() {
    use sporedb::store::kv::{KvRead, Table};
    let mut s = MemStore::new();
    let key = k("s");
    let mk = layout::member_version_key(&key, b"a");
    let entries = |s: &MemStore, t: Table| s.read().get(t, &mk).unwrap().map(<[u8]>::to_vec);
    mem_apply(&mut s, vec![sadd("s", &["a", "b"])]);
    let added = entries(&s, Table::Elems).expect("member entry");
    assert_eq!(added.len(), 96, "the version is the member entry's value");
    assert_eq!(entries(&s, Table::Members), None);
    let v_added = s.read().member_version(&key, b"a");
    mem_apply(
        &mut s,
        vec![Op::SRem {
            key: key.clone(),
            members: vec![b("a")],
        }],
    );
    assert_eq!(entries(&s, Table::Elems), None);
    let tomb = entries(&s, Table::Members).expect("removed member's record");
    assert_eq!(tomb.len(), 96);
    let v_removed = s.read().member_version(&key, b"a");
    assert_ne!(v_removed, v_added);
    mem_apply(&mut s, vec![sadd("s", &["a"])]);
    assert_eq!(entries(&s, Table::Members), None, "back in the entry");
    assert_eq!(entries(&s, Table::Elems).map(|v| v.len()), Some(96));
    assert_ne!(s.read().member_version(&key, b"a"), v_removed);
    mem_apply(
        &mut s,
        vec![Op::SRem {
            key: key.clone(),
            members: vec![b("a")],
        }],
    );
    assert!(entries(&s, Table::Members).is_some());
    // DEL moves the key's order: the tombstone goes, the version derives from the new order.
    mem_apply(&mut s, vec![Op::Del { key: key.clone() }]);
    assert_eq!(entries(&s, Table::Members), None);
    let order = s.read().key_version(&key).order;
    assert_eq!(
        s.read().member_version(&key, b"a"),
        KeyVersion::member_absent(&order, &key, b"a")
    );
}
