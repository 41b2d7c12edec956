#!/usr/bin/env python3
"""Checks what an executable of a CMake build links: its link step (Ninja's
build.ninja or Makefiles' link.txt) and `ldd` of the binary.

Usage: link_check.py BUILD_DIR TARGET CONTROL_BUILD_DIR CONTROL_TARGET
  Fails if TARGET (in BUILD_DIR) links librdkafka or RocksDB, or if
  CONTROL_TARGET, which links both, is not seen to: the control proves the
  check reads a real link step.
"""

import glob
import os
import re
import subprocess
import sys

FORBIDDEN = {"librdkafka": re.compile(r"rdkafka", re.I), "RocksDB": re.compile(r"rocksdb", re.I)}


def link_step(build, target):
    ninja = os.path.join(build, "build.ninja")
    if os.path.exists(ninja):
        with open(ninja, encoding="utf-8") as f:
            text = f.read()
        m = re.search(r"^build %s: CXX_EXECUTABLE_LINKER\S*(.*?)(?:\n\n|\Z)" % re.escape(target), text, re.M | re.S)
        if m:
            return m.group(1)
    for path in glob.glob(os.path.join(build, "**", "CMakeFiles", target + ".dir", "link.txt"), recursive=True):
        with open(path, encoding="utf-8") as f:
            return f.read()
    return None


def linked(build, target):
    """{library name: where it was seen}, or an error message."""
    step = link_step(build, target)
    binary = os.path.join(build, target)
    if step is None or not os.path.exists(binary):
        return f"no link step or binary for {target} in {build} (is it built?)"
    ldd = subprocess.run(["ldd", binary], capture_output=True, text=True, timeout=60).stdout
    seen = {}
    for name, pattern in FORBIDDEN.items():
        where = [w for w, text in (("link step", step), ("ldd", ldd)) if pattern.search(text)]
        if where:
            seen[name] = where
    return seen


def main(argv):
    if len(argv) != 5:
        print(__doc__, file=sys.stderr)
        return 2
    build, target, control_build, control = argv[1:]
    status = 0
    control_seen = linked(control_build, control)
    if isinstance(control_seen, str) or set(control_seen) != set(FORBIDDEN):
        print(f"FAIL: the control {control} should be seen linking {', '.join(FORBIDDEN)}: {control_seen}")
        status = 1
    else:
        print(f"control {control} links " + "; ".join(f"{n} ({', '.join(w)})" for n, w in control_seen.items()))
    seen = linked(build, target)
    if isinstance(seen, str):
        print("FAIL: " + seen)
        return 1
    if seen:
        print(f"FAIL: {target} links " + "; ".join(f"{n} ({', '.join(w)})" for n, w in seen.items()))
        return 1
    print(f"{target} links neither {' nor '.join(FORBIDDEN)} (link step and ldd)")
    return status


if __name__ == "__main__":
    sys.exit(main(sys.argv))
