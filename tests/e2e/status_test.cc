// End to end: what GetUpdateStatus and WatchUpdate answer when the reads
// behind a status misbehave (the event log; DLT's retries: dlt_retry_test) and
// when callers with different deadlines share one read.
#include <gmock/gmock.h>
#include <grpcpp/grpcpp.h>
#include <gtest/gtest.h>

#include <atomic>
#include <condition_variable>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "absl/time/clock.h"
#include "absl/time/time.h"
#include "adapters/databricks/jobtype/job_type.h"
#include "adapters/databricks/simulator/simulator.h"
#include "polysync/databricks/v1/pipelines.grpc.pb.h"
#include "server/backend.h"
#include "tests/testing/rpc_helpers.h"
#include "tests/testing/service_harness.h"
#include "tests/testing/simulator_api.h"

namespace polysync {
namespace {

namespace v1 = ::polysync::databricks::v1;
namespace sim = ::polysync::databricks::sim;
using ::testing::HasSubstr;

class StatusTest : public ::testing::Test {
 protected:
  void SetUp() override {
    polysync::testing::HarnessOptions options;
    options.configure_simulator = [this](sim::SimulatorOptions& o) {
      ConfigureSimulator(o);
    };
    options.configure_backend = [this](server::BackendOptions& o) {
      ConfigureBackend(o);
    };
    h_ = std::make_unique<polysync::testing::Harness>(std::move(options));
    sim_ = &h_->sim();
    stub_ = polysync::testing::NewPipelinesStub(h_->target());
  }
  void TearDown() override {
    h_->StopTicking();
    stub_.reset();
    h_.reset();
  }
  virtual void ConfigureSimulator(sim::SimulatorOptions&) {}
  virtual void ConfigureBackend(server::BackendOptions&) {}

  // The next GET of an update answers after `latency`.
  void SlowNextUpdateRead(absl::Duration latency) {
    sim::FaultRule slow;
    slow.endpoint = "updates.get";
    slow.kind = sim::FaultKind::kLatency;
    slow.latency = latency;
    slow.count = 1;
    sim_->InjectFault(slow);
  }

  std::string MustStart(sim::Behavior behavior) {
    const std::string pipeline = h_->CreatePipeline("orders", behavior);
    return polysync::testing::MustStartUpdate(
               *stub_, polysync::testing::StartRequest(pipeline))
        .run_id();
  }

  v1::UpdateStatus Status(const std::string& run_id, grpc::Status* out,
                          absl::Duration deadline = absl::Seconds(30)) {
    return polysync::testing::GetUpdateStatus(*stub_, run_id, out, deadline);
  }

  v1::UpdateStatus MustStatus(const std::string& run_id) {
    return polysync::testing::MustGetUpdateStatus(*stub_, run_id);
  }

  void Advance(absl::Duration d) { ASSERT_TRUE(sim_->AdvanceClock(d).ok()); }

