#include "adapters/databricks/jobtype/start_stop.h"

#include <algorithm>
#include <memory>
#include <set>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "adapters/databricks/jobtype/rules.h"
#include "adapters/databricks/wire/ids.h"
#include "common/log.h"
#include "google/protobuf/io/coded_stream.h"
#include "google/protobuf/io/zero_copy_stream_impl_lite.h"

namespace polysync::databricks::jobtype {

struct StartStop::IdempotencyEntry {
  std::string fingerprint;
  bool done = false;
  v1::StartUpdateResponse response;
  absl::Time expires = absl::InfiniteFuture();
  std::vector<Done<v1::StartUpdateResponse>> waiters;
};

namespace {

constexpr int kMaxStopAttempts = 3;

// Says on a keyed answer how much longer, and where, the key is remembered.
void SetKeyTtl(absl::Duration left, v1::StartUpdateResponse* response) {
  left = std::max(left, absl::ZeroDuration());
  const int64_t seconds = absl::ToInt64Seconds(left);
  response->mutable_idempotency_key_ttl()->set_seconds(seconds);
  response->mutable_idempotency_key_ttl()->set_nanos(static_cast<int32_t>(
      absl::ToInt64Nanoseconds(left - absl::Seconds(seconds))));
  response->set_idempotency_key_store(v1::IDEMPOTENCY_KEY_STORE_REPLICA_MEMORY);
}

// The newest update in latest_updates that has not ended, if any.
std::optional<UpdateStateInfo> ActiveUpdate(const Pipeline& pipeline) {
  for (const auto& u : pipeline.latest_updates) {
    if (!IsTerminalUpdateState(u.state)) return u;
  }
  return std::nullopt;
}

v1::StartUpdateResponse ResponseFor(const api::Workspace& ws,
                                    const std::string& pipeline_id,
                                    const std::string& update_id,
                                    const std::string& request_id) {
  v1::StartUpdateResponse r;
  r.set_run_id(FormatRunId(pipeline_id, update_id));
  r.set_update_id(update_id);
  r.set_request_id(request_id);
  r.set_link(PipelineLink(ws.host(), pipeline_id));
  return r;
}

// Start, and on "already active", fail / attach / restart.
//
// A restart stops the active update, waits for the pipeline's state to be
// IDLE (as the SDKs' stop-and-wait and the Databricks CLI's restart do; a
// FAILED pipeline ends the wait, as it ends theirs), then starts. While it
// waits, and when the new start is refused because an update is active, the
// active update decides: the stopped one is waited out; an update that
// appeared after the stop with cause RETRY_ON_FAILURE is DLT's retry of it
// and is stopped in turn; any other ends the restart with
// FAILED_PRECONDITION naming it. The wait ends at the caller's deadline or
// restart_timeout after the first stop, whichever is first.
class StartOp : public std::enable_shared_from_this<StartOp> {
 public:
  // `outlive_caller`: the start is settled even after the caller has gone
  // (a keyed start: its outcome is remembered for the caller's retry).
  StartOp(api::Workspace& ws, std::string pipeline_id, StartUpdateRequest body,
          v1::IfRunning if_running, api::CallContext ctx, bool outlive_caller,
          http::Transport& transport, const StartStopOptions& options,
          StartStop::Done<v1::StartUpdateResponse> done)
      : ws_(ws),
        pipeline_id_(std::move(pipeline_id)),
        body_(std::move(body)),
        if_running_(if_running),
        ctx_(std::move(ctx)),
        outlive_caller_(outlive_caller),
        transport_(transport),
        options_(options),
        done_(std::move(done)) {}

  void Start() {
    auto self = shared_from_this();
    ws_.client().StartUpdate(
        pipeline_id_, body_, StartContext(),
        [self](absl::StatusOr<api::StartUpdateOutcome> outcome) {
          self->OnStarted(std::move(outcome));
        });
  }

 private:
  // The context of the start request itself. One that outlives its caller
  // has no deadline of its own (the client bounds the whole start by its
  // default timeout), so a slow answer is awaited instead of cut off and
  // guessed at; it is still not sent once the caller's deadline has passed
  // or the caller has gone.
  api::CallContext StartContext() const {
    api::CallContext c = ctx_;
    if (!outlive_caller_) return c;
    c.deadline = absl::InfiniteFuture();
    c.cancelled = [cancelled = ctx_.cancelled, deadline = ctx_.deadline,
                   now = options_.now] {
      return now() >= deadline || (cancelled && cancelled());
    };
    return c;
  }

