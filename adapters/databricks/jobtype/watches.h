// WatchUpdate's engine: one shared poll per run, however many watchers.
//
// Watchers of the same run (same workspace and run id) share one poll loop,
// which reads the status through the StatusReader (so pollers and
// GetUpdateStatus callers share upstream requests too). The poll interval
// starts at `initial_interval` and grows by `multiplier` up to
// `max_interval` while nothing changes; a change resets it. Each watcher gets
// the current status at once, then every change of the DLT state, the
// Polysync status or the retry information, and ends after a terminal status.
// Transient errors (UNAVAILABLE, DEADLINE_EXCEEDED, RESOURCE_EXHAUSTED) keep
// the poll going; others end every watcher of the run with that error. A
// changing hint alone is not a change (its text counts the time).
//
//   auto id = watches.Watch(ws, run, ctx, on_status, on_end);
//   ...
//   watches.Cancel(*id);   // the client went away
#ifndef POLYSYNC_ADAPTERS_DATABRICKS_JOBTYPE_WATCHES_H_
#define POLYSYNC_ADAPTERS_DATABRICKS_JOBTYPE_WATCHES_H_

#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <string>

#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "adapters/databricks/api/workspaces.h"
#include "adapters/databricks/http/transport.h"
#include "adapters/databricks/jobtype/status_reader.h"

namespace polysync::databricks::jobtype {

struct WatchOptions {
  absl::Duration initial_interval = absl::Seconds(1);
  absl::Duration max_interval = absl::Seconds(10);
  double multiplier = 1.5;
  // Watchers per server; beyond it Watch() is RESOURCE_EXHAUSTED.
  int max_watchers = 10000;
  // Polls after a terminal answer that is incomplete (UpdateStatus
  // .incomplete) before the watch ends with it anyway.
  int incomplete_polls = 5;
};

class Watches {
 public:
  using OnStatus = std::function<void(const v1::UpdateStatus&)>;
  using OnEnd = std::function<void(const absl::Status&)>;

  Watches(StatusReader& reader, http::Transport& transport,
          WatchOptions options);
  ~Watches();

  // Starts watching. `on_status` and `on_end` run on the transport's thread;
  // `on_end` runs exactly once unless Cancel() comes first.
  absl::StatusOr<uint64_t> Watch(api::Workspace& workspace, const RunId& run,
                                 const api::CallContext& ctx,
                                 OnStatus on_status, OnEnd on_end);

  // Stops delivering to watcher `id` (no on_end). Safe to call twice.
  void Cancel(uint64_t id);

  // Ends every watcher with `status` (server draining).
  void EndAll(const absl::Status& status);

  int watchers() const;
  int polls() const;

  struct Poll;

 private:
  // One poll of run `key`; `generation` is that of the poll that scheduled
  // it (0 for the first).
  void Tick(const std::string& key, uint64_t generation);
  void OnResult(const std::string& key,
                const absl::StatusOr<v1::UpdateStatus>& status);

  StatusReader& reader_;
  http::Transport& transport_;
  const WatchOptions options_;

  mutable std::mutex mu_;
  std::map<std::string, std::shared_ptr<Poll>> polls_;  // guarded by mu_
  std::map<uint64_t, std::string> watcher_poll_;        // guarded by mu_
  uint64_t next_id_ = 1;                                // guarded by mu_
  std::shared_ptr<bool> alive_;
};

}  // namespace polysync::databricks::jobtype

#endif  // POLYSYNC_ADAPTERS_DATABRICKS_JOBTYPE_WATCHES_H_
