#!/usr/bin/env bash
# Cluster benchmark: a 4-node sporedb cluster (redis-benchmark) against a 3-member etcd cluster
# (same number of concurrent writers), in the same run. Arguments go to cluster_bench.py (see
# --help). Not a test: it exits 0 whenever both systems ran, whatever the numbers.
#
# Installs what it needs, idempotently: compat/install-deps.sh (redis-tools, the Python venv) and
# Debian's etcd-server + etcd-client. Every process it starts and every temporary directory it
# makes are removed on exit (cluster_bench.py owns them; see its docstring).
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)

# shellcheck source=apt-install.sh
. "$here/apt-install.sh"

# etcd-server would start a service on 2379/2380 when installed: apt_install_quiet prevents it.
install_etcd() {
    local missing=()
    command -v etcd >/dev/null || missing+=(etcd-server)
    command -v etcdctl >/dev/null || missing+=(etcd-client)
    apt_install_quiet cluster-bench "${missing[@]}"
}

"$here/install-deps.sh"
install_etcd
echo "cluster-bench: $(etcd --version | head -1)" >&2
# cluster_bench.py needs only the standard library (and resp.py next to it).
exec python3 "$here/cluster_bench.py" "$@"
