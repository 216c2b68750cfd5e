//! Dispatch-level tests over a real store (`testkit`): error texts, authentication, MULTI
//! queueing and EXEC (reads after writes through the overlay), COMMAND shapes, that every
//! write-flagged command produces ops, the typed reads, SCAN, admission limits and CLIENT.

use crate::error::RedisError;
use crate::reply::Reply;

use super::session::Session;
use super::table;
use super::testkit::kit;

fn err(text: &str) -> impl Fn(&Reply) -> bool + '_ {
    move |r| matches!(r, Reply::Error(e) if e.to_string() == text)
}

#[test]
fn unknown_and_arity_errors() {
    let k = kit();
    let mut s = Session::detached();
    assert!(err(
        "ERR unknown command 'foo', with args beginning with: 'a' 'b' "
    )(&k.run(&mut s, &["foo", "a", "b"])));
    assert!(err("ERR wrong number of arguments for 'get' command")(
        &k.run(&mut s, &["GET"])
    ));
    assert!(err(
        "ERR wrong number of arguments for 'config|get' command"
    )(&k.run(&mut s, &["config", "get"])));
    assert!(err("ERR unknown subcommand 'nope'. Try CONFIG HELP.")(
        &k.run(&mut s, &["config", "nope"])
    ));
    assert!(err("ERR wrong number of arguments for 'mset' command")(
        &k.run(&mut s, &["mset", "a", "b", "c"])
    ));
    assert_eq!(k.run(&mut s, &["PING"]), Reply::Simple("PONG"));
}

#[test]
fn auth_gate() {
    let k = kit();
    k.shared
        .settings
        .set_all(&[("requirepass".into(), "pw".into())])
        .unwrap();
    let mut s = Session::detached();
    s.authenticated = false;
    assert!(err("NOAUTH Authentication required.")(
        &k.run(&mut s, &["get", "k"])
    ));
    assert!(err(
        "WRONGPASS invalid username-password pair or user is disabled."
    )(&k.run(&mut s, &["auth", "x"])));
    assert!(matches!(
        k.run(&mut s, &["hello", "3"]),
        Reply::Error(RedisError::HelloNoAuth)
    ));
    assert!(matches!(
        k.run(&mut s, &["hello", "3", "auth", "default", "pw"]),
        Reply::Map(_)
    ));
    assert_eq!(s.protocol, 3);
    assert_eq!(k.run(&mut s, &["get", "k"]), Reply::Nil);
    let k2 = kit();
    let mut s2 = Session::detached();
    assert_eq!(
        k2.run(&mut s2, &["auth", "x"]),
        Reply::Error(RedisError::AuthNotConfigured)
    );
    assert_eq!(k2.run(&mut s2, &["auth", "default", "x"]), Reply::OK);
    assert_eq!(
        k2.run(&mut s2, &["hello", "4"]),
        Reply::Error(RedisError::NoProto)
    );
}

#[test]
fn multi_queues_and_execabort() {
    let k = kit();
    let mut s = Session::detached();
    assert_eq!(k.run(&mut s, &["multi"]), Reply::OK);
    assert_eq!(k.run(&mut s, &["set", "a", "1"]), Reply::Simple("QUEUED"));
    assert_eq!(
        k.run(&mut s, &["multi"]),
        Reply::Error(RedisError::NestedMulti)
    );
    assert!(err("ERR wrong number of arguments for 'get' command")(
        &k.run(&mut s, &["get"])
    ));
    assert_eq!(
        k.run(&mut s, &["exec"]),
        Reply::Error(RedisError::ExecAbort)
    );
    assert!(!s.in_multi());
    assert_eq!(
        k.run(&mut s, &["exec"]),
        Reply::Error(RedisError::ExecWithoutMulti)
    );
    assert_eq!(
        k.run(&mut s, &["discard"]),
        Reply::Error(RedisError::DiscardWithoutMulti)
    );
}

