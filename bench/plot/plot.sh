#!/usr/bin/env bash
# Renders benchmark CSVs as SVG charts with gnuplot: each CSV.csv becomes CSV.svg
# beside it. The chart follows from the CSV's header (bench/README.md, "Figures
# as CSV and plots"), so every benchmark shares this one way of plotting:
#
#   series,seconds,UNIT       samples over time, a line per series
#                             (e.g. replay throughput per second, tally and ceiling)
#   figure,tally,ceiling,unit a bar per figure: tally / ceiling, labelled with both
#   endpoint,percentile,tally_ms,CEILING_ms
#                             latency percentiles per endpoint, tally beside the ceiling
#                             (CEILING names it in the key: ceiling_ms, bare_consumer_ms, idle_ms)
#
# Usage: bench/plot/plot.sh [CSV...]   (none: every CSV in $TALLY_BENCH_OUT,
#                                       default build/bench-results)
# A title comes from the file name. Exit 1 if a CSV has no known header or gnuplot fails.
set -euo pipefail

plot_dir=$(cd "$(dirname "$0")" && pwd)
if [ $# -eq 0 ]; then
  out=${TALLY_BENCH_OUT:-$plot_dir/../../build/bench-results}
  shopt -s nullglob
  set -- "$out"/*.csv
  [ $# -gt 0 ] || { echo "plot.sh: no CSV in $out" >&2; exit 1; }
fi

# gnuplot string literal: the text in double quotes, quotes and backslashes escaped.
quote() { local s=${1//\\/\\\\}; s=${s//\"/\\\"}; printf '"%s"' "$s"; }

status=0
for csv in "$@"; do
  svg=${csv%.csv}.svg
  title=$(basename "${csv%.csv}" | tr '_' ' ')
  header=$(head -n 1 "$csv" | tr -d '\r')
  # Bar charts get wider for many bars: about 70 px each past a dozen.
  rows=$(tail -n +2 "$csv" | grep -c . || true)
  width=900
  case "$header" in series,*) ;; *) width=$((rows > 12 ? 900 + (rows - 12) * 70 : 900)) ;; esac
  common="set terminal svg size $width,480 dynamic enhanced font 'sans,12' background rgb 'white'
set output $(quote "$svg")
set datafile separator ','
set title $(quote "$title") noenhanced
set key outside right top noenhanced
set grid ytics lc rgb '#dddddd'
set style fill solid 0.85 border -1"
  case "$header" in
    series,seconds,*)
      unit=${header#series,seconds,}
      unit=${unit//_per_//}
      # One plot clause per series, in order of first appearance (names may hold spaces).
      clauses=()
      while IFS= read -r name; do
        clauses+=("$(quote "$csv") skip 1 using 2:(strcol(1) eq $(quote "$name") ? \$3 : NaN) with linespoints pt 7 ps 0.4 lw 2 title $(quote "$name")")
      done < <(tail -n +2 "$csv" | cut -d, -f1 | awk 'NF && !seen[$0]++')
      [ ${#clauses[@]} -gt 0 ] || { echo "plot.sh: $csv has no samples" >&2; status=1; continue; }
      plot=$(IFS=$'\x1f'; echo "${clauses[*]}" | sed $'s/\x1f/, \\\\\\n  /g')
      script="$common
set xlabel 'seconds'
set ylabel $(quote "${unit//_/ }") noenhanced
set yrange [0:*]
set format y '%.1s%c'
set xrange [0:*]
set datafile missing NaN
plot $plot"
      ;;
    figure,tally,ceiling,unit)
      script="$common
set ylabel 'tally / ceiling'
set yrange [0:1.3 < * < 100]
set style data histogram
set style histogram clustered gap 1
set boxwidth 0.7 relative
set xtics rotate by -20 noenhanced
set bmargin 7
set arrow from graph 0, first 1 to graph 1, first 1 nohead dt 2 lc rgb '#888888'
plot $(quote "$csv") skip 1 using (\$2/\$3):xticlabels(1) lc rgb '#3b75af' title 'tally / ceiling', \\
  '' skip 1 using 0:(\$2/\$3):(gprintf('%.1s%c', \$2).' / '.gprintf('%.1s%c', \$3).' '.strcol(4)) with labels offset 0,0.8 font ',9' notitle"
      ;;
    endpoint,percentile,tally_ms,*_ms)
      # The ceiling's bars only if some endpoint has one.
      ceiling=
      name=${header#endpoint,percentile,tally_ms,}
      name=${name%_ms}
      if tail -n +2 "$csv" | cut -d, -f4 | grep -q '[0-9]'; then
        ceiling=", '' skip 1 using 4 lc rgb '#aaaaaa' title $(quote "${name//_/ }")"
      fi
      script="$common
set ylabel 'latency (ms, log scale)'
set logscale y
set style data histogram
set style histogram clustered gap 1
set boxwidth 0.9 relative
set xtics rotate by -30 noenhanced
set bmargin 9
plot $(quote "$csv") skip 1 using 3:xticlabels(strcol(1).' '.strcol(2)) lc rgb '#3b75af' title 'tally'$ceiling"
      ;;
    *)
      echo "plot.sh: $csv: unknown header \"$header\" (see bench/README.md)" >&2
      status=1
      continue
      ;;
  esac
  if ! gnuplot <<<"$script"; then
    echo "plot.sh: gnuplot failed on $csv" >&2
    status=1
    continue
  fi
  echo "$svg"
done
exit $status
