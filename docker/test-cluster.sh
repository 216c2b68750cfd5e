#!/usr/bin/env bash
# End-to-end test of the 4-node docker compose cluster (n = 4, f = 1, quorum 3):
#   1. build the image, generate fresh keys/configs in a temp dir, start the cluster;
#   2. write through node1, read every write back through node2..4;
#   3. disconnect node3 from the network, write through node1 (nodes 1, 2, 4 must all endorse),
#      check node3 did not see those writes, reconnect it;
#   4. SIGKILL node4, write through node1, restart node4, write through node2 while node4 is in
#      its amnesia guard (nodes 1-3 endorse), then write through node4 itself;
#   5. wait until all four nodes return identical dumps and every acknowledged write is there.
# Prints PASS or FAIL with the reason; exits non-zero on failure. Everything it starts (compose
# project, volumes, network, temp dir) is removed on exit.
#
# Env: SPOREDB_IMAGE (default sporedb:local), SPOREDB_BIN (use this binary, skip cargo build),
#      SKIP_BUILD=1 (use the existing image), KEYS_PER_PHASE (default 20),
#      CONVERGE_SECS (default 90), KEEP_LOGS=1 (print node logs even on PASS).
set -euo pipefail

here="$(cd "$(dirname "$0")" && pwd)"
export SPOREDB_IMAGE="${SPOREDB_IMAGE:-sporedb:local}"
per_phase="${KEYS_PER_PHASE:-20}"
converge_secs="${CONVERGE_SECS:-90}"
started=$SECONDS

if docker compose version >/dev/null 2>&1; then
    compose_bin=(docker compose)
elif command -v docker-compose >/dev/null; then
    compose_bin=(docker-compose)
else
    echo "FAIL: neither 'docker compose' nor docker-compose is installed" >&2
    exit 2
fi
command -v redis-cli >/dev/null || { echo "FAIL: redis-cli is not installed" >&2; exit 2; }

project="sporedb-test-$$"
tmp="$(mktemp -d)"
export SPOREDB_CLUSTER_DIR="$tmp/cluster"
compose() { "${compose_bin[@]}" -f "$here/docker-compose.yml" -p "$project" "$@"; }

log() { printf '[%3ds] %s\n' "$((SECONDS - started))" "$*"; }

failed=""
fail() {
    failed="$*"
    exit 1
}
cleanup() {
    local rc=$?
    set +e
    if [[ -n "$failed" || $rc -ne 0 || -n "${KEEP_LOGS:-}" ]]; then
        # The full logs are kept for diagnosis; the screen gets each node's last lines without
        # gossipsub's duplicate-publish warnings, which drown everything else.
        local saved="${TMPDIR:-/tmp}/$project.log"
        compose logs --no-color >"$saved" 2>&1
        echo "---- last node logs (all of them in $saved) ----"
        for k in 1 2 3 4; do
            compose logs --no-color "node$k" 2>/dev/null | grep -v 'already been published' | tail -n 12
        done
    fi
    compose down -v --remove-orphans >/dev/null 2>&1
    rm -rf "$tmp"
    if [[ $rc -eq 0 ]]; then
        echo "PASS: $((SECONDS - started)) s; ${#acked[@]} acknowledged writes present and identical on all 4 nodes"
    else
        echo "FAIL: ${failed:-exit status $rc (see above)}"
    fi
    exit "$rc"
}
declare -A acked=() # key -> value of every acknowledged SET; member:NAME for acknowledged SADDs
trap cleanup EXIT
trap 'exit 130' INT TERM

# A /24 no existing docker network uses (compose fails on overlapping pools).
pick_subnet() {
    local used
    used="$(docker network inspect $(docker network ls -q) --format '{{range .IPAM.Config}}{{.Subnet}} {{end}}' 2>/dev/null)"
    for third in $(seq 53 250); do
        if [[ " $used " != *" 172.29.$third."* ]]; then
            echo "172.29.$third"
            return
        fi
    done
    return 1
}
SPOREDB_NET="$(pick_subnet)" || fail "no free 172.29.x.0/24 subnet"
export SPOREDB_NET

if [[ -z "${SKIP_BUILD:-}" ]]; then
    log "building image $SPOREDB_IMAGE"
    "$here/build-image.sh" "$SPOREDB_IMAGE" >/dev/null
fi
log "generating keys and configs in $SPOREDB_CLUSTER_DIR (subnet $SPOREDB_NET.0/24)"
"$here/gen-configs.sh" >/dev/null
log "starting compose project $project"
compose up -d >/dev/null 2>&1 || { compose up -d; fail "compose up failed"; }

cid() { compose ps -q "node$1"; }
# The host port docker published for node K's Redis port (it may change when a container restarts).
declare -a port
refresh_port() {
    local mapped
    mapped="$(compose port "node$1" 6379 2>/dev/null || true)"
    port[$1]="${mapped##*:}"
}
cli() { # cli K ARGS...: one command against node K, bounded so a cut-off node cannot hang the test
    local k=$1
    shift
    timeout 20 redis-cli -p "${port[$k]}" "$@" 2>&1
}

wait_ping() { # wait_ping K SECS
    local deadline=$((SECONDS + $2))
    while ((SECONDS < deadline)); do
        refresh_port "$1"
        if [[ -n "${port[$1]}" && "$(timeout 3 redis-cli -p "${port[$1]}" PING 2>/dev/null)" == PONG ]]; then
            return 0
        fi
        sleep 0.5
    done
    fail "node$1 did not answer PING within $2 s"
}