  void OnStarted(absl::StatusOr<api::StartUpdateOutcome> outcome) {
    if (outcome.ok()) {
      v1::StartUpdateResponse r = ResponseFor(
          ws_, pipeline_id_, outcome->update_id, outcome->request_id);
      r.set_stopped_run_id(stopped_run_id_);
      log::Info("update started",
                {log::Field("workspace", ws_.name()),
                 log::Field("run_id", r.run_id()),
                 log::Field("adopted", outcome->adopted),
                 log::Field("correlation_id", ctx_.correlation_id)});
      done_(std::move(r));
      return;
    }
    if (outcome.status().code() != absl::StatusCode::kFailedPrecondition) {
      done_(outcome.status());
      return;
    }
    // Most likely another update is active: find it.
    refusal_ = outcome.status();
    auto self = shared_from_this();
    ws_.client().GetPipeline(pipeline_id_, ctx_,
                             [self](absl::StatusOr<Pipeline> p) {
                               if (!self->waiting_) {
                                 self->OnConflict(std::move(p));
                                 return;
                               }
                               // The new start of a restart was refused.
                               if (!p.ok()) {
                                 self->done_(p.status());
                                 return;
                               }
                               self->last_state_ = p->state;
                               self->CheckActive(*p);
                             });
  }

  void OnConflict(absl::StatusOr<Pipeline> pipeline) {
    if (!pipeline.ok()) {
      done_(refusal_);
      return;
    }
    auto active = ActiveUpdate(*pipeline);
    if (!active.has_value()) {
      done_(refusal_);  // refused for another reason
      return;
    }
    const std::string active_run = FormatRunId(pipeline_id_, active->update_id);
    switch (if_running_) {
      case v1::IF_RUNNING_ATTACH: {
        auto self = shared_from_this();
        const std::string update_id = active->update_id;
        ws_.client().GetUpdate(pipeline_id_, update_id, ctx_,
                               [self, update_id](absl::StatusOr<UpdateInfo> u) {
                                 v1::StartUpdateResponse r = ResponseFor(
                                     self->ws_, self->pipeline_id_, update_id,
                                     u.ok() ? u->request_id : "");
                                 r.set_attached(true);
                                 self->done_(std::move(r));
                               });
        return;
      }
      case v1::IF_RUNNING_RESTART: {
        stopped_run_id_ = active_run;
        // Updates that existed before the stop: none of them is DLT's retry
        // of the stopped one.
        for (const auto& u : pipeline->latest_updates) {
          before_stop_.insert(u.update_id);
        }
        ours_.insert(active->update_id);
        log::Info("restart: stopping the active update",
                  {log::Field("workspace", ws_.name()),
                   log::Field("run_id", active_run),
                   log::Field("correlation_id", ctx_.correlation_id)});
        SendStop();
        return;
      }
      default:
        done_(absl::FailedPreconditionError(absl::StrCat(
            "pipeline ", pipeline_id_, " already has an active update (run id ",
            active_run, ", state ", active->state,
            "); set if_running to IF_RUNNING_ATTACH to follow it or "
            "IF_RUNNING_RESTART to stop it and start a new update")));
    }
  }

  // Stops the pipeline's active update (the one to restart, or DLT's retry
  // of it), then waits.
  void SendStop() {
    auto self = shared_from_this();
    ws_.client().StopPipeline(
        pipeline_id_, ctx_, [self](absl::StatusOr<api::Empty> s) {
          if (!s.ok()) {
            self->done_(s.status());
            return;
          }
          if (!self->waiting_) {
            self->waiting_ = true;
            self->wait_until_ =
                self->options_.now() + self->options_.restart_timeout;
          }
          self->WaitIdle();
        });
  }

