#include "adapters/databricks/jobtype/status_reader.h"

#include <algorithm>
#include <memory>

#include "absl/strings/str_cat.h"
#include "adapters/databricks/request_bodies.h"
#include "common/log.h"
#include "common/metrics.h"
#include "google/protobuf/util/time_util.h"

namespace polysync::databricks::jobtype {
namespace {

metrics::CounterFamily& CacheLookups() {
  static auto& family = metrics::Registry::Default().Counter(
      "polysync_status_cache_lookups_total",
      "GetUpdateStatus cache lookups, by result (hit, miss, shared).",
      {"result"});
  return family;
}

void SetTime(absl::Time t, google::protobuf::Timestamp* out) {
  *out = google::protobuf::util::TimeUtil::MillisecondsToTimestamp(
      absl::ToUnixMillis(t));
}

// What step 3 found in an update's events.
struct EventFacts {
  std::vector<std::string> failure_messages;
  std::optional<absl::Time> end_time;
  std::optional<absl::Time> stopping_since;
};

EventFacts FactsFrom(const ListEventsPage& page, absl::string_view update_id) {
  EventFacts facts;
  // Events come newest first; messages are reported oldest first.
  for (auto it = page.events.rbegin(); it != page.events.rend(); ++it) {
    const PipelineEvent& e = *it;
    if (!e.origin.update_id.empty() && e.origin.update_id != update_id) {
      continue;
    }
    absl::Time ts;
    const bool has_ts = ParseRfc3339(e.timestamp, &ts);
    if (e.event_type == "update_progress" && has_ts) {
      if (IsTerminalUpdateState(e.update_progress_state)) facts.end_time = ts;
      if (e.update_progress_state == "STOPPING") facts.stopping_since = ts;
    }
    if (e.level == "ERROR") {
      if (!e.message.empty()) facts.failure_messages.push_back(e.message);
      if (e.error.has_value()) {
        for (const auto& ex : e.error->exceptions) {
          if (!ex.message.empty()) facts.failure_messages.push_back(ex.message);
        }
      }
    }
  }
  return facts;
}

// One status computation: a small chain of upstream calls.
// It answers `done` once, with whether the answer is complete (every read
// it needed succeeded) and so may be cached. Its upstream requests use the
// service's own timeout, not a caller's deadline (callers come and go while
// it runs, see StatusReader::Compute); before each follow-up request it asks
// `wanted` whether any caller still waits, and stops when none does.
class Computation : public std::enable_shared_from_this<Computation> {
 public:
  using Done =
      std::function<void(absl::StatusOr<v1::UpdateStatus>, bool complete)>;

  Computation(api::Workspace& ws, RunId run, api::CallContext ctx,
              const StatusOptions& options, std::function<bool()> wanted,
              Done done)
      : ws_(ws),
        run_(std::move(run)),
        ctx_(std::move(ctx)),
        options_(options),
        wanted_(std::move(wanted)),
        done_(std::move(done)) {}

  void Start() {
    auto self = shared_from_this();
    ws_.client().GetUpdate(
        run_.pipeline_id, run_.update_id, ctx_,
        [self](absl::StatusOr<UpdateInfo> u) { self->OnUpdate(std::move(u)); });
  }

 private:
  void OnUpdate(absl::StatusOr<UpdateInfo> update) {
    if (!update.ok()) {
      done_(update.status(), false);
      return;
    }
    update_ = *std::move(update);
    status_.set_run_id(FormatRunId(run_.pipeline_id, run_.update_id));
    status_.set_pipeline_id(run_.pipeline_id);
    status_.set_update_id(run_.update_id);
    status_.set_request_id(update_.request_id);
    status_.set_link(PipelineLink(ws_.host(), run_.pipeline_id));
    status_.set_cause(update_.cause);
    status_.set_full_refresh(update_.full_refresh.value_or(false));
    if (update_.creation_time.has_value()) {
      SetTime(absl::FromUnixMillis(*update_.creation_time),
              status_.mutable_creation_time());
    }
    SetState(update_);
    if (update_.state == "FAILED" && !update_.request_id.empty() &&
        HasIdShape(update_.request_id)) {
      if (Abandoned()) return;
      auto self = shared_from_this();
      ws_.client().GetRequestStatus(run_.pipeline_id, update_.request_id, ctx_,
                                    [self](absl::StatusOr<RequestStatus> r) {
                                      self->OnRequest(std::move(r));
                                    });
      return;
    }
    Details(update_);
  }

  void SetState(const UpdateInfo& u) {
    status_.set_dlt_state(u.state);
    status_.set_status(StatusForState(u.state));
    status_.set_terminal(IsTerminalStatus(status_.status()));
  }

