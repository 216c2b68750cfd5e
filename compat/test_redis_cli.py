"""The real redis-cli against the server under test (COMPAT_TARGET, see conftest.py).

redis-cli is what people type at first, and its modes exercise paths client libraries rarely
do: --pipe (one huge write followed by an ECHO marker), --scan (cursor iteration), -3 (HELLO 3
and RESP3 rendering) and the interactive prompt (COMMAND DOCS at start-up for hints).
"""

from __future__ import annotations

import os
import pty
import select
import subprocess
import time

import pytest

CLI_TIMEOUT = 120  # seconds; generous because every sporedb write goes through consensus


def cli(server, *args: str, stdin: str | bytes | None = None) -> subprocess.CompletedProcess:
    """Run redis-cli against the server; returns the finished process (text output)."""
    data = stdin.encode() if isinstance(stdin, str) else stdin
    proc = subprocess.run(["redis-cli", "-h", server.host, "-p", str(server.port), *args],
                          input=data, capture_output=True, timeout=CLI_TIMEOUT)
    return subprocess.CompletedProcess(proc.args, proc.returncode,
                                       proc.stdout.decode(errors="replace"),
                                       proc.stderr.decode(errors="replace"))


def lines(server, *args: str, stdin: str | None = None) -> list[str]:
    proc = cli(server, *args, stdin=stdin)
    assert proc.returncode == 0, proc.stderr
    return proc.stdout.splitlines()


def test_ping(flushed):
    assert lines(flushed, "PING") == ["PONG"]


def test_formatted_replies(flushed):
    # --no-raw forces the human format, which shows each reply's type.
    script = "\n".join([
        "SET k v", "GET k", "GET missing", "INCR n", "RPUSH l a b", "LRANGE l 0 -1",
        "LRANGE none 0 -1", "GET", "SMEMBERS l", "EXISTS k missing",
    ]) + "\n"
    assert lines(flushed, "--no-raw", stdin=script) == [
        "OK",
        '"v"',
        "(nil)",
        "(integer) 1",
        "(integer) 2",
        '1) "a"',
        '2) "b"',
        "(empty array)",
        "(error) ERR wrong number of arguments for 'get' command",
        "(error) WRONGTYPE Operation against a key holding the wrong kind of value",
        "(integer) 1",
    ]


def test_raw_output_when_not_a_terminal(flushed):
    # Without a terminal redis-cli prints bare values: scripts depend on this format.
    assert lines(flushed, "SET", "k", "hello world") == ["OK"]
    assert lines(flushed, "GET", "k") == ["hello world"]
    assert lines(flushed, "INCRBY", "n", "5") == ["5"]
    assert lines(flushed, "GET", "missing") == [""]


def test_stdin_as_last_argument(flushed):
    # -x: the last argument is read from stdin (binary-safe, newline kept).
    assert lines(flushed, "-x", "SET", "blob", stdin="line1\nline2\n") == ["OK"]
    assert lines(flushed, "STRLEN", "blob") == ["12"]


def mass_insert_payload(count: int) -> bytes:
    """`count` SET key:N val:N commands in RESP, as the redis-cli --pipe docs recommend."""
    parts = []
    for n in range(count):
        key, val = f"key:{n}".encode(), f"val:{n}".encode()
        parts.append(b"*3\r\n$3\r\nSET\r\n$%d\r\n%s\r\n$%d\r\n%s\r\n" % (len(key), key, len(val), val))
    return b"".join(parts)


def test_pipe_mass_insert(flushed):
    count = 10_000
    proc = cli(flushed, "--pipe", stdin=mass_insert_payload(count))
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert f"errors: 0, replies: {count}" in proc.stdout, proc.stdout
    assert lines(flushed, "DBSIZE") == [str(count)]
    assert lines(flushed, "GET", "key:0") == ["val:0"]
    assert lines(flushed, "GET", f"key:{count - 1}") == [f"val:{count - 1}"]


def test_pipe_reports_errors(flushed):
    # A wrong-type write in the stream is counted, not fatal.
    payload = b"*3\r\n$5\r\nRPUSH\r\n$1\r\nl\r\n$1\r\nx\r\n" + b"*2\r\n$4\r\nINCR\r\n$1\r\nl\r\n"
    proc = cli(flushed, "--pipe", stdin=payload)
    assert "errors: 1, replies: 2" in proc.stdout, proc.stdout


