"""The etcd side of the cluster benchmark: a 3-member etcd cluster on loopback and a write load.

`EtcdCluster` starts three `etcd` members (Debian's etcd-server) on free loopback ports with
temporary data directories, waits until every member reports healthy, and stops them (SIGTERM,
then SIGKILL) and removes the directories on exit.

`put_load` is the load generator. Debian packages neither etcd's Go `benchmark` tool nor a
usable Python gRPC client (the `etcd3` PyPI package needs protobuf 3 stubs), and `etcdctl check
perf` is rate-limited by design (it checks that a cluster keeps up with a fixed rate, it does not
measure the maximum). So writes go through etcd's own v3 HTTP/JSON gateway (`POST /v3/kv/put`,
served by every member, translated to the same gRPC call in-process): W writers, each one
keep-alive HTTP/1.1 connection sending one put and waiting for its answer before the next (the
equivalent of redis-benchmark's -P 1). Writers are spread over the members round-robin (a
follower forwards to the leader, as with any etcd client) and over several OS processes, each
running an asyncio loop, so that Python's GIL does not become the bottleneck on the client side.
Every key is unique (writer id + sequence number), so after the run the number of keys under the
prefix, counted on every member, must equal the number of puts that were acknowledged: the
writes/s reported are verified, not assumed.
"""

from __future__ import annotations

import asyncio
import base64
import json
import multiprocessing
import os
import shutil
import signal
import subprocess
import tempfile
import time
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path

HOST = "127.0.0.1"


class EtcdError(RuntimeError):
    """etcd could not be started or answered something unexpected."""


@dataclass
class EtcdCluster:
    members: int
    free_port: object  # callable returning a free port
    workdir: Path = field(default_factory=lambda: Path(tempfile.mkdtemp(prefix="cluster-bench-etcd-")))
    procs: list[subprocess.Popen] = field(default_factory=list)
    client_urls: list[str] = field(default_factory=list)

    def start(self, timeout: float = 30) -> None:
        names = [f"etcd{i + 1}" for i in range(self.members)]
        client_ports = [self.free_port() for _ in names]
        peer_ports = [self.free_port() for _ in names]
        initial = ",".join(f"{n}=http://{HOST}:{p}" for n, p in zip(names, peer_ports))
        for name, cport, pport in zip(names, client_ports, peer_ports):
            curl, purl = f"http://{HOST}:{cport}", f"http://{HOST}:{pport}"
            cmd = ["etcd", "--name", name, "--data-dir", str(self.workdir / name),
                   "--listen-client-urls", curl, "--advertise-client-urls", curl,
                   "--listen-peer-urls", purl, "--initial-advertise-peer-urls", purl,
                   "--initial-cluster", initial, "--initial-cluster-state", "new",
                   "--initial-cluster-token", "cluster-bench", "--log-level", "warn"]
            log = open(self.workdir / f"{name}.log", "wb")
            self.procs.append(subprocess.Popen(cmd, stdin=subprocess.DEVNULL, stdout=log,
                                               stderr=subprocess.STDOUT, start_new_session=True))
            log.close()
            self.client_urls.append(curl)
        deadline = time.monotonic() + timeout
        for url, proc in zip(self.client_urls, self.procs):
            while True:
                if proc.poll() is not None:
                    raise EtcdError(f"etcd member exited ({proc.returncode}); see {self.workdir}")
                try:
                    with urllib.request.urlopen(url + "/health", timeout=2) as r:
                        if json.load(r).get("health") == "true":
                            break
                except OSError:
                    pass
                if time.monotonic() > deadline:
                    raise EtcdError(f"etcd at {url} not healthy within {timeout}s")
                time.sleep(0.1)

    def pids(self) -> list[int]:
        return [p.pid for p in self.procs]

    def stop(self) -> None:
        for p in self.procs:
            if p.poll() is None:
                p.send_signal(signal.SIGTERM)
        for p in self.procs:
            try:
                p.wait(timeout=15)
            except subprocess.TimeoutExpired:
                p.kill()
                p.wait()
        shutil.rmtree(self.workdir, ignore_errors=True)

    def count_keys(self, prefix: str) -> list[int]:
        """Keys under `prefix` as each member sees them (a linearizable read on each)."""
        return [int(_post(url, "/v3/kv/range", {
            "key": _b64(prefix.encode()), "range_end": _b64(_prefix_end(prefix.encode())),
            "count_only": True}).get("count", 0)) for url in self.client_urls]

    def version(self) -> str:
        with urllib.request.urlopen(self.client_urls[0] + "/version", timeout=5) as r:
            return json.load(r).get("etcdserver", "?")


def _b64(data: bytes) -> str:
    return base64.b64encode(data).decode()


def _prefix_end(prefix: bytes) -> bytes:
    # etcd's "all keys with this prefix" range end: the prefix with its last byte plus one.
    return prefix[:-1] + bytes([prefix[-1] + 1])


def _post(url: str, path: str, body: dict) -> dict:
    req = urllib.request.Request(url + path, data=json.dumps(body).encode(), method="POST",
                                 headers={"Content-Type": "application/json"})
    with urllib.request.urlopen(req, timeout=10) as r:
        return json.load(r)


