#!/usr/bin/env python3
"""Proves the include-boundary checker fails: copies the sources of ROOT to a
temporary directory, checks the copy passes, then plants one violation of each
rule at a time and expects check_includes to report it (naming the file and
the rule), then to pass again once it is removed.

Usage: planted_test.py ROOT
"""

import os
import shutil
import subprocess
import sys
import tempfile

HERE = os.path.dirname(os.path.abspath(__file__))
CHECKER = os.path.join(HERE, "check_includes.py")
FOLDERS = ("aggregate", "ingest", "api", "app", "tests", "bench")

# (file to change, line to add at its top, text the report must contain)
PLANTS = [
    ("aggregate/id.cpp", '#include "ingest/decode.h"', "aggregate/ must not include ingest/ headers"),
    ("aggregate/status.h", '#include "api/server.h"', "aggregate/ must not include api/ headers"),
    ("api/router.cpp", '#include "ingest/consumer.h"', "api/ must not include ingest/ headers"),
    ("ingest/decode.cpp", '#include "api/params.h"', "ingest/ must not include api/ headers"),
    ("app/serve_command.cpp", '#include "ingest/kafka_config.h"', "which is private to ingest/"),
    ("app/main.cpp", '#include "aggregate/store_impl.h"', "which is private to aggregate/"),
    ("tests/api/pieces_test.cpp", '#include "ingest/event_reader.h"', "which is private to ingest/"),
    ("aggregate/task_view.cpp", '#include "aggregate/store.h"', "of target tally_store, which tally_model does not link"),
    ("ingest/decode.cpp", '#include "ingest/consumer.h"', "of target tally_kafka, which tally_decode does not link"),
    ("ingest/event_json.cpp", '#include "ingest/workload.h"', "of target tally_workload, which tally_decode does not link"),
    ("aggregate/store.h", "#include <rocksdb/db.h>", "aggregate/store.h must be private"),
]


def run(root):
    result = subprocess.run([sys.executable, CHECKER, root], capture_output=True, text=True, timeout=60)
    return result.returncode, result.stdout + result.stderr


def main(argv):
    source = argv[1]
    failures = []
    with tempfile.TemporaryDirectory(prefix="tally-boundaries-") as copy:
        for folder in FOLDERS:
            shutil.copytree(os.path.join(source, folder), os.path.join(copy, folder),
                            ignore=shutil.ignore_patterns("fixtures", "*.json", "*.sh", "*.py"))
        code, out = run(copy)
        if code != 0:
            print("the unchanged copy fails:\n" + out)
            return 1
        for path, line, expected in PLANTS:
            full = os.path.join(copy, path)
            with open(full, encoding="utf-8") as f:
                original = f.read()
            with open(full, "w", encoding="utf-8") as f:
                f.write(line + "\n" + original)
            code, out = run(copy)
            if code != 1 or expected not in out or path not in out:
                failures.append(f"planted {line!r} in {path}: exit {code}, expected a report with {expected!r}:\n{out}")
            else:
                print(f"caught {line!r} in {path}: {out.splitlines()[0]}")
            with open(full, "w", encoding="utf-8") as f:
                f.write(original)
        # A header of a folder with several targets that belongs to none.
        orphan = os.path.join(copy, "ingest", "orphan.h")
        with open(orphan, "w", encoding="utf-8") as f:
            f.write("#pragma once\n")
        code, out = run(copy)
        if code != 1 or "ingest/orphan.h: belongs to no target" not in out:
            failures.append(f"an unlisted header: exit {code}:\n{out}")
        else:
            print("caught ingest/orphan.h: " + out.splitlines()[0])
        os.remove(orphan)
        code, out = run(copy)
        if code != 0:
            failures.append("the copy fails after the plants were removed:\n" + out)
    for f in failures:
        print("FAIL: " + f)
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
