#include "server/grpc_status.h"

#include "common/secrets.h"

namespace polysync::server {

grpc::Status ToGrpcStatus(const absl::Status& status) {
  if (status.ok()) return grpc::Status::OK;
  return grpc::Status(static_cast<grpc::StatusCode>(status.code()),
                      secrets::Redact(status.message()));
}

}  // namespace polysync::server
