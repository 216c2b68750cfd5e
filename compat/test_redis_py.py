"""redis-py (the most used Python client) against the server under test.

Run with COMPAT_TARGET=sporedb (default) or COMPAT_TARGET=redis; conftest.py starts the server.
Where sporedb differs from Redis on purpose (big integers), the test states both outcomes.
"""

from __future__ import annotations

import threading

import pytest
import redis

from conftest import client

I64_MAX = 2**63 - 1


# --- strings, lists, sets, keys -------------------------------------------------------------

def test_strings(r):
    assert r.set("k", "v") is True
    assert r.get("k") == "v"
    assert r.get("missing") is None
    assert r.set("k", "w", nx=True) is None
    assert r.set("k", "w", xx=True, get=True) == "v"
    assert r.mset({"a": "1", "b": "2"}) is True
    assert r.mget("a", "missing", "b") == ["1", None, "2"]
    assert r.msetnx({"a": "x", "c": "3"}) is False
    assert r.incr("n") == 1
    assert r.incrby("n", 41) == 42
    assert r.decrby("n", 2) == 40
    assert r.incrbyfloat("f", 1.5) == 1.5
    assert r.append("k", "xyz") == 4
    assert r.getrange("k", 1, -1) == "xyz"
    assert r.setrange("k", 0, "W") == 4
    assert r.strlen("k") == 4
    assert r.getdel("k") == "Wxyz"
    assert r.getset("g", "1") is None
    assert r.set("t", "v", ex=100) is True
    assert 99 <= r.ttl("t") <= 100
    assert r.getex("t", persist=True) == "v"
    assert r.ttl("t") == -1
    assert r.execute_command("SETEX", "sx", 50, "v") is True
    assert 49_000 <= r.pttl("sx") <= 50_000


def test_binary_values_round_trip(flushed):
    # Values are bytes, not text: NUL, CR/LF and invalid UTF-8 must survive unchanged.
    with client(flushed, decode_responses=False) as rb:
        value = bytes(range(256)) + b"\r\n\x00end"
        key = b"bin\x00\xffkey"
        assert rb.set(key, value)
        assert rb.get(key) == value
        assert rb.strlen(key) == len(value)
        assert rb.keys(b"bin*") == [key]


def test_large_value_round_trip(r):
    # 4 MiB spans many TCP reads and writes.
    value = "x" * (4 << 20)
    assert r.set("big", value)
    assert r.strlen("big") == len(value)
    assert r.get("big") == value


def test_lists(r):
    assert r.rpush("l", "a", "b", "c") == 3
    assert r.lpush("l", "z") == 4
    assert r.lrange("l", 0, -1) == ["z", "a", "b", "c"]
    assert r.lindex("l", -1) == "c"
    assert r.lpop("l") == "z"
    assert r.rpop("l", 2) == ["c", "b"]
    assert r.lpop("missing", 2) is None
    assert r.rpush("l", "b", "a") == 3
    assert r.lpos("l", "a") == 0
    assert r.lpos("l", "a", rank=-1) == 2
    assert r.lpos("l", "a", count=0) == [0, 2]
    assert r.linsert("l", "before", "b", "x") == 4
    assert r.lrem("l", 0, "a") == 2
    assert r.lset("l", 0, "first") is True
    assert r.lmove("l", "l2", "LEFT", "RIGHT") == "first"
    assert r.rpoplpush("l", "l2") == "b"
    assert r.lrange("l2", 0, -1) == ["b", "first"]
    assert r.ltrim("l2", 0, 0) is True
    assert r.llen("l2") == 1
    assert r.lpushx("nolist", "a") == 0


