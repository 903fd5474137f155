#!/usr/bin/env bash
# The dockerless local stack, all on loopback: Apache Kafka (KRaft, single
# node) and FerretDB (MongoDB wire protocol) over Debian's PostgreSQL.
#
#   deploy/local/stack.sh up       build/fetch what is missing, start, wait until ready
#   deploy/local/stack.sh down     stop both (data is kept)
#   deploy/local/stack.sh status   show what runs
#   deploy/local/stack.sh reset    stop and delete all data (downloads stay cached)
#   deploy/local/stack.sh restart-kafka   stop and start the broker (used by tests)
#
# Everything lives under $CHORUS_LOCAL (default: <repo>/.local, git-ignored):
#   cache/   downloaded jars and the built FerretDB binary (a second start is fast)
#   data/    Kafka log dirs and the PostgreSQL cluster behind FerretDB
#   logs/    kafka.log, ferretdb.log
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
ferretdb_version="v1.24.2"
kafka_port="${CHORUS_KAFKA_PORT:-9092}"
controller_port="${CHORUS_KAFKA_CONTROLLER_PORT:-9093}"
mongo_port="${CHORUS_MONGO_PORT:-27017}"
postgres_port="${CHORUS_POSTGRES_PORT:-5433}"
ready_timeout="${CHORUS_STACK_TIMEOUT:-90}"

kafka_libs="$cache/kafka-$kafka_version/libs"
ferretdb_bin="$cache/ferretdb-$ferretdb_version/ferretdb"

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
  command -v go >/dev/null || die "Go not found: it builds FerretDB (Go 1.22 or newer)."
  pg_bin="$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -n1)"
  if [ ! -x "$pg_bin/postgres" ] && [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null; then
    say "installing Debian's PostgreSQL server (FerretDB stores its data there)..."
    (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq postgresql) \
      >"$logs/apt.log" 2>&1 || { tail -n 20 "$logs/apt.log" >&2; die "apt-get install postgresql failed."; }
    pg_bin="$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -n1)"
  fi
  [ -x "$pg_bin/postgres" ] || die "PostgreSQL server not found (FerretDB stores its data there): apt-get install postgresql."
}

# PostgreSQL refuses to run as root: as root, run it as the 'postgres' user.
as_pg() {
  if [ "$(id -u)" = 0 ]; then runuser -u postgres -- "$@"; else "$@"; fi
}

# As root, PostgreSQL runs as 'postgres', which must reach its files. A checkout
# inside a private directory (mktemp -d makes them 0700) is out of its reach:
# then they live in postgres' home instead, one directory per checkout.
postgres_home() {
  [ "$(id -u)" = 0 ] && id postgres >/dev/null 2>&1 || return 0
  runuser -u postgres -- test -x "$local_dir" 2>/dev/null && return 0
  echo "$(getent passwd postgres | cut -d: -f6)/chorus-$(printf %s "$local_dir" | sha1sum | cut -c1-12)"
}

