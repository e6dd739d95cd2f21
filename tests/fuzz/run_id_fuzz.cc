// Fuzz target: the run-id parser and id validation. A run id that parses
// must format back to exactly the input, and only ids of the 8-4-4-4-12
// shape may pass validation (so nothing else ever reaches a URL).
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string>
#include <string_view>

#include "adapters/databricks/wire/ids.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  namespace d = ::polysync::databricks;
  const std::string_view text(reinterpret_cast<const char*>(data), size);
  auto run = d::ParseRunId(text);
  if (run.ok()) {
    if (d::FormatRunId(run->pipeline_id, run->update_id) != text) std::abort();
  }
  if (d::ValidatePipelineId(text).ok()) {
    if (text.size() != 36) std::abort();
    for (char c : text) {
      const bool ok = c == '-' || (c >= '0' && c <= '9') ||
                      (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z');
      if (!ok) std::abort();
    }
  }
  return 0;
}
