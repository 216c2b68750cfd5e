"""A minimal RESP2/RESP3 client that keeps every reply's exact wire type.

Client libraries hide the differences we care about (a `$-1` nil bulk and a `*-1` nil array
both become `None`; a RESP3 double and a bulk string both become a number), so the
differential harness talks to servers through this module instead. `Reply` records the RESP
type byte's meaning and the raw value; `render` gives the one-line text used in reports and in
`divergences.toml`.
"""

from __future__ import annotations

import socket
from dataclasses import dataclass
from typing import Any

CRLF = b"\r\n"


class ConnectionClosed(Exception):
    """The server closed the connection (after QUIT, a protocol error, ...)."""


class ProtocolViolation(Exception):
    """The server sent bytes that are not valid RESP."""


@dataclass(frozen=True)
class Reply:
    """One reply. `kind` names the RESP type; `value` depends on it:

    simple, error, blob_error, bignum, double: str (the exact text on the wire)
    int: int        bulk: bytes        bool: bool       verbatim: (format: str, text: bytes)
    nil_bulk ($-1), nil_array (*-1), null (RESP3 _): None
    array, set, push: tuple[Reply, ...]      map, attribute: tuple[tuple[Reply, Reply], ...]
    """

    kind: str
    value: Any = None

    def is_error(self) -> bool:
        return self.kind in ("error", "blob_error")


def encode_command(args: list[bytes]) -> bytes:
    """A command as a RESP array of bulk strings, the way every client library sends it."""
    out = [b"*%d\r\n" % len(args)]
    for arg in args:
        out.append(b"$%d\r\n%s\r\n" % (len(arg), arg))
    return b"".join(out)


class RespConnection:
    """A blocking connection that sends commands and reads typed replies."""

    def __init__(self, sock: socket.socket):
        self.sock = sock
        self.buf = bytearray()

    @classmethod
    def open(cls, host: str, port: int, timeout: float = 10.0) -> "RespConnection":
        return cls(socket.create_connection((host, port), timeout=timeout))

    def close(self) -> None:
        self.sock.close()

    def send(self, data: bytes) -> None:
        try:
            self.sock.sendall(data)
        except (BrokenPipeError, ConnectionResetError) as e:
            raise ConnectionClosed(str(e)) from e

    def call(self, *args: str | bytes) -> Reply:
        """Send one command and return its reply."""
        self.send(encode_command([a.encode() if isinstance(a, str) else a for a in args]))
        return self.read_reply()

    # --- reading -------------------------------------------------------------------------

    def _fill(self) -> None:
        try:
            chunk = self.sock.recv(65536)
        except ConnectionResetError as e:
            raise ConnectionClosed(str(e)) from e
        if not chunk:
            raise ConnectionClosed("EOF")
        self.buf += chunk

    def _line(self) -> bytes:
        while (end := self.buf.find(CRLF)) < 0:
            self._fill()
        line = bytes(self.buf[:end])
        del self.buf[: end + 2]
        return line

    def _exact(self, n: int) -> bytes:
        while len(self.buf) < n + 2:
            self._fill()
        if self.buf[n : n + 2] != CRLF:
            raise ProtocolViolation("bulk payload not terminated by CRLF")
        data = bytes(self.buf[:n])
        del self.buf[: n + 2]
        return data

    def _int(self, text: bytes) -> int:
        try:
            return int(text)
        except ValueError:
            raise ProtocolViolation(f"bad length or integer {text!r}") from None

    def read_reply(self) -> Reply:
        line = self._line()
        if not line:
            raise ProtocolViolation("empty line where a reply was expected")
        tag, rest = chr(line[0]), line[1:]
        if tag == "+":
            return Reply("simple", rest.decode("utf-8", "replace"))
        if tag == "-":
            return Reply("error", rest.decode("utf-8", "replace"))
        if tag == ":":
            return Reply("int", self._int(rest))
        if tag == "(":
            return Reply("bignum", rest.decode())
        if tag == ",":
            return Reply("double", rest.decode())
        if tag == "#":
            if rest not in (b"t", b"f"):
                raise ProtocolViolation(f"bad boolean {rest!r}")
            return Reply("bool", rest == b"t")
        if tag == "_":
            return Reply("null")
        if tag in "$!=":
            return self._read_blob(tag, self._int(rest))
        if tag in "*~>":
            return self._read_sequence(tag, self._int(rest))
        if tag in "%|":
            return self._read_map(tag, self._int(rest))
        raise ProtocolViolation(f"unknown RESP type byte {tag!r} in {line!r}")

    def _read_blob(self, tag: str, n: int) -> Reply:
        if n == -1 and tag == "$":
            return Reply("nil_bulk")
        data = self._exact(n)
        if tag == "$":
            return Reply("bulk", data)
        if tag == "!":
            return Reply("blob_error", data.decode("utf-8", "replace"))
        fmt, sep, text = data.partition(b":")
        if not sep or len(fmt) != 3:
            raise ProtocolViolation(f"verbatim string without a 3-byte format: {data[:20]!r}")
        return Reply("verbatim", (fmt.decode(), text))

    def _read_sequence(self, tag: str, n: int) -> Reply:
        if n == -1 and tag == "*":
            return Reply("nil_array")
        items = tuple(self.read_reply() for _ in range(n))
        return Reply({"*": "array", "~": "set", ">": "push"}[tag], items)

    def _read_map(self, tag: str, n: int) -> Reply:
        pairs = tuple((self.read_reply(), self.read_reply()) for _ in range(n))
        if tag == "|":
            # An attribute is metadata attached to the reply that follows it; keep both.
            return Reply("attribute", (pairs, self.read_reply()))
        return Reply("map", pairs)


