#!/usr/bin/env bash
# Runs every benchmark at a tiny size: each still starts its processes,
# measures, checks its results and prints every figure and target line.
set -euo pipefail
dir="$TEST_SRCDIR/$TEST_WORKSPACE/tests/bench"
export RUNFILES_DIR="$TEST_SRCDIR"

out=$("$dir/import_bench" --pipelines=150 --latency_ms=5 --concurrency=4,8 \
  --repetitions=1 --large_pipelines=300 --broken_pipelines=150 --broken_index=75)
echo "$out"
grep -q '^C=4 *polysync-dlt ImportPipelines: [0-9.]* s .* bound [0-9.]* s ratio [0-9.]*; upstream: 2 lists, 150 gets, peak [1-9]' <<<"$out"
grep -q '^C=8 *list-then-fetch, 8 threads: [0-9.]* s' <<<"$out"
grep -q '^sequential list-then-get: [0-9.]* s (152 requests' <<<"$out"
grep -q '^target: within 1.3x of the bound at C=8: ' <<<"$out"
grep -q '^target: >= 30x faster than sequential at C=8: ' <<<"$out"
grep -q '^N=300 at C=8 (fresh server): [0-9.]* s, .* peak [0-9.]* MiB' <<<"$out"
grep -q '^broken pipeline reported: code 14, "pipeline .*: HTTP 500 INTERNAL_ERROR: Internal error: ' <<<"$out"
grep -q '^one broken pipeline: [0-9.]* s .* rate bound [0-9.]* s ((150 + 2) / 30) ratio [0-9.]*; upstream: 2 lists, 149 gets + 3 of the broken one$' <<<"$out"
grep -q '^target: one broken pipeline at default limits within 1.15x of the rate bound: ' <<<"$out"
grep -q '^import_bench: ok$' <<<"$out"
out=$("$dir/status_bench" --rate=200 --phase=1s --rounds=1 \
  --saturation_calls=400 --saturation_connections=2 --saturation_streams=4)
echo "$out"
grep -q '^direct HTTP GET  p50 [0-9.]* ms .*(200 calls, 0 failed)$' <<<"$out"
grep -q '^GetUpdateStatus  p50 [0-9.]* ms .*(200 calls, 0 failed)$' <<<"$out"
grep -q '^target: added p99 < 1 ms: ' <<<"$out"
grep -q '^target: server CPU per call < 100 us: [0-9.]* us ' <<<"$out"
grep -q '^saturation (status cache off): [1-9][0-9]* calls/s .* grpc-status OK for 400 of 400 calls' <<<"$out"
grep -q '^status_bench: ok$' <<<"$out"

out=$("$dir/poll_storm_bench" --updates=5 --watchers=10 --pollers=10 \
  --poll_interval=100ms --warmup=1s --duration=3s)
echo "$out"
grep -q '^callers (whole run): [1-9][0-9]* GetUpdateStatus calls .* 0 failed), [1-9][0-9]* watch messages .* (0 watch errors)$' <<<"$out"
grep -q '^upstream requests per update per cache period: [0-9.]* ' <<<"$out"
grep -q '^poll_storm_bench: ok$' <<<"$out"

out=$("$dir/footprint_bench" --starts=1 --settle=200ms)
echo "$out"
grep -q '^configured workspace  *start to SERVING: median [0-9.]* ms.* idle RSS: median [1-9][0-9.]* MiB.*(1 of 1 starts)$' <<<"$out"
grep -q '^footprint_bench: ok$' <<<"$out"
echo "smoke: ok"
