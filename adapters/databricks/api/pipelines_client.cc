#include "adapters/databricks/api/pipelines_client.h"

#include <algorithm>
#include <atomic>
#include <deque>
#include <mutex>
#include <optional>
#include <utility>

#include "absl/status/status.h"
#include "absl/strings/cord.h"
#include "absl/strings/str_cat.h"
#include "adapters/databricks/wire/decoders.h"
#include "adapters/databricks/wire/endpoints.h"
#include "adapters/databricks/wire/errors.h"
#include "adapters/databricks/wire/ids.h"
#include "adapters/databricks/wire/request_bodies.h"
#include "common/log.h"
#include "common/metrics.h"

namespace polysync::databricks::api {

struct PipelinesClient::Shared {
  Shared(std::string host_in, std::shared_ptr<auth::Credentials> creds_in,
         http::Transport& transport_in, ClientOptions options_in)
      : host(std::move(host_in)),
        creds(std::move(creds_in)),
        transport(transport_in),
        options(std::move(options_in)),
        limiter(options.limiter, options.now()) {}

  const std::string host;
  const std::shared_ptr<auth::Credentials> creds;
  http::Transport& transport;
  const ClientOptions options;
  AdaptiveLimiter limiter;

  // Set when the client is destroyed: waiting calls end with CANCELLED.
  std::atomic<bool> closed{false};
  std::mutex mu;
  // Calls waiting for a concurrency slot, in arrival order: interactive
  // ones are woken first, bulk ones while bulk is below its share.
  std::deque<std::function<void()>> waiting;       // guarded by mu
  std::deque<std::function<void()>> bulk_waiting;  // guarded by mu
  // Whether the last request got an HTTP answer (any status).
  std::optional<bool> reachable;  // guarded by mu
};

namespace {

// The Retry-After header of a failed answer, kept on its status so that a
// caller that retries by itself (a start) honours it.
constexpr char kRetryAfterPayload[] =
    "type.polysync.dev/databricks.retry_after";

using Shared = PipelinesClient::Shared;
using ResponseDone =
    std::function<void(absl::StatusOr<http::Response>, bool maybe_processed)>;

constexpr absl::string_view kApi = "/api/2.0/pipelines";

metrics::CounterFamily& UpstreamRequests() {
  static auto& family = metrics::Registry::Default().Counter(
      "polysync_upstream_requests_total",
      "Requests sent to Databricks, by endpoint and HTTP status (or transport "
      "failure).",
      {"endpoint", "status"});
  return family;
}

metrics::HistogramFamily& UpstreamLatency() {
  static auto& family = metrics::Registry::Default().Histogram(
      "polysync_upstream_request_seconds",
      "Latency of requests to Databricks, by endpoint.", {"endpoint"},
      metrics::LatencyBuckets());
  return family;
}

metrics::GaugeFamily& LimiterGauge() {
  static auto& family = metrics::Registry::Default().Gauge(
      "polysync_upstream_limit",
      "The adaptive per-workspace limits now in force (halved on 429, "
      "recovering gradually): requests_per_second, concurrency; and requests "
      "in_flight.",
      {"workspace", "kind"});
  return family;
}

metrics::GaugeFamily& Reachable() {
  static auto& family = metrics::Registry::Default().Gauge(
      "polysync_workspace_reachable",
      "1 when the last request to the workspace got an HTTP answer, 0 when "
      "it failed to connect or lost the connection.",
      {"workspace"});
  return family;
}

metrics::CounterFamily& UpstreamRetries() {
  static auto& family = metrics::Registry::Default().Counter(
      "polysync_upstream_retries_total",
      "Retries of requests to Databricks, by endpoint.", {"endpoint"});
  return family;
}

// What one logical call sends.
struct Spec {
  // Its name labels metrics and log lines ("pipelines.get"); Describe() of
  // it starts messages ("GET pipelines/{id}").
  Endpoint endpoint;
  std::string subject;  // for messages: "pipeline a12cd3e4-..."
  std::string path;     // path and query
  std::string body;
  Idempotency idempotency = Idempotency::kIdempotent;
  // False: never retried here (stop: the caller re-checks first).
  bool retry = true;
};

// `status` with `prefix: ` before its message, payloads kept.
absl::Status WithSubject(const absl::Status& status, absl::string_view prefix) {
  if (status.ok() || prefix.empty()) return status;
  absl::Status out(status.code(), absl::StrCat(prefix, ": ", status.message()));
  status.ForEachPayload([&](absl::string_view url, const absl::Cord& payload) {
    out.SetPayload(url, payload);
  });
  return out;
}

// One logical call: limiter, credentials, send, retry.
class Call : public std::enable_shared_from_this<Call> {
 public:
  Call(std::shared_ptr<Shared> shared, Spec spec, CallContext ctx,
       ResponseDone done)
      : shared_(std::move(shared)),
        spec_(std::move(spec)),
        ctx_(std::move(ctx)),
        done_(std::move(done)),
        start_(shared_->options.now()),
        deadline_(ctx_.deadline == absl::InfiniteFuture()
                      ? start_ + shared_->options.default_timeout
                      : ctx_.deadline),
        retry_(shared_->options.backoff, spec_.idempotency, start_,
               shared_->options.uniform01) {}

