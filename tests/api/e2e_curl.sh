#!/usr/bin/env bash
# End-to-end over loopback with curl: starts api_test_server on a free port,
# checks each endpoint in each encoding, the envelope, errors, auth, limits,
# gzip, keep-alive reuse and the ops endpoints, then stops the server by its PID
# with SIGTERM and checks that it exits 0.
# Usage: e2e_curl.sh API_TEST_SERVER
set -euo pipefail
server_bin=$1
source "$(dirname "$0")/test_server.sh"
start_test_server "$server_bin" --api-key secret-1 --api-key secret-2 --lag 7 --ready
auth=(-H "Authorization: Bearer secret-1")
failures=0 checks=0

# check NAME EXPECTED_STATUS PYTHON_ASSERTION -- CURL_ARGS...
# The assertion sees `b` (the parsed JSON body or the text), `h` (headers, lower case).
check() {
  local name=$1 want=$2 assertion=$3
  shift 4
  checks=$((checks + 1))
  local status
  status=$(curl -sS -o "$work/body" -D "$work/headers" -w '%{http_code}' "$@") || true
  if [ "$status" != "$want" ]; then
    echo "FAIL $name: HTTP $status, want $want: $(head -c 300 "$work/body")"
    failures=$((failures + 1))
    return
  fi
  if ! python3 - "$work/body" "$work/headers" "$assertion" <<'PY'
import json, re, sys
body, headers, assertion = open(sys.argv[1], 'rb').read().decode('utf-8', 'replace'), {}, sys.argv[3]
for line in open(sys.argv[2]).read().splitlines()[1:]:
    if ':' in line:
        k, v = line.split(':', 1)
        headers[k.strip().lower()] = v.strip()
h = headers
try:
    b = json.loads(body)
except ValueError:
    b = body
if isinstance(b, dict) and 'requestId' in b:
    assert list(b) == ['code', 'message', 'data', 'date', 'requestId', 'success'], list(b)
    assert re.fullmatch(r'\d{4}-\d\d-\d\d \d\d:\d\d:\d\d', b['date']), b['date']
    assert h['x-request-id'] == b['requestId'], (h.get('x-request-id'), b['requestId'])
    assert b['success'] == (b['code'] == 2000)
    assert h.get('x-tally-lag') == '7', h.get('x-tally-lag')
assert 'x-request-id' in h, h
if not eval(assertion):
    raise SystemExit('assertion failed: ' + assertion + '\n' + body[:300])
PY
  then
    echo "FAIL $name"
    failures=$((failures + 1))
  fi
}

check "statistics query" 200 "b['code']==2000 and [t['id'] for t in b['data']]==[4,5,6] and h['x-total-count']=='25' and re.fullmatch('[0-9a-f]{32}', b['requestId'])" -- \
  "${auth[@]}" "$base/statistics?annotationRequestId=req-1&pageNumber=2&pageSize=3"
check "statistics GET with body" 200 "[t['id'] for t in b['data']]==[4,5,6]" -- \
  "${auth[@]}" -X GET -H 'Content-Type: application/json' --data '{"annotationRequestId":"req-1","pageNumber":"2","pageSize":3}' "$base/statistics"
check "statistics POST" 200 "[t['id'] for t in b['data']]==[4,5,6] and list(b['data'][0])==['id','status','project_id','pool_id','pool_type','instance_info','instance_num']" -- \
  "${auth[@]}" --data '{"annotationRequestId":"req-1","pageNumber":2,"pageSize":3}' "$base/statistics"
check "statistics big id" 200 "b['data'][-1]['id']==234234123133374715904" -- \
  "${auth[@]}" "$base/statistics?annotationRequestId=req-1&pageSize=100"
check "statistics unknown" 404 "b['code']==53003 and b['data'] is None" -- "${auth[@]}" "$base/statistics?annotationRequestId=ghost"
check "statistics bad page" 400 "b['code']==4005 and 'pageNumber' in b['message']" -- \
  "${auth[@]}" "$base/statistics?annotationRequestId=req-1&pageNumber=2.0"
check "statistics missing" 400 "b['code']==4005 and 'annotationRequestId' in b['message']" -- "${auth[@]}" "$base/statistics"
check "record repeated" 200 "b['data']['count']==30 and [r['id'] for r in b['data']['data']]==[900,950,1001]" -- \
  "${auth[@]}" "$base/statistics/record?annotationRequestId=req-1&annotationRequestId=req-2&limit=3"
check "record brackets" 200 "b['data']['count']==30" -- \
  "${auth[@]}" -g "$base/statistics/record?annotationRequestId[]=req-1&annotationRequestId[]=req-2&limit=3"
