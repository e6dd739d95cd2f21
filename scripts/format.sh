#!/usr/bin/env bash
# Formats every tracked C++ file (clang-format) and Bazel file (buildifier).
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
git ls-files --cached --others --exclude-standard -- '*.cc' '*.h' | xargs -r clang-format -i
git ls-files --cached --others --exclude-standard -- 'WORKSPACE' '*BUILD' '*.bzl' | grep -v '^bazel/local_repos/.*/WORKSPACE$' |
  xargs -r .cache/tools/node_modules/.bin/buildifier -lint=off
