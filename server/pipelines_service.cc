#include "server/pipelines_service.h"

#include <algorithm>
#include <chrono>
#include <deque>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>

#include "absl/random/random.h"
#include "absl/status/status.h"
#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/time/clock.h"
#include "adapters/databricks/ids.h"
#include "common/log.h"
#include "common/metrics.h"
#include "server/grpc_status.h"
#include "server/request_codec.h"

namespace polysync::server {
namespace {

namespace api = ::polysync::databricks::api;
using databricks::jobtype::JobType;

metrics::CounterFamily& RpcCalls() {
  static auto& family = metrics::Registry::Default().Counter(
      "polysync_rpc_calls_total", "RPCs handled, by method and gRPC code.",
      {"method", "code"});
  return family;
}

metrics::HistogramFamily& RpcLatency() {
  static auto& family = metrics::Registry::Default().Histogram(
      "polysync_rpc_latency_seconds", "RPC latency, by method.", {"method"},
      metrics::LatencyBuckets());
  return family;
}

const char* CodeName(grpc::StatusCode code) {
  static constexpr const char* kNames[] = {"OK",
                                           "CANCELLED",
                                           "UNKNOWN",
                                           "INVALID_ARGUMENT",
                                           "DEADLINE_EXCEEDED",
                                           "NOT_FOUND",
                                           "ALREADY_EXISTS",
                                           "PERMISSION_DENIED",
                                           "RESOURCE_EXHAUSTED",
                                           "FAILED_PRECONDITION",
                                           "ABORTED",
                                           "OUT_OF_RANGE",
                                           "UNIMPLEMENTED",
                                           "INTERNAL",
                                           "UNAVAILABLE",
                                           "DATA_LOSS",
                                           "UNAUTHENTICATED"};
  const int i = static_cast<int>(code);
  return i >= 0 && i < 17 ? kNames[i] : "UNKNOWN";
}

metrics::GaugeFamily& RpcInFlight() {
  static auto& family = metrics::Registry::Default().Gauge(
      "polysync_rpc_in_flight",
      "RPCs being handled now (open watches and imports included), by "
      "method.",
      {"method"});
  return family;
}

// Every RPC calls Begin once when it starts and Record once when it ends.
void Begin(const char* method) { RpcInFlight().With({method}).Add(1); }

void Record(const char* method, const grpc::Status& status, absl::Time start) {
  RpcInFlight().With({method}).Add(-1);
  RpcCalls().With({method, CodeName(status.error_code())}).Increment();
  RpcLatency().With({method}).Observe(
      absl::ToDoubleSeconds(absl::Now() - start));
}

// A caller-supplied identifier for log lines: as sent when it has the shape
// of what it names, otherwise only its length. A cut value could keep part
// of a secret (redaction sees only whole secrets), and an invalid one is the
// caller's input, whatever it is.
enum class Shape { kWorkspace, kPipelineId, kRunId };
std::string Logged(Shape shape, const std::string& value) {
  bool ok = false;
  switch (shape) {
    case Shape::kWorkspace:
      ok = value.size() <= 64 &&
           std::all_of(value.begin(), value.end(), [](char c) {
             return absl::ascii_isalnum(static_cast<unsigned char>(c)) ||
                    c == '-' || c == '_' || c == '.';
           });
      break;
    case Shape::kPipelineId:
      ok = databricks::HasIdShape(value);
      break;
    case Shape::kRunId:
      ok = databricks::ParseRunId(value).ok();
      break;
  }
  return ok ? value : absl::StrCat("(invalid, ", value.size(), " bytes)");
}

// The caller's x-request-id, or a new one.
std::string CorrelationId(const grpc::CallbackServerContext* context) {
  const auto& metadata = context->client_metadata();
  auto it = metadata.find("x-request-id");
  if (it != metadata.end() && !it->second.empty() && it->second.size() <= 128) {
    std::string id(it->second.data(), it->second.size());
    bool printable = true;
    for (char c : id) {
      if (static_cast<unsigned char>(c) < 0x21 ||
          static_cast<unsigned char>(c) > 0x7e) {
        printable = false;
      }
    }
    if (printable) return id;
  }
  static thread_local absl::BitGen gen;
  return absl::StrFormat("%016x%016x", absl::Uniform<uint64_t>(gen),
                         absl::Uniform<uint64_t>(gen));
}

api::CallContext ContextOf(grpc::CallbackServerContext* context) {
  api::CallContext ctx;
  const auto deadline = context->deadline();
  if (deadline < std::chrono::system_clock::time_point::max() -
                     std::chrono::hours(24 * 365)) {
    ctx.deadline = absl::FromChrono(deadline);
  }
  ctx.correlation_id = CorrelationId(context);
  ctx.cancelled = [context] { return context->IsCancelled(); };
  context->AddInitialMetadata("x-request-id", ctx.correlation_id);
  return ctx;
}

// The log line of a call refused before anything was done (the caller's
// correlation id, or a new one returned in the response metadata).
std::string LogRefusal(const char* method, grpc::CallbackServerContext* context,
                       const grpc::Status& status) {
  const std::string correlation_id = CorrelationId(context);
  context->AddInitialMetadata("x-request-id", correlation_id);
  log::Info("rpc refused", {log::Field("method", method),
                            log::Field("code", CodeName(status.error_code())),
                            log::Field("error", status.error_message()),
                            log::Field("correlation_id", correlation_id)});
  return correlation_id;
}

// Finishes a unary call refused before anything was done. `audit`, when
// set, is called with the call's correlation id.
grpc::ServerUnaryReactor* Refuse(
    const char* method, grpc::CallbackServerContext* context,
    const absl::Status& refusal,
    std::function<void(const std::string& correlation_id)> audit = nullptr) {
  auto* reactor = context->DefaultReactor();
  grpc::Status status = ToGrpcStatus(refusal);
  Begin(method);
  Record(method, status, absl::Now());
  const std::string correlation_id = LogRefusal(method, context, status);
  if (audit) audit(correlation_id);
  reactor->Finish(status);
  return reactor;
}

// Called with a unary call's outcome before it finishes (audit lines):
// what the call came to (`resolved`) and what the caller received
// (`received`: the same status, unless the outcome came after the caller
// had gone).
template <typename Response>
using Audit = std::function<void(const absl::StatusOr<Response>& resolved,
                                 const absl::Status& received,
                                 const std::string& correlation_id)>;

// What a caller that is no longer waiting received: DEADLINE_EXCEEDED once
// its deadline has passed (gRPC answered it so), CANCELLED once it cancelled
// (or the server cut the call off); nullopt while it still waits.
std::optional<absl::Status> CallerGone(grpc::CallbackServerContext* context,
                                       absl::Time deadline) {
  if (absl::Now() >= deadline) {
    return absl::DeadlineExceededError(
        "the caller's deadline passed before the call was answered");
  }
  if (context->IsCancelled()) {
    return absl::CancelledError(
        "the call was cancelled before it was answered");
  }
  return std::nullopt;
}

// Runs a unary JobType call and finishes the reactor with its result,
// serialized into `response`. `request` is kept alive until then.
template <typename Response, typename Call>
grpc::ServerUnaryReactor* Unary(const char* method,
                                grpc::CallbackServerContext* context,
                                std::shared_ptr<const void> request,
                                grpc::ByteBuffer* response, Call call,
                                Audit<Response> audit = nullptr) {
  auto* reactor = context->DefaultReactor();
  const absl::Time start = absl::Now();
  Begin(method);
  api::CallContext ctx = ContextOf(context);
  call(ctx,
       [method, context, reactor, request = std::move(request), response, start,
        audit = std::move(audit), correlation_id = ctx.correlation_id,
        deadline = ctx.deadline](absl::StatusOr<Response> result) {
         // An outcome that comes after the caller has gone is not what it
         // received: the audit line, the metric and the log line say what
         // it did receive.
         const std::optional<absl::Status> gone = CallerGone(context, deadline);
         if (audit) {
           audit(result, gone ? *gone : result.status(), correlation_id);
         }
         std::string resolved;  // set when the caller had gone
         if (gone) {
           resolved = result.ok() ? "OK" : result.status().ToString();
           result = *gone;
         } else if (result.ok()) {
           if (absl::Status encoded = SerializeResponse(*result, response);
               !encoded.ok()) {
             result = encoded;
           }
         }
         grpc::Status status = ToGrpcStatus(result.status());
         if (status.error_code() == grpc::StatusCode::UNAVAILABLE) {
           // This replica answered: Databricks did not. Clients keep calling
           // this replica (retrying later) instead of failing over.
           context->AddTrailingMetadata(kUnavailableCauseKey, "databricks");
         }
         Record(method, status, start);
         if (gone) {
           log::Info("rpc failed",
                     {log::Field("method", method),
                      log::Field("code", CodeName(status.error_code())),
                      log::Field("error", status.error_message()),
                      log::Field("resolved_after_caller_left", resolved),
                      log::Field("correlation_id", correlation_id)});
         } else if (!status.ok()) {
           log::Info("rpc failed",
                     {log::Field("method", method),
                      log::Field("code", CodeName(status.error_code())),
                      log::Field("error", status.error_message()),
                      log::Field("correlation_id", correlation_id)});
         }
         reactor->Finish(status);
       });
  return reactor;
}

// A server-streaming reactor fed from another thread: messages are queued
// and written one at a time; End() finishes after the queue drains. gRPC is
// only called outside the lock.
template <typename Message>
class StreamWriter : public grpc::ServerWriteReactor<grpc::ByteBuffer> {
 public:
  explicit StreamWriter(const char* method)
      : method_(method), start_(absl::Now()) {
    Begin(method);
  }