check "record comma" 200 "b['data']['count']==30 and [r['id'] for r in b['data']['data']]==[1023,1024,1100]" -- \
  "${auth[@]}" "$base/statistics/record?annotationRequestId=req-1,req-2&offset=9&limit=3"
check "record body" 200 "b['data']['count']==4 and b['data']['data'][0]['campaignId']=='camp-1' and b['data']['data'][0]['instanceInfo']=={}" -- \
  "${auth[@]}" --data '{"annotationRequestId":["req-2"]}' "$base/statistics/record"
check "record unknown" 404 "b['code']==53003 and 'ghost' in b['message']" -- \
  "${auth[@]}" "$base/statistics/record?annotationRequestId=req-1&annotationRequestId=ghost"
check "task/get" 200 "b['data']=={'viewUrl':'https://localhost/rosetta-open/task/1234/234234123133374715904/viewOnly','status':3}" -- \
  "${auth[@]}" --data '{"campaignId":"camp-1","annotationRequestId":"req-1","sceneId":"scene-25"}' "$base/task/get"
check "task/get query" 200 "b['data']['status']==11" -- \
  "${auth[@]}" -X POST "$base/task/get?campaignId=camp-2&annotationRequestId=req-3&sceneId=scene-x"
check "task/get 51008" 404 "b['code']==51008" -- "${auth[@]}" --data '{"campaignId":"x","annotationRequestId":"y","sceneId":"z"}' "$base/task/get"
check "task/get 53003" 404 "b['code']==53003" -- "${auth[@]}" --data '{"campaignId":"camp-1","annotationRequestId":"y","sceneId":"z"}' "$base/task/get"
check "task/get 56001" 404 "b['code']==56001" -- "${auth[@]}" --data '{"campaignId":"camp-1","annotationRequestId":"req-1","sceneId":"z"}' "$base/task/get"
check "task/get malformed" 400 "b['code']==4005" -- "${auth[@]}" --data '{"campaignId":' "$base/task/get"
check "caller request id" 200 "b['requestId']=='my-trace_1'" -- "${auth[@]}" -H 'X-Request-Id: my-trace_1' "$base/statistics?annotationRequestId=req-1"
check "no key" 401 "b['code']==4001" -- "$base/statistics?annotationRequestId=req-1"
check "X-API-Key" 200 "b['code']==2000" -- -H 'X-API-Key: secret-2' "$base/statistics?annotationRequestId=req-1"
check "no route" 404 "b['code']==4004" -- "$base/nothing"
check "method" 405 "b['code']==4005 and h['allow']=='GET, POST'" -- -X DELETE "${auth[@]}" "$base/statistics"
head -c 1100000 /dev/zero | tr '\0' ' ' >"$work/big"
check "body over 1 MiB" 413 "b['code']==4013" -- "${auth[@]}" --data-binary @"$work/big" "$base/statistics"
check "headers over 16 KiB" 413 "b['code']==4013" -- "${auth[@]}" -H "X-Pad: $(head -c 17000 /dev/zero | tr '\0' a)" "$base/statistics"
check "gzip" 200 "h.get('content-encoding')=='gzip' and len(b['data'])==25" -- "${auth[@]}" --compressed "$base/statistics?annotationRequestId=req-1&pageSize=25"
check "healthz" 200 "b=='ok\n'" -- "$base/healthz"
check "readyz" 200 "b=={'ready':True,'lag':7,'eventsApplied':1036,'freshnessSeconds':None}" -- "$base/readyz"
check "metrics" 200 "'tally_http_requests_total{route=\"/statistics\",code=\"200\"}' in b" -- "$base/metrics"
check "openapi" 200 "b.startswith('openapi: 3')" -- "$base/openapi.yaml"

# Keep-alive: curl reuses one connection for several URLs.
checks=$((checks + 1))
reused=$(curl -sS -v "${auth[@]}" "$base/healthz" "$base/statistics?annotationRequestId=req-1" "$base/readyz" 2>&1 >/dev/null \
  | grep -c 'Re-using existing connection' || true)
if [ "$reused" -lt 2 ]; then echo "FAIL keep-alive: reused $reused times"; failures=$((failures + 1)); fi

stop_test_server
checks=$((checks + 1))
if [ "$server_rc" != 0 ]; then echo "FAIL server stop: $server_rc (want exit 0 within 10 s of SIGTERM)"; failures=$((failures + 1)); fi
cat "$work/out" "$work/err" | grep -q '"log":"access"' || { echo "FAIL no access log line"; failures=$((failures + 1)); }
echo "$((checks - failures)) passed, $failures failed"
[ "$failures" -eq 0 ]
