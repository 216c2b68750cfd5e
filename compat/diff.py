#!/usr/bin/env python3
"""Differential test: the same command scripts against a real redis-server and sporedb.

    python compat/diff.py                        # all scripts, reference=redis, candidate=sporedb
    python compat/diff.py --candidate redis      # both sides redis-server: checks the harness
    python compat/diff.py strings lists -v       # some scripts; -v prints every reply

Every reply is read with our own RESP reader (resp.py) and compared exactly, type included.
Differences that sporedb makes on purpose are declared in divergences.toml; they are reported
separately and do not fail the run. Exit status: 0 = no unexpected difference, 1 = at least one,
2 = a server could not be started, exited or stopped answering.

Script format (compat/scripts/*.txt), one command per line, shell-like quoting:

    SET k "hello world"        # comment; the line runs on connection "a"
    @b SET k v                 # on connection "b" (any name; opened on first use)
    %unordered SMEMBERS s      # aggregate replies compared as sorted (recursively)
    %tol=1 TTL k               # integer replies may differ by up to 1
    %inline PING               # sent as an inline command instead of a RESP array
    %raw "*1\r\n$4\r\nPING\r\n"  # these exact bytes (Python escapes); one reply is read
    %replies=2 %raw "..."      # read 2 replies (0: read none) for raw bytes holding 2 commands
    %begin resp3               # following lines use connections that sent HELLO 3 first
    %begin pipeline            # following lines are written at once, replies read after
    %end                       # ends the innermost block

A connection the server closed (QUIT, protocol error) replies <closed> to the next command on
it, and the command after that opens it again. Every script starts with FLUSHALL and fresh
connections.
"""

from __future__ import annotations

import argparse
import re
import shlex
import socket
import sys
import tomllib
from collections import Counter, defaultdict
from dataclasses import dataclass, field
from pathlib import Path

import harness
from resp import (ConnectionClosed, ProtocolViolation, Reply, RespConnection, encode_command,
                  equal_within, render, shape, sort_aggregates)

HERE = Path(__file__).resolve().parent
SCRIPTS = HERE / "scripts"
DIVERGENCES = HERE / "divergences.toml"

# Commands whose first argument is a subcommand, so the summary counts "CLIENT ID" apart from
# "CLIENT LIST".
CONTAINER_COMMANDS = {"CLIENT", "CONFIG", "COMMAND", "OBJECT", "ACL", "MEMORY", "SCRIPT"}
FLAGS = {"unordered", "tol", "inline", "raw", "replies"}


# --- scripts -------------------------------------------------------------------------------

@dataclass
class Step:
    script: str
    lineno: int
    args: list[str]
    conn: str               # connection key; resp3 blocks get their own connections
    proto: int              # 2, or 3 inside a resp3 block
    pipeline: int | None    # steps with the same number are written in one batch
    flags: dict[str, str] = field(default_factory=dict)

    @property
    def command(self) -> str:
        """The command as text (what divergence patterns match)."""
        return self.args[0] if "raw" in self.flags else shlex.join(self.args)

    @property
    def display(self) -> str:
        """The line as written: connection, flags, command."""
        conn = self.conn.split("@")[0]
        prefix = ("" if conn == "a" else f"@{conn} ") + "".join(
            f"%{k}{'=' + v if v else ''} " for k, v in self.flags.items())
        return prefix + self.command

    @property
    def name(self) -> str:
        """Command name for the per-command summary."""
        if "raw" in self.flags:
            return "(raw bytes)"
        name = self.args[0].upper() or "''"
        if name in CONTAINER_COMMANDS and len(self.args) > 1:
            name += " " + self.args[1].upper()
        return name + (" (inline)" if "inline" in self.flags else "")

    @property
    def expected_replies(self) -> int:
        return int(self.flags.get("replies") or 1)

    @property
    def where(self) -> str:
        return f"{self.script}:{self.lineno}"

    def payload(self) -> bytes:
        if "raw" in self.flags:
            return self.args[0].encode().decode("unicode_escape").encode("latin-1")
        if "inline" in self.flags:
            return " ".join(shlex.quote(a) if " " in a else a for a in self.args).encode() + b"\r\n"
        return encode_command([a.encode() for a in self.args])


class ScriptError(Exception):
    pass


