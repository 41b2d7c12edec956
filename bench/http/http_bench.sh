#!/usr/bin/env bash
# HTTP benchmark (issue 5): tally's API on a store of 1,000,000 records, with
# ingestion idle and running, beside the ceiling from the same run: a minimal
# Beast server (ceiling_server) answering the very bytes tally answered.
#
# For each endpoint — /statistics (page of 10), /statistics/record (page of 100
# over 3 requests), /task/get — and each mode:
#   1. wrk, 1 thread, 64 connections, against tally and against the ceiling:
#      requests/s and p50/p99 latency (closed loop, the maximum rate); three
#      rounds, tally and ceiling interleaved, the best round of each;
#   2. rate_load (open loop, bench/http/rate_load.cpp) against tally at half the
#      maximum rate measured in 1: p50/p99 counted from each request's scheduled
#      time (target p99 < 5 ms); three runs: the best, and the median p99.
# The machine is shared (other builds, hypervisor steal): best-of rounds show
# what the code can do; the median shows how much the neighbours cost.
# Target: tally/ceiling >= 0.6 for /statistics. Also printed: /statistics with
# the response cache off (every request reads the store).
#
# Figures as CSV and SVG (bench/README.md): http_bench (requests/s, tally / ceiling)
# and http_bench_latency (wrk's p50/p99 beside the ceiling's, and the p99 at half
# the maximum rate) per endpoint and mode.
#
# Usage: bench/http/http_bench.sh [SECONDS=5] [INGEST_RATE=20000]
#   BUILD_DIR=build-x bench/http/http_bench.sh   to use another build directory
set -euo pipefail
cd "$(dirname "$0")/../.."
. bench/plot/csv.sh
. bench/http/wrk.sh
seconds=${1:-5}
ingest_rate=${2:-20000}
build=${BUILD_DIR:-build}
if [ "$build" = build ]; then scripts/build >/dev/null; fi
bin=$build/bench/http
data=$build/bench-data/http-store
work=$(mktemp -d)
pids=()
cleanup() {
  for p in "${pids[@]}"; do kill -TERM "$p" 2>/dev/null || true; done
  for p in "${pids[@]}"; do wait "$p" 2>/dev/null || true; done
  rm -rf "$work"
}
trap cleanup EXIT

mkdir -p "$(dirname "$data")"
"$bin/http_bench_server" load "$data" 1000000

# start NAME COMMAND... : runs a server in the background, waits for its "port N".
start() {
  local name=$1
  shift
  "$@" >"$work/$name.out" 2>"$work/$name.err" &
  pids+=($!)
  eval "${name}_pid=$!"
  for _ in $(seq 1 100); do
    grep -q '^port ' "$work/$name.out" && break
    sleep 0.1
  done
  grep -q '^port ' "$work/$name.out" || { echo "$name did not start"; cat "$work/$name.err"; exit 1; }
}
stop() {
  local pid=$1
  kill -TERM "$pid"
  wait "$pid" || true
}

# wrk_run PORT METHOD TARGET BODY -> "rps p50_ms p99_ms"
wrk_run() {
  local port=$1 method=$2 target=$3 body=$4
  cat >"$work/req.lua" <<LUA
wrk.method = "$method"
wrk.headers["Content-Type"] = "application/json"
wrk.body = [[$body]]
LUA
  wrk_figures "$work/req.lua" "http://127.0.0.1:$port$target"
}

