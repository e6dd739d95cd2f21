// The start/stop engine against the simulated workspace, called directly:
// idempotency keys (one update however often a key is sent, in flight or
// after), what a start does when an update is active (fail, attach,
// restart), and stops: of an ended run, and while DLT's retry is pending.
#include "adapters/databricks/jobtype/start_stop.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <future>
#include <memory>
#include <string>

#include "adapters/databricks/jobtype/engine_testing.h"
#include "adapters/databricks/jobtype/rules.h"

namespace polysync::databricks::jobtype {
namespace {

using testing::EngineSetup;
using ::testing::HasSubstr;

using StartResult = absl::StatusOr<v1::StartUpdateResponse>;
using StopResult = absl::StatusOr<v1::StopUpdateResponse>;

class StartStopTest : public testing::EngineTest {
 protected:
  void Begin(EngineSetup setup = {}) {
    EngineTest::Begin(std::move(setup));
    StartStopOptions options;
    options.restart_poll = absl::Milliseconds(10);
    options.gap_stop_window = absl::Minutes(5);
    options.now = [clock = clock_] { return clock->Now(); };
    start_stop_ = std::make_unique<StartStop>(reader(), transport(), options);
  }

  static v1::StartUpdateRequest Request(
      const std::string& pipeline_id, const std::string& key = "",
      v1::IfRunning if_running = v1::IF_RUNNING_UNSPECIFIED) {
    v1::StartUpdateRequest request;
    request.set_pipeline_id(pipeline_id);
    request.set_idempotency_key(key);
    request.set_if_running(if_running);
    return request;
  }

  // Starts through the engine; the answer comes on the future.
  std::future<StartResult> StartAsync(const v1::StartUpdateRequest& request) {
    auto promise = std::make_shared<std::promise<StartResult>>();
    auto future = promise->get_future();
    auto plan = PlanStart(request);
    EXPECT_TRUE(plan.ok()) << plan.status();
    if (!plan.ok()) {
      promise->set_value(plan.status());
      return future;
    }
    start_stop_->Start(
        ws(), request, *std::move(plan), {},
        [promise](StartResult r) { promise->set_value(std::move(r)); });
    return future;
  }

  // Starts and waits, moving the simulated clock meanwhile (a restart
  // waits for the pipeline to be idle).
  StartResult Start(const v1::StartUpdateRequest& request) {
    auto future = StartAsync(request);
    EXPECT_TRUE(AdvanceUntil(
        [&] { return testing::Ready(future, absl::ZeroDuration()); }));
    if (!testing::Ready(future, absl::ZeroDuration())) {
      return absl::DeadlineExceededError("test: the start never ended");
    }
    return future.get();
  }

  StopResult Stop(const RunId& run, absl::Duration step = absl::Seconds(1)) {
    auto promise = std::make_shared<std::promise<StopResult>>();
    auto future = promise->get_future();
    start_stop_->Stop(ws(), run, {}, [promise](StopResult r) {
      promise->set_value(std::move(r));
    });
    EXPECT_TRUE(AdvanceUntil(
        [&] { return testing::Ready(future, absl::ZeroDuration()); }, step));
    if (!testing::Ready(future, absl::ZeroDuration())) {
      return absl::DeadlineExceededError("test: the stop never ended");
    }
    return future.get();
  }