def parse_script(path: Path) -> list[Step]:
    steps: list[Step] = []
    blocks: list[str] = []    # open %begin blocks, innermost last
    block_serial = 0          # makes each resp3 block's connections distinct
    for lineno, line in enumerate(path.read_text().splitlines(), 1):
        try:
            tokens = shlex.split(line, comments=True)
        except ValueError as e:
            raise ScriptError(f"{path.name}:{lineno}: {e}") from None
        if not tokens:
            continue
        if tokens[0] == "%begin":
            if len(tokens) != 2 or tokens[1] not in ("resp3", "pipeline"):
                raise ScriptError(f"{path.name}:{lineno}: use '%begin resp3' or '%begin pipeline'")
            block_serial += 1
            blocks.append(f"{tokens[1]}#{block_serial}")
            continue
        if tokens == ["%end"]:
            if not blocks:
                raise ScriptError(f"{path.name}:{lineno}: %end without %begin")
            blocks.pop()
            continue
        steps.append(_parse_step(path.name, lineno, tokens, blocks))
    if blocks:
        raise ScriptError(f"{path.name}: unclosed %begin {blocks[-1]}")
    return steps


def _parse_step(script: str, lineno: int, tokens: list[str], blocks: list[str]) -> Step:
    conn, flags = "a", {}
    while tokens and tokens[0][:1] in ("@", "%"):
        tok = tokens.pop(0)
        if tok[0] == "@":
            conn = tok[1:]
            continue
        key, _, value = tok[1:].partition("=")
        if key not in FLAGS:
            raise ScriptError(f"{script}:{lineno}: unknown flag %{key}")
        flags[key] = value
    if not tokens or ("raw" in flags and len(tokens) != 1):
        raise ScriptError(f"{script}:{lineno}: expected a command (or one %raw string)")
    resp3 = [b for b in blocks if b.startswith("resp3")]
    pipeline = [b for b in blocks if b.startswith("pipeline")]
    return Step(script, lineno, tokens,
                conn=conn + ("@" + resp3[-1] if resp3 else ""),
                proto=3 if resp3 else 2,
                pipeline=int(pipeline[-1].split("#")[1]) if pipeline else None,
                flags=flags)


# --- running -------------------------------------------------------------------------------

class ServerGone(Exception):
    """A server exited or stopped answering; the run cannot usefully continue."""


class Side:
    """One server and the script's connections to it."""

    MAX_TIMEOUTS_IN_A_ROW = 3  # then the server is hung, and waiting on every step is pointless

    def __init__(self, label: str, server: harness.Server):
        self.label, self.server = label, server
        self.conns: dict[str, RespConnection] = {}
        self.timeouts_in_a_row = 0

    def start_script(self) -> None:
        self.close_all()
        if self.server.proc.poll() is not None:
            raise ServerGone(f"{self.label} exited with code {self.server.proc.returncode}:"
                             f"\n{self.server.log_tail()}")
        admin = self.server.connect()
        try:
            reply = admin.call("FLUSHALL")
            if reply.is_error():
                raise RuntimeError(f"FLUSHALL on {self.label} failed: {render(reply)}")
        finally:
            admin.close()

    def close_all(self) -> None:
        for conn in self.conns.values():
            conn.close()
        self.conns.clear()

    def _connection(self, step: Step) -> RespConnection | Reply:
        """The step's connection, opened (with HELLO 3 in a resp3 block) if needed; a synthetic
        Reply when the handshake failed."""
        if step.conn in self.conns:
            return self.conns[step.conn]
        try:
            conn = self.server.connect()
        except OSError as e:  # the server died or refuses connections: report, keep going
            return Reply("connect failed", str(e))
        if step.proto == 3:
            try:
                hello = render(conn.call("HELLO", "3"))
            except (ConnectionClosed, ProtocolViolation, OSError) as e:
                hello = repr(e)
            if not hello.startswith("%{"):
                conn.close()
                return Reply("HELLO 3 failed", hello)
        self.conns[step.conn] = conn
        return conn

    def run(self, batch: list[Step]) -> list[Reply]:
        """Send the batch (one step, or one pipeline block) and read one reply per step."""
        targets = [self._connection(step) for step in batch]
        sent = [self._send(step, conn) for step, conn in zip(batch, targets)]
        return [self._read(step, conn) for step, conn in zip(batch, sent)]

    def _send(self, step: Step, conn: RespConnection | Reply) -> RespConnection | Reply:
        if isinstance(conn, Reply):
            return conn
        try:
            conn.send(step.payload())
            return conn
        except (ConnectionClosed, OSError):
            self._drop(step)
            return Reply("closed")

    def _read(self, step: Step, conn: RespConnection | Reply) -> Reply:
        if isinstance(conn, Reply):
            return conn
        try:
            count = step.expected_replies
            reply = (conn.read_reply() if count == 1 else
                     Reply("replies", tuple(conn.read_reply() for _ in range(count))))
            self.timeouts_in_a_row = 0
            return reply
        except socket.timeout:
            self.timeouts_in_a_row += 1
            if self.timeouts_in_a_row >= self.MAX_TIMEOUTS_IN_A_ROW:
                raise ServerGone(f"{self.label} did not reply to {self.timeouts_in_a_row} commands "
                                 f"in a row ({step.where}):\n{self.server.log_tail()}") from None
            result = Reply("timeout")
        except ProtocolViolation as e:
            result = Reply("invalid RESP", str(e))
        except (ConnectionClosed, OSError):  # OSError: closed earlier in the same pipeline
            result = Reply("closed")
        self._drop(step)
        return result

    def _drop(self, step: Step) -> None:
        if conn := self.conns.pop(step.conn, None):
            conn.close()


