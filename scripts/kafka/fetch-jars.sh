#!/usr/bin/env bash
# Fetch the Apache Kafka broker jars listed in scripts/kafka/pom.xml from Maven
# Central into a cache directory and print that directory. The directory name
# carries a hash of pom.xml, so once it exists later runs return at once and
# offline (Maven is not even started).
#
# Environment: CACHE_DIR (default ~/.cache/lab-results-producer).
set -euo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
pom="$here/pom.xml"
cache="${CACHE_DIR:-$HOME/.cache/lab-results-producer}"
version=$(sed -n 's:.*<kafka.version>\(.*\)</kafka.version>.*:\1:p' "$pom")
libs="$cache/kafka-$version-$(sha256sum "$pom" | cut -c1-12)/libs"

if [[ ! -f "$libs/kafka_2.13-$version.jar" ]]; then
  mkdir -p "$cache"
  exec 8>"$cache/.kafka-jars.lock"
  flock 8                                   # one fetch at a time
  if [[ ! -f "$libs/kafka_2.13-$version.jar" ]]; then
    echo "kafka-jars: fetching Kafka $version jars with Maven into $libs" >&2
    tmp="$libs.tmp.$$"
    rm -rf "$tmp" && mkdir -p "$tmp"
    # mvn's output goes to a log shown on failure: stdout is the libs path only
    mvn -B -f "$pom" dependency:copy-dependencies -DincludeScope=runtime \
      -DoutputDirectory="$tmp" >"$tmp.log" 2>&1 \
      || { tail -n 30 "$tmp.log" >&2; echo "kafka-jars: mvn failed" >&2; exit 1; }
    rm -f "$tmp.log"
    rm -rf "$libs"
    mv "$tmp" "$libs"                       # appears whole or not at all
  fi
fi
echo "$libs"
