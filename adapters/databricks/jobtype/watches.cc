#include "adapters/databricks/jobtype/watches.h"

#include <algorithm>
#include <vector>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"

namespace polysync::databricks::jobtype {

struct Watches::Poll {
  api::Workspace* workspace;
  RunId run;
  api::CallContext ctx;
  struct Watcher {
    OnStatus on_status;
    OnEnd on_end;
  };
  std::map<uint64_t, Watcher> watchers;
  std::optional<v1::UpdateStatus> last;
  absl::Duration interval;
  uint64_t generation = 0;  // tells this poll's timers from an older poll's
  // Terminal answers seen that were incomplete (the event log unread).
  int incomplete_terminal = 0;
};

namespace {

bool Changed(const v1::UpdateStatus& a, const v1::UpdateStatus& b) {
  return a.dlt_state() != b.dlt_state() || a.status() != b.status() ||
         a.terminal() != b.terminal() ||
         a.retry().retrying() != b.retry().retrying() ||
         a.retry().retry_update_id() != b.retry().retry_update_id() ||
         a.incomplete() != b.incomplete();
}

bool Transient(const absl::Status& s) {
  return s.code() == absl::StatusCode::kUnavailable ||
         s.code() == absl::StatusCode::kDeadlineExceeded ||
         s.code() == absl::StatusCode::kResourceExhausted;
}

}  // namespace

Watches::Watches(StatusReader& reader, http::Transport& transport,
                 WatchOptions options)
    : reader_(reader),
      transport_(transport),
      options_(std::move(options)),
      alive_(std::make_shared<bool>(true)) {}

Watches::~Watches() {
  std::lock_guard<std::mutex> lock(mu_);
  *alive_ = false;
}

int Watches::watchers() const {
  std::lock_guard<std::mutex> lock(mu_);
  return static_cast<int>(watcher_poll_.size());
}

int Watches::polls() const {
  std::lock_guard<std::mutex> lock(mu_);
  return static_cast<int>(polls_.size());
}

absl::StatusOr<uint64_t> Watches::Watch(api::Workspace& workspace,
                                        const RunId& run,
                                        const api::CallContext& ctx,
                                        OnStatus on_status, OnEnd on_end) {
  const std::string key = RunKey(workspace.name(), run);
  uint64_t id;
  bool start = false;
  std::optional<v1::UpdateStatus> current;
  {
    std::lock_guard<std::mutex> lock(mu_);
    if (static_cast<int>(watcher_poll_.size()) >= options_.max_watchers) {
      return absl::ResourceExhaustedError(
          absl::StrCat("this server already has ", options_.max_watchers,
                       " open watches; retry later or poll GetUpdateStatus"));
    }
    id = next_id_++;
    auto& poll = polls_[key];
    if (poll == nullptr) {
      poll = std::make_shared<Poll>();
      poll->workspace = &workspace;
      poll->run = run;
      poll->ctx = ctx;
      poll->ctx.deadline = absl::InfiniteFuture();  // each read: default
      poll->ctx.cancelled = nullptr;  // outlives the watcher that began it
      poll->interval = options_.initial_interval;
      poll->generation = id;  // unique and non-zero: ids are never reused
      start = true;
    }
    current = poll->last;
    poll->watchers[id] = {on_status, std::move(on_end)};
    watcher_poll_[id] = key;
  }
  if (current.has_value()) {
    // Join a poll in progress: the latest status at once.
    transport_.RunAfter(absl::ZeroDuration(),
                        [on_status, s = *current] { on_status(s); });
  }
  if (start) Tick(key, 0);
  return id;
}

void Watches::Cancel(uint64_t id) {
  std::lock_guard<std::mutex> lock(mu_);
  auto it = watcher_poll_.find(id);
  if (it == watcher_poll_.end()) return;
  auto poll = polls_.find(it->second);
  if (poll != polls_.end()) {
    poll->second->watchers.erase(id);
    if (poll->second->watchers.empty()) polls_.erase(poll);
  }
  watcher_poll_.erase(it);
}

void Watches::EndAll(const absl::Status& status) {
  std::vector<OnEnd> ends;
  {
    std::lock_guard<std::mutex> lock(mu_);
    for (auto& [key, poll] : polls_) {
      for (auto& [id, w] : poll->watchers) ends.push_back(std::move(w.on_end));
    }
    polls_.clear();
    watcher_poll_.clear();
  }
  for (auto& end : ends) {
    if (end) end(status);
  }
}

void Watches::Tick(const std::string& key, uint64_t generation) {
  std::shared_ptr<Poll> poll;
  {
    std::lock_guard<std::mutex> lock(mu_);
    auto it = polls_.find(key);
    if (it == polls_.end()) return;  // every watcher left
    // A timer of a poll that ended (every watcher left, and a new watch of
    // the same run started its own poll) must not drive the new one.
    if (generation != 0 && it->second->generation != generation) return;
    poll = it->second;
  }
  std::weak_ptr<bool> alive = alive_;
  reader_.Read(*poll->workspace, poll->run, poll->ctx,
               [this, key, alive](absl::StatusOr<v1::UpdateStatus> status) {
                 if (auto a = alive.lock(); a && *a) OnResult(key, status);
               });
}

void Watches::OnResult(const std::string& key,
                       const absl::StatusOr<v1::UpdateStatus>& status) {
  std::vector<OnStatus> notify;
  std::vector<OnEnd> ends;
  absl::Duration next = absl::ZeroDuration();
  bool again = false;
  uint64_t generation = 0;
  {
    std::lock_guard<std::mutex> lock(mu_);
    auto it = polls_.find(key);
    if (it == polls_.end()) return;
    Poll& poll = *it->second;
    if (!status.ok() && !Transient(status.status())) {
      for (auto& [id, w] : poll.watchers) {
        ends.push_back(std::move(w.on_end));
        watcher_poll_.erase(id);
      }
      polls_.erase(it);
    } else {
      if (status.ok()) {
        const bool changed =
            !poll.last.has_value() || Changed(*poll.last, *status);
        if (changed) {
          poll.last = *status;
          for (auto& [id, w] : poll.watchers) notify.push_back(w.on_status);
          poll.interval = options_.initial_interval;
        } else {
          poll.interval = std::min(options_.max_interval,
                                   poll.interval * options_.multiplier);
        }
      } else {
        poll.interval = std::min(options_.max_interval,
                                 poll.interval * options_.multiplier);
      }
      // A terminal answer that lacks its failure messages or end time is not
      // the last word: poll on (a few times) for the complete one.
      const bool wait_for_rest =
          status.ok() && status->terminal() && status->incomplete() &&
          poll.incomplete_terminal++ < options_.incomplete_polls;
      if (status.ok() && status->terminal() && !wait_for_rest) {
        for (auto& [id, w] : poll.watchers) {
          ends.push_back(std::move(w.on_end));
          watcher_poll_.erase(id);
        }
        polls_.erase(it);
      } else {
        next = poll.interval;
        again = true;
        generation = poll.generation;
      }
    }
  }
  for (auto& n : notify) n(*status);
  const absl::Status end_status =
      status.ok() ? absl::OkStatus() : status.status();
  for (auto& e : ends) {
    if (e) e(end_status);
  }
  if (again) {
    std::weak_ptr<bool> alive = alive_;
    transport_.RunAfter(next, [this, key, alive, generation] {
      if (auto a = alive.lock(); a && *a) Tick(key, generation);
    });
  }
}

}  // namespace polysync::databricks::jobtype