  void OnRequest(absl::StatusOr<RequestStatus> request) {
    if (!request.ok()) {
      // Whether DLT retries is unknown, whatever the answer was (a 404 of
      // the request or of the endpoint included: DLT may still retry, and
      // the retry may end COMPLETED). Never a final Failed on a guess (it
      // would be cached, and end every watch): an answer to ask again, so
      // transient codes stay, and any other becomes UNAVAILABLE.
      const absl::StatusCode code = request.status().code();
      const bool transient = code == absl::StatusCode::kUnavailable ||
                             code == absl::StatusCode::kDeadlineExceeded ||
                             code == absl::StatusCode::kResourceExhausted;
      done_(absl::Status(
                transient ? code : absl::StatusCode::kUnavailable,
                absl::StrCat("update ", run_.update_id,
                             " FAILED and whether DLT retries it cannot be "
                             "read yet: ",
                             request.status().message())),
            false);
      return;
    }
    v1::RetryInfo* retry = status_.mutable_retry();
    retry->set_request_status(request->status);
    retry->set_attempts(1);
    const bool has_latest = request->latest_update.has_value() &&
                            !request->latest_update->update_id.empty();
    if (has_latest && request->latest_update->update_id != run_.update_id) {
      retry->set_retry_update_id(request->latest_update->update_id);
      retry->set_attempts(2);
    }
    if (request->status == "ACTIVE") {
      // DLT is (or may be about to be) retrying: never report Failed yet.
      retry->set_retrying(true);
      status_.set_status(v1::RUN_STATUS_RUNNING);
      status_.set_terminal(false);
      ReadEvents(run_.update_id);  // the failure messages so far
      return;
    }
    if (has_latest && request->latest_update->update_id != run_.update_id) {
      // TERMINATED: the request's latest update decides.
      const UpdateInfo& latest = *request->latest_update;
      SetState(latest);
      if (status_.terminal()) {
        ReadEvents(latest.update_id);
        return;
      }
      Finish();
      return;
    }
    Details(update_);
  }

  // Step 3 and 4 for the update whose state the status shows.
  void Details(const UpdateInfo& u) {
    if (status_.terminal()) {
      ReadEvents(u.update_id);
      return;
    }
    const bool continuous =
        u.mode == "CONTINUOUS" ||
        (u.config.has_value() && u.config->continuous.value_or(false));
    if (u.state == "STOPPING" && continuous) {
      continuous_ = true;
      ReadEvents(u.update_id);
      return;
    }
    Finish();
  }

  // Step 3: the update's newest events (end time, when STOPPING began),
  // then, for a failure, its ERROR events (the messages).
  void ReadEvents(const std::string& update_id) {
    if (Abandoned()) return;
    events_for_ = update_id;
    ListEvents({}, [](Computation* self, const ListEventsPage& page) {
      self->facts_ = FactsFrom(page, self->events_for_);
      if (self->status_.terminal() && self->facts_.end_time.has_value()) {
        SetTime(*self->facts_.end_time, self->status_.mutable_end_time());
      }
      if (self->status_.dlt_state() != "FAILED" &&
          !self->status_.retry().retrying()) {
        self->Finish();
        return;
      }
      if (self->Abandoned()) return;
      self->ListEvents({"ERROR"}, [](Computation* self,
                                     const ListEventsPage& errors) {
        for (auto& m : FactsFrom(errors, self->events_for_).failure_messages) {
          self->status_.add_failure_messages(std::move(m));
        }
        self->Finish();
      });
    });
  }

  // Lists events of `events_for_` at `levels` (all when empty), newest
  // first. Details are best effort: a failure finishes with what is known,
  // an answer that says what is missing and is not cached (the next read
  // tries again).
  void ListEvents(std::vector<std::string> levels,
                  void (*then)(Computation*, const ListEventsPage&)) {
    ListEventsRequest request;
    request.max_results = 100;
    auto filter = EventsFilter(events_for_, levels);
    if (!filter.ok()) {
      Finish();
      return;
    }
    request.filter = *filter;
    auto self = shared_from_this();
    ws_.client().ListEvents(
        run_.pipeline_id, std::move(request), ctx_,
        [self, then](absl::StatusOr<ListEventsPage> page) {
          if (!page.ok()) {
            log::Warn(
                "cannot read update events",
                {log::Field("run_id", self->status_.run_id()),
                 log::Field("error", std::string(page.status().message()))});
            self->EventsMissing(page.status());
            self->Finish();
            return;
          }
          then(self.get(), *page);
        });
  }