  void Start() { Acquire(); }

 private:
  // Takes a permit and sends, or waits for one: in the workspace's queue
  // when the concurrency cap is reached (woken by Kick), or on a timer when
  // the request rate is. `from_queue`: this wake-up used a queue entry, so
  // one that is not used must be passed on.
  void Acquire(bool from_queue = false) {
    if (finished_ || admitted_) {
      if (from_queue) Kick();  // a stale entry: pass the wake-up on
      return;
    }
    if (shared_->closed.load()) {
      Finish(absl::CancelledError(absl::StrCat(
                 Describe(spec_.endpoint), ": the client is shutting down")),
             maybe_processed_);
      return;
    }
    const absl::Time now = shared_->options.now();
    if (now >= deadline_) {
      if (from_queue) Kick();
      Finish(absl::DeadlineExceededError(absl::StrCat(
                 Describe(spec_.endpoint),
                 ": deadline passed while waiting for the workspace's "
                 "request limit")),
             maybe_processed_);
      return;
    }
    Admission admission = shared_->limiter.TryAcquire(now, ctx_.priority);
    if (admission.granted) {
      admitted_ = true;
      Authenticate();
      return;
    }
    auto self = shared_from_this();
    if (admission.wait_for_release) {
      {
        std::lock_guard<std::mutex> lock(shared_->mu);
        (ctx_.priority == Priority::kBulk ? shared_->bulk_waiting
                                          : shared_->waiting)
            .push_back([self] { self->Acquire(true); });
      }
      if (!deadline_timer_ && deadline_ != absl::InfiniteFuture()) {
        // Never wait in the queue past the deadline.
        deadline_timer_ = true;
        shared_->transport.RunAfter(deadline_ - now,
                                    [self] { self->Acquire(false); });
      }
      Kick();  // a slot may have been freed since TryAcquire
      return;
    }
    shared_->transport.RunAfter(admission.wait,
                                [self] { self->Acquire(false); });
  }

  void Release(LimiterOutcome outcome) {
    admitted_ = false;
    AdaptiveLimiter& limiter = shared_->limiter;
    const int before = limiter.concurrency_limit();
    limiter.Release(outcome, shared_->options.now());
    const std::string& ws = shared_->options.workspace_name;
    LimiterGauge()
        .With({ws, "requests_per_second"})
        .Set(limiter.requests_per_second());
    LimiterGauge().With({ws, "concurrency"}).Set(limiter.concurrency_limit());
    LimiterGauge().With({ws, "in_flight"}).Set(limiter.in_flight());
    if (limiter.concurrency_limit() < before) {
      log::Warn(
          "Databricks throttled this workspace; request limits halved",
          {log::Field("workspace", ws),
           log::Field("requests_per_second", limiter.requests_per_second()),
           log::Field("concurrency", limiter.concurrency_limit())});
    }
    Kick();
  }

  // Records whether the workspace answered; logs when that changes.
  void NoteReachability(bool reachable) {
    bool changed;
    {
      std::lock_guard<std::mutex> lock(shared_->mu);
      changed = shared_->reachable != reachable;
      shared_->reachable = reachable;
    }
    const std::string& ws = shared_->options.workspace_name;
    Reachable().With({ws}).Set(reachable ? 1 : 0);
    if (!changed) return;
    if (reachable) {
      log::Info("workspace reachable", {log::Field("workspace", ws)});
    } else {
      log::Warn("workspace unreachable",
                {log::Field("workspace", ws),
                 log::Field("endpoint", std::string(spec_.endpoint.name))});
    }
  }

  // Wakes the oldest waiting interactive call when a concurrency slot is
  // free, else the oldest bulk one when bulk is below its share. Called
  // after every release and after every enqueue, so no wake-up is lost.
  void Kick() {
    std::function<void()> next;
    {
      std::lock_guard<std::mutex> lock(shared_->mu);
      const AdaptiveLimiter& limiter = shared_->limiter;
      const int in_flight = limiter.in_flight();
      if (!shared_->waiting.empty() &&
          in_flight < limiter.concurrency_limit(Priority::kInteractive)) {
        next = std::move(shared_->waiting.front());
        shared_->waiting.pop_front();
      } else if (!shared_->bulk_waiting.empty() &&
                 in_flight < limiter.concurrency_limit(Priority::kBulk)) {
        next = std::move(shared_->bulk_waiting.front());
        shared_->bulk_waiting.pop_front();
      }
    }
    if (next) shared_->transport.RunAfter(absl::ZeroDuration(), next);
  }