start_postgres() {
  if pid_alive postgres; then say "postgres already running (pid $(cat "$run/postgres.pid"))"; return 0; fi
  check_port_free postgres "$postgres_port"
  mkdir -p "$data" "$logs" "$run"
  local away pgdata="$data/postgres" pglog="$logs/postgres.log" pgsockets="$run"
  away="$(postgres_home)"
  if [ -n "$away" ]; then
    pgdata="$away/data" pglog="$away/postgres.log" pgsockets="$away"
    mkdir -p "$away" && chown postgres "$away"
  fi
  if [ ! -f "$pgdata/PG_VERSION" ]; then
    mkdir -p "$pgdata"
    [ "$(id -u)" = 0 ] && chown postgres "$pgdata" "$logs" "$run"
    as_pg "$pg_bin/initdb" -D "$pgdata" -U postgres --auth=trust -E UTF8 >"$logs/postgres-init.log" 2>&1 \
      || { cat "$logs/postgres-init.log" >&2; die "initdb failed."; }
  fi
  [ "$(id -u)" = 0 ] && chown postgres "$logs" "$run"
  as_pg "$pg_bin/pg_ctl" -D "$pgdata" -w -t 60 -l "$pglog" \
    -o "-p $postgres_port -k $pgsockets -c listen_addresses=127.0.0.1 -c fsync=on" start >/dev/null \
    || { tail -n 20 "$pglog" >&2; die "postgres did not start."; }
  head -n1 "$pgdata/postmaster.pid" >"$run/postgres.pid"
  as_pg "$pg_bin/psql" -h 127.0.0.1 -p "$postgres_port" -U postgres -tAc \
    "SELECT 1 FROM pg_database WHERE datname='ferretdb'" | grep -q 1 \
    || as_pg "$pg_bin/createdb" -h 127.0.0.1 -p "$postgres_port" -U postgres ferretdb
  # GIN indexes on `_id` for every FerretDB table (why: in the SQL file).
  as_pg "$pg_bin/psql" -h 127.0.0.1 -p "$postgres_port" -U postgres -d ferretdb -q \
    -v ON_ERROR_STOP=1 -c "SET client_min_messages = warning" \
    -f - <"$here/postgres/ferretdb-id-index.sql" >/dev/null \
    || die "could not install the FerretDB _id indexes (deploy/local/postgres/ferretdb-id-index.sql)."
  say "postgres running on 127.0.0.1:$postgres_port (log: $pglog)"
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

build_ferretdb() {
  [ -x "$ferretdb_bin" ] && return 0
  say "building FerretDB $ferretdb_version from the Go module (first start only)..."
  mkdir -p "$logs" "$(dirname "$ferretdb_bin")"
  local src module_dir
  src="$(mktemp -d)"
  # The module zip lacks build/version/version.txt, without which the binary
  # panics at start: build from a writable copy with that file written.
  if ! module_dir="$(cd "$src" && GOFLAGS=-mod=mod go mod download -json \
      "github.com/FerretDB/FerretDB@$ferretdb_version" 2>>"$logs/ferretdb-build.log" \
      | sed -n 's/.*"Dir": "\(.*\)".*/\1/p')" || [ -z "$module_dir" ]; then
    die "Go could not download github.com/FerretDB/FerretDB@$ferretdb_version (log: $logs/ferretdb-build.log)."
  fi
  cp -r "$module_dir/." "$src/" && chmod -R u+w "$src"
  echo "$ferretdb_version" >"$src/build/version/version.txt"
  if ! (cd "$src" && go build -o "$ferretdb_bin" ./cmd/ferretdb) >>"$logs/ferretdb-build.log" 2>&1; then
    tail -n 20 "$logs/ferretdb-build.log" >&2
    die "building FerretDB failed (log: $logs/ferretdb-build.log)."
  fi
  rm -rf "$src"
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

start_ferretdb() {
  if pid_alive ferretdb; then say "ferretdb already running (pid $(cat "$run/ferretdb.pid"))"; return 0; fi
  check_port_free mongo "$mongo_port"
  mkdir -p "$data/ferretdb" "$logs" "$run"
  nohup "$ferretdb_bin" --listen-addr="127.0.0.1:$mongo_port" --handler=postgresql \
    --postgresql-url="postgres://postgres@127.0.0.1:$postgres_port/ferretdb" \
    --state-dir="$data/ferretdb" \
    --telemetry=disable --debug-addr=- --log-level=warn >>"$logs/ferretdb.log" 2>&1 &
  echo $! >"$run/ferretdb.pid"
  say "ferretdb starting on 127.0.0.1:$mongo_port (log: $logs/ferretdb.log)"
}

wait_ready() {
  local deadline=$((SECONDS + ready_timeout))
  until port_open "$mongo_port"; do
    pid_alive ferretdb || { tail -n 20 "$logs/ferretdb.log" >&2; die "ferretdb exited at start."; }
    [ $SECONDS -lt $deadline ] || die "ferretdb not ready after ${ready_timeout}s (log: $logs/ferretdb.log)."
    sleep 0.2
  done
  until port_open "$kafka_port" && grep -q "Kafka Server started" "$logs/kafka.log"; do
    pid_alive kafka || { tail -n 30 "$logs/kafka.log" >&2; die "kafka exited at start."; }
    [ $SECONDS -lt $deadline ] || die "kafka not ready after ${ready_timeout}s (log: $logs/kafka.log)."
    sleep 0.3
  done
  say "ready: kafka 127.0.0.1:$kafka_port, mongodb://127.0.0.1:$mongo_port"
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
    fetch_kafka
    build_ferretdb
    start_postgres
    start_ferretdb
    start_kafka
    wait_ready
    ;;
  restart-kafka)
    # For tests that prove producers and consumers survive a broker restart.
    stop_one kafka
    start_kafka
    wait_ready
    ;;
  down)
    stop_one kafka
    stop_one ferretdb
    stop_one postgres INT  # fast shutdown: roll back open transactions, then stop
    ;;
  status)
    for name in kafka ferretdb postgres; do
      if pid_alive "$name"; then echo "$name: running (pid $(cat "$run/$name.pid"))"; else echo "$name: stopped"; fi
    done
    ;;
  reset)
    "$0" down
    away="$(postgres_home)"
    rm -rf "$data" ${away:+"$away"}
    say "data deleted ($data${away:+ and $away})"
    ;;
  *)
    echo "usage: $0 up|down|status|reset" >&2
    exit 2
    ;;
esac
