#!/usr/bin/env bash
# Start a single-node Apache Kafka broker (KRaft, combined broker+controller)
# in the background and return once it answers a real metadata request.
# Idempotent: if a broker already answers on KAFKA_HOST:KAFKA_PORT it returns
# at once. Data in KAFKA_DIR is kept across restarts (formatted only once).
#
# By default the broker runs on the local JDK from jars that fetch-jars.sh
# takes from Maven Central; where a Docker engine answers, the apache/kafka
# image is used instead (KAFKA_USE_DOCKER=auto|1|0).
#
# Environment (see also common.sh: KAFKA_HOST, KAFKA_PORT, KAFKA_CONTROLLER_PORT, KAFKA_DIR):
#   KAFKA_UP_TIMEOUT   seconds to wait for the broker to answer (default 90)
#   KAFKA_HEAP_OPTS    JVM heap (default "-Xms256m -Xmx512m")
#   KAFKA_JVM_OPTS     extra JVM options
#   KAFKA_PYTHON       Python with confluent_kafka for the probe (default .venv/bin/python)
#   KAFKA_USE_DOCKER   auto (default): Docker when `docker info` answers; 1: always; 0: never
#   KAFKA_DOCKER_IMAGE default apache/kafka:<version in pom.xml>
#   CACHE_DIR          where fetch-jars.sh keeps the jars (default ~/.cache/lab-results-producer)
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/common.sh"

KAFKA_UP_TIMEOUT=${KAFKA_UP_TIMEOUT:-90}
KAFKA_HEAP_OPTS=${KAFKA_HEAP_OPTS:--Xms256m -Xmx512m}
KAFKA_USE_DOCKER=${KAFKA_USE_DOCKER:-auto}
version=$(sed -n 's:.*<kafka.version>\(.*\)</kafka.version>.*:\1:p' "$here/pom.xml")
KAFKA_DOCKER_IMAGE=${KAFKA_DOCKER_IMAGE:-apache/kafka:$version}
java=${JAVA_HOME:+$JAVA_HOME/bin/}java
bootstrap="$KAFKA_HOST:$KAFKA_PORT"
log="$KAFKA_DIR/logs/server.log"

die() { echo "kafka-up: $*" >&2; exit 1; }
log_tail() {
  if [[ -f $container_file ]]; then docker logs --tail 40 "$(cat "$container_file")"
  else tail -n 40 "$log"; fi
} >&2 2>/dev/null
port_open() { (exec 3<>"/dev/tcp/$KAFKA_HOST/$1") 2>/dev/null; }

# The probe: a metadata request through confluent_kafka if a Python has it,
# else through the Java admin client (Probe.java, slower to start).
python=${KAFKA_PYTHON:-$repo/.venv/bin/python}
"$python" -c 'import confluent_kafka' 2>/dev/null || python=
answers() {
  port_open "$KAFKA_PORT" || return 1
  if [[ -n $python ]]; then
    "$python" - "$bootstrap" 2>/dev/null <<'PY'
import sys
from confluent_kafka.admin import AdminClient
md = AdminClient({"bootstrap.servers": sys.argv[1], "log_level": 0}).list_topics(timeout=3)
sys.exit(0 if md.brokers else 1)
PY
  else
    [[ -n ${libs:-} ]] || libs=$("$here/fetch-jars.sh")
    "$java" -cp "$libs/*" "$here/Probe.java" "$bootstrap" >/dev/null 2>&1
  fi
}

use_docker() {
  case $KAFKA_USE_DOCKER in
    1) return 0 ;; 0) return 1 ;;
    *) command -v docker >/dev/null && timeout 5 docker info >/dev/null 2>&1 ;;
  esac
}

mkdir -p "$KAFKA_DIR/logs"
exec 9>"$KAFKA_DIR/up.lock"
flock 9    # two kafka-up runs on one KAFKA_DIR: the second waits, then finds the broker up

if answers; then
  echo "kafka-up: a broker already answers on $bootstrap"
  exit 0
fi

# server.properties is rendered on every start, so port changes apply
sed -e "s|__HOST__|$KAFKA_HOST|g" -e "s|__PORT__|$KAFKA_PORT|g" \
    -e "s|__CONTROLLER_PORT__|$KAFKA_CONTROLLER_PORT|g" -e "s|__DATA_DIR__|$KAFKA_DIR/data|g" \
    "$here/server.properties.template" >"$KAFKA_DIR/server.properties"

