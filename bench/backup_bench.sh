#!/usr/bin/env bash
# Backups of a live store (issue 14), in one run (bench/backup_bench.cpp says what
# it measures and why): a 2,000,000-event store backed up while the stream goes on
# being applied (ingest rate during the backup vs before and after it; target >= 0.7),
# then a new replica restored from that backup and caught up, against one that
# re-reads the whole stream (target >= 5x faster).
#
# Figures as CSV and SVG (bench/README.md): backup_bench, the ingest rate during a
# backup beside the rate without, and the restored replica beside the re-reading one.
#
# Usage: bench/backup_bench.sh [MORE_EVENTS=800000]
#   BUILD_DIR=build   the build to measure (bench/backup_bench, bench/make_events)
# The stream: make_events with 2000 requests of 230 tasks (long enough to go on
# past 2,000,000 events), its first 2,000,000 events the store, the rest the
# continuation applied during the backup.
set -euo pipefail
cd "$(dirname "$0")/.."
more=${1:-800000}
build=$(realpath "${BUILD_DIR:-build}")
if [ "${BUILD_DIR:-build}" = build ]; then scripts/build backup_bench make_events >/dev/null; fi
data=$build/bench-data
mkdir -p "$data"
base=$data/backup-bench-first-2000000.ndjson
continuation=$data/backup-bench-next-$more.ndjson
if [ ! -s "$base" ] || [ ! -s "$continuation" ]; then
  "$build/bench/make_events" $((2000000 + more)) 2000 230 >"$data/backup-bench-all.ndjson"
  head -n 2000000 "$data/backup-bench-all.ndjson" >"$base"
  tail -n +2000001 "$data/backup-bench-all.ndjson" >"$continuation"
  rm "$data/backup-bench-all.ndjson"
fi
work=$(mktemp -d "$data/backup-bench.XXXXXX")
trap 'rm -rf "$work"' EXIT
echo "load before: $(uptime)"
"$build/bench/backup_bench" "$base" "$continuation" "$work/run"
echo "load after: $(uptime)"
