#!/usr/bin/env bash
# Runs manifests_test.js with Node; fails (never skips) when Node is missing.
set -euo pipefail
command -v node >/dev/null || { echo "node missing: run scripts/setup.sh"; exit 1; }
exec node "$TEST_SRCDIR/$TEST_WORKSPACE/tests/deploy/manifests_test.js"
