// The gRPC face of the job type: polysync.databricks.v1.DatabricksPipelines
// on gRPC's callback API.
//
// Each method decodes its request (request_codec.h), checks the caller's
// right (authz.h), turns the call into a JobType call and the answer back
// into a response, in a few lines: the reactors' plumbing (the caller's
// deadline and correlation id, RPC metrics, refusals, ToGrpcStatus(), the
// stream writers that write one message at a time) is reactors.h's, the
// audit lines StartUpdate and StopUpdate write are audit.h's. No Databricks
// or job-type rule lives here.
#ifndef POLYSYNC_SERVER_PIPELINES_SERVICE_H_
#define POLYSYNC_SERVER_PIPELINES_SERVICE_H_

#include "adapters/databricks/jobtype/job_type.h"
#include "polysync/databricks/v1/pipelines.grpc.pb.h"
#include "server/authz.h"

namespace polysync::server {

using DatabricksPipelines = ::polysync::databricks::v1::DatabricksPipelines;

// gRPC hands every method its request's bytes (the generated "raw" callback
// methods): the service decodes them itself (request_codec.h), so a request
// protobuf refuses (invalid UTF-8 in a string field, undecodable bytes) is
// INVALID_ARGUMENT like any other bad input, logged and counted, instead of
// gRPC's bare UNIMPLEMENTED.
using RawPipelinesService =
    DatabricksPipelines::WithRawCallbackMethod_ImportPipelines<
        DatabricksPipelines::WithRawCallbackMethod_SyncParameters<
            DatabricksPipelines::WithRawCallbackMethod_StartUpdate<
                DatabricksPipelines::WithRawCallbackMethod_GetUpdateStatus<
                    DatabricksPipelines::WithRawCallbackMethod_StopUpdate<
                        DatabricksPipelines::WithRawCallbackMethod_WatchUpdate<
                            DatabricksPipelines::
                                WithRawCallbackMethod_ListWorkspaces<
                                    DatabricksPipelines::Service>>>>>>>;

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

  // One unary RPC as Serve() runs it (defined in the .cc file).
  template <typename Request, typename Response>
  struct Rpc;
  // Decodes the request, checks the caller's right and answers with the
  // job type's result; an audited RPC writes its audit line whatever the
  // outcome.
  template <typename Request, typename Response>
  grpc::ServerUnaryReactor* Serve(const Rpc<Request, Response>& rpc,
                                  grpc::CallbackServerContext* context,
                                  const grpc::ByteBuffer* raw,
                                  grpc::ByteBuffer* response);
  // A stream's start: decodes the request into `writer.request` and checks
  // the caller's right to read; a refusal is logged and ends the stream.
  template <typename Writer>
  bool Admit(const char* method, grpc::CallbackServerContext* context,
             const grpc::ByteBuffer* raw, Writer& writer) const;

  databricks::jobtype::JobType& job_type_;
  const Authorizer* authorizer_;

 public:
  class OpenImports;  // defined in the .cc file

 private:
  std::shared_ptr<OpenImports> imports_;
};

}  // namespace polysync::server

#endif  // POLYSYNC_SERVER_PIPELINES_SERVICE_H_
