#!/usr/bin/env bash
# `make run`: every service in the foreground with prefixed logs; Ctrl-C (or
# SIGTERM) stops them all cleanly. The local stack is started by make first.
set -euo pipefail
repo="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
bin="$repo/.venv/bin"
services=(content distribution engagement gamification insights hub)
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
# Connecting an account in the hub goes to the simulator's consent pages.
export CHORUS_LINKEDIN_AUTHORIZE_URL="${CHORUS_LINKEDIN_AUTHORIZE_URL:-http://127.0.0.1:8090/oauth/v2/authorization}"
export CHORUS_X_AUTHORIZE_URL="${CHORUS_X_AUTHORIZE_URL:-http://127.0.0.1:8090/i/oauth2/authorize}"
export CHORUS_PLATFORM_ORIGINS="${CHORUS_PLATFORM_ORIGINS:-http://127.0.0.1:8090}"
# The local topics also hold the test suite's events: the demo's scoring engine,
# when its group is new, starts at their end instead of scoring all of them.
export CHORUS_ENGINE_OFFSET_RESET="${CHORUS_ENGINE_OFFSET_RESET:-latest}"
# People sign in at the local stack's Keycloak; the services trust its keys
# (and, in development, the CLI's development key beside them).
issuer="${CHORUS_OIDC_ISSUER:-http://127.0.0.1:8180/realms/chorus}"
export CHORUS_OIDC_ISSUER="$issuer"
export CHORUS_JWT_ISSUER="${CHORUS_JWT_ISSUER:-$issuer}"
export CHORUS_JWT_JWKS_URL="${CHORUS_JWT_JWKS_URL:-$issuer/protocol/openid-connect/certs}"
mkdir -p "$repo/.local/simulator"
"$bin/chorus-simulator" --port 8090 --state-file "$repo/.local/simulator/state.json" > >(trap "" INT TERM; exec sed -u "s/^/[simulator] /") 2>&1 &
pids+=($!)

# REPLICAS=N (make run REPLICAS=2) starts N of every service: replica i listens
# on the service's ports + i-1 (content 8010, 8011, ...), the way Kubernetes
# would run several pods of one Deployment in one consumer group.
replicas="${REPLICAS:-1}"
if ! [[ "$replicas" =~ ^[1-9]$ ]]; then
  echo "run: REPLICAS must be a number from 1 to 9 (got '$replicas')" >&2
  exit 2
fi
declare -A http_ports=([content]=8010 [distribution]=8020 [engagement]=8030 [gamification]=8040 [insights]=8050 [hub]=8060)
declare -A grpc_ports=([content]=50510 [distribution]=50520 [engagement]=50530 [gamification]=50540 [insights]=50550 [hub]=0)

start_replica() {
  local name="$1" index="$2" label="$1"
  local -a env=()
  if (( index > 1 )); then
    label="$name-$index"
    local http=$(( http_ports[$name] + index - 1 )) grpc=$(( grpc_ports[$name] + index - 1 ))
    env+=("CHORUS_HTTP_PORT=$http" "CHORUS_GRPC_PORT=$grpc")
    # Each engagement replica has its own click journal and transactional id.
    [[ "$name" == engagement ]] && env+=("CHORUS_INSTANCE_ID=engagement-$index" "CHORUS_PUBLIC_BASE_URL=http://127.0.0.1:$http")
  fi
  # The log prefixer ignores Ctrl-C so that it prints the services' last words.
  env "${env[@]}" "$bin/chorus-$name" > >(trap "" INT TERM; exec sed -u "s/^/[$label] /") 2>&1 &
  pids+=($!)
}

for name in "${services[@]}"; do
  for (( index = 1; index <= replicas; index++ )); do
    start_replica "$name" "$index"
  done
done

if (( replicas > 1 )); then
  echo "run: $replicas replicas of every service; replica i answers on the ports + i-1 (content: 8010..$(( 8010 + replicas - 1 )))"
fi
echo "run: starting; the demo tenant is seeded once every service is ready (Ctrl-C stops all)"
# Seeds the demo tenant through the public APIs (a re-run keeps what exists),
# then prints the URLs, a token command and a walkthrough.
"$bin/chorus-demo" &
pids+=($!)
wait