start=$SECONDS
pid=
if use_docker; then
  # apache/kafka maps KAFKA_FOO_BAR=x to foo.bar=x and formats its storage itself.
  # Host networking keeps the same 127.0.0.1 listeners; data lives in the
  # container, which kafka-down.sh stops (keeps) or removes (KAFKA_WIPE=1).
  name="lab-results-kafka-$KAFKA_PORT"
  echo "$name" >"$container_file"
  if docker container inspect "$name" >/dev/null 2>&1; then
    docker start "$name" >/dev/null
  else
    env_args=()
    while IFS='=' read -r key value; do
      [[ -z $key || $key == \#* ]] && continue
      [[ $key == log.dirs ]] && value=/var/lib/kafka/data
      key=${key^^}
      env_args+=(-e "KAFKA_${key//./_}=$value")
    done <"$KAFKA_DIR/server.properties"
    docker run -d --name "$name" --network host -e KAFKA_HEAP_OPTS="$KAFKA_HEAP_OPTS" \
      "${env_args[@]}" "$KAFKA_DOCKER_IMAGE" >/dev/null
  fi
else
  rm -f "$container_file"
  if pid=$(broker_pid); then
    echo "kafka-up: broker (pid $pid) is already starting, waiting for it"
  else
    port_open "$KAFKA_PORT" && die "port $KAFKA_PORT is taken by something that does not answer as Kafka"
    port_open "$KAFKA_CONTROLLER_PORT" && die "controller port $KAFKA_CONTROLLER_PORT is taken"
    libs=${libs:-$("$here/fetch-jars.sh")}
    # shellcheck disable=SC2206  # the *_OPTS variables are split into words on purpose
    jvm=("$java" $KAFKA_HEAP_OPTS -XX:+UseG1GC -XX:MaxGCPauseMillis=20 -XX:+ExitOnOutOfMemoryError
         -Djava.awt.headless=true -Dlog4j2.shutdownHookEnabled=false -Dkafka.logs.dir="$KAFKA_DIR/logs"
         -Dlog4j2.configurationFile="$here/log4j2.properties" ${KAFKA_JVM_OPTS:-} -cp "$libs/*")

    # Format KRaft storage once; a restart reuses the data. The cluster id is
    # 16 random bytes in URL-safe base64 (what `StorageTool random-uuid`
    # prints), made here to save a JVM start; it must not begin with '-'.
    if [[ ! -f "$KAFKA_DIR/data/meta.properties" ]]; then
      cluster_id=-
      while [[ $cluster_id == -* ]]; do
        cluster_id=$(head -c 16 /dev/urandom | base64 | tr '+/' '-_' | cut -c1-22)
      done
      echo "kafka-up: formatting $KAFKA_DIR/data (cluster id $cluster_id)"
      "${jvm[@]}" kafka.tools.StorageTool format --ignore-formatted \
        -t "$cluster_id" -c "$KAFKA_DIR/server.properties" >>"$KAFKA_DIR/logs/stdout.log" 2>&1 \
        || { tail -n 20 "$KAFKA_DIR/logs/stdout.log" >&2; die "formatting the storage failed"; }
    fi

    echo "kafka-up: starting Kafka $version on $bootstrap (controller :$KAFKA_CONTROLLER_PORT, dir $KAFKA_DIR)"
    # setsid: the broker outlives this shell and make's Ctrl-C; 9>&- so it does not hold the lock
    cd "$KAFKA_DIR"
    setsid nohup "${jvm[@]}" kafka.Kafka "$KAFKA_DIR/server.properties" \
      >>"$KAFKA_DIR/logs/stdout.log" 2>&1 </dev/null 9>&- &
    pid=$!
    echo "$pid" >"$pidfile"
  fi
fi

until answers; do
  if [[ -n $pid ]] && ! kill -0 "$pid" 2>/dev/null; then
    echo "kafka-up: the broker exited; last lines of its logs:" >&2
    tail -n 20 "$KAFKA_DIR/logs/stdout.log" >&2; log_tail || true
    die "broker did not start"
  fi
  if (( SECONDS - start >= KAFKA_UP_TIMEOUT )); then
    echo "kafka-up: no answer from $bootstrap after ${KAFKA_UP_TIMEOUT}s; last lines of its log:" >&2
    log_tail || true
    die "timed out (the broker may still be starting; stop it with kafka-down.sh / make kafka-down)"
  fi
  sleep 1
done
echo "kafka-up: Kafka answers on $bootstrap after $((SECONDS - start))s${pid:+ (pid $pid)}"
