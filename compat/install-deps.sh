#!/usr/bin/env bash
# Installs everything the compat suite needs, idempotently:
#   - Debian's redis-server and redis-tools (redis-cli, redis-benchmark): the reference server
#     and the real clients we test sporedb with;
#   - a Python venv at compat/.venv with the pinned packages from compat/requirements.txt;
#   - iproute2 and iptables, which tests/partition.rs uses to partition nodes in namespaces.
# Works as root on a fresh Debian 12 (no sudo); uses sudo only when run as another user.
set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)
venv="$here/.venv"

# shellcheck source=apt-install.sh
. "$here/apt-install.sh"

install_apt_packages() {
    local missing=()
    command -v redis-server >/dev/null || missing+=(redis-server)
    command -v redis-cli >/dev/null && command -v redis-benchmark >/dev/null || missing+=(redis-tools)
    # Debian's python3 lacks ensurepip (so `python3 -m venv` fails) until python3-venv is installed.
    python3 -c 'import ensurepip' >/dev/null 2>&1 || missing+=(python3 python3-venv)
    # tests/partition.rs puts nodes in network namespaces and cuts one off with iptables.
    command -v ip >/dev/null || missing+=(iproute2)
    command -v iptables >/dev/null || missing+=(iptables)
    apt_install_quiet install-deps "${missing[@]}"
}

# Reinstalls the Python packages only when requirements.txt changed since the last install, so a
# second run costs no network access.
install_venv() {
    [ -x "$venv/bin/python" ] || python3 -m venv "$venv"
    local stamp="$venv/.requirements.installed"
    if ! cmp -s "$here/requirements.txt" "$stamp"; then
        "$venv/bin/python" -m pip install -q --disable-pip-version-check -r "$here/requirements.txt"
        cp "$here/requirements.txt" "$stamp"
    fi
}

install_apt_packages
install_venv
echo "install-deps: $(redis-server --version | cut -d' ' -f1-3), $("$venv/bin/python" -c 'import redis, pytest; print("redis-py", redis.__version__, "pytest", pytest.__version__)')" >&2