  // Polls until the pipeline is idle. A poll is sent only when its answer
  // (judged by the last poll's round trip) can arrive before the caller's
  // deadline, and never once the caller has gone away: the caller gets this
  // explanation in time, and Databricks sees no poll nobody waits for.
  void WaitIdle() {
    const absl::Time now = options_.now();
    if (ctx_.cancelled && ctx_.cancelled()) {
      done_(absl::CancelledError(absl::StrCat(
          "restart: the caller went away while the stopped update ",
          stopped_run_id_, " was ending; no new update was started")));
      return;
    }
    if (now + poll_round_trip_ > ctx_.deadline) {
      GiveUpWaiting(/*restart_timeout=*/false);
      return;
    }
    auto self = shared_from_this();
    ws_.client().GetPipeline(
        pipeline_id_, ctx_, [self, now](absl::StatusOr<Pipeline> p) {
          self->poll_round_trip_ = self->options_.now() - now;
          if (!p.ok()) {
            self->done_(p.status());
            return;
          }
          self->last_state_ = p->state;
          if (p->state == "IDLE") {
            self->Start();
            return;
          }
          if (p->state == "FAILED") {
            self->done_(absl::FailedPreconditionError(absl::StrCat(
                "restart: after run ", self->stopped_run_id_,
                " was stopped the pipeline is FAILED",
                p->cause.empty() ? "" : absl::StrCat(" (cause ", p->cause, ")"),
                ", not IDLE; no new update was started")));
            return;
          }
          self->CheckActive(*p);
        });
  }

  // While waiting: the stopped update (or none) is waited out, DLT's retry
  // of it is stopped in turn, any other active update ends the restart.
  void CheckActive(const Pipeline& pipeline) {
    auto active = ActiveUpdate(pipeline);
    if (!active.has_value() || ours_.count(active->update_id) > 0) {
      NextPoll();
      return;
    }
    if (before_stop_.count(active->update_id) > 0) {
      Foreign(active->update_id, active->state, "");
      return;
    }
    // New since the stop: the cause says whose it is.
    auto self = shared_from_this();
    const std::string update_id = active->update_id;
    const std::string state = active->state;
    ws_.client().GetUpdate(
        pipeline_id_, update_id, ctx_,
        [self, update_id, state](absl::StatusOr<UpdateInfo> u) {
          if (!u.ok()) {
            self->done_(u.status());
            return;
          }
          if (u->cause != "RETRY_ON_FAILURE") {
            self->Foreign(update_id, u->state.empty() ? state : u->state,
                          u->cause);
            return;
          }
          self->ours_.insert(update_id);
          log::Info(
              "restart: stopping DLT's retry of the stopped update",
              {log::Field("workspace", self->ws_.name()),
               log::Field("run_id", FormatRunId(self->pipeline_id_, update_id)),
               log::Field("stopped_run_id", self->stopped_run_id_),
               log::Field("correlation_id", self->ctx_.correlation_id)});
          self->SendStop();
        });
  }

  void Foreign(const std::string& update_id, const std::string& state,
               const std::string& cause) {
    done_(absl::FailedPreconditionError(absl::StrCat(
        "restart: run ", stopped_run_id_,
        " was stopped, but another update is now active on pipeline ",
        pipeline_id_, " (run id ", FormatRunId(pipeline_id_, update_id),
        ", state ", state, cause.empty() ? "" : absl::StrCat(", cause ", cause),
        "), not started by this restart; it was not stopped and no new "
        "update was started")));
  }

  void NextPoll() {
    const absl::Time next = options_.now() + options_.restart_poll;
    if (next > wait_until_) {
      GiveUpWaiting(/*restart_timeout=*/true);
      return;
    }
    if (next + poll_round_trip_ > ctx_.deadline) {
      GiveUpWaiting(/*restart_timeout=*/false);
      return;
    }
    auto self = shared_from_this();
    transport_.RunAfter(options_.restart_poll, [self] { self->WaitIdle(); });
  }

  void GiveUpWaiting(bool restart_timeout) {
    done_(absl::DeadlineExceededError(absl::StrCat(
        "restart: the stopped update ", stopped_run_id_,
        " did not end in time (",
        restart_timeout
            ? absl::StrCat("restart_timeout ",
                           absl::FormatDuration(options_.restart_timeout))
            : std::string("the caller's deadline"),
        last_state_.empty() ? ""
                            : absl::StrCat("; the pipeline is ", last_state_),
        "); no new update was started")));
  }

