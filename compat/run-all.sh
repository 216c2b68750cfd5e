#!/usr/bin/env bash
# Entry point for the non-Rust test suites (called by the project's test command):
#   1. install redis-server/redis-tools and the Python venv (idempotent);
#   2. build sporedb (release) unless SPOREDB_BIN names a binary;
#   3. the differential test against redis-server (fails on unexpected differences);
#   4. pytest: the real redis-cli, redis-py, and the diff harness's self-test.
# Every suite runs even if an earlier one failed; the exit status is non-zero if any failed.
#
# COMPAT_TARGET=redis runs everything against redis-server instead of sporedb, which checks the
# suites themselves (everything must pass then).
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
py="$here/.venv/bin/python"
target=${COMPAT_TARGET:-sporedb}

"$here/install-deps.sh"
if [ "$target" = sporedb ] && [ -z "${SPOREDB_BIN:-}" ]; then
    SPOREDB_BIN=$("$py" "$here/harness.py" build)
    export SPOREDB_BIN
fi

failed=()
echo "== differential test: redis-server vs $target"
"$py" "$here/diff.py" --candidate "$target" || failed+=(diff)
echo "== client tests against $target: redis-cli, redis-py"
COMPAT_TARGET=$target "$py" -m pytest "$here" -q || failed+=(pytest)

if [ ${#failed[@]} -gt 0 ]; then
    echo "compat: FAILED: ${failed[*]}" >&2
    exit 1
fi
echo "compat: all suites passed against $target"