  // The events read failed: say what the answer lacks.
  void EventsMissing(const absl::Status& error) {
    complete_ = false;
    std::string missing;
    if (status_.dlt_state() == "FAILED" || status_.retry().retrying()) {
      missing = "failure_messages";
    }
    if (status_.terminal() && !status_.has_end_time()) {
      missing = missing.empty() ? "end_time" : missing + " and end_time";
    }
    status_.set_incomplete(!missing.empty());
    events_hint_ = absl::StrCat(
        "the event log could not be read (Databricks: ",
        absl::StatusCodeToString(error.code()), ")",
        missing.empty() ? "" : absl::StrCat(", so ", missing, " missing"),
        "; the next read tries again");
  }

  // True (and finished) when no caller waits for this computation any more.
  bool Abandoned() {
    if (wanted_ == nullptr || wanted_()) return false;
    done_(absl::CancelledError("no caller waits for this status any more"),
          false);
    return true;
  }

  void Finish() {
    if (!status_.terminal()) {
      absl::Time since = absl::InfinitePast();
      if (status_.dlt_state() == "STOPPING" && facts_.stopping_since) {
        since = *facts_.stopping_since;
      } else if (update_.creation_time.has_value()) {
        since = absl::FromUnixMillis(*update_.creation_time);
      }
      if (since != absl::InfinitePast()) {
        status_.set_hint(HintFor(status_.dlt_state(), continuous_, since,
                                 options_.now(), options_.hints));
      }
    }
    if (!events_hint_.empty()) {
      status_.set_hint(status_.hint().empty()
                           ? events_hint_
                           : absl::StrCat(status_.hint(), "; ", events_hint_));
    }
    done_(std::move(status_), complete_);
  }