def batches(steps: list[Step]) -> list[list[Step]]:
    """Consecutive steps of one pipeline block form one batch; every other step is alone."""
    out: list[list[Step]] = []
    for step in steps:
        if out and step.pipeline is not None and out[-1][0].pipeline == step.pipeline:
            out[-1].append(step)
        else:
            out.append([step])
    return out


# --- comparing -----------------------------------------------------------------------------

@dataclass
class Divergence:
    """A declared, deliberate difference (one [[divergence]] entry of divergences.toml).

    It covers the steps whose command matches `match` (a regular expression searched in the
    command text), or, when `expect` is a table, exactly the commands it names. When a covered
    step's replies differ, `check` decides whether the candidate's reply is still acceptable:
    any = always; shape = same types, sizes and map keys (resp.shape); expect = the candidate
    replied exactly `expect` (a render() string, or the table's value for that command)."""

    id: str
    reason: str
    match: str | None = None
    script: str | None = None
    check: str = "any"
    expect: str | dict[str, str] | None = None

    def __post_init__(self) -> None:
        if self.expect is not None:
            self.check = "expect"
        if self.check not in ("any", "shape", "expect"):
            raise ScriptError(f"divergence {self.id}: check must be any, shape or expect")
        if (self.match is not None) == isinstance(self.expect, dict):
            raise ScriptError(f"divergence {self.id}: give either match, or expect as a table")
        if self.match is not None:
            re.compile(self.match)

    def applies_to(self, step: Step) -> bool:
        if self.script not in (None, step.script):
            return False
        if isinstance(self.expect, dict):
            return step.command in self.expect
        return re.search(self.match, step.command) is not None

    def accepts(self, step: Step, ref: Reply, cand: Reply) -> bool:
        if self.check == "shape":
            return shape(ref) == shape(cand)
        if self.check == "expect":
            wanted = self.expect[step.command] if isinstance(self.expect, dict) else self.expect
            return render(cand) == wanted
        return True


def load_divergences(path: Path) -> list[Divergence]:
    return [Divergence(**entry) for entry in tomllib.loads(path.read_text()).get("divergence", [])]


@dataclass
class Outcome:
    step: Step
    ref: Reply
    cand: Reply
    status: str                       # identical | divergent | different
    divergence: Divergence | None = None


def classify(step: Step, ref: Reply, cand: Reply, divergences: list[Divergence]) -> Outcome:
    if "unordered" in step.flags:
        ref, cand = sort_aggregates(ref), sort_aggregates(cand)
    if equal_within(ref, cand, int(step.flags.get("tol") or 0)):
        return Outcome(step, ref, cand, "identical")
    for d in divergences:
        if d.applies_to(step):
            status = "divergent" if d.accepts(step, ref, cand) else "different"
            return Outcome(step, ref, cand, status, d)
    return Outcome(step, ref, cand, "different")


def run_scripts(paths: list[Path], ref: Side, cand: Side, divergences: list[Divergence],
                outcomes: list[Outcome], verbose: bool) -> None:
    """Run the scripts, appending to `outcomes` as it goes (so a crash keeps what was seen)."""
    for path in paths:
        steps = parse_script(path)
        for side in (ref, cand):
            side.start_script()
        for batch in batches(steps):
            for step, r, c in zip(batch, ref.run(batch), cand.run(batch)):
                outcome = classify(step, r, c, divergences)
                outcomes.append(outcome)
                if verbose:
                    print_step(outcome)
        for side in (ref, cand):
            side.close_all()


# --- reporting -----------------------------------------------------------------------------