  api::Workspace& ws_;
  const std::string pipeline_id_;
  const StartUpdateRequest body_;
  const v1::IfRunning if_running_;
  const api::CallContext ctx_;
  const bool outlive_caller_;
  http::Transport& transport_;
  const StartStopOptions& options_;
  StartStop::Done<v1::StartUpdateResponse> done_;
  absl::Status refusal_;
  std::string stopped_run_id_;
  // The restart's updates: the stopped one and DLT's retries of it.
  std::set<std::string> ours_;
  // latest_updates when the restart stopped the active update.
  std::set<std::string> before_stop_;
  // The pipeline's state at the last read.
  std::string last_state_;
  // A stop was sent: refusals of the new start are waited out.
  bool waiting_ = false;
  absl::Time wait_until_;
  // How long the last restart poll took to be answered.
  absl::Duration poll_round_trip_ = absl::ZeroDuration();
};

// Stop after checking that the run is the pipeline's active update.
class StopOp : public std::enable_shared_from_this<StopOp> {
 public:
  StopOp(api::Workspace& ws, RunId run, api::CallContext ctx,
         StatusReader& reader, http::Transport& transport,
         const StartStopOptions& options,
         StartStop::Done<v1::StopUpdateResponse> done)
      : ws_(ws),
        run_(std::move(run)),
        ctx_(std::move(ctx)),
        reader_(reader),
        transport_(transport),
        options_(options),
        done_(std::move(done)) {}

  void Start() {
    auto self = shared_from_this();
    reader_.ReadFresh(ws_, run_, ctx_,
                      [self](absl::StatusOr<v1::UpdateStatus> s) {
                        self->OnStatus(std::move(s));
                      });
  }

 private:
  void OnStatus(absl::StatusOr<v1::UpdateStatus> status) {
    if (!status.ok()) {
      done_(status.status());
      return;
    }
    if (status->terminal()) {
      Answer(*std::move(status), stop_sent_);
      return;
    }
    ours_.insert(run_.update_id);
    if (!status->retry().retry_update_id().empty()) {
      ours_.insert(status->retry().retry_update_id());
    }
    if (status->retry().retrying()) {
      StopInGap(*status);
      return;
    }
    CheckActive();
  }

  // Retry pending: no update is active, and DLT's retry may still come.
  // The stop is sent all the same (it may cancel the retry; for a pipeline
  // without an active update the API documents a no-op), the run is noted
  // as stopped (it reads CANCELLED should no retry come), and a retry that
  // appears is stopped in turn: at most kMaxStopAttempts stops within
  // gap_stop_window.
  void StopInGap(const v1::UpdateStatus& status) {
    const std::string failed = status.retry().retry_update_id().empty()
                                   ? run_.update_id
                                   : status.retry().retry_update_id();
    if (!in_gap_) {
      gap_until_ = std::min(options_.now() + options_.gap_stop_window,
                            ctx_.deadline - options_.restart_poll);
      in_gap_ = true;
    }
    ++attempts_;
    auto self = shared_from_this();
    ws_.client().StopPipeline(
        run_.pipeline_id, ctx_, [self, failed](absl::StatusOr<api::Empty> s) {
          if (!s.ok()) {
            // Unknown outcome: ask again only after a fresh read.
            if ((s.status().code() == absl::StatusCode::kUnavailable ||
                 s.status().code() == absl::StatusCode::kResourceExhausted) &&
                self->attempts_ < kMaxStopAttempts) {
              self->Start();
              return;
            }
            self->done_(s.status());
            return;
          }
          // Sent: should no retry come, the run reads CANCELLED.
          self->reader_.NoteStoppedInGap(self->ws_, self->run_, failed);
          log::Info("stop sent while DLT's retry is pending",
                    {log::Field("workspace", self->ws_.name()),
                     log::Field("run_id", FormatRunId(self->run_.pipeline_id,
                                                      self->run_.update_id)),
                     log::Field("correlation_id", self->ctx_.correlation_id)});
          self->stop_sent_ = true;
          self->WatchGapLater();
        });
  }

  void WatchGapLater() {
    auto self = shared_from_this();
    transport_.RunAfter(options_.restart_poll, [self] { self->WatchGap(); });
  }

  // Re-reads the run after a stop in the gap until it ends, a retry
  // appears (stopped in turn), or the window passes.
  void WatchGap() {
    auto self = shared_from_this();
    reader_.ReadFresh(
        ws_, run_, ctx_, [self](absl::StatusOr<v1::UpdateStatus> s) {
          if (!s.ok()) {
            self->done_(s.status());
            return;
          }
          if (!s->retry().retry_update_id().empty()) {
            self->ours_.insert(s->retry().retry_update_id());
          }
          // DLT's retry appeared and runs (and is not being stopped yet).
          const bool retry_runs =
              !s->retry().retrying() && s->dlt_state() != "STOPPING";
          if (s->terminal() ||
              (retry_runs && self->attempts_ >= kMaxStopAttempts) ||
              self->options_.now() + self->options_.restart_poll >
                  self->gap_until_) {
            self->Answer(*std::move(s), self->stop_sent_);
            return;
          }
          if (retry_runs) {
            self->CheckActive();  // stop it too
            return;
          }
          self->WatchGapLater();
        });
  }