#[test]
fn exec_is_one_request_and_reads_are_pinned() {
    let k = kit();
    k.given(&["set", "r", "v"]);
    let mut s = Session::detached();
    k.run(&mut s, &["watch", "w"]);
    assert_eq!(k.run(&mut s, &["multi"]), Reply::OK);
    assert_eq!(
        k.run(&mut s, &["watch", "x"]),
        Reply::Error(RedisError::WatchInMulti)
    );
    k.run(&mut s, &["get", "r"]);
    k.run(&mut s, &["incr", "a"]);
    k.run(&mut s, &["del", "b", "c"]);
    k.run(&mut s, &["ping"]);
    let before = k.submitted();
    let r = k.run(&mut s, &["exec"]);
    assert_eq!(
        r,
        Reply::Array(vec![
            Reply::Bulk("v".into()),
            Reply::Int(1),
            Reply::Int(0),
            Reply::Simple("PONG"),
        ])
    );
    let reqs = k.writes.requests.lock().unwrap();
    assert_eq!(reqs.len(), before + 1, "one EXEC, one request");
    let req = reqs.last().unwrap();
    assert_eq!(req.ops.len(), 3);
    let pinned: Vec<_> = req.watched.iter().map(|(k, _)| k.name.clone()).collect();
    for name in ["w", "r", "a", "b", "c"] {
        assert!(pinned.iter().any(|p| p == name), "{name} not pinned");
    }
    assert!(s.watched.is_empty());
}

#[test]
fn exec_watch_fails_fast() {
    let k = kit();
    let mut s = Session::detached();
    k.run(&mut s, &["watch", "w"]);
    k.given(&["set", "w", "changed"]);
    k.run(&mut s, &["multi"]);
    k.run(&mut s, &["set", "w", "1"]);
    assert_eq!(k.run(&mut s, &["exec"]), Reply::NilArray);
    assert_eq!(k.given(&["get", "w"]), Reply::bulk("changed"));
}

#[test]
fn reads_after_writes_in_multi_see_them() {
    let k = kit();
    k.given(&["rpush", "l", "a"]);
    k.given(&["set", "gone", "old", "pxat", "5"]); // already expired at NOW
    let mut s = Session::detached();
    let script: &[&[&str]] = &[
        &["set", "x", "1"],
        &["get", "x"],
        &["incr", "x"],
        &["get", "x"],
        &["rpush", "l", "b", "c"],
        &["lrange", "l", "0", "-1"],
        &["sadd", "s", "m1", "m2"],
        &["smembers", "s"],
        &["sismember", "s", "m2"],
        &["incr", "gone"],
        &["get", "gone"],
        &["del", "x"],
        &["exists", "x"],
        &["dbsize"],
    ];
    k.run(&mut s, &["multi"]);
    for c in script {
        assert_eq!(k.run(&mut s, c), Reply::Simple("QUEUED"));
    }
    let Reply::Array(r) = k.run(&mut s, &["exec"]) else {
        panic!()
    };
    let b = |t: &str| Reply::bulk(t.to_string());
    assert_eq!(r[1], b("1"));
    assert_eq!(r[3], b("2"));
    assert_eq!(r[5], Reply::Array(vec![b("a"), b("b"), b("c")]));
    assert_eq!(r[7], Reply::Set(vec![b("m1"), b("m2")]));
    assert_eq!(r[8], Reply::Int(1));
    assert_eq!(r[9], Reply::Int(1), "the expired key restarts from 0");
    assert_eq!(r[10], b("1"));
    assert_eq!(r[12], Reply::Int(0));
    assert_eq!(r[13], Reply::Int(3), "l, s and gone");
    // And the store agrees with what the overlay predicted.
    assert_eq!(k.given(&["get", "gone"]), b("1"));
    assert_eq!(k.given(&["llen", "l"]), Reply::Int(3));
    assert_eq!(k.given(&["dbsize"]), Reply::Int(3));
}