  void Push(const Message& message) {
    grpc::ByteBuffer bytes;
    if (absl::Status encoded = SerializeResponse(message, &bytes);
        !encoded.ok()) {
      End(encoded);
      return;
    }
    {
      std::lock_guard<std::mutex> lock(mu_);
      if (ending_ || finished_) return;
      queue_.push_back(std::move(bytes));
    }
    Step();
  }

  // Finishes with `status` after the queued messages (dropped first when
  // `discard_queued`; a write already started still completes).
  void End(const absl::Status& status, bool discard_queued = false) {
    {
      std::lock_guard<std::mutex> lock(mu_);
      if (ending_ || finished_) return;
      ending_ = true;
      end_status_ = ToGrpcStatus(status);
      if (discard_queued) queue_.clear();
    }
    Step();
  }

  void OnWriteDone(bool ok) override {
    {
      std::lock_guard<std::mutex> lock(mu_);
      writing_ = false;
      if (!ok) queue_.clear();  // the client went away
    }
    Step();
  }

  void OnCancel() override {
    Cancelled();
    {
      std::lock_guard<std::mutex> lock(mu_);
      if (finished_) return;
      finished_ = true;
      queue_.clear();
    }
    Record(method_, grpc::Status::CANCELLED, start_);
    this->Finish(grpc::Status::CANCELLED);
  }