def clip(text: str, limit: int = 400) -> str:
    """Long replies (INFO, COMMAND DOCS) would bury the report; the start shows the difference
    often enough, and -v prints everything."""
    return text if len(text) <= limit else f"{text[:limit]}... ({len(text) - limit} more chars)"


def print_step(o: Outcome) -> None:
    mark = {"identical": "=", "divergent": "~", "different": "!"}[o.status]
    print(f"{mark} {o.step.where:<22} {o.step.display}")
    print(f"      reference: {render(o.ref)}")
    if o.status != "identical":
        print(f"      candidate: {render(o.cand)}")


def print_report(outcomes: list[Outcome], cand_label: str) -> None:
    per_command: dict[str, Counter] = defaultdict(Counter)
    for o in outcomes:
        per_command[o.step.name][o.status] += 1
    width = max([len(n) for n in per_command] + [7])
    print(f"\n{'command':<{width}}  {'tried':>5}  {'identical':>9}  {'divergent':>9}  {'different':>9}")
    total: Counter = Counter()
    for name in sorted(per_command):
        c = per_command[name]
        total.update(c)
        flag = "  <--" if c["different"] else ""
        print(f"{name:<{width}}  {sum(c.values()):>5}  {c['identical']:>9}  {c['divergent']:>9}  "
              f"{c['different']:>9}{flag}")
    print(f"{'TOTAL':<{width}}  {sum(total.values()):>5}  {total['identical']:>9}  "
          f"{total['divergent']:>9}  {total['different']:>9}")

    divergent = [o for o in outcomes if o.status == "divergent"]
    if divergent:
        print(f"\nDeliberate divergences ({len(divergent)} replies, declared in divergences.toml):")
        by_id: dict[str, list[Outcome]] = defaultdict(list)
        for o in divergent:
            by_id[o.divergence.id].append(o)
        for ident, group in by_id.items():
            print(f"  {ident} [{group[0].divergence.check}]: {group[0].divergence.reason}")
            for o in group:
                print(f"      {o.step.where}  {o.step.display}")

    different = [o for o in outcomes if o.status == "different"]
    if different:
        print(f"\nUnexpected differences ({len(different)}), reference=redis, candidate={cand_label}:")
        for o in different:
            note = f"   (divergence {o.divergence.id} declared, but its check failed)" if o.divergence else ""
            print(f"  {o.step.where}  {o.step.display}{note}")
            print(f"      redis:     {clip(render(o.ref))}")
            print(f"      {cand_label + ':':<10} {clip(render(o.cand))}")
    verdict = "FAIL" if different else "OK"
    print(f"\n{verdict}: {len(outcomes)} commands, {total['identical']} identical, "
          f"{total['divergent']} deliberate divergences, {total['different']} unexpected differences")


def select_scripts(names: list[str]) -> list[Path]:
    every = sorted(SCRIPTS.glob("*.txt"))
    if not names:
        return every
    chosen = [p for p in every if p.stem in names or p.name in names]
    unknown = set(names) - {p.stem for p in chosen} - {p.name for p in chosen}
    if unknown:
        raise SystemExit(f"no such script: {', '.join(sorted(unknown))} (have: "
                         f"{', '.join(p.stem for p in every)})")
    return chosen


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("scripts", nargs="*", help="script names (default: all in compat/scripts)")
    parser.add_argument("--candidate", choices=harness.KINDS, default="sporedb",
                        help="server compared with redis-server (redis = check the harness)")
    parser.add_argument("-v", "--verbose", action="store_true", help="print every reply")
    args = parser.parse_args()

    harness.exit_on_sigterm()
    paths = select_scripts(args.scripts)
    for path in paths:  # fail on a script typo before starting anything
        parse_script(path)
    divergences = load_divergences(DIVERGENCES)
    # With redis on both sides, call the second one redis#2 so the report stays readable.
    cand_label = "redis#2" if args.candidate == "redis" else args.candidate
    outcomes: list[Outcome] = []
    try:
        with harness.running("redis") as ref_server, harness.running(args.candidate) as cand_server:
            ref, cand = Side("redis", ref_server), Side(cand_label, cand_server)
            run_scripts(paths, ref, cand, divergences, outcomes, args.verbose)
    except (harness.StartError, ServerGone) as e:
        if outcomes:
            print_report(outcomes, cand_label)
        print(f"\ndiff: {e}", file=sys.stderr)
        return 2
    print_report(outcomes, cand_label)
    return 1 if any(o.status == "different" for o in outcomes) else 0


if __name__ == "__main__":
    sys.exit(main())
