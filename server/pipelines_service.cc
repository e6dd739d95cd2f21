#include "server/pipelines_service.h"

#include <algorithm>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "absl/status/status.h"
#include "common/log.h"
#include "server/audit.h"
#include "server/grpc_status.h"
#include "server/reactors.h"
#include "server/request_codec.h"

namespace polysync::server {
namespace {

namespace api = ::polysync::databricks::api;
namespace v1 = ::polysync::databricks::v1;
using databricks::jobtype::JobType;

// The actions of an RPC that needs one right whatever the request.
template <Action kAction, typename Request>
std::vector<Action> Needs(const Request&) {
  return {kAction};
}

// The audit lines. `request` is null when it did not decode, `resolved`
// null when the call was refused before the job type saw it; `received` is
// what the caller received.
void AuditStart(const JobType& job_type, const std::string& caller,
                const v1::StartUpdateRequest* request,
                const absl::StatusOr<v1::StartUpdateResponse>* resolved,
                const absl::Status& received,
                const std::string& correlation_id) {
  if (request == nullptr) {
    WriteAudit("StartUpdate", caller, received, correlation_id);
    return;
  }
  const std::string workspace = Logged(Shape::kWorkspace, request->workspace());
  const std::string pipeline =
      Logged(Shape::kPipelineId, request->pipeline_id());
  if (resolved == nullptr) {
    WriteAudit("StartUpdate", caller, received, correlation_id,
               log::Field("workspace", workspace),
               log::Field("pipeline_id", pipeline));
    return;
  }
  const absl::StatusOr<v1::StartUpdateResponse>& r = *resolved;
  WriteAudit("StartUpdate", caller, received, correlation_id,
             log::Field("workspace", workspace),
             log::Field("pipeline_id", pipeline),
             log::Field("run_id", received.ok() ? r->run_id() : ""));
  if (received.ok() || received == r.status()) return;
  // Settled after the caller had gone: a success is remembered under the
  // idempotency key for the caller's retry.
  log::Info(received.code() == absl::StatusCode::kDeadlineExceeded
                ? "start resolved after the caller's deadline"
                : "start resolved after the caller left",
            {log::Field("workspace", request->workspace().empty()
                                         ? job_type.default_workspace()
                                         : workspace),
             log::Field("pipeline_id", pipeline),
             log::Field("run_id", r.ok() ? r->run_id() : ""),
             log::Field("outcome", Outcome(r.status())),
             log::Field("remembered_under_key",
                        !request->idempotency_key().empty() && r.ok()),
             log::Field("replayed", r.ok() && r->replayed()),
             log::Field("correlation_id", correlation_id)});
}

void AuditStop(const JobType&, const std::string& caller,
               const v1::StopUpdateRequest* request,
               const absl::StatusOr<v1::StopUpdateResponse>* resolved,
               const absl::Status& received,
               const std::string& correlation_id) {
  if (request == nullptr) {
    WriteAudit("StopUpdate", caller, received, correlation_id);
    return;
  }
  const auto workspace =
      log::Field("workspace", Logged(Shape::kWorkspace, request->workspace()));
  const auto run_id =
      log::Field("run_id", Logged(Shape::kRunId, request->run_id()));
  if (resolved == nullptr) {
    WriteAudit("StopUpdate", caller, received, correlation_id, workspace,
               run_id);
    return;
  }
  // stop_sent is what was done, even for a caller that had gone.
  WriteAudit(
      "StopUpdate", caller, received, correlation_id, workspace, run_id,
      log::Field("stop_sent", resolved->ok() && (*resolved)->stop_sent()));
}

// The workspaces of `all` the caller may read (all of them without an
// authorizer).
absl::StatusOr<v1::ListWorkspacesResponse> Visible(
    const Authorizer* authorizer, grpc::CallbackServerContext* context,
    v1::ListWorkspacesResponse all) {
  if (authorizer == nullptr) return all;
  std::vector<std::string> names;
  for (const auto& w : all.workspaces()) names.push_back(w.name());
  auto permitted = authorizer->Permitted(*context, Action::kRead, names);
  if (!permitted.ok()) return permitted.status();
  v1::ListWorkspacesResponse visible;
  for (const auto& w : all.workspaces()) {
    if (std::find(permitted->begin(), permitted->end(), w.name()) !=
        permitted->end()) {
      *visible.add_workspaces() = w;
    }
  }
  return visible;
}

class ImportWriter;

}  // namespace

template <typename Request, typename Response>
struct PipelinesService::Rpc {
  const char* method;
  // The actions the caller needs in the request's workspace.
  std::vector<Action> (*actions)(const Request& request);
  // The JobType method that answers.
  void (JobType::*call)(const Request& request, api::CallContext ctx,
                        JobType::Done<Response> done);
  // An audited RPC's audit line (see AuditStart).
  void (*audit)(const JobType& job_type, const std::string& caller,
                const Request* request,
                const absl::StatusOr<Response>* resolved,
                const absl::Status& received,
                const std::string& correlation_id) = nullptr;
};

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

class ImportWriter final : public SharedWriter {
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

class WatchWriter final : public SharedWriter {
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

template <typename Request, typename Response>
grpc::ServerUnaryReactor* PipelinesService::Serve(
    const Rpc<Request, Response>& rpc, grpc::CallbackServerContext* context,
    const grpc::ByteBuffer* raw, grpc::ByteBuffer* response) {
  auto request = std::make_shared<Request>();
  // A refusal's audit line (audited RPCs): `decoded` null when the request
  // did not decode.
  auto refusal_audit = [this, &rpc, context](const Request* decoded,
                                             const absl::Status& refusal)
      -> std::function<void(const std::string&)> {
    if (rpc.audit == nullptr) return nullptr;
    return [this, &rpc, context, decoded,
            refusal](const std::string& correlation_id) {
      rpc.audit(job_type_, Caller(context), decoded, nullptr, refusal,
                correlation_id);
    };
  };
  if (auto parsed = ParseRequest(*raw, request.get()); !parsed.ok()) {
    return Refuse(rpc.method, context, parsed, refusal_audit(nullptr, parsed));
  }
  auto who = Authorize(context, rpc.actions(*request), request->workspace());
  if (!who.ok()) {
    return Refuse(rpc.method, context, who.status(),
                  refusal_audit(request.get(), who.status()));
  }
  Audit<Response> audit;
  if (rpc.audit != nullptr) {
    audit = [this, write = rpc.audit, caller = *who, request](
                const absl::StatusOr<Response>& resolved,
                const absl::Status& received,
                const std::string& correlation_id) {
      write(job_type_, caller, request.get(), &resolved, received,
            correlation_id);
    };
  }
  return Unary<Response>(
      rpc.method, context, request, response,
      [&](api::CallContext ctx, auto done) {
        (job_type_.*rpc.call)(*request, std::move(ctx), done);
      },
      std::move(audit));
}

template <typename Writer>
bool PipelinesService::Admit(const char* method,
                             grpc::CallbackServerContext* context,
                             const grpc::ByteBuffer* raw,
                             Writer& writer) const {
  absl::Status refusal = ParseRequest(*raw, &writer.request);
  if (refusal.ok()) {
    refusal = Authorize(context, {Action::kRead}, writer.request.workspace())
                  .status();
  }
  if (refusal.ok()) return true;
  LogRefusal(method, context, ToGrpcStatus(refusal));
  writer.End(refusal);
  return false;
}

grpc::ServerWriteReactor<grpc::ByteBuffer>* PipelinesService::ImportPipelines(
    grpc::CallbackServerContext* context, const grpc::ByteBuffer* raw) {
  auto writer = std::make_shared<ImportWriter>();
  writer->Hold(writer);
  writer->Register(imports_, imports_->Add(writer));
  if (!Admit("ImportPipelines", context, raw, *writer)) return writer.get();
  std::weak_ptr<ImportWriter> weak = writer;
  writer->SetImport(job_type_.ImportPipelines(
      writer->request, ContextOf(context),
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
  return Serve<v1::SyncParametersRequest, v1::SyncParametersResponse>(
      {"SyncParameters", &Needs<Action::kRead>, &JobType::SyncParameters},
      context, raw, response);
}

grpc::ServerUnaryReactor* PipelinesService::StartUpdate(
    grpc::CallbackServerContext* context, const grpc::ByteBuffer* raw,
    grpc::ByteBuffer* response) {
  // A restart also stops the running update; an attach returns it.
  return Serve<v1::StartUpdateRequest, v1::StartUpdateResponse>(
      {"StartUpdate", &StartUpdateActions, &JobType::StartUpdate, &AuditStart},
      context, raw, response);
}

grpc::ServerUnaryReactor* PipelinesService::GetUpdateStatus(
    grpc::CallbackServerContext* context, const grpc::ByteBuffer* raw,
    grpc::ByteBuffer* response) {
  return Serve<v1::GetUpdateStatusRequest, v1::UpdateStatus>(
      {"GetUpdateStatus", &Needs<Action::kRead>, &JobType::GetUpdateStatus},
      context, raw, response);
}

grpc::ServerUnaryReactor* PipelinesService::StopUpdate(
    grpc::CallbackServerContext* context, const grpc::ByteBuffer* raw,
    grpc::ByteBuffer* response) {
  return Serve<v1::StopUpdateRequest, v1::StopUpdateResponse>(
      {"StopUpdate", &Needs<Action::kStop>, &JobType::StopUpdate, &AuditStop},
      context, raw, response);
}

grpc::ServerWriteReactor<grpc::ByteBuffer>* PipelinesService::WatchUpdate(
    grpc::CallbackServerContext* context, const grpc::ByteBuffer* raw) {
  auto writer = std::make_shared<WatchWriter>(job_type_);
  writer->Hold(writer);
  if (!Admit("WatchUpdate", context, raw, *writer)) return writer.get();
  std::weak_ptr<WatchWriter> weak = writer;
  auto id = job_type_.WatchUpdate(
      writer->request, ContextOf(context),
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
  auto visible = Visible(authorizer_, context, job_type_.ListWorkspaces());
  if (!visible.ok()) return Refuse("ListWorkspaces", context, visible.status());
  return Unary<v1::ListWorkspacesResponse>(
      "ListWorkspaces", context, nullptr, response,
      [&](api::CallContext, auto done) { done(*std::move(visible)); });
}

}  // namespace polysync::server