  void OnDone() override { Release(); }

 protected:
  // Hooks for the subclass: the client cancelled; the reactor is done.
  virtual void Cancelled() {}
  virtual void Release() = 0;

 private:
  // Starts the next write, or finishes when ending and nothing is left.
  void Step() {
    enum { kNothing, kWrite, kFinish } action = kNothing;
    grpc::Status status;
    {
      std::lock_guard<std::mutex> lock(mu_);
      if (writing_ || finished_) return;
      if (!queue_.empty()) {
        current_ = std::move(queue_.front());
        queue_.pop_front();
        writing_ = true;
        action = kWrite;
      } else if (ending_) {
        finished_ = true;
        status = end_status_;
        action = kFinish;
      }
    }
    if (action == kWrite) {
      this->StartWrite(&current_);
    } else if (action == kFinish) {
      Record(method_, status, start_);
      this->Finish(status);
    }
  }

  const char* method_;
  const absl::Time start_;
  std::mutex mu_;
  std::deque<grpc::ByteBuffer> queue_;  // guarded by mu_
  grpc::ByteBuffer current_;            // written only while !writing_
  bool writing_ = false;                // guarded by mu_
  bool ending_ = false;                 // guarded by mu_
  bool finished_ = false;               // guarded by mu_
  grpc::Status end_status_;             // guarded by mu_
};

// Reactors are owned by a shared_ptr so that callbacks arriving after the
// RPC ended find a live (if finished) object.
template <typename Message>
class SharedWriter : public StreamWriter<Message> {
 public:
  explicit SharedWriter(const char* method) : StreamWriter<Message>(method) {}
  void Hold(std::shared_ptr<SharedWriter> self) { self_ = std::move(self); }

