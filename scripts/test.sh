#!/usr/bin/env bash
# The README's test command: sets up the machine if needed, runs every Bazel
# test target in each configuration (default, then ASan+UBSan), and ends with
# "tests: N passed, N failed" counted from Bazel's build events. Exits non-zero
# if anything failed.
#
#   scripts/test.sh                 # default + asan
#   POLYSYNC_TEST_CONFIGS="default tsan" scripts/test.sh
set -uo pipefail
cd "$(dirname "$0")/.."

if ! bash scripts/setup.sh; then
  echo "setup failed" >&2
  echo "tests: 0 passed, 1 failed"
  exit 1
fi

read -r -a configs <<<"${POLYSYNC_TEST_CONFIGS:-default asan}"
total_passed=0
total_failed=0
status=0
events_dir=$(mktemp -d)
trap 'rm -rf "$events_dir"' EXIT

for config in "${configs[@]}"; do
  flags=(--keep_going)
  [ "$config" != default ] && flags+=("--config=$config")
  echo "=== bazel test //... ($config)" >&2
  bazel test "${flags[@]}" --build_event_json_file="$events_dir/$config.json" //...
  rc=$?
  read -r passed failed < <(/usr/bin/python3 scripts/count_tests.py "$events_dir/$config.json")
  if [ "$rc" -ne 0 ] && [ "$failed" -eq 0 ]; then
    # Bazel failed without a failing test target (e.g. a build error outside
    # tests, or no tests at all): count the configuration itself as failed.
    failed=1
  fi
  echo "=== $config: $passed passed, $failed failed" >&2
  total_passed=$((total_passed + passed))
  total_failed=$((total_failed + failed))
  [ "$rc" -ne 0 ] && status=1
done

[ "$total_failed" -ne 0 ] && status=1
echo "tests: $total_passed passed, $total_failed failed"
exit "$status"
