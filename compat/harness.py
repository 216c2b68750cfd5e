"""Starting and stopping the servers under test: the one place that knows how.

diff.py, the pytest fixtures (conftest.py) and bench.py all use `running(kind)`:

    with harness.running("sporedb") as server:   # or "redis"
        ... connect to server.host, server.port ...

Each server gets a free port on 127.0.0.1 and its own temporary directory (data + log), and is
stopped (and its directory removed) when the block exits, also on errors and Ctrl-C. The
children additionally get SIGTERM from the kernel if this Python process dies, so a killed test
run leaves no server behind.

Environment:
    SPOREDB_BIN            sporedb binary; unset = `cargo build --release`, target/release/sporedb
    REDIS_SERVER_BIN       reference server binary (default: redis-server on PATH)
    COMPAT_TARGET          server the client tests run against: sporedb (default) or redis
    COMPAT_START_TIMEOUT   seconds to wait for a server to answer PING (default 30)
    COMPAT_REPLY_TIMEOUT   seconds diff.py waits for one reply (default 10)

Run `python compat/harness.py build` to build sporedb and print its path (run-all.sh does this
once so that later steps do not each ask cargo again).
"""

from __future__ import annotations

import contextlib
import ctypes
import functools
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Iterator

from resp import ConnectionClosed, RespConnection

REPO = Path(__file__).resolve().parent.parent
HOST = "127.0.0.1"
KINDS = ("redis", "sporedb")
# Not a compatibility target: sporedb with `state_root = false`, only to measure what the state
# root costs (root_cost.py).
SPOREDB_WITHOUT_ROOT = "sporedb-without-root"
REPLY_TIMEOUT = float(os.environ.get("COMPAT_REPLY_TIMEOUT", "10"))


class StartError(RuntimeError):
    """A server did not come up; the message includes the end of its log."""


@dataclass
class Server:
    kind: str
    port: int
    proc: subprocess.Popen
    workdir: Path
    host: str = HOST

    @property
    def log_path(self) -> Path:
        return self.workdir / "server.log"

    def log_tail(self, lines: int = 30) -> str:
        try:
            return "\n".join(self.log_path.read_text(errors="replace").splitlines()[-lines:])
        except OSError:
            return "(no log)"

    def connect(self, timeout: float = REPLY_TIMEOUT) -> RespConnection:
        return RespConnection.open(self.host, self.port, timeout)

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        shutil.rmtree(self.workdir, ignore_errors=True)


def target_kind() -> str:
    """The server the client tests target, from COMPAT_TARGET."""
    kind = os.environ.get("COMPAT_TARGET", "sporedb")
    if kind not in KINDS:
        raise SystemExit(f"COMPAT_TARGET must be one of {KINDS}, not {kind!r}")
    return kind


def free_port() -> int:
    """A port that was free a moment ago (the kernel picks it when we bind port 0)."""
    with socket.socket() as s:
        s.bind((HOST, 0))
        return s.getsockname()[1]


@functools.cache
def sporedb_binary() -> Path:
    """SPOREDB_BIN if set, else the release binary, built with cargo (at low CPU priority: the
    machine is shared with other builds)."""
    if env := os.environ.get("SPOREDB_BIN"):
        path = Path(env)
        if not path.is_file():
            raise StartError(f"SPOREDB_BIN={env} does not exist")
        return path
    print("harness: cargo build --release (set SPOREDB_BIN to skip)", file=sys.stderr)
    subprocess.run(["nice", "-n", "10", "cargo", "build", "--release", "--bin", "sporedb"],
                   cwd=REPO, check=True, stdout=2)  # fd 2: cargo's output is a log
    return REPO / "target" / "release" / "sporedb"


def _command_line(kind: str, port: int, workdir: Path) -> list[str]:
    if kind == "redis":
        # No persistence, so the reference behaves like a fresh in-memory server every run.
        return [os.environ.get("REDIS_SERVER_BIN", "redis-server"),
                "--port", str(port), "--bind", HOST, "--save", "", "--appendonly", "no",
                "--dir", str(workdir), "--daemonize", "no"]
    line = [str(sporedb_binary()), "server", "--port", str(port), "--bind", HOST,
            "--data-dir", str(workdir / "data")]
    if kind == SPOREDB_WITHOUT_ROOT:
        config = workdir / "without-root.toml"
        config.write_text("state_root = false\n")
        line += ["--config", str(config)]
    return line


def _die_with_parent() -> None:
    # Runs in the child before exec: ask Linux to SIGTERM it when its parent exits.
    PR_SET_PDEATHSIG = 1
    ctypes.CDLL(None, use_errno=True).prctl(PR_SET_PDEATHSIG, signal.SIGTERM)


def _wait_ready(server: Server, timeout: float) -> None:
    """Until the server answers PING with +PONG; fails fast if the process exits."""
    deadline = time.monotonic() + timeout
    last_error = "no attempt"
    while time.monotonic() < deadline:
        if server.proc.poll() is not None:
            raise StartError(f"{server.kind} exited with {server.proc.returncode} before "
                             f"answering PING:\n{server.log_tail()}")
        try:
            conn = server.connect(timeout=2)
            try:
                reply = conn.call("PING")
            finally:
                conn.close()
            if reply.kind == "simple" and reply.value == "PONG":
                return
            last_error = f"PING replied {reply}"
        except (OSError, ConnectionClosed) as e:
            last_error = str(e)
        time.sleep(0.05)
    raise StartError(f"{server.kind} on port {server.port} did not answer PING within "
                     f"{timeout}s ({last_error}):\n{server.log_tail()}")


def start(kind: str) -> Server:
    """Start a fresh server of `kind` and wait until it answers PING. The caller must stop()
    it; prefer `running()`."""
    timeout = float(os.environ.get("COMPAT_START_TIMEOUT", "30"))
    # Build (if needed) before taking a port, so a long build cannot let the port go stale.
    if kind != "redis":
        sporedb_binary()
    for attempt in range(3):  # another process may grab the free port before the server binds
        port = free_port()
        workdir = Path(tempfile.mkdtemp(prefix=f"compat-{kind}-"))
        with open(workdir / "server.log", "wb") as log:
            proc = subprocess.Popen(_command_line(kind, port, workdir), stdin=subprocess.DEVNULL,
                                    stdout=log, stderr=subprocess.STDOUT,
                                    preexec_fn=_die_with_parent)
        server = Server(kind, port, proc, workdir)
        try:
            _wait_ready(server, timeout)
            return server
        except StartError:
            in_use = "in use" in server.log_tail().lower()
            server.stop()
            if not in_use or attempt == 2:
                raise
    raise AssertionError("unreachable")


@contextlib.contextmanager
def running(kind: str) -> Iterator[Server]:
    server = start(kind)
    try:
        yield server
    finally:
        server.stop()


def exit_on_sigterm() -> None:
    """Turn SIGTERM into SystemExit so `finally` blocks (and `running()`) stop the servers."""
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))


if __name__ == "__main__":
    if sys.argv[1:] == ["build"]:
        print(sporedb_binary())
    else:
        raise SystemExit("usage: harness.py build")
