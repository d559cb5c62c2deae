#!/usr/bin/env bash
# Stop the broker that kafka-up.sh started in KAFKA_DIR: SIGTERM (a clean
# controlled shutdown), then SIGKILL if it is still running after
# KAFKA_STOP_TIMEOUT seconds. Data is kept, so kafka-up.sh restarts on it,
# unless KAFKA_WIPE=1, which deletes KAFKA_DIR (or the Docker container).
#
# Environment (see also common.sh: KAFKA_DIR, KAFKA_PORT):
#   KAFKA_STOP_TIMEOUT  seconds between SIGTERM and SIGKILL (default 30; 0 kills at once)
#   KAFKA_WIPE          1 to delete the broker's data after stopping it
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/common.sh"

KAFKA_STOP_TIMEOUT=${KAFKA_STOP_TIMEOUT:-30}
KAFKA_WIPE=${KAFKA_WIPE:-0}

if [[ -f $container_file ]]; then
  name=$(cat "$container_file")
  if [[ $KAFKA_WIPE == 1 ]]; then
    docker rm -f -v "$name" >/dev/null 2>&1 || true
  else
    docker stop -t "$KAFKA_STOP_TIMEOUT" "$name" >/dev/null 2>&1 || true
  fi
  echo "kafka-down: stopped container $name"
elif pid=$(broker_pid); then
  if (( KAFKA_STOP_TIMEOUT > 0 )); then
    kill -TERM "$pid" 2>/dev/null || true
    for (( i = 0; i < KAFKA_STOP_TIMEOUT * 5; i++ )); do
      kill -0 "$pid" 2>/dev/null || break
      sleep 0.2
    done
  fi
  if kill -0 "$pid" 2>/dev/null; then
    echo "kafka-down: broker (pid $pid) still running, sending SIGKILL"
    kill -KILL "$pid" 2>/dev/null || true
    while kill -0 "$pid" 2>/dev/null; do sleep 0.1; done
  fi
  echo "kafka-down: stopped broker (pid $pid) in $KAFKA_DIR"
else
  echo "kafka-down: no broker of ours is running in $KAFKA_DIR"
fi
rm -f "$pidfile"

if [[ $KAFKA_WIPE == 1 && -d $KAFKA_DIR ]]; then
  # only a directory that looks like one kafka-up.sh made
  [[ -f $KAFKA_DIR/server.properties || -d $KAFKA_DIR/data ]] \
    || { echo "kafka-down: $KAFKA_DIR does not look like a broker directory, not wiping" >&2; exit 1; }
  rm -rf "$KAFKA_DIR"
  echo "kafka-down: wiped $KAFKA_DIR"
fi
