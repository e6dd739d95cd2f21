// Helpers shared by the list endpoints: query parameters, `max_results` and
// opaque page tokens (web-safe base64 of a small JSON object, so clients
// cannot rely on their content).
#ifndef POLYSYNC_ADAPTERS_DATABRICKS_SIMULATOR_PAGING_H_
#define POLYSYNC_ADAPTERS_DATABRICKS_SIMULATOR_PAGING_H_

#include <nlohmann/json.hpp>
#include <optional>
#include <string>

#include "absl/strings/escaping.h"
#include "adapters/databricks/simulator/api_types.h"

namespace polysync::databricks::sim {

// The first value of `key`, if present.
inline std::optional<std::string> Param(const QueryParams& params,
                                        const std::string& key) {
  for (const auto& [k, v] : params) {
    if (k == key) return v;
  }
  return std::nullopt;
}

inline std::string EncodePageToken(const nlohmann::json& state) {
  return absl::WebSafeBase64Escape(state.dump());
}

// Decodes a token made by EncodePageToken; nullopt when it is not one.
inline std::optional<nlohmann::json> DecodePageToken(const std::string& token) {
  std::string raw;
  if (!absl::WebSafeBase64Unescape(token, &raw)) return std::nullopt;
  nlohmann::json j = nlohmann::json::parse(raw, nullptr, false);
  if (j.is_discarded() || !j.is_object()) return std::nullopt;
  return j;
}

// Parses `max_results`: `fallback` when absent; an error result when it is
// not an integer in [1, limit] (0 means the default, as in the real API).
inline std::optional<ApiResult> ParseMaxResults(const QueryParams& params,
                                                int fallback, int limit,
                                                int* out) {
  *out = fallback;
  auto text = Param(params, "max_results");
  if (!text || text->empty()) return std::nullopt;
  int value = 0;
  size_t pos = 0;
  bool ok = true;
  try {
    value = std::stoi(*text, &pos);
  } catch (...) {
    ok = false;
  }
  if (!ok || pos != text->size() || value < 0) {
    return ApiResult::Error(400, "INVALID_PARAMETER_VALUE",
                            "Invalid max_results: " + *text);
  }
  if (value > limit) {
    return ApiResult::Error(400, "INVALID_PARAMETER_VALUE",
                            "max_results must be at most " +
                                std::to_string(limit) + ", got " +
                                std::to_string(value));
  }
  if (value > 0) *out = value;
  return std::nullopt;
}

}  // namespace polysync::databricks::sim

#endif  // POLYSYNC_ADAPTERS_DATABRICKS_SIMULATOR_PAGING_H_