  std::unique_ptr<StartStop> start_stop_;
};

TEST_F(StartStopTest, SameKeyTwiceStartsOneUpdateAndReplaysTheFirstAnswer) {
  Begin();
  const std::string p = CreatePipeline(sim::Behavior::kSucceed);
  auto first = StartAsync(Request(p, "key-1"));
  ASSERT_TRUE(testing::Ready(first));
  StartResult a = first.get();
  ASSERT_TRUE(a.ok()) << a.status();
  EXPECT_FALSE(a->replayed());
  EXPECT_GT(a->idempotency_key_ttl().seconds(), 0);

  auto second = StartAsync(Request(p, "key-1"));
  ASSERT_TRUE(testing::Ready(second));
  StartResult b = second.get();
  ASSERT_TRUE(b.ok()) << b.status();
  EXPECT_TRUE(b->replayed());
  EXPECT_EQ(b->run_id(), a->run_id());
  EXPECT_EQ(simulator().UpdatesCreated(p), 1);
  EXPECT_EQ(Requests("updates.start"), 1);
}

TEST_F(StartStopTest, SameKeyWithADifferentRequestIsRefusedAndSendsNothing) {
  Begin();
  const std::string p = CreatePipeline(sim::Behavior::kSucceed);
  auto first = StartAsync(Request(p, "key-1"));
  ASSERT_TRUE(testing::Ready(first));
  ASSERT_TRUE(first.get().ok());
  v1::StartUpdateRequest other = Request(p, "key-1");
  other.set_validate_only(true);
  auto second = StartAsync(other);
  ASSERT_TRUE(testing::Ready(second));
  EXPECT_EQ(second.get().status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(Requests("updates.start"), 1);
}

TEST_F(StartStopTest, ADuplicateInFlightWaitsForTheFirstAndStartsNothing) {
  Begin();
  const std::string p = CreatePipeline(sim::Behavior::kSucceed);
  sim::FaultRule slow;  // the first start is still in flight for the second
  slow.endpoint = "updates.start";
  slow.kind = sim::FaultKind::kLatency;
  slow.latency = absl::Milliseconds(500);
  slow.count = -1;
  simulator().InjectFault(slow);
  auto first = StartAsync(Request(p, "key-1"));
  auto second = StartAsync(Request(p, "key-1"));
  ASSERT_TRUE(testing::Ready(first));
  ASSERT_TRUE(testing::Ready(second));
  StartResult a = first.get(), b = second.get();
  ASSERT_TRUE(a.ok()) << a.status();
  ASSERT_TRUE(b.ok()) << b.status();
  EXPECT_EQ(a->run_id(), b->run_id());
  EXPECT_NE(a->replayed(), b->replayed());
  EXPECT_EQ(simulator().UpdatesCreated(p), 1);
  EXPECT_EQ(Requests("updates.start"), 1);
}

TEST_F(StartStopTest, AFailedStartIsNotRememberedUnderItsKey) {
  Begin();
  const std::string p = CreatePipeline(sim::Behavior::kSucceed);
  sim::FaultRule refuse;
  refuse.endpoint = "updates.start";
  refuse.kind = sim::FaultKind::kHttpError;
  refuse.status = 400;
  refuse.error_code = "INVALID_PARAMETER_VALUE";
  simulator().InjectFault(refuse);
  auto first = StartAsync(Request(p, "key-1"));
  ASSERT_TRUE(testing::Ready(first));
  EXPECT_FALSE(first.get().ok());
  auto second = StartAsync(Request(p, "key-1"));
  ASSERT_TRUE(testing::Ready(second));
  StartResult b = second.get();
  ASSERT_TRUE(b.ok()) << b.status();
  EXPECT_FALSE(b->replayed());
  EXPECT_EQ(simulator().UpdatesCreated(p), 1);
}

TEST_F(StartStopTest, AnActiveUpdateRefusesTheStartAndIsNamed) {
  Begin();
  const std::string p = CreatePipeline(sim::Behavior::kSucceed);
  RunId active = StartDirect(p);
  auto start = StartAsync(Request(p));
  ASSERT_TRUE(testing::Ready(start));
  StartResult r = start.get();
  EXPECT_EQ(r.status().code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_THAT(r.status().message(),
              HasSubstr(FormatRunId(p, active.update_id)));
  EXPECT_EQ(simulator().UpdatesCreated(p), 1);
  EXPECT_EQ(Requests("pipelines.stop"), 0);
}

TEST_F(StartStopTest, AttachReturnsTheActiveUpdate) {
  Begin();
  const std::string p = CreatePipeline(sim::Behavior::kSucceed);
  RunId active = StartDirect(p);
  auto start = StartAsync(Request(p, "", v1::IF_RUNNING_ATTACH));
  ASSERT_TRUE(testing::Ready(start));
  StartResult r = start.get();
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_TRUE(r->attached());
  EXPECT_EQ(r->run_id(), FormatRunId(p, active.update_id));
  EXPECT_EQ(simulator().UpdatesCreated(p), 1);
}

TEST_F(StartStopTest, RestartStopsTheActiveUpdateThenStartsANewOne) {
  Begin();
  const std::string p = CreatePipeline(sim::Behavior::kSucceed);
  RunId active = StartDirect(p);
  StartResult r = Start(Request(p, "", v1::IF_RUNNING_RESTART));
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_EQ(r->stopped_run_id(), FormatRunId(p, active.update_id));
  EXPECT_NE(r->update_id(), active.update_id);
  EXPECT_EQ(simulator().UpdatesCreated(p), 2);
  EXPECT_EQ(Requests("pipelines.stop"), 1);
  auto old = ReadFresh(active);
  ASSERT_TRUE(old.ok());
  EXPECT_EQ(old->status(), v1::RUN_STATUS_CANCELLED);
}

TEST_F(StartStopTest, StopOfAnEndedRunAnswersItsStatusAndSendsNothing) {
  Begin();
  RunId run = StartDirect(CreatePipeline(sim::Behavior::kSucceed));
  ASSERT_TRUE(ReadUntil(run, [](const v1::UpdateStatus& s) {
                return s.terminal();
              }).ok());
  StopResult r = Stop(run);
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_FALSE(r->stop_sent());
  EXPECT_EQ(r->status().status(), v1::RUN_STATUS_SUCCESS);
  EXPECT_EQ(Requests("pipelines.stop"), 0);
}

TEST_F(StartStopTest, StopOfARunningUpdateCancelsIt) {
  Begin();
  RunId run = StartDirect(CreatePipeline(sim::Behavior::kSucceed));
  StopResult r = Stop(run);
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_TRUE(r->stop_sent());
  EXPECT_EQ(Requests("pipelines.stop"), 1);
  auto end =
      ReadUntil(run, [](const v1::UpdateStatus& s) { return s.terminal(); });
  ASSERT_TRUE(end.ok()) << end.status();
  EXPECT_EQ(end->status(), v1::RUN_STATUS_CANCELLED);
}

EngineSetup Gap(bool stop_cancels_pending_retry) {
  EngineSetup setup;
  setup.simulator = [stop_cancels_pending_retry](sim::SimulatorOptions& o) {
    o.workspace.retry_delay = absl::Minutes(2);
    o.workspace.stop_cancels_pending_retry = stop_cancels_pending_retry;
    // DLT's retry runs long enough to be seen running and stopped, however
    // slowly the engine's re-reads come.
    o.workspace.lifecycle.running = absl::Minutes(10);
  };
  return setup;
}

TEST_F(StartStopTest, StopInTheRetryGapStopsDltsRetryWhenItAppears) {
  Begin(Gap(/*stop_cancels_pending_retry=*/false));
  RunId run = StartDirect(CreatePipeline(sim::Behavior::kFailOnceThenRetry));
  auto pending = ReadUntil(
      run, [](const v1::UpdateStatus& s) { return s.retry().retrying(); }, 600,
      absl::Seconds(10));
  ASSERT_TRUE(pending.ok()) << pending.status();
  StopResult r = Stop(run);
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_TRUE(r->stop_sent());
  // The gap's stop was the API's no-op; DLT's retry came and was stopped.
  EXPECT_GE(Requests("pipelines.stop"), 2);
  auto end =
      ReadUntil(run, [](const v1::UpdateStatus& s) { return s.terminal(); });
  ASSERT_TRUE(end.ok()) << end.status();
  EXPECT_EQ(end->status(), v1::RUN_STATUS_CANCELLED);
  EXPECT_FALSE(end->retry().retry_update_id().empty());
  EXPECT_EQ(end->dlt_state(), "CANCELED");
}

TEST_F(StartStopTest, StopInTheRetryGapThatCancelsTheRetryReadsCancelled) {
  Begin(Gap(/*stop_cancels_pending_retry=*/true));
  RunId run = StartDirect(CreatePipeline(sim::Behavior::kFailOnceThenRetry));
  ASSERT_TRUE(
      ReadUntil(
          run, [](const v1::UpdateStatus& s) { return s.retry().retrying(); },
          600, absl::Seconds(10))
          .ok());
  StopResult r = Stop(run);
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_TRUE(r->stop_sent());
  EXPECT_EQ(Requests("pipelines.stop"), 1);
  // No retry comes: the run is CANCELLED, not the FAILED of its update.
  auto end = ReadFresh(run);
  ASSERT_TRUE(end.ok()) << end.status();
  EXPECT_TRUE(end->terminal());
  EXPECT_EQ(end->status(), v1::RUN_STATUS_CANCELLED);
  EXPECT_TRUE(end->retry().retry_update_id().empty());
}

}  // namespace
}  // namespace polysync::databricks::jobtype
