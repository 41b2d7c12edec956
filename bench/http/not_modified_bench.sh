#!/usr/bin/env bash
# The conditional path against the 200 path (issue 12): wrk -t1 -c64 on the same
# URL, once plain (200 from the response cache) and once with If-None-Match naming
# its current ETag (304), interleaved, ROUNDS rounds of SECONDS each.
# Figures as CSV and SVG (bench/README.md): not_modified_bench, each round's 304 rate
# beside its 200 rate.
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
for round in $(seq 1 "$rounds"); do
  ok=$(wrk -t1 -c64 -d"${seconds}s" "$url" | awk '/Requests\/sec/ {print $2}')
  nm=$(wrk -t1 -c64 -d"${seconds}s" -H "If-None-Match: $etag" "$url" | awk '/Requests\/sec/ {print $2}')
  echo "304 / 200 (round $round),$nm,$ok,req/s" >>"$ratios"
  echo "round $round: 200 $ok req/s, 304 $nm req/s, ratio $(awk -v a="$nm" -v b="$ok" 'BEGIN {printf "%.2f", a / b}')"
done
bench_plot "$ratios"