def test_sets(r):
    assert r.sadd("s", "a", "b", "c") == 3
    assert r.smembers("s") == {"a", "b", "c"}
    assert r.sismember("s", "a") == 1
    assert r.smismember("s", ["a", "z"]) == [1, 0]
    assert r.scard("s") == 3
    assert r.srem("s", "c", "z") == 1
    assert r.sadd("t", "b", "x") == 2
    assert r.sinter("s", "t") == {"b"}
    assert r.sunion("s", "t") == {"a", "b", "x"}
    assert r.sdiff("s", "t") == {"a"}
    assert r.sinterstore("d", ["s", "t"]) == 1
    assert r.sintercard(2, ["s", "t"]) == 1
    assert r.smove("s", "t", "a") is True
    assert r.srandmember("t") in {"a", "b", "x"}
    assert set(r.srandmember("t", 10)) == {"a", "b", "x"}
    assert set(r.spop("t", 10)) == {"a", "b", "x"}
    assert r.exists("t") == 0


def test_scan_iterators_see_every_key_once_or_more(r):
    # Enough keys and members for several SCAN/SSCAN round trips at the default COUNT of 10.
    names = {f"user:{n}" for n in range(300)}
    r.mset({name: "x" for name in names})
    r.sadd("members", *range(500))
    assert set(r.scan_iter(match="user:*")) == names
    assert set(r.scan_iter(match="user:1?")) == {f"user:{n}" for n in range(10, 20)}
    assert set(r.scan_iter(_type="set")) == {"members"}
    assert set(r.sscan_iter("members")) == {str(n) for n in range(500)}
    assert set(r.keys("user:*")) == names


def test_keys_and_expiry(r):
    r.set("a", "1")
    r.rpush("l", "x")
    assert r.type("a") == "string"
    assert r.type("l") == "list"
    assert r.type("missing") == "none"
    assert r.exists("a", "l", "missing") == 2
    assert r.rename("a", "b") is True
    assert r.renamenx("b", "l") is False
    assert r.expire("b", 100) is True
    assert r.expire("b", 50, gt=True) is False
    assert 99 <= r.ttl("b") <= 100
    assert r.expireat("b", 4102444800) is True
    assert r.expiretime("b") == 4102444800
    assert r.persist("b") is True
    assert r.ttl("b") == -1
    assert r.dbsize() == 2
    assert r.delete("b", "l", "missing") == 2
    assert r.randomkey() is None


# --- pipelines and transactions ---------------------------------------------------------------

@pytest.mark.parametrize("transaction", [False, True])
def test_pipeline(r, transaction):
    with r.pipeline(transaction=transaction) as pipe:
        pipe.set("p", "1").incr("p").get("p").rpush("pl", "a", "b").lrange("pl", 0, -1)
        assert pipe.execute() == [True, 2, "2", 2, ["a", "b"]]


@pytest.mark.parametrize("transaction", [False, True])
def test_pipeline_keeps_order_over_many_commands(r, transaction):
    # Reads and writes interleaved in one batch: replies must come back in command order.
    with r.pipeline(transaction=transaction) as pipe:
        for n in range(500):
            pipe.incr("counter")
            pipe.get("counter")
        results = pipe.execute()
    assert results == [v for n in range(1, 501) for v in (n, str(n))]


@pytest.mark.parametrize("transaction", [False, True])
def test_pipeline_runtime_error_does_not_stop_others(r, transaction):
    r.set("str", "v")
    with r.pipeline(transaction=transaction) as pipe:
        pipe.set("a", "1").lpush("str", "x").incr("a")
        results = pipe.execute(raise_on_error=False)
    assert results[0] is True and results[2] == 2
    assert isinstance(results[1], redis.ResponseError)
    assert str(results[1]) == "WRONGTYPE Operation against a key holding the wrong kind of value"


def test_transaction_aborted_by_queueing_error(r):
    # An unknown command is rejected while queueing; EXEC then fails with EXECABORT and
    # nothing runs. redis-py reports the first queueing error.
    with r.pipeline(transaction=True) as pipe:
        pipe.set("a", "1").execute_command("NOSUCHCOMMAND", "x")
        with pytest.raises(redis.ResponseError, match="unknown command 'NOSUCHCOMMAND'"):
            pipe.execute()
    assert r.get("a") is None


