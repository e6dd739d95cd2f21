// The two small types every REST handler of the simulated workspace uses: a
// response body with its HTTP status, and a request's query parameters.
#ifndef POLYSYNC_ADAPTERS_DATABRICKS_SIMULATOR_API_TYPES_H_
#define POLYSYNC_ADAPTERS_DATABRICKS_SIMULATOR_API_TYPES_H_

#include <nlohmann/json.hpp>
#include <string>
#include <utility>
#include <vector>

#include "absl/strings/string_view.h"

namespace polysync::databricks::sim {

// A response body with its HTTP status.
struct ApiResult {
  int status = 200;
  nlohmann::json body = nlohmann::json::object();

  // {"error_code": ..., "message": ...} with `status`.
  static ApiResult Error(int status, absl::string_view error_code,
                         absl::string_view message) {
    ApiResult r;
    r.status = status;
    r.body = nlohmann::json{{"error_code", std::string(error_code)},
                            {"message", std::string(message)}};
    return r;
  }
};

// Query parameters in request order (a key may repeat).
using QueryParams = std::vector<std::pair<std::string, std::string>>;

}  // namespace polysync::databricks::sim

#endif  // POLYSYNC_ADAPTERS_DATABRICKS_SIMULATOR_API_TYPES_H_
