//! Dispatch-level tests: error texts, authentication, MULTI queueing, COMMAND shapes, and that
//! every write-flagged command produces ops.

use crate::error::RedisError;
use crate::reply::Reply;

use super::session::Session;
use super::table;
use super::testkit::kit;
use super::view::Value;

fn err(text: &str) -> impl Fn(&Reply) -> bool + '_ {
    move |r| matches!(r, Reply::Error(e) if e.to_string() == text)
}

#[test]
fn unknown_and_arity_errors() {
    let k = kit();
    let mut s = Session::detached(1);
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
    let mut s = Session::new(1, false, Session::detached(1).meta_handle().clone());
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
    let mut s2 = Session::detached(2);
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
    let mut s = Session::detached(1);
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
    k.store.put(0, "r", Value::Str("v".into()));
    let mut s = Session::detached(1);
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
    let r = k.run(&mut s, &["exec"]);
    assert_eq!(
        r,
        Reply::Array(vec![
            Reply::Bulk("v".into()),
            Reply::Int(1),
            Reply::Int(2),
            Reply::Simple("PONG"),
        ])
    );
    let reqs = k.writes.requests.lock().unwrap();
    assert_eq!(reqs.len(), 1);
    assert_eq!(reqs[0].ops.len(), 3);
    let pinned: Vec<_> = reqs[0]
        .watched
        .iter()
        .map(|(k, _)| k.name.clone())
        .collect();
    for name in ["w", "r", "a", "b", "c"] {
        assert!(pinned.iter().any(|p| p == name), "{name} not pinned");
    }
    assert!(s.watched.is_empty());
}

#[test]
fn exec_watch_fails_fast_and_dependent_reads_are_refused() {
    let k = kit();
    let mut s = Session::detached(1);
    k.run(&mut s, &["watch", "w"]);
    k.store.put(0, "w", Value::Str("changed".into()));
    k.run(&mut s, &["multi"]);
    k.run(&mut s, &["set", "w", "1"]);
    assert_eq!(k.run(&mut s, &["exec"]), Reply::NilArray);
    k.run(&mut s, &["multi"]);
    k.run(&mut s, &["set", "x", "1"]);
    k.run(&mut s, &["get", "x"]);
    let Reply::Array(items) = k.run(&mut s, &["exec"]) else {
        panic!()
    };
    assert!(matches!(items[1], Reply::Error(RedisError::Unsupported(_))));
}

#[test]
fn command_introspection() {
    let k = kit();
    let mut s = Session::detached(1);
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
    assert_eq!(info[1], Reply::NilArray);
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
    k.store.put(0, "s", Value::Set(vec!["m".into()]));
    let mut s = Session::detached(1);
    for spec in table::all().filter(|s| s.is_write()) {
        let before = k.writes.requests.lock().unwrap().len();
        let mut parts = vec![spec.name];
        parts.extend(sample(spec.name));
        let r = k.run(&mut s, &parts);
        assert!(!r.is_error(), "{}: {r:?}", spec.name);
        let reqs = k.writes.requests.lock().unwrap();
        assert_eq!(reqs.len(), before + 1, "{} produced no write", spec.name);
        assert!(!reqs[before].ops.is_empty(), "{}", spec.name);
    }
}

#[test]
fn reads_from_snapshot() {
    let k = kit();
    k.store.put(0, "s", Value::Str("Hello, World!".into()));
    k.store.put(
        0,
        "l",
        Value::List(vec!["a".into(), "b".into(), "c".into()]),
    );
    k.store
        .put(1, "x", Value::Set(vec!["1".into(), "2".into()]));
    let mut s = Session::detached(1);
    assert_eq!(
        k.run(&mut s, &["getrange", "s", "-6", "-2"]),
        Reply::bulk("World")
    );
    assert_eq!(
        k.run(&mut s, &["lrange", "l", "1", "-1"]),
        Reply::Array(vec![Reply::bulk("b"), Reply::bulk("c")])
    );
    assert_eq!(
        k.run(&mut s, &["get", "l"]),
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
