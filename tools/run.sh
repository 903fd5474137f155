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
# The local topics also hold the test suite's events: the demo's scoring engine,
# when its group is new, starts at their end instead of scoring all of them.
export CHORUS_ENGINE_OFFSET_RESET="${CHORUS_ENGINE_OFFSET_RESET:-latest}"
mkdir -p "$repo/.local/simulator"
"$bin/chorus-simulator" --port 8090 --state-file "$repo/.local/simulator/state.json" > >(trap "" INT TERM; exec sed -u "s/^/[simulator] /") 2>&1 &
pids+=($!)

for name in "${services[@]}"; do
  # The log prefixer ignores Ctrl-C so that it prints the services' last words.
  "$bin/chorus-$name" > >(trap "" INT TERM; exec sed -u "s/^/[$name] /") 2>&1 &
  pids+=($!)
done

echo "run: starting; the demo tenant is seeded once every service is ready (Ctrl-C stops all)"
# Seeds the demo tenant through the public APIs (a re-run keeps what exists),
# then prints the URLs, a token command and a walkthrough.
"$bin/chorus-demo" &
pids+=($!)
wait
