"""What the state root costs a single node's write throughput, measured through the real front
end: two fresh sporedb servers side by side, one as it runs (state root on) and one with
`state_root = false`, receive the same redis-benchmark writes in alternating order, round after
round (fresh servers every round, so both stores grow alike), and the medians are compared.

    compat/root-cost.sh [--rounds 5] [--requests 30000] [--clients 50]

Not a test: prints figures and always exits 0 when both servers ran. The in-process variant,
which times the write path alone and the driver thread's CPU, is
`cargo run --release --example root_bench`.
"""

from __future__ import annotations

import argparse
import statistics
import sys

import bench
import harness

# (label, redis-benchmark arguments): SET writes a new leaf per new key (the tree's worst case),
# INCR mostly rewrites leaves of counters it already created.
TESTS = [("SET (random keys)", ["-t", "set"]), ("INCR (random counters)", ["-t", "incr"])]
KINDS = [("root on", "sporedb"), ("root off", harness.SPOREDB_WITHOUT_ROOT)]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--requests", type=int, default=30000)
    parser.add_argument("--clients", type=int, default=50)
    parser.add_argument("--keyspace", type=int, default=100000)
    parser.add_argument("--pipelines", default="1,16")
    parser.add_argument("--timeout", type=float, default=600)
    args = parser.parse_args()
    pipelines = [int(p) for p in args.pipelines.split(",")]
    # (test, pipeline, kind) -> ops/s of each round
    rps: dict[tuple[str, int, str], list[float]] = {}
    for r in range(args.rounds):
        order = KINDS if r % 2 == 0 else KINDS[::-1]
        for label, what in TESTS:
            for p in pipelines:
                for name, kind in order:
                    with harness.running(kind) as server:
                        result = next(iter(bench.run_benchmark(server, p, what, args).values()))
                    if result.rps is None:
                        print(f"root-cost: {name} {label} -P {p}: {result.note}", file=sys.stderr)
                        continue
                    rps.setdefault((label, p, name), []).append(result.rps)
        print(f"root-cost: round {r + 1}/{args.rounds} done", file=sys.stderr)
    print(f"sporedb single node, redis-benchmark -c {args.clients} -n {args.requests} "
          f"-r {args.keyspace}, medians of {args.rounds} alternating rounds on fresh servers")
    print(f"{'test':20} {'pipeline':>8} {'root off':>12} {'root on':>12} {'cost':>8}   rounds (off | on)")
    for label, _ in TESTS:
        for p in pipelines:
            off, on = rps.get((label, p, "root off"), []), rps.get((label, p, "root on"), [])
            if not off or not on:
                print(f"{label:20} {p:>8}   (no result)")
                continue
            m_off, m_on = statistics.median(off), statistics.median(on)
            rounds = " ".join(f"{x:.0f}" for x in off) + " | " + " ".join(f"{x:.0f}" for x in on)
            print(f"{label:20} {p:>8} {m_off:>12,.0f} {m_on:>12,.0f} {1 - m_on / m_off:>7.1%}   {rounds}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
