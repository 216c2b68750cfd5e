#!/usr/bin/env python3
"""Throughput benchmark: redis-benchmark against redis-server and sporedb in the same run.

    compat/bench.sh                    # n=100000 requests per test
    compat/bench.sh -n 20000           # quicker
    compat/bench.sh --candidate redis  # both sides redis-server (checks the harness)

Both servers are started fresh (harness.py) and receive exactly the same redis-benchmark
invocations; which server goes first alternates per pipeline depth, so that warm-up and machine
load drift do not always favour the same one:

    redis-benchmark -c 50 -P {1,16} -n N -r 100000 --csv -t set,get,incr,lpush,sadd
    redis-benchmark -c 50 -P {1,16} -n N -r 100000 --csv MGET key:__rand_int__ (x10)

Choices:
  * redis-benchmark runs its tests in a fixed order (SET before GET), whatever -t says, so GET
    reads keys the SET test wrote.
  * -r 100000 makes every __rand_int__ in a key a random number below 100000: SET writes keys
    key:000000000000..key:000000099999 (about 63% of them with n=100000), GET and MGET read the
    same key space, INCR spreads over counter:*, SADD adds random members to one set. LPUSH
    always pushes to one list, as redis-benchmark does.
  * redis-benchmark has no MGET test (-t mget is silently ignored), so MGET runs as a custom
    command with 10 random keys, the same size as redis-benchmark's own MSET test.
  * The keyspace is flushed before each server's run of a pipeline depth.

Prints one table (ops/s, sporedb/redis ratio, p50/p99 latency in ms) and writes it as Markdown
to compat/bench-results.md.
"""

from __future__ import annotations

import argparse
import csv
import datetime
import io
import os
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import harness

HERE = Path(__file__).resolve().parent
BUILTIN_TESTS = "set,get,incr,lpush,sadd"
MGET_KEYS = 10
MGET_LABEL = f"MGET ({MGET_KEYS} keys)"
TEST_ORDER = ["SET", "GET", "INCR", "LPUSH", "SADD", MGET_LABEL]


@dataclass
class Result:
    rps: float | None            # None: the run failed or timed out
    p50: float | None = None
    p99: float | None = None
    note: str = ""


def run_benchmark(server: harness.Server, pipeline: int, what: list[str], args) -> dict[str, Result]:
    """One redis-benchmark invocation (`what`: -t tests, or a custom command); CSV rows by test."""
    cmd = ["redis-benchmark", "-h", server.host, "-p", str(server.port), "-c", str(args.clients),
           "-n", str(args.requests), "-r", str(args.keyspace), "-P", str(pipeline), "--csv", *what]
    try:
        proc = subprocess.run(cmd, capture_output=True, text=True, timeout=args.timeout)
    except subprocess.TimeoutExpired:
        return {"*": Result(None, note=f"timeout after {args.timeout}s")}
    if proc.returncode != 0:
        return {"*": Result(None, note=f"exit {proc.returncode}: {proc.stderr.strip()[:200]}")}
    rows = csv.DictReader(io.StringIO(proc.stdout))
    return {row["test"]: Result(float(row["rps"]), float(row["p50_latency_ms"]),
                                float(row["p99_latency_ms"])) for row in rows}


def flushall(server: harness.Server) -> None:
    # Not the harness's short reply timeout: after a run sporedb's FLUSHALL removes a few hundred
    # thousand state-tree leaves (list elements, set members, keys). It rebuilds the tree from
    # what remains (well under a second), but the margin costs nothing.
    conn = server.connect(timeout=600)
    try:
        conn.call("FLUSHALL")
    finally:
        conn.close()


def bench_server(server: harness.Server, pipeline: int, args) -> dict[str, Result]:
    """All tests at one pipeline depth against one server."""
    flushall(server)
    results = run_benchmark(server, pipeline, ["-t", BUILTIN_TESTS], args)
    mget = run_benchmark(server, pipeline, ["MGET", *["key:__rand_int__"] * MGET_KEYS], args)
    # A custom command's CSV row is named after the command line; give it a readable name.
    results[MGET_LABEL] = next(iter(mget.values()))
    failure = results.get("*")
    return {test: results.get(test) or failure or Result(None, note="missing from output")
            for test in TEST_ORDER}


def fmt(value: float | None, digits: int = 0) -> str:
    return "-" if value is None else f"{value:,.{digits}f}"


