#!/usr/bin/env python3
"""Cluster benchmark: a 4-node sporedb cluster against a 3-member etcd cluster, same run.

    compat/cluster-bench.sh                 # 30000 writes per test
    compat/cluster-bench.sh -n 20000        # quicker

sporedb side: `sporedb demo --nodes 4` in a temporary directory (free ports; every node its own
process, quorum 3 of 4), then for each pipeline depth (-P 1 and -P 16) three write tests, each
driven by four redis-benchmark processes in parallel, one per node, with 13+13+12+12 = 50
clients:

    INCR  p{P}:ctr:__rand_int__              -r 4             (a few hot counters)
    SADD  p{P}:set m:__rand_int__:__rand_int__   -r 1000000000   (random members, one set)
    SET   p{P}:key:__rand_int__:__rand_int__ xxx -r 1000000000   (random keys)

plus a light-load row (SET, one client per node, -P 1) and a paced row for the latency
target: the light-load row is four closed-loop clients, which on these 2 cores already run the
cluster at its capacity, so the paced row (paced_load.py) offers a fixed rate instead (default
100 writes/s, Poisson arrivals, four writers, one per node) and reports the latency of a
cluster that is not saturated, once the servers have gone idle after the earlier tests (each
process under 5 % of a core for a second); etcd gets the same two rows.
Two placeholders of 10^9 values each make SADD members and SET keys unique in practice (a
collision among 10^5 draws from 10^18 has probability ~10^-8), so what was *committed* can be
counted exactly afterwards: the counters' sum, the set's cardinality, the DBSIZE increase. Every
node is polled until it holds the same count (all replicas agree), and "committed writes/s" is
that count divided by the wall time of the test; requests issued minus committed are the
writes that failed (TRYAGAIN or another error; redis-benchmark counts any reply as done).

etcd side (etcd_load.py): 3 members on loopback, 50 writers (and 4 for the light row) putting
unique keys through the v3 HTTP/JSON gateway; the number of keys is counted on every member
afterwards the same way.

Both clusters run side by side (idle, each costs ~1 % CPU); the etcd run sits between the two
sporedb pipeline depths and the light-load runs come last, so that both systems see similar
machine load (the 1-minute load average is recorded per test).

CPU per node/member process, the busiest threads, and the client processes' CPU are sampled
from /proc during every test (cpu_sample.py), because the 2 cores are shared by every server
and client here. Prints one table and writes it as Markdown to compat/cluster-bench-results.md.
Every process started and every temporary directory are removed on exit, also on Ctrl-C and
SIGTERM.
"""

from __future__ import annotations

import argparse
import csv
import datetime
import io
import os
import random
import resource
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

import cpu_sample
import etcd_load
import paced_load
from resp import RespConnection

HERE = Path(__file__).resolve().parent
REPO = HERE.parent
HOST = "127.0.0.1"
NODES = 4
ETCD_MEMBERS = 3
UNIQUE_RANGE = 1_000_000_000


class BenchError(RuntimeError):
    pass


@dataclass
class Row:
    system: str
    test: str
    pipeline: int
    writers: int
    issued: int = 0
    committed: int | None = None
    seconds: float = 0.0
    p50: float | None = None
    p99: float | None = None
    server_cpu: list[float] = field(default_factory=list)  # % of one core, per node/member
    client_cpu: float = 0.0
    threads: list[tuple[str, float]] = field(default_factory=list)
    load: str = ""  # 1-minute load average at the end of the test (the machine is shared)
    note: str = ""

    @property
    def cpu_ms_per_write(self) -> float | None:
        """Server CPU (all nodes or members together) per committed write: what a write costs
        the machine, whoever else is using it."""
        if not self.committed:
            return None
        return sum(self.server_cpu) / 100 * self.seconds / self.committed * 1000

    @property
    def committed_rate(self) -> float | None:
        return self.committed / self.seconds if self.committed is not None and self.seconds else None


# ---------------------------------------------------------------- the sporedb cluster

def sporedb_binary() -> Path:
    """SPOREDB_BIN, else `cargo build --release` (honouring CARGO_TARGET_DIR)."""
    if env := os.environ.get("SPOREDB_BIN"):
        return Path(env)
    print("cluster-bench: cargo build --release (set SPOREDB_BIN to skip)", file=sys.stderr)
    subprocess.run(["nice", "-n", "10", "cargo", "build", "--release", "--bin", "sporedb"],
                   cwd=REPO, check=True, stdout=2)
    target = Path(os.environ.get("CARGO_TARGET_DIR", REPO / "target"))
    return (target if target.is_absolute() else REPO / target) / "release" / "sporedb"


