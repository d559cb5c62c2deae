# shellcheck shell=bash disable=SC2034
# Sourced by kafka-up.sh and kafka-down.sh: the settings both read from the
# environment, and how to find the broker that kafka-up.sh started.
#   KAFKA_HOST             address the broker listens on (default 127.0.0.1)
#   KAFKA_PORT             client port (default 9092)
#   KAFKA_CONTROLLER_PORT  KRaft controller port (default KAFKA_PORT + 1)
#   KAFKA_DIR              config, data, logs and pid file (default <repo>/.kafka)

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
repo=$(cd "$here/../.." && pwd)
KAFKA_HOST=${KAFKA_HOST:-127.0.0.1}
KAFKA_PORT=${KAFKA_PORT:-9092}
KAFKA_CONTROLLER_PORT=${KAFKA_CONTROLLER_PORT:-$((KAFKA_PORT + 1))}
KAFKA_DIR=$(realpath -m "${KAFKA_DIR:-$repo/.kafka}")
pidfile="$KAFKA_DIR/kafka.pid"
container_file="$KAFKA_DIR/docker-container"   # present when the Docker branch was used

# Print the pid of the broker started in $KAFKA_DIR if it is still running.
# The command line is checked so that a recycled pid is never signalled.
broker_pid() {
  local pid
  pid=$(cat "$pidfile" 2>/dev/null) || return 1
  [[ $pid =~ ^[0-9]+$ ]] || return 1
  tr '\0' ' ' <"/proc/$pid/cmdline" 2>/dev/null | grep -qF "kafka.Kafka $KAFKA_DIR/server.properties" || return 1
  echo "$pid"
}
