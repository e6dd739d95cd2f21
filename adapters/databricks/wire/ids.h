// Validation of the identifiers that go into Databricks URLs, and the run id
// Polysync uses to name one pipeline update.
//
// Why: pipeline, update and request ids are pasted into URL paths
// (`/api/2.0/pipelines/{pipeline_id}/updates/{update_id}`), so anything that
// is not the expected shape (`../clusters`, `%2e%2e`, CR/LF, NUL, 10 KB
// strings) must be refused before a request is built. Databricks ids have the
// 8-4-4-4-12 shape of a UUID but are not always hex (the API guide's own
// examples use ids such as `a12cd3e4-0ab1-1abc-1a2b-1a2bcd3e4fg5`), so any
// ASCII letter or digit is accepted.
//
//   if (absl::Status s = ValidatePipelineId(id); !s.ok()) return s;
//   absl::StatusOr<RunId> run = ParseRunId("a12cd3e4-...:9a84f906-...");
//   std::string text = FormatRunId(run->pipeline_id, run->update_id);
#ifndef POLYSYNC_ADAPTERS_DATABRICKS_WIRE_IDS_H_
#define POLYSYNC_ADAPTERS_DATABRICKS_WIRE_IDS_H_

#include <string>
#include <string_view>

#include "absl/status/status.h"
#include "absl/status/statusor.h"

namespace polysync::databricks {

// True when `id` is 8-4-4-4-12 ASCII letters and digits separated by '-'.
bool HasIdShape(std::string_view id);

// OK, or INVALID_ARGUMENT naming the field and showing a short escaped prefix
// of the bad value, e.g.
//   pipeline_id must be 8-4-4-4-12 letters and digits, got "../clusters"
absl::Status ValidatePipelineId(std::string_view id);
absl::Status ValidateUpdateId(std::string_view id);
absl::Status ValidateRequestId(std::string_view id);

// One update of one pipeline, as Polysync names it:
// "{pipeline_id}:{update_id}".
struct RunId {
  std::string pipeline_id;
  std::string update_id;
};

// Parses "{pipeline_id}:{update_id}" (both validated); INVALID_ARGUMENT
// otherwise.
absl::StatusOr<RunId> ParseRunId(std::string_view run_id);

// "{pipeline_id}:{update_id}". Does not validate; ParseRunId does.
std::string FormatRunId(std::string_view pipeline_id,
                        std::string_view update_id);

}  // namespace polysync::databricks

#endif  // POLYSYNC_ADAPTERS_DATABRICKS_WIRE_IDS_H_
