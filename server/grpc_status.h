// The one place where absl::Status becomes grpc::Status.
//
// The canonical codes are the same numbers in both libraries, so the code is
// carried over unchanged; the message passes through secret redaction so no
// credential can reach a caller.
#ifndef POLYSYNC_SERVER_GRPC_STATUS_H_
#define POLYSYNC_SERVER_GRPC_STATUS_H_

#include <grpcpp/support/status.h>

#include "absl/status/status.h"

namespace polysync::server {

grpc::Status ToGrpcStatus(const absl::Status& status);

}  // namespace polysync::server

#endif  // POLYSYNC_SERVER_GRPC_STATUS_H_
