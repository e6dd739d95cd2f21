// The gRPC face of the job type: polysync.databricks.v1.DatabricksPipelines
// on gRPC's callback API.
//
// Each method checks the caller's right (authz.h), turns the call into a
// JobType call (with the caller's deadline and correlation id) and the answer
// back into a response; statuses go through ToGrpcStatus(). Requests arrive
// as bytes and are decoded here (request_codec.h). StartUpdate and
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

// gRPC hands every method its request's bytes (the generated "raw" callback
// methods): the service decodes them itself (request_codec.h), so a request
// protobuf refuses (invalid UTF-8 in a string field, undecodable bytes) is
// INVALID_ARGUMENT like any other bad input, logged and counted, instead of
// gRPC's bare UNIMPLEMENTED.
using RawPipelinesService =
    v1::DatabricksPipelines::WithRawCallbackMethod_ImportPipelines<
        v1::DatabricksPipelines::WithRawCallbackMethod_SyncParameters<
            v1::DatabricksPipelines::WithRawCallbackMethod_StartUpdate<
                v1::DatabricksPipelines::WithRawCallbackMethod_GetUpdateStatus<
                    v1::DatabricksPipelines::WithRawCallbackMethod_StopUpdate<
                        v1::DatabricksPipelines::
                            WithRawCallbackMethod_WatchUpdate<
                                v1::DatabricksPipelines::
                                    WithRawCallbackMethod_ListWorkspaces<
                                        v1::DatabricksPipelines::Service>>>>>>>;

class PipelinesService final : public RawPipelinesService {
 public:
  // `authorizer` may be null: every caller may do everything.
  PipelinesService(databricks::jobtype::JobType& job_type,
                   const Authorizer* authorizer);
  ~PipelinesService() override;

  // Ends every import in progress with `status` (server draining): the
  // import stops, batches not yet written are dropped.
  void EndImports(const absl::Status& status);

  // Each takes the serialized request and writes the serialized response.
  grpc::ServerWriteReactor<grpc::ByteBuffer>* ImportPipelines(
      grpc::CallbackServerContext* context,
      const grpc::ByteBuffer* request) override;
  grpc::ServerUnaryReactor* SyncParameters(grpc::CallbackServerContext* context,
                                           const grpc::ByteBuffer* request,
                                           grpc::ByteBuffer* response) override;
  grpc::ServerUnaryReactor* StartUpdate(grpc::CallbackServerContext* context,
                                        const grpc::ByteBuffer* request,
                                        grpc::ByteBuffer* response) override;
  grpc::ServerUnaryReactor* GetUpdateStatus(
      grpc::CallbackServerContext* context, const grpc::ByteBuffer* request,
      grpc::ByteBuffer* response) override;
  grpc::ServerUnaryReactor* StopUpdate(grpc::CallbackServerContext* context,
                                       const grpc::ByteBuffer* request,
                                       grpc::ByteBuffer* response) override;
  grpc::ServerWriteReactor<grpc::ByteBuffer>* WatchUpdate(
      grpc::CallbackServerContext* context,
      const grpc::ByteBuffer* request) override;
  grpc::ServerUnaryReactor* ListWorkspaces(grpc::CallbackServerContext* context,
                                           const grpc::ByteBuffer* request,
                                           grpc::ByteBuffer* response) override;

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
