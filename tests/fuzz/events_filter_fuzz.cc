// Fuzz target: the events filter builder. Whatever the update id and levels,
// the filter either is refused or contains no quote beyond the ones it
// writes itself (nothing can be injected into the filter's syntax).
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string>
#include <vector>

#include "adapters/databricks/wire/request_bodies.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  // Input: update id, then levels, separated by '\n'.
  std::vector<std::string> parts(1);
  for (size_t i = 0; i < size; ++i) {
    if (data[i] == '\n') {
      parts.emplace_back();
    } else {
      parts.back().push_back(static_cast<char>(data[i]));
    }
  }
  const std::string update_id = parts[0];
  const std::vector<std::string> levels(parts.begin() + 1, parts.end());
  auto filter = polysync::databricks::EventsFilter(update_id, levels);
  if (!filter.ok()) return 0;
  size_t quotes = 0;
  for (char c : *filter) quotes += c == '\'';
  const size_t expected = (update_id.empty() ? 0 : 2) + 2 * levels.size();
  if (quotes != expected) std::abort();
  return 0;
}
