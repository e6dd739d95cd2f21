#include "adapters/databricks/jobtype/status_reader.h"

#include <algorithm>
#include <memory>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "adapters/databricks/api/events.h"
#include "adapters/databricks/wire/errors.h"
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
  std::optional<absl::Time> end_time;
  std::optional<absl::Time> stopping_since;
  // ERROR events that carry an `error`, and how many of them say `fatal`.
  int errors = 0;
  int fatal_errors = 0;
};

// Pages of events read at most for one step (each of up to
// kEventsPageSize events): enough to find an update's end behind a busy
// pipeline's progress events, bounded for a log that has none.
constexpr int kEventsPageSize = 250;
constexpr int kEventPages = 8;

bool IsUpdateProgress(const PipelineEvent& e) {
  return e.event_type == "update_progress";
}

// DLT's retries of one run are followed at most this far (a chain of
// updates with cause RETRY_ON_FAILURE; DLT gives up after a few).
constexpr int kMaxFollowedRetries = 50;
// Pages of list updates read to find the update after the run's, when it is
// older than the pipeline's `latest_updates`.
constexpr int kMaxUpdatePages = 10;

bool Transient(absl::StatusCode code) {
  return code == absl::StatusCode::kUnavailable ||
         code == absl::StatusCode::kDeadlineExceeded ||
         code == absl::StatusCode::kResourceExhausted;
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
    current_ = update_;
    Follow();
  }

  // Step 2: the status is that of `current_` (the run's update, or the
  // newest of DLT's retries of it); a FAILED one may be retried.
  void Follow() {
    SetState(current_);
    if (current_.state != "FAILED") {
      Details(current_);
      return;
    }
    status_.mutable_retry()->set_attempts(attempts_);
    if (!current_.request_id.empty() && HasIdShape(current_.request_id) &&
        ws_.serves_requests_endpoint()) {
      if (Abandoned()) return;
      auto self = shared_from_this();
      ws_.client().GetRequestStatus(run_.pipeline_id, current_.request_id, ctx_,
                                    [self](absl::StatusOr<RequestStatus> r) {
                                      self->OnRequest(std::move(r));
                                    });
      return;
    }
    ReadPipeline();
  }

  void SetState(const UpdateInfo& u) {
    status_.set_dlt_state(u.state);
    status_.set_status(StatusForState(u.state));
    status_.set_terminal(IsTerminalStatus(status_.status()));
  }

  // Whether DLT retries could not be read: never a final Failed on a guess
  // (it would be cached, and end every watch), but an answer to ask again;
  // transient codes stay, any other becomes UNAVAILABLE.
  void Unreadable(const absl::Status& error) {
    done_(absl::Status(
              Transient(error.code()) ? error.code()
                                      : absl::StatusCode::kUnavailable,
              absl::StrCat("update ", current_.update_id,
                           " FAILED and whether DLT retries it cannot be "
                           "read yet: ",
                           error.message())),
          false);
  }

  // The retired requests endpoint (legacy workspaces only).
  void OnRequest(absl::StatusOr<RequestStatus> request) {
    if (!request.ok()) {
      const std::optional<int> http = HttpStatusOf(request.status());
      if (http == 404 || http == 400) {
        // The workspace does not (or no longer) serve the endpoint: follow
        // DLT's retries through latest_updates, for every run from now on.
        if (ws_.MarkRequestsEndpointGone()) {
          log::Warn(
              "the workspace does not serve the retired requests endpoint; "
              "DLT's retries are followed through the pipeline's "
              "latest_updates from now on",
              {log::Field("workspace", ws_.name()),
               log::Field("http_status", std::to_string(*http)),
               log::Field("run_id", status_.run_id())});
        }
        ReadPipeline();
        return;
      }
      Unreadable(request.status());
      return;
    }
    v1::RetryInfo* retry = status_.mutable_retry();
    retry->set_request_status(request->status);
    retry->set_attempts(attempts_);
    const bool has_latest =
        request->latest_update.has_value() &&
        !request->latest_update->update_id.empty() &&
        request->latest_update->update_id != current_.update_id &&
        request->latest_update->update_id != run_.update_id;
    if (has_latest) {
      retry->set_retry_update_id(request->latest_update->update_id);
      retry->set_attempts(attempts_ + 1);
    }
    if (has_latest && !IsTerminalUpdateState(request->latest_update->state)) {
      // DLT's retry runs: the run shows it.
      const UpdateInfo& latest = *request->latest_update;
      SetState(latest);
      Details(latest);
      return;
    }
    if (request->status == "ACTIVE") {
      // DLT is (or may be about to be) retrying: never report Failed yet.
      retry->set_retrying(true);
      status_.set_status(v1::RUN_STATUS_RUNNING);
      status_.set_terminal(false);
      // The failure messages so far: the newest attempt's.
      ReadEvents(has_latest ? request->latest_update->update_id
                            : current_.update_id);
      return;
    }
    if (has_latest) {
      // TERMINATED: the request's latest update decides.
      const UpdateInfo& latest = *request->latest_update;
      SetState(latest);
      Details(latest);
      return;
    }
    FinalFailure();
  }

  // Today's API: the pipeline's updates after `current_` say whether DLT
  // retried it.
  void ReadPipeline() {
    if (pipeline_.has_value()) {  // read once per computation
      FindNext();
      return;
    }
    if (Abandoned()) return;
    auto self = shared_from_this();
    ws_.client().GetPipeline(
        run_.pipeline_id, ctx_,
        [self](absl::StatusOr<Pipeline> p) { self->OnPipeline(std::move(p)); });
  }

  void OnPipeline(absl::StatusOr<Pipeline> pipeline) {
    if (!pipeline.ok()) {
      if (HttpStatusOf(pipeline.status()) == 404) {
        // The pipeline was deleted: nothing retries the update.
        hints_.push_back("the pipeline no longer exists");
        FinalFailure();
        return;
      }
      Unreadable(pipeline.status());
      return;
    }
    pipeline_ = *std::move(pipeline);
    FindNext();
  }

  // The first update after `current_`: from latest_updates (newest first)
  // when `current_` is listed there, else from list updates.
  void FindNext() {
    const auto& latest = pipeline_->latest_updates;
    for (size_t i = 0; i < latest.size(); ++i) {
      if (latest[i].update_id != current_.update_id) continue;
      if (i == 0) {
        Gap();
        return;
      }
      ReadNext(latest[i - 1].update_id);
      return;
    }
    ListNewer("", 0);
  }

  // Pages of list updates, newest first, down to `current_`; the item just
  // before it is the first update after it.
  void ListNewer(std::string page_token, int pages) {
    if (Abandoned()) return;
    ListUpdatesRequest request;
    request.max_results = 100;
    request.until_update_id = current_.update_id;
    request.page_token = std::move(page_token);
    auto self = shared_from_this();
    ws_.client().ListUpdates(
        run_.pipeline_id, std::move(request), ctx_,
        [self, pages](absl::StatusOr<ListUpdatesPage> page) {
          if (!page.ok()) {
            self->Unreadable(page.status());
            return;
          }
          for (UpdateInfo& u : page->updates) {
            if (u.update_id == self->current_.update_id) {
              if (!self->newer_.has_value()) {
                self->Gap();
                return;
              }
              // Listed updates lack `config`: read it whole.
              const std::string next = self->newer_->update_id;
              self->newer_.reset();
              self->ReadNext(next);
              return;
            }
            self->newer_ = std::move(u);
          }
          if (page->next_page_token.empty()) {
            // Not listed at all: nothing newer is known.
            self->newer_.reset();
            self->Gap();
            return;
          }
          if (pages + 1 >= kMaxUpdatePages) {
            self->Unreadable(absl::UnavailableError(
                absl::StrCat("more than ", kMaxUpdatePages * 100,
                             " updates were listed after it")));
            return;
          }
          self->ListNewer(page->next_page_token, pages + 1);
        });
  }

  void ReadNext(const std::string& update_id) {
    if (Abandoned()) return;
    auto self = shared_from_this();
    ws_.client().GetUpdate(run_.pipeline_id, update_id, ctx_,
                           [self](absl::StatusOr<UpdateInfo> u) {
                             if (!u.ok()) {
                               self->Unreadable(u.status());
                               return;
                             }
                             self->OnNext(*std::move(u));
                           });
  }

  void OnNext(UpdateInfo next) {
    if (next.cause != "RETRY_ON_FAILURE") {
      // A newer update DLT did not start for this one: no retry will come.
      FinalFailure();
      return;
    }
    if (!late_checked_ && next.creation_time.has_value() &&
        current_.creation_time.has_value() &&
        absl::Milliseconds(*next.creation_time - *current_.creation_time) >
            options_.retry_window) {
      // Perhaps later than the window allows (a run already reported
      // Failed must stay so): the failure's end decides.
      CheckLateRetry(std::move(next));
      return;
    }
    late_checked_ = false;
    Accept(std::move(next));
  }

  // A retry created more than retry_window after the failure ended is not
  // followed: the run was final by then.
  void CheckLateRetry(UpdateInfo next) {
    if (Abandoned()) return;
    api::EventQuery query;
    query.update_id = current_.update_id;
    query.page_size = kEventsPageSize;
    query.max_pages = kEventPages;
    query.keep = &api::IsTerminalUpdateProgress;
    query.stop_when = &api::IsTerminalUpdateProgress;
    auto self = shared_from_this();
    ws_.client().ReadEvents(
        run_.pipeline_id, std::move(query), ctx_,
        [self,
         next = std::move(next)](absl::StatusOr<api::EventsRead> read) mutable {
          if (!read.ok()) {
            self->Unreadable(read.status());
            return;
          }
          absl::Time end;
          if (!read->events.empty() &&
              ParseRfc3339(read->events.front().timestamp, &end) &&
              absl::FromUnixMillis(*next.creation_time) >
                  end + self->options_.retry_window) {
            self->hints_.push_back(
                absl::StrCat("DLT's retry ", next.update_id, " came more than ",
                             absl::FormatDuration(self->options_.retry_window),
                             " after the failure and is not followed"));
            self->FinalFailure();
            return;
          }
          self->late_checked_ = true;
          self->OnNext(std::move(next));
        });
  }

  void Accept(UpdateInfo next) {
    if (attempts_ > kMaxFollowedRetries) {
      Unreadable(absl::UnavailableError(absl::StrCat(
          "more than ", kMaxFollowedRetries, " retries were followed")));
      return;
    }
    ++attempts_;
    v1::RetryInfo* retry = status_.mutable_retry();
    retry->set_retry_update_id(next.update_id);
    retry->set_attempts(attempts_);
    current_ = std::move(next);
    Follow();
  }

  // No update after the FAILED `current_` yet: DLT may still retry it
  // (retry pending) only in production mode, for an update that was not
  // validate_only, while the pipeline is not idle, failed or deleted; its
  // events then decide (a fatal failure is not retried) and the window.
  void Gap() {
    std::optional<bool> development;
    if (current_.config.has_value()) development = current_.config->development;
    if (!development.has_value() && pipeline_->spec.has_value()) {
      development = pipeline_->spec->development;
    }
    const std::string& state = pipeline_->state;
    if (development.value_or(false) || current_.validate_only.value_or(false) ||
        state == "IDLE" || state == "FAILED" || state == "DELETED") {
      FinalFailure();
      return;
    }
    gap_ = true;
    ReadEvents(current_.update_id);
  }

  // After the gap's events were read (or could not be).
  void DecideGap() {
    if (!events_read_) {
      // Whether the failure was fatal cannot be known: not final.
      Pending(absl::InfiniteFuture());
      return;
    }
    if (facts_.errors > 0 && facts_.fatal_errors == facts_.errors) {
      Final();
      return;
    }
    absl::Time since = absl::InfinitePast();
    if (facts_.end_time.has_value()) {
      since = *facts_.end_time;
    } else if (current_.creation_time.has_value()) {
      since = absl::FromUnixMillis(*current_.creation_time);
    }
    const absl::Time until = since == absl::InfinitePast()
                                 ? absl::InfiniteFuture()
                                 : since + options_.retry_window;
    if (options_.now() >= until) {
      hints_.push_back(absl::StrCat("no retry by DLT appeared within ",
                                    absl::FormatDuration(options_.retry_window),
                                    " of the failure (the pipeline is ",
                                    pipeline_->state,
                                    "), so the run is reported Failed"));
      Final();
      return;
    }
    Pending(until);
  }

  // Retry pending: Running, not terminal, with `retrying` set.
  void Pending(absl::Time until) {
    v1::RetryInfo* retry = status_.mutable_retry();
    retry->set_retrying(true);
    retry->set_attempts(attempts_);
    retry->set_pipeline_state(pipeline_->state);
    if (until != absl::InfiniteFuture())
      SetTime(until, retry->mutable_wait_until());
    status_.set_status(v1::RUN_STATUS_RUNNING);
    status_.set_terminal(false);
    status_.clear_end_time();
    hints_.push_back(absl::StrCat(
        "update ", current_.update_id,
        " FAILED and DLT is expected to retry it (the pipeline is ",
        pipeline_->state, ")",
        until == absl::InfiniteFuture()
            ? ""
            : absl::StrCat("; without a retry by ",
                           absl::FormatTime(until, absl::UTCTimeZone()),
                           " the run is reported Failed")));
    Finish();
  }

  // A FAILED `current_` that nothing retries: the run's final status, with
  // the failure's messages and end time.
  void FinalFailure() { ReadEvents(current_.update_id); }

  // The gap's events were read and the failure is final.
  void Final() {
    gap_ = false;
    Finish();
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

  // Step 3: the update's newest update_progress events (end time, when
  // STOPPING began), following pages until the one needed is found; then,
  // for a failure, its ERROR events (the messages, whether fatal).
  void ReadEvents(const std::string& update_id) {
    if (Abandoned()) return;
    events_for_ = update_id;
    api::EventQuery query;
    query.update_id = update_id;
    query.page_size = kEventsPageSize;
    query.max_pages = kEventPages;
    query.keep = &IsUpdateProgress;
    if (status_.terminal() || gap_ || status_.dlt_state() == "FAILED") {
      query.stop_when = &api::IsTerminalUpdateProgress;
    } else {
      query.stop_when = [](const PipelineEvent& e) {
        return IsUpdateProgress(e) && e.update_progress_state == "STOPPING";
      };
    }
    auto self = shared_from_this();
    ws_.client().ReadEvents(
        run_.pipeline_id, std::move(query), ctx_,
        [self](absl::StatusOr<api::EventsRead> read) {
          if (!self->EventsRead(read)) return;
          for (const PipelineEvent& e : read->events) {  // newest first
            absl::Time ts;
            if (!ParseRfc3339(e.timestamp, &ts)) continue;
            if (!self->facts_.end_time &&
                IsTerminalUpdateState(e.update_progress_state)) {
              self->facts_.end_time = ts;
            }
            if (!self->facts_.stopping_since &&
                e.update_progress_state == "STOPPING") {
              self->facts_.stopping_since = ts;
            }
          }
          if (self->status_.terminal() && self->facts_.end_time.has_value()) {
            SetTime(*self->facts_.end_time, self->status_.mutable_end_time());
          }
          if (self->status_.terminal() && !self->facts_.end_time &&
              read->end == api::EventsReadEnd::kMaxPages) {
            // Buried deeper than this read goes: ask again later.
            self->complete_ = false;
            self->status_.set_incomplete(true);
            self->events_hint_ = absl::StrCat(
                "the update's end was not found in its newest ",
                kEventPages * kEventsPageSize,
                " events, so end_time is missing; the next read tries again");
          }
          if (self->status_.dlt_state() != "FAILED" &&
              !self->status_.retry().retrying()) {
            self->AfterEvents();
            return;
          }
          self->ReadErrors();
        });
  }

  void ReadErrors() {
    if (Abandoned()) return;
    api::EventQuery query;
    query.update_id = events_for_;
    query.levels = {"ERROR"};
    query.page_size = kEventsPageSize;
    query.max_pages = kEventPages;
    auto self = shared_from_this();
    ws_.client().ReadEvents(
        run_.pipeline_id, std::move(query), ctx_,
        [self](absl::StatusOr<api::EventsRead> read) {
          if (!self->EventsRead(read)) return;
          for (auto& m : api::FailureMessages(read->events, self->events_for_,
                                              read->order)) {
            self->status_.add_failure_messages(std::move(m));
          }
          for (const PipelineEvent& e : read->events) {
            if (e.level != "ERROR" || !e.error.has_value()) continue;
            ++self->facts_.errors;
            if (e.error->fatal.value_or(false)) ++self->facts_.fatal_errors;
          }
          self->events_read_ = true;
          self->AfterEvents();
        });
  }

  // False (and the answer finished with what is known) when the events
  // could not be read. Details are best effort: the answer says what is
  // missing and is not cached (the next read tries again).
  bool EventsRead(const absl::StatusOr<api::EventsRead>& read) {
    if (read.ok()) return true;
    log::Warn("cannot read update events",
              {log::Field("run_id", status_.run_id()),
               log::Field("error", std::string(read.status().message()))});
    EventsMissing(read.status());
    AfterEvents();
    return false;
  }

  void AfterEvents() {
    if (gap_) {
      DecideGap();
      return;
    }
    Finish();
  }

  // The events read failed: say what the answer lacks.
  void EventsMissing(const absl::Status& error) {
    complete_ = false;
    std::string missing;
    if (status_.dlt_state() == "FAILED" || status_.retry().retrying()) {
      missing = "failure_messages";
    }
    if (status_.terminal() && !status_.has_end_time() && !gap_) {
      missing = missing.empty() ? "end_time" : missing + " and end_time";
    }
    status_.set_incomplete(!missing.empty());
    events_hint_ = absl::StrCat(
        "the event log could not be read (Databricks: ",
        absl::StatusCodeToString(error.code()), ")",
        missing.empty() ? "" : absl::StrCat(", so ", missing, " missing"),
        gap_ ? " and whether DLT retries is not known yet" : "",
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
    std::vector<std::string> hints;
    if (!status_.terminal() && !status_.retry().retrying()) {
      absl::Time since = absl::InfinitePast();
      if (status_.dlt_state() == "STOPPING" && facts_.stopping_since) {
        since = *facts_.stopping_since;
      } else if (current_.creation_time.has_value()) {
        since = absl::FromUnixMillis(*current_.creation_time);
      }
      if (since != absl::InfinitePast()) {
        std::string hint = HintFor(status_.dlt_state(), continuous_, since,
                                   options_.now(), options_.hints);
        if (!hint.empty()) hints.push_back(std::move(hint));
      }
    }
    for (auto& h : hints_) hints.push_back(std::move(h));
    if (!events_hint_.empty()) hints.push_back(events_hint_);
    status_.set_hint(absl::StrJoin(hints, "; "));
    done_(std::move(status_), complete_);
  }

  api::Workspace& ws_;
  const RunId run_;
  const api::CallContext ctx_;
  const StatusOptions& options_;
  const std::function<bool()> wanted_;
  Done done_;
  UpdateInfo update_;   // the run's own update
  UpdateInfo current_;  // the update whose state the status shows
  int attempts_ = 1;
  std::optional<Pipeline> pipeline_;
  std::optional<UpdateInfo> newer_;  // ListNewer: the item before `current_`
  bool gap_ = false;
  bool events_read_ = false;
  bool late_checked_ = false;  // CheckLateRetry passed for the next update
  v1::UpdateStatus status_;
  std::string events_for_;
  EventFacts facts_;
  bool continuous_ = false;
  bool complete_ = true;
  std::vector<std::string> hints_;
  std::string events_hint_;
};

}  // namespace

