#!/usr/bin/env bash
# Runs dockerfile_test.js on the server binary; fails (never skips) when a
# tool is missing.
set -euo pipefail
for tool in node ldd dpkg git; do
  command -v "$tool" >/dev/null || { echo "$tool missing: run scripts/setup.sh"; exit 1; }
done
exec node "$TEST_SRCDIR/$TEST_WORKSPACE/tests/deploy/dockerfile_test.js" \
  "$TEST_SRCDIR/$TEST_WORKSPACE/server/polysync-dlt"
