#!/usr/bin/env bash
# Differential test, redis-server vs sporedb (arguments go to diff.py; see its --help).
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
"$here/install-deps.sh"
exec "$here/.venv/bin/python" "$here/diff.py" "$@"
