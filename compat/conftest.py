"""pytest fixtures shared by the client-library suites (test_redis_py.py, test_redis_cli.py).

The server under test is chosen by COMPAT_TARGET=sporedb|redis (default sporedb); it is started
once per test session on a free port with its own temporary directory (see harness.py) and
flushed before every test, so tests can use fixed key names.
"""

from __future__ import annotations

import pytest
import redis
from redis.backoff import NoBackoff
from redis.retry import Retry

import harness


@pytest.fixture(scope="session", autouse=True)
def _stop_servers_on_sigterm():
    harness.exit_on_sigterm()


@pytest.fixture(scope="session")
def target() -> str:
    """"sporedb" or "redis": tests whose expected outcome differs on purpose branch on it."""
    return harness.target_kind()


@pytest.fixture(scope="session")
def server(target):
    with harness.running(target) as srv:
        yield srv


@pytest.fixture
def flushed(server) -> harness.Server:
    """The session's server with an empty keyspace (all databases)."""
    conn = server.connect()
    try:
        reply = conn.call("FLUSHALL")
        assert not reply.is_error(), reply
    finally:
        conn.close()
    return server


def client(server: harness.Server, **kwargs) -> redis.Redis:
    """A redis-py client for the server; `protocol` defaults to 2 so the RESP version under test
    is explicit (redis-py 8 itself defaults to 3). Retries are off: a silent reconnect-and-retry
    would hide a server that drops connections (and slows AUTH error tests by seconds)."""
    kwargs.setdefault("protocol", 2)
    kwargs.setdefault("retry", Retry(NoBackoff(), 0))
    kwargs.setdefault("decode_responses", True)
    kwargs.setdefault("socket_timeout", 10)
    return redis.Redis(host=server.host, port=server.port, **kwargs)


@pytest.fixture
def r(flushed):
    with client(flushed) as c:
        yield c


@pytest.fixture
def r3(flushed):
    with client(flushed, protocol=3) as c:
        yield c


@pytest.fixture
def other(flushed):
    """A second, independent client (the "other client" in WATCH tests)."""
    with client(flushed) as c:
        yield c
