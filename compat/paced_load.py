"""Paced light load for the latency target: writes at a fixed total rate, not as fast as possible.

redis-benchmark and `etcd_load.put_load` are closed loops: each client sends its next write as
soon as the last one is answered, so "4 clients" runs a 2-core machine that also hosts every
node at its capacity, and the latency they report is the latency of a saturated cluster. Light
load means a rate well below capacity. Here W writers (one connection each, spread over the
servers) send at moments drawn from a Poisson process of `rate / W` writes/s each, so together
they offer `rate` writes/s whatever the servers' speed, with independent arrivals (fixed,
identical schedules would make the writers collide on purpose). Each write's latency runs from
its send to its answer; a writer whose previous write is still unanswered when the next is due
sends it late, and those late starts are counted (`late`): if many are late, the rate was not
light for that system.

The same generator drives both systems of the cluster benchmark: sporedb with `SET key xxx`
over RESP, etcd with a put through its v3 HTTP/JSON gateway (`etcd_load.put_request`). Every
key is unique (writer id and sequence number under a prefix), so what was committed can be
counted afterwards.
"""

from __future__ import annotations

import asyncio
import random
import time
from dataclasses import dataclass, field

import etcd_load
from resp import encode_command

# A write starting this much after its scheduled moment counts as late.
LATE_S = 0.001


@dataclass
class PacedResult:
    acked: int = 0
    errors: int = 0
    late: int = 0
    seconds: float = 0.0
    latencies_ms: list[float] = field(default_factory=list)
    first_error: str = ""


async def _resp_set(reader: asyncio.StreamReader, writer: asyncio.StreamWriter,
                    key: bytes) -> str | None:
    """One `SET key xxx`; None if answered +OK, else the answer."""
    writer.write(encode_command([b"SET", key, b"xxx"]))
    line = await reader.readline()
    if line == b"+OK\r\n":
        return None
    return line.decode("latin-1").strip() or "connection closed"


async def _etcd_put(reader: asyncio.StreamReader, writer: asyncio.StreamWriter, key: bytes,
                    host: str, port: int) -> str | None:
    writer.write(etcd_load.put_request(host, port, key, b"xxx"))
    status, payload = await etcd_load.read_response(reader)
    return None if status == 200 and b'"header"' in payload else f"HTTP {status}"


async def _writer(host: str, port: int, protocol: str, writer_id: int, prefix: str,
                  rate: float, count: int, start_at: float, out: PacedResult) -> None:
    reader, writer = await asyncio.open_connection(host, port)
    rng = random.Random(writer_id)
    due = start_at
    try:
        for seq in range(count):
            due += rng.expovariate(rate)
            delay = due - time.monotonic()
            if delay > 0:
                await asyncio.sleep(delay)
            elif -delay > LATE_S:
                out.late += 1
            key = f"{prefix}{writer_id:02d}:{seq:08d}".encode()
            t0 = time.perf_counter()
            if protocol == "resp":
                error = await _resp_set(reader, writer, key)
            else:
                error = await _etcd_put(reader, writer, key, host, port)
            out.latencies_ms.append((time.perf_counter() - t0) * 1000)
            if error is None:
                out.acked += 1
            else:
                out.errors += 1
                out.first_error = out.first_error or error
    finally:
        writer.close()


def paced_load(targets: list[tuple[str, int]], protocol: str, writers: int, rate: float,
               total: int, prefix: str) -> PacedResult:
    """`writers` writers (round-robin over `targets`) offer `rate` writes/s together until
    `total` writes are sent; `protocol` is "resp" (sporedb) or "etcd"."""
    out = PacedResult()
    per_writer = -(-total // writers)

    async def run() -> None:
        start_at = time.monotonic() + 0.2
        await asyncio.gather(*(
            _writer(*targets[w % len(targets)], protocol, w, prefix, rate / writers,
                    per_writer, start_at, out)
            for w in range(writers)))
        out.seconds = time.monotonic() - start_at

    asyncio.run(run())
    return out