#[test]
fn command_introspection() {
    let k = kit();
    let mut s = Session::detached();
    assert_eq!(
        k.run(&mut s, &["command", "count"]),
        Reply::Int(table::count() as i64)
    );
    let Reply::Array(all) = k.run(&mut s, &["command"]) else {
        panic!()
    };
    assert_eq!(all.len(), table::count());
    let Reply::Array(info) = k.run(&mut s, &["command", "info", "get", "nosuch", "config|get"])
    else {
        panic!()
    };
    let Reply::Array(get) = &info[0] else {
        panic!()
    };
    assert_eq!(get.len(), 10);
    assert_eq!(get[0], Reply::bulk("get"));
    assert_eq!(get[1], Reply::Int(2));
    assert_eq!(
        info[1],
        Reply::Nil,
        "Redis answers a nil bulk for an unknown name"
    );
    let Reply::Array(cg) = &info[2] else { panic!() };
    assert_eq!(cg[0], Reply::bulk("config|get"));
    let Reply::Map(docs) = k.run(&mut s, &["command", "docs", "set"]) else {
        panic!()
    };
    assert_eq!(docs[0].0, Reply::bulk("set"));
    let Reply::Array(list) = k.run(&mut s, &["command", "list", "filterby", "pattern", "s*"])
    else {
        panic!()
    };
    assert!(list.contains(&Reply::bulk("set")) && !list.contains(&Reply::bulk("get")));
}

/// Sample arguments that make every write command produce at least one op.
fn sample(name: &str) -> Vec<&'static str> {
    match name {
        "mset" | "msetnx" => vec!["k", "v"],
        "setex" | "psetex" => vec!["k", "10", "v"],
        "setrange" => vec!["k", "0", "v"],
        "incrby" | "decrby" | "incrbyfloat" => vec!["k", "2"],
        "getex" => vec!["k", "PERSIST"],
        "lset" | "lrem" => vec!["k", "0", "v"],
        "linsert" => vec!["k", "BEFORE", "p", "v"],
        "ltrim" => vec!["k", "0", "1"],
        "lmove" => vec!["k", "d", "LEFT", "RIGHT"],
        "rpoplpush" | "rename" | "renamenx" | "sinterstore" | "sunionstore" | "sdiffstore" => {
            vec!["k", "d"]
        }
        "smove" => vec!["k", "d", "m"],
        "expire" | "pexpire" | "expireat" | "pexpireat" => vec!["k", "100"],
        "flushdb" | "flushall" => vec![],
        "getdel" | "persist" | "incr" | "decr" | "del" | "unlink" | "lpop" | "rpop" => vec!["k"],
        "spop" => vec!["s"],
        _ => vec!["k", "v"],
    }
}

#[test]
fn every_write_command_produces_ops() {
    let k = kit();
    k.given(&["sadd", "s", "m"]);
    let mut s = Session::detached();
    for spec in table::all().filter(|s| s.is_write()) {
        let before = k.submitted();
        let mut parts = vec![spec.name];
        parts.extend(sample(spec.name));
        // The executor may answer an error (the samples share keys of several types); the
        // handler must still have produced a write.
        k.run(&mut s, &parts);
        let reqs = k.writes.requests.lock().unwrap();
        assert_eq!(reqs.len(), before + 1, "{} produced no write", spec.name);
        assert!(!reqs[before].ops.is_empty(), "{}", spec.name);
    }
}

