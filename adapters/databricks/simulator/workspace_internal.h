// Helpers shared by the files that implement `Workspace` (workspace.cc,
// workspace_pipelines.cc, workspace_updates.cc, lifecycle.cc, events.cc).
// Private to the simulator library.
#ifndef POLYSYNC_ADAPTERS_DATABRICKS_SIMULATOR_WORKSPACE_INTERNAL_H_
#define POLYSYNC_ADAPTERS_DATABRICKS_SIMULATOR_WORKSPACE_INTERNAL_H_

#include <cstdint>
#include <nlohmann/json.hpp>
#include <string>

#include "absl/time/time.h"
#include "adapters/databricks/simulator/api_types.h"

namespace polysync::databricks::sim {

// COMPLETED, FAILED or CANCELED.
bool IsTerminal(const std::string& state);

inline int64_t Millis(absl::Time t) { return absl::ToUnixMillis(t); }

// Reads an optional boolean field; the API guide's own example sends
// "full_refresh": "true", so the strings are accepted too. False when the
// field is neither.
bool ReadBool(const nlohmann::json& body, const char* key, bool* out);

// A `parameters` map (GetPipelineResponse.parameters, StartUpdate's
// `parameters`): absent or null is an empty map; otherwise an object of
// strings whose JSON is at most 10,000 characters ("Maximum total size: 10k
// characters (JSON format)"). The error message on failure, else empty.
std::string ReadParameters(const nlohmann::json& body, nlohmann::json* out);

// 404 RESOURCE_DOES_NOT_EXIST "Pipeline <id> does not exist."
ApiResult NoPipeline(const std::string& id);

}  // namespace polysync::databricks::sim

#endif  // POLYSYNC_ADAPTERS_DATABRICKS_SIMULATOR_WORKSPACE_INTERNAL_H_
