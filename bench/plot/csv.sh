# Sourced by the benchmark scripts: the shell side of bench/csv_out.h.
#   csv=$(bench_csv NAME HEADER)   creates $TALLY_BENCH_OUT/NAME.csv (default
#                                  build/bench-results) with HEADER, prints its path
#   echo "a,b,c" >> "$csv"         a row (no commas or double quotes inside fields)
#   bench_plot "$csv"              renders NAME.svg beside it (bench/plot/plot.sh)
bench_csv() {
  local dir=${TALLY_BENCH_OUT:-$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)/build/bench-results}
  mkdir -p "$dir"
  echo "$2" > "$dir/$1.csv"
  echo "$dir/$1.csv"
}
bench_plot() {
  "$(dirname "${BASH_SOURCE[0]}")/plot.sh" "$@" >/dev/null && echo "plots: ${*/%.csv/.svg}" >&2
}
# bench_rates SERIES SAMPLES: raw samples (`tally replay --samples`, `store_bench
# ceiling ... SAMPLES`: seconds,events,bytes) as SERIES,seconds,events/s rows, the
# rate over each interval since the sample before.
bench_rates() {
  awk -F, -v s="$1" 'NR > 1 && $1 > t { printf "%s,%.3f,%.0f\n", s, $1, ($2 - e) / ($1 - t); t = $1; e = $2 }' "$2"
}
