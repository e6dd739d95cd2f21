#include "server/reactors.h"

#include <chrono>
#include <cstdint>

#include "absl/random/random.h"
#include "absl/strings/str_format.h"
#include "common/log.h"
#include "common/metrics.h"

namespace polysync::server {
namespace {

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

metrics::GaugeFamily& RpcInFlight() {
  static auto& family = metrics::Registry::Default().Gauge(
      "polysync_rpc_in_flight",
      "RPCs being handled now (open watches and imports included), by "
      "method.",
      {"method"});
  return family;
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

}  // namespace

std::string CodeName(grpc::StatusCode code) {
  // gRPC's codes are absl's (0 to 16, the same names).
  const int i = static_cast<int>(code);
  if (i < 0 || i > static_cast<int>(absl::StatusCode::kUnauthenticated)) {
    return "UNKNOWN";
  }
  return absl::StatusCodeToString(static_cast<absl::StatusCode>(i));
}

void BeginRpc(const char* method) { RpcInFlight().With({method}).Add(1); }

void RecordRpc(const char* method, const grpc::Status& status,
               absl::Time start) {
  RpcInFlight().With({method}).Add(-1);
  RpcCalls().With({method, CodeName(status.error_code())}).Increment();
  RpcLatency().With({method}).Observe(
      absl::ToDoubleSeconds(absl::Now() - start));
}

databricks::api::CallContext ContextOf(grpc::CallbackServerContext* context) {
  databricks::api::CallContext ctx;
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

grpc::ServerUnaryReactor* Refuse(
    const char* method, grpc::CallbackServerContext* context,
    const absl::Status& refusal,
    std::function<void(const std::string& correlation_id)> audit) {
  auto* reactor = context->DefaultReactor();
  grpc::Status status = ToGrpcStatus(refusal);
  BeginRpc(method);
  RecordRpc(method, status, absl::Now());
  const std::string correlation_id = LogRefusal(method, context, status);
  if (audit) audit(correlation_id);
  reactor->Finish(status);
  return reactor;
}

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

void FinishUnary(const char* method, grpc::CallbackServerContext* context,
                 grpc::ServerUnaryReactor* reactor, const absl::Status& result,
                 const std::optional<std::string>& resolved, absl::Time start,
                 const std::string& correlation_id) {
  grpc::Status status = ToGrpcStatus(result);
  if (status.error_code() == grpc::StatusCode::UNAVAILABLE) {
    // This replica answered: Databricks did not. Clients keep calling
    // this replica (retrying later) instead of failing over.
    context->AddTrailingMetadata(kUnavailableCauseKey, "databricks");
  }
  RecordRpc(method, status, start);
  if (resolved.has_value()) {
    log::Info("rpc failed",
              {log::Field("method", method),
               log::Field("code", CodeName(status.error_code())),
               log::Field("error", status.error_message()),
               log::Field("resolved_after_caller_left", *resolved),
               log::Field("correlation_id", correlation_id)});
  } else if (!status.ok()) {
    log::Info("rpc failed", {log::Field("method", method),
                             log::Field("code", CodeName(status.error_code())),
                             log::Field("error", status.error_message()),
                             log::Field("correlation_id", correlation_id)});
  }
  reactor->Finish(status);
}

StreamWriter::StreamWriter(const char* method)
    : method_(method), start_(absl::Now()) {
  BeginRpc(method);
}

void StreamWriter::Push(const google::protobuf::Message& message) {
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

void StreamWriter::End(const absl::Status& status, bool discard_queued) {
  {
    std::lock_guard<std::mutex> lock(mu_);
    if (ending_ || finished_) return;
    ending_ = true;
    end_status_ = ToGrpcStatus(status);
    if (discard_queued) queue_.clear();
  }
  Step();
}

void StreamWriter::OnWriteDone(bool ok) {
  {
    std::lock_guard<std::mutex> lock(mu_);
    writing_ = false;
    if (!ok) queue_.clear();  // the client went away
  }
  Step();
}

void StreamWriter::OnCancel() {
  Cancelled();
  {
    std::lock_guard<std::mutex> lock(mu_);
    if (finished_) return;
    finished_ = true;
    queue_.clear();
  }
  RecordRpc(method_, grpc::Status::CANCELLED, start_);
  this->Finish(grpc::Status::CANCELLED);
}

void StreamWriter::Step() {
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
    RecordRpc(method_, status, start_);
    this->Finish(status);
  }
}

}  // namespace polysync::server