 protected:
  void Release() override { self_.reset(); }

 private:
  std::shared_ptr<SharedWriter> self_;
};

class ImportWriter;

}  // namespace

// The imports in progress, so that a drain can end them.
class PipelinesService::OpenImports {
 public:
  uint64_t Add(std::weak_ptr<ImportWriter> writer);
  void Remove(uint64_t id);
  void EndAll(const absl::Status& status);

 private:
  std::mutex mu_;
  uint64_t next_id_ = 0;                                  // guarded by mu_
  std::map<uint64_t, std::weak_ptr<ImportWriter>> open_;  // guarded by mu_
};

namespace {

class ImportWriter final : public SharedWriter<v1::ImportPipelinesResponse> {
 public:
  ImportWriter() : SharedWriter("ImportPipelines") {}
  // The call's request, decoded; lives as long as the call.
  v1::ImportPipelinesRequest request;
  void SetImport(std::shared_ptr<databricks::jobtype::Import> import) {
    std::lock_guard<std::mutex> lock(mu_);
    import_ = std::move(import);
    if (cancelled_ && import_) import_->Cancel();
  }
  // Listed in `open` until the call is done.
  void Register(std::shared_ptr<PipelinesService::OpenImports> open,
                uint64_t id) {
    open_ = std::move(open);
    id_ = id;
  }
  // The server is draining: stop the import and end the stream with
  // `status` now, without the batches still queued.
  void Drain(const absl::Status& status) {
    End(status, /*discard_queued=*/true);
    Cancelled();
  }

 protected:
  void Cancelled() override {
    std::lock_guard<std::mutex> lock(mu_);
    cancelled_ = true;
    if (import_) import_->Cancel();
  }
  void Release() override {
    if (open_) open_->Remove(id_);
    SharedWriter::Release();
  }

 private:
  std::mutex mu_;
  std::shared_ptr<databricks::jobtype::Import> import_;
  bool cancelled_ = false;
  std::shared_ptr<PipelinesService::OpenImports> open_;
  uint64_t id_ = 0;
};

class WatchWriter final : public SharedWriter<v1::UpdateStatus> {
 public:
  WatchWriter(JobType& job_type)
      : SharedWriter("WatchUpdate"), job_type_(job_type) {}
  // The call's request, decoded; lives as long as the call.
  v1::WatchUpdateRequest request;
  void SetWatch(uint64_t id) {
    std::lock_guard<std::mutex> lock(mu_);
    id_ = id;
    if (cancelled_) job_type_.CancelWatch(id);
  }

 protected:
  void Cancelled() override {
    std::lock_guard<std::mutex> lock(mu_);
    cancelled_ = true;
    if (id_.has_value()) job_type_.CancelWatch(*id_);
  }

