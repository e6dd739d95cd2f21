#!/usr/bin/env bash
# The server binary as an operator runs it: --help, a refused configuration,
# and a graceful stop on SIGTERM (exit 0, drain logged).
set -euo pipefail
bin="$TEST_SRCDIR/$TEST_WORKSPACE/server/polysync-dlt"
tmp="$TEST_TMPDIR"

# --help names the flags.
"$bin" --help >"$tmp/help.txt" 2>&1 || true
for flag in --config --listen --log_level --shutdown_grace --reflection \
    --simulated_workspace --databrickscfg --default_workspace --drain_delay \
    --metrics_listen; do
  grep -q -- "$flag" "$tmp/help.txt" || { echo "--help does not mention $flag"; exit 1; }
done

# An unknown key stops start-up with exit code 2 and names the key.
echo '{"listen": "127.0.0.1:0", "lisen": 1}' >"$tmp/bad.json"
set +e
"$bin" --config="$tmp/bad.json" 2>"$tmp/bad.log"
rc=$?
set -e
[ "$rc" -eq 2 ] || { echo "bad config exited $rc, want 2"; exit 1; }
grep -q '"level":"error".*lisen' "$tmp/bad.log" || { echo "error line does not name the key"; cat "$tmp/bad.log"; exit 1; }

# Configuration mistakes stop start-up (exit 2) with the key named and no
# secret in the log.
certs="$TEST_SRCDIR/$TEST_WORKSPACE/tests/testdata"
refused() {  # $1: what, $2: the key the error names, then the arguments
  local what="$1" key="$2"
  shift 2
  set +e
  timeout 20 "$bin" "$@" 2>"$tmp/refused.log"
  local rc=$?
  set -e
  [ "$rc" -eq 2 ] || { echo "$what: exit $rc, want 2"; cat "$tmp/refused.log"; exit 1; }
  grep -qF -- "$key" "$tmp/refused.log" || { echo "$what: error does not name $key"; cat "$tmp/refused.log"; exit 1; }
  if grep -q 'hunter2pass\|PresentSecretValue' "$tmp/refused.log"; then
    echo "$what: a secret is in the log"; cat "$tmp/refused.log"; exit 1
  fi
}
export PDLT_MAIN_TEST_PAT=dapiPresentSecretValue0123456789
unset PDLT_MAIN_TEST_UNSET || true
ws() {  # $1: host, $2: the PAT's environment variable
  printf '{"listen": "127.0.0.1:0", "workspaces": [{"name": "w", "host": "%s", "personal_access_token": {"token": {"env": "%s"}}}]}' "$1" "$2"
}
ws https://adb-1.2.azuredatabricks.net PDLT_MAIN_TEST_UNSET >"$tmp/unset.json"
refused "unset secret" 'workspaces[\"w\"].personal_access_token.token' --config="$tmp/unset.json"
ws https://user:hunter2pass@adb-1.2.azuredatabricks.net PDLT_MAIN_TEST_PAT >"$tmp/userinfo.json"
refused "user info in the host" 'workspaces[\"w\"].host' --config="$tmp/userinfo.json"
ws https://169.254.169.254 PDLT_MAIN_TEST_PAT >"$tmp/linklocal.json"
refused "link-local host" 'workspaces[\"w\"].host' --config="$tmp/linklocal.json"
refused "listen port 99999" 'listen' --listen=127.0.0.1:99999 --simulated_workspace
printf '{"listen": "127.0.0.1:0", "tls": {"cert_file": "%s", "key_file": "%s"}}' \
  "$certs/server.pem" "$certs/client.key" >"$tmp/tls.json"
refused "TLS key of another certificate" 'tls.key_file' --config="$tmp/tls.json" --simulated_workspace
echo '{"listen": "127.0.0.1:0", "listen": "127.0.0.1:1"}' >"$tmp/dup.json"
refused "duplicate key" '\"listen\"' --config="$tmp/dup.json" --simulated_workspace
echo '{"listen": "127.0.0.1:0",}' >"$tmp/comma.json"
refused "trailing comma" '\"listen\"' --config="$tmp/comma.json" --simulated_workspace

# Without any workspace and without --simulated_workspace it refuses to
# start, and says how to configure one.
set +e
"$bin" --listen=127.0.0.1:0 2>"$tmp/none.log"
rc=$?
set -e
[ "$rc" -eq 2 ] || { echo "no workspace: exit $rc, want 2"; exit 1; }
grep -q -- '--simulated_workspace' "$tmp/none.log" || { echo "no hint"; cat "$tmp/none.log"; exit 1; }

# SIGTERM drains and exits 0.
"$bin" --listen=127.0.0.1:0 --shutdown_grace=2s --drain_delay=1s --simulated_workspace 2>"$tmp/run.log" &
pid=$!
for _ in $(seq 50); do
  grep -q '"msg":"serving"' "$tmp/run.log" && break
  sleep 0.1
done
grep -q '"msg":"serving"' "$tmp/run.log" || { echo "server did not start"; cat "$tmp/run.log"; exit 1; }
start=$(date +%s%N)
kill -TERM "$pid"
set +e
wait "$pid"
rc=$?
set -e
[ "$rc" -eq 0 ] || { echo "SIGTERM exit code $rc, want 0"; cat "$tmp/run.log"; exit 1; }
elapsed_ms=$(( ($(date +%s%N) - start) / 1000000 ))
[ "$elapsed_ms" -ge 1000 ] || { echo "exited after ${elapsed_ms} ms, before the 1 s drain delay"; exit 1; }
grep -q '"msg":"draining"' "$tmp/run.log" || { echo "no drain line"; exit 1; }
grep -q '"drain_delay":"1s"' "$tmp/run.log" || { echo "the drain delay was not applied"; cat "$tmp/run.log"; exit 1; }
grep -q 'SIMULATED' "$tmp/run.log" || { echo "simulated mode not announced"; exit 1; }
grep -q '"msg":"stopped"' "$tmp/run.log" || { echo "no stopped line"; exit 1; }
# Every line is one JSON object.
/usr/bin/python3 -c 'import json,sys; [json.loads(l) for l in open(sys.argv[1]) if l.startswith("{")]' "$tmp/run.log"
echo "main_test: ok"