  void CheckActive() {
    auto self = shared_from_this();
    ws_.client().GetPipeline(
        run_.pipeline_id, ctx_, [self](absl::StatusOr<Pipeline> p) {
          if (!p.ok()) {
            self->done_(p.status());
            return;
          }
          auto active = ActiveUpdate(*p);
          if (!active.has_value()) {
            if (self->in_gap_) {
              self->WatchGapLater();
            } else {
              self->Reread(false);  // it ended meanwhile
            }
            return;
          }
          if (self->ours_.count(active->update_id) == 0) {
            self->done_(absl::FailedPreconditionError(absl::StrCat(
                "run ",
                FormatRunId(self->run_.pipeline_id, self->run_.update_id),
                " is not the pipeline's active update (",
                FormatRunId(self->run_.pipeline_id, active->update_id),
                " is); Databricks can only stop the active update, so nothing "
                "was stopped")));
            return;
          }
          self->SendStop();
        });
  }

  void SendStop() {
    ++attempts_;
    auto self = shared_from_this();
    ws_.client().StopPipeline(
        run_.pipeline_id, ctx_, [self](absl::StatusOr<api::Empty> s) {
          if (s.ok()) {
            log::Info(
                "stop sent",
                {log::Field("workspace", self->ws_.name()),
                 log::Field("run_id", FormatRunId(self->run_.pipeline_id,
                                                  self->run_.update_id)),
                 log::Field("correlation_id", self->ctx_.correlation_id)});
            if (self->in_gap_) {
              self->stop_sent_ = true;
              self->WatchGapLater();
            } else {
              self->Reread(true);
            }
            return;
          }
          // Unknown outcome: retry only after re-checking that the same
          // update is still the active one.
          if ((s.status().code() == absl::StatusCode::kUnavailable ||
               s.status().code() == absl::StatusCode::kResourceExhausted) &&
              self->attempts_ < kMaxStopAttempts) {
            self->CheckActive();
            return;
          }
          self->done_(s.status());
        });
  }

  void Reread(bool stop_sent) {
    auto self = shared_from_this();
    reader_.ReadFresh(ws_, run_, ctx_,
                      [self, stop_sent](absl::StatusOr<v1::UpdateStatus> s) {
                        if (!s.ok()) {
                          self->done_(s.status());
                          return;
                        }
                        self->Answer(*std::move(s), stop_sent);
                      });
  }

  void Answer(v1::UpdateStatus status, bool stop_sent) {
    v1::StopUpdateResponse r;
    *r.mutable_status() = std::move(status);
    r.set_stop_sent(stop_sent);
    done_(std::move(r));
  }