  std::unique_ptr<polysync::testing::Harness> h_;
  sim::Simulator* sim_ = nullptr;
  std::unique_ptr<v1::DatabricksPipelines::Stub> stub_;
};

// Callers A (1 s deadline) and B (30 s) read the same run while Databricks
// takes 3 s: they share one upstream read, A is answered at its deadline and
// B gets the status.
TEST_F(StatusTest, ShortDeadlineOfOneCallerDoesNotFailASharedRead) {
  const std::string run = MustStart(sim::Behavior::kSucceed);
  SlowNextUpdateRead(absl::Seconds(3));
  const int64_t before = sim_->RequestCount("updates.get");

  grpc::Status a_status;
  absl::Duration a_took;
  std::thread a([&] {
    const absl::Time start = absl::Now();
    Status(run, &a_status, absl::Seconds(1));
    a_took = absl::Now() - start;
  });
  // B joins once A's read has reached Databricks.
  for (int i = 0; i < 200 && sim_->RequestCount("updates.get") == before; ++i) {
    absl::SleepFor(absl::Milliseconds(5));
  }
  ASSERT_EQ(sim_->RequestCount("updates.get") - before, 1);
  absl::SleepFor(absl::Milliseconds(200));
  const absl::Time b_start = absl::Now();
  grpc::Status b_status;
  v1::UpdateStatus b = Status(run, &b_status, absl::Seconds(30));
  const absl::Duration b_took = absl::Now() - b_start;
  a.join();

  EXPECT_EQ(a_status.error_code(), grpc::StatusCode::DEADLINE_EXCEEDED);
  EXPECT_LT(a_took, absl::Milliseconds(2500));
  ASSERT_TRUE(b_status.ok())
      << b_status.error_message() << " after " << absl::FormatDuration(b_took);
  EXPECT_EQ(b.run_id(), run);
  EXPECT_EQ(b.dlt_state(), "QUEUED");
  // B waited for the shared read (about 2.8 s of its 3 s remained), not for a
  // read of its own after A's ended.
  EXPECT_GE(b_took, absl::Milliseconds(2000));
  EXPECT_LT(b_took, absl::Milliseconds(5500));
  EXPECT_EQ(sim_->RequestCount("updates.get") - before, 1);
}

// A deadline longer than the reader's timer step (5 s) is kept to: the
// timer is re-armed until the deadline, and the caller is answered then with
// the reader's own DEADLINE_EXCEEDED (the job type is called directly, so no
// gRPC deadline can answer in its place).
TEST_F(StatusTest, LongDeadlineIsAnsweredAtTheDeadline) {
  const std::string run = MustStart(sim::Behavior::kSucceed);
  SlowNextUpdateRead(absl::Seconds(10));
  v1::GetUpdateStatusRequest request;
  request.set_run_id(run);
  databricks::api::CallContext ctx;
  const absl::Time start = absl::Now();
  ctx.deadline = start + absl::Seconds(6);
  // Shared with the callback, which may outlive this test on a failure.
  struct Answer {
    std::mutex mu;
    std::condition_variable cv;
    std::optional<absl::StatusOr<v1::UpdateStatus>> status;
    absl::Time at;
  };
  auto answer = std::make_shared<Answer>();
  h_->backend().job_type().GetUpdateStatus(
      request, ctx, [answer](absl::StatusOr<v1::UpdateStatus> s) {
        std::lock_guard<std::mutex> lock(answer->mu);
        answer->status = std::move(s);
        answer->at = absl::Now();
        answer->cv.notify_all();
      });
  std::unique_lock<std::mutex> lock(answer->mu);
  ASSERT_TRUE(answer->cv.wait_for(lock, std::chrono::seconds(15),
                                  [&] { return answer->status.has_value(); }));
  EXPECT_EQ(answer->status->status().code(),
            absl::StatusCode::kDeadlineExceeded)
      << answer->status->status();
  EXPECT_THAT(std::string(answer->status->status().message()),
              HasSubstr("deadline passed"));
  EXPECT_GE(answer->at - start, absl::Milliseconds(5900));
  EXPECT_LT(answer->at - start, absl::Milliseconds(8000));
}

// A read that no caller waits for any more sends nothing further.
TEST_F(StatusTest, ReadNobodyWaitsForStopsBeforeItsNextRequest) {
  const std::string run = MustStart(sim::Behavior::kFail);
  Advance(absl::Minutes(5));  // FAILED: a read would go on to the request
  SlowNextUpdateRead(absl::Seconds(2));
  const int64_t requests = sim_->RequestCount("requests.get");
  const int64_t pipelines = sim_->RequestCount("pipelines.get");
  const int64_t events = sim_->RequestCount("events.list");
  const absl::Time start = absl::Now();
  grpc::Status status;
  Status(run, &status, absl::Milliseconds(500));
  EXPECT_EQ(status.error_code(), grpc::StatusCode::DEADLINE_EXCEEDED);
  // The update's answer arrives after 2 s; give the read time to go on.
  absl::SleepFor(start + absl::Milliseconds(2800) - absl::Now());
  EXPECT_EQ(sim_->RequestCount("requests.get"), requests);
  EXPECT_EQ(sim_->RequestCount("pipelines.get"), pipelines);
  EXPECT_EQ(sim_->RequestCount("events.list"), events);
  // A caller that waits gets the whole answer.
  v1::UpdateStatus s = MustStatus(run);
  EXPECT_EQ(s.status(), v1::RUN_STATUS_FAILED);
  EXPECT_FALSE(s.failure_messages().empty());
  // The next request of the read: the request (legacy) or the pipeline.
  EXPECT_GT(sim_->RequestCount(polysync::testing::LegacySimulatorApi()
                                   ? "requests.get"
                                   : "pipelines.get"),
            polysync::testing::LegacySimulatorApi() ? requests : pipelines);
}

// Each Databricks request is tried once, so one 503 fails a read.
class NoRetryStatusTest : public StatusTest {
 protected:
  void ConfigureBackend(server::BackendOptions& options) override {
    options.client.backoff.max_attempts = 1;
  }

