#include "server/grpc_status.h"

#include <gtest/gtest.h>

#include "common/secrets.h"

namespace polysync::server {
namespace {

TEST(GrpcStatusTest, CodesCarryOverUnchanged) {
  const std::pair<absl::Status, grpc::StatusCode> cases[] = {
      {absl::InvalidArgumentError("x"), grpc::StatusCode::INVALID_ARGUMENT},
      {absl::NotFoundError("x"), grpc::StatusCode::NOT_FOUND},
      {absl::FailedPreconditionError("x"),
       grpc::StatusCode::FAILED_PRECONDITION},
      {absl::PermissionDeniedError("x"), grpc::StatusCode::PERMISSION_DENIED},
      {absl::UnauthenticatedError("x"), grpc::StatusCode::UNAUTHENTICATED},
      {absl::ResourceExhaustedError("x"), grpc::StatusCode::RESOURCE_EXHAUSTED},
      {absl::UnavailableError("x"), grpc::StatusCode::UNAVAILABLE},
      {absl::DeadlineExceededError("x"), grpc::StatusCode::DEADLINE_EXCEEDED},
      {absl::InternalError("x"), grpc::StatusCode::INTERNAL},
      {absl::UnimplementedError("x"), grpc::StatusCode::UNIMPLEMENTED},
      {absl::AbortedError("x"), grpc::StatusCode::ABORTED},
  };
  for (const auto& [in, want] : cases) {
    grpc::Status out = ToGrpcStatus(in);
    EXPECT_EQ(out.error_code(), want) << in;
    EXPECT_EQ(out.error_message(), "x");
  }
  EXPECT_TRUE(ToGrpcStatus(absl::OkStatus()).ok());
}

TEST(GrpcStatusTest, SecretsNeverReachTheCaller) {
  secrets::Register("super-secret-client-value");
  grpc::Status out = ToGrpcStatus(absl::UnauthenticatedError(
      "token endpoint refused client_secret=super-secret-client-value"));
  EXPECT_EQ(out.error_message().find("super-secret-client-value"),
            std::string::npos);
  EXPECT_NE(out.error_message().find("[REDACTED]"), std::string::npos);
}

}  // namespace
}  // namespace polysync::server
