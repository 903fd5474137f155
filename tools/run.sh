#!/usr/bin/env bash
# `make run`: every service in the foreground with prefixed logs; Ctrl-C (or
# SIGTERM) stops them all cleanly. The local stack is started by make first.
set -euo pipefail
repo="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
bin="$repo/.venv/bin"
services=(content distribution engagement gamification)
pids=()

stop_all() {
  trap - INT TERM
  echo "run: stopping services..."
  for pid in "${pids[@]}"; do kill -TERM "$pid" 2>/dev/null || true; done
  wait || true
  echo "run: services stopped (the stack keeps running: 'make stack-down' stops it)"
  exit 0
}
trap stop_all INT TERM

# The platform simulator stands in for LinkedIn and X locally.
export CHORUS_LINKEDIN_API_BASE_URL="${CHORUS_LINKEDIN_API_BASE_URL:-http://127.0.0.1:8090}"
export CHORUS_X_API_BASE_URL="${CHORUS_X_API_BASE_URL:-http://127.0.0.1:8090}"
"$bin/chorus-simulator" --port 8090 > >(trap "" INT TERM; exec sed -u "s/^/[simulator] /") 2>&1 &
pids+=($!)

for name in "${services[@]}"; do
  # The log prefixer ignores Ctrl-C so that it prints the services' last words.
  "$bin/chorus-$name" > >(trap "" INT TERM; exec sed -u "s/^/[$name] /") 2>&1 &
  pids+=($!)
done

cat <<MSG

Chorus is starting. REST (OpenAPI at /docs) and gRPC (reflection on):
  content       http://127.0.0.1:8010/docs   grpc 127.0.0.1:50510
  distribution  http://127.0.0.1:8020/docs   grpc 127.0.0.1:50520
  engagement    http://127.0.0.1:8030/docs   grpc 127.0.0.1:50530
  gamification  http://127.0.0.1:8040/docs   grpc 127.0.0.1:50540
  simulator     http://127.0.0.1:8090/docs   (LinkedIn and X APIs, /_sim/posts)
A token to call them with:
  TOKEN=\$($bin/chorus token --tenant acme --sub alice --role advocate --role curator)
  curl -H "Authorization: Bearer \$TOKEN" http://127.0.0.1:8010/v1/me/shared
Press Ctrl-C to stop.

MSG
wait
