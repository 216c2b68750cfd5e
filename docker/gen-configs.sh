#!/usr/bin/env bash
# Writes docker/cluster/ for docker/docker-compose.yml: a 4-node cluster's keys, trust rings and
# policy (made by `sporedb demo --init-only`, run inside the image so the files match the binary
# that will use them) plus one container config per node, nodeK/container.toml.
#
# Usage: docker/gen-configs.sh            (SPOREDB_IMAGE, default sporedb:local;
#                                          SPOREDB_NET, default 172.29.53 — the compose subnet's /24;
#                                          SPOREDB_CLUSTER_DIR, default docker/cluster)
#
# Existing keys are kept (demo never regenerates them), so rerunning is safe. The key material is
# secret and per-deployment: docker/cluster/ is git-ignored.
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
image="${SPOREDB_IMAGE:-sporedb:local}"
net="${SPOREDB_NET:-172.29.53}"
out="${SPOREDB_CLUSTER_DIR:-$here/cluster}"
nodes=4
mkdir -p "$out"
out="$(cd "$out" && pwd)" # docker -v needs an absolute path

# Runs the image's sporedb with docker/cluster mounted at /cluster, as the calling user so the
# files it writes are ours.
sporedb() {
    docker run --rm --user "$(id -u):$(id -g)" -v "$out:/cluster" --entrypoint /usr/local/bin/sporedb "$image" "$@"
}

sporedb demo --nodes "$nodes" --dir /cluster --init-only >/dev/null

# The libp2p peer id of a node id (hex ed25519 public key), as docs/CLUSTER.md §1 defines it:
# base58btc of the identity multihash (0x00, len 36) of the protobuf PublicKey
# {Type = Ed25519 (08 01), Data = 32 bytes (12 20 …)}.
peer_id() {
    python3 - "$1" <<'PY'
import sys
data = bytes([0x00, 36, 0x08, 0x01, 0x12, 32]) + bytes.fromhex(sys.argv[1])
alphabet = "123456789ABCDEFGHJKLMNPQRSTUVWXYZabcdefghijkmnopqrstuvwxyz"
n, s = int.from_bytes(data, "big"), ""
while n:
    n, r = divmod(n, 58)
    s = alphabet[r] + s
print("1" * (len(data) - len(data.lstrip(b"\0"))) + s)
PY
}

# Container k has the address $net.(10+k) (docker-compose.yml pins the same ones): libp2p here
# has no DNS transport, so peers are bootstrapped by IP.
declare -a peer
for k in $(seq 1 "$nodes"); do
    id="$(sporedb keys --data-dir "/cluster/node$k" show)"
    peer[k]="$(peer_id "$id")"
done
# Cross-check the derivation against the one address demo itself wrote (node 1 -> node 2).
if ! grep -q "/p2p/${peer[2]}\"" "$out/node1/sporedb.toml"; then
    echo "gen-configs: derived peer id of node2 (${peer[2]}) differs from the one in node1/sporedb.toml" >&2
    exit 1
fi

for k in $(seq 1 "$nodes"); do
    boot=""
    for j in $(seq 1 "$nodes"); do
        [[ $j == "$k" ]] && continue
        boot+="${boot:+, }\"/ip4/$net.$((10 + j))/tcp/7100/p2p/${peer[j]}\""
    done
    cat >"$out/node$k/container.toml" <<TOML
# Node $k of the docker compose cluster, written by docker/gen-configs.sh.
# Paths are inside the container: node.key and trust.toml are mounted into the data volume.
bind = "0.0.0.0"
port = 6379
data_dir = "/data"

[cluster]
p2p_listen = "/ip4/0.0.0.0/tcp/7100"
bootstrap = [$boot]
policy = "/etc/sporedb/policy.toml"
TOML
done
echo "wrote $out (4 nodes, subnet $net.0/24)"