#[test]
fn reads_from_snapshot() {
    let k = kit();
    k.given(&["set", "s", "Hello, World!"]);
    k.given(&["rpush", "l", "a", "b", "c", "b"]);
    let mut s = Session::detached();
    k.run(&mut s, &["select", "1"]);
    k.run(&mut s, &["sadd", "x", "1", "2"]);
    let mut s = Session::detached();
    assert_eq!(
        k.run(&mut s, &["getrange", "s", "-6", "-2"]),
        Reply::bulk("World")
    );
    assert_eq!(k.run(&mut s, &["strlen", "s"]), Reply::Int(13));
    assert_eq!(
        k.run(&mut s, &["lrange", "l", "1", "-2"]),
        Reply::Array(vec![Reply::bulk("b"), Reply::bulk("c")])
    );
    assert_eq!(k.run(&mut s, &["lindex", "l", "-1"]), Reply::bulk("b"));
    assert_eq!(k.run(&mut s, &["lindex", "l", "9"]), Reply::Nil);
    assert_eq!(
        k.run(&mut s, &["lpos", "l", "b", "rank", "-1"]),
        Reply::Int(3)
    );
    assert_eq!(
        k.run(&mut s, &["lpos", "l", "b", "count", "0"]),
        Reply::Array(vec![Reply::Int(1), Reply::Int(3)])
    );
    assert_eq!(
        k.run(&mut s, &["get", "l"]),
        Reply::Error(RedisError::WrongType)
    );
    assert_eq!(
        k.run(&mut s, &["llen", "s"]),
        Reply::Error(RedisError::WrongType)
    );
    assert_eq!(k.run(&mut s, &["type", "l"]), Reply::Status("list".into()));
    assert_eq!(k.run(&mut s, &["dbsize"]), Reply::Int(2));
    assert_eq!(
        k.run(&mut s, &["select", "16"]),
        Reply::Error(RedisError::DbIndexOutOfRange)
    );
    assert_eq!(k.run(&mut s, &["select", "1"]), Reply::OK);
    assert_eq!(k.run(&mut s, &["scard", "x"]), Reply::Int(2));
    assert_eq!(k.run(&mut s, &["ttl", "x"]), Reply::Int(-1));
    assert_eq!(k.run(&mut s, &["ttl", "nope"]), Reply::Int(-2));
    assert_eq!(
        k.run(&mut s, &["keys", "*"]),
        Reply::Array(vec![Reply::bulk("x")])
    );
    let Reply::Map(cfg) = k.run(&mut s, &["config", "get", "save", "appendonly"]) else {
        panic!()
    };
    assert_eq!(cfg.len(), 2);
}

#[test]
fn ttls_and_expiry() {
    let k = kit();
    let mut s = Session::detached();
    k.run(&mut s, &["set", "k", "v", "px", "1500"]);
    assert_eq!(k.run(&mut s, &["pttl", "k"]), Reply::Int(1500));
    assert_eq!(k.run(&mut s, &["ttl", "k"]), Reply::Int(2));
    assert_eq!(k.run(&mut s, &["pexpiretime", "k"]), Reply::Int(1_001_500));
    assert_eq!(
        k.run(&mut s, &["expiretime", "k"]),
        Reply::Int(1002),
        "rounded"
    );
    k.run(&mut s, &["set", "old", "v", "pxat", "999999"]);
    assert_eq!(k.run(&mut s, &["get", "old"]), Reply::Nil);
    assert_eq!(k.run(&mut s, &["exists", "old"]), Reply::Int(0));
    assert_eq!(k.run(&mut s, &["expire", "k", "0"]), Reply::Int(1));
    assert_eq!(k.run(&mut s, &["exists", "k"]), Reply::Int(0));
}