  void Authenticate() {
    auto self = shared_from_this();
    shared_->creds->GetHeaders(
        deadline_, [self](absl::StatusOr<http::Headers> headers) {
          if (!headers.ok()) {
            self->Release(LimiterOutcome::kOther);
            self->Finish(
                absl::Status(headers.status().code(),
                             absl::StrCat(Describe(self->spec_.endpoint),
                                          ": cannot authenticate: ",
                                          headers.status().message())),
                self->maybe_processed_);
            return;
          }
          if (self->spec_.idempotency == Idempotency::kNonIdempotent &&
              self->ctx_.cancelled && self->ctx_.cancelled()) {
            self->Release(LimiterOutcome::kOther);
            self->Finish(absl::CancelledError(
                             absl::StrCat(Describe(self->spec_.endpoint),
                                          ": the caller went away; not sent")),
                         self->maybe_processed_);
            return;
          }
          self->Send(*std::move(headers));
        });
  }

  void Send(http::Headers auth_headers) {
    http::Request request;
    request.method = std::string(spec_.endpoint.method);
    request.url = absl::StrCat(shared_->host, spec_.path);
    request.headers = std::move(auth_headers);
    request.headers.emplace_back("Accept", "application/json");
    request.headers.emplace_back("User-Agent", "polysync-dlt/1.0");
    if (!ctx_.correlation_id.empty()) {
      request.headers.emplace_back("X-Request-Id", ctx_.correlation_id);
    }
    if (std::string_view(spec_.endpoint.method) != "GET") {
      request.headers.emplace_back("Content-Type", "application/json");
      request.body = spec_.body.empty() ? "{}" : spec_.body;
    }
    request.deadline = deadline_;
    request.idempotent = spec_.idempotency == Idempotency::kIdempotent;
    request.ca_bundle_file = shared_->options.ca_bundle_file;
    retry_.FirstSent(shared_->options.now());
    auto self = shared_from_this();
    shared_->transport.Send(std::move(request),
                            [self](http::TransportResult result) {
                              self->OnResult(std::move(result));
                            });
  }

  void OnResult(http::TransportResult result) {
    const absl::Time now = shared_->options.now();
    const bool transport_failed = !result.status.ok();
    UpstreamLatency()
        .With({std::string(spec_.endpoint.name)})
        .Observe(absl::ToDoubleSeconds(result.elapsed));
    UpstreamRequests()
        .With({std::string(spec_.endpoint.name),
               transport_failed
                   ? std::string(http::TransportFailureName(result.failure))
                   : absl::StrCat(result.response.status)})
        .Increment();

    if (transport_failed &&
        result.status.code() == absl::StatusCode::kCancelled) {
      // The transport was cancelled (the end of a drain): neither an answer
      // about the workspace nor worth a retry.
      Release(LimiterOutcome::kOther);
      if (!http::CertainlyNotSent(result.failure)) maybe_processed_ = true;
      Finish(std::move(result.status), maybe_processed_);
      return;
    }
    NoteReachability(!transport_failed ||
                     result.failure ==
                         http::TransportFailure::kResponseTooLarge);
    AttemptResult attempt;
    absl::Status status;
    if (transport_failed) {
      attempt.transport = result.failure;
      status = result.status;
      if (!http::CertainlyNotSent(result.failure)) maybe_processed_ = true;
    } else {
      attempt.http_status = result.response.status;
      status = StatusFromHttpResponse(
          Describe(spec_.endpoint), result.response.status,
          result.response.body, result.response.Header("x-request-id"));
      attempt.throttled = IsThrottled(status);
      attempt.retry_after = result.response.Header("retry-after");
      // A 4xx (429 included) was refused, not processed; a 5xx may have
      // been processed before the failure.
      if (!status.ok() && result.response.status >= 500 && !attempt.throttled) {
        maybe_processed_ = true;
      }
    }
    Release(attempt.throttled ? LimiterOutcome::kThrottled
            : status.ok()     ? LimiterOutcome::kSuccess
                              : LimiterOutcome::kOther);
    if (status.ok()) {
      Finish(std::move(result.response), false);
      return;
    }
    // An expired or revoked token: fetch a new one and try once more.
    if (!transport_failed && result.response.status == 401 &&
        !reauthenticated_) {
      reauthenticated_ = true;
      shared_->creds->Invalidate();
      Acquire();
      return;
    }
    RetryDecision decision = retry_.OnAttemptFailed(attempt, now);
    // The same oversized answer would come back: do not ask again.
    const bool pointless =
        result.failure == http::TransportFailure::kResponseTooLarge;
    if (spec_.retry && decision.retry && !pointless &&
        now + decision.delay < deadline_) {
      UpstreamRetries().With({std::string(spec_.endpoint.name)}).Increment();
      log::Debug(
          "retrying Databricks request",
          {log::Field("endpoint", std::string(spec_.endpoint.name)),
           log::Field("attempt", retry_.attempts()),
           log::Field("delay_ms", absl::ToInt64Milliseconds(decision.delay)),
           log::Field("reason", decision.reason),
           log::Field("correlation_id", ctx_.correlation_id)});
      auto self = shared_from_this();
      shared_->transport.RunAfter(decision.delay, [self] { self->Acquire(); });
      return;
    }
    if (!transport_failed && !attempt.retry_after.empty()) {
      status.SetPayload(kRetryAfterPayload,
                        absl::Cord(std::string(attempt.retry_after)));
    }
    Finish(std::move(status), maybe_processed_);
  }

