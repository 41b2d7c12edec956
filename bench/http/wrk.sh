# Sourced by the HTTP benchmark scripts, which set $work (a scratch directory) and
# $seconds:
#   wrk_figures SCRIPT URL   -> "rps p50_ms p99_ms" of `wrk -t1 -c64 --latency` with
#                               the Lua SCRIPT for $seconds; exits 1 on any non-2xx answer.
wrk_figures() {
  wrk -t1 -c64 -d"${seconds}s" --latency -s "$1" "$2" >"$work/wrk.txt"
  if grep -q 'Non-2xx' "$work/wrk.txt"; then echo "non-2xx answers:" >&2; cat "$work/wrk.txt" >&2; exit 1; fi
  awk '
    function ms(v) { if (v ~ /us$/) return v / 1000; if (v ~ /ms$/) return v + 0; if (v ~ /s$/) return v * 1000; return v }
    /Requests\/sec/ { rps = $2 }
    $1 == "50%" { p50 = ms($2) }
    $1 == "99%" { p99 = ms($2) }
    END { printf "%.0f %.3f %.3f\n", rps, p50, p99 }' "$work/wrk.txt"
}
