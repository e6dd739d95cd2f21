// Plain typed structs for what the Databricks Pipelines API 2.0 (and the
// token endpoints used to call it) returns, and the requests this adapter
// sends. No JSON here: decoders.h fills these from response bodies and
// request_bodies.h writes request bodies from them.
//
// Why: the rest of the service works with typed values and never with raw
// REST. States, causes, levels and similar enumerations are kept as text
// (`std::string`), never as a closed enum, so values Databricks adds later
// survive a round trip; helpers such as IsTerminalUpdateState() classify the
// known ones.
//
//   absl::StatusOr<UpdateInfo> update = DecodeUpdate(body);
//   if (update.ok() && IsTerminalUpdateState(update->state)) { ... }
#ifndef POLYSYNC_ADAPTERS_DATABRICKS_WIRE_TYPES_H_
#define POLYSYNC_ADAPTERS_DATABRICKS_WIRE_TYPES_H_

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace polysync::databricks {

// Update states documented today (newer ones decode as text all the same).
inline constexpr std::string_view kUpdateStates[] = {
    "QUEUED",       "CREATED",   "WAITING_FOR_RESOURCES",
    "INITIALIZING", "RESETTING", "SETTING_UP_TABLES",
    "RUNNING",      "STOPPING",  "COMPLETED",
    "FAILED",       "CANCELED"};

// Pipeline states documented today.
inline constexpr std::string_view kPipelineStates[] = {
    "DEPLOYING",  "STARTING", "RUNNING",   "STOPPING", "DELETED",
    "RECOVERING", "FAILED",   "RESETTING", "IDLE"};

// Event levels documented today (PipelineEvent::level; the levels an event
// query may ask for).
inline constexpr std::string_view kEventLevels[] = {"INFO", "WARN", "ERROR",
                                                    "METRICS"};

// COMPLETED, FAILED or CANCELED. Unknown states are not terminal.
bool IsTerminalUpdateState(std::string_view state);
// One of kUpdateStates.
bool IsKnownUpdateState(std::string_view state);
// One of kPipelineStates.
bool IsKnownPipelineState(std::string_view state);
// One of kEventLevels.
bool IsKnownEventLevel(std::string_view level);

// One entry of a pipeline's `latest_updates` (newest first).
struct UpdateStateInfo {
  std::string update_id;
  std::string state;
  std::string creation_time;  // RFC 3339 text, as the API sends it
};

// One item of GET /api/2.0/pipelines (no spec in the list).
struct PipelineStateInfo {
  std::string pipeline_id;
  std::string name;
  std::string state;
  std::string health;
  std::string cluster_id;
  std::string creator_user_name;
  std::string run_as_user_name;
  std::vector<UpdateStateInfo> latest_updates;
};

struct ListPipelinesPage {
  std::vector<PipelineStateInfo> statuses;
  std::string next_page_token;  // empty on the last page
  std::string prev_page_token;
};

// The subset of PipelineSettings (`spec` of a pipeline, `config` of an
// update) this service uses.
struct PipelineSpec {
  std::string id;
  std::string name;
  std::optional<bool> continuous;
  std::optional<bool> development;
  std::optional<bool> photon;
  // In document order.
  std::vector<std::pair<std::string, std::string>> configuration;
  std::string target;
  std::string catalog;
  std::string edition;
  std::string channel;
};

// GET /api/2.0/pipelines/{pipeline_id}.
struct Pipeline {
  std::string pipeline_id;
  std::string name;
  std::string state;
  std::string cause;
  std::string health;
  std::string cluster_id;
  std::string creator_user_name;
  std::string run_as_user_name;
  std::vector<UpdateStateInfo> latest_updates;
  std::optional<PipelineSpec> spec;
  // Default parameters of the pipeline's updates (top-level `parameters`,
  // GetPipelineResponse), in body order.
  std::vector<std::pair<std::string, std::string>> parameters;
};

// An update, as GET .../updates/{update_id} (inside `update`), list updates
// and get request status return it.
struct UpdateInfo {
  std::string pipeline_id;
  std::string update_id;
  std::string state;
  std::string cause;
  std::string cluster_id;
  std::optional<int64_t> creation_time;  // milliseconds since the epoch
  std::optional<bool> full_refresh;
  std::vector<std::string> refresh_selection;
  std::vector<std::string> full_refresh_selection;
  std::optional<bool> validate_only;
  std::string request_id;
  std::string mode;  // e.g. TRIGGERED, CONTINUOUS
  std::optional<PipelineSpec> config;
};

struct ListUpdatesPage {
  std::vector<UpdateInfo> updates;
  std::string next_page_token;
  std::string prev_page_token;
};

// POST /api/2.0/pipelines/{pipeline_id}/updates.
struct StartUpdateResult {
  std::string update_id;
  std::string request_id;
};

// GET /api/2.0/pipelines/{pipeline_id}/requests/{request_id}.
struct RequestStatus {
  std::string status;  // "ACTIVE" or "TERMINATED"
  std::optional<UpdateInfo> latest_update;
};

struct EventOrigin {
  std::string pipeline_id;
  std::string update_id;
  std::string request_id;
  std::string flow_name;
  std::string dataset_name;
  std::string cluster_id;
};

struct EventException {
  std::string class_name;
  std::string message;
};

struct EventError {
  std::optional<bool> fatal;
  std::vector<EventException> exceptions;
};

// One pipeline event.
struct PipelineEvent {
  std::string id;
  // sequence.control_plane_seq_no (today's API sends an object), or the
  // value itself when it is a plain integer.
  std::optional<int64_t> sequence;
  std::string event_type;  // e.g. update_progress, flow_progress
  std::string level;       // INFO, WARN, ERROR, METRICS
  std::string message;
  std::string timestamp;  // RFC 3339 text
  EventOrigin origin;
  std::optional<EventError> error;
  // details.update_progress.state, for update_progress events.
  std::string update_progress_state;
};

struct ListEventsPage {
  std::vector<PipelineEvent> events;
  std::string next_page_token;
  std::string prev_page_token;
};

// A Databricks error body: {"error_code": "...", "message": "..."}.
// `error_code` is text; old endpoints that send an integer decode to its
// decimal text.
struct DatabricksError {
  std::string error_code;
  std::string message;
};

// An OAuth token response (Entra ID, Databricks OIDC, Azure IMDS).
struct TokenResponse {
  std::string access_token;
  std::string token_type;
  // Seconds; IMDS sends it (and expires_on) as a string.
  std::optional<int64_t> expires_in;
  // Seconds since the epoch, when sent.
  std::optional<int64_t> expires_on;
};

// An OAuth error body (Entra ID, Databricks OIDC, IMDS):
// {"error": "invalid_client", "error_description": "AADSTS7000215: ..."}.
struct OAuthError {
  std::string error;
  std::string error_description;
};

// The body of POST /api/2.0/pipelines/{pipeline_id}/updates. Unset or empty
// fields are not written.
struct StartUpdateRequest {
  // Also in the path; written first in the body, as Polysync's page for the
  // job type shows the request (empty: left out).
  std::string pipeline_id;
  std::optional<bool> full_refresh;
  std::vector<std::string> refresh_selection;
  std::vector<std::string> full_refresh_selection;
  std::vector<std::string> refresh_flow_selection;
  std::vector<std::string> reset_checkpoint_selection;
  std::optional<bool> validate_only;
  std::optional<std::string> cause;
  // Per-update parameters; unset: no `parameters` sent (the pipeline's
  // defaults apply). Written as a JSON object of strings.
  std::optional<std::vector<std::pair<std::string, std::string>>> parameters;
};

// Query parameters of GET /api/2.0/pipelines.
struct ListPipelinesRequest {
  std::optional<int> max_results;  // 1..100; the API's default is 25
  std::string page_token;
  // e.g. "name LIKE '%sales%'" or "notebook='/Users/x/nb'"; sent as is
  // (percent-encoded), Databricks parses it.
  std::string filter;
  std::vector<std::string> order_by;  // e.g. {"name asc"}
};

// Query parameters of GET /api/2.0/pipelines/{pipeline_id}/updates.
struct ListUpdatesRequest {
  std::optional<int> max_results;  // 1..100
  std::string page_token;
  std::string until_update_id;  // validated like any update id
};

// The order of a pipeline's events: newest first is the API's default,
// oldest first is `order_by ["timestamp asc"]`.
enum class EventOrder { kNewestFirst, kOldestFirst };

// Query parameters of GET /api/2.0/pipelines/{pipeline_id}/events.
struct ListEventsRequest {
  std::optional<int> max_results;  // 1..kMaxEventsPageSize (request_bodies.h)
  // The API refuses page_token combined with anything but max_results: when
  // page_token is set, filter and order_by are not sent (the token carries
  // them).
  std::string page_token;
  std::string filter;                 // see EventsFilter() in request_bodies.h
  std::vector<std::string> order_by;  // e.g. {"timestamp asc"}
};

}  // namespace polysync::databricks

#endif  // POLYSYNC_ADAPTERS_DATABRICKS_WIRE_TYPES_H_
