// StartUpdate with IF_RUNNING_RESTART: the stop, the wait for the pipeline's
// state to be IDLE (as the SDKs' stop-and-wait and the Databricks CLI's
// restart wait), DLT's retry of the stopped update (stopped in turn),
// someone else's update (FAILED_PRECONDITION naming it, nothing started),
// and restart_timeout. The simulator's clock is moved by the tests only.
#include <gmock/gmock.h>
#include <grpcpp/grpcpp.h>
#include <gtest/gtest.h>

#include <atomic>
#include <functional>
#include <memory>
#include <string>
#include <thread>

#include "absl/time/clock.h"
#include "absl/time/time.h"
#include "adapters/databricks/simulator/simulator.h"
#include "adapters/databricks/simulator/test_client.h"
#include "polysync/databricks/v1/pipelines.grpc.pb.h"
#include "tests/testing/rpc_helpers.h"
#include "tests/testing/service_harness.h"

namespace polysync {
namespace {

namespace v1 = ::polysync::databricks::v1;
namespace sim = ::polysync::databricks::sim;
using ::testing::HasSubstr;
using ::testing::Not;

// Lifecycle (simulated): QUEUED 1 s, CREATED 1 s, WAITING_FOR_RESOURCES 5 s,
// INITIALIZING 3 s, SETTING_UP_TABLES 3 s, RUNNING 10 s, STOPPING 2 s.
constexpr absl::Duration kToRunning = absl::Seconds(13);
constexpr absl::Duration kRunning = absl::Seconds(10);
constexpr absl::Duration kStopping = absl::Seconds(2);

class RestartTest : public ::testing::Test {
 protected:
  // `restart_poll`: the service's interval between reads while it waits.
  void Make(
      absl::Duration restart_poll,
      std::function<void(sim::SimulatorOptions&)> configure_simulator = nullptr,
      std::string extra_config = "") {
    polysync::testing::HarnessOptions o;
    o.extra = std::move(extra_config);
    o.configure_simulator = std::move(configure_simulator);
    o.configure_backend = [restart_poll](server::BackendOptions& b) {
      b.job_type.start_stop.restart_poll = restart_poll;
    };
    h_ = std::make_unique<polysync::testing::Harness>(std::move(o));
    stub_ = polysync::testing::NewPipelinesStub(h_->target());
  }

  grpc::Status Start(const std::string& pipeline_id, v1::IfRunning if_running,
                     v1::StartUpdateResponse* response,
                     absl::Duration deadline = absl::Seconds(20)) {
    v1::StartUpdateRequest request =
        polysync::testing::StartRequest(pipeline_id);
    request.set_if_running(if_running);
    return polysync::testing::StartUpdate(*stub_, request, response, deadline);
  }

  v1::StartUpdateResponse MustStart(const std::string& pipeline_id) {
    v1::StartUpdateResponse r;
    grpc::Status status = Start(pipeline_id, v1::IF_RUNNING_FAIL, &r);
    EXPECT_TRUE(status.ok()) << status.error_message();
    return r;
  }

  // The restart, on its own thread (the test moves the clock meanwhile).
  void StartRestart(const std::string& pipeline_id) {
    restart_ = std::thread([this, pipeline_id] {
      restart_status_ =
          Start(pipeline_id, v1::IF_RUNNING_RESTART, &restart_response_);
      restart_done_ = true;
    });
  }
  void JoinRestart() {
    if (restart_.joinable()) restart_.join();
  }
  void TearDown() override { JoinRestart(); }

  v1::RunStatus StatusOf(const std::string& run_id) {
    return polysync::testing::MustGetUpdateStatus(*stub_, run_id,
                                                  absl::Seconds(10))
        .status();
  }

  // Waits (real time) until `done` holds; false after `limit`.
  static bool WaitFor(const std::function<bool()>& done,
                      absl::Duration limit = absl::Seconds(20)) {
    return polysync::testing::WaitFor(done, limit, absl::Milliseconds(2));
  }

  void Advance(absl::Duration d) {
    ASSERT_TRUE(h_->sim().AdvanceClock(d).ok());
  }
  int64_t Stops() { return h_->sim().RequestCount("pipelines.stop"); }
  int64_t Posts() { return h_->sim().RequestCount("updates.start"); }
  int64_t Gets() { return h_->sim().RequestCount("pipelines.get"); }

  // The pipeline's updates as the simulator lists them, newest first.
  nlohmann::json Updates(const std::string& pipeline_id) {
    sim::testing::TestClient client(h_->sim().base_url(),
                                    h_->sim().access_token());
    auto r = client.Get("/api/2.0/pipelines/" + pipeline_id + "/updates");
    EXPECT_EQ(r.status, 200) << r.body;
    nlohmann::json body = r.json();
    return body.contains("updates") ? body["updates"] : nlohmann::json::array();
  }

