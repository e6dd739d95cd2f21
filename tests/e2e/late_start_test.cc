// A keyed StartUpdate whose outcome is settled after the caller's deadline:
// the caller gets DEADLINE_EXCEEDED (and the audit line and the RPC metric
// say so), the outcome is still remembered under the key, so the caller's
// retry with the key is answered with it (replayed), and the late
// resolution gets its own log line with the run id.
#include <gmock/gmock.h>
#include <grpcpp/grpcpp.h>
#include <gtest/gtest.h>

#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"
#include "adapters/databricks/simulator/simulator.h"
#include "common/log.h"
#include "common/metrics.h"
#include "polysync/databricks/v1/pipelines.grpc.pb.h"
#include "tests/testing/log_capture.h"
#include "tests/testing/rpc_helpers.h"
#include "tests/testing/service_harness.h"

namespace polysync {
namespace {

namespace v1 = ::polysync::databricks::v1;
namespace sim = ::polysync::databricks::sim;
using ::testing::HasSubstr;

using ::polysync::testing::LogCapture;

// The process-wide count of StartUpdate calls answered with `code`.
double Calls(const std::string& code) {
  const std::string text = metrics::Registry::Default().RenderPrometheus();
  const std::string series =
      absl::StrCat("\npolysync_rpc_calls_total{method=\"StartUpdate\",code=\"",
                   code, "\"} ");
  auto at = text.find(series);
  return at == std::string::npos ? 0
                                 : std::stod(text.substr(at + series.size()));
}

using ::polysync::testing::WaitFor;

class LateStartTest : public ::testing::Test {
 protected:
  void SetUp() override {
    h_ = std::make_unique<polysync::testing::Harness>();
    stub_ = polysync::testing::NewPipelinesStub(h_->target());
    pipeline_id_ = h_->CreatePipeline("orders");
  }

  grpc::Status Start(absl::Duration deadline, const std::string& correlation_id,
                     v1::StartUpdateResponse* response) {
    v1::StartUpdateRequest request =
        polysync::testing::StartRequest(pipeline_id_);
    request.set_idempotency_key("polysync-run-late-1");
    grpc::ClientContext context;
    polysync::testing::SetDeadlineIn(context, deadline);
    context.AddMetadata("x-request-id", correlation_id);
    return stub_->StartUpdate(&context, request, response);
  }

  std::unique_ptr<polysync::testing::Harness> h_;
  std::unique_ptr<v1::DatabricksPipelines::Stub> stub_;
  std::string pipeline_id_;
};

// The start is processed at once but answered 1.5 s later; the caller waits
// 0.5 s.
TEST_F(LateStartTest, AStartAnsweredAfterTheDeadlineIsReplayedToTheRetry) {
  LogCapture logs;
  const double exceeded = Calls("DEADLINE_EXCEEDED");
  const double ok = Calls("OK");
  sim::FaultRule slow;
  slow.endpoint = "updates.start";
  slow.kind = sim::FaultKind::kLatency;
  slow.latency = absl::Milliseconds(1500);
  h_->sim().InjectFault(slow);

  v1::StartUpdateResponse first;
  grpc::Status status = Start(absl::Milliseconds(500), "late-start-1", &first);
  EXPECT_EQ(status.error_code(), grpc::StatusCode::DEADLINE_EXCEEDED)
      << status.error_message();
  // The late resolution is logged with the run id once it comes.
  ASSERT_TRUE(WaitFor([&] {
    return !logs.Lines({"start resolved after the caller's deadline",
                        "late-start-1"})
                .empty();
  }));

  v1::StartUpdateResponse retry;
  status = Start(absl::Seconds(10), "late-start-2", &retry);
  ASSERT_TRUE(status.ok()) << status.error_message();
  EXPECT_TRUE(retry.replayed());
  EXPECT_EQ(h_->sim().UpdatesCreated(pipeline_id_), 1);
  EXPECT_EQ(h_->sim().RequestCount("updates.start"), 1);
  ASSERT_FALSE(retry.run_id().empty());

  auto late = logs.Lines(
      {"start resolved after the caller's deadline", "late-start-1"});
  ASSERT_EQ(late.size(), 1u);
  EXPECT_THAT(late[0],
              HasSubstr(absl::StrCat("\"run_id\":\"", retry.run_id(), "\"")));
  EXPECT_THAT(late[0], HasSubstr("\"workspace\":\"test\""));
  EXPECT_THAT(late[0], HasSubstr("\"remembered_under_key\":true"));
  // The first call's audit line says what its caller received.
  auto audit = logs.Lines({"\"msg\":\"audit\"", "late-start-1"});
  ASSERT_EQ(audit.size(), 1u);
  EXPECT_THAT(audit[0], HasSubstr("DEADLINE_EXCEEDED"));
  EXPECT_THAT(audit[0], HasSubstr("\"run_id\":\"\""));
  auto replayed = logs.Lines({"\"msg\":\"audit\"", "late-start-2"});
  ASSERT_EQ(replayed.size(), 1u);
  EXPECT_THAT(replayed[0], HasSubstr(retry.run_id()));
  EXPECT_THAT(replayed[0], HasSubstr("\"outcome\":\"OK\""));
  // So does the RPC metric: one DEADLINE_EXCEEDED, one OK (the retry).
  EXPECT_EQ(Calls("DEADLINE_EXCEEDED") - exceeded, 1);
  EXPECT_EQ(Calls("OK") - ok, 1);
}

// The start's answer trickles in for about 2 s and its update stays out of
// every read (a lagging read path) until the clock moves: cutting the start
// off at the caller's deadline would leave its outcome unknown (nothing to
// adopt), free the key, and the retry would meet the hidden update (409).
// Settled within the default timeout instead, it is replayed to the retry,
// which arrives while it is still in flight.
TEST_F(LateStartTest, AKeyedStartIsNotCutOffWhenItsCallerLeaves) {
  sim::FaultRule trickle;
  trickle.endpoint = "updates.start";
  trickle.kind = sim::FaultKind::kSlowBody;
  trickle.latency = absl::Milliseconds(300);
  trickle.drip_bytes = 16;
  trickle.hidden_for = absl::Minutes(5);
  h_->sim().InjectFault(trickle);

  v1::StartUpdateResponse first;
  grpc::Status status = Start(absl::Milliseconds(500), "late-start-3", &first);
  EXPECT_EQ(status.error_code(), grpc::StatusCode::DEADLINE_EXCEEDED)
      << status.error_message();

  v1::StartUpdateResponse retry;
  status = Start(absl::Seconds(20), "late-start-4", &retry);
  ASSERT_TRUE(status.ok()) << status.error_message();
  EXPECT_TRUE(retry.replayed());
  EXPECT_EQ(h_->sim().UpdatesCreated(pipeline_id_), 1);
  EXPECT_EQ(h_->sim().RequestCount("updates.start"), 1);
  ASSERT_TRUE(h_->sim().AdvanceClock(absl::Minutes(6)).ok());  // visible now
  grpc::Status read;
  const v1::UpdateStatus update = polysync::testing::GetUpdateStatus(
      *stub_, retry.run_id(), &read, absl::Seconds(10));
  ASSERT_TRUE(read.ok());
  EXPECT_EQ(update.status(), v1::RUN_STATUS_SUCCESS);
}

}  // namespace
}  // namespace polysync
