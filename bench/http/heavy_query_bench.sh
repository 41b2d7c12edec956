#!/usr/bin/env bash
# Heavy queries beside health probes (issue 9 item 7): 64 connections sending
# uncached /statistics/record queries back to back (100 annotation request ids,
# limit 1000, a random page 1..100 each time) to the 1,000,000-record bench store
# (http_bench_server --no-cache), while rate_load probes /healthz at 50 requests/s
# over 4 connections (open loop: latency from each probe's scheduled time).
# Prints the probes' latency (target: p99 < 100 ms) and what the queries got.
#
# Figures as CSV and SVG (bench/README.md): heavy_query_bench_latency, the probes'
# p50/p99 and the heavy queries' (wrk) p50/p99.
#
# Usage: bench/http/heavy_query_bench.sh [SECONDS=20]
#   BUILD_DIR=build-x bench/http/heavy_query_bench.sh   to use another build directory
set -euo pipefail
cd "$(dirname "$0")/../.."
. bench/plot/csv.sh
seconds=${1:-20}
build=${BUILD_DIR:-build}
if [ "$build" = build ]; then scripts/build http_bench_server rate_load >/dev/null; fi
bin=$build/bench/http
data=$build/bench-data/http-store
work=$(mktemp -d)
server_pid=
cleanup() {
  if [ -n "$server_pid" ]; then kill -TERM "$server_pid" 2>/dev/null || true; wait "$server_pid" 2>/dev/null || true; fi
  rm -rf "$work"
}
trap cleanup EXIT

mkdir -p "$(dirname "$data")"
"$bin/http_bench_server" load "$data" 1000000
"$bin/http_bench_server" serve "$data" --no-cache >"$work/server.out" 2>"$work/server.err" &
server_pid=$!
for _ in $(seq 1 100); do
  grep -q '^ids ' "$work/server.out" && break
  sleep 0.1
done
port=$(awk '/^port /{print $2}' "$work/server.out")
ids=$(awk '/^ids /{print $2}' "$work/server.out")
[ -n "$port" ] && [ -n "$ids" ] || { echo "server did not start"; cat "$work/server.err"; exit 1; }

sample=$(curl -sS "http://127.0.0.1:$port/statistics/record?annotationRequestId=$ids&limit=1000&offset=50")
grep -q '"code":2000' <<<"$sample" || { echo "the query does not succeed: ${sample:0:300}"; exit 1; }

cat >"$work/heavy.lua" <<LUA
math.randomseed(os.time())
local target = "/statistics/record?annotationRequestId=$ids&limit=1000&offset="
request = function()
  return wrk.format("GET", target .. math.random(1, 100))
end
LUA
wrk -t2 -c64 -d"${seconds}s" --timeout 60s --latency -s "$work/heavy.lua" "http://127.0.0.1:$port" >"$work/wrk.txt" &
wrk_pid=$!
sleep 2  # the 64 queries are in flight
"$bin/rate_load" "$port" 50 $((seconds - 4)) 4 GET /healthz | tee "$work/healthz.txt"
wait "$wrk_pid"
echo "heavy queries (wrk -t2 -c64, ${seconds} s):"
grep -E 'Requests/sec|Non-2xx|Socket errors|requests in|^ +50%|^ +99%' "$work/wrk.txt" | sed 's/^/  /'
awk '{ for (i = 1; i <= NF; ++i) if ($i == "p99") p99 = $(i + 1) }
     END { printf "/healthz p99 %s ms during the load: %s (target < 100 ms)\n", p99, (p99 + 0 < 100 ? "ok" : "OVER") }' \
  "$work/healthz.txt"
latency=$(bench_csv heavy_query_bench_latency endpoint,percentile,tally_ms,ceiling_ms)
awk '{ for (i = 1; i <= NF; ++i) { if ($i == "p50") p50 = $(i + 1); if ($i == "p99") p99 = $(i + 1) } }
     END { printf "/healthz during the load,p50,%s,\n/healthz during the load,p99,%s,\n", p50, p99 }' \
  "$work/healthz.txt" >>"$latency"
awk 'function ms(v) { if (v ~ /us$/) return v / 1000; if (v ~ /ms$/) return v + 0; if (v ~ /s$/) return v * 1000; return v }
     $1 == "50%" { printf "/statistics/record limit 1000,p50,%.3f,\n", ms($2) }
     $1 == "99%" { printf "/statistics/record limit 1000,p99,%.3f,\n", ms($2) }' "$work/wrk.txt" >>"$latency"
bench_plot "$latency"
