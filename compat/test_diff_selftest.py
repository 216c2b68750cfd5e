"""Self-test of the differential harness's own logic (no server needed): the RESP reader, the
script parser and the comparison rules. A harness that silently reports "identical" would make
the whole diff suite worthless, so these pin down that differences are actually seen."""

from __future__ import annotations

import socket
import textwrap

import pytest

import diff
from resp import Reply, RespConnection, render

BULK = lambda b: Reply("bulk", b)  # noqa: E731


def read_all(wire: bytes, count: int) -> list[Reply]:
    """Parse `count` replies from raw bytes through a real socket pair."""
    a, b = socket.socketpair()
    try:
        b.sendall(wire)
        conn = RespConnection(a)
        return [conn.read_reply() for _ in range(count)]
    finally:
        a.close()
        b.close()


def test_reader_keeps_every_resp_type_apart():
    wire = (b"+OK\r\n-ERR x\r\n:5\r\n$3\r\nabc\r\n$-1\r\n*-1\r\n_\r\n(123456789012345678901\r\n"
            b",1.5\r\n#t\r\n=15\r\ntxt:hello world\r\n!3\r\nbad\r\n*2\r\n:1\r\n$0\r\n\r\n"
            b"~1\r\n+a\r\n%1\r\n+k\r\n:1\r\n")
    rendered = [render(r) for r in read_all(wire, 15)]
    assert rendered == ["+OK", "-ERR x", ":5", "'abc'", "$-1", "*-1", "_",
                        "(123456789012345678901", ",1.5", "#t", "=txt:'hello world'", "!bad",
                        "[:1, '']", "~{+a}", "%{+k: :1}"]


def test_nil_bulk_nil_array_and_null_differ():
    assert len({Reply("nil_bulk"), Reply("nil_array"), Reply("null")}) == 3


def parse(tmp_path, text: str) -> list[diff.Step]:
    path = tmp_path / "t.txt"
    path.write_text(textwrap.dedent(text))
    return diff.parse_script(path)


def test_script_syntax(tmp_path):
    steps = parse(tmp_path, """
        SET k "a b"   # comment
        @b %unordered %tol=2 SMEMBERS s
        %begin resp3
        GET k
        %begin pipeline
        INCR n
        INCR n
        %end
        %end
        %replies=2 %raw "PING\\r\\n"
    """)
    assert [s.args for s in steps[:2]] == [["SET", "k", "a b"], ["SMEMBERS", "s"]]
    assert steps[1].conn == "b" and steps[1].flags == {"unordered": "", "tol": "2"}
    assert steps[2].proto == 3 and steps[2].conn != steps[0].conn
    assert [len(b) for b in diff.batches(steps)] == [1, 1, 1, 2, 1]
    assert steps[5].payload() == b"PING\r\n" and steps[5].expected_replies == 2


@pytest.mark.parametrize("bad", ["%nosuchflag GET k", "%begin nosuch", "%end", "%begin resp3",
                                 'SET "unclosed'])
def test_script_errors_are_reported(tmp_path, bad):
    with pytest.raises(diff.ScriptError):
        parse(tmp_path, bad)


def step(text: str, script: str = "t.txt") -> diff.Step:
    return diff._parse_step(script, 1, text.split(), [])


def test_classify_exact_unordered_and_tolerance():
    ab = Reply("array", (BULK(b"a"), BULK(b"b")))
    ba = Reply("array", (BULK(b"b"), BULK(b"a")))
    assert diff.classify(step("SMEMBERS s"), ab, ba, []).status == "different"
    assert diff.classify(step("%unordered SMEMBERS s"), ab, ba, []).status == "identical"
    assert diff.classify(step("TTL k"), Reply("int", 100), Reply("int", 99), []).status == "different"
    assert diff.classify(step("%tol=1 TTL k"), Reply("int", 100), Reply("int", 99), []).status == "identical"
    # a type change is a difference even when the text is the same
    assert diff.classify(step("GET k"), BULK(b"OK"), Reply("simple", "OK"), []).status == "different"


def test_declared_divergences():
    shape_div = diff.Divergence(id="t", reason="r", match="^TIME$", check="shape")
    times = Reply("array", (BULK(b"1"), BULK(b"2")))
    other_times = Reply("array", (BULK(b"3"), BULK(b"4")))
    assert diff.classify(step("TIME"), times, other_times, [shape_div]).status == "divergent"
    assert diff.classify(step("TIME"), times, Reply("int", 1), [shape_div]).status == "different"

    big = diff.Divergence(id="b", reason="r", expect={"INCR k": ":9223372036854775808"})
    overflow = Reply("error", "ERR increment or decrement would overflow")
    assert diff.classify(step("INCR k"), overflow, Reply("int", 2**63), [big]).status == "divergent"
    assert diff.classify(step("INCR k"), overflow, Reply("int", 7), [big]).status == "different"
    assert diff.classify(step("INCR other"), overflow, Reply("int", 2**63), [big]).status == "different"

    scoped = diff.Divergence(id="s", reason="r", match="^TIME$", script="only.txt")
    assert diff.classify(step("TIME"), times, Reply("int", 1), [scoped]).status == "different"


def test_divergence_file_is_valid():
    assert diff.load_divergences(diff.DIVERGENCES)
    with pytest.raises(diff.ScriptError):
        diff.Divergence(id="x", reason="r")  # neither match nor an expect table