def test_watch_conflict_raises_watch_error(r, other):
    r.set("balance", 10)
    with r.pipeline() as pipe:
        pipe.watch("balance")
        current = int(pipe.get("balance"))
        other.set("balance", 999)  # another client changes the watched key
        pipe.multi()
        pipe.set("balance", current - 1)
        with pytest.raises(redis.WatchError):
            pipe.execute()
    assert r.get("balance") == "999"


def test_watch_without_conflict_commits(r):
    r.set("balance", 10)
    with r.pipeline() as pipe:
        pipe.watch("balance")
        current = int(pipe.get("balance"))
        pipe.multi()
        pipe.set("balance", current - 1)
        assert pipe.execute() == [True]
    assert r.get("balance") == "9"


def test_transaction_helper_retries_after_conflict(r, other):
    # redis.Redis.transaction re-runs the function after a WatchError.
    r.set("counter", 0)
    calls = []

    def bump(pipe):
        value = int(pipe.get("counter"))
        if not calls:
            other.incr("counter")  # the first attempt loses the race
        calls.append(value)
        pipe.multi()
        pipe.set("counter", value + 1)

    r.transaction(bump, "counter")
    assert calls == [0, 1]
    assert r.get("counter") == "2"


def test_concurrent_increments_are_not_lost(flushed):
    # Four clients, 200 INCRs each, at the same time: every increment must count.
    def worker():
        with client(flushed) as c:
            for _ in range(200):
                c.incr("shared")

    threads = [threading.Thread(target=worker) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    with client(flushed) as c:
        assert c.get("shared") == "800"


# --- RESP3 --------------------------------------------------------------------------------------

def test_client_with_library_defaults(flushed):
    # Exactly what an application gets from redis.Redis(host, port): in redis-py 8 that means
    # HELLO 3 and CLIENT SETINFO (errors ignored) on connect, bytes replies, retries on.
    c = redis.Redis(host=flushed.host, port=flushed.port)
    try:
        assert c.set("k", "v") is True
        assert c.get("k") == b"v"
        assert c.smembers("missing") == set()
        with c.pipeline() as pipe:
            assert pipe.incr("n").get("n").execute() == [1, b"1"]
    finally:
        c.close()


def test_resp3_client(r3):
    assert r3.connection_pool.connection_kwargs["protocol"] == 3
    assert r3.ping() is True
    assert r3.set("k", "v") is True
    assert r3.get("missing") is None
    assert r3.sadd("s", "a", "b") == 2
    assert r3.smembers("s") == {"a", "b"}
    assert r3.config_get("databases") == {"databases": "16"}
    assert r3.lpop("missing", 2) is None
    with r3.pipeline() as pipe:
        pipe.incr("n").get("n")
        assert pipe.execute() == [1, "1"]
    hello = r3.execute_command("HELLO", "3")
    assert hello["proto"] == 3


def test_resp3_watch_conflict(r3, other):
    r3.set("w", "0")
    with r3.pipeline() as pipe:
        pipe.watch("w")
        other.set("w", "1")
        pipe.multi()
        pipe.incr("w")
        with pytest.raises(redis.WatchError):
            pipe.execute()


# --- big integers: sporedb's deliberate divergence -----------------------------------------------

@pytest.mark.parametrize("protocol", [2, 3])
def test_incrby_past_i64(flushed, target, protocol):
    with client(flushed, protocol=protocol) as c:
        assert c.incrby("big", I64_MAX) == I64_MAX
        if target == "redis":
            with pytest.raises(redis.ResponseError, match="^increment or decrement would overflow$"):
                c.incrby("big", I64_MAX)
            assert c.get("big") == str(I64_MAX)
        else:
            # sporedb: arbitrary-precision integers; redis-py turns ':' and '(' into Python int.
            assert c.incrby("big", I64_MAX) == 2 * I64_MAX
            assert c.incr("big") == 2**64 - 1
            assert c.get("big") == str(2**64 - 1)
            assert c.decrby("big", 2**64) == -1


# --- errors: exception classes and texts ----------------------------------------------------------

def test_error_classes_and_texts(r):
    r.rpush("l", "x")
    r.set("s", "abc")
    cases = [
        (lambda: r.get("l"), redis.ResponseError,
         "WRONGTYPE Operation against a key holding the wrong kind of value"),
        (lambda: r.incr("s"), redis.ResponseError, "value is not an integer or out of range"),
        (lambda: r.incrbyfloat("s", 1), redis.ResponseError, "value is not a valid float"),
        (lambda: r.execute_command("GET"), redis.ResponseError,
         "wrong number of arguments for 'get' command"),
        (lambda: r.execute_command("SET", "k", "v", "NX", "XX"), redis.ResponseError, "syntax error"),
        (lambda: r.execute_command("NOSUCHCOMMAND", "a"), redis.ResponseError,
         "unknown command 'NOSUCHCOMMAND', with args beginning with: 'a' "),
        (lambda: r.lset("missing", 0, "x"), redis.ResponseError, "no such key"),
        (lambda: r.rename("missing", "x"), redis.ResponseError, "no such key"),
        (lambda: r.execute_command("SELECT", "16"), redis.ResponseError, "DB index is out of range"),
        (lambda: r.execute_command("HELLO", "4"), redis.ResponseError,
         "NOPROTO unsupported protocol version"),
        (lambda: r.execute_command("EXEC"), redis.ResponseError, "EXEC without MULTI"),
        (lambda: r.execute_command("AUTH", "pw"), redis.AuthenticationError,
         "AUTH <password> called without any password configured for the default user. "
         "Are you sure your configuration is correct?"),
        (lambda: r.execute_command("AUTH", "nosuchuser", "pw"), redis.AuthenticationError,
         "invalid username-password pair or user is disabled."),
    ]
    for call, error_class, text in cases:
        with pytest.raises(error_class) as info:
            call()
        assert type(info.value) is error_class, (text, type(info.value))
        assert str(info.value) == text


def test_connection_commands(flushed):
    with client(flushed, db=3, client_name="compat-test") as c:
        assert c.client_getname() == "compat-test"
        assert c.set("in-db-3", "v")
        assert c.dbsize() == 1
        assert isinstance(c.client_id(), int)
        assert c.echo("hi") == "hi"
        seconds, micros = c.time()
        assert seconds > 1_700_000_000 and 0 <= micros < 1_000_000
    with client(flushed) as c:
        assert c.dbsize() == 0
        assert c.get("in-db-3") is None


def test_info_is_parseable(r):
    # Many tools read redis_version from INFO to decide which commands they may use.
    info = r.info()
    assert isinstance(info, dict) and "redis_version" in info
    assert isinstance(r.info("server"), dict)


# Legacy COMMAND INFO fields clients use for key routing (redis-py's cluster client among them):
# arity, first key, last key, step.
COMMAND_KEYS = {
    "get": (2, 1, 1, 1),
    "set": (-3, 1, 1, 1),
    "mget": (-2, 1, -1, 1),
    "mset": (-3, 1, -1, 2),
    "del": (-2, 1, -1, 1),
    "lmove": (5, 1, 2, 1),
    "smove": (4, 1, 2, 1),
    "incrby": (3, 1, 1, 1),
    "ping": (-1, 0, 0, 0),
}


def test_command_info_core_fields(r):
    # redis-py parses COMMAND INFO into {name: {field: value}}; the parse itself is part of the test.
    info = r.execute_command("COMMAND", "INFO", *COMMAND_KEYS)
    for name, expected in COMMAND_KEYS.items():
        entry = info[name]
        got = (entry["arity"], entry["first_key_pos"], entry["last_key_pos"], entry["step_count"])
        assert got == expected, name
    assert "readonly" in info["get"]["flags"]
    assert "write" in info["set"]["flags"]
