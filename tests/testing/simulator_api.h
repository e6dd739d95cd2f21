// Test-only: which API shape the simulated workspace speaks in this run.
//
// Test targets made by `pdlt_cc_test_both_apis` (bazel/cc.bzl) run twice:
// `name` with PDLT_SIMULATOR_API=current (today's API, the simulator's
// default) and `name_legacy` with PDLT_SIMULATOR_API=legacy (the retired API
// guide's shapes: request ids, the requests endpoint). The Harness applies
// it; tests that build SimulatorOptions themselves call ApplySimulatorApi().
// A test about one shape sets `workspace.legacy_request_api` after it.
#ifndef POLYSYNC_TESTS_TESTING_SIMULATOR_API_H_
#define POLYSYNC_TESTS_TESTING_SIMULATOR_API_H_

#include <cstdio>
#include <cstdlib>
#include <cstring>

#include "adapters/databricks/simulator/simulator.h"

namespace polysync::testing {

// True when this run's simulator speaks the legacy API. Unset means the
// simulator's default (today's API); a value other than "current" or
// "legacy" aborts the test.
inline bool LegacySimulatorApi() {
  const char* api = std::getenv("PDLT_SIMULATOR_API");
  if (api == nullptr || std::strcmp(api, "current") == 0) return false;
  if (std::strcmp(api, "legacy") == 0) return true;
  std::fprintf(stderr, "PDLT_SIMULATOR_API=%s: expected current or legacy\n",
               api);
  std::abort();
}

inline void ApplySimulatorApi(
    ::polysync::databricks::sim::SimulatorOptions& options) {
  options.workspace.legacy_request_api = LegacySimulatorApi();
}

}  // namespace polysync::testing

#endif  // POLYSYNC_TESTS_TESTING_SIMULATOR_API_H_
