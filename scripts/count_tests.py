#!/usr/bin/python3
"""Counts test targets in a Bazel build-event JSON file.

Prints "PASSED FAILED": every test target Bazel configured is counted; it
passed only if its test summary says PASSED (or FLAKY). A test that failed to
build, timed out, or never ran counts as failed.
"""
import json
import sys


def main(path):
    tests = set()
    passed = set()
    with open(path, encoding="utf-8") as f:
        for line in f:
            line = line.strip()
            if not line:
                continue
            event = json.loads(line)
            ident = event.get("id", {})
            if "targetConfigured" in ident:
                configured = event.get("configured", {})
                if "testSize" in configured or configured.get(
                        "targetKind", "").endswith("_test rule"):
                    tests.add(ident["targetConfigured"]["label"])
            elif "testSummary" in ident:
                status = event.get("testSummary", {}).get("overallStatus")
                if status in ("PASSED", "FLAKY"):
                    passed.add(ident["testSummary"]["label"])
    print(len(passed & tests), len(tests - passed))


if __name__ == "__main__":
    main(sys.argv[1])
