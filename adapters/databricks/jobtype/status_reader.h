// Reading a run's Polysync status from Databricks, with DLT's own retries
// followed, failure messages, end time and hints; cached and coalesced.
//
// For a run "{pipeline_id}:{update_id}":
//  1. GET the update and map its state with the seed's table (rules.h).
//  2. If it FAILED, DLT may retry it. The run follows DLT's retries: the
//     pipeline's first update after the failed one, when its cause is
//     RETRY_ON_FAILURE, is the run's new attempt (and so on, attempt after
//     attempt); the status is that of the newest attempt. The first update
//     after it comes from the pipeline's `latest_updates` (GET pipeline),
//     or from list updates (`until_update_id`) when it is older than those.
//     With no update after the FAILED one yet, the run is *retry pending*
//     (RUNNING, not terminal, `retry.retrying` set) while all of these hold:
//       - the pipeline is in production mode (`development` false; the
//         update's own settings, else the pipeline's),
//       - the update was not `validate_only`,
//       - the pipeline is neither IDLE, FAILED nor DELETED,
//       - its ERROR events are not all `fatal`,
//       - less than `retry_window` has passed since it failed.
//     Otherwise, or once a newer update has another cause, the run is
//     FAILED, final. A failure that cannot be read (the pipeline, the
//     updates) is UNAVAILABLE, never a guessed final status; unreadable
//     events leave the run pending (and the answer incomplete).
//     An update that carries a `request_id` (workspaces that still speak
//     the retired API guide) is read through GET .../requests/{request_id}
//     instead: ACTIVE is retry pending, TERMINATED means the request's
//     latest update decides. A 404 or 400 from that endpoint switches the
//     workspace to the rule above for good (api::Workspace, logged once).
//  3. For a terminal update, read its events once (filter update_id='...'):
//     ERROR messages and exception messages, and the end time from the
//     terminal update_progress event.
//  4. Hints for long waits (rules.h HintFor) and for a pending retry.
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
#include "adapters/databricks/jobtype/rules.h"
#include "adapters/databricks/wire/ids.h"
#include "polysync/databricks/v1/pipelines.pb.h"

namespace polysync::databricks::jobtype {

struct StatusOptions {
  // How long a non-terminal status is reused; zero disables the cache (reads
  // still share one upstream computation while it runs).
  absl::Duration cache_ttl = absl::Seconds(1);
  // How long a terminal status is reused.
  absl::Duration terminal_ttl = absl::Minutes(10);
  // How long after a failure (its end time) a run waits for DLT's retry
  // before it is reported Failed.
  absl::Duration retry_window = absl::Minutes(15);
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

  // A caller stopped `run` while DLT's retry of its FAILED update
  // `failed_update_id` was pending: should no retry come (the pipeline goes
  // idle, or the window passes), the run reads CANCELLED, not FAILED.
  // Remembered by this replica for retry_window + terminal_ttl.
  void NoteStoppedInGap(api::Workspace& workspace, const RunId& run,
                        const std::string& failed_update_id);

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
  // A final Failed of a run stopped in the gap (NoteStoppedInGap) becomes
  // CANCELLED; checked as each computation ends, so a read that began before
  // the stop is converted too.
  void ApplyStopNote(const std::string& key, v1::UpdateStatus& status);
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
  struct StoppedNote {
    std::string update_id;
    absl::Time expires;
  };
  std::map<std::string, StoppedNote> stopped_;  // guarded by mu_
  std::list<std::string> stopped_order_;        // guarded by mu_
};

// The key of a run in caches and shared polls: "workspace|pipeline:update".
std::string RunKey(absl::string_view workspace, const RunId& run);

}  // namespace polysync::databricks::jobtype

#endif  // POLYSYNC_ADAPTERS_DATABRICKS_JOBTYPE_STATUS_READER_H_
