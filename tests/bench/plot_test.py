#!/usr/bin/env python3
"""The benchmark plots render (bench/plot/plot.sh, bench/csv_out.h).

Usage:
  plot_test.py fixtures ROOT           plots tests/bench/fixtures/*.csv in a scratch
                                       directory; a CSV with an unknown header fails
  plot_test.py bench ROOT COMMAND...   runs a (tiny) benchmark with TALLY_BENCH_OUT
                                       set to a scratch directory, then checks the
                                       CSVs it wrote and their SVGs

Each SVG must exist, be well-formed XML, hold one drawn series per series of the CSV
(a time series per name, a bar chart per column) and name every series or bar label
that the CSV holds.
"""

import csv
import os
import shutil
import subprocess
import sys
import tempfile
import xml.etree.ElementTree as ET

SVG = "{http://www.w3.org/2000/svg}"
failures = []


def check(ok, what):
    if not ok:
        failures.append(what)
        print("FAIL:", what)


def texts(root):
    """Every piece of text drawn in the SVG (labels, key entries, titles)."""
    out = set()
    for element in root.iter():
        if element.tag in (SVG + "text", SVG + "tspan", SVG + "title") and element.text:
            out.add(element.text.strip())
    return out


def plotted_series(root):
    """gnuplot puts each plotted series in <g id="gnuplot_plot_N...">."""
    return {el.get("id").split("_")[2].rstrip("ab") for el in root.iter(SVG + "g")
            if (el.get("id") or "").startswith("gnuplot_plot_")}


def check_svg(csv_path):
    svg_path = csv_path[:-4] + ".svg"
    check(os.path.isfile(svg_path), f"{svg_path} was written")
    if not os.path.isfile(svg_path):
        return
    try:
        root = ET.parse(svg_path).getroot()
    except ET.ParseError as e:
        check(False, f"{svg_path} is well-formed XML: {e}")
        return
    check(root.tag == SVG + "svg", f"{svg_path} is an SVG document (root {root.tag})")
    with open(csv_path, newline="") as f:
        rows = list(csv.reader(f))
    header, rows = rows[0], [r for r in rows[1:] if r]
    check(rows, f"{csv_path} has rows")
    drawn = texts(root)
    series = plotted_series(root)
    if header[:2] == ["series", "seconds"]:
        names = list(dict.fromkeys(r[0] for r in rows))
        for name in names:
            check(name in drawn, f"{svg_path} names the series {name!r} (drawn: {sorted(drawn)})")
        check(len(series) >= len(names), f"{svg_path} draws {len(names)} series, found {sorted(series)}")
        # Each series is its own group, titled with its name, holding its line.
        for i, name in enumerate(names, 1):
            group = [g for g in root.iter(SVG + "g") if g.get("id") == f"gnuplot_plot_{i}"]
            title = group[0].find(SVG + "title") if group else None
            check(title is not None and title.text == name, f"{svg_path}: plot {i} is the series {name!r}")
            check(group and any(p.get("d", "").count("L") >= 1 for p in group[0].iter(SVG + "path")),
                  f"{svg_path}: series {name!r} is drawn as a line")
    elif header == ["figure", "tally", "ceiling", "unit"]:
        for r in rows:
            check(r[0] in drawn, f"{svg_path} labels the bar {r[0]!r} (drawn: {sorted(drawn)})")
        check(len(series) >= 1, f"{svg_path} draws the ratio bars")
    elif header[:3] == ["endpoint", "percentile", "tally_ms"] and header[3].endswith("_ms"):
        for r in rows:
            label = f"{r[0]} {r[1]}"
            check(label in drawn, f"{svg_path} labels {label!r} (drawn: {sorted(drawn)})")
        ceiling = header[3][:-3].replace("_", " ")
        has_ceiling = any(len(r) > 3 and r[3] for r in rows)
        check("tally" in drawn and (ceiling in drawn) == has_ceiling,
              f"{svg_path} has a key naming tally{' and ' + ceiling if has_ceiling else ''}")
        check(len(series) == (2 if has_ceiling else 1), f"{svg_path} draws tally's bars and the ceiling's if any, found {sorted(series)}")
    else:
        check(False, f"{csv_path} has a known header, not {header}")


def plot(root, paths):
    return subprocess.run([os.path.join(root, "bench", "plot", "plot.sh"), *paths],
                          capture_output=True, text=True, timeout=60)


def fixtures(root):
    source = os.path.join(root, "tests", "bench", "fixtures")
    with tempfile.TemporaryDirectory() as scratch:
        paths = []
        for name in sorted(os.listdir(source)):
            if name.endswith(".csv"):
                shutil.copy(os.path.join(source, name), scratch)
                paths.append(os.path.join(scratch, name))
        check(len(paths) >= 3, "a fixture of each kind of chart")
        run = plot(root, paths)
        check(run.returncode == 0, f"plot.sh renders the fixtures: {run.stderr}")
        for p in paths:
            check_svg(p)
        # A CSV of no known kind is an error that names it, not an empty chart.
        bad = os.path.join(scratch, "unknown.csv")
        with open(bad, "w") as f:
            f.write("x,y\n1,2\n")
        run = plot(root, [bad])
        check(run.returncode == 1 and "unknown.csv" in run.stderr and "unknown header" in run.stderr,
              f"plot.sh refuses an unknown header: exit {run.returncode}, {run.stderr!r}")
        check(not os.path.exists(bad[:-4] + ".svg"), "no SVG for an unknown header")


def bench(root, command):
    with tempfile.TemporaryDirectory() as scratch:
        env = dict(os.environ, TALLY_BENCH_OUT=scratch)
        run = subprocess.run(command, env=env, capture_output=True, text=True, timeout=120)
        check(run.returncode == 0, f"{command} exits 0: {run.stderr}")
        written = sorted(n for n in os.listdir(scratch) if n.endswith(".csv"))
        check(written, f"{command} wrote CSVs into TALLY_BENCH_OUT: {os.listdir(scratch)}")
        for name in written:
            check_svg(os.path.join(scratch, name))


def main():
    if len(sys.argv) == 3 and sys.argv[1] == "fixtures":
        fixtures(sys.argv[2])
    elif len(sys.argv) >= 4 and sys.argv[1] == "bench":
        bench(sys.argv[2], sys.argv[3:])
    else:
        print(__doc__)
        sys.exit(2)
    if failures:
        sys.exit(1)
    print("ok")


main()
