#!/usr/bin/env bash
# Runs overlay_start_test.js on the server binary; fails (never skips) when
# Node is missing.
set -euo pipefail
command -v node >/dev/null || { echo "node missing: run scripts/setup.sh"; exit 1; }
exec node "$TEST_SRCDIR/$TEST_WORKSPACE/tests/deploy/overlay_start_test.js" \
  "$TEST_SRCDIR/$TEST_WORKSPACE/server/polysync-dlt"
