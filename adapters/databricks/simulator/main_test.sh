#!/usr/bin/env bash
# The databricks-simulator binary: starts on a free port, serves the API with
# its token, takes faults from a flag and from the admin endpoint, advances a
# manual clock, refuses bad TLS flags, and exits 0 on SIGTERM.
set -euo pipefail
bin="$TEST_SRCDIR/$TEST_WORKSPACE/adapters/databricks/simulator/databricks-simulator"
tmp="${TEST_TMPDIR:-$(mktemp -d)}"
token=dapi-main-test

fail() { echo "FAIL: $*"; exit 1; }

# Bad TLS flags stop it with exit code 2.
set +e
"$bin" --port=0 --tls_cert=/nonexistent.pem 2>"$tmp/bad.err"
code=$?
set -e
[ "$code" = 2 ] || fail "bad TLS flags exited $code"
grep -q 'certificate and a key' "$tmp/bad.err" || fail "no reason given"

"$bin" --port=0 --manual_clock --token="$token" \
  --faults='{"endpoint": "pipelines.list", "kind": "http_error", "status": 503, "retry_after_seconds": 7, "count": 1}' \
  >"$tmp/out" 2>"$tmp/err" &
pid=$!
for _ in $(seq 100); do
  grep -q '^listening on ' "$tmp/out" && break
  sleep 0.05
done
url=$(sed -n 's/^listening on //p' "$tmp/out")
[ -n "$url" ] || { cat "$tmp/err"; fail "no listening line"; }

api() { curl -s -o "$tmp/body" -w '%{http_code}' -H "Authorization: Bearer $token" "$@"; }

# The fault from the flag, then the real answer.
[ "$(api "$url/api/2.0/pipelines")" = 503 ] || fail "flag fault not applied"
[ "$(api "$url/api/2.0/pipelines")" = 200 ] || fail "list failed"
grep -q '"statuses"' "$tmp/body" || fail "no statuses"
[ "$(curl -s -o /dev/null -w '%{http_code}' "$url/api/2.0/pipelines")" = 401 ] ||
  fail "no token accepted"
# The token never reaches the logs.
if grep -q "$token" "$tmp/err"; then fail "token logged"; fi

# Admin: a 429 rule, stats, then clear.
[ "$(curl -s -o /dev/null -w '%{http_code}' -X POST "$url/_sim/faults" \
  -d '{"endpoint": "pipelines.get", "kind": "http_error", "status": 429, "retry_after_seconds": 1}')" = 200 ] ||
  fail "admin fault refused"
id=$(sed -n 's/.*"pipeline_id":"\([0-9a-f-]*\)".*/\1/p' "$tmp/body" | head -1)
[ -n "$id" ] || id=$(grep -o '"pipeline_id":"[^"]*"' "$tmp/body" | head -1 | cut -d'"' -f4)
[ "$(api "$url/api/2.0/pipelines/$id")" = 429 ] || fail "admin fault not applied"
curl -s "$url/_sim/stats" | grep -q '"pipelines.get":1' || fail "stats"
curl -s -X DELETE "$url/_sim/faults" >/dev/null

# Create a pipeline, start an update, advance the manual clock, see it
# complete.
[ "$(api -X POST "$url/api/2.0/pipelines" -d '{"name": "main test"}')" = 200 ] || fail "create"
id=$(grep -o '"pipeline_id":"[^"]*"' "$tmp/body" | cut -d'"' -f4)
[ "$(api -X POST "$url/api/2.0/pipelines/$id/updates" -d '{}')" = 200 ] || fail "start"
update=$(grep -o '"update_id":"[^"]*"' "$tmp/body" | cut -d'"' -f4)
curl -s -X POST "$url/_sim/clock/advance" -d '{"seconds": 3600}' >/dev/null
api "$url/api/2.0/pipelines/$id/updates/$update" >/dev/null
grep -q '"state":"COMPLETED"' "$tmp/body" || fail "update did not complete: $(cat "$tmp/body")"

kill -TERM "$pid"
wait "$pid" || fail "exit code $? after SIGTERM"
echo PASS
