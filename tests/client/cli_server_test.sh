#!/usr/bin/env bash
# pdlt against the real server binary in out-of-the-box mode
# (--simulated_workspace), both as subprocesses, as an operator runs them.
set -euo pipefail
pdlt="$TEST_SRCDIR/$TEST_WORKSPACE/client/pdlt"
server="$TEST_SRCDIR/$TEST_WORKSPACE/server/polysync-dlt"
tmp="$TEST_TMPDIR"
fail() { echo "FAIL: $*"; exit 1; }

"$server" --simulated_workspace --listen=127.0.0.1:0 --shutdown_grace=2s \
  --drain_delay=0s 2>"$tmp/server.log" &
pid=$!
trap 'kill "$pid" 2>/dev/null || true' EXIT
port=""
for _ in $(seq 100); do
  port=$(grep -o '"msg":"gRPC server listening".*' "$tmp/server.log" |
    grep -o '"port":[0-9]*' | head -1 | cut -d: -f2 || true)
  [ -n "$port" ] && break
  sleep 0.1
done
[ -n "$port" ] || { cat "$tmp/server.log"; fail "the server did not log its port"; }
export PDLT_SERVER="127.0.0.1:$port"

[ "$("$pdlt" health)" = "SERVING" ] || fail "health"
"$pdlt" workspaces | grep -q '^simulated .*simulated *\*$' || fail "workspaces"
"$pdlt" import --output json >"$tmp/import.json"
grep -q '"jobType":"Databricks Pipeline"' "$tmp/import.json" || fail "import json"
id=$(grep -o '"externalId":"[^"]*"' "$tmp/import.json" | head -1 | cut -d'"' -f4)
[ -n "$id" ] || fail "no pipeline imported"
"$pdlt" sync "$id" | grep -q '^full_refresh *bool *false *yes' || fail "sync"
run=$("$pdlt" start "$id" --idempotency-key smoke-1 --output json |
  grep -o '"runId":"[^"]*"' | cut -d'"' -f4)
[ -n "$run" ] || fail "start printed no run id"
again=$("$pdlt" start "$id" --idempotency-key smoke-1 --output json)
echo "$again" | grep -q "\"runId\":\"$run\"" || fail "idempotent start: $again"
echo "$again" | grep -q '"replayed":true' || fail "not replayed: $again"
set +e
"$pdlt" status "$run" >"$tmp/status.txt"
rc=$?
set -e
[ "$rc" -eq 3 ] || [ "$rc" -eq 0 ] || fail "status exit $rc"
grep -q "^run id *$run" "$tmp/status.txt" || fail "status table"
"$pdlt" stop "$run" --output json | grep -q '"stopSent":true' || fail "stop"
set +e
"$pdlt" --timeout 60s watch "$run" >"$tmp/watch.txt"
rc=$?
set -e
[ "$rc" -eq 2 ] || { cat "$tmp/watch.txt"; fail "watch of a stopped run exit $rc, want 2"; }
grep -q 'CANCELLED' "$tmp/watch.txt" || fail "watch output"

# Wrong input and a stopped server: one line, distinct exit codes.
set +e
"$pdlt" status nope 2>"$tmp/err.txt"
rc=$?
set -e
[ "$rc" -eq 64 ] || fail "bad run id exit $rc"
[ "$(wc -l <"$tmp/err.txt")" -eq 1 ] || fail "bad run id: $(cat "$tmp/err.txt")"
kill -TERM "$pid"
wait "$pid" || fail "server exit $?"
set +e
"$pdlt" workspaces 2>"$tmp/down.txt"
rc=$?
set -e
[ "$rc" -eq 69 ] || fail "server down exit $rc"
grep -qx "pdlt: cannot reach the service at 127.0.0.1:$port (is it running?)" \
  "$tmp/down.txt" || fail "server down: $(cat "$tmp/down.txt")"
echo PASS
