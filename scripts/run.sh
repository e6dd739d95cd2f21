#!/usr/bin/env bash
# The README's run command: sets up the machine if needed, builds the server
# and starts it. Arguments are passed to the server (see --help).
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
bazel build -c opt //server:polysync-dlt >&2
exec bazel-bin/server/polysync-dlt "$@"
