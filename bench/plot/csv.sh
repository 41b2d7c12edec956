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
