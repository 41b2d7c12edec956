#!/usr/bin/env bash
# Before/after benchmark of two builds of tally, in one run: replay throughput and
# the HTTP API's closed-loop rate, the builds interleaved round by round so that
# noise on the shared machine hits both alike; the best round of each is kept.
# This is how a change shows it kept throughput "within 5 % of before".
#
#   bench/compare_builds.sh OLD_BUILD NEW_BUILD [EVENTS=2000000] [ROUNDS=3] [SECONDS=5]
#
# Figures as CSV and SVG (bench/README.md): compare_builds, new / old for each figure
# (the old build plays the ceiling).
#
# A build is a directory holding `tally` and `bench/http/http_bench_server` (a
# build/ tree, or a copy of those binaries from an older commit). Each build loads
# its own 1,000,000-record store for the HTTP part (store formats may differ).
# `http_bench_server load` leaves it compacted; a build from before that (27b778c and
# older) leaves its compaction to its first `serve`, at normal priority there: done
# within the first round (bench/http/README.md, "Uncached /task/get between two builds").
set -euo pipefail
cd "$(dirname "$0")/.."
. bench/plot/csv.sh
[ $# -ge 2 ] || { echo "usage: $0 OLD_BUILD NEW_BUILD [EVENTS] [ROUNDS] [SECONDS]" >&2; exit 2; }
old=$(realpath "$1") new=$(realpath "$2")
events=${3:-2000000} rounds=${4:-3} seconds=${5:-5}
for b in "$old" "$new"; do
  for f in tally bench/http/http_bench_server; do
    [ -x "$b/$f" ] || { echo "$b/$f: missing" >&2; exit 2; }
  done
done
make_events=$new/bench/make_events
[ -x "$make_events" ] || make_events=$old/bench/make_events
work=$(mktemp -d)
server_pid=
cleanup() {
  [ -n "$server_pid" ] && kill -TERM "$server_pid" 2>/dev/null && wait "$server_pid" 2>/dev/null
  rm -rf "$work"
}
trap cleanup EXIT

data=$new/bench-data
mkdir -p "$data"
ndjson="$data/events-$events.ndjson"
[ -s "$ndjson" ] || "$make_events" "$events" 1000 230 >"$ndjson"

# replay BUILD -> events/s
replay() {
  rm -rf "$work/store"
  "$1/tally" replay --data-dir "$work/store" --memory-mb 256 "$ndjson" 2>&1 |
    grep -oE 'done: .*\(([0-9]+) events/s\)' | grep -oE '[0-9]+ events/s' | cut -d' ' -f1
}

# serve_rates BUILD [--no-cache] -> "statistics_rps record_rps task_rps"
serve_rates() {
  local build=$1
  shift
  local store="$work/http-$(basename "$(dirname "$build")")-$(basename "$build")"
  "$build/bench/http/http_bench_server" load "$store" 1000000 >/dev/null
  "$build/bench/http/http_bench_server" serve "$store" "$@" >"$work/server.out" 2>"$work/server.err" &
  server_pid=$!
  for _ in $(seq 1 100); do grep -q '^port ' "$work/server.out" && break; sleep 0.1; done
  local port st rec task
  port=$(awk '/^port /{print $2}' "$work/server.out")
  st=$(awk '/^statistics /{print $2}' "$work/server.out")
  rec=$(awk '/^record /{print $2}' "$work/server.out")
  task=$(sed -n 's/^task //p' "$work/server.out")
  printf 'wrk.method = "POST"\nwrk.headers["Content-Type"] = "application/json"\nwrk.body = [[%s]]\n' "$task" \
    >"$work/task.lua"
  local out=()
  for target in "$st" "$rec"; do
    out+=("$(wrk -t1 -c64 -d"${seconds}s" "http://127.0.0.1:$port$target" | awk '/Requests\/sec/ {printf "%.0f", $2}')")
  done
  out+=("$(wrk -t1 -c64 -d"${seconds}s" -s "$work/task.lua" "http://127.0.0.1:$port/task/get" |
    awk '/Requests\/sec/ {printf "%.0f", $2}')")
  kill -TERM "$server_pid"
  wait "$server_pid" || true
  server_pid=
  echo "${out[*]}"
}

max() { [ "$1" -gt "$2" ] && echo "$1" || echo "$2"; }
ratio() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.3f", b / a }'; }

r_old=0 r_new=0
for round in $(seq 1 "$rounds"); do
  a=$(replay "$old")
  b=$(replay "$new")
  echo "replay round $round: old $a events/s, new $b events/s"
  r_old=$(max "$r_old" "$a")
  r_new=$(max "$r_new" "$b")
done

declare -A best
for mode in cached uncached; do
  flags=()
  [ "$mode" = uncached ] && flags=(--no-cache)
  for round in $(seq 1 "$rounds"); do
    for side in old new; do
      build=$old
      [ "$side" = new ] && build=$new
      read -r s r t <<<"$(serve_rates "$build" "${flags[@]}")"
      echo "http $mode round $round $side: /statistics $s, /statistics/record $r, /task/get $t req/s"
      best[$mode.$side.s]=$(max "${best[$mode.$side.s]:-0}" "$s")
      best[$mode.$side.r]=$(max "${best[$mode.$side.r]:-0}" "$r")
      best[$mode.$side.t]=$(max "${best[$mode.$side.t]:-0}" "$t")
    done
  done
done

echo
printf '%-40s %12s %12s %8s\n' "best of $rounds rounds" old new new/old
printf '%-40s %12d %12d %8s\n' "replay of $events events (events/s)" "$r_old" "$r_new" "$(ratio "$r_old" "$r_new")"
for mode in cached uncached; do
  for k in s:/statistics r:/statistics/record t:/task/get; do
    key=${k%%:*}
    printf '%-40s %12d %12d %8s\n' "${k#*:} ($mode, req/s)" "${best[$mode.old.$key]}" "${best[$mode.new.$key]}" \
      "$(ratio "${best[$mode.old.$key]}" "${best[$mode.new.$key]}")"
  done
done
ratios=$(bench_csv compare_builds figure,tally,ceiling,unit)
echo "replay new / old,$r_new,$r_old,events/s" >>"$ratios"
for mode in cached uncached; do
  for k in s:/statistics r:/statistics/record t:/task/get; do
    key=${k%%:*}
    echo "${k#*:} ($mode) new / old,${best[$mode.new.$key]},${best[$mode.old.$key]},req/s" >>"$ratios"
  done
done
bench_plot "$ratios"
