#!/usr/bin/env bash
# The read path without the response cache (issue 11 item 4), on the 1,000,000-record
# bench store (`http_bench_server load`), with `wrk -t1 -c64` for every figure:
#
#   cached     /statistics, one fixed URL (page 1 of 10 tasks), response cache on:
#              every request after the first is a cache hit. The reference.
#   uncached   /statistics, a random request (of 100) × pageNumber 1..8 × pageSize 5..15
#              per request, cache off: every request reads RocksDB and writes JSON.
#   records    /statistics/record over 3 random requests, limit 100, a random page
#              1..10, cache off.
#
# With OLD_BUILD=DIR (another build directory, e.g. of the previous commit), its
# http_bench_server is measured on the same URLs in the same rounds, interleaved, so
# the records figure can be compared with it as a ratio. Rounds are interleaved
# (new, old, new, old...) and the best of each is kept: noise on a shared machine
# only ever lowers a figure.
#
# Targets: uncached >= 0.5 × cached (same build, same run); records >= 2 × the old
# build's records.
#
# Figures as CSV and SVG (bench/README.md): read_path_bench (uncached / cached, and
# with OLD_BUILD new / old, req/s) and read_path_bench_latency (p99 of each, beside
# the cached figure or the old build's).
#
# Usage: bench/http/read_path_bench.sh [SECONDS=5] [ROUNDS=3]
#   BUILD_DIR=build-x   the build to measure (default build/)
#   OLD_BUILD=dir       a build to compare with
#   STORE=dir           the bench store (default BUILD_DIR/bench-data/http-store); each
#                       build serves its own copy, since opening a store may upgrade
#                       its format (an older build then refuses it)
#   OLD_STORE=dir       the store OLD_BUILD serves a copy of (default STORE): one it
#                       loaded itself, so that neither build serves a store that
#                       opening upgraded (an upgrade rewrites views into new level-0
#                       files, which every read then merges)
set -euo pipefail
cd "$(dirname "$0")/../.."
. bench/plot/csv.sh
. bench/http/wrk.sh
seconds=${1:-5}
rounds=${2:-3}
build=${BUILD_DIR:-build}
old=${OLD_BUILD:-}
if [ "$build" = build ]; then scripts/build http_bench_server >/dev/null; fi
data=${STORE:-$build/bench-data/http-store}
work=$(mktemp -d)
server_pid=
cleanup() {
  if [ -n "$server_pid" ]; then kill -TERM "$server_pid" 2>/dev/null || true; wait "$server_pid" 2>/dev/null || true; fi
  rm -rf "$work"
}
trap cleanup EXIT

mkdir -p "$(dirname "$data")"
[ -d "$data" ] || "$build/bench/http/http_bench_server" load "$data" 1000000

# start BIN [FLAGS...]: serves the bench store; sets port and ids.
start() {
  "$@" >"$work/server.out" 2>"$work/server.err" &
  server_pid=$!
  for _ in $(seq 1 150); do
    grep -q '^ids ' "$work/server.out" && break
    sleep 0.1
  done
  port=$(awk '/^port /{print $2}' "$work/server.out")
  ids=$(awk '/^ids /{print $2}' "$work/server.out")
  [ -n "$port" ] && [ -n "$ids" ] || { echo "the server did not start:"; cat "$work/server.err"; exit 1; }
}
stop() {
  kill -TERM "$server_pid"
  wait "$server_pid" || true
  server_pid=
}

# wrk_run SCRIPT TARGET -> "rps p99_ms" (bench/http/wrk.sh)
wrk_run() {
  local f
  f=$(wrk_figures "$1" "http://127.0.0.1:$port$2")
  echo "${f%% *} ${f##* }"
}