#[test]
fn keys_and_scan_use_the_store() {
    let k = kit();
    let mut s = Session::detached();
    for name in ["hello", "hallo", "hxllo", "other"] {
        k.run(&mut s, &["set", name, "v"]);
    }
    k.run(&mut s, &["rpush", "list", "x"]);
    let Reply::Array(found) = k.run(&mut s, &["keys", "h[^e]llo"]) else {
        panic!()
    };
    assert_eq!(found, vec![Reply::bulk("hallo"), Reply::bulk("hxllo")]);
    let Reply::Array(found) = k.run(&mut s, &["keys", "h[!e]llo"]) else {
        panic!()
    };
    assert_eq!(
        found,
        vec![Reply::bulk("hello")],
        "[!e] does not negate in Redis"
    );
    // A full SCAN in pages of 2 returns every key once (in the store's hash order).
    let mut cursor = "0".to_string();
    let mut seen = Vec::new();
    loop {
        let Reply::Array(page) = k.run(&mut s, &["scan", &cursor, "count", "2"]) else {
            panic!()
        };
        let Reply::Bulk(next) = &page[0] else {
            panic!()
        };
        let Reply::Array(items) = &page[1] else {
            panic!()
        };
        seen.extend(items.iter().cloned());
        cursor = String::from_utf8(next.to_vec()).unwrap();
        if cursor == "0" {
            break;
        }
    }
    let names = ["hallo", "hello", "hxllo", "list", "other"];
    seen.sort_by_key(|r| format!("{r:?}"));
    assert_eq!(
        seen,
        names.iter().map(|n| Reply::bulk(*n)).collect::<Vec<_>>()
    );
    let Reply::Array(page) = k.run(&mut s, &["scan", "0", "type", "list", "count", "100"]) else {
        panic!()
    };
    assert_eq!(page[1], Reply::Array(vec![Reply::bulk("list")]));
    let Reply::Array(page) = k.run(&mut s, &["scan", "0", "type", "hash"]) else {
        panic!()
    };
    assert_eq!(page[1], Reply::Array(vec![]));
    assert_eq!(
        k.run(&mut s, &["scan", "x"]),
        Reply::Error(RedisError::InvalidCursor)
    );
    k.run(&mut s, &["sadd", "set", "a", "b", "c"]);
    let Reply::Array(page) = k.run(&mut s, &["sscan", "set", "0", "match", "[ab]"]) else {
        panic!()
    };
    assert_eq!(page[0], Reply::bulk("0"));
    assert_eq!(
        page[1],
        Reply::Array(vec![Reply::bulk("a"), Reply::bulk("b")])
    );
}

/// Set replies come in the store's member order (hash order); compare them as sets.
fn sorted(r: Reply) -> Reply {
    match r {
        Reply::Set(mut items) => {
            items.sort_by_key(|i| format!("{i:?}"));
            Reply::Set(items)
        }
        other => other,
    }
}

#[test]
fn set_algebra_and_random_picks() {
    let k = kit();
    let mut s = Session::detached();
    k.run(&mut s, &["sadd", "a", "1", "2", "3"]);
    k.run(&mut s, &["sadd", "b", "2", "3", "4"]);
    k.run(&mut s, &["set", "str", "x"]);
    let set =
        |items: &[&str]| Reply::Set(items.iter().map(|i| Reply::bulk(i.to_string())).collect());
    assert_eq!(
        sorted(k.run(&mut s, &["sinter", "a", "b"])),
        set(&["2", "3"])
    );
    assert_eq!(
        sorted(k.run(&mut s, &["sunion", "a", "b"])),
        set(&["1", "2", "3", "4"])
    );
    assert_eq!(sorted(k.run(&mut s, &["sdiff", "a", "b"])), set(&["1"]));
    assert_eq!(k.run(&mut s, &["sinter", "a", "nope"]), set(&[]));
    assert_eq!(
        k.run(&mut s, &["sinter", "a", "str"]),
        Reply::Error(RedisError::WrongType)
    );
    assert_eq!(k.run(&mut s, &["sintercard", "2", "a", "b"]), Reply::Int(2));
    let Reply::Array(picked) = k.run(&mut s, &["srandmember", "a", "-5"]) else {
        panic!()
    };
    assert_eq!(picked.len(), 5);
    let Reply::Array(picked) = k.run(&mut s, &["srandmember", "a", "10"]) else {
        panic!()
    };
    assert_eq!(picked.len(), 3);
    assert_eq!(k.run(&mut s, &["srandmember", "nope"]), Reply::Nil);
    let Reply::Set(popped) = k.run(&mut s, &["spop", "a", "2"]) else {
        panic!()
    };
    assert_eq!(popped.len(), 2);
    assert_eq!(k.run(&mut s, &["scard", "a"]), Reply::Int(1));
    assert_eq!(k.run(&mut s, &["spop", "nope", "1"]), set(&[]));
}

