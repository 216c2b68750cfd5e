#!/usr/bin/env bash
# Builds the `sporedb` image from scratch: release binary + the shared libraries `ldd` names.
# Usage: docker/build-image.sh [tag]   (default tag: sporedb:local)
set -euo pipefail
cd "$(dirname "$0")/.."
tag="${1:-sporedb:local}"
cargo build --release --bin sporedb
ctx="$(mktemp -d)"
trap 'rm -rf "$ctx"' EXIT
mkdir -p "$ctx/rootfs/usr/local/bin" "$ctx/rootfs/data" "$ctx/rootfs/tmp"
cp target/release/sporedb "$ctx/rootfs/usr/local/bin/sporedb"
# Copy every library the binary loads, at the same path, plus the dynamic loader.
for lib in $(ldd target/release/sporedb | grep -oE '/[^ ]+\.so[^ ]*'); do
    mkdir -p "$ctx/rootfs$(dirname "$lib")"
    cp -L "$lib" "$ctx/rootfs$lib"
done
cp docker/Dockerfile "$ctx/Dockerfile"
docker build -t "$tag" "$ctx"
echo "built $tag"