  void Finish(absl::StatusOr<http::Response> result, bool maybe_processed) {
    if (finished_) return;
    finished_ = true;
    if (!result.ok()) result = WithSubject(result.status(), spec_.subject);
    ResponseDone done = std::move(done_);
    if (done) done(std::move(result), maybe_processed);
  }

  const std::shared_ptr<Shared> shared_;
  const Spec spec_;
  const CallContext ctx_;
  ResponseDone done_;
  const absl::Time start_;
  const absl::Time deadline_;
  RetryLoop retry_;
  bool reauthenticated_ = false;
  // Some attempt may have reached Databricks and been processed.
  bool maybe_processed_ = false;
  // Holding a limiter permit (between TryAcquire and Release).
  bool admitted_ = false;
  bool finished_ = false;
  bool deadline_timer_ = false;
};

void Execute(const std::shared_ptr<Shared>& shared, Spec spec, CallContext ctx,
             ResponseDone done) {
  std::make_shared<Call>(shared, std::move(spec), std::move(ctx),
                         std::move(done))
      ->Start();
}

// Executes `spec` and decodes a 2xx body with `decode`.
template <typename T, typename Decode>
void Run(const std::shared_ptr<Shared>& shared, Spec spec, CallContext ctx,
         Decode decode, PipelinesClient::Done<T> done) {
  std::string endpoint = Describe(spec.endpoint);
  Execute(
      shared, std::move(spec), std::move(ctx),
      [endpoint = std::move(endpoint), decode, done = std::move(done)](
          absl::StatusOr<http::Response> response, bool) {
        if (!response.ok()) {
          done(response.status());
          return;
        }
        absl::StatusOr<T> value = decode(response->body);
        if (!value.ok()) {
          done(DecodeFailure(endpoint, response->status,
                             response->Header("x-request-id"), value.status()));
          return;
        }
        done(std::move(value));
      });
}

Spec Get(const Endpoint& endpoint, std::string subject, std::string path) {
  Spec s;
  s.endpoint = endpoint;
  s.subject = std::move(subject);
  s.path = std::move(path);
  return s;
}

std::string PipelinePath(absl::string_view pipeline_id) {
  return absl::StrCat(kApi, "/", pipeline_id);
}

std::string PipelineSubject(absl::string_view pipeline_id) {
  return absl::StrCat("pipeline ", pipeline_id);
}

template <typename T>
bool Refuse(const absl::Status& status, PipelinesClient::Done<T>& done) {
  if (status.ok()) return false;
  done(status);
  return true;
}

// After a start whose outcome is unknown: re-read latest_updates and adopt
// the one update that is new since `before` (clocks are never compared) and
// was started by an API call (cause API_CALL: not a job's, not DLT's retry).
// `if_none`, when not OK, is the answer when no new update appeared (a
// retried start's 409: someone else's update is active).
void Adopt(std::shared_ptr<Shared> shared, std::string pipeline_id,
           std::vector<UpdateStateInfo> before, absl::Status lost,
           CallContext ctx, PipelinesClient::Done<StartUpdateOutcome> done,
           absl::Status if_none = absl::OkStatus()) {
  // The POST may have used up the caller's deadline (a timeout is one way
  // to lose a response): the look-up gets its own budget.
  ctx.deadline = shared->options.now() + shared->options.adoption_timeout;
  auto after_done = [shared, pipeline_id, before = std::move(before), lost, ctx,
                     if_none, done = std::move(done)](
                        absl::StatusOr<Pipeline> after) mutable {
    std::vector<std::string> fresh;
    if (after.ok()) fresh = NewUpdateIds(before, after->latest_updates);
    if (after.ok() && fresh.empty() && !if_none.ok()) {
      done(if_none);
      return;
    }
    if (fresh.size() != 1) {
      done(absl::UnavailableError(absl::StrCat(
          "start update of pipeline ", pipeline_id,
          ": the outcome is unknown (", lost.message(), ") and ",
          !after.ok()     ? absl::StrCat("re-reading the pipeline failed (",
                                         after.status().message(), ")")
          : fresh.empty() ? std::string("no new update appeared")
                          : std::string("several new updates appeared"),
          "; not retried, so that no second update is started")));
      return;
    }
    const std::string adopted = fresh.front();
    // The request id and the cause come from the update itself.
    Run<UpdateInfo>(
        shared,
        Get(kGetUpdate, PipelineSubject(pipeline_id),
            absl::StrCat(PipelinePath(pipeline_id), "/updates/", adopted)),
        ctx, &DecodeUpdate,
        [adopted, pipeline_id, lost, ctx, if_none,
         done = std::move(done)](absl::StatusOr<UpdateInfo> update) mutable {
          if (!update.ok() || update->cause != "API_CALL") {
            if (!if_none.ok()) {
              done(if_none);
              return;
            }
            done(absl::UnavailableError(absl::StrCat(
                "start update of pipeline ", pipeline_id,
                ": the outcome is unknown (", lost.message(),
                ") and the one new update, ", adopted, ", ",
                update.ok() ? absl::StrCat("has cause ", update->cause,
                                           ": not this call's")
                            : absl::StrCat("cannot be read (",
                                           update.status().message(), ")"),
                "; not retried, so that no second update is started")));
            return;
          }
          log::Warn("start update response lost; adopted the new update",
                    {log::Field("pipeline_id", pipeline_id),
                     log::Field("update_id", adopted),
                     log::Field("correlation_id", ctx.correlation_id)});
          done(StartUpdateOutcome{adopted,
                                  update.ok() ? update->request_id : "", true});
        });
  };
  Run<Pipeline>(shared,
                Get(kGetPipeline, PipelineSubject(pipeline_id),
                    PipelinePath(pipeline_id)),
                ctx, &DecodePipeline, std::move(after_done));
}

// A 503 whose body is Databricks' own JSON error (TEMPORARILY_UNAVAILABLE):
// the front end refused the request before processing it, as the SDKs read
// it (they retry 429 and 503 on every method). A proxy's page, a 502 or a
// 504 says nothing of the kind.
bool RefusedUnprocessed(const absl::Status& status) {
  return HttpStatusOf(status) == 503 &&
         DatabricksErrorCodeOf(status).has_value();
}

// At most this many POSTs after the first, each only once the re-read
// showed that the previous one started nothing.
constexpr int kMaxStartRetries = 3;

// 2. POST, retried by the transport only when certainly not processed; a
// 503 refused before processing is retried here once latest_updates shows
// no new update (never for validate_only); any other unknown outcome is
// resolved by adoption.
void PostStart(std::shared_ptr<Shared> shared, std::string pipeline_id,
               std::string body, bool validate_only,
               std::vector<UpdateStateInfo> known, int retries, CallContext ctx,
               PipelinesClient::Done<StartUpdateOutcome> done) {
  Spec spec;
  spec.endpoint = kStartUpdate;
  spec.subject = PipelineSubject(pipeline_id);
  spec.path = absl::StrCat(PipelinePath(pipeline_id), "/updates");
  spec.body = body;
  spec.idempotency = Idempotency::kNonIdempotent;
  Execute(
      shared, std::move(spec), ctx,
      [shared, pipeline_id, body, validate_only, known = std::move(known),
       retries, ctx,
       done = std::move(done)](absl::StatusOr<http::Response> response,
                               bool maybe_processed) mutable {
        absl::Status lost;
        if (response.ok()) {
          auto started = DecodeStartUpdateResult(response->body);
          if (started.ok()) {
            done(StartUpdateOutcome{started->update_id, started->request_id,
                                    false});
            return;
          }
          // A 2xx started an update even if its body is garbled.
          lost =
              DecodeFailure(Describe(kStartUpdate), response->status,
                            response->Header("x-request-id"), started.status());
        } else if (!maybe_processed) {
          if (retries > 0 && HttpStatusOf(response.status()) == 409) {
            // An earlier POST of this call may be the active update: adopt
            // it on the usual terms, else the 409 stands, saying so.
            const absl::Status conflict(
                response.status().code(),
                absl::StrCat(response.status().message(),
                             " (an earlier attempt of this start, answered "
                             "503, may have started the active update: read "
                             "the pipeline's updates before starting again)"));
            Adopt(shared, pipeline_id, std::move(known), response.status(), ctx,
                  std::move(done), conflict);
            return;
          }
          done(response.status());
          return;
        } else {
          lost = response.status();
        }
        const bool may_retry = RefusedUnprocessed(lost) && !validate_only &&
                               retries < kMaxStartRetries;
        if (!may_retry) {
          // 3. The outcome is unknown.
          Adopt(shared, pipeline_id, std::move(known), lost, ctx,
                std::move(done));
          return;
        }
        // Re-read before anything else: retry only when no update appeared.
        CallContext reread = ctx;
        reread.deadline =
            std::min(ctx.deadline,
                     shared->options.now() + shared->options.adoption_timeout);
        Run<Pipeline>(
            shared,
            Get(kGetPipeline, PipelineSubject(pipeline_id),
                PipelinePath(pipeline_id)),
            reread, &DecodePipeline,
            [shared, pipeline_id, body = std::move(body), known, retries, ctx,
             lost,
             done = std::move(done)](absl::StatusOr<Pipeline> after) mutable {
              if (!after.ok() ||
                  !NewUpdateIds(known, after->latest_updates).empty()) {
                // Something appeared (or nothing can be seen): adoption
                // decides, as for any unknown outcome.
                Adopt(shared, pipeline_id, std::move(known), lost, ctx,
                      std::move(done));
                return;
              }
              absl::Duration delay =
                  std::min(absl::Seconds(1) * (retries + 1),
                           shared->options.backoff.max_delay);
              // Databricks' Retry-After, when it sent one (at most 60 s).
              if (auto header = lost.GetPayload(kRetryAfterPayload)) {
                if (auto after = ParseRetryAfter(std::string(*header),
                                                 shared->options.now())) {
                  delay = std::max(delay, std::min(*after, absl::Seconds(60)));
                }
              }
              if (shared->options.now() + delay >= ctx.deadline) {
                done(absl::UnavailableError(absl::StrCat(
                    "start update of pipeline ", pipeline_id,
                    ": Databricks refused it before processing (",
                    lost.message(),
                    ") and the caller's deadline leaves no time to try again; "
                    "no update was started")));
                return;
              }
              log::Warn("start update refused before processing; retrying",
                        {log::Field("pipeline_id", pipeline_id),
                         log::Field("retry", retries + 1),
                         log::Field("correlation_id", ctx.correlation_id)});
              shared->transport.RunAfter(
                  delay, [shared, pipeline_id, body = std::move(body),
                          known = std::move(known), retries, ctx,
                          done = std::move(done)]() mutable {
                    PostStart(std::move(shared), std::move(pipeline_id),
                              std::move(body), /*validate_only=*/false,
                              std::move(known), retries + 1, std::move(ctx),
                              std::move(done));
                  });
            });
      });
}

// The query's own checks; the ids are checked by the caller.
absl::Status ValidateEventQuery(const EventQuery& query) {
  if (!query.update_id.empty()) {
    if (absl::Status s = ValidateUpdateId(query.update_id); !s.ok()) return s;
  }
  for (size_t i = 0; i < query.levels.size(); ++i) {
    if (!IsKnownEventLevel(query.levels[i])) {
      // Never echoed (as every refused value): its length only.
      return absl::InvalidArgumentError(absl::StrCat(
          "event query: levels[", i,
          "] is not one of INFO, WARN, ERROR, METRICS (a value of ",
          query.levels[i].size(), " bytes)"));
    }
  }
  if (query.page_size < 1 || query.page_size > kMaxEventsPageSize) {
    return absl::InvalidArgumentError(
        absl::StrCat("event query: page_size must be between 1 and ",
                     kMaxEventsPageSize, ", got ", query.page_size));
  }
  if (query.max_pages < 1 || query.max_pages > kMaxEventPages) {
    return absl::InvalidArgumentError(
        absl::StrCat("event query: max_pages must be between 1 and ",
                     kMaxEventPages, ", got ", query.max_pages));
  }
  return absl::OkStatus();
}

// One ReadEvents call, shared by its pages.
struct EventsReading {
  std::string pipeline_id;
  EventQuery query;
  std::string filter;  // from update_id and levels
  CallContext ctx;
  PipelinesClient::Done<EventsRead> done;
  EventsRead read;
};

// Reads the page at `page_token` (empty: the first) and goes on, or
// answers.
void ReadEventsPage(std::shared_ptr<Shared> shared,
                    std::shared_ptr<EventsReading> reading,
                    std::string page_token) {
  ListEventsRequest request;
  request.max_results = reading->query.page_size;
  // With a token, ListEventsQuery sends neither filter nor order_by.
  request.page_token = std::move(page_token);
  request.filter = reading->filter;
  if (reading->query.order == EventOrder::kOldestFirst) {
    request.order_by = {"timestamp asc"};
  }
  absl::StatusOr<std::string> query = ListEventsQuery(request);
  if (!query.ok()) {  // not expected: the query was validated
    reading->done(query.status());
    return;
  }
  Run<ListEventsPage>(
      shared,
      Get(kListEvents, PipelineSubject(reading->pipeline_id),
          absl::StrCat(PipelinePath(reading->pipeline_id), "/events", *query)),
      reading->ctx, &DecodeListEventsPage,
      [shared, reading](absl::StatusOr<ListEventsPage> page) {
        if (!page.ok()) {
          reading->done(page.status());
          return;
        }
        const EventQuery& q = reading->query;
        EventsRead& read = reading->read;
        ++read.pages;
        bool matched = false;
        for (PipelineEvent& e : page->events) {
          if (!q.update_id.empty() && !e.origin.update_id.empty() &&
              e.origin.update_id != q.update_id) {
            continue;
          }
          if (!matched && q.stop_when && q.stop_when(e)) matched = true;
          if (!q.keep || q.keep(e)) read.events.push_back(std::move(e));
        }
        read.next_page_token = std::move(page->next_page_token);
        if (matched) {
          read.end = EventsReadEnd::kMatched;
        } else if (read.next_page_token.empty()) {
          read.end = EventsReadEnd::kLogEnded;
        } else if (read.pages >= q.max_pages) {
          read.end = EventsReadEnd::kMaxPages;
        } else if (reading->ctx.cancelled && reading->ctx.cancelled()) {
          reading->done(absl::CancelledError(absl::StrCat(
              "reading events of pipeline ", reading->pipeline_id,
              ": the caller went away after ", read.pages, " pages")));
          return;
        } else {
          ReadEventsPage(shared, reading, read.next_page_token);
          return;
        }
        reading->done(std::move(read));
      });
}

}  // namespace

PipelinesClient::PipelinesClient(std::string host,
                                 std::shared_ptr<auth::Credentials> creds,
                                 http::Transport& transport,
                                 ClientOptions options)
    : shared_(std::make_shared<Shared>(std::move(host), std::move(creds),
                                       transport, std::move(options))) {}

PipelinesClient::~PipelinesClient() {
  shared_->closed = true;
  std::deque<std::function<void()>> waiting;
  {
    std::lock_guard<std::mutex> lock(shared_->mu);
    waiting.swap(shared_->waiting);
    for (auto& w : shared_->bulk_waiting) waiting.push_back(std::move(w));
    shared_->bulk_waiting.clear();
  }
  for (auto& w : waiting) w();  // each ends with CANCELLED
}

const std::string& PipelinesClient::host() const { return shared_->host; }

const AdaptiveLimiter& PipelinesClient::limiter() const {
  return shared_->limiter;
}

bool PipelinesClient::unreachable() const {
  std::lock_guard<std::mutex> lock(shared_->mu);
  return shared_->reachable.has_value() && !*shared_->reachable;
}

void PipelinesClient::ListPipelines(ListPipelinesRequest request,
                                    CallContext ctx,
                                    Done<ListPipelinesPage> done) {
  auto query = ListPipelinesQuery(request);
  if (Refuse(query.status(), done)) return;
  Run<ListPipelinesPage>(
      shared_,
      Get(kListPipelines, "listing pipelines", absl::StrCat(kApi, *query)),
      std::move(ctx), &DecodeListPipelinesPage, std::move(done));
}

void PipelinesClient::GetPipeline(std::string pipeline_id, CallContext ctx,
                                  Done<Pipeline> done) {
  if (Refuse(ValidatePipelineId(pipeline_id), done)) return;
  Run<Pipeline>(shared_,
                Get(kGetPipeline, PipelineSubject(pipeline_id),
                    PipelinePath(pipeline_id)),
                std::move(ctx), &DecodePipeline, std::move(done));
}

void PipelinesClient::GetUpdate(std::string pipeline_id, std::string update_id,
                                CallContext ctx, Done<UpdateInfo> done) {
  if (Refuse(ValidatePipelineId(pipeline_id), done)) return;
  if (Refuse(ValidateUpdateId(update_id), done)) return;
  Run<UpdateInfo>(
      shared_,
      Get(kGetUpdate,
          absl::StrCat("pipeline ", pipeline_id, " update ", update_id),
          absl::StrCat(PipelinePath(pipeline_id), "/updates/", update_id)),
      std::move(ctx), &DecodeUpdate, std::move(done));
}

void PipelinesClient::ListUpdates(std::string pipeline_id,
                                  ListUpdatesRequest request, CallContext ctx,
                                  Done<ListUpdatesPage> done) {
  if (Refuse(ValidatePipelineId(pipeline_id), done)) return;
  auto query = ListUpdatesQuery(request);
  if (Refuse(query.status(), done)) return;
  Run<ListUpdatesPage>(
      shared_,
      Get(kListUpdates, PipelineSubject(pipeline_id),
          absl::StrCat(PipelinePath(pipeline_id), "/updates", *query)),
      std::move(ctx), &DecodeListUpdatesPage, std::move(done));
}

void PipelinesClient::GetRequestStatus(std::string pipeline_id,
                                       std::string request_id, CallContext ctx,
                                       Done<RequestStatus> done) {
  if (Refuse(ValidatePipelineId(pipeline_id), done)) return;
  if (Refuse(ValidateRequestId(request_id), done)) return;
  Run<RequestStatus>(
      shared_,
      Get(kGetRequest,
          absl::StrCat("pipeline ", pipeline_id, " request ", request_id),
          absl::StrCat(PipelinePath(pipeline_id), "/requests/", request_id)),
      std::move(ctx), &DecodeRequestStatus, std::move(done));
}

void PipelinesClient::ListEvents(std::string pipeline_id,
                                 ListEventsRequest request, CallContext ctx,
                                 Done<ListEventsPage> done) {
  if (Refuse(ValidatePipelineId(pipeline_id), done)) return;
  auto query = ListEventsQuery(request);
  if (Refuse(query.status(), done)) return;
  Run<ListEventsPage>(
      shared_,
      Get(kListEvents, PipelineSubject(pipeline_id),
          absl::StrCat(PipelinePath(pipeline_id), "/events", *query)),
      std::move(ctx), &DecodeListEventsPage, std::move(done));
}

void PipelinesClient::ReadEvents(std::string pipeline_id, EventQuery query,
                                 CallContext ctx, Done<EventsRead> done) {
  if (Refuse(ValidatePipelineId(pipeline_id), done)) return;
  if (Refuse(ValidateEventQuery(query), done)) return;
  auto filter = EventsFilter(query.update_id, query.levels);
  if (Refuse(filter.status(), done)) return;
  // Every page within the caller's deadline, or the default timeout.
  ctx.deadline = std::min(
      ctx.deadline, shared_->options.now() + shared_->options.default_timeout);
  auto reading = std::make_shared<EventsReading>();
  reading->pipeline_id = std::move(pipeline_id);
  reading->filter = *std::move(filter);
  reading->ctx = std::move(ctx);
  reading->done = std::move(done);
  reading->read.order = query.order;
  std::string page_token = query.page_token;
  reading->query = std::move(query);
  ReadEventsPage(shared_, std::move(reading), std::move(page_token));
}

void PipelinesClient::StopPipeline(std::string pipeline_id, CallContext ctx,
                                   Done<Empty> done) {
  if (Refuse(ValidatePipelineId(pipeline_id), done)) return;
  Spec spec;
  spec.endpoint = kStopPipeline;
  spec.subject = PipelineSubject(pipeline_id);
  spec.path = absl::StrCat(PipelinePath(pipeline_id), "/stop");
  spec.idempotency = Idempotency::kNonIdempotent;
  // Stop acts on whichever update is active when it lands: a retry later
  // could stop a newer update. The caller re-checks and asks again.
  spec.retry = false;
  Run<Empty>(
      shared_, std::move(spec), std::move(ctx),
      [](std::string_view) -> absl::StatusOr<Empty> { return Empty{}; },
      std::move(done));
}

void PipelinesClient::StartUpdate(std::string pipeline_id,
                                  StartUpdateRequest request, CallContext ctx,
                                  Done<StartUpdateOutcome> done) {
  if (Refuse(ValidatePipelineId(pipeline_id), done)) return;
  request.pipeline_id = pipeline_id;
  auto body = StartUpdateBody(request);
  if (Refuse(body.status(), done)) return;
  const bool validate_only = request.validate_only.value_or(false);
  std::shared_ptr<Shared> shared = shared_;
  // The whole start (snapshot, POSTs, their re-reads) within the caller's
  // deadline, or the default timeout; an adoption has its own budget.
  ctx.deadline = std::min(
      ctx.deadline, shared->options.now() + shared->options.default_timeout);
  // 1. Snapshot latest_updates, so a lost response can be resolved without
  //    comparing clocks.
  GetPipeline(
      pipeline_id, ctx,
      [shared, pipeline_id, body = *std::move(body), validate_only, ctx,
       done = std::move(done)](absl::StatusOr<Pipeline> before) mutable {
        if (!before.ok()) {
          done(before.status());
          return;
        }
        PostStart(std::move(shared), std::move(pipeline_id), std::move(body),
                  validate_only, std::move(before->latest_updates),
                  /*retries=*/0, std::move(ctx), std::move(done));
      });
}

}  // namespace polysync::databricks::api
