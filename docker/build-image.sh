#!/usr/bin/env bash
# Builds the `sporedb` image from scratch: release binary + the shared libraries `ldd` names.
# Usage: docker/build-image.sh [tag]   (default tag: sporedb:local)
# Honours CARGO_TARGET_DIR. SPOREDB_BIN=/path/to/sporedb skips the cargo build and uses that binary.
set -euo pipefail
cd "$(dirname "$0")/.."
tag="${1:-sporedb:local}"
ctx="$(mktemp -d)"
trap 'rm -rf "$ctx"' EXIT
mkdir -p "$ctx/rootfs/usr/local/bin" "$ctx/rootfs/data" "$ctx/rootfs/tmp"
if [[ -n "${SPOREDB_BIN:-}" ]]; then
    bin="$SPOREDB_BIN"
else
    cargo build --release --bin sporedb
    bin="${CARGO_TARGET_DIR:-target}/release/sporedb"
fi
# Copy the binary first and work from the copy: a shared target dir may be rebuilt by another
# checkout at any moment, and the image must hold exactly the binary this run built.
cp "$bin" "$ctx/rootfs/usr/local/bin/sporedb"
bin="$ctx/rootfs/usr/local/bin/sporedb"
# Release builds carry debuginfo (for backtraces on the host); the image does not need it.
if command -v strip >/dev/null; then strip --strip-debug "$bin"; fi
# Copy every library the binary loads, at the same path, plus the dynamic loader.
for lib in $(ldd "$bin" | grep -oE '/[^ ]+\.so[^ ]*'); do
    mkdir -p "$ctx/rootfs$(dirname "$lib")"
    cp -L "$lib" "$ctx/rootfs$lib"
done
chmod 1777 "$ctx/rootfs/tmp"
cp docker/Dockerfile "$ctx/Dockerfile"
docker build -q -t "$tag" "$ctx" >/dev/null
echo "built $tag"
