// The "Databricks Pipeline" job type as one object: what the gRPC service
// calls. It owns the status reader (cache), the start/stop engine
// (idempotency, if-running), the watches (shared polls) and the import
// settings, over the configured workspaces. Each method takes the public
// request message and answers with the public response message or an
// absl::Status, asynchronously. Every request is resolved here, once: the
// workspace (NOT_FOUND), the pipeline or run id and the start's rules
// (INVALID_ARGUMENT), answered at once with nothing sent; the engines get
// typed values.
//
//   JobType job_type(workspaces, transport, {});
//   job_type.GetUpdateStatus(request, ctx,
//                            [](absl::StatusOr<v1::UpdateStatus> s) {});
#ifndef POLYSYNC_ADAPTERS_DATABRICKS_JOBTYPE_JOB_TYPE_H_
#define POLYSYNC_ADAPTERS_DATABRICKS_JOBTYPE_JOB_TYPE_H_

#include <functional>
#include <memory>

#include "absl/status/statusor.h"
#include "adapters/databricks/api/workspaces.h"
#include "adapters/databricks/http/transport.h"
#include "adapters/databricks/jobtype/importer.h"
#include "adapters/databricks/jobtype/start_stop.h"
#include "adapters/databricks/jobtype/status_reader.h"
#include "adapters/databricks/jobtype/watches.h"
#include "polysync/databricks/v1/pipelines.pb.h"

namespace polysync::databricks::jobtype {

struct JobTypeOptions {
  StatusOptions status;
  StartStopOptions start_stop;
  WatchOptions watch;
  ImportOptions import;
};

class JobType {
 public:
  template <typename T>
  using Done = std::function<void(absl::StatusOr<T>)>;

  JobType(api::Workspaces& workspaces, http::Transport& transport,
          JobTypeOptions options);

  // Streams batches; see importer.h. Returns the import (for Cancel), or
  // nullptr when the request was refused at once (on_done already ran).
  std::shared_ptr<Import> ImportPipelines(
      const v1::ImportPipelinesRequest& request, api::CallContext ctx,
      Import::OnBatch on_batch, Import::OnDone on_done);
  void SyncParameters(const v1::SyncParametersRequest& request,
                      api::CallContext ctx,
                      Done<v1::SyncParametersResponse> done);
  void StartUpdate(const v1::StartUpdateRequest& request, api::CallContext ctx,
                   Done<v1::StartUpdateResponse> done);
  void GetUpdateStatus(const v1::GetUpdateStatusRequest& request,
                       api::CallContext ctx, Done<v1::UpdateStatus> done);
  void StopUpdate(const v1::StopUpdateRequest& request, api::CallContext ctx,
                  Done<v1::StopUpdateResponse> done);
  // Validates the request (INVALID_ARGUMENT / NOT_FOUND / RESOURCE_EXHAUSTED
  // at once) and starts a watch; see watches.h.
  absl::StatusOr<uint64_t> WatchUpdate(const v1::WatchUpdateRequest& request,
                                       api::CallContext ctx,
                                       Watches::OnStatus on_status,
                                       Watches::OnEnd on_end);
  void CancelWatch(uint64_t id) { watches_.Cancel(id); }
  // Ends every open watch (server draining).
  void EndWatches(const absl::Status& status) { watches_.EndAll(status); }
  v1::ListWorkspacesResponse ListWorkspaces() const;
  // The profile used when a request names no workspace.
  const std::string& default_workspace() const {
    return workspaces_.default_name();
  }

  Watches& watches() { return watches_; }

 private:
  // A run id and the workspace it belongs to, both checked.
  // The named workspace (the default for "") with `pipeline_id` checked;
  // NOT_FOUND or INVALID_ARGUMENT otherwise, nothing sent.
  absl::StatusOr<api::Workspace*> ResolvePipeline(absl::string_view workspace,
                                                  std::string_view pipeline_id);
  struct ResolvedRun {
    api::Workspace* workspace;
    RunId run;
  };
  absl::StatusOr<ResolvedRun> Resolve(absl::string_view workspace,
                                      std::string_view run_id);

  api::Workspaces& workspaces_;
  const JobTypeOptions options_;
  StatusReader reader_;
  StartStop start_stop_;
  Watches watches_;
};

}  // namespace polysync::databricks::jobtype

#endif  // POLYSYNC_ADAPTERS_DATABRICKS_JOBTYPE_JOB_TYPE_H_