  api::Workspace& ws_;
  const RunId run_;
  const api::CallContext ctx_;
  StatusReader& reader_;
  http::Transport& transport_;
  const StartStopOptions& options_;
  StartStop::Done<v1::StopUpdateResponse> done_;
  std::set<std::string> ours_;
  int attempts_ = 0;
  // Stopped while DLT's retry was pending: watched until gap_until_.
  bool in_gap_ = false;
  bool stop_sent_ = false;
  absl::Time gap_until_;
};

// The request as the idempotency check compares it.
std::string Fingerprint(const v1::StartUpdateRequest& request,
                        absl::string_view workspace) {
  v1::StartUpdateRequest copy = request;
  copy.clear_idempotency_key();
  copy.set_workspace(std::string(workspace));
  std::string out;
  google::protobuf::io::StringOutputStream stream(&out);
  google::protobuf::io::CodedOutputStream coded(&stream);
  coded.SetSerializationDeterministic(true);
  copy.SerializeToCodedStream(&coded);
  return out;
}

}  // namespace

StartStop::StartStop(StatusReader& reader, http::Transport& transport,
                     StartStopOptions options)
    : reader_(reader), transport_(transport), options_(std::move(options)) {}

void StartStop::Start(api::Workspace& ws, const v1::StartUpdateRequest& request,
                      StartUpdateRequest body, api::CallContext ctx,
                      Done<v1::StartUpdateResponse> done) {
  if (request.idempotency_key().empty()) {
    StartChecked(ws, request, std::move(body), std::move(ctx),
                 /*outlive_caller=*/false, std::move(done));
    return;
  }
  const std::string key = absl::StrCat(ws.name(), "|", request.pipeline_id(),
                                       "|", request.idempotency_key());
  const std::string fingerprint = Fingerprint(request, ws.name());
  // Decided under the lock, answered after it.
  std::optional<absl::StatusOr<v1::StartUpdateResponse>> answer;
  {
    std::lock_guard<std::mutex> lock(mu_);
    const absl::Time now = options_.now();
    // Forget expired entries (oldest first; the order list may also hold
    // keys already forgotten).
    while (!idempotency_order_.empty()) {
      auto it = idempotency_.find(idempotency_order_.front());
      if (it != idempotency_.end() &&
          !(it->second->done && it->second->expires <= now)) {
        break;
      }
      if (it != idempotency_.end()) idempotency_.erase(it);
      idempotency_order_.pop_front();
    }
    auto it = idempotency_.find(key);
    if (it != idempotency_.end() && it->second->done &&
        it->second->expires <= now) {
      idempotency_.erase(it);  // past the window: a new request
      it = idempotency_.end();
    }
    if (it != idempotency_.end()) {
      IdempotencyEntry& e = *it->second;
      if (e.fingerprint != fingerprint) {
        answer = absl::InvalidArgumentError(
            "idempotency_key was already used for a different StartUpdate "
            "request on this pipeline; use a new key for a new request");
      } else if (!e.done) {
        e.waiters.push_back(std::move(done));
        return;
      } else {
        v1::StartUpdateResponse replay = e.response;
        replay.set_replayed(true);
        SetKeyTtl(e.expires - now, &replay);
        answer = std::move(replay);
      }
    }
    if (!answer.has_value()) {
      auto entry = std::make_shared<IdempotencyEntry>();
      entry->fingerprint = fingerprint;
      idempotency_[key] = entry;
      idempotency_order_.push_back(key);
      while (idempotency_.size() > options_.max_idempotency_entries &&
             !idempotency_order_.empty()) {
        auto oldest = idempotency_.find(idempotency_order_.front());
        if (oldest != idempotency_.end() && !oldest->second->done) break;
        if (oldest != idempotency_.end()) idempotency_.erase(oldest);
        idempotency_order_.pop_front();
      }
    }
  }
  if (answer.has_value()) {
    done(*std::move(answer));
    return;
  }
  // Settled even if the caller leaves meanwhile: the outcome is remembered
  // under the key, so the caller's retry is answered with it.
  StartChecked(ws, request, std::move(body), std::move(ctx),
               /*outlive_caller=*/true,
               [this, key, done = std::move(done)](
                   absl::StatusOr<v1::StartUpdateResponse> result) {
                 if (result.ok()) {
                   SetKeyTtl(options_.idempotency_window, &*result);
                 }
                 RememberResult(key, result);
                 done(std::move(result));
               });
}

void StartStop::RememberResult(
    const std::string& key,
    const absl::StatusOr<v1::StartUpdateResponse>& result) {
  std::vector<Done<v1::StartUpdateResponse>> waiters;
  {
    std::lock_guard<std::mutex> lock(mu_);
    auto it = idempotency_.find(key);
    if (it == idempotency_.end()) return;
    waiters.swap(it->second->waiters);
    if (result.ok()) {
      it->second->done = true;
      it->second->response = *result;
      it->second->expires = options_.now() + options_.idempotency_window;
    } else {
      idempotency_.erase(it);  // a failure frees the key for a retry
    }
  }
  for (auto& w : waiters) {
    if (result.ok()) {
      v1::StartUpdateResponse replay = *result;
      replay.set_replayed(true);
      w(std::move(replay));
    } else {
      w(result.status());
    }
  }
}

void StartStop::StartChecked(api::Workspace& ws,
                             const v1::StartUpdateRequest& request,
                             StartUpdateRequest body, api::CallContext ctx,
                             bool outlive_caller,
                             Done<v1::StartUpdateResponse> done) {
  std::make_shared<StartOp>(
      ws, request.pipeline_id(), std::move(body), request.if_running(),
      std::move(ctx), outlive_caller, transport_, options_, std::move(done))
      ->Start();
}

void StartStop::Stop(api::Workspace& ws, RunId run, api::CallContext ctx,
                     Done<v1::StopUpdateResponse> done) {
  std::make_shared<StopOp>(ws, std::move(run), std::move(ctx), reader_,
                           transport_, options_, std::move(done))
      ->Start();
}

}  // namespace polysync::databricks::jobtype
