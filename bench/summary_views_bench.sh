#!/usr/bin/env bash
# The cost of the summary and labeler views (issue 13), in one run of one build:
#
#   replay     `tally replay` of the same NDJSON (2,000,000 events by default) with the
#              views and without them (`--no-summary-views`, a hidden benchmark flag),
#              interleaved round by round, best round of each kept.
#              Target: with >= 0.85 × without.
#   queries    the bench store (1,000,000 records; opened with this build, so a store
#              written before the views gets them built at open, timed), served with
#              the response cache off; `wrk -t1 -c64` on /statistics page 1 (10 tasks),
#              /statistics/summary and /statistics/labelers page 1, each over 100
#              random requests. Target: p99 of each new endpoint <= 2 × /statistics's.
#
# Figures as CSV and SVG (bench/README.md): summary_views_replay (events/s over time
# of each replay), summary_views (with / without, req/s), summary_views_latency (p99
# of each new endpoint beside /statistics page 1's).
#
# Usage: bench/summary_views_bench.sh [ROUNDS=3] [SECONDS=5]
#   BUILD_DIR=build   the build to measure (tally, bench/http/http_bench_server, bench/make_events)
#   EVENTS_FILE=f     the NDJSON to replay (default: BUILD_DIR/bench-data/events-2000000.ndjson, generated)
#   STORE=dir         a bench store to copy and serve (default: one loaded by http_bench_server);
#                     it is copied, never modified
set -euo pipefail
cd "$(dirname "$0")/.."
. bench/plot/csv.sh
. bench/http/wrk.sh
rounds=${1:-3}
seconds=${2:-5}
build=$(realpath "${BUILD_DIR:-build}")
if [ "${BUILD_DIR:-build}" = build ]; then scripts/build tally http_bench_server make_events >/dev/null; fi
work=$(mktemp -d)
server_pid=
cleanup() {
  if [ -n "$server_pid" ]; then kill -TERM "$server_pid" 2>/dev/null || true; wait "$server_pid" 2>/dev/null || true; fi
  rm -rf "$work"
}
trap cleanup EXIT

events=${EVENTS_FILE:-$build/bench-data/events-2000000.ndjson}
if [ ! -s "$events" ]; then
  mkdir -p "$(dirname "$events")"
  "$build/bench/make_events" 2000000 1000 230 >"$events"
fi

over_time=$(bench_csv summary_views_replay series,seconds,events_per_s)
# replay SERIES [FLAGS] -> events/s; its rate over time goes to $over_time as SERIES.
replay() {
  local series=$1
  shift
  rm -rf "$work/store"
  "$build/tally" replay --data-dir "$work/store" --memory-mb 256 --samples "$work/samples.csv" "$@" "$events" 2>&1 |
    grep -oE 'done: .*\(([0-9]+) events/s\)' | grep -oE '[0-9]+ events/s' | cut -d' ' -f1
  bench_rates "$series" "$work/samples.csv" >>"$over_time"
}

max() { [ "$1" -gt "$2" ] && echo "$1" || echo "$2"; }
with=0 without=0
for round in $(seq 1 "$rounds"); do
  a=$(replay "with the views (round $round)")
  b=$(replay "without (round $round)" --no-summary-views)
  echo "replay round $round: with the views $a events/s, without $b events/s (load $(cut -d' ' -f1-3 /proc/loadavg))"
  with=$(max "$with" "$a")
  without=$(max "$without" "$b")
done
rm -rf "$work/store"

# The query side.
if [ -n "${STORE:-}" ]; then
  cp -a "$STORE" "$work/http-store"
else
  "$build/bench/http/http_bench_server" load "$work/http-store" 1000000 >/dev/null
fi
open_start=$(date +%s.%N)
"$build/bench/http/http_bench_server" serve "$work/http-store" --no-cache >"$work/server.out" 2>"$work/server.err" &
server_pid=$!
for _ in $(seq 1 3000); do
  grep -q '^ids ' "$work/server.out" && break
  sleep 0.1
done
open_seconds=$(awk -v a="$open_start" -v b="$(date +%s.%N)" 'BEGIN { printf "%.1f", b - a }')
port=$(awk '/^port /{print $2}' "$work/server.out")
ids=$(awk '/^ids /{print $2}' "$work/server.out")
[ -n "$port" ] && [ -n "$ids" ] || { echo "the server did not start:"; cat "$work/server.err"; exit 1; }
grep 'summary views' "$work/server.err" || true

list=$(sed 's/[^,]*/"&"/g' <<<"$ids")
for route in statistics statistics/summary statistics/labelers; do
  cat >"$work/${route//\//_}.lua" <<LUA
local ids = {$list}
math.randomseed(os.time())
request = function()
  return wrk.format("GET", "/$route?annotationRequestId=" .. ids[math.random(#ids)] .. "&pageNumber=1&pageSize=10")
end
LUA
done


# Rounds interleaved; per route the best round (least p99) is kept.
declare -A p99 rps
for round in $(seq 1 "$rounds"); do
  for route in statistics statistics_summary statistics_labelers; do
    read -r r _ p <<<"$(wrk_figures "$work/$route.lua" "http://127.0.0.1:$port/")"
    echo "query round $round: /${route//_//} $r req/s, p99 $p ms"
    if [ -z "${p99[$route]:-}" ] || awk -v a="$p" -v b="${p99[$route]}" 'BEGIN { exit !(a < b) }'; then
      p99[$route]=$p
      rps[$route]=$r
    fi
  done
done
kill -TERM "$server_pid"
wait "$server_pid" || true
server_pid=

echo
echo "best of $rounds rounds, load average $(cut -d' ' -f1-3 /proc/loadavg):"
printf '  replay with the views      %8d events/s\n' "$with"
printf '  replay without the views   %8d events/s   with/without %.3f (target >= 0.85)\n' "$without" \
  "$(awk -v a="$with" -v b="$without" 'BEGIN { print a / b }')"
printf '  store opened (and its views built if it had none) in %s s\n' "$open_seconds"
for route in statistics statistics_summary statistics_labelers; do
  printf '  %-22s %8s req/s  p99 %7s ms   %.2f × /statistics (target <= 2)\n' "/${route//_//}" "${rps[$route]}" \
    "${p99[$route]}" "$(awk -v a="${p99[$route]}" -v b="${p99[statistics]}" 'BEGIN { print a / b }')"
done
ratios=$(bench_csv summary_views figure,tally,ceiling,unit)
echo "replay with the views / without,$with,$without,events/s" >>"$ratios"
latency=$(bench_csv summary_views_latency endpoint,percentile,tally_ms,statistics_page_1_ms)
for route in statistics_summary statistics_labelers; do
  echo "/${route//_//},p99,${p99[$route]},${p99[statistics]}" >>"$latency"
done
bench_plot "$over_time" "$ratios" "$latency"
