// The gRPC face of the job type: polysync.databricks.v1.DatabricksPipelines
// on gRPC's callback API.
//
// Each method converts the request, calls the layer below and converts the
// result back; statuses go through ToGrpcStatus(). No Databricks or job-type
// rule lives here.
#ifndef POLYSYNC_SERVER_PIPELINES_SERVICE_H_
#define POLYSYNC_SERVER_PIPELINES_SERVICE_H_

#include "polysync/databricks/v1/config.pb.h"
#include "polysync/databricks/v1/pipelines.grpc.pb.h"

namespace polysync::server {

namespace v1 = ::polysync::databricks::v1;

class PipelinesService final : public v1::DatabricksPipelines::CallbackService {
 public:
  explicit PipelinesService(v1::ServerConfig config);

  grpc::ServerWriteReactor<v1::ImportPipelinesResponse>* ImportPipelines(
      grpc::CallbackServerContext* context,
      const v1::ImportPipelinesRequest* request) override;
  grpc::ServerUnaryReactor* SyncParameters(
      grpc::CallbackServerContext* context,
      const v1::SyncParametersRequest* request,
      v1::SyncParametersResponse* response) override;
  grpc::ServerUnaryReactor* StartUpdate(
      grpc::CallbackServerContext* context,
      const v1::StartUpdateRequest* request,
      v1::StartUpdateResponse* response) override;
  grpc::ServerUnaryReactor* GetUpdateStatus(
      grpc::CallbackServerContext* context,
      const v1::GetUpdateStatusRequest* request,
      v1::UpdateStatus* response) override;
  grpc::ServerUnaryReactor* StopUpdate(
      grpc::CallbackServerContext* context,
      const v1::StopUpdateRequest* request,
      v1::StopUpdateResponse* response) override;
  grpc::ServerWriteReactor<v1::UpdateStatus>* WatchUpdate(
      grpc::CallbackServerContext* context,
      const v1::WatchUpdateRequest* request) override;
  grpc::ServerUnaryReactor* ListWorkspaces(
      grpc::CallbackServerContext* context,
      const v1::ListWorkspacesRequest* request,
      v1::ListWorkspacesResponse* response) override;

 private:
  const v1::ServerConfig config_;
};

}  // namespace polysync::server

#endif  // POLYSYNC_SERVER_PIPELINES_SERVICE_H_
