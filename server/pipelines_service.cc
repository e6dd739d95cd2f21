#include "server/pipelines_service.h"

#include <string>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "server/grpc_status.h"

namespace polysync::server {
namespace {

// A server-streaming reactor that ends the stream at once with `status`.
template <typename Response>
class FinishedWriter final : public grpc::ServerWriteReactor<Response> {
 public:
  explicit FinishedWriter(const grpc::Status& status) { this->Finish(status); }
  void OnDone() override { delete this; }
};

grpc::ServerUnaryReactor* FinishUnary(grpc::CallbackServerContext* context,
                                      const absl::Status& status) {
  auto* reactor = context->DefaultReactor();
  reactor->Finish(ToGrpcStatus(status));
  return reactor;
}

absl::Status NotYet(absl::string_view rpc) {
  return absl::UnimplementedError(absl::StrCat(
      rpc,
      " is not implemented yet: it lands with the job type (issue #5). "
      "Health, reflection and ListWorkspaces work today."));
}

v1::AuthMethod AuthMethodOf(const v1::WorkspaceProfile& profile) {
  switch (profile.auth_case()) {
    case v1::WorkspaceProfile::kPersonalAccessToken:
      return v1::AUTH_METHOD_PERSONAL_ACCESS_TOKEN;
    case v1::WorkspaceProfile::kDatabricksOauthM2M:
      return v1::AUTH_METHOD_DATABRICKS_OAUTH_M2M;
    case v1::WorkspaceProfile::kAzureClientSecret:
      return v1::AUTH_METHOD_AZURE_CLIENT_SECRET;
    case v1::WorkspaceProfile::kAzureWorkloadIdentity:
      return v1::AUTH_METHOD_AZURE_WORKLOAD_IDENTITY;
    case v1::WorkspaceProfile::kAzureManagedIdentity:
      return v1::AUTH_METHOD_AZURE_MANAGED_IDENTITY;
    case v1::WorkspaceProfile::AUTH_NOT_SET:
      break;
  }
  return v1::AUTH_METHOD_UNSPECIFIED;
}

}  // namespace

PipelinesService::PipelinesService(v1::ServerConfig config)
    : config_(std::move(config)) {}

grpc::ServerWriteReactor<v1::ImportPipelinesResponse>*
PipelinesService::ImportPipelines(grpc::CallbackServerContext*,
                                  const v1::ImportPipelinesRequest*) {
  return new FinishedWriter<v1::ImportPipelinesResponse>(
      ToGrpcStatus(NotYet("ImportPipelines")));
}

grpc::ServerUnaryReactor* PipelinesService::SyncParameters(
    grpc::CallbackServerContext* context, const v1::SyncParametersRequest*,
    v1::SyncParametersResponse*) {
  return FinishUnary(context, NotYet("SyncParameters"));
}

grpc::ServerUnaryReactor* PipelinesService::StartUpdate(
    grpc::CallbackServerContext* context, const v1::StartUpdateRequest*,
    v1::StartUpdateResponse*) {
  return FinishUnary(context, NotYet("StartUpdate"));
}

grpc::ServerUnaryReactor* PipelinesService::GetUpdateStatus(
    grpc::CallbackServerContext* context, const v1::GetUpdateStatusRequest*,
    v1::UpdateStatus*) {
  return FinishUnary(context, NotYet("GetUpdateStatus"));
}

grpc::ServerUnaryReactor* PipelinesService::StopUpdate(
    grpc::CallbackServerContext* context, const v1::StopUpdateRequest*,
    v1::StopUpdateResponse*) {
  return FinishUnary(context, NotYet("StopUpdate"));
}

grpc::ServerWriteReactor<v1::UpdateStatus>* PipelinesService::WatchUpdate(
    grpc::CallbackServerContext*, const v1::WatchUpdateRequest*) {
  return new FinishedWriter<v1::UpdateStatus>(
      ToGrpcStatus(NotYet("WatchUpdate")));
}

grpc::ServerUnaryReactor* PipelinesService::ListWorkspaces(
    grpc::CallbackServerContext* context, const v1::ListWorkspacesRequest*,
    v1::ListWorkspacesResponse* response) {
  for (const auto& profile : config_.workspaces()) {
    v1::Workspace* w = response->add_workspaces();
    w->set_name(profile.name());
    w->set_host(profile.host());
    w->set_auth_method(AuthMethodOf(profile));
    w->set_is_default(profile.name() == config_.default_workspace());
  }
  return FinishUnary(context, absl::OkStatus());
}

}  // namespace polysync::server
