#!/usr/bin/env bash
# Runs every benchmark at a tiny size: each still starts its processes,
# measures, checks its results and prints every figure and target line.
set -euo pipefail
dir="$TEST_SRCDIR/$TEST_WORKSPACE/tests/bench"
export RUNFILES_DIR="$TEST_SRCDIR"

out=$("$dir/import_bench" --pipelines=150 --latency_ms=5 --concurrency=4,8 \
  --repetitions=1 --large_pipelines=300)
echo "$out"
grep -q '^C=4 *polysync-dlt ImportPipelines: [0-9.]* s .* bound [0-9.]* s ratio [0-9.]*; upstream: 2 lists, 150 gets, peak [1-9]' <<<"$out"
grep -q '^C=8 *list-then-fetch, 8 threads: [0-9.]* s' <<<"$out"
grep -q '^sequential list-then-get: [0-9.]* s (152 requests' <<<"$out"
grep -q '^target: within 1.3x of the bound at C=8: ' <<<"$out"
grep -q '^target: >= 30x faster than sequential at C=8: ' <<<"$out"
grep -q '^N=300 at C=8 (fresh server): [0-9.]* s, .* peak [0-9.]* MiB' <<<"$out"
grep -q '^import_bench: ok$' <<<"$out"
echo "smoke: ok"
