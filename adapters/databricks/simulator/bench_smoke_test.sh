#!/usr/bin/env bash
# The capacity benchmark runs, serves every connection with the injected
# latency, and reports its figures.
set -euo pipefail
bench="$TEST_SRCDIR/$TEST_WORKSPACE/adapters/databricks/simulator/bench"
out=$("$bench" --connections=64 --throughput_connections=8 --latency_ms=20 \
  --duration=0.5s --min_rate=100)
echo "$out"
grep -q '^throughput .* errors=0 ' <<<"$out"
grep -q '^latency .*connections=64 served=64 .* errors=0 ' <<<"$out"
grep -q '^bench: ok$' <<<"$out"
