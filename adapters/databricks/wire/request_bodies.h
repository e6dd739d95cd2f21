// Request bodies and query strings for the Databricks Pipelines API 2.0,
// written with a JSON library (nlohmann-json) and an RFC 3986 percent-encoder,
// never by pasting strings.
//
// Why: caller-supplied text (table names, page tokens, filters) ends up in
// request bodies and URLs; writing them through an encoder means a quote, an
// ampersand or a CR/LF in that text can never change the request's meaning.
//
//   StartUpdateRequest request;
//   request.refresh_selection = {"sales_orders_cleaned"};
//   absl::StatusOr<std::string> body = StartUpdateBody(request);
//   // {"refresh_selection":["sales_orders_cleaned"]}
//
//   ListEventsRequest events;
//   events.max_results = 100;
//   events.filter = *EventsFilter(update_id, {"ERROR"});
//   absl::StatusOr<std::string> query = ListEventsQuery(events);
//   // ?max_results=100&filter=update_id%3D%27...%27%20AND%20level%3D%27ERROR%27
#ifndef POLYSYNC_ADAPTERS_DATABRICKS_WIRE_REQUEST_BODIES_H_
#define POLYSYNC_ADAPTERS_DATABRICKS_WIRE_REQUEST_BODIES_H_

#include <cstdint>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "absl/status/statusor.h"
#include "adapters/databricks/wire/types.h"

namespace polysync::databricks {

// Largest max_results this adapter sends for list pipelines and list
// updates (the API's limit for list pipelines; above it is an error).
inline constexpr int kMaxPageSize = 100;

// The API's largest max_results for list pipeline events: the REST
// reference (docs.databricks.com/api/pipelines/v2/events) gives
// `max_results` the constraint "<= 1000"; the SDKs' ListPipelineEventsRequest
// states no bound.
inline constexpr int kMaxEventsPageSize = 1000;

// The JSON body of POST /api/2.0/pipelines/{pipeline_id}/updates, with only
// the fields that are set (unset optionals and empty lists are left out), in
// the order pipeline_id, full_refresh, refresh_selection,
// full_refresh_selection, refresh_flow_selection, reset_checkpoint_selection,
// parameters, validate_only, cause. INVALID_ARGUMENT, and no body, when the
// request breaks one of the API's rules (start_update.h:
// ValidateStartUpdate).
absl::StatusOr<std::string> StartUpdateBody(const StartUpdateRequest& request);

// RFC 3986 percent-encoding for a query component: unreserved characters
// (A-Z a-z 0-9 - . _ ~) stay, every other byte becomes %XX (upper-case hex).
// A space is "%20", never "+".
std::string PercentEncode(std::string_view text);

// Builds "?k1=v1&k2=v2" with keys and values percent-encoded, in the order
// added; Build() is "" when nothing was added.
class QueryBuilder {
 public:
  QueryBuilder& Add(std::string_view key, std::string_view value);
  QueryBuilder& Add(std::string_view key, int64_t value);
  std::string Build() const;

 private:
  std::string query_;
};

// Query strings of the list endpoints ("" or "?..."). INVALID_ARGUMENT when
// max_results is outside 1..kMaxPageSize (1..kMaxEventsPageSize for events)
// or until_update_id is not an id.
absl::StatusOr<std::string> ListPipelinesQuery(
    const ListPipelinesRequest& request);
absl::StatusOr<std::string> ListUpdatesQuery(const ListUpdatesRequest& request);
absl::StatusOr<std::string> ListEventsQuery(const ListEventsRequest& request);

// The `filter` of list events for one update and some levels:
//   EventsFilter(id, {"ERROR"})         -> "update_id='<id>' AND level='ERROR'"
//   EventsFilter(id, {"ERROR", "WARN"}) ->
//       "update_id='<id>' AND level in ('ERROR', 'WARN')"
//   EventsFilter("", {"ERROR"})         -> "level='ERROR'"
//   EventsFilter("", {})                -> ""
// The update id must pass ValidateUpdateId and each level must be 1-16
// upper-case ASCII letters, so nothing can inject a quote; INVALID_ARGUMENT
// otherwise.
absl::StatusOr<std::string> EventsFilter(
    std::string_view update_id, const std::vector<std::string>& levels);

}  // namespace polysync::databricks

#endif  // POLYSYNC_ADAPTERS_DATABRICKS_WIRE_REQUEST_BODIES_H_
