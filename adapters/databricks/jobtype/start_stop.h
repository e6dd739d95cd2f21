// The start/stop engine of the "Databricks Pipeline" job type.
//
// JobType (job_type.h) resolves each request first (the workspace, the ids,
// rules.h PlanStart) and hands the engine typed values; everything here is
// asynchronous (callbacks on the transport's thread).
//
//   start_stop.Start(workspace, request, *std::move(body), ctx, done);
//   start_stop.Stop(workspace, run, ctx, done);
//
// Start: honours idempotency keys (scoped to workspace and pipeline, within a
// window; a duplicate in flight waits for the first call's result; only
// successes are remembered, also one settled after the caller's deadline:
// a keyed start is not cut off when its caller leaves); and handles an update
// that is already active (fail, attach, or restart: stop it, wait for the
// pipeline's state to be IDLE, start; see StartOp in start_stop.cc).
// Stop: the API stops a pipeline's *active* update, so Stop first checks that
// the run (or DLT's retry of it) is that update; a run that has ended is
// answered with its status and stop_sent=false; a different active update is
// FAILED_PRECONDITION. A run whose retry is pending (no update active yet)
// is stopped all the same, noted as stopped (status_reader.h), and a retry
// that appears within gap_stop_window is stopped in turn (at most three
// stops in all).
#ifndef POLYSYNC_ADAPTERS_DATABRICKS_JOBTYPE_START_STOP_H_
#define POLYSYNC_ADAPTERS_DATABRICKS_JOBTYPE_START_STOP_H_

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
#include "adapters/databricks/jobtype/rules.h"
#include "adapters/databricks/jobtype/status_reader.h"
#include "adapters/databricks/wire/ids.h"
#include "polysync/databricks/v1/pipelines.pb.h"

namespace polysync::databricks::jobtype {

struct StartStopOptions {
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

class StartStop {
 public:
  template <typename T>
  using Done = std::function<void(absl::StatusOr<T>)>;

  // `transport` provides timers (RunAfter) for restart and stop polling.
  StartStop(StatusReader& reader, http::Transport& transport,
            StartStopOptions options);

  // `body` is PlanStart(request), already checked: what is sent.
  void Start(api::Workspace& ws, const v1::StartUpdateRequest& request,
             StartUpdateRequest body, api::CallContext ctx,
             Done<v1::StartUpdateResponse> done);
  void Stop(api::Workspace& ws, RunId run, api::CallContext ctx,
            Done<v1::StopUpdateResponse> done);

  struct IdempotencyEntry;

 private:
  // `outlive_caller`: settle the start even after the caller has gone (a
  // keyed start, whose outcome is remembered for the caller's retry).
  void StartChecked(api::Workspace& ws, const v1::StartUpdateRequest& request,
                    StartUpdateRequest body, api::CallContext ctx,
                    bool outlive_caller, Done<v1::StartUpdateResponse> done);
  void RememberResult(const std::string& key,
                      const absl::StatusOr<v1::StartUpdateResponse>& result);

  StatusReader& reader_;
  http::Transport& transport_;
  const StartStopOptions options_;

  mutable std::mutex mu_;
  std::map<std::string, std::shared_ptr<IdempotencyEntry>>
      idempotency_;                           // guarded by mu_
  std::list<std::string> idempotency_order_;  // guarded by mu_; oldest first
};

}  // namespace polysync::databricks::jobtype

#endif  // POLYSYNC_ADAPTERS_DATABRICKS_JOBTYPE_START_STOP_H_
