// The Pipelines API endpoints, one name each. The name ("pipelines.get")
// labels the service's upstream metrics and log lines, and names the
// simulator's routes, request counters and fault rules, so an operator who
// sees an endpoint in a metric writes a fault rule for it with the same word.
// `method` and `path` are the request line's, `{name}` standing for one
// path segment; Describe() ("GET pipelines/{id}") starts error messages.
//
//   Describe(kGetPipeline);     // "GET pipelines/{id}"
//   kStartUpdate.name;          // "updates.start"
#ifndef POLYSYNC_ADAPTERS_DATABRICKS_WIRE_ENDPOINTS_H_
#define POLYSYNC_ADAPTERS_DATABRICKS_WIRE_ENDPOINTS_H_

#include <string>

namespace polysync::databricks {

struct Endpoint {
  const char* name;
  const char* method;
  const char* path;
};

inline constexpr Endpoint kListPipelines{"pipelines.list", "GET",
                                         "/api/2.0/pipelines"};
inline constexpr Endpoint kCreatePipeline{"pipelines.create", "POST",
                                          "/api/2.0/pipelines"};
inline constexpr Endpoint kGetPipeline{"pipelines.get", "GET",
                                       "/api/2.0/pipelines/{id}"};
inline constexpr Endpoint kEditPipeline{"pipelines.edit", "PUT",
                                        "/api/2.0/pipelines/{id}"};
inline constexpr Endpoint kDeletePipeline{"pipelines.delete", "DELETE",
                                          "/api/2.0/pipelines/{id}"};
inline constexpr Endpoint kStopPipeline{"pipelines.stop", "POST",
                                        "/api/2.0/pipelines/{id}/stop"};
inline constexpr Endpoint kListUpdates{"updates.list", "GET",
                                       "/api/2.0/pipelines/{id}/updates"};
inline constexpr Endpoint kStartUpdate{"updates.start", "POST",
                                       "/api/2.0/pipelines/{id}/updates"};
inline constexpr Endpoint kGetUpdate{
    "updates.get", "GET", "/api/2.0/pipelines/{id}/updates/{update_id}"};
// The retired guide's request status; in neither SDK today.
inline constexpr Endpoint kGetRequest{
    "requests.get", "GET", "/api/2.0/pipelines/{id}/requests/{request_id}"};
inline constexpr Endpoint kListEvents{"events.list", "GET",
                                      "/api/2.0/pipelines/{id}/events"};

// "GET pipelines/{id}": the method and the path after "/api/2.0/".
std::string Describe(const Endpoint& endpoint);

}  // namespace polysync::databricks

#endif  // POLYSYNC_ADAPTERS_DATABRICKS_WIRE_ENDPOINTS_H_