@dataclass
class LoadResult:
    acked: int           # puts answered 200 with a header (committed by etcd)
    errors: int          # anything else
    seconds: float       # wall time from the first request to the last answer
    latencies_ms: list[float]


async def _writer(url: str, writer_id: int, prefix: str, stop_at: float, per_writer: int,
                  value: bytes, out: LoadResult) -> None:
    host, port = url.removeprefix("http://").split(":")
    reader, writer = await asyncio.open_connection(host, int(port))
    try:
        for seq in range(per_writer):
            if time.monotonic() >= stop_at:
                break
            key = f"{prefix}{writer_id:04d}:{seq:08d}".encode()
            t0 = time.perf_counter()
            writer.write(put_request(host, int(port), key, value))
            status, payload = await read_response(reader)
            out.latencies_ms.append((time.perf_counter() - t0) * 1000)
            if status == 200 and b'"header"' in payload:
                out.acked += 1
            else:
                out.errors += 1
    finally:
        writer.close()


def put_request(host: str, port: int, key: bytes, value: bytes) -> bytes:
    """The HTTP/1.1 keep-alive request that puts `key` = `value` through the v3 gateway."""
    body = json.dumps({"key": _b64(key), "value": _b64(value)}).encode()
    return (f"POST /v3/kv/put HTTP/1.1\r\nHost: {host}:{port}\r\n"
            f"Content-Type: application/json\r\nContent-Length: {len(body)}\r\n\r\n"
            ).encode() + body


async def read_response(reader: asyncio.StreamReader) -> tuple[int, bytes]:
    head = await reader.readuntil(b"\r\n\r\n")
    lines = head.decode("latin-1").split("\r\n")
    status = int(lines[0].split()[1])
    headers = {k.strip().lower(): v.strip() for k, _, v in (ln.partition(":") for ln in lines[1:] if ln)}
    if "content-length" in headers:
        return status, await reader.readexactly(int(headers["content-length"]))
    if headers.get("transfer-encoding") == "chunked":
        body = b""
        while True:
            size = int((await reader.readuntil(b"\r\n")).strip(), 16)
            chunk = await reader.readexactly(size + 2)
            if size == 0:
                return status, body
            body += chunk[:-2]
    raise EtcdError(f"etcd answered {status} without a body length")


def _process_main(urls: list[str], writer_ids: list[int], prefix: str, per_writer: int,
                  duration: float, value: bytes, start_at: float, queue) -> None:
    out = LoadResult(0, 0, 0.0, [])

    async def run() -> None:
        stop_at = start_at + duration
        await asyncio.sleep(max(0.0, start_at - time.monotonic()))
        t0 = time.monotonic()
        await asyncio.gather(*(_writer(urls[w % len(urls)], w, prefix, stop_at, per_writer,
                                       value, out) for w in writer_ids))
        out.seconds = time.monotonic() - t0

    try:
        asyncio.run(run())
        queue.put(out)
    except Exception as e:  # reported to the parent, which turns it into an error row
        queue.put(f"{type(e).__name__}: {e}")


def put_load(urls: list[str], writers: int, processes: int, total: int, duration: float,
             prefix: str, value_size: int = 3) -> LoadResult:
    """`writers` concurrent writers put `total` unique keys (or stop after `duration` seconds)."""
    ctx = multiprocessing.get_context("fork")
    queue = ctx.Queue()
    per_writer = -(-total // writers)
    start_at = time.monotonic() + 0.5  # every process starts its writers at the same moment
    groups = [list(range(p, writers, processes)) for p in range(processes)]
    procs = [ctx.Process(target=_process_main, args=(urls, g, prefix, per_writer, duration,
                                                     b"x" * value_size, start_at, queue),
                         daemon=True)  # terminated if the benchmark itself is stopped
             for g in groups if g]
    for p in procs:
        p.start()
    parts = [queue.get() for _ in procs]
    for p in procs:
        p.join()
    failures = [p for p in parts if isinstance(p, str)]
    if failures:
        raise EtcdError("load generator failed: " + "; ".join(failures))
    return LoadResult(sum(p.acked for p in parts), sum(p.errors for p in parts),
                      max(p.seconds for p in parts),
                      [x for p in parts for x in p.latencies_ms])


def percentile(values: list[float], q: float) -> float | None:
    if not values:
        return None
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


if __name__ == "__main__":  # quick manual check: python etcd_load.py
    import socket

    def _free() -> int:
        with socket.socket() as s:
            s.bind((HOST, 0))
            return s.getsockname()[1]

    c = EtcdCluster(3, _free)
    try:
        c.start()
        r = put_load(c.client_urls, 50, min(4, os.cpu_count() or 1), 5000, 30, "check:")
        print(c.version(), r.acked, r.errors, f"{r.acked / r.seconds:.0f}/s",
              f"p50 {percentile(r.latencies_ms, 0.5):.2f} ms", c.count_keys("check:"))
    finally:
        c.stop()