@pytest.mark.parametrize("pattern", ["user:1*", "*", "session:*", "nomatch*"])
def test_scan_matches_keys(flushed, pattern):
    names = [f"user:{n}" for n in range(250)] + [f"session:{n}" for n in range(50)]
    script = "".join(f"SET {name} x\n" for name in names)
    assert lines(flushed, stdin=script) == ["OK"] * len(names)
    # redis-cli 7.0 sends SCAN without COUNT (Redis's default is 10), so 300 keys take many
    # round trips and the cursor protocol is really exercised. SCAN may repeat a key: compare sets.
    scanned = lines(flushed, "--scan", "--pattern", pattern)
    listed = [name for name in lines(flushed, "KEYS", pattern) if name]  # raw [] prints ""
    assert set(scanned) == set(listed)
    assert len(scanned) < 2 * len(names)  # repeats are allowed, an endless loop is not


def test_resp3_mode(flushed):
    # -3 negotiates HELLO 3; the output then shows RESP3 types (maps as "=>", sets as "~").
    assert lines(flushed, "-3", "PING") == ["PONG"]
    assert lines(flushed, "-3", "--no-raw", "CONFIG", "GET", "databases") == ['1# "databases" => "16"']
    assert lines(flushed, "-3", "--no-raw", "SADD", "s", "a") == ["(integer) 1"]
    assert lines(flushed, "-3", "--no-raw", "SMEMBERS", "s") == ['1~ "a"']
    assert lines(flushed, "-3", "--no-raw", "GET", "missing") == ["(nil)"]
    hello = lines(flushed, "-3", "--no-raw", "HELLO", "3")
    assert '3# "proto" => (integer) 3' in hello, hello


def test_command_count_and_docs(flushed):
    # redis-cli uses COMMAND DOCS for its hints; COMMAND COUNT is the cheap liveness check.
    assert int(lines(flushed, "COMMAND", "COUNT")[0]) > 0
    docs = lines(flushed, "--no-raw", "COMMAND", "DOCS", "get")
    assert any('"summary"' in line for line in docs), docs


CURSOR_QUERY = b"\x1b[6n"


class Terminal:
    """redis-cli in a pseudo-terminal, so it runs its interactive prompt (linenoise, hints)."""

    def __init__(self, server):
        self.master, slave = pty.openpty()
        self.proc = subprocess.Popen(["redis-cli", "-h", server.host, "-p", str(server.port)],
                                     stdin=slave, stdout=slave, stderr=slave,
                                     start_new_session=True, env={**os.environ, "TERM": "xterm"})
        os.close(slave)
        self.seen = b""

    def send(self, text: str) -> None:
        os.write(self.master, text.encode())

    def expect(self, text: str, timeout: float = 10) -> None:
        deadline = time.monotonic() + timeout
        while text.encode() not in self.seen:
            remaining = deadline - time.monotonic()
            ready, _, _ = select.select([self.master], [], [], max(remaining, 0))
            if not ready:
                raise AssertionError(f"no {text!r} from redis-cli; terminal so far: {self.seen[-500:]!r}")
            try:
                chunk = os.read(self.master, 4096)
            except OSError:  # the terminal closed: redis-cli exited
                raise AssertionError(f"redis-cli exited before {text!r}: {self.seen[-500:]!r}")
            # linenoise asks where the cursor is (to find the width); answer like a terminal.
            self.send("\x1b[1;80R" * chunk.count(CURSOR_QUERY))
            self.seen += chunk
        self.seen = self.seen[self.seen.index(text.encode()) + len(text):]

    def close(self) -> None:
        if self.proc.poll() is None:
            self.proc.kill()
        self.proc.wait()
        os.close(self.master)


def test_interactive_prompt_with_hints(flushed):
    term = Terminal(flushed)
    prompt = f"{flushed.host}:{flushed.port}> "
    try:
        # Wait for the prompt before typing: linenoise reads terminal replies (cursor position)
        # from the same input, so keystrokes sent too early would be swallowed.
        term.expect(prompt)
        for command, answer in [("PING", "PONG"), ("SET greeting hello", "OK"),
                                ("GET greeting", '"hello"')]:
            term.send(command + "\r")
            term.expect(answer)
            term.expect(prompt)
        # Typing a command name and a space shows its argument hint (from COMMAND DOCS, or
        # redis-cli's built-in table if the server's answer was unusable).
        term.send("SET ")
        term.expect("key value")
        term.send("\x15quit\r")  # Ctrl-U clears the line
        assert term.proc.wait(timeout=10) == 0
    finally:
        term.close()
