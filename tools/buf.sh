#!/usr/bin/env bash
# Runs buf, building it once from the Go module into the project's cache.
set -euo pipefail
repo="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
version="v1.75.0"
bin_dir="${CHORUS_LOCAL:-$repo/.local}/cache/buf-$version"
if [ ! -x "$bin_dir/buf" ]; then
  command -v go >/dev/null || { echo "buf: Go not found (needed once to build buf $version)" >&2; exit 1; }
  echo "buf: building github.com/bufbuild/buf $version (first use only)..." >&2
  mkdir -p "$bin_dir"
  (cd "$bin_dir" && GOBIN="$bin_dir" GOFLAGS=-mod=mod go install "github.com/bufbuild/buf/cmd/buf@$version") \
    || { echo "buf: could not build github.com/bufbuild/buf@$version" >&2; exit 1; }
fi
exec "$bin_dir/buf" "$@"
