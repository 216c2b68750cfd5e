#!/usr/bin/env python3
"""Chaos soak of a real 4-node cluster: concurrent writers on every node while one node at a
time is killed with SIGKILL and restarted; afterwards every node must hold the same data and
every acknowledged write.

    compat/.venv/bin/python compat/cluster_soak.py [--seconds 120] [--no-kills]

Nodes come from `sporedb demo --init-only` (keys, policy, one config per node, free ports) and
are started one process each with `sporedb server --config …`, so one can be killed and
restarted on its own. Eight writers (two per node, redis-py) send a random mix for the whole
run: INCR on 3 counters (commutative), SADD of unique members, SET on 20 keys and LPUSH on 3
lists (both contended across nodes, so blind writes conflict). Every 6–12 s a random node gets
SIGKILL and is restarted 1–5 s later. A write's outcome is "acknowledged" (OK), "refused" (an
error reply: TRYAGAIN after its spore was dropped, nothing applied), or "unknown" (the
connection broke with the write in flight).

Checked at the end, once all four nodes return identical dumps (polled up to 60 s): every
counter is at least its acknowledged INCRs and at most those plus the unknown ones; every
acknowledged SADD member and LPUSH element is present; every SET key holds a value some
writer sent. Exits 1 on any problem. Not a test of the CI suite (it takes minutes and its
throughput depends on the machine); `tests/cluster.rs` and `docker/test-cluster.sh` run
shorter, scripted versions. SPOREDB_BIN picks the binary (else `cargo build --release`).
Every process and the temporary directory are removed on exit.
"""

from __future__ import annotations

import argparse
import os
import random
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time

import redis

from cluster_bench import NODES, free_base_port, sporedb_binary


class Cluster:
    def __init__(self, binary: str, base: int, root: str):
        self.binary, self.base, self.root = binary, base, root
        self.procs: dict[int, subprocess.Popen] = {}
        subprocess.run([binary, "demo", "--nodes", str(NODES), "--base-port", str(base),
                        "--dir", root, "--init-only"], check=True, stdout=subprocess.DEVNULL)

    def port(self, k: int) -> int:
        return self.base + k - 1

    def start(self, k: int) -> None:
        with open(f"{self.root}/node{k}.log", "ab") as log:
            self.procs[k] = subprocess.Popen(
                [self.binary, "server", "--config", f"{self.root}/node{k}/sporedb.toml"],
                stdout=log, stderr=log, start_new_session=True)

    def wait_up(self, k: int, timeout: float = 30) -> bool:
        end = time.monotonic() + timeout
        while time.monotonic() < end:
            try:
                redis.Redis(port=self.port(k), socket_timeout=1).ping()
                return True
            except redis.exceptions.RedisError:
                time.sleep(0.2)
        return False

    def kill(self, k: int, sig=signal.SIGKILL) -> None:
        p = self.procs.get(k)
        if p and p.poll() is None:
            os.killpg(p.pid, sig)
            try:
                p.wait(timeout=10)
            except subprocess.TimeoutExpired:
                os.killpg(p.pid, signal.SIGKILL)
                p.wait()

    def stop(self) -> None:
        for k in self.procs:
            self.kill(k, signal.SIGTERM)


class Book:
    """What the writers were told, under one lock."""

    def __init__(self):
        self.lock = threading.Lock()
        self.incr: dict[str, int] = {}          # acknowledged INCRs per counter
        self.incr_unknown: dict[str, int] = {}  # INCRs whose outcome is unknown
        self.members: set[str] = set()          # acknowledged SADD members
        self.set_sent: dict[str, set[str]] = {}  # every value sent per SET key
        self.set_acked: set[str] = set()        # SET keys with an acknowledged write
        self.set_acks = 0
        self.pushed: dict[str, set[str]] = {}   # acknowledged LPUSH elements per list
        self.refused = 0
        self.unknown = 0


def writer(cluster: Cluster, k: int, seed: int, book: Book, stop: threading.Event) -> None:
    rng = random.Random(seed)
    conn = None
    n = 0
    while not stop.is_set():
        if conn is None:
            try:
                conn = redis.Redis(port=cluster.port(k), socket_timeout=15)
                conn.ping()
            except redis.exceptions.RedisError:
                conn = None
                time.sleep(0.3)
                continue
        n += 1
        op = rng.choice(["incr", "incr", "sadd", "set", "set", "lpush"])
        key, value = "", f"{seed}:{n}"
        try:
            if op == "incr":
                key = f"c{rng.randrange(3)}"
                conn.incr(key)
                with book.lock:
                    book.incr[key] = book.incr.get(key, 0) + 1
            elif op == "sadd":
                conn.sadd("s", value)
                with book.lock:
                    book.members.add(value)
            elif op == "set":
                key = f"k{rng.randrange(20)}"
                with book.lock:
                    book.set_sent.setdefault(key, set()).add(value)
                conn.set(key, value)
                with book.lock:
                    book.set_acked.add(key)
                    book.set_acks += 1
            else:
                key = f"l{rng.randrange(3)}"
                conn.lpush(key, value)
                with book.lock:
                    book.pushed.setdefault(key, set()).add(value)
        except redis.exceptions.ResponseError:
            with book.lock:
                book.refused += 1
        except redis.exceptions.RedisError:
            with book.lock:
                book.unknown += 1
                if op == "incr":
                    book.incr_unknown[key] = book.incr_unknown.get(key, 0) + 1
            conn = None
            time.sleep(0.2)


