# Sourced by compat scripts: `apt_install_quiet TAG PACKAGE...` installs Debian packages without
# letting them start their services. Packages such as redis-server and etcd-server would start a
# service on its default port as soon as they are installed; we only want the binaries, so while
# apt runs, a policy-rc.d (the standard Debian mechanism that invoke-rc.d and
# deb-systemd-invoke honour) forbids starting services. One is added only if none exists, and
# only the one added is removed. Root on a fresh Debian 12 (no sudo); sudo for other users.

as_root() {
    if [ "$(id -u)" -eq 0 ]; then "$@"; else sudo "$@"; fi
}

apt_install_quiet() {
    local tag=$1
    shift
    [ $# -eq 0 ] && return 0
    echo "$tag: installing $* with apt-get" >&2
    local policy=/usr/sbin/policy-rc.d added=""
    if [ ! -e "$policy" ]; then
        as_root sh -c "printf '#!/bin/sh\nexit 101\n' > $policy && chmod +x $policy"
        added=$policy
    fi
    local status=0
    as_root env DEBIAN_FRONTEND=noninteractive apt-get update -q &&
        as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends "$@" ||
        status=$?
    [ -n "$added" ] && as_root rm -f "$added"
    return $status
}
