#!/usr/bin/env bash
# `tally demo` as a new user meets it: start it (on a free port, with a small
# workload), wait for the curl commands it prints, run each one as printed, and
# check the answers are successful and carry data; then Ctrl-C (SIGINT) to its
# PID must stop it cleanly (exit 0) and remove its temporary store.
# Usage: demo_test.sh TALLY_BINARY
set -euo pipefail
tally=$1
work=$(mktemp -d)
pid=
cleanup() {
  [ -n "$pid" ] && kill -9 "$pid" 2>/dev/null || true
  rm -rf "$work"
}
trap cleanup EXIT

"$tally" demo --listen 127.0.0.1:0 --events 3000 >"$work/out" 2>"$work/err" &
pid=$!
for _ in $(seq 1 1200); do  # 120 s at most
  grep -q '^Serving until Ctrl-C' "$work/out" && break
  kill -0 "$pid" 2>/dev/null || { echo "FAIL: the demo exited early"; cat "$work/err"; exit 1; }
  sleep 0.1
done
if ! grep -q '^Serving until Ctrl-C' "$work/out"; then
  echo "FAIL: no curl commands within 120 s"; cat "$work/out" "$work/err"; exit 1
fi
cat "$work/out"

mapfile -t commands < <(grep '^  curl ' "$work/out")
[ "${#commands[@]}" -ge 4 ] || { echo "FAIL: expected 4 curl commands, got ${#commands[@]}"; exit 1; }
failures=0
for command in "${commands[@]}"; do
  # As a user pastes it, with a bound on time.
  if ! body=$(bash -c "${command/curl /curl --max-time 10 --fail-with-body }"); then
    echo "FAIL: $command"; echo "$body" | head -c 500; failures=$((failures + 1)); continue
  fi
  if ! /usr/bin/python3 - "$command" "$body" <<'PY'
import json, re, sys
command, body = sys.argv[1], sys.argv[2]
if '/metrics' in command:
    applied = re.search(r'^tally_events_applied_total (\d+)$', body, re.M)
    assert applied and int(applied.group(1)) >= 3000, 'tally_events_applied_total missing or short'
    dup = re.search(r'^tally_events_duplicate_total (\d+)$', body, re.M)
    assert dup and int(dup.group(1)) > 0, 'the demo sends duplicates; none counted'
    sys.exit(0)
b = json.loads(body)
assert b['success'] is True and b['code'] == 2000, b
data = b['data']
if '/statistics/record' in command:
    assert data['count'] > 0 and len(data['data']) == 2, data
elif '/statistics' in command:
    assert len(data) == 2 and all(t['instance_num'] >= 0 and 'id' in t for t in data), data
elif '/task/get' in command:
    assert data['viewUrl'].startswith('https://localhost/rosetta-open/task/') and 0 <= data['status'] <= 11, data
else:
    raise AssertionError('unexpected command')
PY
  then
    echo "FAIL: $command"; failures=$((failures + 1))
  else
    echo "ok: ${command:0:90}"
  fi
done

store=$(grep -o 'data dir [^,]*' "$work/err" | head -1 | cut -d' ' -f3)
kill -INT "$pid"
for _ in $(seq 1 150); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
if kill -0 "$pid" 2>/dev/null; then echo "FAIL: still running 15 s after SIGINT"; exit 1; fi
status=0; wait "$pid" || status=$?
pid=
[ "$status" = 0 ] || { echo "FAIL: exit $status after SIGINT"; tail -5 "$work/err"; failures=$((failures + 1)); }
[ -n "$store" ] && [ ! -e "$store" ] || { echo "FAIL: temporary store '$store' left behind"; failures=$((failures + 1)); }
echo "$(( ${#commands[@]} + 2 - failures )) passed, $failures failed"
[ "$failures" = 0 ]
