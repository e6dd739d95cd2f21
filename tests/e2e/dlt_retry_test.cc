// End to end: DLT's own retries of a failed update, as GetUpdateStatus,
// WatchUpdate and StopUpdate see them. Runs against both API shapes of the
// simulated workspace (today's, where a retry is only a newer update with
// cause RETRY_ON_FAILURE, and the retired guide's requests endpoint); tests
// about one shape pin it.
#include <gmock/gmock.h>
#include <grpcpp/grpcpp.h>
#include <gtest/gtest.h>

#include <memory>
#include <optional>
#include <ostream>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"
#include "adapters/databricks/simulator/simulator.h"
#include "polysync/databricks/v1/pipelines.grpc.pb.h"
#include "server/backend.h"
#include "tests/testing/rpc_helpers.h"
#include "tests/testing/service_harness.h"

namespace polysync {
namespace {

namespace v1 = ::polysync::databricks::v1;
namespace sim = ::polysync::databricks::sim;
using ::testing::AllOf;
using ::testing::Contains;
using ::testing::HasSubstr;
using ::testing::Not;

struct RetrySetup {
  // How long DLT takes to retry, and the pipeline's state meanwhile.
  absl::Duration retry_delay = absl::Minutes(2);
  std::string gap_state = "RECOVERING";
  std::string after_failure_state = "IDLE";
  int max_retry_attempts = 2;
  bool stop_cancels_pending_retry = false;
  // Pins the API shape (unset: the suite's mode).
  std::optional<bool> legacy;
  // The server's dlt_retry_window (empty: the default, 15m).
  std::string retry_window;
};

class DltRetryTest : public ::testing::Test {
 protected:
  void TearDown() override {
    if (h_) h_->StopTicking();
    stub_.reset();
    h_.reset();
  }

  void Begin(RetrySetup setup = {}) {
    polysync::testing::HarnessOptions options;
    if (!setup.retry_window.empty()) {
      options.extra =
          absl::StrCat(R"(, "dlt_retry_window": ")", setup.retry_window, "\"");
    }
    options.configure_simulator = [setup](sim::SimulatorOptions& o) {
      o.workspace.retry_delay = setup.retry_delay;
      o.workspace.retry_gap_state = setup.gap_state;
      o.workspace.after_failure_state = setup.after_failure_state;
      o.workspace.max_retry_attempts = setup.max_retry_attempts;
      o.workspace.stop_cancels_pending_retry = setup.stop_cancels_pending_retry;
      if (setup.legacy.has_value()) {
        o.workspace.legacy_request_api = *setup.legacy;
      }
    };
    h_ = std::make_unique<polysync::testing::Harness>(std::move(options));
    sim_ = &h_->sim();
    stub_ = polysync::testing::NewPipelinesStub(h_->target());
  }

  bool legacy() const { return sim_->workspace_options().legacy_request_api; }

  std::string Pipeline(sim::Behavior behavior, bool development = false) {
    auto id = sim_->CreatePipeline({{"name", "orders"},
                                    {"continuous", false},
                                    {"development", development}},
                                   behavior);
    EXPECT_TRUE(id.ok()) << id.status();
    return id.ok() ? *id : "";
  }

  v1::StartUpdateResponse Start(const std::string& pipeline,
                                bool validate_only = false) {
    return polysync::testing::MustStartUpdate(
        *stub_, polysync::testing::StartRequest(pipeline, validate_only));
  }

  v1::UpdateStatus Status(const std::string& run_id, grpc::Status* out) {
    return polysync::testing::GetUpdateStatus(*stub_, run_id, out);
  }

  v1::UpdateStatus MustStatus(const std::string& run_id) {
    return polysync::testing::MustGetUpdateStatus(*stub_, run_id);
  }

  void Advance(absl::Duration d) { ASSERT_TRUE(sim_->AdvanceClock(d).ok()); }

  // Advances the clock a second at a time until the run's own update has
  // FAILED (its first failure) and returns the status read then.
  v1::UpdateStatus UntilFirstFailure(const std::string& run_id) {
    v1::UpdateStatus s;
    for (int i = 0; i < 120; ++i) {
      Advance(absl::Seconds(1));
      s = MustStatus(run_id);
      if (s.retry().attempts() > 0) break;
    }
    EXPECT_GT(s.retry().attempts(), 0) << "the update never failed";
    return s;
  }