#[test]
fn oversized_names_are_refused_before_the_executor() {
    let k = kit();
    let mut s = Session::detached();
    let long = "k".repeat(600);
    let before = k.submitted();
    assert_eq!(
        k.run(&mut s, &["set", &long, "v"]),
        Reply::Error(RedisError::KeyTooLong)
    );
    assert_eq!(
        k.run(&mut s, &["sadd", "s", &"m".repeat(510)]),
        Reply::Error(RedisError::KeyTooLong)
    );
    assert_eq!(k.submitted(), before, "nothing was submitted");
    // Reads of names that cannot exist are plain misses, not store errors.
    assert_eq!(k.run(&mut s, &["get", &long]), Reply::Nil);
    assert_eq!(
        k.run(&mut s, &["sismember", "s", &"m".repeat(600)]),
        Reply::Int(0)
    );
    assert_eq!(k.run(&mut s, &["keys", &long]), Reply::Array(vec![]));
    k.run(&mut s, &["multi"]);
    k.run(&mut s, &["set", &long, "v"]);
    k.run(&mut s, &["set", "ok", "v"]);
    assert_eq!(
        k.run(&mut s, &["exec"]),
        Reply::Array(vec![Reply::Error(RedisError::KeyTooLong), Reply::OK])
    );
}

#[test]
fn client_commands_use_the_front_end_registry() {
    use std::net::SocketAddr;
    use tokio_util::sync::CancellationToken;

    use crate::server::Clients;

    let k = kit();
    let clients = Clients::new(10);
    let root = CancellationToken::new();
    let addr = |p| SocketAddr::from(([127, 0, 0, 1], p));
    let ra = clients.register(addr(1000), addr(6379), 5, &root);
    let rb = clients.register(addr(1001), addr(6379), 6, &root);
    let mut a = Session::new(ra.handle.clone(), true);
    let mut b = Session::new(rb.handle.clone(), true);
    assert_eq!(k.run(&mut a, &["client", "setname", "alpha"]), Reply::OK);
    assert_eq!(k.run(&mut a, &["client", "getname"]), Reply::bulk("alpha"));
    k.run(&mut b, &["select", "3"]);
    let Reply::Verbatim(list) = k.run(&mut a, &["client", "list"]) else {
        panic!()
    };
    let lines: Vec<_> = list.lines().collect();
    assert_eq!(lines.len(), 2);
    assert!(lines[0].contains(" name=alpha ") && lines[0].contains(" cmd=client|list "));
    assert!(lines[1].contains(" db=3 ") && lines[1].contains(" cmd=select "));
    let Reply::Verbatim(info) = k.run(&mut b, &["client", "info"]) else {
        panic!()
    };
    assert!(info.starts_with(&format!("id={} ", b.id())));
    let Reply::Verbatim(info) = k.run(&mut a, &["info", "clients"]) else {
        panic!()
    };
    assert!(info.contains("connected_clients:2\r\n"));
    let id = b.id().to_string();
    assert_eq!(k.run(&mut a, &["client", "kill", "id", &id]), Reply::Int(1));
    assert!(rb.handle.kill_token().is_cancelled());
    assert!(!ra.handle.kill_token().is_cancelled());
    assert_eq!(
        k.run(&mut a, &["client", "kill", "127.0.0.1:9"]),
        Reply::Error(RedisError::NoSuchClient)
    );
    // Killing itself: the reply, then the connection closes.
    let me = a.id().to_string();
    assert!(matches!(
        super::dispatch(
            &k.shared,
            &mut a,
            super::testkit::argv(&["client", "kill", "id", &me, "skipme", "no"])
        ),
        super::Outcome::Close(Reply::Int(1))
    ));
}
