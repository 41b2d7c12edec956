#!/usr/bin/env bash
# Backups of a live store (issue 14), in one run (bench/backup_bench.cpp says what
# it measures and why): a 2,000,000-event store backed up while the stream goes on
# being applied (ingest rate during the backup vs before and after it; target >= 0.7),
# then a new replica restored from that backup and caught up, against one that
# re-reads the whole stream (target >= 5x faster).
#
# Usage: bench/backup_bench.sh [MORE_EVENTS=1200000]
#   BUILD_DIR=build   the build to measure (bench/backup_bench, bench/make_events)
#   EVENTS_FILE=f     the 2,000,000 events of the store (default: generated as
#                     bench/summary_views_bench.sh does: make_events 2000000 1000 230)
set -euo pipefail
cd "$(dirname "$0")/.."
more=${1:-1200000}
build=$(realpath "${BUILD_DIR:-build}")
if [ "${BUILD_DIR:-build}" = build ]; then scripts/build backup_bench make_events >/dev/null; fi
data=$build/bench-data
mkdir -p "$data"
base=${EVENTS_FILE:-$data/events-2000000.ndjson}
if [ ! -s "$base" ]; then "$build/bench/make_events" 2000000 1000 230 >"$base"; fi
# The same stream, continued: the events after the first 2,000,000 (new ids).
continuation=$data/events-after-2000000-$more.ndjson
if [ ! -s "$continuation" ]; then
  "$build/bench/make_events" $((2000000 + more)) 1000 230 | tail -n +2000001 >"$continuation"
fi
work=$(mktemp -d "$data/backup-bench.XXXXXX")
trap 'rm -rf "$work"' EXIT
echo "load before: $(uptime)"
"$build/bench/backup_bench" "$base" "$continuation" "$work/run"
echo "load after: $(uptime)"