  // A failed run whose next events read gets one 503.
  std::string FailedRunWithOneEventsOutage() {
    const std::string run = MustStart(sim::Behavior::kFail);
    Advance(absl::Minutes(5));
    sim::FaultRule down;
    down.endpoint = "events.list";
    down.kind = sim::FaultKind::kHttpError;
    down.status = 503;
    down.count = 1;
    sim_->InjectFault(down);
    return run;
  }
};

TEST_F(NoRetryStatusTest, FailureMessagesLostToAnEventsErrorComeOnTheNextRead) {
  const std::string run = FailedRunWithOneEventsOutage();

  v1::UpdateStatus first = MustStatus(run);
  EXPECT_EQ(first.status(), v1::RUN_STATUS_FAILED);
  EXPECT_TRUE(first.terminal());
  EXPECT_TRUE(first.failure_messages().empty());
  EXPECT_TRUE(first.incomplete());
  EXPECT_THAT(first.hint(), HasSubstr("could not be read"));

  v1::UpdateStatus second = MustStatus(run);
  EXPECT_EQ(second.status(), v1::RUN_STATUS_FAILED);
  EXPECT_TRUE(second.terminal());
  EXPECT_FALSE(second.failure_messages().empty());
  EXPECT_TRUE(second.has_end_time());
  EXPECT_FALSE(second.incomplete());
  EXPECT_EQ(second.hint(), "");

  // Complete now: a terminal answer that is reused.
  const int64_t events = sim_->RequestCount("events.list");
  v1::UpdateStatus third = MustStatus(run);
  EXPECT_EQ(third.failure_messages_size(), second.failure_messages_size());
  EXPECT_EQ(sim_->RequestCount("events.list"), events);
}

// A watch does not end on a terminal answer that lacks the failure
// messages: it polls on and ends with the complete one.
TEST_F(NoRetryStatusTest, WatchWaitsForTheFailureMessagesAnEventsErrorLost) {
  const std::string run = FailedRunWithOneEventsOutage();
  v1::WatchUpdateRequest request;
  request.set_run_id(run);
  grpc::ClientContext context;
  polysync::testing::SetDeadlineIn(context, absl::Seconds(30));
  auto reader = stub_->WatchUpdate(&context, request);
  std::vector<v1::UpdateStatus> seen;
  v1::UpdateStatus s;
  while (reader->Read(&s)) seen.push_back(s);
  grpc::Status status = reader->Finish();
  ASSERT_TRUE(status.ok()) << status.error_message();
  ASSERT_GE(seen.size(), 2u);
  EXPECT_TRUE(seen.front().incomplete());
  EXPECT_TRUE(seen.front().failure_messages().empty());
  const v1::UpdateStatus& last = seen.back();
  EXPECT_EQ(last.status(), v1::RUN_STATUS_FAILED);
  EXPECT_FALSE(last.incomplete());
  EXPECT_FALSE(last.failure_messages().empty());
  EXPECT_TRUE(last.has_end_time());
}

// A busy pipeline: a stopped run's end is buried under 600 progress events
// of the next (continuous) run, and a page of events examines at most 100
// of them. The status still has the end time (the read follows pages).
class BusyPipelineStatusTest : public StatusTest {
 protected:
  void ConfigureSimulator(sim::SimulatorOptions& options) override {
    options.workspace.busy_events_per_second = 20;
    options.workspace.events_scan_limit = 100;
  }

  std::string Start(const std::string& pipeline) {
    return polysync::testing::MustStartUpdate(
               *stub_, polysync::testing::StartRequest(pipeline))
        .run_id();
  }
};

TEST_F(BusyPipelineStatusTest, EndTimeIsFoundBehindPagesOfProgressEvents) {
  auto pipeline = sim_->CreatePipeline(
      {{"name", "stream"}, {"continuous", true}}, sim::Behavior::kSucceed);
  ASSERT_TRUE(pipeline.ok()) << pipeline.status();
  const std::string first = Start(*pipeline);
  Advance(absl::Seconds(30));
  {
    v1::StopUpdateRequest request;
    request.set_run_id(first);
    grpc::ClientContext context;
    v1::StopUpdateResponse response;
    ASSERT_TRUE(stub_->StopUpdate(&context, request, &response).ok());
  }
  Advance(absl::Seconds(10));  // CANCELED
  const std::string second = Start(*pipeline);
  Advance(absl::Seconds(30));  // 600 events of the second run
  const int64_t pages = sim_->RequestCount("events.list");
  v1::UpdateStatus s = MustStatus(first);
  EXPECT_EQ(s.status(), v1::RUN_STATUS_CANCELLED);
  EXPECT_TRUE(s.terminal());
  EXPECT_TRUE(s.has_end_time()) << s.hint();
  EXPECT_FALSE(s.incomplete());
  EXPECT_GT(sim_->RequestCount("events.list") - pages, 1)
      << "one page held the end: the noise did not bury it";
  EXPECT_NE(second, first);
}

}  // namespace
}  // namespace polysync