  std::unique_ptr<polysync::testing::Harness> h_;
  std::unique_ptr<v1::DatabricksPipelines::Stub> stub_;
  std::thread restart_;
  std::atomic<bool> restart_done_{false};
  grpc::Status restart_status_;
  v1::StartUpdateResponse restart_response_;
};

// Another caller's update becomes active after the stop: the restart does
// not wait for it, stop it or start anything; it names it.
TEST_F(RestartTest, AnotherCallersUpdateAfterTheStopIsNamedAndLeftAlone) {
  // Reads 1.5 s apart: after the first one (right after the stop) the test
  // has time to end the stopped update and start another one.
  Make(absl::Milliseconds(1500));
  const std::string id = h_->CreatePipeline("orders");
  v1::StartUpdateResponse first = MustStart(id);
  const int64_t gets = Gets();
  StartRestart(id);
  // The start's snapshot, the look-up of the active update, the first read.
  ASSERT_TRUE(WaitFor([&] { return Stops() == 1 && Gets() == gets + 3; }));
  absl::SleepFor(absl::Milliseconds(100));
  Advance(kStopping);  // the stopped update is CANCELED; the pipeline IDLE
  v1::StartUpdateResponse other = MustStart(id);  // someone else's start
  ASSERT_FALSE(other.run_id().empty());
  ASSERT_FALSE(restart_done_) << "the test was too slow for its window";
  JoinRestart();

  EXPECT_EQ(restart_status_.error_code(), grpc::StatusCode::FAILED_PRECONDITION)
      << restart_status_.error_message();
  EXPECT_THAT(restart_status_.error_message(), HasSubstr(other.run_id()));
  EXPECT_THAT(restart_status_.error_message(),
              HasSubstr("no new update was started"));
  EXPECT_EQ(Stops(), 1);
  // The first start, the restart's refused one, the other caller's.
  EXPECT_EQ(Posts(), 3);
  EXPECT_EQ(h_->sim().UpdatesCreated(id), 2);
  EXPECT_EQ(StatusOf(first.run_id()), v1::RUN_STATUS_CANCELLED);
  nlohmann::json updates = Updates(id);  // newest first: not stopped
  ASSERT_EQ(updates.size(), 2u);
  EXPECT_EQ(id + ":" + updates[0]["update_id"].get<std::string>(),
            other.run_id());
  EXPECT_EQ(updates[0]["state"], "QUEUED");
}

// The update to restart fails just as it is stopped (the stop lands in DLT's
// retry gap, a no-op); DLT then retries it. The retry is stopped too, and
// one new update is started. `retry_gap_state` is the pipeline's state in
// the gap (unverified): not idle, or IDLE while a start is still refused.
class RestartRetryTest : public RestartTest,
                         public ::testing::WithParamInterface<const char*> {
 protected:
  void MakeWithRetryGap(const std::string& gap_state) {
    Make(absl::Milliseconds(50), [gap_state](sim::SimulatorOptions& o) {
      o.workspace.retry_delay = absl::Seconds(30);
      o.workspace.retry_gap_state = gap_state;
    });
  }

  // Starts an update of `id` and restarts it; the update fails while the
  // restart looks up the active update (that answer is held 1.5 s), so the
  // stop finds DLT's retry gap.
  v1::StartUpdateResponse RestartAsTheUpdateFails(const std::string& id) {
    v1::StartUpdateResponse first = MustStart(id);
    Advance(kToRunning + kRunning - absl::Seconds(2));
    sim::FaultRule held;
    held.endpoint = "pipelines.get";
    held.kind = sim::FaultKind::kLatency;
    held.latency = absl::Milliseconds(1500);
    held.skip = 1;  // the start's snapshot
    held.count = 1;
    h_->sim().InjectFault(held);
    const int64_t gets = Gets();
    StartRestart(id);
    EXPECT_TRUE(WaitFor([&] { return Gets() == gets + 2; }));
    absl::SleepFor(absl::Milliseconds(100));  // read while RUNNING
    Advance(absl::Seconds(3));                // FAILED; DLT's retry is due
    return first;
  }
};

TEST_P(RestartRetryTest, DltsRetryOfTheStoppedUpdateIsStoppedToo) {
  MakeWithRetryGap(GetParam());
  const std::string id =
      h_->CreatePipeline("flaky", sim::Behavior::kFailOnceThenRetry);
  v1::StartUpdateResponse first = RestartAsTheUpdateFails(id);
  ASSERT_TRUE(WaitFor([&] { return Stops() == 1; }));
  absl::SleepFor(absl::Milliseconds(300));  // the restart waits in the gap
  EXPECT_FALSE(restart_done_);
  EXPECT_EQ(h_->sim().UpdatesCreated(id), 1);
  Advance(absl::Seconds(30));  // DLT's retry starts
  ASSERT_TRUE(WaitFor([&] { return Stops() == 2 || restart_done_; }));
  Advance(kStopping);  // the retry is CANCELED; the pipeline IDLE
  JoinRestart();

  ASSERT_TRUE(restart_status_.ok()) << restart_status_.error_message();
  EXPECT_EQ(restart_response_.stopped_run_id(), first.run_id());
  EXPECT_EQ(Stops(), 2);
  EXPECT_EQ(h_->sim().UpdatesCreated(id), 3);
  nlohmann::json updates = Updates(id);  // newest first
  ASSERT_EQ(updates.size(), 3u);
  EXPECT_EQ(id + ":" + updates[0]["update_id"].get<std::string>(),
            restart_response_.run_id());
  EXPECT_EQ(updates[0]["cause"], "API_CALL");
  EXPECT_EQ(updates[1]["cause"], "RETRY_ON_FAILURE");
  EXPECT_EQ(updates[1]["state"], "CANCELED");
  EXPECT_EQ(updates[2]["state"], "FAILED");
}

INSTANTIATE_TEST_SUITE_P(GapStates, RestartRetryTest,
                         ::testing::Values("RECOVERING", "IDLE"));

// A FAILED pipeline ends the wait, as it ends the SDKs' wait for IDLE:
// nothing is started.
class RestartFailedPipelineTest : public RestartRetryTest {};

TEST_F(RestartFailedPipelineTest, AFailedPipelineEndsTheWait) {
  MakeWithRetryGap("FAILED");
  const std::string id =
      h_->CreatePipeline("flaky", sim::Behavior::kFailOnceThenRetry);
  RestartAsTheUpdateFails(id);
  JoinRestart();
  EXPECT_EQ(restart_status_.error_code(), grpc::StatusCode::FAILED_PRECONDITION)
      << restart_status_.error_message();
  EXPECT_THAT(restart_status_.error_message(), HasSubstr("FAILED"));
  EXPECT_THAT(restart_status_.error_message(),
              HasSubstr("no new update was started"));
  EXPECT_EQ(h_->sim().UpdatesCreated(id), 1);
}

// The stopped update is CANCELED before the pipeline is IDLE (its state
// lags): the new start is sent only once the state is IDLE.
TEST_F(RestartTest, TheNewStartWaitsForThePipelineToBeIdle) {
  Make(absl::Milliseconds(10), [](sim::SimulatorOptions& o) {
    o.workspace.idle_lag_after_stop = absl::Seconds(30);
  });
  const std::string id = h_->CreatePipeline("orders");
  v1::StartUpdateResponse first = MustStart(id);
  StartRestart(id);
  ASSERT_TRUE(WaitFor([&] { return Stops() == 1; }));
  absl::SleepFor(absl::Milliseconds(100));
  Advance(kStopping);  // CANCELED, the pipeline still STOPPING
  EXPECT_EQ(StatusOf(first.run_id()), v1::RUN_STATUS_CANCELLED);
  const int64_t posts = Posts();
  absl::SleepFor(absl::Milliseconds(400));  // dozens of reads
  EXPECT_EQ(Posts(), posts) << "a start was sent before the pipeline was IDLE";
  EXPECT_FALSE(restart_done_);
  Advance(absl::Seconds(30));  // IDLE
  JoinRestart();

  ASSERT_TRUE(restart_status_.ok()) << restart_status_.error_message();
  EXPECT_EQ(restart_response_.stopped_run_id(), first.run_id());
  EXPECT_NE(restart_response_.run_id(), first.run_id());
  EXPECT_EQ(Posts(), posts + 1);
  EXPECT_EQ(h_->sim().UpdatesCreated(id), 2);
}

// restart_timeout (from the configuration file) ends the wait well before
// the caller's deadline: DEADLINE_EXCEEDED saying which limit, nothing new.
TEST_F(RestartTest, RestartTimeoutEndsTheWait) {
  Make(absl::Milliseconds(10), nullptr, R"(, "restart_timeout": "1s")");
  const std::string id = h_->CreatePipeline("orders");
  v1::StartUpdateResponse first = MustStart(id);
  const absl::Time t0 = absl::Now();
  v1::StartUpdateResponse r;
  // The clock stands still: the stopped update stays STOPPING.
  grpc::Status status =
      Start(id, v1::IF_RUNNING_RESTART, &r, absl::Seconds(20));
  const absl::Duration took = absl::Now() - t0;
  EXPECT_EQ(status.error_code(), grpc::StatusCode::DEADLINE_EXCEEDED)
      << status.error_message();
  EXPECT_THAT(status.error_message(), HasSubstr("restart_timeout 1s"));
  EXPECT_THAT(status.error_message(), HasSubstr("the pipeline is STOPPING"));
  EXPECT_THAT(status.error_message(), HasSubstr("no new update was started"));
  EXPECT_THAT(status.error_message(), Not(HasSubstr("caller's deadline")));
  // It gives up when the next read (10 ms later) would be past the limit.
  EXPECT_GE(took, absl::Milliseconds(900));
  EXPECT_LT(took, absl::Seconds(10));
  EXPECT_EQ(Stops(), 1);
  EXPECT_EQ(h_->sim().UpdatesCreated(id), 1);
}

}  // namespace
}  // namespace polysync
