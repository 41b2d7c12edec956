#!/usr/bin/env bash
# Tidy.PlantedViolationFails: scripts/tidy-changed, with the repository's
# .clang-tidy, refuses a file of planted naming violations (exit 1, each one
# named) and accepts a file using every kind of name the project uses.
# Usage: tidy_test.sh SOURCE_DIR BUILD_DIR
set -uo pipefail
src=$1 build=$2
fail=0
out=$("$src/scripts/tidy-changed" --build "$build" tests/tidy/planted_violation.cpp 2>&1)
rc=$?
if [ $rc -ne 1 ]; then echo "FAIL: planted_violation.cpp: exit $rc, expected 1"; fail=1; fi
for name in bad_type_name snake_function count; do
  if ! grep -q "invalid case style for .* '$name'" <<<"$out"; then
    echo "FAIL: planted_violation.cpp: '$name' is not named"; fail=1
  fi
done
out2=$("$src/scripts/tidy-changed" --build "$build" tests/tidy/planted_clean.cpp 2>&1)
rc=$?
if [ $rc -ne 0 ]; then echo "FAIL: planted_clean.cpp: exit $rc, expected 0"; echo "$out2"; fail=1; fi
[ $fail -eq 0 ] && echo "ok: the planted violations are refused, the clean file accepted" || echo "$out"
exit $fail