  api::Workspace& ws_;
  const RunId run_;
  const api::CallContext ctx_;
  const StatusOptions& options_;
  const std::function<bool()> wanted_;
  Done done_;
  UpdateInfo update_;
  v1::UpdateStatus status_;
  std::string events_for_;
  EventFacts facts_;
  bool continuous_ = false;
  bool complete_ = true;
  std::string events_hint_;
};

}  // namespace

std::string RunKey(absl::string_view workspace, const RunId& run) {
  return absl::StrCat(workspace, "|", run.pipeline_id, ":", run.update_id);
}

StatusReader::StatusReader(StatusOptions options, http::Transport& timers)
    : options_(std::move(options)), timers_(timers) {}

size_t StatusReader::cached_entries() const {
  std::lock_guard<std::mutex> lock(mu_);
  return cache_.size();
}

void StatusReader::Read(api::Workspace& workspace, const RunId& run,
                        const api::CallContext& ctx, Done done) {
  const std::string key = RunKey(workspace.name(), run);
  {
    std::unique_lock<std::mutex> lock(mu_);
    auto it = cache_.find(key);
    if (it != cache_.end()) {
      const absl::Duration ttl = it->second.status.terminal()
                                     ? options_.terminal_ttl
                                     : options_.cache_ttl;
      if (options_.now() - it->second.fetched < ttl) {
        lru_.splice(lru_.begin(), lru_, it->second.lru);
        v1::UpdateStatus copy = it->second.status;
        lock.unlock();
        CacheLookups().With({"hit"}).Increment();
        done(std::move(copy));
        return;
      }
    }
  }
  Compute(workspace, run, ctx, key, std::move(done), false);
}

void StatusReader::ReadFresh(api::Workspace& workspace, const RunId& run,
                             const api::CallContext& ctx, Done done) {
  Compute(workspace, run, ctx, RunKey(workspace.name(), run), std::move(done),
          true);
}

// The callers waiting for one computation. Its own mutex (not the reader's)
// guards `waiters`, so that a caller's deadline timer needs only the flight.
struct StatusReader::Flight {
  std::mutex mu;
  std::map<uint64_t, Done> waiters;  // guarded by mu
};

// Answers `waiter` with DEADLINE_EXCEEDED at `deadline` unless it was
// answered before. The timer is re-armed in steps of at most kDeadlineStep,
// so a caller answered early leaves no timer (nor its flight) queued for the
// rest of a long deadline: at most one step.
void StatusReader::ArmDeadline(http::Transport& timers,
                               std::shared_ptr<Flight> flight, uint64_t waiter,
                               absl::Time deadline, std::string run_id) {
  constexpr absl::Duration kDeadlineStep = absl::Seconds(5);
  const absl::Duration step = std::min(
      std::max(absl::ZeroDuration(), deadline - absl::Now()), kDeadlineStep);
  const absl::Time due = absl::Now() + step;
  timers.RunAfter(step, [&timers, flight = std::move(flight), waiter, deadline,
                         due, run_id = std::move(run_id)]() mutable {
    const absl::Time now = absl::Now();
    // Early: the transport is stopping and runs its timers at once, so
    // answer now rather than re-arm (which would spin until the deadline).
    const bool stopping = now + absl::Milliseconds(1) < due;
    Done late;
    {
      std::lock_guard<std::mutex> lock(flight->mu);
      auto it = flight->waiters.find(waiter);
      if (it == flight->waiters.end()) return;  // answered already
      if (now >= deadline || stopping) {
        late = std::move(it->second);
        flight->waiters.erase(it);
      }
    }
    if (late == nullptr) {  // not yet: another step
      ArmDeadline(timers, std::move(flight), waiter, deadline,
                  std::move(run_id));
      return;
    }
    if (stopping) {
      late(absl::UnavailableError(
          absl::StrCat("the service is shutting down while the status of run ",
                       run_id, " is being read; ask again")));
      return;
    }
    late(absl::DeadlineExceededError(absl::StrCat(
        "the caller's deadline passed while the status of run ", run_id,
        " was being read from Databricks (the read goes on for other "
        "callers and the cache)")));
  });
}

void StatusReader::Compute(api::Workspace& workspace, const RunId& run,
                           const api::CallContext& ctx, const std::string& key,
                           Done done, bool fresh) {
  std::shared_ptr<Flight> flight;
  uint64_t waiter;
  bool start;
  {
    std::lock_guard<std::mutex> lock(mu_);
    auto& slot = inflight_[key];
    start = slot == nullptr;
    if (start) slot = std::make_shared<Flight>();
    flight = slot;
    waiter = next_waiter_++;
    std::lock_guard<std::mutex> flight_lock(flight->mu);
    flight->waiters.emplace(waiter, std::move(done));
  }
  if (ctx.deadline != absl::InfiniteFuture()) {
    // This caller is answered at its own deadline; the computation goes on
    // for the others (and the cache).
    ArmDeadline(timers_, flight, waiter, ctx.deadline,
                FormatRunId(run.pipeline_id, run.update_id));
  }
  if (!start) {
    CacheLookups().With({"shared"}).Increment();
    return;
  }
  CacheLookups().With({fresh ? "fresh" : "miss"}).Increment();
  // The shared read must not end at the deadline of the caller that began
  // it: callers with later deadlines may join. Each of its requests gets
  // the service's own upstream timeout (the client's default).
  api::CallContext shared = ctx;
  shared.deadline = absl::InfiniteFuture();
  shared.cancelled = nullptr;  // outlives the call that began it
  std::make_shared<Computation>(
      workspace, run, std::move(shared), options_,
      [this, key, flight] {
        // Checked and, when nobody waits, unlisted at once: a caller that
        // comes later starts a computation of its own.
        std::lock_guard<std::mutex> lock(mu_);
        std::lock_guard<std::mutex> flight_lock(flight->mu);
        if (!flight->waiters.empty()) return true;
        auto it = inflight_.find(key);
        if (it != inflight_.end() && it->second == flight) inflight_.erase(it);
        return false;
      },
      [this, key, flight](absl::StatusOr<v1::UpdateStatus> status,
                          bool complete) {
        if (complete) Store(key, status);
        std::map<uint64_t, Done> waiters;
        {
          std::lock_guard<std::mutex> lock(mu_);
          auto it = inflight_.find(key);
          if (it != inflight_.end() && it->second == flight) {
            inflight_.erase(it);
          }
        }
        {
          std::lock_guard<std::mutex> lock(flight->mu);
          waiters.swap(flight->waiters);
        }
        for (auto& [id, w] : waiters) w(status);
      })
      ->Start();
}
void StatusReader::Store(const std::string& key,
                         const absl::StatusOr<v1::UpdateStatus>& status) {
  if (!status.ok()) return;
  const absl::Duration ttl =
      status->terminal() ? options_.terminal_ttl : options_.cache_ttl;
  if (ttl <= absl::ZeroDuration() || options_.max_entries == 0) return;
  std::lock_guard<std::mutex> lock(mu_);
  auto it = cache_.find(key);
  if (it != cache_.end()) {
    lru_.erase(it->second.lru);
    cache_.erase(it);
  }
  lru_.push_front(key);
  cache_[key] = Entry{*status, options_.now(), lru_.begin()};
  while (cache_.size() > options_.max_entries) {
    cache_.erase(lru_.back());
    lru_.pop_back();
  }
}

}  // namespace polysync::databricks::jobtype