write_scripts() {
  local list
  list=$(sed 's/[^,]*/"&"/g' <<<"$ids")
  echo 'request = function() return wrk.format("GET") end' >"$work/fixed.lua"
  cat >"$work/statistics.lua" <<LUA
local ids = {$list}
math.randomseed(os.time())
request = function()
  return wrk.format("GET", "/statistics?annotationRequestId=" .. ids[math.random(#ids)] ..
    "&pageNumber=" .. math.random(1, 8) .. "&pageSize=" .. math.random(5, 15))
end
LUA
  cat >"$work/records.lua" <<LUA
local ids = {$list}
math.randomseed(os.time() + 1)
request = function()
  local a = math.random(#ids)
  local b = a % #ids + 1
  local c = b % #ids + 1
  return wrk.format("GET", "/statistics/record?annotationRequestId=" .. ids[a] .. "&annotationRequestId=" ..
    ids[b] .. "&annotationRequestId=" .. ids[c] .. "&limit=100&offset=" .. math.random(1, 10))
end
LUA
}

# measure BUILD: sets now="cached_rps cached_p99 uncached_rps uncached_p99 records_rps
# records_p99" (not run in a subshell, so that cleanup always knows the server's PID).
measure() {
  local bin=$1/bench/http/http_bench_server
  local copy=$work/store-$(realpath "$1" | md5sum | cut -c1-8)
  local source=$data
  [ "$1" = "$old" ] && source=${OLD_STORE:-$data}
  [ -d "$copy" ] || cp -a "$source" "$copy"
  start "$bin" serve "$copy"
  write_scripts
  local first=${ids%%,*}
  local cached
  cached=$(wrk_run "$work/fixed.lua" "/statistics?annotationRequestId=$first&pageNumber=1&pageSize=10")
  stop
  start "$bin" serve "$copy" --no-cache
  local uncached records
  uncached=$(wrk_run "$work/statistics.lua" /)
  records=$(wrk_run "$work/records.lua" /)
  stop
  now="$cached $uncached $records"
}

# better A B: the row with the larger value in each (rps) column, its p99 beside it.
better() {
  paste -d' ' <(tr ' ' '\n' <<<"$1" | paste -d' ' - -) <(tr ' ' '\n' <<<"$2" | paste -d' ' - -) |
    awk '{ if ($1 >= $3) printf "%s %s ", $1, $2; else printf "%s %s ", $3, $4 } END { print "" }'
}

best_new="0 0 0 0 0 0"
best_old="0 0 0 0 0 0"
for round in $(seq 1 "$rounds"); do
  measure "$build"
  echo "round $round, $build: $now (cached rps p99, uncached rps p99, records rps p99)"
  best_new=$(better "$best_new" "$now")
  if [ -n "$old" ]; then
    measure "$old"
    echo "round $round, $old: $now"
    best_old=$(better "$best_old" "$now")
  fi
done

read -r c_rps c_p99 u_rps u_p99 r_rps r_p99 <<<"$best_new"
echo
echo "best of $rounds rounds of ${seconds} s, wrk -t1 -c64, load average $(cut -d' ' -f1-3 /proc/loadavg):"
printf '  /statistics cached, fixed URL     %8s req/s  p99 %6s ms\n' "$c_rps" "$c_p99"
printf '  /statistics uncached, random      %8s req/s  p99 %6s ms   %.2f × cached (target >= 0.5)\n' \
  "$u_rps" "$u_p99" "$(awk -v a="$u_rps" -v b="$c_rps" 'BEGIN { print a / b }')"
printf '  /statistics/record uncached (3×100) %6s req/s  p99 %6s ms\n' "$r_rps" "$r_p99"
ratios=$(bench_csv read_path_bench figure,tally,ceiling,unit)
latency=$(bench_csv read_path_bench_latency endpoint,percentile,tally_ms,ceiling_ms)
echo "/statistics uncached / cached,$u_rps,$c_rps,req/s" >>"$ratios"
{
  echo "/statistics cached,p99,$c_p99,"
  echo "/statistics uncached,p99,$u_p99,$c_p99"
} >>"$latency"
if [ -z "$old" ]; then echo "/statistics/record uncached,p99,$r_p99," >>"$latency"; fi
if [ -n "$old" ]; then
  read -r oc_rps oc_p99 ou_rps ou_p99 or_rps or_p99 <<<"$best_old"
  {
    echo "/statistics/record new / old,$r_rps,$or_rps,req/s"
    echo "/statistics uncached new / old,$u_rps,$ou_rps,req/s"
  } >>"$ratios"
  echo "/statistics/record uncached (ceiling: old build),p99,$r_p99,$or_p99" >>"$latency"
  printf '  %s: cached %s, uncached %s (%.2f × cached), records %s req/s\n' "$old" "$oc_rps" "$ou_rps" \
    "$(awk -v a="$ou_rps" -v b="$oc_rps" 'BEGIN { print a / b }')" "$or_rps"
  printf '  records: %.2f × %s (target >= 2); uncached /statistics: %.2f × %s\n' \
    "$(awk -v a="$r_rps" -v b="$or_rps" 'BEGIN { print a / b }')" "$old" \
    "$(awk -v a="$u_rps" -v b="$ou_rps" 'BEGIN { print a / b }')" "$old"
fi
bench_plot "$ratios" "$latency"