std::string RunKey(absl::string_view workspace, const RunId& run) {
  return absl::StrCat(workspace, "|", run.pipeline_id, ":", run.update_id);
}

StatusReader::StatusReader(StatusOptions options, http::Transport& timers)
    : options_(std::move(options)), timers_(timers) {}

void StatusReader::NoteStoppedInGap(api::Workspace& workspace, const RunId& run,
                                    const std::string& failed_update_id) {
  const std::string key = RunKey(workspace.name(), run);
  std::lock_guard<std::mutex> lock(mu_);
  const absl::Time now = options_.now();
  // Forget notes past their time (oldest first), and the oldest beyond the
  // bound.
  while (!stopped_order_.empty()) {
    auto it = stopped_.find(stopped_order_.front());
    const bool expired = it == stopped_.end() || it->second.expires <= now;
    if (!expired && stopped_.size() < options_.max_entries) break;
    if (it != stopped_.end()) stopped_.erase(it);
    stopped_order_.pop_front();
  }
  stopped_[key] = {failed_update_id,
                   now + options_.retry_window + options_.terminal_ttl};
  stopped_order_.push_back(key);
  // A cached answer from before the stop is not reused.
  auto cached = cache_.find(key);
  if (cached != cache_.end()) {
    lru_.erase(cached->second.lru);
    cache_.erase(cached);
  }
}

void StatusReader::ApplyStopNote(const std::string& key,
                                 v1::UpdateStatus& status) {
  if (!status.terminal() || status.status() != v1::RUN_STATUS_FAILED) return;
  const std::string& newest = status.retry().retry_update_id().empty()
                                  ? status.update_id()
                                  : status.retry().retry_update_id();
  {
    std::lock_guard<std::mutex> lock(mu_);
    auto it = stopped_.find(key);
    if (it == stopped_.end() || it->second.expires <= options_.now() ||
        it->second.update_id != newest) {
      return;
    }
  }
  // Stopped while DLT's retry of this very update was pending, and no
  // retry came: the caller's stop ended the run.
  status.set_status(v1::RUN_STATUS_CANCELLED);
  status.set_hint(absl::StrCat(
      "stopped while DLT's retry of the failed update was pending; no retry "
      "ran",
      status.hint().empty() ? "" : "; ", status.hint()));
}

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
        if (status.ok()) ApplyStopNote(key, *status);
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
