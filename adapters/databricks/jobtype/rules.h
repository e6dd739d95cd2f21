// The rules of Polysync's "Databricks Pipeline" job type, as pure functions.
//
// What a pipeline looks like as a Polysync job (its parameters, link and
// notes), how StartUpdate reads `full_refresh` from the job's parameters and
// which requests it refuses, and how a DLT update state becomes a Polysync
// status. No I/O: the engines (importer.h, start_stop.h, status_reader.h) call
// these.
//
//   v1::ImportedJob job = ImportedJobFromPipeline(pipeline, "prod", host, {});
//   v1::RunStatus status = StatusForState("WAITING_FOR_RESOURCES");  // UNKNOWN
#ifndef POLYSYNC_ADAPTERS_DATABRICKS_JOBTYPE_RULES_H_
#define POLYSYNC_ADAPTERS_DATABRICKS_JOBTYPE_RULES_H_

#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/time/time.h"
#include "adapters/databricks/wire/types.h"
#include "polysync/databricks/v1/pipelines.pb.h"

namespace polysync::databricks::jobtype {

inline constexpr absl::string_view kJobType = "Databricks Pipeline";
inline constexpr absl::string_view kFullRefresh = "full_refresh";
// A job parameter named "parameters.<key>" is the update parameter <key>.
inline constexpr absl::string_view kUpdateParameterPrefix = "parameters.";

// Limits on a StartUpdate request.
inline constexpr size_t kMaxParameters = 1000;
inline constexpr size_t kMaxParameterNameBytes = 256;
inline constexpr size_t kMaxParameterValueBytes = 64 * 1024;
inline constexpr size_t kMaxSelectionTables = 1000;
inline constexpr size_t kMaxTableNameBytes = 1024;
inline constexpr size_t kMaxIdempotencyKeyBytes = 256;
// (Databricks' own limit on the parameters map is wire/start_update.h's.)

// The configuration key prefixes imported as STRING parameters by default.
std::vector<std::string> DefaultConfigurationPrefixes();

// `{host}/#joblist/pipelines/{pipeline_id}`.
std::string PipelineLink(absl::string_view host, absl::string_view pipeline_id);

// The pipeline as a Polysync job: `continuous`, `development`, `photon`
// (BOOL, when the spec has them), every configuration key starting with one
// of `prefixes` (STRING, sorted by key), every default update parameter as
// `parameters.<key>` (STRING, forwarded, sorted by key), then `full_refresh`
// (BOOL, "false", forwarded).
v1::ImportedJob ImportedJobFromPipeline(
    const Pipeline& pipeline, absl::string_view workspace,
    absl::string_view host, const std::vector<std::string>& prefixes);

// Validates a StartUpdate request and returns the body to send: the
// service's limits and the `full_refresh` job parameter (always sent, true or
// false), then the API's own rules (wire/start_update.h: a selection together
// with full refresh, the parameters' size). `parameters` holds the
// `parameters.<key>` given, as <key> -> value in request order, and is unset
// when none was given (no map is sent); `validate_only` is set only when
// true; `pipeline_id` is left empty (the engine sends it in the path).
// INVALID_ARGUMENT with a precise message otherwise. Does not validate the
// pipeline id (ids.h does).
absl::StatusOr<StartUpdateRequest> PlanStart(
    const v1::StartUpdateRequest& request);

// The seed's table: RUNNING/STOPPING -> RUNNING; COMPLETED -> SUCCESS;
// FAILED -> FAILED; CANCELED -> CANCELLED; anything else -> UNKNOWN.
v1::RunStatus StatusForState(absl::string_view dlt_state);

// SUCCESS, FAILED and CANCELLED are terminal.
bool IsTerminalStatus(v1::RunStatus status);

// Thresholds for hints.
struct HintOptions {
  absl::Duration waiting_for_resources = absl::Minutes(10);
  absl::Duration stopping_continuous = absl::Minutes(5);
};

// Advice for an operator, or "" when nothing looks stuck. `in_state_since`
// is when the update entered `dlt_state` (its creation time when unknown).
std::string HintFor(absl::string_view dlt_state, bool continuous,
                    absl::Time in_state_since, absl::Time now,
                    const HintOptions& options);

// Parses the API's RFC 3339 text ("2026-11-20T09:00:01.250Z") into `out`;
// false for anything else (epoch milliseconds included).
bool ParseRfc3339(absl::string_view text, absl::Time* out);

}  // namespace polysync::databricks::jobtype

#endif  // POLYSYNC_ADAPTERS_DATABRICKS_JOBTYPE_RULES_H_
