// Decoders for Databricks Pipelines API 2.0 responses (and OAuth token
// responses): one pure function per response body, returning the typed
// structs of types.h.
//
// Why: the typed client must never hand raw JSON to the rest of the service,
// and a broken or hostile upstream must not crash it or smuggle wrong types
// through. The rules, for every function here:
//   - unknown fields are ignored (their JSON is still checked to be valid);
//   - states and other enumerations are kept as text, so unknown values
//     decode;
//   - missing fields, and fields whose value is JSON null, are fine: they
//     leave the struct's default (empty string, nullopt, empty vector);
//   - a wrong type, malformed or truncated JSON, a document that is not an
//     object, or anything after the document is absl::InternalError, because
//     a 2xx body we cannot read is a broken contract, not a caller mistake.
//     The message starts with the field path, e.g.
//       "update.creation_time: expected integer"
//       "statuses[3].latest_updates[0].state: expected string"
//       "$: trailing content after the JSON document"
// Every function is total (never crashes, never throws) on any input, and
// reads the document once (simdjson On-Demand), so a 1,000-item page is
// cheap. simdjson stays inside decoders.cc.
//
//   absl::StatusOr<Pipeline> pipeline = DecodePipeline(response.body);
//   if (!pipeline.ok()) return pipeline.status();  // INTERNAL, names the field
//   for (const UpdateStateInfo& u : pipeline->latest_updates) { ... }
#ifndef POLYSYNC_ADAPTERS_DATABRICKS_WIRE_DECODERS_H_
#define POLYSYNC_ADAPTERS_DATABRICKS_WIRE_DECODERS_H_

#include <string_view>

#include "absl/status/statusor.h"
#include "adapters/databricks/wire/types.h"

namespace polysync::databricks {

// GET /api/2.0/pipelines/{pipeline_id}
absl::StatusOr<Pipeline> DecodePipeline(std::string_view body);

// GET /api/2.0/pipelines
absl::StatusOr<ListPipelinesPage> DecodeListPipelinesPage(
    std::string_view body);

// GET /api/2.0/pipelines/{pipeline_id}/updates/{update_id}: the
// {"update": {...}} wrapper. A body without "update" is an error.
absl::StatusOr<UpdateInfo> DecodeUpdate(std::string_view body);

// GET /api/2.0/pipelines/{pipeline_id}/updates
absl::StatusOr<ListUpdatesPage> DecodeListUpdatesPage(std::string_view body);

// POST /api/2.0/pipelines/{pipeline_id}/updates. A body without "update_id"
// is an error.
absl::StatusOr<StartUpdateResult> DecodeStartUpdateResult(
    std::string_view body);

// GET /api/2.0/pipelines/{pipeline_id}/requests/{request_id}
absl::StatusOr<RequestStatus> DecodeRequestStatus(std::string_view body);

// GET /api/2.0/pipelines/{pipeline_id}/events
absl::StatusOr<ListEventsPage> DecodeListEventsPage(std::string_view body);

// A Databricks error body {"error_code": ..., "message": ...}. Tolerant:
// `error_code` may be a string or an integer (old endpoints put the HTTP
// status there); other types for it or `message` are errors like anywhere
// else. errors.h uses this and falls back to the raw body on failure.
absl::StatusOr<DatabricksError> DecodeDatabricksError(std::string_view body);

// An OAuth token response: Entra ID and Databricks OIDC send `expires_in` as
// an integer, Azure IMDS sends `expires_in` and `expires_on` as strings of
// digits; both are accepted. A body without a non-empty "access_token" is an
// error.
absl::StatusOr<TokenResponse> DecodeTokenResponse(std::string_view body);

// An OAuth error body {"error": ..., "error_description": ...}.
absl::StatusOr<OAuthError> DecodeOAuthError(std::string_view body);

}  // namespace polysync::databricks

#endif  // POLYSYNC_ADAPTERS_DATABRICKS_WIRE_DECODERS_H_
