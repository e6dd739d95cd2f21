#include "client/cli/exit_codes.h"

#include <gtest/gtest.h>

#include <string>

#include "absl/strings/cord.h"
#include "client/pipelines_client.h"

namespace polysync::client::cli {
namespace {

namespace v1 = ::polysync::databricks::v1;

constexpr char kTarget[] = "svc:50051";

TEST(ExitCodesTest, RunStatuses) {
  EXPECT_EQ(ExitCodeFor(v1::RUN_STATUS_SUCCESS), 0);
  EXPECT_EQ(ExitCodeFor(v1::RUN_STATUS_FAILED), 1);
  EXPECT_EQ(ExitCodeFor(v1::RUN_STATUS_CANCELLED), 2);
  EXPECT_EQ(ExitCodeFor(v1::RUN_STATUS_RUNNING), 3);
  EXPECT_EQ(ExitCodeFor(v1::RUN_STATUS_UNKNOWN), 3);
}

TEST(ExitCodesTest, ErrorsOfTheService) {
  struct Case {
    absl::Status status;
    int code;
    std::string message;
  };
  for (const Case& c : std::vector<Case>{
           {absl::InvalidArgumentError("bad id"), 65,
            "invalid request: bad id"},
           {absl::NotFoundError("no such pipeline"), 65,
            "not found: no such pipeline"},
           {absl::FailedPreconditionError("already running"), 65,
            "already running"},
           {absl::ResourceExhaustedError("slow down"), 65,
            "the service is busy: slow down"},
           {absl::InternalError("oops"), 65,
            "the service failed the request: oops"},
           {absl::UnauthenticatedError("no token"), 77,
            "not authenticated: no token (check --token-file or the client "
            "certificate)"},
           {absl::PermissionDeniedError("not yours"), 77,
            "permission denied: not yours"},
       }) {
    const Failure f = FailureOf(c.status, kTarget);
    EXPECT_EQ(f.code, c.code) << c.status;
    EXPECT_EQ(f.message, c.message) << c.status;
  }
}

TEST(ExitCodesTest, UnreachableIs69) {
  Failure f = FailureOf(
      absl::UnavailableError("failed to connect to all addresses"), kTarget);
  EXPECT_EQ(f.code, 69);
  EXPECT_EQ(f.message,
            "cannot reach the service at svc:50051 (is it running?)");
  f = FailureOf(absl::UnavailableError("server draining; import again"),
                kTarget);
  EXPECT_EQ(f.code, 69);
  EXPECT_EQ(f.message,
            "the service at svc:50051 is unavailable: server draining; import "
            "again");
  f = FailureOf(absl::DeadlineExceededError("Deadline Exceeded"), kTarget);
  EXPECT_EQ(f.code, 69);
  EXPECT_EQ(
      f.message.rfind("the service at svc:50051 did not answer in time", 0),
      0u);
}

TEST(ExitCodesTest, DatabricksUnavailableIsDecidedByTheMarkNotTheText) {
  // The text names Databricks, but without the service's mark it is not the
  // service's answer.
  absl::Status unmarked =
      absl::UnavailableError("Databricks unavailable for pipeline x");
  EXPECT_EQ(FailureOf(unmarked, kTarget).code, 69);
  // The mark as the library sets it from the trailer.
  absl::Status marked = absl::UnavailableError("upstream answered 502");
  marked.SetPayload("type.polysync.dev/client.unavailable_cause",
                    absl::Cord("databricks"));
  marked.SetPayload("type.polysync.dev/client.request_id",
                    absl::Cord("pdlt-00000000000000ab"));
  ASSERT_TRUE(CausedByDatabricks(marked));
  const Failure f = FailureOf(marked, kTarget);
  EXPECT_EQ(f.code, 65);
  EXPECT_EQ(f.message,
            "the service could not complete the request: upstream answered 502 "
            "[request id pdlt-00000000000000ab]");
}

TEST(ExitCodesTest, RequestIdOnlyOnTheServiceAnswers) {
  absl::Status down = absl::UnavailableError("Connection refused");
  down.SetPayload("type.polysync.dev/client.request_id", absl::Cord("pdlt-1"));
  EXPECT_EQ(FailureOf(down, kTarget).message.find("request id"),
            std::string::npos);
  absl::Status refused = absl::NotFoundError("no\nsuch run");
  refused.SetPayload("type.polysync.dev/client.request_id",
                     absl::Cord("pdlt-1"));
  EXPECT_EQ(FailureOf(refused, kTarget).message,
            "not found: no such run [request id pdlt-1]");
}

}  // namespace
}  // namespace polysync::client::cli