def table_rows(results: dict[int, dict[str, dict[str, Result]]], cand: str) -> list[list[str]]:
    rows = []
    for pipeline, by_server in results.items():
        for test in TEST_ORDER:
            ref, other = by_server["redis"][test], by_server[cand][test]
            ratio = other.rps / ref.rps if ref.rps and other.rps else None
            rows.append([test, str(pipeline), fmt(ref.rps), fmt(other.rps),
                         "-" if ratio is None else f"{ratio:.3f}",
                         fmt(ref.p50, 3), fmt(ref.p99, 3), fmt(other.p50, 3), fmt(other.p99, 3),
                         "; ".join(n for n in (ref.note, other.note) if n)])
    return rows


def headers(cand: str) -> list[str]:
    return ["test", "pipeline", "redis ops/s", f"{cand} ops/s", f"ratio {cand}/redis",
            "redis p50 ms", "redis p99 ms", f"{cand} p50 ms", f"{cand} p99 ms", "note"]


def text_table(head: list[str], rows: list[list[str]]) -> str:
    widths = [max(len(r[i]) for r in [head, *rows]) for i in range(len(head))]
    line = lambda cells: "  ".join(c.rjust(w) if i else c.ljust(w)  # noqa: E731
                                   for i, (c, w) in enumerate(zip(cells, widths))).rstrip()
    return "\n".join([line(head), line(["-" * w for w in widths]), *map(line, rows)])


def markdown(head: list[str], rows: list[list[str]], args, cand: str) -> str:
    out = [
        "# Benchmark: redis-server vs " + cand,
        "",
        f"Generated by `compat/bench.sh` on {datetime.date.today().isoformat()}: "
        f"redis-benchmark, {args.clients} clients, {args.requests} requests per test, "
        f"random keys `-r {args.keyspace}`, {os.cpu_count()} CPU cores shared by client and "
        f"servers. {server_versions(cand)}",
        "",
        "| " + " | ".join(head) + " |",
        "|" + "|".join("---" if i == 0 else "---:" for i in range(len(head))) + "|",
        *("| " + " | ".join(r) + " |" for r in rows),
        "",
        f"ops/s: requests per second as reported by redis-benchmark. ratio: {cand} ops/s divided",
        "by redis ops/s (1.0 = as fast as Redis). p50/p99: latency percentiles in milliseconds as",
        "measured by redis-benchmark, from the moment a request's batch was written (one request",
        "with -P 1, 16 with -P 16) until its reply arrived.",
        "",
    ]
    return "\n".join(out)


def server_versions(cand: str) -> str:
    redis_version = subprocess.run(["redis-server", "--version"], capture_output=True,
                                   text=True).stdout.split()[2]
    commit = subprocess.run(["git", "-C", str(HERE), "rev-parse", "--short", "HEAD"],
                            capture_output=True, text=True).stdout.strip() or "unknown"
    return f"redis-server {redis_version.removeprefix('v=')}; {cand} from commit {commit}."


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("-n", "--requests", type=int,
                        default=int(os.environ.get("BENCH_N", "100000")))
    parser.add_argument("-c", "--clients", type=int, default=50)
    parser.add_argument("-P", "--pipelines", default="1,16", help="comma-separated depths")
    parser.add_argument("-r", "--keyspace", type=int, default=100000)
    parser.add_argument("--timeout", type=float, default=900,
                        help="seconds allowed per redis-benchmark invocation")
    parser.add_argument("--candidate", choices=harness.KINDS, default="sporedb")
    parser.add_argument("--out", type=Path, default=HERE / "bench-results.md")
    args = parser.parse_args()

    harness.exit_on_sigterm()
    cand = "redis#2" if args.candidate == "redis" else args.candidate
    results: dict[int, dict[str, dict[str, Result]]] = {}
    try:
        with harness.running("redis") as ref_server, harness.running(args.candidate) as cand_server:
            sides = [("redis", ref_server), (cand, cand_server)]
            for pipeline in (int(p) for p in args.pipelines.split(",")):
                results[pipeline] = {}
                for label, server in sides:
                    print(f"bench: {label}, pipeline {pipeline}, {args.requests} requests per test",
                          file=sys.stderr)
                    results[pipeline][label] = bench_server(server, pipeline, args)
                sides.reverse()  # whoever went first goes second next time: no order bias
    except harness.StartError as e:
        print(f"bench: {e}", file=sys.stderr)
        return 2
    head, rows = headers(cand), table_rows(results, cand)
    print(text_table(head, rows))
    args.out.write_text(markdown(head, rows, args, cand))
    print(f"\nbench: Markdown table written to {args.out}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
