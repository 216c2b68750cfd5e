#!/usr/bin/env bash
# Benchmark redis-server and sporedb with redis-benchmark (arguments go to bench.py; see --help).
# Not a test: it always exits 0 when both servers ran, whatever the numbers.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
"$here/install-deps.sh"
exec "$here/.venv/bin/python" "$here/bench.py" "$@"
