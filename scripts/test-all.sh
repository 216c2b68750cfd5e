#!/usr/bin/env bash
# The whole test suite, as the README's test command and CI run it:
#   1. installs what the suites need (redis-server/redis-cli from Debian, a Python venv),
#   2. runs every Rust test with nextest (unit, integration, real processes, simulation),
#   3. runs the compatibility suites against a real redis-server side by side (compat/).
# Everything binds free ports on 127.0.0.1 and cleans up the processes it starts.
set -euo pipefail
cd "$(dirname "$0")/.."

./compat/install-deps.sh

if ! command -v cargo-nextest >/dev/null 2>&1; then
    cargo install cargo-nextest --locked
fi

# One release build serves the Rust tests, the compat suites and (later) benchmarks.
cargo build --release --bins
cargo nextest run --release --no-fail-fast

SPOREDB_BIN="$PWD/target/release/sporedb" ./compat/run-all.sh
