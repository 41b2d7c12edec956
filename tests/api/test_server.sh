# Sourced by the API's end-to-end scripts: start_test_server BINARY ARGS... runs
# api_test_server on a free port in a temp dir and sets $work, $pid, $port and
# $base; the EXIT trap kills it by PID (if still running) and removes $work.
# stop_test_server sends SIGTERM, waits up to 10 s and sets $server_rc.
work=$(mktemp -d)
pid=
cleanup() {
  if [ -n "$pid" ] && kill -0 "$pid" 2>/dev/null; then kill -KILL "$pid"; fi
  rm -rf "$work"
}
trap cleanup EXIT

start_test_server() {
  local bin=$1
  shift
  "$bin" "$work/store" "$@" >"$work/out" 2>"$work/err" &
  pid=$!
  port=
  for _ in $(seq 1 100); do  # up to 10 s
    port=$(awk '/^port /{print $2}' "$work/out")
    [ -n "$port" ] && break
    kill -0 "$pid" 2>/dev/null || { cat "$work/err"; exit 1; }
    sleep 0.1
  done
  [ -n "$port" ] || { echo "api_test_server did not start"; cat "$work/err"; exit 1; }
  base="http://127.0.0.1:$port"
}

stop_test_server() {
  kill -TERM "$pid"
  for _ in $(seq 1 100); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
  if kill -0 "$pid" 2>/dev/null; then
    server_rc=timeout
  else
    server_rc=0
    wait "$pid" || server_rc=$?
    pid=
  fi
}