 private:
  JobType& job_type_;
  std::mutex mu_;
  std::optional<uint64_t> id_;
  bool cancelled_ = false;
};

}  // namespace

uint64_t PipelinesService::OpenImports::Add(
    std::weak_ptr<ImportWriter> writer) {
  std::lock_guard<std::mutex> lock(mu_);
  open_[++next_id_] = std::move(writer);
  return next_id_;
}

void PipelinesService::OpenImports::Remove(uint64_t id) {
  std::lock_guard<std::mutex> lock(mu_);
  open_.erase(id);
}

void PipelinesService::OpenImports::EndAll(const absl::Status& status) {
  std::vector<std::shared_ptr<ImportWriter>> writers;
  {
    std::lock_guard<std::mutex> lock(mu_);
    for (auto& [id, weak] : open_) {
      if (auto w = weak.lock()) writers.push_back(std::move(w));
    }
  }
  for (auto& w : writers) w->Drain(status);
}

PipelinesService::PipelinesService(JobType& job_type,
                                   const Authorizer* authorizer)
    : job_type_(job_type),
      authorizer_(authorizer),
      imports_(std::make_shared<OpenImports>()) {}

PipelinesService::~PipelinesService() = default;

void PipelinesService::EndImports(const absl::Status& status) {
  imports_->EndAll(status);
}

std::string PipelinesService::Caller(
    grpc::CallbackServerContext* context) const {
  std::string identity =
      authorizer_ == nullptr ? "" : authorizer_->Identity(*context);
  return identity.empty() ? "anonymous" : identity;
}

absl::StatusOr<std::string> PipelinesService::Authorize(
    grpc::CallbackServerContext* context, const std::vector<Action>& actions,
    const std::string& workspace) const {
  if (authorizer_ == nullptr) return std::string("anonymous");
  return authorizer_->Check(
      *context, actions,
      workspace.empty() ? job_type_.default_workspace() : workspace);
}

grpc::ServerWriteReactor<grpc::ByteBuffer>* PipelinesService::ImportPipelines(
    grpc::CallbackServerContext* context, const grpc::ByteBuffer* raw) {
  auto writer = std::make_shared<ImportWriter>();
  writer->Hold(writer);
  writer->Register(imports_, imports_->Add(writer));
  if (auto parsed = ParseRequest(*raw, &writer->request); !parsed.ok()) {
    LogRefusal("ImportPipelines", context, ToGrpcStatus(parsed));
    writer->End(parsed);
    return writer.get();
  }
  const v1::ImportPipelinesRequest* request = &writer->request;
  if (auto who = Authorize(context, {Action::kRead}, request->workspace());
      !who.ok()) {
    LogRefusal("ImportPipelines", context, ToGrpcStatus(who.status()));
    writer->End(who.status());
    return writer.get();
  }
  std::weak_ptr<ImportWriter> weak = writer;
  writer->SetImport(job_type_.ImportPipelines(
      *request, ContextOf(context),
      [weak](v1::ImportPipelinesResponse batch) {
        if (auto w = weak.lock()) w->Push(std::move(batch));
      },
      [weak](const absl::Status& status) {
        if (auto w = weak.lock()) w->End(status);
      }));
  return writer.get();
}

grpc::ServerUnaryReactor* PipelinesService::SyncParameters(
    grpc::CallbackServerContext* context, const grpc::ByteBuffer* raw,
    grpc::ByteBuffer* response) {
  auto request = std::make_shared<v1::SyncParametersRequest>();
  if (auto parsed = ParseRequest(*raw, request.get()); !parsed.ok()) {
    return Refuse("SyncParameters", context, parsed);
  }
  if (auto who = Authorize(context, {Action::kRead}, request->workspace());
      !who.ok()) {
    return Refuse("SyncParameters", context, who.status());
  }
  return Unary<v1::SyncParametersResponse>(
      "SyncParameters", context, request, response,
      [&](api::CallContext ctx, auto done) {
        job_type_.SyncParameters(*request, std::move(ctx), done);
      });
}

grpc::ServerUnaryReactor* PipelinesService::StartUpdate(
    grpc::CallbackServerContext* context, const grpc::ByteBuffer* raw,
    grpc::ByteBuffer* response) {
  auto request = std::make_shared<v1::StartUpdateRequest>();
  if (auto parsed = ParseRequest(*raw, request.get()); !parsed.ok()) {
    return Refuse(
        "StartUpdate", context, parsed, [&](const std::string& correlation_id) {
          log::Info("audit", {log::Field("action", "StartUpdate"),
                              log::Field("caller", Caller(context)),
                              log::Field("outcome", parsed.ToString()),
                              log::Field("correlation_id", correlation_id)});
        });
  }
  // A restart also stops the running update; an attach returns it.
  auto who =
      Authorize(context, StartUpdateActions(*request), request->workspace());
  if (!who.ok()) {
    return Refuse(
        "StartUpdate", context, who.status(),
        [&](const std::string& correlation_id) {
          log::Info("audit",
                    {log::Field("action", "StartUpdate"),
                     log::Field("caller", Caller(context)),
                     log::Field("workspace", Logged(Shape::kWorkspace,
                                                    request->workspace())),
                     log::Field("pipeline_id", Logged(Shape::kPipelineId,
                                                      request->pipeline_id())),
                     log::Field("outcome", who.status().ToString()),
                     log::Field("correlation_id", correlation_id)});
        });
  }
  return Unary<v1::StartUpdateResponse>(
      "StartUpdate", context, request, response,
      [&](api::CallContext ctx, auto done) {
        job_type_.StartUpdate(*request, std::move(ctx), done);
      },
      Audit<v1::StartUpdateResponse>(
          [caller = *who,
           workspace = Logged(Shape::kWorkspace, request->workspace()),
           pipeline = Logged(Shape::kPipelineId, request->pipeline_id()),
           keyed = !request->idempotency_key().empty(),
           profile = request->workspace().empty()
                         ? job_type_.default_workspace()
                         : Logged(Shape::kWorkspace, request->workspace())](
              const absl::StatusOr<v1::StartUpdateResponse>& r,
              const absl::Status& received, const std::string& correlation_id) {
            log::Info(
                "audit",
                {log::Field("action", "StartUpdate"),
                 log::Field("caller", caller),
                 log::Field("workspace", workspace),
                 log::Field("pipeline_id", pipeline),
                 log::Field("run_id", received.ok() ? r->run_id() : ""),
                 log::Field("outcome", received.ok() ? std::string("OK")
                                                     : received.ToString()),
                 log::Field("correlation_id", correlation_id)});
            if (received.ok() || received == r.status()) return;
            // Settled after the caller had gone: a success is remembered
            // under the idempotency key for the caller's retry.
            log::Info(received.code() == absl::StatusCode::kDeadlineExceeded
                          ? "start resolved after the caller's deadline"
                          : "start resolved after the caller left",
                      {log::Field("workspace", profile),
                       log::Field("pipeline_id", pipeline),
                       log::Field("run_id", r.ok() ? r->run_id() : ""),
                       log::Field("outcome", r.ok() ? std::string("OK")
                                                    : r.status().ToString()),
                       log::Field("remembered_under_key", keyed && r.ok()),
                       log::Field("replayed", r.ok() && r->replayed()),
                       log::Field("correlation_id", correlation_id)});
          }));
}

grpc::ServerUnaryReactor* PipelinesService::GetUpdateStatus(
    grpc::CallbackServerContext* context, const grpc::ByteBuffer* raw,
    grpc::ByteBuffer* response) {
  auto request = std::make_shared<v1::GetUpdateStatusRequest>();
  if (auto parsed = ParseRequest(*raw, request.get()); !parsed.ok()) {
    return Refuse("GetUpdateStatus", context, parsed);
  }
  if (auto who = Authorize(context, {Action::kRead}, request->workspace());
      !who.ok()) {
    return Refuse("GetUpdateStatus", context, who.status());
  }
  return Unary<v1::UpdateStatus>("GetUpdateStatus", context, request, response,
                                 [&](api::CallContext ctx, auto done) {
                                   job_type_.GetUpdateStatus(
                                       *request, std::move(ctx), done);
                                 });
}

grpc::ServerUnaryReactor* PipelinesService::StopUpdate(
    grpc::CallbackServerContext* context, const grpc::ByteBuffer* raw,
    grpc::ByteBuffer* response) {
  auto request = std::make_shared<v1::StopUpdateRequest>();
  if (auto parsed = ParseRequest(*raw, request.get()); !parsed.ok()) {
    return Refuse(
        "StopUpdate", context, parsed, [&](const std::string& correlation_id) {
          log::Info("audit", {log::Field("action", "StopUpdate"),
                              log::Field("caller", Caller(context)),
                              log::Field("outcome", parsed.ToString()),
                              log::Field("correlation_id", correlation_id)});
        });
  }
  auto who = Authorize(context, {Action::kStop}, request->workspace());
  if (!who.ok()) {
    return Refuse(
        "StopUpdate", context, who.status(),
        [&](const std::string& correlation_id) {
          log::Info(
              "audit",
              {log::Field("action", "StopUpdate"),
               log::Field("caller", Caller(context)),
               log::Field("workspace",
                          Logged(Shape::kWorkspace, request->workspace())),
               log::Field("run_id", Logged(Shape::kRunId, request->run_id())),
               log::Field("outcome", who.status().ToString()),
               log::Field("correlation_id", correlation_id)});
        });
  }
  return Unary<v1::StopUpdateResponse>(
      "StopUpdate", context, request, response,
      [&](api::CallContext ctx, auto done) {
        job_type_.StopUpdate(*request, std::move(ctx), done);
      },
      Audit<v1::StopUpdateResponse>(
          [caller = *who,
           workspace = Logged(Shape::kWorkspace, request->workspace()),
           run_id = Logged(Shape::kRunId, request->run_id())](
              const absl::StatusOr<v1::StopUpdateResponse>& r,
              const absl::Status& received, const std::string& correlation_id) {
            // stop_sent is what was done, even for a caller that had gone.
            log::Info(
                "audit",
                {log::Field("action", "StopUpdate"),
                 log::Field("caller", caller),
                 log::Field("workspace", workspace),
                 log::Field("run_id", run_id),
                 log::Field("stop_sent", r.ok() && r->stop_sent()),
                 log::Field("outcome", received.ok() ? std::string("OK")
                                                     : received.ToString()),
                 log::Field("correlation_id", correlation_id)});
          }));
}

grpc::ServerWriteReactor<grpc::ByteBuffer>* PipelinesService::WatchUpdate(
    grpc::CallbackServerContext* context, const grpc::ByteBuffer* raw) {
  auto writer = std::make_shared<WatchWriter>(job_type_);
  writer->Hold(writer);
  if (auto parsed = ParseRequest(*raw, &writer->request); !parsed.ok()) {
    LogRefusal("WatchUpdate", context, ToGrpcStatus(parsed));
    writer->End(parsed);
    return writer.get();
  }
  const v1::WatchUpdateRequest* request = &writer->request;
  if (auto who = Authorize(context, {Action::kRead}, request->workspace());
      !who.ok()) {
    LogRefusal("WatchUpdate", context, ToGrpcStatus(who.status()));
    writer->End(who.status());
    return writer.get();
  }
  std::weak_ptr<WatchWriter> weak = writer;
  auto id = job_type_.WatchUpdate(
      *request, ContextOf(context),
      [weak](const v1::UpdateStatus& status) {
        if (auto w = weak.lock()) w->Push(status);
      },
      [weak](const absl::Status& status) {
        if (auto w = weak.lock()) w->End(status);
      });
  if (!id.ok()) {
    writer->End(id.status());
  } else {
    writer->SetWatch(*id);
  }
  return writer.get();
}

grpc::ServerUnaryReactor* PipelinesService::ListWorkspaces(
    grpc::CallbackServerContext* context, const grpc::ByteBuffer* raw,
    grpc::ByteBuffer* response) {
  v1::ListWorkspacesRequest request;
  if (auto parsed = ParseRequest(*raw, &request); !parsed.ok()) {
    return Refuse("ListWorkspaces", context, parsed);
  }
  v1::ListWorkspacesResponse all = job_type_.ListWorkspaces();
  if (authorizer_ != nullptr) {
    // Only the workspaces the caller may read.
    std::vector<std::string> names;
    for (const auto& w : all.workspaces()) names.push_back(w.name());
    auto permitted = authorizer_->Permitted(*context, Action::kRead, names);
    if (!permitted.ok()) {
      return Refuse("ListWorkspaces", context, permitted.status());
    }
    v1::ListWorkspacesResponse visible;
    for (const auto& w : all.workspaces()) {
      if (std::find(permitted->begin(), permitted->end(), w.name()) !=
          permitted->end()) {
        *visible.add_workspaces() = w;
      }
    }
    all = std::move(visible);
  }
  return Unary<v1::ListWorkspacesResponse>(
      "ListWorkspaces", context, nullptr, response,
      [&](api::CallContext, auto done) { done(std::move(all)); });
}

}  // namespace polysync::server
