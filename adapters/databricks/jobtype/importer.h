// ImportPipelines' engine: every pipeline of a workspace as a Polysync job.
//
// Lists the pipelines page by page and, while later pages are still being
// listed, fetches each matching pipeline's details with at most
// `max_concurrent_details` requests in flight: by default all but one of the
// workspace's concurrent requests that bulk requests may use (its limiter's
// current limit minus the interactive share) while pages
// are being listed, so the next page is not queued behind this import's own
// details, then all of them. The import then
// takes about max(pages, N / concurrency) request times instead of their
// sum. Jobs are delivered in batches of `batch_size`. A
// pipeline whose details cannot be read becomes a PipelineError in a batch;
// the rest still import. Its requests are bulk: they wait behind interactive
// calls to the same workspace and leave them a share of its request slots
// (rate_limiter.h).
//
// When the workspace is known to be unreachable the import stops instead of
// spending a retry budget on every remaining pipeline: if listing fails
// (after the client's retries), nothing more is fetched, the batches already
// built are delivered and the import ends with that error, saying how many
// listed pipelines were not fetched; after `unreachable_after` pipelines in a
// row got no answer at all (connection refused, reset or timed out, after
// retries), the same, ending UNAVAILABLE "workspace ... is unreachable ...
// N pipelines not fetched; import again". So an import against a dead
// workspace ends within about one retry budget.
//
// With `pipeline_ids`, those pipelines are fetched directly (no listing); the
// name filter still applies. The name filter is an exact, case-sensitive
// substring match; when it is safe to do so the listing is also narrowed
// with the API's `name LIKE '%...%'` filter.
#ifndef POLYSYNC_ADAPTERS_DATABRICKS_JOBTYPE_IMPORTER_H_
#define POLYSYNC_ADAPTERS_DATABRICKS_JOBTYPE_IMPORTER_H_

#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "adapters/databricks/api/workspaces.h"
#include "polysync/databricks/v1/pipelines.pb.h"

namespace polysync::databricks::jobtype {

struct ImportOptions {
  std::vector<std::string> configuration_prefixes = {"spark.", "custom."};
  // 0: the workspace limiter's max_concurrency, minus one while listing.
  int max_concurrent_details = 0;
  int batch_size = 100;
  int page_size = 100;
  // Pipelines in a row whose details got no answer (after retries) before
  // the workspace is taken as unreachable and the import stops.
  int unreachable_after = 3;
};

class Import {
 public:
  using OnBatch = std::function<void(v1::ImportPipelinesResponse)>;
  using OnDone = std::function<void(const absl::Status&)>;

  // Validates the request (INVALID_ARGUMENT for a malformed pipeline id,
  // nothing sent) and starts. `on_batch` and `on_done` run on the
  // transport's thread (or inline for an immediate refusal); `on_done` runs
  // once, after the last batch.
  static std::shared_ptr<Import> Start(
      api::Workspace& workspace, const v1::ImportPipelinesRequest& request,
      api::CallContext ctx, const ImportOptions& options, OnBatch on_batch,
      OnDone on_done);

  // Stops issuing requests; on_done follows with CANCELLED once the
  // requests in flight have returned.
  virtual void Cancel() = 0;
  virtual ~Import() = default;
};

// Whether `name_filter` can be sent as `name LIKE '%...%'` without changing
// its meaning (no quote, '%', '_' or backslash).
bool LikeFilterIsExact(const std::string& name_filter);

}  // namespace polysync::databricks::jobtype

#endif  // POLYSYNC_ADAPTERS_DATABRICKS_JOBTYPE_IMPORTER_H_