def dump(port: int) -> dict:
    r = redis.Redis(port=port, socket_timeout=10)
    out = {}
    for key in sorted(r.scan_iter(count=1000)):
        kind = r.type(key)
        if kind == b"string":
            out[key] = r.get(key)
        elif kind == b"set":
            out[key] = sorted(r.smembers(key))
        elif kind == b"list":
            out[key] = r.lrange(key, 0, -1)
        else:
            out[key] = kind
    return out


def converged(cluster: Cluster, timeout: float = 60) -> dict | None:
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        try:
            dumps = [dump(cluster.port(k)) for k in range(1, NODES + 1)]
            if all(d == dumps[0] for d in dumps):
                return dumps[0]
        except redis.exceptions.RedisError:
            pass
        time.sleep(1)
    return None


def problems(data: dict, book: Book) -> list[str]:
    out = []
    for key, n in sorted(book.incr.items()):
        v = int(data.get(key.encode(), b"0"))
        unknown = book.incr_unknown.get(key, 0)
        if not n <= v <= n + unknown:
            out.append(f"{key} = {v}: {n} INCRs acknowledged, {unknown} unknown")
    have = {m.decode() for m in data.get(b"s", [])}
    if book.members - have:
        out.append(f"{len(book.members - have)} acknowledged SADD members missing")
    for key, sent in sorted(book.set_sent.items()):
        v = data.get(key.encode())
        if v is None and key in book.set_acked:
            out.append(f"{key} is missing after an acknowledged SET")
        elif v is not None and v.decode() not in sent:
            out.append(f"{key} holds {v!r}, which no writer sent")
    for key, acked in sorted(book.pushed.items()):
        have = {e.decode() for e in data.get(key.encode(), [])}
        if acked - have:
            out.append(f"{key}: {len(acked - have)} acknowledged LPUSH elements missing")
    return out


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--seconds", type=float, default=120)
    parser.add_argument("--no-kills", action="store_true", help="writers only, no node killed")
    args = parser.parse_args()
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))  # so `finally` cleans up

    root = tempfile.mkdtemp(prefix="sporedb-soak.")
    cluster = Cluster(str(sporedb_binary()), free_base_port(), root)
    stop = threading.Event()
    book = Book()
    threads: list[threading.Thread] = []
    try:
        for k in range(1, NODES + 1):
            cluster.start(k)
        if not all(cluster.wait_up(k) for k in range(1, NODES + 1)):
            print("soak: the nodes did not come up", file=sys.stderr)
            return 1
        time.sleep(3)  # peers connect
        threads = [threading.Thread(target=writer, args=(cluster, k, 10 * k + i, book, stop))
                   for k in range(1, NODES + 1) for i in range(2)]
        for t in threads:
            t.start()
        chaos = random.Random(42)
        t0 = time.monotonic()
        kills = 0
        while time.monotonic() - t0 < args.seconds:
            time.sleep(min(chaos.uniform(6, 12), max(0.0, args.seconds - (time.monotonic() - t0))))
            if args.no_kills or time.monotonic() - t0 >= args.seconds:
                continue
            k = chaos.randrange(1, NODES + 1)
            cluster.kill(k)
            kills += 1
            time.sleep(chaos.uniform(1, 5))
            cluster.start(k)
            up = cluster.wait_up(k)
            print(f"soak: [{time.monotonic() - t0:5.1f} s] node{k} killed and restarted"
                  f"{'' if up else ' (not answering)'}", file=sys.stderr)
        stop.set()
        for t in threads:
            t.join()
        acked = (sum(book.incr.values()) + len(book.members) + book.set_acks
                 + sum(len(v) for v in book.pushed.values()))
        print(f"soak: {args.seconds:g} s, {kills} kills; {acked} writes acknowledged "
              f"(INCR {sum(book.incr.values())}, SADD {len(book.members)}, SET {book.set_acks}, "
              f"LPUSH {sum(len(v) for v in book.pushed.values())}), {book.refused} refused, "
              f"{book.unknown} unknown")
        data = converged(cluster)
        if data is None:
            print("soak: FAIL: the nodes never returned identical data")
            return 1
        found = problems(data, book)
        for p in found:
            print(f"soak: FAIL: {p}")
        if not found:
            print(f"soak: PASS: all {NODES} nodes identical ({len(data)} keys), "
                  "every acknowledged write present")
        return 1 if found else 0
    finally:
        stop.set()
        for t in threads:
            t.join(timeout=30)
        cluster.stop()
        shutil.rmtree(root, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
