// StartUpdate against a front end that refuses starts before processing them
// (503 with Databricks' JSON error): retried once the re-read shows no new
// update, never for validate_only, and never into a second update, even when
// the first POST was processed but its update is seen only later.
#include <gmock/gmock.h>
#include <grpcpp/grpcpp.h>
#include <gtest/gtest.h>

#include <string>

#include "absl/time/clock.h"
#include "absl/time/time.h"
#include "adapters/databricks/simulator/simulator.h"
#include "polysync/databricks/v1/pipelines.grpc.pb.h"
#include "tests/testing/rpc_helpers.h"
#include "tests/testing/service_harness.h"

namespace polysync {
namespace {

namespace v1 = ::polysync::databricks::v1;
namespace sim = ::polysync::databricks::sim;

class StartRetryTest : public ::testing::Test {
 protected:
  void SetUp() override {
    h_ = std::make_unique<polysync::testing::Harness>();
    stub_ = polysync::testing::NewPipelinesStub(h_->target());
    pipeline_id_ = h_->CreatePipeline("orders");
  }

  grpc::Status Start(bool validate_only, v1::StartUpdateResponse* response) {
    return polysync::testing::StartUpdate(
        *stub_, polysync::testing::StartRequest(pipeline_id_, validate_only),
        response);
  }

  void Inject(sim::FaultKind kind, int count,
              absl::Duration hidden_for = absl::ZeroDuration(),
              int retry_after_seconds = -1) {
    sim::FaultRule rule;
    rule.endpoint = "updates.start";
    rule.kind = kind;
    rule.status = 503;  // kHttpError: TEMPORARILY_UNAVAILABLE
    rule.count = count;
    rule.hidden_for = hidden_for;
    rule.retry_after_seconds = retry_after_seconds;
    h_->sim().InjectFault(rule);
  }

  int64_t Posts() { return h_->sim().RequestCount("updates.start"); }
  int64_t Updates() { return h_->sim().UpdatesCreated(pipeline_id_); }

  std::unique_ptr<polysync::testing::Harness> h_;
  std::unique_ptr<v1::DatabricksPipelines::Stub> stub_;
  std::string pipeline_id_;
};

TEST_F(StartRetryTest, AStartRefusedBeforeProcessingIsRetried) {
  Inject(sim::FaultKind::kHttpError, 1);
  v1::StartUpdateResponse response;
  grpc::Status status = Start(false, &response);
  ASSERT_TRUE(status.ok()) << status.error_message();
  EXPECT_FALSE(response.update_id().empty());
  EXPECT_EQ(Posts(), 2);
  EXPECT_EQ(Updates(), 1);
}

// The refusal's Retry-After is honoured (the harness's own backoff is 5 ms).
TEST_F(StartRetryTest, ARefusedStartWaitsForRetryAfter) {
  Inject(sim::FaultKind::kHttpError, 1, absl::ZeroDuration(), 2);
  v1::StartUpdateResponse response;
  const absl::Time start = absl::Now();
  grpc::Status status = Start(false, &response);
  const absl::Duration took = absl::Now() - start;
  ASSERT_TRUE(status.ok()) << status.error_message();
  EXPECT_GE(took, absl::Milliseconds(1900));
  EXPECT_EQ(Posts(), 2);
  EXPECT_EQ(Updates(), 1);
}

TEST_F(StartRetryTest, ValidateOnlyIsNeverRetried) {
  Inject(sim::FaultKind::kHttpError, 1);
  v1::StartUpdateResponse response;
  grpc::Status status = Start(true, &response);
  EXPECT_EQ(status.error_code(), grpc::StatusCode::UNAVAILABLE)
      << status.error_message();
  EXPECT_EQ(Posts(), 1);
  EXPECT_EQ(Updates(), 0);
}

// The first POST was processed, its answer lost (503), and its update is
// seen by reads only 30 s (simulated) later: the re-read finds nothing, the
// retry meets the hidden active update (409), and no second update exists.
TEST_F(StartRetryTest, AProcessedStartSeenOnlyLaterMakesOneUpdate) {
  Inject(sim::FaultKind::kResponseLost503, 1, absl::Seconds(30));
  v1::StartUpdateResponse response;
  grpc::Status status = Start(false, &response);
  EXPECT_EQ(status.error_code(), grpc::StatusCode::FAILED_PRECONDITION)
      << status.error_message();
  EXPECT_EQ(Posts(), 2);
  EXPECT_EQ(Updates(), 1);
}

// A start whose answer is lost (503) but whose update is visible at once is
// adopted: one POST, one update.
TEST_F(StartRetryTest, AProcessedStartIsAdoptedNotRetried) {
  Inject(sim::FaultKind::kResponseLost503, 1);
  v1::StartUpdateResponse response;
  grpc::Status status = Start(false, &response);
  ASSERT_TRUE(status.ok()) << status.error_message();
  EXPECT_EQ(Posts(), 1);
  EXPECT_EQ(Updates(), 1);
}

// 503 after 503: a bounded number of POSTs, each after a re-read, then
// UNAVAILABLE; nothing was started.
TEST_F(StartRetryTest, Repeated503sEndUnavailable) {
  Inject(sim::FaultKind::kHttpError, -1);
  v1::StartUpdateResponse response;
  grpc::Status status = Start(false, &response);
  EXPECT_EQ(status.error_code(), grpc::StatusCode::UNAVAILABLE)
      << status.error_message();
  EXPECT_EQ(Posts(), 4);
  EXPECT_EQ(Updates(), 0);
}

}  // namespace
}  // namespace polysync
