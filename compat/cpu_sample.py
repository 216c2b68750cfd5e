"""CPU time per process and per thread from /proc, to say where time went during a benchmark.

`snapshot(pids)` reads utime+stime (in clock ticks) of every thread of every given process;
`usage(before, after, seconds)` turns two snapshots into CPU % per process (100 % = one core)
and the busiest threads by name (thread names are summed over processes, so "tokio-runtime-w"
is the total over all nodes). Processes or threads that vanished in between are skipped.
`wait_idle(pids)` waits until every process is nearly idle (for tests that need a quiet start).
"""

from __future__ import annotations

import os
import time
from collections import defaultdict
from dataclasses import dataclass

TICKS = os.sysconf("SC_CLK_TCK")


@dataclass
class Snapshot:
    # (pid, tid) -> (thread name, cpu ticks)
    threads: dict[tuple[int, int], tuple[str, int]]


def _stat(path: str) -> tuple[str, int] | None:
    try:
        with open(path) as f:
            text = f.read()
    except OSError:
        return None
    # The name is in parentheses and may contain spaces; the fields after it are fixed.
    name = text[text.index("(") + 1:text.rindex(")")]
    fields = text[text.rindex(")") + 2:].split()
    return name, int(fields[11]) + int(fields[12])  # utime, stime


def snapshot(pids: list[int]) -> Snapshot:
    threads = {}
    for pid in pids:
        try:
            tids = os.listdir(f"/proc/{pid}/task")
        except OSError:
            continue
        for tid in tids:
            st = _stat(f"/proc/{pid}/task/{tid}/stat")
            if st:
                threads[(pid, int(tid))] = st
    return Snapshot(threads)


@dataclass
class Usage:
    per_process: dict[int, float]          # pid -> CPU %
    top_threads: list[tuple[str, float]]   # (thread name, CPU % summed over processes)


def usage(before: Snapshot, after: Snapshot, seconds: float, top: int = 4) -> Usage:
    per_process: dict[int, float] = defaultdict(float)
    per_name: dict[str, float] = defaultdict(float)
    for key, (name, ticks) in after.threads.items():
        start = before.threads.get(key, (name, 0))[1]
        pct = 100.0 * (ticks - start) / TICKS / max(seconds, 1e-9)
        per_process[key[0]] += pct
        per_name[name] += pct
    ranked = sorted(per_name.items(), key=lambda kv: -kv[1])[:top]
    return Usage(dict(sorted(per_process.items())), ranked)


def wait_idle(pids: list[int], below: float = 5.0, timeout: float = 60.0) -> float:
    """Waits until every process in `pids` uses under `below` % of a core over one second
    (work left over from an earlier test, e.g. timers of its spores, has finished), or
    `timeout` seconds; returns the seconds waited."""
    t0 = time.monotonic()
    while time.monotonic() - t0 < timeout:
        before = snapshot(pids)
        time.sleep(1.0)
        if all(c < below for c in usage(before, snapshot(pids), 1.0).per_process.values()):
            break
    return time.monotonic() - t0
