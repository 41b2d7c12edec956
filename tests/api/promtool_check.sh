#!/usr/bin/env bash
# Scrapes /metrics of api_test_server (after some traffic on every route) and
# runs `promtool check metrics` on it (Debian package prometheus).
# Usage: promtool_check.sh API_TEST_SERVER
set -euo pipefail
server_bin=$1
command -v promtool >/dev/null || { echo "promtool not found: run scripts/setup"; exit 1; }
source "$(dirname "$0")/test_server.sh"
start_test_server "$server_bin" --ready --lag 0
for path in "/statistics?annotationRequestId=req-1" "/statistics/record?annotationRequestId=req-1" \
            "/task/get?campaignId=camp-1&annotationRequestId=req-1&sceneId=scene-1" "/statistics" "/nope" \
            "/healthz" "/readyz" "/openapi.yaml"; do
  curl -sS -o /dev/null "$base$path"
done
curl -sS -o /dev/null -X PUT "$base/statistics"
curl -sS "$base/metrics" >"$work/metrics"
stop_test_server
[ "$server_rc" = 0 ] || { echo "server stop: $server_rc"; exit 1; }
for name in tally_events_consumed_total tally_events_applied_total tally_events_duplicate_total \
            tally_events_conflict_total tally_events_rejected_total tally_consumer_lag tally_offset_resets_total \
            tally_dead_letters_total tally_dead_letters_failed_total \
            tally_http_requests_total tally_http_request_duration_seconds \
            tally_apply_batch_duration_seconds tally_store_records tally_store_tasks; do
  grep -q "^# TYPE $name " "$work/metrics" || { echo "missing metric $name"; exit 1; }
done
promtool check metrics <"$work/metrics"
echo "promtool check metrics: ok ($(grep -vc '^#' "$work/metrics") samples)"
