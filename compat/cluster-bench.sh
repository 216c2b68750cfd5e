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

as_root() {
    if [ "$(id -u)" -eq 0 ]; then "$@"; else sudo "$@"; fi
}

# Debian's etcd-server package would start an etcd service on 2379/2380 as soon as it is
# installed; we only want the binaries. As in install-deps.sh, a policy-rc.d (honoured by
# invoke-rc.d and deb-systemd-invoke) forbids starting services while apt runs; we add one only
# if none exists and remove only the one we added.
install_etcd() {
    local missing=()
    command -v etcd >/dev/null || missing+=(etcd-server)
    command -v etcdctl >/dev/null || missing+=(etcd-client)
    [ ${#missing[@]} -eq 0 ] && return 0

    echo "cluster-bench: installing ${missing[*]} with apt-get" >&2
    local policy=/usr/sbin/policy-rc.d
    if [ ! -e "$policy" ]; then
        as_root sh -c "printf '#!/bin/sh\nexit 101\n' > $policy && chmod +x $policy"
        # shellcheck disable=SC2064  # expand now: the trap must remove exactly this file
        trap "as_root rm -f $policy" EXIT
    fi
    as_root env DEBIAN_FRONTEND=noninteractive apt-get update -q
    as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends "${missing[@]}"
}

"$here/install-deps.sh"
install_etcd
echo "cluster-bench: $(etcd --version | head -1)" >&2
# cluster_bench.py needs only the standard library (and resp.py next to it).
exec python3 "$here/cluster_bench.py" "$@"