def port_free(port: int) -> bool:
    with socket.socket() as s:
        try:
            s.bind((HOST, port))
            return True
        except OSError:
            return False


def free_port() -> int:
    with socket.socket() as s:
        s.bind((HOST, 0))
        return s.getsockname()[1]


def free_base_port() -> int:
    """A base port B with B..B+3 (Redis) and B+100..B+103 (p2p) free, as the demo lays them out."""
    for _ in range(200):
        base = random.randrange(20000, 60000)
        if all(port_free(base + k) and port_free(base + 100 + k) for k in range(NODES)):
            return base
    raise BenchError("no free port range for the demo cluster")


class SporeCluster:
    """`sporedb demo` as one child process; it starts, supervises and stops the nodes."""

    def __init__(self, binary: Path):
        self.dir = Path(tempfile.mkdtemp(prefix="cluster-bench-sporedb-"))
        self.binary = binary
        self.proc: subprocess.Popen | None = None
        self.pids: list[int] = []
        self.ports: list[int] = []

    def start(self, timeout: float = 60) -> None:
        base = free_base_port()
        self.out = self.dir / "demo.out"
        with open(self.out, "wb") as out:
            self.proc = subprocess.Popen(
                [str(self.binary), "demo", "--nodes", str(NODES), "--base-port", str(base),
                 "--dir", str(self.dir / "demo")],
                stdin=subprocess.DEVNULL, stdout=out, stderr=subprocess.STDOUT,
                start_new_session=True)
        deadline = time.monotonic() + timeout
        while "node(s) running" not in self.out.read_text(errors="replace"):
            if self.proc.poll() is not None or time.monotonic() > deadline:
                raise BenchError("sporedb demo did not start:\n" + self.out.read_text()[-2000:])
            time.sleep(0.1)
        time.sleep(0.2)  # the table follows the header line
        for line in self.out.read_text().splitlines():
            parts = line.split()
            if len(parts) >= 3 and parts[0].startswith("node") and parts[1].isdigit():
                self.pids.append(int(parts[1]))
                self.ports.append(int(parts[2].rsplit(":", 1)[1]))
        if len(self.pids) != NODES:
            raise BenchError("could not read the node table:\n" + self.out.read_text()[-2000:])

    def wait_connected(self, timeout: float = 60) -> None:
        """Until a write made on node 1 is visible on every node: the peers found each other."""
        deadline = time.monotonic() + timeout
        value = str(time.time_ns())
        while time.monotonic() < deadline:
            if call(self.ports[0], "SET", "cluster-bench:ready", value).kind == "simple":
                break
            time.sleep(0.5)
        while time.monotonic() < deadline:
            if all(call(p, "GET", "cluster-bench:ready").value == value.encode()
                   for p in self.ports):
                return
            time.sleep(0.2)
        raise BenchError("the nodes did not converge on a first write within "
                         f"{timeout}s; see {self.dir}")

    def stop(self) -> None:
        if self.proc and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)  # the demo stops every node cleanly
            try:
                self.proc.wait(timeout=45)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        for pid in self.pids:  # only if the demo could not stop them (each has its own group)
            try:
                os.kill(pid, signal.SIGKILL)
            except OSError:
                pass
        shutil.rmtree(self.dir, ignore_errors=True)


def call(port: int, *args: str):
    conn = RespConnection.open(HOST, port, 10)
    try:
        return conn.call(*args)
    finally:
        conn.close()


def int_reply(port: int, *args: str) -> int:
    r = call(port, *args)
    if r.kind != "int":
        raise BenchError(f"{' '.join(args)} on port {port} answered {r}")
    return r.value


# ---------------------------------------------------------------- sporedb tests

def counters_sum(port: int, prefix: str) -> int:
    total = 0
    for i in range(4):
        r = call(port, "GET", f"{prefix}{i:012d}")
        total += int(r.value) if r.kind == "bulk" else 0
    return total


