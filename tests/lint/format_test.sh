#!/usr/bin/env bash
# Fails when a tracked C++ file differs from clang-format (Google style, see
# .clang-format) or a BUILD/.bzl file differs from buildifier.
# Fix with: scripts/format.sh
set -euo pipefail
# WORKSPACE in the runfiles is a symlink into the source tree.
ws=$(dirname "$(readlink -f "$TEST_SRCDIR/$TEST_WORKSPACE/WORKSPACE")")
cd "$ws"
buildifier="$ws/.cache/tools/node_modules/.bin/buildifier"
[ -x "$buildifier" ] || { echo "buildifier missing: run scripts/setup.sh"; exit 1; }

mapfile -t cc_files < <(git ls-files -- '*.cc' '*.h')
mapfile -t bazel_files < <(git ls-files -- 'WORKSPACE' '*BUILD' '*.bzl' | grep -v '^bazel/local_repos/.*/WORKSPACE$' || true)
failed=0
if [ ${#cc_files[@]} -gt 0 ] && ! clang-format --dry-run --Werror "${cc_files[@]}"; then
  echo "clang-format: the files above need formatting (scripts/format.sh)"
  failed=1
fi
if [ ${#bazel_files[@]} -gt 0 ] && ! "$buildifier" -mode=check -lint=off "${bazel_files[@]}"; then
  echo "buildifier: the files above need formatting (scripts/format.sh)"
  failed=1
fi
[ ${#cc_files[@]} -gt 0 ] || { echo "no C++ files found in $ws"; failed=1; }
exit "$failed"