# rate_run PORT RATE METHOD TARGET BODY -> "p50_ms p99_ms median_p99_ms": of
# three runs, the one with the lowest p99, and the median p99.
rate_run() {
  local runs=()
  for _ in 1 2 3; do
    local args=("$1" "$2" "$seconds" 64 "$3" "$4")
    [ -n "$5" ] && args+=("$5")
    runs+=("$("$bin/rate_load" "${args[@]}" | awk '{ for (i = 1; i <= NF; ++i) { if ($i == "p50") p50 = $(i + 1); if ($i == "p99") p99 = $(i + 1) } }
       END { print p99, p50 }')")
  done
  local sorted
  sorted=$(printf '%s\n' "${runs[@]}" | sort -n)
  echo "$(sed -n 1p <<<"$sorted" | awk '{ print $2, $1 }') $(sed -n 2p <<<"$sorted" | awk '{ print $1 }')"
}

# best_of PORT CEILING_PORT METHOD TARGET BODY -> "t_rps t_p50 t_p99 c_rps c_p50 c_p99":
# three rounds of tally then ceiling, interleaved so that noise on the shared
# machine hits both alike; the best round of each by requests/s.
best_of() {
  local best_t="0 0 0" best_c="0 0 0"
  for _ in 1 2 3; do
    local t c
    t=$(wrk_run "$1" "$3" "$4" "$5")
    c=$(wrk_run "$2" "$3" "$4" "$5")
    [ "${t%% *}" -gt "${best_t%% *}" ] && best_t=$t
    [ "${c%% *}" -gt "${best_c%% *}" ] && best_c=$c
  done
  echo "$best_t $best_c"
}

printf '\n%-38s %8s %9s %5s | %13s | %20s | %s\n' "" "" "" "" "wrk latency" "at half the max rate" ""
printf '%-38s %8s %9s %5s | %6s %6s | %6s %6s %6s | %s\n' "endpoint (mode)" "tally/s" "ceiling/s" "ratio" \
  "p50 ms" "p99" "p50" "p99" "median" "ceiling p50/p99 ms (response size)"
ratios=$(bench_csv http_bench figure,tally,ceiling,unit)
latency=$(bench_csv http_bench_latency endpoint,percentile,tally_ms,ceiling_ms)
failed=0
run_mode() {
  local mode=$1
  shift
  # Each mode starts from the same 1,000,000 records: ingestion writes to a copy.
  rm -rf "$data.run"
  cp -a "$data" "$data.run"
  sync  # the copy's writeback must not run during the measurements
  start tally "$bin/http_bench_server" serve "$data.run" "$@"
  local port st rec task
  port=$(awk '/^port /{print $2}' "$work/tally.out")
  st=$(awk '/^statistics /{print $2}' "$work/tally.out")
  rec=$(awk '/^record /{print $2}' "$work/tally.out")
  task=$(sed -n 's/^task //p' "$work/tally.out")
  # The ceiling answers each path with the bytes tally gave for it.
  curl -sS -i --raw "http://127.0.0.1:$port$st" >"$work/statistics.http"
  curl -sS -i --raw "http://127.0.0.1:$port$rec" >"$work/record.http"
  curl -sS -i --raw -H 'Content-Type: application/json' --data "$task" "http://127.0.0.1:$port/task/get" >"$work/task.http"
  grep -q '"code":2000' "$work/task.http" || { echo "task/get did not succeed"; head -c 300 "$work/task.http"; exit 1; }
  start ceiling "$bin/ceiling_server" "$(nproc)" "/statistics=$work/statistics.http" \
    "/statistics/record=$work/record.http" "/task/get=$work/task.http"
  local cport
  cport=$(awk '/^port /{print $2}' "$work/ceiling.out")
  local name method target body
  for spec in "statistics|GET|$st|" "statistics/record|GET|$rec|" "task/get|POST|/task/get|$task"; do
    IFS='|' read -r name method target body <<<"$spec"
    read -r t_rps t_p50 t_p99 c_rps c_p50 c_p99 <<<"$(best_of "$port" "$cport" "$method" "$target" "$body")"
    local half=$((t_rps / 2))
    read -r h_p50 h_p99 h_median <<<"$(rate_run "$port" "$half" "$method" "$target" "$body")"
    local bytes
    bytes=$(wc -c <"$work/${name%%/*}.http")
    [ "$name" = statistics/record ] && bytes=$(wc -c <"$work/record.http")
    [ "$name" = task/get ] && bytes=$(wc -c <"$work/task.http")
    printf '%-38s %8d %9d %5.2f | %6.3f %6.3f | %6.3f %6.3f %6.3f | %.3f/%.3f (%d B)\n' "/$name ($mode)" "$t_rps" \
      "$c_rps" "$(awk -v a="$t_rps" -v b="$c_rps" 'BEGIN { print a / b }')" "$t_p50" "$t_p99" "$h_p50" "$h_p99" \
      "$h_median" "$c_p50" "$c_p99" "$bytes"
    echo "/$name ($mode),$t_rps,$c_rps,req/s" >>"$ratios"
    printf '%s,%s,%s,%s\n' "/$name ($mode)" "p50" "$t_p50" "$c_p50" "/$name ($mode)" "p99" "$t_p99" "$c_p99" \
      "/$name ($mode)" "p99 at half max" "$h_p99" "" >>"$latency"
    if [ "$name" = statistics ] && awk -v a="$t_rps" -v b="$c_rps" 'BEGIN { exit !(a / b < 0.6) }'; then
      echo "  below target: /statistics at < 0.6 of the ceiling"
      failed=1
    fi
    if awk -v p="$h_p99" 'BEGIN { exit !(p >= 5) }'; then
      echo "  below target: p99 >= 5 ms at half the maximum rate"
      failed=1
    fi
  done
  stop "$ceiling_pid"
  stop "$tally_pid"
  sed -n 's/^http_bench_server: //p' "$work/tally.err" | sed 's/^/  /'
}
run_mode "idle"
run_mode "ingesting ${ingest_rate}/s" --ingest-rate "$ingest_rate"

# Every request reading the store: the response cache off.
rm -rf "$data.run"
cp -a "$data" "$data.run"
sync
start tally "$bin/http_bench_server" serve "$data.run" --no-cache
port=$(awk '/^port /{print $2}' "$work/tally.out")
st=$(awk '/^statistics /{print $2}' "$work/tally.out")
read -r t_rps t_p50 t_p99 <<<"$(wrk_run "$port" GET "$st" "")"
read -r h_p50 h_p99 h_median <<<"$(rate_run "$port" $((t_rps / 2)) GET "$st" "")"
printf '%-38s %8d %9s %5s | %6.3f %6.3f | %6.3f %6.3f %6.3f |\n' "/statistics (idle, no cache)" "$t_rps" "-" "-" \
  "$t_p50" "$t_p99" "$h_p50" "$h_p99" "$h_median"
printf '%s,%s,%s,\n' "/statistics (idle no cache)" "p50" "$t_p50" "/statistics (idle no cache)" "p99" "$t_p99" \
  "/statistics (idle no cache)" "p99 at half max" "$h_p99" >>"$latency"
stop "$tally_pid"
pids=()
rm -rf "$data.run"
bench_plot "$ratios" "$latency"
echo
[ "$failed" -eq 0 ] && echo "all targets met" || echo "some targets missed"