  // Watches `run_id` to its end with the clock ticking; every message must
  // not be Failed (`why` says what that would mean). Returns the last
  // message; `pending` counts the messages with `retrying` set.
  v1::UpdateStatus WatchToEnd(const std::string& run_id, const std::string& why,
                              int* pending = nullptr) {
    v1::WatchUpdateRequest request;
    request.set_run_id(run_id);
    grpc::ClientContext context;
    polysync::testing::SetDeadlineIn(context, absl::Seconds(60));
    auto reader = stub_->WatchUpdate(&context, request);
    h_->StartTicking(absl::Seconds(1));
    v1::UpdateStatus s;
    while (reader->Read(&s)) {
      EXPECT_NE(s.status(), v1::RUN_STATUS_FAILED) << why;
      if (pending != nullptr && s.retry().retrying()) ++*pending;
    }
    h_->StopTicking();
    grpc::Status status = reader->Finish();
    EXPECT_TRUE(status.ok()) << status.error_message();
    return s;
  }

  std::unique_ptr<polysync::testing::Harness> h_;
  sim::Simulator* sim_ = nullptr;
  std::unique_ptr<v1::DatabricksPipelines::Stub> stub_;
};

// Success after one retry, across a gap in which the pipeline shows the
// state under test and no update is active.
class AcrossTheGapTest : public DltRetryTest,
                         public ::testing::WithParamInterface<const char*> {};

TEST_P(AcrossTheGapTest, RunIsRetryPendingThenSucceedsInTheRetry) {
  RetrySetup setup;
  setup.gap_state = GetParam();
  Begin(setup);
  const v1::StartUpdateResponse started =
      Start(Pipeline(sim::Behavior::kFailOnceThenRetry));
  v1::UpdateStatus s = UntilFirstFailure(started.run_id());

  // The gap: FAILED, no newer update, DLT expected to retry.
  for (int i = 0; i < 3; ++i) {
    EXPECT_EQ(s.status(), v1::RUN_STATUS_RUNNING);
    EXPECT_FALSE(s.terminal());
    EXPECT_EQ(s.dlt_state(), "FAILED");
    EXPECT_TRUE(s.retry().retrying());
    EXPECT_TRUE(s.retry().retry_update_id().empty());
    EXPECT_EQ(s.retry().attempts(), 1);
    EXPECT_FALSE(s.has_end_time()) << "a pending run has no end time";
    EXPECT_THAT(s.failure_messages(), Contains(HasSubstr("orders_landing")));
    if (legacy()) {
      EXPECT_EQ(s.retry().request_status(), "ACTIVE");
    } else {
      EXPECT_EQ(s.retry().pipeline_state(), GetParam());
      EXPECT_TRUE(s.retry().has_wait_until());
      EXPECT_THAT(s.hint(), HasSubstr("DLT is expected to retry"));
    }
    Advance(absl::Seconds(30));
    s = MustStatus(started.run_id());
  }

  // The retry appears (after 2 minutes) and completes.
  for (int i = 0; i < 200 && !s.terminal(); ++i) {
    Advance(absl::Seconds(2));
    s = MustStatus(started.run_id());
    ASSERT_NE(s.status(), v1::RUN_STATUS_FAILED)
        << "reported Failed while DLT retries the update";
  }
  EXPECT_TRUE(s.terminal());
  EXPECT_EQ(s.status(), v1::RUN_STATUS_SUCCESS);
  EXPECT_EQ(s.dlt_state(), "COMPLETED");
  EXPECT_FALSE(s.retry().retrying());
  EXPECT_EQ(s.retry().attempts(), 2);
  EXPECT_FALSE(s.retry().retry_update_id().empty());
  EXPECT_NE(s.retry().retry_update_id(), started.update_id());
  EXPECT_EQ(s.run_id(), started.run_id());
  EXPECT_TRUE(s.has_end_time());
  EXPECT_EQ(sim_->UpdatesCreated(), 2);
}

INSTANTIATE_TEST_SUITE_P(GapStates, AcrossTheGapTest,
                         ::testing::Values("RECOVERING", "STARTING",
                                           "RUNNING"));

// A watch follows the run across the gap and never streams Failed.
TEST_F(DltRetryTest, WatchFollowsTheRunAcrossTheGap) {
  Begin();
  const v1::StartUpdateResponse started =
      Start(Pipeline(sim::Behavior::kFailOnceThenRetry));
  int pending = 0;
  const v1::UpdateStatus s = WatchToEnd(
      started.run_id(), "a watch streamed Failed while DLT's retry was pending",
      &pending);
  EXPECT_GE(pending, 1) << "the watch never showed the pending retry";
  EXPECT_TRUE(s.terminal());
  EXPECT_EQ(s.status(), v1::RUN_STATUS_SUCCESS);
  EXPECT_EQ(s.retry().attempts(), 2);
}

// Every attempt fails; DLT gives up after two retries (the pipeline goes
// idle): Failed, final, with the last attempt's failure messages.
TEST_F(DltRetryTest, RetriesThatRunOutEndFailedWithTheLastAttemptsMessages) {
  RetrySetup setup;
  setup.max_retry_attempts = 2;
  Begin(setup);
  const std::string pipeline = Pipeline(sim::Behavior::kFailRetried);
  const v1::StartUpdateResponse started = Start(pipeline);
  v1::UpdateStatus s;
  bool pending_seen = false;
  for (int i = 0; i < 400; ++i) {
    Advance(absl::Seconds(2));
    s = MustStatus(started.run_id());
    if (s.terminal()) break;
    pending_seen = pending_seen || s.retry().retrying();
  }
  EXPECT_TRUE(pending_seen);
  ASSERT_TRUE(s.terminal());
  EXPECT_EQ(s.status(), v1::RUN_STATUS_FAILED);
  EXPECT_EQ(s.dlt_state(), "FAILED");
  EXPECT_FALSE(s.retry().retrying());
  EXPECT_EQ(sim_->UpdatesCreated(pipeline), 3);
  if (!legacy()) {
    EXPECT_EQ(s.retry().attempts(), 3);
  }
  EXPECT_THAT(s.failure_messages(), Contains(HasSubstr("(attempt 3)")));
  EXPECT_THAT(s.failure_messages(),
              Not(Contains(AllOf(HasSubstr("has FAILED"),
                                 Not(HasSubstr("(attempt 3)"))))))
      << "messages of an earlier attempt";
  EXPECT_TRUE(s.has_end_time());
}

// Failures DLT does not retry are final at once: the first status read
// after the failure is a terminal Failed. The pipeline shows RECOVERING
// after the failure where that state alone would keep the run pending, so
// each rule is seen on its own.
struct FinalCase {
  const char* name;
  sim::Behavior behavior;
  bool development;
  bool validate_only;
  const char* after_failure_state;
  const char* gap_state;
  friend void PrintTo(const FinalCase& c, std::ostream* os) { *os << c.name; }
};

class FinalAtOnceTest : public DltRetryTest,
                        public ::testing::WithParamInterface<FinalCase> {};

TEST_P(FinalAtOnceTest, FirstReadAfterTheFailureIsFinal) {
  const FinalCase& c = GetParam();
  RetrySetup setup;
  setup.after_failure_state = c.after_failure_state;
  setup.gap_state = c.gap_state;
  setup.max_retry_attempts = 0;
  Begin(setup);
  const v1::StartUpdateResponse started =
      Start(Pipeline(c.behavior, c.development), c.validate_only);
  v1::UpdateStatus s = UntilFirstFailure(started.run_id());
  EXPECT_TRUE(s.terminal()) << c.name;
  EXPECT_EQ(s.status(), v1::RUN_STATUS_FAILED) << c.name;
  EXPECT_FALSE(s.retry().retrying()) << c.name;
  EXPECT_FALSE(s.failure_messages().empty()) << c.name;
}

INSTANTIATE_TEST_SUITE_P(
    Rules, FinalAtOnceTest,
    ::testing::Values(
        // DLT does not retry in development mode.
        FinalCase{"development", sim::Behavior::kFailOnceThenRetry, true, false,
                  "RECOVERING", "RECOVERING"},
        // Nor a validate_only update.
        FinalCase{"validate_only", sim::Behavior::kFailOnceThenRetry, false,
                  true, "RECOVERING", "RECOVERING"},
        // Nor a fatal failure (its ERROR events say fatal).
        FinalCase{"fatal", sim::Behavior::kFail, false, false, "RECOVERING",
                  "RECOVERING"},
        // A non-fatal failure of a pipeline that went idle.
        FinalCase{"idle", sim::Behavior::kFailRetried, false, false, "IDLE",
                  "RECOVERING"},
        // A non-fatal failure whose pipeline went to FAILED.
        FinalCase{"pipeline_failed", sim::Behavior::kFailRetried, false, false,
                  "FAILED", "RECOVERING"}),
    [](const ::testing::TestParamInfo<FinalCase>& info) {
      return std::string(info.param.name);
    });

// The pipeline shows DELETED in the gap: final, today's API (the retired
// guide's request says ACTIVE whatever the pipeline's state).
TEST_F(DltRetryTest, PipelineDeletedInTheGapIsFinal) {
  RetrySetup setup;
  setup.gap_state = "DELETED";
  setup.legacy = false;
  Begin(setup);
  const v1::StartUpdateResponse started =
      Start(Pipeline(sim::Behavior::kFailOnceThenRetry));
  v1::UpdateStatus s = UntilFirstFailure(started.run_id());
  EXPECT_TRUE(s.terminal());
  EXPECT_EQ(s.status(), v1::RUN_STATUS_FAILED);
}

// No retry within the window (here 3 minutes; DLT would take 10): Failed,
// final, with a hint saying so. Today's API (a legacy request's ACTIVE is
// Databricks' own word and is not timed out).
TEST_F(DltRetryTest, WindowRunningOutEndsTheRunFailedWithAHint) {
  RetrySetup setup;
  setup.retry_delay = absl::Minutes(10);
  setup.retry_window = "180s";
  setup.legacy = false;
  Begin(setup);
  const v1::StartUpdateResponse started =
      Start(Pipeline(sim::Behavior::kFailOnceThenRetry));
  v1::UpdateStatus s = UntilFirstFailure(started.run_id());
  ASSERT_TRUE(s.retry().retrying());
  Advance(absl::Minutes(2));
  s = MustStatus(started.run_id());
  EXPECT_TRUE(s.retry().retrying()) << "the window ended early";
  Advance(absl::Minutes(1) + absl::Seconds(5));
  s = MustStatus(started.run_id());
  EXPECT_TRUE(s.terminal());
  EXPECT_EQ(s.status(), v1::RUN_STATUS_FAILED);
  EXPECT_FALSE(s.retry().retrying());
  EXPECT_THAT(s.hint(), HasSubstr("no retry by DLT appeared within 3m"));
  EXPECT_FALSE(s.failure_messages().empty());
  // DLT's retry comes at 10 minutes, too late: once the terminal cache
  // (10 minutes) has passed, the run still reads what it was reported.
  Advance(absl::Minutes(20));
  EXPECT_EQ(sim_->UpdatesCreated(), 2) << "the late retry did not run";
  s = MustStatus(started.run_id());
  EXPECT_TRUE(s.terminal());
  EXPECT_EQ(s.status(), v1::RUN_STATUS_FAILED);
  EXPECT_THAT(s.hint(), HasSubstr("is not followed"));
}

// A newer update that DLT did not start for the run (another caller's
// start, cause API_CALL) makes the failure final. Today's API (the retired
// guide's request is TERMINATED here already).
TEST_F(DltRetryTest, FailureFollowedByAnotherCallersStartIsFinal) {
  RetrySetup setup;
  setup.after_failure_state = "RECOVERING";  // the state alone: pending
  setup.legacy = false;
  Begin(setup);
  const std::string pipeline = Pipeline(sim::Behavior::kFailRetried);
  const v1::StartUpdateResponse first = Start(pipeline);
  // Attempts retry twice; wait for the chain to end (3 failed updates).
  v1::UpdateStatus s;
  for (int i = 0; i < 400; ++i) {
    Advance(absl::Seconds(2));
    if (sim_->UpdatesCreated(pipeline) == 3) {
      s = MustStatus(first.run_id());
      if (s.dlt_state() == "FAILED" && s.retry().attempts() == 3) break;
    }
  }
  ASSERT_EQ(s.retry().attempts(), 3);
  EXPECT_TRUE(s.retry().retrying())
      << "RECOVERING, not fatal, within the window: pending";
  ASSERT_TRUE(sim_->SetBehavior(pipeline, sim::Behavior::kSucceed).ok());
  const v1::StartUpdateResponse second = Start(pipeline);
  s = MustStatus(first.run_id());
  EXPECT_TRUE(s.terminal());
  EXPECT_EQ(s.status(), v1::RUN_STATUS_FAILED);
  EXPECT_FALSE(s.retry().retrying());
  EXPECT_NE(s.retry().retry_update_id(), second.update_id());
}

// Stop during the gap: the stop is sent, a retry that appears is stopped in
// turn, and the run reads Cancelled, whether or not the stop cancels the
// pending retry in Databricks (unverified, so both).
class StopInTheGapTest : public DltRetryTest,
                         public ::testing::WithParamInterface<bool> {};

TEST_P(StopInTheGapTest, RunReadsCancelled) {
  RetrySetup setup;
  setup.retry_delay = absl::Minutes(2);
  setup.stop_cancels_pending_retry = GetParam();
  Begin(setup);
  const std::string pipeline = Pipeline(sim::Behavior::kFailOnceThenRetry);
  const v1::StartUpdateResponse started = Start(pipeline);
  v1::UpdateStatus s = UntilFirstFailure(started.run_id());
  ASSERT_TRUE(s.retry().retrying());
  const int64_t stops_before = sim_->RequestCount("pipelines.stop");

  h_->StartTicking(absl::Seconds(1));
  v1::StopUpdateRequest request;
  request.set_run_id(started.run_id());
  grpc::ClientContext context;
  polysync::testing::SetDeadlineIn(context, absl::Seconds(60));
  v1::StopUpdateResponse stopped;
  grpc::Status status = stub_->StopUpdate(&context, request, &stopped);
  ASSERT_TRUE(status.ok()) << status.error_message();
  EXPECT_TRUE(stopped.stop_sent());
  for (int i = 0; i < 500 && !s.terminal(); ++i) {
    absl::SleepFor(absl::Milliseconds(10));
    s = MustStatus(started.run_id());
  }
  h_->StopTicking();
  const int64_t stops = sim_->RequestCount("pipelines.stop") - stops_before;
  EXPECT_TRUE(s.terminal());
  EXPECT_EQ(s.status(), v1::RUN_STATUS_CANCELLED) << s.ShortDebugString();
  EXPECT_GE(stops, GetParam() ? 1 : 2) << "the retry was not stopped";
  EXPECT_LE(stops, 3);
  // No update of the pipeline runs any more.
  EXPECT_LE(sim_->UpdatesCreated(pipeline), 2);
  // Past the terminal cache (10 minutes): read again, still Cancelled.
  Advance(absl::Minutes(11));
  EXPECT_EQ(MustStatus(started.run_id()).status(), v1::RUN_STATUS_CANCELLED);
}

INSTANTIATE_TEST_SUITE_P(StopCancelsPendingRetry, StopInTheGapTest,
                         ::testing::Bool());

// Today's API: the pipeline cannot be read while the update is FAILED:
// UNAVAILABLE, never a final Failed; once readable, the run goes on.
TEST_F(DltRetryTest, UnreadablePipelineIsUnavailableNotAFinalFailure) {
  RetrySetup setup;
  setup.legacy = false;
  Begin(setup);
  const v1::StartUpdateResponse started =
      Start(Pipeline(sim::Behavior::kFailOnceThenRetry));
  sim::FaultRule down;
  down.endpoint = "pipelines.get";
  down.kind = sim::FaultKind::kHttpError;
  down.status = 503;
  down.count = -1;
  sim_->InjectFault(down);
  grpc::Status status;
  for (int i = 0; i < 120; ++i) {
    Advance(absl::Seconds(1));
    v1::UpdateStatus s = Status(started.run_id(), &status);
    if (!status.ok()) break;
    ASSERT_NE(s.status(), v1::RUN_STATUS_FAILED);
  }
  EXPECT_EQ(status.error_code(), grpc::StatusCode::UNAVAILABLE);
  EXPECT_THAT(status.error_message(), HasSubstr("whether DLT retries"));
  sim_->ClearFaults();
  v1::UpdateStatus s = MustStatus(started.run_id());
  EXPECT_TRUE(s.retry().retrying());
}

// The retired guide's workspace whose requests endpoint answers 404 or 400:
// the rule of today's API takes over for the whole workspace (the endpoint
// is not asked again, for this run or another), and the caller never sees
// an error or a final Failed for it.
class RequestsEndpointGoneTest
    : public DltRetryTest,
      public ::testing::WithParamInterface<std::pair<int, const char*>> {
 protected:
  // A legacy workspace whose requests endpoint always answers the
  // parameter's status and error code.
  void BeginWithEndpointGone() {
    RetrySetup setup;
    setup.legacy = true;
    Begin(setup);
    sim::FaultRule gone;
    gone.endpoint = "requests.get";
    gone.kind = sim::FaultKind::kHttpError;
    gone.status = GetParam().first;
    gone.error_code = GetParam().second;
    gone.message = "no such endpoint";
    gone.count = -1;
    sim_->InjectFault(gone);
  }
};

TEST_P(RequestsEndpointGoneTest, WorkspaceSwitchesToLatestUpdates) {
  BeginWithEndpointGone();
  const std::string pipeline = Pipeline(sim::Behavior::kFailOnceThenRetry);
  const v1::StartUpdateResponse started = Start(pipeline);
  ASSERT_FALSE(started.request_id().empty()) << "not the legacy shape";
  v1::UpdateStatus s;
  bool pending = false;
  for (int i = 0; i < 200; ++i) {
    Advance(absl::Seconds(2));
    grpc::Status status;
    s = Status(started.run_id(), &status);
    ASSERT_TRUE(status.ok()) << status.error_message();
    ASSERT_NE(s.status(), v1::RUN_STATUS_FAILED);
    pending = pending || s.retry().retrying();
    if (s.terminal()) break;
  }
  EXPECT_TRUE(pending);
  EXPECT_EQ(s.status(), v1::RUN_STATUS_SUCCESS);
  EXPECT_EQ(s.retry().attempts(), 2);
  EXPECT_EQ(sim_->RequestCount("requests.get"), 1)
      << "the endpoint was asked again after its " << GetParam().first;

  // Another failed run in the same workspace: the endpoint is not asked.
  const v1::StartUpdateResponse again = Start(pipeline);
  for (int i = 0; i < 200 && !s.retry().retrying(); ++i) {
    Advance(absl::Seconds(1));
    s = MustStatus(again.run_id());
  }
  EXPECT_TRUE(s.retry().retrying());
  EXPECT_EQ(sim_->RequestCount("requests.get"), 1);
}

TEST_P(RequestsEndpointGoneTest, WatchFollowsTheRetryAcrossTheSwitch) {
  BeginWithEndpointGone();
  const v1::StartUpdateResponse started =
      Start(Pipeline(sim::Behavior::kFailOnceThenRetry));
  const v1::UpdateStatus s = WatchToEnd(
      started.run_id(), absl::StrCat("a watch streamed Failed after the "
                                     "endpoint's ",
                                     GetParam().first));
  EXPECT_TRUE(s.terminal());
  EXPECT_EQ(s.status(), v1::RUN_STATUS_SUCCESS);
  EXPECT_EQ(s.retry().attempts(), 2);
  EXPECT_EQ(sim_->RequestCount("requests.get"), 1);
}

INSTANTIATE_TEST_SUITE_P(
    Answers, RequestsEndpointGoneTest,
    ::testing::Values(std::make_pair(404, "ENDPOINT_NOT_FOUND"),
                      std::make_pair(404, "RESOURCE_DOES_NOT_EXIST"),
                      std::make_pair(400, "INVALID_PARAMETER_VALUE")),
    [](const ::testing::TestParamInfo<std::pair<int, const char*>>& info) {
      return absl::StrCat(info.param.first, "_", info.param.second);
    });

}  // namespace
}  // namespace polysync