# --- rendering and comparison ------------------------------------------------------------

_OPEN_CLOSE = {"array": ("[", "]"), "set": ("~{", "}"), "push": (">[", "]")}


def _quote(data: bytes) -> str:
    # repr() of bytes gives unambiguous escapes; strip the b prefix for readability.
    return repr(data)[1:]


def render(r: Reply) -> str:
    """A one-line, type-revealing rendering: +OK  -ERR x  :5  (9999  ,1.5  #t  "bulk"
    $-1 (nil bulk)  *-1 (nil array)  _ (RESP3 null)  [a, b]  ~{a, b}  %{k: v}  =txt:"..."."""
    k, v = r.kind, r.value
    if k == "simple":
        return "+" + v
    if k == "error":
        return "-" + v
    if k == "blob_error":
        return "!" + v
    if k == "int":
        return f":{v}"
    if k == "bignum":
        return "(" + v
    if k == "double":
        return "," + v
    if k == "bool":
        return "#t" if v else "#f"
    if k == "null":
        return "_"
    if k == "nil_bulk":
        return "$-1"
    if k == "nil_array":
        return "*-1"
    if k == "bulk":
        return _quote(v)
    if k == "verbatim":
        return f"={v[0]}:{_quote(v[1])}"
    if k in _OPEN_CLOSE:
        open_, close = _OPEN_CLOSE[k]
        return open_ + ", ".join(render(x) for x in v) + close
    if k == "map":
        return "%{" + ", ".join(f"{render(a)}: {render(b)}" for a, b in v) + "}"
    if k == "attribute":
        pairs, inner = v
        return "|{" + ", ".join(f"{render(a)}: {render(b)}" for a, b in pairs) + "} " + render(inner)
    if k == "replies":  # several replies read for one %raw step
        return "<" + "; ".join(render(x) for x in v) + ">"
    # Synthetic replies made by the harness (closed connection, timeout, ...).
    return f"<{k}{': ' + str(v) if v is not None else ''}>"


def sort_aggregates(r: Reply) -> Reply:
    """The reply with every aggregate's elements sorted (recursively), for commands whose
    element order is unspecified (SMEMBERS, KEYS, SUNION, ...)."""
    if r.kind in ("array", "set", "push"):
        return Reply(r.kind, tuple(sorted((sort_aggregates(x) for x in r.value), key=render)))
    if r.kind == "map":
        pairs = ((sort_aggregates(a), sort_aggregates(b)) for a, b in r.value)
        return Reply("map", tuple(sorted(pairs, key=lambda p: render(p[0]))))
    return r


def shape(r: Reply) -> Any:
    """The reply's structure without its scalar values: types, aggregate sizes and map keys.
    Error texts are kept: an error is never an "incidental value"."""
    if r.kind in ("array", "set", "push"):
        return (r.kind, tuple(shape(x) for x in r.value))
    if r.kind == "map":
        return (r.kind, tuple((render(a), shape(b)) for a, b in r.value))
    if r.is_error():
        return (r.kind, r.value)
    return r.kind


def equal_within(a: Reply, b: Reply, tolerance: int) -> bool:
    """Equality where integer replies (also inside aggregates) may differ by `tolerance`,
    for TTL/PTTL-style answers that depend on when the command ran."""
    if a.kind == b.kind == "int":
        return abs(a.value - b.value) <= tolerance
    if a.kind == b.kind and a.kind in ("array", "set", "push"):
        return len(a.value) == len(b.value) and all(
            equal_within(x, y, tolerance) for x, y in zip(a.value, b.value)
        )
    return a == b
