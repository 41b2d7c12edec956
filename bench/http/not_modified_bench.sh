#!/usr/bin/env bash
# The conditional path against the 200 path (issue 12): wrk -t1 -c64 on the same
# URL, once plain (200 from the response cache) and once with If-None-Match naming
# its current ETag (304), interleaved, ROUNDS rounds of SECONDS each.
# Figures as CSV and SVG (bench/README.md): not_modified_bench, each round's 304 rate
# beside its 200 rate, and the server's CPU time per request (user + system, from
# /proc/PID/stat) of each. Each line also says how busy wrk itself was (its CPU
# time over the run: near 100%, the client bounds the rate, not the server).
# Usage: bench/http/not_modified_bench.sh [SECONDS=5] [ROUNDS=3]   (BUILD_DIR=build by default)
set -euo pipefail
cd "$(dirname "$0")/../.."
. bench/plot/csv.sh
seconds=${1:-5}
rounds=${2:-3}
bin=${BUILD_DIR:-build}/bench/http/long_poll_bench
out=$(mktemp)
"$bin" serve > "$out" &
server=$!
trap 'kill $server 2>/dev/null; wait $server 2>/dev/null; rm -f "$out"' EXIT
for _ in $(seq 1 300); do grep -q '^etag' "$out" && break; sleep 0.1; done
port=$(awk '/^port/ {print $2}' "$out")
target=$(awk '/^target/ {print $2}' "$out")
etag=$(awk '/^etag/ {print $2}' "$out")
url="http://127.0.0.1:$port$target"
echo "url $url  etag $etag  load: $(cut -d' ' -f1-3 /proc/loadavg)"
curl -s -o /dev/null -w 'plain: %{http_code}  ' "$url"
curl -s -o /dev/null -w 'conditional: %{http_code}\n' -H "If-None-Match: $etag" "$url"
ratios=$(bench_csv not_modified_bench figure,tally,ceiling,unit)
ticks=$(getconf CLK_TCK)
server_ticks() { awk '{print $14 + $15}' "/proc/$server/stat"; }
# One wrk run: "REQ/S SERVER_US_PER_REQUEST WRK_CPU_PERCENT".
run() {
  local before after report
  before=$(server_ticks)
  report=$( { TIMEFORMAT='wrk-cpu %U %S'; time wrk -t1 -c64 -d"${seconds}s" "$@" "$url"; } 2>&1)
  after=$(server_ticks)
  awk -v t="$ticks" -v c=$((after - before)) -v s="$seconds" '
    /Requests\/sec/ {r = $2} /^wrk-cpu/ {w = $2 + $3}
    END {printf "%.0f %.1f %.0f\n", r, c / t * 1e6 / (r * s), w * 100 / s}' <<<"$report"
}
for round in $(seq 1 "$rounds"); do
  read -r ok ok_us ok_wrk < <(run)
  read -r nm nm_us nm_wrk < <(run -H "If-None-Match: $etag")
  echo "304 / 200 (round $round),$nm,$ok,req/s" >>"$ratios"
  echo "server CPU a request 304 / 200 (round $round),$nm_us,$ok_us,us" >>"$ratios"
  echo "round $round: 200 $ok req/s (server ${ok_us} us/req, wrk ${ok_wrk}% cpu), 304 $nm req/s" \
       "(server ${nm_us} us/req, wrk ${nm_wrk}% cpu), ratio $(awk -v a="$nm" -v b="$ok" 'BEGIN {printf "%.2f", a / b}')," \
       "load $(cut -d' ' -f1 /proc/loadavg)"
done
bench_plot "$ratios"
