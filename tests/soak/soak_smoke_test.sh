#!/usr/bin/env bash
# Runs the soak briefly: the server answers every call through injected
# faults, exits cleanly, and the report has every figure.
set -euo pipefail
soak="$TEST_SRCDIR/$TEST_WORKSPACE/tests/soak/soak"
out=$(RUNFILES_DIR="$TEST_SRCDIR" "$soak" --duration=3s --clients=2 \
  --pipelines=20 --fault_rate=0.2 --max_rss_growth=1.0)
echo "$out"
grep -q '^calls=[1-9][0-9]* answered=' <<<"$out"
grep -q '^rss_start_kb=[1-9]' <<<"$out"
grep -q '^crashes=0 clean_exit=yes$' <<<"$out"
grep -q '^soak: ok$' <<<"$out"
