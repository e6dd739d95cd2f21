// The plumbing of the gRPC service's callback reactors, shared by every RPC
// of pipelines_service.cc: RPC metrics (calls by code, latency, in flight),
// the call's deadline and correlation id, the refusal and failure log lines,
// the unary reactor (Unary, Refuse) and the server-streaming writers
// (StreamWriter, SharedWriter). Nothing here knows an RPC or a rule.
//
//   return Unary<v1::UpdateStatus>(
//       "GetUpdateStatus", context, request, response,
//       [&](api::CallContext ctx, auto done) {
//         job_type.GetUpdateStatus(*request, std::move(ctx), done);
//       });
#ifndef POLYSYNC_SERVER_REACTORS_H_
#define POLYSYNC_SERVER_REACTORS_H_

#include <grpcpp/grpcpp.h>

#include <deque>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <utility>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"
#include "adapters/databricks/api/pipelines_client.h"
#include "server/grpc_status.h"
#include "server/request_codec.h"

namespace polysync::server {

// Trailing metadata on an UNAVAILABLE unary answer that Databricks caused
// (value "databricks"); see pipelines.proto.
inline constexpr char kUnavailableCauseKey[] = "polysync-unavailable-cause";

// The name of a gRPC status code ("OK", "INVALID_ARGUMENT", ...), as in the
// RPC metrics and log lines; "UNKNOWN" for a code outside the table.
std::string CodeName(grpc::StatusCode code);

// RPC metrics: every RPC calls BeginRpc once when it starts and RecordRpc
// once when it ends.
void BeginRpc(const char* method);
void RecordRpc(const char* method, const grpc::Status& status,
               absl::Time start);

// The call's context for the job type: the caller's deadline, its
// x-request-id (or a new one, returned in the response metadata) and its
// cancellation.
databricks::api::CallContext ContextOf(grpc::CallbackServerContext* context);

// The log line of a call refused before anything was done (the caller's
// correlation id, or a new one returned in the response metadata); returns
// the correlation id.
std::string LogRefusal(const char* method, grpc::CallbackServerContext* context,
                       const grpc::Status& status);

// Finishes a unary call refused before anything was done. `audit`, when
// set, is called with the call's correlation id.
grpc::ServerUnaryReactor* Refuse(
    const char* method, grpc::CallbackServerContext* context,
    const absl::Status& refusal,
    std::function<void(const std::string& correlation_id)> audit = nullptr);

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
                                       absl::Time deadline);

// Finishes a unary reactor with `result` (already serialized into the
// response when OK): marks an UNAVAILABLE that Databricks caused, records
// the metrics and logs a failure. `resolved` is set when the caller had
// gone before the outcome (then `result` is what the caller received).
void FinishUnary(const char* method, grpc::CallbackServerContext* context,
                 grpc::ServerUnaryReactor* reactor, const absl::Status& result,
                 const std::optional<std::string>& resolved, absl::Time start,
                 const std::string& correlation_id);

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
  BeginRpc(method);
  databricks::api::CallContext ctx = ContextOf(context);
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
         std::optional<std::string> resolved;  // set when the caller had gone
         if (gone) {
           resolved = result.ok() ? "OK" : result.status().ToString();
           result = *gone;
         } else if (result.ok()) {
           if (absl::Status encoded = SerializeResponse(*result, response);
               !encoded.ok()) {
             result = encoded;
           }
         }
         FinishUnary(method, context, reactor, result.status(), resolved, start,
                     correlation_id);
       });
  return reactor;
}

// A server-streaming reactor fed from another thread: messages are queued
// and written one at a time; End() finishes after the queue drains. gRPC is
// only called outside the lock.
class StreamWriter : public grpc::ServerWriteReactor<grpc::ByteBuffer> {
 public:
  explicit StreamWriter(const char* method);

  void Push(const google::protobuf::Message& message);

  // Finishes with `status` after the queued messages (dropped first when
  // `discard_queued`; a write already started still completes).
  void End(const absl::Status& status, bool discard_queued = false);

  void OnWriteDone(bool ok) override;
  void OnCancel() override;
  void OnDone() override { Release(); }

 protected:
  // Hooks for the subclass: the client cancelled; the reactor is done.
  virtual void Cancelled() {}
  virtual void Release() = 0;

 private:
  // Starts the next write, or finishes when ending and nothing is left.
  void Step();

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
class SharedWriter : public StreamWriter {
 public:
  explicit SharedWriter(const char* method) : StreamWriter(method) {}
  void Hold(std::shared_ptr<SharedWriter> self) { self_ = std::move(self); }

 protected:
  void Release() override { self_.reset(); }

 private:
  std::shared_ptr<SharedWriter> self_;
};

}  // namespace polysync::server

#endif  // POLYSYNC_SERVER_REACTORS_H_
