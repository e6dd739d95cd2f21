// Reading a run's Polysync status from Databricks, with DLT's own retries
// followed, failure messages, end time and hints; cached and coalesced.
//
// For a run "{pipeline_id}:{update_id}":
//  1. GET the update and map its state with the seed's table (rules.h).
//  2. If it FAILED, GET its request (/requests/{request_id}): while the
//     request is ACTIVE, DLT may retry it (a new update, cause
//     RETRY_ON_FAILURE, same request id), so the run is RUNNING, not
//     terminal, with `retry.retrying` set; once TERMINATED, the run's status
//     is that of the request's latest update.
//  3. For a terminal update, read its events once (filter update_id='...'):
//     ERROR messages and exception messages, and the end time from the
//     terminal update_progress event.
//  4. Hints for long waits (rules.h HintFor).
// Concurrent identical reads share one upstream computation, and results are
// kept for `cache_ttl` (terminal ones for `terminal_ttl`) in a bounded LRU.
// Only complete results are kept: when a read of step 2 or 3 fails, the
// answer says so (an error for step 2, a hint naming what is missing for
// step 3) and the next read computes it again.
// A shared computation runs with the service's own upstream timeout, not a
// caller's deadline, so that a caller with a short deadline cannot fail the
// others; each caller is answered at its own deadline (DEADLINE_EXCEEDED)
// or with the result, whichever comes first. A computation no caller waits
// for any more stops before its next upstream request.
//
//   StatusReader reader(options, transport);  // transport: deadline timers
//   reader.Read(workspace, run, ctx, [](absl::StatusOr<v1::UpdateStatus> s)
//   {});
#ifndef POLYSYNC_ADAPTERS_DATABRICKS_JOBTYPE_STATUS_READER_H_
#define POLYSYNC_ADAPTERS_DATABRICKS_JOBTYPE_STATUS_READER_H_

#include <functional>
#include <list>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "adapters/databricks/api/workspaces.h"
#include "adapters/databricks/http/transport.h"
#include "adapters/databricks/ids.h"
#include "adapters/databricks/jobtype/rules.h"
#include "polysync/databricks/v1/pipelines.pb.h"

namespace polysync::databricks::jobtype {

struct StatusOptions {
  // How long a non-terminal status is reused; zero disables the cache (reads
  // still share one upstream computation while it runs).
  absl::Duration cache_ttl = absl::Seconds(1);
  // How long a terminal status is reused.
  absl::Duration terminal_ttl = absl::Minutes(10);
  // At most this many cached runs (least recently used are dropped).
  size_t max_entries = 10000;
  HintOptions hints;
  std::function<absl::Time()> now = [] { return absl::Now(); };
};

class StatusReader {
 public:
  using Done = std::function<void(absl::StatusOr<v1::UpdateStatus>)>;

  // `timers` (RunAfter) answers callers at their deadlines; it must outlive
  // the reader.
  StatusReader(StatusOptions options, http::Transport& timers);

  // The status of `run` in `workspace` (cache, then a shared computation).
  // `done` runs once: with the status, an error, or DEADLINE_EXCEEDED at
  // `ctx.deadline` when the computation has not finished by then.
  void Read(api::Workspace& workspace, const RunId& run,
            const api::CallContext& ctx, Done done);

  // Like Read, but never answers from the cache (a computation already in
  // flight is still shared).
  void ReadFresh(api::Workspace& workspace, const RunId& run,
                 const api::CallContext& ctx, Done done);

  // Cache statistics (metrics, tests).
  size_t cached_entries() const;

 private:
  struct Flight;
  struct Entry {
    v1::UpdateStatus status;
    absl::Time fetched;
    std::list<std::string>::iterator lru;
  };

  void Compute(api::Workspace& workspace, const RunId& run,
               const api::CallContext& ctx, const std::string& key, Done done,
               bool fresh);
  void Store(const std::string& key, const absl::StatusOr<v1::UpdateStatus>& s);
  static void ArmDeadline(http::Transport& timers,
                          std::shared_ptr<Flight> flight, uint64_t waiter,
                          absl::Time deadline, std::string run_id);

  const StatusOptions options_;
  http::Transport& timers_;
  mutable std::mutex mu_;
  std::map<std::string, Entry> cache_;  // guarded by mu_
  std::list<std::string> lru_;          // guarded by mu_; front = newest
  std::map<std::string, std::shared_ptr<Flight>> inflight_;  // guarded by mu_
  uint64_t next_waiter_ = 1;                                 // guarded by mu_
};

// The key of a run in caches and shared polls: "workspace|pipeline:update".
std::string RunKey(absl::string_view workspace, const RunId& run);

}  // namespace polysync::databricks::jobtype

#endif  // POLYSYNC_ADAPTERS_DATABRICKS_JOBTYPE_STATUS_READER_H_
