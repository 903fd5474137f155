#!/usr/bin/env bash
# Generates the Python contracts from proto/ into libs/contracts/src (one place,
# never hand-edited), lints with buf, and checks that what is committed is fresh.
#   tools/proto.sh gen     regenerate
#   tools/proto.sh check   buf lint + fail when the committed code is stale
set -euo pipefail
repo="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
out="$repo/libs/contracts/src"
python="$repo/.venv/bin/python"

generate() { # into $1
  local dest="$1" include
  include="$("$python" -c 'import grpc_tools, os; print(os.path.join(os.path.dirname(grpc_tools.__file__), "_proto"))')"
  mkdir -p "$dest"
  (cd "$repo/proto" && find chorus -name '*.proto' | sort | xargs \
    env PATH="$repo/.venv/bin:$PATH" "$python" -m grpc_tools.protoc -I . -I "$include" \
      --python_out="$dest" --grpc_python_out="$dest" --mypy_out=quiet:"$dest" --mypy_grpc_out=quiet:"$dest")
  # Message-only files get empty gRPC modules: drop them.
  (cd "$repo/proto" && grep -L '^service ' $(find chorus -name '*.proto')) | while read -r f; do
    rm -f "$dest/${f%.proto}_pb2_grpc.py" "$dest/${f%.proto}_pb2_grpc.pyi"
  done
}

case "${1:-gen}" in
  gen)
    rm -rf "$out/chorus"
    generate "$out"
    echo "proto: generated into ${out#"$repo"/}"
    ;;
  check)
    "$repo/tools/buf.sh" lint "$repo/proto"
    tmp="$(mktemp -d)"; trap 'rm -rf "$tmp"' EXIT
    generate "$tmp"
    if ! diff -r -q "$tmp/chorus" "$out/chorus" >/dev/null; then
      diff -r -q "$tmp/chorus" "$out/chorus" || true
      echo "proto: generated code is stale: run 'make proto' and commit the result." >&2
      exit 1
    fi
    echo "proto: buf lint clean, generated code fresh"
    ;;
  *) echo "usage: $0 gen|check" >&2; exit 2 ;;
esac