def spore_tests(pipeline: int) -> list[tuple[str, list[str], int, object]]:
    """(label, redis-benchmark command, -r, counter(port) -> int) per test."""
    p = f"p{pipeline}"
    return [
        ("INCR (4 keys)", ["INCR", f"{p}:ctr:__rand_int__"], 4,
         lambda port: counters_sum(port, f"{p}:ctr:")),
        ("SADD (random members)", ["SADD", f"{p}:set", "m:__rand_int__:__rand_int__"],
         UNIQUE_RANGE, lambda port: int_reply(port, "SCARD", f"{p}:set")),
        ("SET (random keys)", ["SET", f"{p}:key:__rand_int__:__rand_int__", "xxx"],
         UNIQUE_RANGE, lambda port: int_reply(port, "DBSIZE")),
    ]


def split(total: int, parts: int) -> list[int]:
    return [total // parts + (1 if i < total % parts else 0) for i in range(parts)]


def children_cpu() -> float:
    r = resource.getrusage(resource.RUSAGE_CHILDREN)
    return r.ru_utime + r.ru_stime


def own_cpu() -> float:
    """This process's CPU time: the paced load runs in it, not in a child."""
    r = resource.getrusage(resource.RUSAGE_SELF)
    return r.ru_utime + r.ru_stime


def converged(cluster: SporeCluster, count, timeout: float = 60) -> int | None:
    """The count once every node reports the same value twice in a row; None if they never do."""
    deadline, last = time.monotonic() + timeout, None
    while time.monotonic() < deadline:
        values = [count(port) for port in cluster.ports]
        if len(set(values)) == 1 and values == last:
            return values[0]
        last = values
        time.sleep(0.3)
    return None


def run_spore_test(cluster: SporeCluster, label: str, command: list[str], keyspace: int,
                   count, pipeline: int, clients: int, requests: int, timeout: float) -> Row:
    row = Row("sporedb", label, pipeline, clients)
    before = converged(cluster, count)
    per_node_clients = [c for c in split(clients, NODES)]
    # redis-benchmark sends whole pipelines, so a count that is not a multiple of the depth
    # is rounded up by it; round it ourselves so that `issued` is exact.
    per_node_requests = [-(-n // pipeline) * pipeline for n in split(requests, NODES)]
    cmds = [["redis-benchmark", "-h", HOST, "-p", str(port), "-c", str(max(c, 1)), "-n", str(n),
             "-r", str(keyspace), "-P", str(pipeline), "-e", "--csv", *command]
            for port, c, n in zip(cluster.ports, per_node_clients, per_node_requests) if c]
    row.issued = sum(n for c, n in zip(per_node_clients, per_node_requests) if c)
    snap, cpu0, t0 = cpu_sample.snapshot(cluster.pids), children_cpu(), time.monotonic()
    procs = [subprocess.Popen(c, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
             for c in cmds]
    outputs = []
    try:
        for p in procs:
            try:
                outputs.append(p.communicate(timeout=timeout))
            except subprocess.TimeoutExpired:
                p.kill()
                outputs.append(p.communicate())
                row.note = f"redis-benchmark timed out after {timeout}s"
    finally:  # also on Ctrl-C / SIGTERM: no benchmark process outlives the run
        for p in procs:
            if p.poll() is None:
                p.kill()
                p.wait()
    row.seconds = time.monotonic() - t0
    row.load = loadavg()
    use = cpu_sample.usage(snap, cpu_sample.snapshot(cluster.pids), row.seconds)
    row.server_cpu = list(use.per_process.values())
    row.threads = use.top_threads
    row.client_cpu = 100 * (children_cpu() - cpu0) / row.seconds
    p50s, p99s, errors = [], [], []
    for (out, err), p in zip(outputs, procs):
        if p.returncode != 0:
            row.note = f"redis-benchmark exit {p.returncode}: {err.strip()[:200]}"
        errors += [ln for ln in out.splitlines() if ln.startswith("Error")]
        for rec in csv.DictReader(io.StringIO("\n".join(ln for ln in out.splitlines()
                                                        if ln.startswith('"')))):
            p50s.append(float(rec["p50_latency_ms"]))
            p99s.append(float(rec["p99_latency_ms"]))
    row.p50, row.p99 = (max(p50s), max(p99s)) if p50s else (None, None)
    after = converged(cluster, count)
    if before is None or after is None:
        row.note = "nodes did not agree on the count"
    else:
        row.committed = after - before
    if errors:
        row.note = (row.note + "; " if row.note else "") + f"e.g. {errors[0][:120]}"
    return row


def run_spore_paced(cluster: SporeCluster, rate: float, requests: int) -> Row:
    """SET of unique keys at a fixed offered rate (paced_load.py), one writer per node."""
    row = Row("sporedb", f"SET, paced {rate:g}/s", 1, NODES)
    count = lambda port: int_reply(port, "DBSIZE")  # noqa: E731
    before = converged(cluster, count)
    snap, cpu0 = cpu_sample.snapshot(cluster.pids), own_cpu()
    result = paced_load.paced_load([(HOST, p) for p in cluster.ports], "resp", NODES, rate,
                                   requests, "paced:")
    paced_row(row, result, cpu_sample.usage(snap, cpu_sample.snapshot(cluster.pids),
                                            result.seconds), cpu0)
    after = converged(cluster, count)
    if before is None or after is None:
        row.note = "nodes did not agree on the count"
    else:
        row.committed = after - before
    return row


def paced_row(row: Row, result: paced_load.PacedResult, use, cpu0: float) -> None:
    row.issued, row.seconds, row.load = result.acked + result.errors, result.seconds, loadavg()
    row.server_cpu, row.threads = list(use.per_process.values()), use.top_threads
    row.client_cpu = 100 * (own_cpu() - cpu0) / result.seconds
    row.p50 = etcd_load.percentile(result.latencies_ms, 0.50)
    row.p99 = etcd_load.percentile(result.latencies_ms, 0.99)
    row.note = f"{result.late} of {row.issued} sent >1 ms late"
    if result.first_error:
        row.note += f"; e.g. {result.first_error[:120]}"


# ---------------------------------------------------------------- etcd

def run_etcd_paced(cluster: etcd_load.EtcdCluster, rate: float, requests: int) -> Row:
    row = Row("etcd", f"put, paced {rate:g}/s", 1, NODES)
    snap, cpu0 = cpu_sample.snapshot(cluster.pids()), own_cpu()
    targets = [tuple(u.removeprefix("http://").split(":")) for u in cluster.client_urls]
    result = paced_load.paced_load([(h, int(p)) for h, p in targets], "etcd", NODES, rate,
                                   requests, "paced:")
    paced_row(row, result, cpu_sample.usage(snap, cpu_sample.snapshot(cluster.pids()),
                                            result.seconds), cpu0)
    counts = cluster.count_keys("paced:")
    if len(set(counts)) != 1:
        row.note += f"; members disagree on the key count: {counts}"
    else:
        row.committed = counts[0]
    return row


def run_etcd_test(cluster: etcd_load.EtcdCluster, label: str, writers: int, requests: int,
                  prefix: str, duration: float) -> Row:
    row = Row("etcd", label, 1, writers)
    snap, cpu0 = cpu_sample.snapshot(cluster.pids()), children_cpu()
    t0 = time.monotonic()
    result = etcd_load.put_load(cluster.client_urls, writers, min(NODES, writers), requests,
                                duration, prefix)
    elapsed = time.monotonic() - t0
    row.load = loadavg()
    use = cpu_sample.usage(snap, cpu_sample.snapshot(cluster.pids()), elapsed)
    row.server_cpu, row.threads = list(use.per_process.values()), use.top_threads
    row.client_cpu = 100 * (children_cpu() - cpu0) / elapsed
    row.issued = result.acked + result.errors
    row.seconds = result.seconds
    row.p50 = etcd_load.percentile(result.latencies_ms, 0.50)
    row.p99 = etcd_load.percentile(result.latencies_ms, 0.99)
    counts = cluster.count_keys(prefix)
    if len(set(counts)) != 1:
        row.note = f"members disagree on the key count: {counts}"
    else:
        row.committed = counts[0]
        if counts[0] != result.acked:
            row.note = f"{result.acked} puts acknowledged but {counts[0]} keys stored"
    return row


# ---------------------------------------------------------------- output

def fmt(v: float | None, digits: int = 0) -> str:
    return "-" if v is None else f"{v:,.{digits}f}"


HEAD = ["system", "test", "pipeline", "writers", "issued", "committed", "failed",
        "committed writes/s", "vs etcd", "p50 ms", "p99 ms", "server CPU % per process",
        "server CPU ms per write",
        "client CPU %", "busiest threads (CPU %)", "load avg", "note"]


def table_rows(rows: list[Row]) -> list[list[str]]:
    etcd_rate = next((r.committed_rate for r in rows
                      if r.system == "etcd" and r.writers >= 50), None)
    out = []
    for r in rows:
        ratio = (f"{r.committed_rate / etcd_rate:.2f}x"
                 if r.committed_rate and etcd_rate and r.writers >= 50 else "")
        failed = "-" if r.committed is None else f"{r.issued - r.committed:,}"
        out.append([r.system, r.test, str(r.pipeline), str(r.writers), f"{r.issued:,}",
                    fmt(r.committed), failed, fmt(r.committed_rate), ratio,
                    fmt(r.p50, 3), fmt(r.p99, 3), " / ".join(f"{c:.0f}" for c in r.server_cpu),
                    fmt(r.cpu_ms_per_write, 2),
                    f"{r.client_cpu:.0f}", ", ".join(f"{n} {c:.0f}" for n, c in r.threads[:3]),
                    r.load, r.note])
    return out


def text_table(rows: list[list[str]]) -> str:
    shown = [*range(11), 12]  # the rest (CPU per process, threads, load) is in the Markdown
    cols = [HEAD[i] for i in shown]
    rows = [[r[i] for i in shown] for r in rows]
    widths = [max(len(r[i]) for r in [cols, *rows]) for i in range(len(cols))]
    line = lambda cells: "  ".join(c.rjust(w) if i > 1 else c.ljust(w)  # noqa: E731
                                   for i, (c, w) in enumerate(zip(cells, widths))).rstrip()
    return "\n".join([line(cols), line(["-" * w for w in widths]), *map(line, rows)])


def markdown(rows: list[list[str]], args, versions: str) -> str:
    return "\n".join([
        "# Cluster benchmark: 4-node sporedb vs 3-member etcd",
        "",
        f"Generated by `compat/cluster-bench.sh -n {args.requests}` on "
        f"{datetime.date.today().isoformat()}: {os.cpu_count()} CPU cores shared by every node, "
        f"member and load generator. {versions}",
        "",
        "| " + " | ".join(HEAD) + " |",
        "|" + "|".join("---" if i < 2 else "---:" for i in range(len(HEAD))) + "|",
        *("| " + " | ".join(r) + " |" for r in rows),
        "",
        "issued: requests sent (and answered). committed: counted afterwards on every node "
        "(counter sum, SCARD, DBSIZE increase; for etcd the keys under the run's prefix), "
        "identical on all of them. failed = issued - committed (TRYAGAIN or other errors). "
        "committed writes/s = committed / wall time of the test. vs etcd: divided by etcd's "
        "committed writes/s with 50 writers. p50/p99: sporedb, the worst of the four "
        "redis-benchmark processes (one per node); etcd, over all puts. CPU: % of one core "
        "during the test, per node (sporedb) or member (etcd), and for all client processes "
        "together; CPU ms per write: all nodes' (members') CPU time divided by committed writes; thread names summed over processes. load avg: the machine's 1-minute load "
        "average at the end of the test (other work shares these cores). Paced rows: four writers, "
        "one per node (member), offering the stated rate together with Poisson arrivals "
        "(compat/paced_load.py), so the cluster is not saturated, started once every server "
        "process had gone idle (under 5 % of a core for a second); latency from send to answer; "
        "the note counts writes sent over 1 ms after their scheduled moment because the "
        "writer's previous write was still unanswered.",
        "",
    ])


def loadavg() -> str:
    return open("/proc/loadavg").read().split()[0]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("-n", "--requests", type=int, default=30000, help="writes per test")
    parser.add_argument("-c", "--clients", type=int, default=50)
    parser.add_argument("-P", "--pipelines", default="1,16", help="comma-separated depths")
    parser.add_argument("--light-clients", type=int, default=4)
    parser.add_argument("--paced-rate", type=float, default=100,
                        help="writes/s offered by the paced row (0 skips it)")
    parser.add_argument("--timeout", type=float, default=600,
                        help="seconds allowed per redis-benchmark process")
    parser.add_argument("--out", type=Path, default=HERE / "cluster-bench-results.md")
    args = parser.parse_args()
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))  # so `finally` cleans up

    binary = sporedb_binary()
    rows: list[Row] = []
    light_n = max(args.requests // 10, 1000)
    spore = SporeCluster(binary)
    etcd = etcd_load.EtcdCluster(ETCD_MEMBERS, free_port)
    try:
        spore.start()
        spore.wait_connected()
        etcd.start()
        etcd_version = etcd.version()
        # What the idle servers burn (no clients), so per-test CPU can be read against it.
        snap = cpu_sample.snapshot(spore.pids + etcd.pids())
        time.sleep(3)
        idle = cpu_sample.usage(snap, cpu_sample.snapshot(spore.pids + etcd.pids()), 3)
        idle_note = ("Idle CPU % (3 s, no clients), sporedb nodes then etcd members: "
                     f"{' / '.join(f'{c:.0f}' for c in idle.per_process.values())}.")
        print(f"cluster-bench: {idle_note}", file=sys.stderr)

        # The machine is shared, so its load drifts: the etcd run sits between the two sporedb
        # pipeline depths, and both light-load runs come last, back to back.
        def spore_depth(pipeline: int) -> None:
            for label, command, keyspace, count in spore_tests(pipeline):
                print(f"cluster-bench: sporedb {label}, -P {pipeline}, {args.requests} requests",
                      file=sys.stderr)
                rows.append(run_spore_test(spore, label, command, keyspace, count, pipeline,
                                           args.clients, args.requests, args.timeout))

        depths = [int(p) for p in args.pipelines.split(",")]
        spore_depth(depths[0])
        print(f"cluster-bench: etcd put, {args.clients} writers", file=sys.stderr)
        rows.append(run_etcd_test(etcd, "put (unique keys)", args.clients, args.requests,
                                  "bench:", args.timeout))
        for pipeline in depths[1:]:
            spore_depth(pipeline)
        print("cluster-bench: light load", file=sys.stderr)
        label, command, keyspace, count = spore_tests(0)[2]
        rows.append(run_spore_test(spore, "SET, light load", command, keyspace, count, 1,
                                   args.light_clients, light_n, args.timeout))
        rows.append(run_etcd_test(etcd, "put, light load", args.light_clients, light_n,
                                  "light:", args.timeout))
        if args.paced_rate > 0:
            # About 15 s at the default rate.
            paced_n = max(int(args.paced_rate * 15), 200)
            # Light load means an otherwise idle cluster: first let what the earlier tests
            # left behind (the timers of their spores, compactions) finish.
            waited = cpu_sample.wait_idle(spore.pids + etcd.pids())
            print(f"cluster-bench: paced load, {args.paced_rate:g} writes/s "
                  f"(after {waited:.0f} s for the servers to go idle)", file=sys.stderr)
            rows.append(run_spore_paced(spore, args.paced_rate, paced_n))
            cpu_sample.wait_idle(spore.pids + etcd.pids())
            rows.append(run_etcd_paced(etcd, args.paced_rate, paced_n))
    finally:
        spore.stop()
        etcd.stop()
    rows.sort(key=lambda r: r.system != "sporedb")  # sporedb rows first, in run order

    # The last commit that changed what the binary is built from (compat/ changes do not count).
    commit = subprocess.run(["git", "-C", str(REPO), "log", "-1", "--format=%h", "--",
                             "src", "Cargo.toml", "Cargo.lock"],
                            capture_output=True, text=True).stdout.strip() or "unknown"
    bench_version = subprocess.run(["redis-benchmark", "--version"], capture_output=True,
                                   text=True).stdout.split()[1:2]
    versions = (f"sporedb from commit {commit} ({NODES} nodes, quorum 3); etcd {etcd_version} "
                f"({ETCD_MEMBERS} members); redis-benchmark {' '.join(bench_version)}.")
    table = table_rows(rows)
    print(text_table(table))
    for r in rows:
        print(f"  {r.system} {r.test} -P {r.pipeline}: server CPU % "
              f"{' / '.join(f'{c:.0f}' for c in r.server_cpu)}, client {r.client_cpu:.0f}, "
              f"threads {', '.join(f'{n} {c:.0f}' for n, c in r.threads)}, load {r.load}"
              + (f"; {r.note}" if r.note else ""))
    args.out.write_text(markdown(table, args, versions + " " + idle_note))
    print(f"\ncluster-bench: Markdown table written to {args.out}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
