// Starting, reading and stopping runs of the "Databricks Pipeline" job type.
//
// The gRPC service calls these with its request messages; everything here is
// asynchronous (callbacks on the transport's thread, or inline for requests
// refused before anything is sent).
//
// Start: validates the request (rules.h PlanStart, ids.h) before anything is
// sent; honours idempotency keys (scoped to workspace and pipeline, within a
// window; a duplicate in flight waits for the first call's result; only
// successes are remembered, also one settled after the caller's deadline:
// a keyed start is not cut off when its caller leaves); and handles an update
// that is already active (fail, attach, or restart: stop it, wait for the
// pipeline's state to be IDLE, start; see StartOp in runs.cc).
// Stop: the API stops a pipeline's *active* update, so Stop first checks that
// the run (or DLT's retry of it) is that update; a run that has ended is
// answered with its status and stop_sent=false; a different active update is
// FAILED_PRECONDITION. A run whose retry is pending (no update active yet)
// is stopped all the same, noted as stopped (status_reader.h), and a retry
// that appears within gap_stop_window is stopped in turn (at most three
// stops in all).
#ifndef POLYSYNC_ADAPTERS_DATABRICKS_JOBTYPE_RUNS_H_
#define POLYSYNC_ADAPTERS_DATABRICKS_JOBTYPE_RUNS_H_

#include <functional>
#include <list>
#include <map>
#include <mutex>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "adapters/databricks/api/workspaces.h"
#include "adapters/databricks/http/transport.h"
#include "adapters/databricks/ids.h"
#include "adapters/databricks/jobtype/rules.h"
#include "adapters/databricks/jobtype/status_reader.h"
#include "polysync/databricks/v1/pipelines.pb.h"

namespace polysync::databricks::jobtype {

struct RunsOptions {
  // How long a successful StartUpdate is remembered for its idempotency key.
  absl::Duration idempotency_window = absl::Hours(1);
  size_t max_idempotency_entries = 100000;
  // IF_RUNNING_RESTART: how often to read the pipeline while waiting for
  // its state to be IDLE after the stop, and how long to wait at most (from
  // the first stop; the caller's deadline may end it sooner). The
  // configuration's `restart_timeout` sets the latter.
  absl::Duration restart_poll = absl::Seconds(2);
  absl::Duration restart_timeout = absl::Minutes(10);
  // A stop while DLT's retry is pending: how long a retry that appears is
  // watched for (and stopped in turn), re-reading every restart_poll.
  absl::Duration gap_stop_window = absl::Minutes(1);
  std::function<absl::Time()> now = [] { return absl::Now(); };
};

// A run id and the workspace it belongs to, both checked.
struct ResolvedRun {
  api::Workspace* workspace;
  RunId run;
};

class Runs {
 public:
  template <typename T>
  using Done = std::function<void(absl::StatusOr<T>)>;

  // `transport` provides timers (RunAfter) for restart polling.
  Runs(api::Workspaces& workspaces, StatusReader& reader,
       http::Transport& transport, RunsOptions options);

  void Start(const v1::StartUpdateRequest& request, api::CallContext ctx,
             Done<v1::StartUpdateResponse> done);
  void Status(const v1::GetUpdateStatusRequest& request, api::CallContext ctx,
              Done<v1::UpdateStatus> done);
  void Stop(const v1::StopUpdateRequest& request, api::CallContext ctx,
            Done<v1::StopUpdateResponse> done);

  // Parses `run_id` and finds `workspace`: INVALID_ARGUMENT for a malformed
  // run id, NOT_FOUND for an unknown workspace; nothing is sent.
  absl::StatusOr<ResolvedRun> Resolve(absl::string_view workspace,
                                      std::string_view run_id);

  // Idempotency entries currently remembered (tests, metrics).
  size_t idempotency_entries() const;

  struct IdempotencyEntry;

 private:
  // `outlive_caller`: settle the start even after the caller has gone (a
  // keyed start, whose outcome is remembered for the caller's retry).
  void StartChecked(api::Workspace& ws, const v1::StartUpdateRequest& request,
                    StartPlan plan, api::CallContext ctx, bool outlive_caller,
                    Done<v1::StartUpdateResponse> done);
  void RememberResult(const std::string& key,
                      const absl::StatusOr<v1::StartUpdateResponse>& result);

  api::Workspaces& workspaces_;
  StatusReader& reader_;
  http::Transport& transport_;
  const RunsOptions options_;

  mutable std::mutex mu_;
  std::map<std::string, std::shared_ptr<IdempotencyEntry>>
      idempotency_;                           // guarded by mu_
  std::list<std::string> idempotency_order_;  // guarded by mu_; oldest first
};

}  // namespace polysync::databricks::jobtype

#endif  // POLYSYNC_ADAPTERS_DATABRICKS_JOBTYPE_RUNS_H_
