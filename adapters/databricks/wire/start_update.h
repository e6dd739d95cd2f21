// The API's own rules on a start update request (POST
// /api/2.0/pipelines/{pipeline_id}/updates), checked before anything is
// sent. One place for them: the job type checks a StartUpdate RPC with them
// before any I/O (jobtype/rules.h: PlanStart), and the request body is
// written only when they hold (request_bodies.h: StartUpdateBody).
//
//   StartUpdateRequest request;
//   request.full_refresh = true;
//   request.refresh_selection = {"sales_orders_cleaned"};
//   absl::Status s = ValidateStartUpdate(request);
//   // INVALID_ARGUMENT: "full_refresh cannot be combined with a selection
//   // (...)"
#ifndef POLYSYNC_ADAPTERS_DATABRICKS_WIRE_START_UPDATE_H_
#define POLYSYNC_ADAPTERS_DATABRICKS_WIRE_START_UPDATE_H_

#include <cstddef>

#include "absl/status/status.h"
#include "adapters/databricks/wire/types.h"

namespace polysync::databricks {

// The API's limit on a start's `parameters` as JSON ("Maximum total size:
// 10k characters (JSON format)"), counted here in bytes of UTF-8, which are
// never fewer than characters.
inline constexpr size_t kMaxParametersJsonBytes = 10000;

// INVALID_ARGUMENT when a table or flow name is empty or not valid UTF-8,
// when full_refresh is true together with a selection (the API refuses that
// combination: a full refresh already recomputes every table), when
// `parameters` has an empty key, a key with a control character, a key given
// twice, text that is not UTF-8, or more than kMaxParametersJsonBytes bytes as
// JSON, or when `pipeline_id` or `cause` is not valid UTF-8. OK otherwise.
absl::Status ValidateStartUpdate(const StartUpdateRequest& request);

}  // namespace polysync::databricks

#endif  // POLYSYNC_ADAPTERS_DATABRICKS_WIRE_START_UPDATE_H_
