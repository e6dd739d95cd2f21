// Fuzz target: the configuration parser. Any text is either a valid
// configuration or a clear INVALID_ARGUMENT, never a crash.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string>

#include "server/config.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string text(reinterpret_cast<const char*>(data), size);
  auto config = polysync::server::ParseConfig(text, "fuzz");
  if (!config.ok() &&
      config.status().code() != absl::StatusCode::kInvalidArgument) {
    std::abort();
  }
  return 0;
}
