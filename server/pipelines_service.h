// The gRPC face of the job type: polysync.databricks.v1.DatabricksPipelines
// on gRPC's callback API.
//
// Each method checks the caller's right (authz.h), turns the call into a
// JobType call (with the caller's deadline and correlation id) and the answer
// back into a response; statuses go through ToGrpcStatus(). StartUpdate and
// StopUpdate write one audit log line each. The streaming RPCs are small
// reactors that write one message at a time. No Databricks or job-type rule
// lives here.
#ifndef POLYSYNC_SERVER_PIPELINES_SERVICE_H_
#define POLYSYNC_SERVER_PIPELINES_SERVICE_H_

#include "adapters/databricks/jobtype/job_type.h"
#include "polysync/databricks/v1/pipelines.grpc.pb.h"
#include "server/authz.h"

namespace polysync::server {

namespace v1 = ::polysync::databricks::v1;

// Trailing metadata on an UNAVAILABLE unary answer that Databricks caused
// (value "databricks"); see pipelines.proto.
inline constexpr char kUnavailableCauseKey[] = "polysync-unavailable-cause";

class PipelinesService final : public v1::DatabricksPipelines::CallbackService {
 public:
  // `authorizer` may be null: every caller may do everything.
  PipelinesService(databricks::jobtype::JobType& job_type,
                   const Authorizer* authorizer);
  ~PipelinesService() override;

  // Ends every import in progress with `status` (server draining): the
  // import stops, batches not yet written are dropped.
  void EndImports(const absl::Status& status);

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
  // The caller's identity for audit lines ("anonymous" when none).
  std::string Caller(grpc::CallbackServerContext* context) const;
  // The caller's identity when allowed to do every one of `actions` in
  // `workspace`.
  absl::StatusOr<std::string> Authorize(grpc::CallbackServerContext* context,
                                        const std::vector<Action>& actions,
                                        const std::string& workspace) const;

  databricks::jobtype::JobType& job_type_;
  const Authorizer* authorizer_;

 public:
  class OpenImports;  // defined in the .cc file

 private:
  std::shared_ptr<OpenImports> imports_;
};

}  // namespace polysync::server

#endif  // POLYSYNC_SERVER_PIPELINES_SERVICE_H_
