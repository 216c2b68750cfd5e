#!/usr/bin/env bash
# What the state root costs a single node's write throughput, through the real front end
# (arguments go to root_cost.py; see --help). Not a test: it always exits 0 when both servers ran.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
"$here/install-deps.sh" >&2
exec "$here/.venv/bin/python" "$here/root_cost.py" "$@"