# Writes are recorded as acknowledged only when the node answered with success.
set_key() { # set_key NODE KEY VALUE
    local out
    out="$(cli "$1" SET "$2" "$3")"
    if [[ "$out" == OK ]]; then
        acked[$2]="$3"
    else
        fail "SET $2 through node$1 was not acknowledged: $out"
    fi
}
add_member() { # add_member NODE MEMBER
    local out
    out="$(cli "$1" SADD members "$2")"
    if [[ "$out" == 1 || "$out" == 0 ]]; then
        acked["member:$2"]=1
    else
        fail "SADD members $2 through node$1 was not acknowledged: $out"
    fi
}
write_phase() { # write_phase NODE PHASE
    for i in $(seq 1 "$per_phase"); do
        set_key "$1" "$2:k$i" "v-$2-$i"
        if ((i % 4 == 0)); then add_member "$1" "$2-m$i"; fi
    done
    log "phase $2: $per_phase SETs + $((per_phase / 4)) SADDs acknowledged by node$1"
}

# A canonical dump of node K: every key in sorted order with its type and value (set members
# sorted). Reads are batched through one redis-cli per kind so a dump stays cheap.
dump() {
    local k=$1 keys types
    keys="$(timeout 20 redis-cli -p "${port[$k]}" --scan 2>/dev/null | sort)" || return 1
    [[ -n "$keys" ]] || return 0
    types="$(sed 's/^/TYPE /' <<<"$keys" | timeout 20 redis-cli -p "${port[$k]}" 2>/dev/null)" || return 1
    paste <(echo "$keys") <(echo "$types") | while IFS=$'\t' read -r key type; do
        case "$type" in
        string) printf '%s\tstring\t%s\n' "$key" "$(timeout 20 redis-cli -p "${port[$k]}" GET "$key")" ;;
        set) printf '%s\tset\t%s\n' "$key" "$(timeout 20 redis-cli -p "${port[$k]}" SMEMBERS "$key" | sort | tr '\n' ' ')" ;;
        *) printf '%s\t%s\n' "$key" "$type" ;;
        esac
    done
}
# Which acknowledged writes a dump lacks (empty output: none).
missing_in() { # missing_in DUMPFILE
    local key members
    members="$(awk -F'\t' '$1 == "members" { print $3 }' "$1")"
    for key in "${!acked[@]}"; do
        if [[ "$key" == member:* ]]; then
            [[ " $members" == *" ${key#member:} "* ]] || echo "$key"
        elif ! grep -qxF "$key"$'\tstring\t'"${acked[$key]}" "$1"; then
            echo "$key"
        fi
    done
}
# Until a deadline, wait for nodes NODES... to hold every acknowledged write.
wait_has_all() { # wait_has_all SECS NODE...
    local deadline=$((SECONDS + $1)) k missing
    shift
    for k in "$@"; do
        while true; do
            dump "$k" >"$tmp/dump$k" || true
            missing="$(missing_in "$tmp/dump$k" | sort | head -5)"
            [[ -z "$missing" ]] && break
            ((SECONDS < deadline)) || fail "node$k lacks acknowledged writes: $(echo $missing)"
            sleep 1
        done
    done
}

# ---- 1. start and wait for a working cluster ----
for k in 1 2 3 4; do wait_ping "$k" 60; done
log "all 4 nodes answer PING (Redis ports ${port[1]} ${port[2]} ${port[3]} ${port[4]})"
# The first write needs the peers connected: retry it until the cluster commits one.
deadline=$((SECONDS + 60))
until [[ "$(cli 1 SET ready:probe 1)" == OK ]]; do
    ((SECONDS < deadline)) || fail "the cluster did not commit a first write within 60 s: $(cli 1 SET ready:probe 1)"
    sleep 1
done
acked[ready:probe]=1
log "cluster commits writes"

# ---- 2. write through node1, read through the others ----
write_phase 1 p1
wait_has_all 30 2 3 4
log "node2..4 return every phase-1 write"

# ---- 3. cut node3 off, write, reconnect ----
netname="${project}_sporenet"
docker network disconnect "$netname" "$(cid 3)"
log "node3 disconnected from $netname"
write_phase 1 p2
wait_has_all 30 2 4
if [[ "$(timeout 3 redis-cli -p "${port[3]}" GET p2:k1 2>/dev/null || true)" == "v-p2-1" ]]; then
    fail "node3 saw a write made while it was disconnected: the partition did not happen"
fi
docker network connect --ip "$SPOREDB_NET.13" "$netname" "$(cid 3)"
log "node3 reconnected"
wait_ping 3 30

# ---- 4. kill node4, write, restart it, write during its amnesia guard ----
docker kill "$(cid 4)" >/dev/null
log "node4 killed (SIGKILL)"
write_phase 1 p3
docker start "$(cid 4)" >/dev/null
wait_ping 4 60
log "node4 restarted (Redis port ${port[4]})"
write_phase 2 p4
wait_ping 3 10 # node3's published port may have moved after reconnecting
wait_has_all "$converge_secs" 3 4
log "node3 and node4 caught up"
write_phase 4 p5

# ---- 5. all nodes identical, nothing acknowledged lost ----
deadline=$((SECONDS + converge_secs))
while true; do
    wait_has_all "$converge_secs" 1 2 3 4
    if cmp -s "$tmp/dump1" "$tmp/dump2" && cmp -s "$tmp/dump1" "$tmp/dump3" && cmp -s "$tmp/dump1" "$tmp/dump4"; then
        break
    fi
    if ((SECONDS >= deadline)); then
        for k in 2 3 4; do diff "$tmp/dump1" "$tmp/dump$k" | head -10 || true; done
        fail "the nodes' data did not converge within $converge_secs s"
    fi
    sleep 1
done
log "all 4 dumps identical ($(wc -l <"$tmp/dump1") keys, sha256 $(sha256sum <"$tmp/dump1" | cut -c1-16))"
