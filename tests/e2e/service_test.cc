// End to end: the simulated workspace and the server on port 0, driven
// through the generated gRPC client, as Polysync's backend calls it.
#include <gmock/gmock.h>
#include <grpcpp/grpcpp.h>
#include <gtest/gtest.h>

#include <atomic>
#include <map>
#include <set>
#include <thread>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
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
using ::testing::ElementsAre;
using ::testing::HasSubstr;

class ServiceTest : public ::testing::Test {
 protected:
  void SetUp() override {
    // The shared harness: the simulator on a manual clock, a backend tuned
    // for tests (no status cache, fast watches and backoff, no request
    // limit to speak of), a server on a free port.
    polysync::testing::HarnessOptions options;
    options.extra = ExtraConfig();
    options.workspace_extra = WorkspaceConfig();
    options.configure_simulator = [this](sim::SimulatorOptions& o) {
      ConfigureSimulator(o);
    };
    options.configure_backend = [this](server::BackendOptions& o) {
      ConfigureBackend(o);
    };
    h_ = std::make_unique<polysync::testing::Harness>(std::move(options));
    sim_ = &h_->sim();
    backend_ = &h_->backend();
    stub_ = polysync::testing::NewPipelinesStub(h_->target());
  }

  // More configuration keys: top-level, and of the workspace profile.
  virtual std::string ExtraConfig() { return ""; }
  virtual std::string WorkspaceConfig() { return ""; }
  virtual void ConfigureSimulator(sim::SimulatorOptions&) {}
  virtual void ConfigureBackend(server::BackendOptions&) {}

  void TearDown() override {
    StopTicking();
    stub_.reset();
    h_.reset();
  }

  std::string CreatePipeline(const std::string& name,
                             sim::Behavior behavior = sim::Behavior::kSucceed,
                             bool continuous = false) {
    auto id = sim_->CreatePipeline(
        {{"name", name},
         {"continuous", continuous},
         {"configuration", {{"spark.sql.shuffle.partitions", "4"}}}},
        behavior);
    EXPECT_TRUE(id.ok()) << id.status();
    return id.ok() ? *id : "";
  }

  static void Deadline(grpc::ClientContext& context, int seconds = 30) {
    polysync::testing::SetDeadlineIn(context, absl::Seconds(seconds));
  }

  grpc::Status Start(const v1::StartUpdateRequest& request,
                     v1::StartUpdateResponse* response) {
    return polysync::testing::StartUpdate(*stub_, request, response);
  }

  v1::StartUpdateResponse MustStart(const std::string& pipeline_id,
                                    bool full_refresh = false) {
    v1::StartUpdateRequest request =
        polysync::testing::StartRequest(pipeline_id);
    polysync::testing::AddFullRefresh(request, full_refresh ? "True" : "false");
    return polysync::testing::MustStartUpdate(*stub_, request);
  }

  v1::UpdateStatus Status(const std::string& run_id,
                          grpc::Status* out = nullptr) {
    return out != nullptr
               ? polysync::testing::GetUpdateStatus(*stub_, run_id, out)
               : polysync::testing::MustGetUpdateStatus(*stub_, run_id);
  }

  grpc::Status Stop(const std::string& run_id, v1::StopUpdateResponse* r) {
    v1::StopUpdateRequest request;
    request.set_run_id(run_id);
    grpc::ClientContext context;
    Deadline(context);
    return stub_->StopUpdate(&context, request, r);
  }

  void Advance(absl::Duration d) { ASSERT_TRUE(sim_->AdvanceClock(d).ok()); }

  // Moves the simulator's clock forward in the background (for calls that
  // wait on the lifecycle: restart, watch).
  void StartTicking(absl::Duration step = absl::Seconds(1)) {
    h_->StartTicking(step);
  }
  void StopTicking() { h_->StopTicking(); }

  int64_t UpstreamRequests() { return h_->UpstreamRequests(); }

  std::unique_ptr<polysync::testing::Harness> h_;
  sim::Simulator* sim_ = nullptr;
  server::Backend* backend_ = nullptr;
  std::unique_ptr<v1::DatabricksPipelines::Stub> stub_;
};

TEST_F(ServiceTest, ImportsAThousandPipelinesWithExactParameters) {
  sim_->GeneratePipelines(1000);
  v1::ImportPipelinesRequest request;
  grpc::ClientContext context;
  Deadline(context, 120);
  auto reader = stub_->ImportPipelines(&context, request);
  v1::ImportPipelinesResponse batch;
  std::map<std::string, v1::ImportedJob> jobs;
  int batches = 0, errors = 0;
  while (reader->Read(&batch)) {
    ++batches;
    errors += batch.errors_size();
    for (const auto& job : batch.jobs()) jobs[job.external_id()] = job;
  }
  grpc::Status status = reader->Finish();
  ASSERT_TRUE(status.ok()) << status.error_message();
  EXPECT_EQ(jobs.size(), 1000u);
  EXPECT_EQ(errors, 0);
  EXPECT_GE(batches, 10);  // streamed in batches, not one message
  for (const auto& [id, job] : jobs) {
    int index = -1;
    char domain[32] = {0};
    ASSERT_EQ(std::sscanf(job.name().c_str(),
                          "Generated pipeline %d (%31[a-z])", &index, domain),
              2)
        << job.name();
    EXPECT_EQ(job.job_type(), "Databricks Pipeline");
    EXPECT_EQ(job.link(),
              absl::StrCat(sim_->base_url(), "/#joblist/pipelines/", id));
    EXPECT_EQ(job.workspace(), "test");
    std::vector<std::string> got;
    for (const auto& p : job.parameters()) {
      got.push_back(
          absl::StrCat(p.name(), "=", p.value(), p.forwarded() ? "*" : ""));
    }
    EXPECT_THAT(
        got,
        ElementsAre(
            "continuous=false",
            absl::StrCat("development=", index % 2 == 0 ? "true" : "false"),
            absl::StrCat("photon=", index % 3 == 0 ? "true" : "false"),
            absl::StrCat("custom.index=", index),
            "spark.sql.shuffle.partitions=8", "full_refresh=false*"))
        << job.name();
  }
  EXPECT_EQ(sim_->RequestCount("pipelines.get"), 1000);
  EXPECT_EQ(sim_->RequestCount("pipelines.list"), 10);
}

class LimitedWorkspaceServiceTest : public ServiceTest {
 protected:
  std::string WorkspaceConfig() override {
    return R"(, "limits": {"max_concurrent_requests": 8,
                           "requests_per_second": 100000})";
  }
  std::string ExtraConfig() override {
    return R"(, "status_cache_ttl": "30s")";
  }
};

// The workspace's configured limit is what the simulator sees, and an import
// uses all of it but the interactive share (2 of 8 slots): 5 detail fetches
// while the next page is listed.
TEST_F(LimitedWorkspaceServiceTest, ImportFillsTheWorkspaceLimitExactly) {
  sim_->GeneratePipelines(250);
  sim::FaultRule slow;
  slow.endpoint = "*";
  slow.kind = sim::FaultKind::kLatency;
  slow.latency = absl::Milliseconds(50);
  slow.count = -1;
  sim_->InjectFault(slow);
  sim_->ResetRequestCounts();
  grpc::ClientContext context;
  Deadline(context, 60);
  auto reader = stub_->ImportPipelines(&context, {});
  v1::ImportPipelinesResponse batch;
  std::set<std::string> ids;
  while (reader->Read(&batch)) {
    for (const auto& job : batch.jobs()) ids.insert(job.external_id());
  }
  ASSERT_TRUE(reader->Finish().ok());
  EXPECT_EQ(ids.size(), 250u);
  EXPECT_EQ(sim_->RequestCount("pipelines.list"), 3);
  EXPECT_EQ(sim_->PeakConcurrentRequests(), 6);
}

// status_cache_ttl from the configuration file: a second read within it is
// answered without asking Databricks.
TEST_F(LimitedWorkspaceServiceTest, StatusCacheTtlFromTheConfigurationFile) {
  const std::string id = CreatePipeline("orders");
  v1::StartUpdateResponse started = MustStart(id);
  const int64_t before = sim_->RequestCount("updates.get");
  EXPECT_EQ(Status(started.run_id()).dlt_state(), "QUEUED");
  EXPECT_EQ(Status(started.run_id()).dlt_state(), "QUEUED");
  EXPECT_EQ(sim_->RequestCount("updates.get") - before, 1);
  Advance(absl::Seconds(31));
  EXPECT_NE(Status(started.run_id()).dlt_state(), "QUEUED");
  EXPECT_EQ(sim_->RequestCount("updates.get") - before, 2);
}

TEST_F(ServiceTest, ImportFiltersByExactNameSubstringAndIds) {
  const std::string a = CreatePipeline("Sales 'EU' orders");
  const std::string b = CreatePipeline("sales US");
  const std::string c = CreatePipeline("Zürich Sales");
  v1::ImportPipelinesRequest request;
  request.set_name_filter("Sales");
  grpc::ClientContext context;
  Deadline(context);
  auto reader = stub_->ImportPipelines(&context, request);
  std::set<std::string> names;
  v1::ImportPipelinesResponse batch;
  while (reader->Read(&batch)) {
    for (const auto& job : batch.jobs()) names.insert(job.name());
  }
  ASSERT_TRUE(reader->Finish().ok());
  EXPECT_EQ(names,
            (std::set<std::string>{"Sales 'EU' orders", "Zürich Sales"}));

  v1::ImportPipelinesRequest by_id;
  by_id.add_pipeline_ids(b);
  by_id.add_pipeline_ids("00000000-0000-0000-0000-000000000000");
  grpc::ClientContext context2;
  Deadline(context2);
  auto reader2 = stub_->ImportPipelines(&context2, by_id);
  int jobs = 0, errors = 0;
  while (reader2->Read(&batch)) {
    jobs += batch.jobs_size();
    for (const auto& e : batch.errors()) {
      ++errors;
      EXPECT_EQ(e.code(), static_cast<int>(grpc::StatusCode::NOT_FOUND));
    }
  }
  ASSERT_TRUE(reader2->Finish().ok());
  EXPECT_EQ(jobs, 1);
  EXPECT_EQ(errors, 1);
  (void)a;
  (void)c;
}

TEST_F(ServiceTest, SyncParametersReimportsOnePipeline) {
  const std::string id = CreatePipeline("orders");
  v1::SyncParametersRequest request;
  request.set_pipeline_id(id);
  grpc::ClientContext context;
  Deadline(context);
  v1::SyncParametersResponse response;
  ASSERT_TRUE(stub_->SyncParameters(&context, request, &response).ok());
  EXPECT_EQ(response.job().external_id(), id);
  EXPECT_EQ(response.job().name(), "orders");
  ASSERT_GE(response.job().parameters_size(), 2);
  EXPECT_EQ(response.job().parameters(0).name(), "continuous");
}

TEST_F(ServiceTest, LifecycleToSuccessWithAndWithoutFullRefresh) {
  const std::string id = CreatePipeline("orders");
  v1::StartUpdateResponse started = MustStart(id, /*full_refresh=*/true);
  EXPECT_EQ(started.run_id(), absl::StrCat(id, ":", started.update_id()));
  EXPECT_EQ(started.link(),
            absl::StrCat(sim_->base_url(), "/#joblist/pipelines/", id));
  v1::UpdateStatus s = Status(started.run_id());
  EXPECT_EQ(s.status(), v1::RUN_STATUS_UNKNOWN);  // QUEUED: not in the table
  EXPECT_EQ(s.dlt_state(), "QUEUED");
  EXPECT_TRUE(s.full_refresh());
  EXPECT_FALSE(s.terminal());
  std::set<std::string> seen;
  for (int i = 0; i < 40 && !s.terminal(); ++i) {
    Advance(absl::Seconds(1));
    s = Status(started.run_id());
    seen.insert(s.dlt_state());
    if (s.dlt_state() == "RUNNING") {
      EXPECT_EQ(s.status(), v1::RUN_STATUS_RUNNING);
    }
  }
  EXPECT_EQ(s.status(), v1::RUN_STATUS_SUCCESS);
  EXPECT_EQ(s.dlt_state(), "COMPLETED");
  EXPECT_TRUE(s.terminal());
  EXPECT_TRUE(s.has_end_time());
  EXPECT_TRUE(seen.count("RESETTING"));  // a full refresh resets tables
  EXPECT_TRUE(seen.count("RUNNING"));

  v1::StartUpdateResponse second = MustStart(id, /*full_refresh=*/false);
  EXPECT_FALSE(Status(second.run_id()).full_refresh());
}

TEST_F(ServiceTest, FailingPipelineEndsFailedWithItsMessages) {
  const std::string id = CreatePipeline("broken", sim::Behavior::kFail);
  v1::StartUpdateResponse started = MustStart(id);
  Advance(absl::Minutes(5));
  v1::UpdateStatus s = Status(started.run_id());
  EXPECT_EQ(s.status(), v1::RUN_STATUS_FAILED);
  EXPECT_EQ(s.dlt_state(), "FAILED");
  EXPECT_TRUE(s.terminal());
  ASSERT_FALSE(s.failure_messages().empty());
  // The flow's and the update's ERROR events carry the same exception: it
  // is listed once.
  EXPECT_EQ(s.failure_messages().size(), 3) << s.ShortDebugString();
  const std::set<std::string> distinct(s.failure_messages().begin(),
                                       s.failure_messages().end());
  EXPECT_EQ(distinct.size(), s.failure_messages().size());
  EXPECT_EQ(s.retry().attempts(), 1);
  // Read from GET .../requests/{id}: the legacy API's only, else empty.
  EXPECT_EQ(s.retry().request_status(),
            polysync::testing::LegacySimulatorApi() ? "TERMINATED" : "");
  EXPECT_FALSE(s.retry().retrying());
}

TEST_F(ServiceTest, RetriedFailureIsFollowedToSuccess) {
  const std::string id =
      CreatePipeline("flaky", sim::Behavior::kFailOnceThenRetry);
  v1::StartUpdateResponse started = MustStart(id);
  v1::UpdateStatus s;
  for (int i = 0; i < 120; ++i) {
    Advance(absl::Seconds(1));
    s = Status(started.run_id());
    EXPECT_NE(s.status(), v1::RUN_STATUS_FAILED)
        << "reported Failed while DLT was retrying";
    if (s.retry().retrying()) {
      EXPECT_EQ(s.status(), v1::RUN_STATUS_RUNNING);
      EXPECT_FALSE(s.terminal());
      EXPECT_EQ(s.dlt_state(), "FAILED");
    }
    if (s.terminal()) break;
  }
  // DLT retries at once here (no gap: dlt_retry_test has the gap).
  EXPECT_EQ(s.retry().attempts(), 2);
  EXPECT_EQ(s.status(), v1::RUN_STATUS_SUCCESS);
  EXPECT_EQ(s.dlt_state(), "COMPLETED");
  EXPECT_FALSE(s.retry().retry_update_id().empty());
  EXPECT_NE(s.retry().retry_update_id(), started.update_id());
  EXPECT_EQ(s.run_id(), started.run_id());
}

TEST_F(ServiceTest, StopCancelsTheRunAndStopOfAnEndedRunSendsNothing) {
  const std::string id = CreatePipeline("orders");
  v1::StartUpdateResponse started = MustStart(id);
  Advance(absl::Seconds(3));
  v1::StopUpdateResponse stopped;
  ASSERT_TRUE(Stop(started.run_id(), &stopped).ok());
  EXPECT_TRUE(stopped.stop_sent());
  Advance(absl::Minutes(1));
  v1::UpdateStatus s = Status(started.run_id());
  EXPECT_EQ(s.status(), v1::RUN_STATUS_CANCELLED);
  EXPECT_EQ(s.dlt_state(), "CANCELED");

  const int64_t stops = sim_->RequestCount("pipelines.stop");
  v1::StopUpdateResponse again;
  ASSERT_TRUE(Stop(started.run_id(), &again).ok());
  EXPECT_FALSE(again.stop_sent());
  EXPECT_EQ(again.status().status(), v1::RUN_STATUS_CANCELLED);
  EXPECT_EQ(sim_->RequestCount("pipelines.stop"), stops);
}

TEST_F(ServiceTest, StopOfAnEndedRunNeverStopsTheNextRun) {
  const std::string id = CreatePipeline("orders");
  v1::StartUpdateResponse first = MustStart(id);
  Advance(absl::Minutes(1));  // first completes
  v1::StartUpdateResponse second = MustStart(id);
  // `first` ended; a stop for it must not stop `second`.
  v1::StopUpdateResponse r;
  ASSERT_TRUE(Stop(first.run_id(), &r).ok());
  EXPECT_FALSE(r.stop_sent());
  EXPECT_EQ(Status(second.run_id()).status(), v1::RUN_STATUS_UNKNOWN);
  EXPECT_EQ(sim_->RequestCount("pipelines.stop"), 0);
}

TEST_F(ServiceTest, StartWhileAnotherUpdateRunsFailsAttachesOrRestarts) {
  const std::string id = CreatePipeline("orders");
  v1::StartUpdateResponse first = MustStart(id);

  v1::StartUpdateRequest request;
  request.set_pipeline_id(id);
  v1::StartUpdateResponse r;
  grpc::Status refused = Start(request, &r);
  EXPECT_EQ(refused.error_code(), grpc::StatusCode::FAILED_PRECONDITION);
  EXPECT_THAT(refused.error_message(), HasSubstr(first.run_id()));

  request.set_if_running(v1::IF_RUNNING_ATTACH);
  v1::StartUpdateResponse attached;
  ASSERT_TRUE(Start(request, &attached).ok());
  EXPECT_TRUE(attached.attached());
  EXPECT_EQ(attached.run_id(), first.run_id());
  EXPECT_EQ(sim_->UpdatesCreated(id), 1);

  request.set_if_running(v1::IF_RUNNING_RESTART);
  StartTicking();
  v1::StartUpdateResponse restarted;
  grpc::Status status = Start(request, &restarted);
  StopTicking();
  ASSERT_TRUE(status.ok()) << status.error_message();
  EXPECT_EQ(restarted.stopped_run_id(), first.run_id());
  EXPECT_NE(restarted.run_id(), first.run_id());
  EXPECT_EQ(Status(first.run_id()).status(), v1::RUN_STATUS_CANCELLED);
  EXPECT_EQ(sim_->UpdatesCreated(id), 2);
}

TEST_F(ServiceTest, SameIdempotencyKeyTwiceStartsOnce) {
  const std::string id = CreatePipeline("orders");
  v1::StartUpdateRequest request;
  request.set_pipeline_id(id);
  request.set_idempotency_key("polysync-run-42");
  v1::StartUpdateResponse first, second;
  ASSERT_TRUE(Start(request, &first).ok());
  ASSERT_TRUE(Start(request, &second).ok());
  EXPECT_EQ(first.run_id(), second.run_id());
  EXPECT_FALSE(first.replayed());
  EXPECT_TRUE(second.replayed());
  EXPECT_EQ(sim_->UpdatesCreated(id), 1);

  request.set_validate_only(true);  // same key, different request
  v1::StartUpdateResponse third;
  EXPECT_EQ(Start(request, &third).error_code(),
            grpc::StatusCode::INVALID_ARGUMENT);
}

// The answer says how long and where the key is remembered: for the window,
// in this replica's memory (so a restart forgets it); nothing without a key.
TEST_F(ServiceTest, StartSaysHowLongAndWhereTheKeyIsRemembered) {
  const std::string id = CreatePipeline("orders");
  v1::StartUpdateRequest request;
  request.set_pipeline_id(id);
  request.set_idempotency_key("polysync-run-43");
  v1::StartUpdateResponse first, second;
  ASSERT_TRUE(Start(request, &first).ok());
  ASSERT_TRUE(first.has_idempotency_key_ttl());
  EXPECT_EQ(first.idempotency_key_ttl().seconds(), 3600);
  EXPECT_EQ(first.idempotency_key_store(),
            v1::IDEMPOTENCY_KEY_STORE_REPLICA_MEMORY);
  ASSERT_TRUE(Start(request, &second).ok());
  EXPECT_TRUE(second.replayed());
  EXPECT_EQ(second.idempotency_key_store(),
            v1::IDEMPOTENCY_KEY_STORE_REPLICA_MEMORY);
  EXPECT_GT(second.idempotency_key_ttl().seconds(), 3500);
  EXPECT_LE(second.idempotency_key_ttl().seconds(), 3600);

  Advance(absl::Hours(1));  // the first update ends
  v1::StartUpdateRequest unkeyed;
  unkeyed.set_pipeline_id(id);
  v1::StartUpdateResponse third;
  ASSERT_TRUE(Start(unkeyed, &third).ok());
  EXPECT_FALSE(third.has_idempotency_key_ttl());
  EXPECT_EQ(third.idempotency_key_store(),
            v1::IDEMPOTENCY_KEY_STORE_UNSPECIFIED);
}

class RestartWaitTest : public ServiceTest {
 protected:
  void ConfigureBackend(server::BackendOptions& o) override {
    o.job_type.start_stop.restart_poll = absl::Milliseconds(300);
  }
};

// IF_RUNNING_RESTART waits for the stopped update to end, but no poll goes
// out that cannot be answered before the caller's deadline: the caller gets
// the service's explanation in time, not a bare deadline with a poll still
// reaching Databricks.
TEST_F(RestartWaitTest, RestartWaitSendsNoPollItCannotFinishBeforeTheDeadline) {
  const std::string id = CreatePipeline("orders");
  MustStart(id);
  sim::FaultRule slow;
  slow.endpoint = "pipelines.get";
  slow.kind = sim::FaultKind::kLatency;
  slow.latency = absl::Milliseconds(100);
  slow.count = -1;
  sim_->InjectFault(slow);
  // The manual clock stands still: the stopped update stays STOPPING. The
  // start, its snapshot and the look-up of the active update take about
  // 0.2 s; polls could go out at about 0.2, 0.6 and 1.0 s, but the last
  // would be answered after the deadline.
  std::atomic<bool> sampling{true};
  std::atomic<int64_t> last_poll_ms{0};
  const absl::Time t0 = absl::Now();
  std::thread sampler([&] {
    int64_t seen = sim_->RequestCount("pipelines.get");
    while (sampling) {
      const int64_t count = sim_->RequestCount("pipelines.get");
      if (count != seen) {
        seen = count;
        last_poll_ms = absl::ToInt64Milliseconds(absl::Now() - t0);
      }
      absl::SleepFor(absl::Microseconds(200));
    }
  });
  v1::StartUpdateRequest request;
  request.set_pipeline_id(id);
  request.set_if_running(v1::IF_RUNNING_RESTART);
  grpc::ClientContext context;
  const absl::Duration deadline = absl::Milliseconds(1080);
  context.set_deadline(absl::ToChronoTime(t0 + deadline));
  v1::StartUpdateResponse r;
  grpc::Status status = stub_->StartUpdate(&context, request, &r);
  absl::SleepFor(absl::Milliseconds(500));
  sampling = false;
  sampler.join();
  EXPECT_EQ(status.error_code(), grpc::StatusCode::DEADLINE_EXCEEDED);
  EXPECT_THAT(status.error_message(), HasSubstr("no new update was started"));
  // The last poll left time for its 100 ms answer.
  EXPECT_LE(last_poll_ms.load(), absl::ToInt64Milliseconds(deadline) - 100);
  EXPECT_EQ(sim_->UpdatesCreated(id), 1);
}

TEST_F(ServiceTest, DuplicateKeyInFlightWaitsForTheFirstCall) {
  const std::string id = CreatePipeline("orders");
  sim::FaultRule slow;
  slow.endpoint = "updates.start";
  slow.kind = sim::FaultKind::kLatency;
  slow.latency = absl::Milliseconds(300);
  sim_->InjectFault(slow);
  v1::StartUpdateRequest request;
  request.set_pipeline_id(id);
  request.set_idempotency_key("run-7");
  v1::StartUpdateResponse a, b;
  grpc::Status sa, sb;
  std::thread first([&] { sa = Start(request, &a); });
  absl::SleepFor(absl::Milliseconds(100));
  sb = Start(request, &b);
  first.join();
  ASSERT_TRUE(sa.ok()) << sa.error_message();
  ASSERT_TRUE(sb.ok()) << sb.error_message();
  EXPECT_EQ(a.run_id(), b.run_id());
  EXPECT_EQ(sim_->UpdatesCreated(id), 1);
  EXPECT_EQ(sim_->RequestCount("updates.start"), 1);
}

TEST_F(ServiceTest, FailedStartFreesTheKeyForTheRetry) {
  const std::string id = CreatePipeline("orders");
  sim::FaultRule down;
  down.endpoint = "updates.start";
  down.kind = sim::FaultKind::kHttpError;
  down.status = 500;
  sim_->InjectFault(down);
  v1::StartUpdateRequest request;
  request.set_pipeline_id(id);
  request.set_idempotency_key("run-8");
  v1::StartUpdateResponse r;
  EXPECT_EQ(Start(request, &r).error_code(), grpc::StatusCode::UNAVAILABLE);
  grpc::Status retried = Start(request, &r);
  ASSERT_TRUE(retried.ok()) << retried.error_message();
  EXPECT_FALSE(r.replayed());
  EXPECT_EQ(sim_->UpdatesCreated(id), 1);
}

TEST_F(ServiceTest, WatchStreamsEveryChangeUntilTerminal) {
  const std::string id = CreatePipeline("orders");
  v1::StartUpdateResponse started = MustStart(id);
  v1::WatchUpdateRequest request;
  request.set_run_id(started.run_id());
  grpc::ClientContext context;
  Deadline(context, 60);
  auto reader = stub_->WatchUpdate(&context, request);
  StartTicking(absl::Milliseconds(500));
  std::vector<std::string> states;
  v1::UpdateStatus s;
  while (reader->Read(&s)) states.push_back(s.dlt_state());
  StopTicking();
  grpc::Status status = reader->Finish();
  ASSERT_TRUE(status.ok()) << status.error_message();
  ASSERT_FALSE(states.empty());
  EXPECT_EQ(states.back(), "COMPLETED");
  EXPECT_EQ(s.status(), v1::RUN_STATUS_SUCCESS);
  for (size_t i = 1; i < states.size(); ++i) {
    EXPECT_NE(states[i], states[i - 1]) << "a message without a change";
  }
  EXPECT_GE(states.size(), 3u);
}

TEST_F(ServiceTest, MalformedInputGetsTheRightCodeAndSendsNothing) {
  const std::string id = CreatePipeline("orders");
  const int64_t before = UpstreamRequests();
  for (const std::string& bad : std::vector<std::string>{
           "", "no-colon", "../clusters:x", std::string(id) + ":../../x",
           std::string(id) + ":", "a\r\nb:c"}) {
    grpc::Status status;
    Status(bad, &status);
    EXPECT_EQ(status.error_code(), grpc::StatusCode::INVALID_ARGUMENT) << bad;
    v1::StopUpdateResponse r;
    EXPECT_EQ(Stop(bad, &r).error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  }
  {
    v1::GetUpdateStatusRequest request;
    request.set_workspace("nope");
    request.set_run_id(absl::StrCat(id, ":", id));
    grpc::ClientContext context;
    v1::UpdateStatus response;
    EXPECT_EQ(stub_->GetUpdateStatus(&context, request, &response).error_code(),
              grpc::StatusCode::NOT_FOUND);
  }
  {
    v1::StartUpdateRequest request;
    request.set_pipeline_id(id);
    v1::Parameter* p = polysync::testing::AddFullRefresh(request, "maybe");
    v1::StartUpdateResponse r;
    EXPECT_EQ(Start(request, &r).error_code(),
              grpc::StatusCode::INVALID_ARGUMENT);
    p->set_value("true");
    request.add_refresh_selection("sales");
    EXPECT_EQ(Start(request, &r).error_code(),
              grpc::StatusCode::INVALID_ARGUMENT);
    request.clear_refresh_selection();
    request.set_pipeline_id("../clusters/list");
    EXPECT_EQ(Start(request, &r).error_code(),
              grpc::StatusCode::INVALID_ARGUMENT);
  }
  {
    v1::ImportPipelinesRequest request;
    request.add_pipeline_ids("%2e%2e");
    grpc::ClientContext context;
    auto reader = stub_->ImportPipelines(&context, request);
    v1::ImportPipelinesResponse batch;
    while (reader->Read(&batch)) {
    }
    EXPECT_EQ(reader->Finish().error_code(),
              grpc::StatusCode::INVALID_ARGUMENT);
  }
  {
    v1::WatchUpdateRequest request;
    request.set_run_id("nope");
    grpc::ClientContext context;
    auto reader = stub_->WatchUpdate(&context, request);
    v1::UpdateStatus s;
    EXPECT_FALSE(reader->Read(&s));
    EXPECT_EQ(reader->Finish().error_code(),
              grpc::StatusCode::INVALID_ARGUMENT);
  }
  EXPECT_EQ(UpstreamRequests(), before);
}

// Pinned to the legacy API: the outage is of GET .../requests/{request_id},
// which today's API does not have.
class LegacyApiServiceTest : public ServiceTest {
 protected:
  void ConfigureSimulator(sim::SimulatorOptions& options) override {
    options.workspace.legacy_request_api = true;
  }
};

TEST_F(LegacyApiServiceTest, UnreadableRetryStateIsAnErrorNotAFinalFailure) {
  const std::string id =
      CreatePipeline("flaky", sim::Behavior::kFailOnceThenRetry);
  v1::StartUpdateResponse started = MustStart(id);
  sim::FaultRule down;
  down.endpoint = "requests.get";
  down.kind = sim::FaultKind::kHttpError;
  down.status = 503;
  down.count = -1;
  sim_->InjectFault(down);
  grpc::Status status;
  v1::UpdateStatus s;
  for (int i = 0; i < 120; ++i) {
    Advance(absl::Seconds(1));
    s = Status(started.run_id(), &status);
    if (!status.ok()) break;
    ASSERT_NE(s.status(), v1::RUN_STATUS_FAILED);
  }
  // The update FAILED, but whether DLT retries it cannot be read: the
  // caller hears UNAVAILABLE, never a final Failed.
  EXPECT_EQ(status.error_code(), grpc::StatusCode::UNAVAILABLE);
  EXPECT_THAT(status.error_message(), HasSubstr("whether DLT retries"));
  sim_->ClearFaults();
  s = Status(started.run_id());
  EXPECT_NE(s.status(), v1::RUN_STATUS_FAILED);
}

// The same service with its status cache on (as in production).
class CachedServiceTest : public ServiceTest {
 protected:
  void ConfigureBackend(server::BackendOptions& options) override {
    options.job_type.status.cache_ttl = absl::Seconds(30);
    options.job_type.status.now = [] { return absl::Now(); };
  }
};

// Without a cache (ServiceTest), identical calls that arrive while one read
// is in flight still share it.
TEST_F(ServiceTest, ConcurrentStatusCallsShareOneUpstreamRead) {
  const std::string id = CreatePipeline("orders");
  v1::StartUpdateResponse started = MustStart(id);
  sim::FaultRule slow;
  slow.endpoint = "updates.get";
  slow.kind = sim::FaultKind::kLatency;
  slow.latency = absl::Milliseconds(500);
  sim_->InjectFault(slow);
  const int64_t before = sim_->RequestCount("updates.get");
  std::vector<std::thread> callers;
  std::atomic<int> ok{0};
  for (int i = 0; i < 20; ++i) {
    callers.emplace_back([&] {
      grpc::Status status;
      v1::UpdateStatus s = Status(started.run_id(), &status);
      if (status.ok() && s.dlt_state() == "QUEUED") ++ok;
    });
  }
  for (auto& t : callers) t.join();
  EXPECT_EQ(ok.load(), 20);
  EXPECT_EQ(sim_->RequestCount("updates.get") - before, 1);
}

TEST_F(CachedServiceTest, WatchersOfOneRunShareOnePollAndLeaveCleanly) {
  const std::string id = CreatePipeline("orders");
  v1::StartUpdateResponse started = MustStart(id);
  constexpr int kWatchers = 20;
  std::vector<std::unique_ptr<grpc::ClientContext>> contexts;
  std::vector<std::thread> readers;
  std::atomic<int> first_messages{0};
  std::atomic<int> cancelled{0};
  for (int i = 0; i < kWatchers; ++i) {
    contexts.push_back(std::make_unique<grpc::ClientContext>());
    grpc::ClientContext* context = contexts.back().get();
    readers.emplace_back([&, context] {
      v1::WatchUpdateRequest request;
      request.set_run_id(started.run_id());
      auto reader = stub_->WatchUpdate(context, request);
      v1::UpdateStatus s;
      if (reader->Read(&s)) ++first_messages;
      while (reader->Read(&s)) {
      }
      if (reader->Finish().error_code() == grpc::StatusCode::CANCELLED) {
        ++cancelled;
      }
    });
  }
  auto& watches = backend_->job_type().watches();
  for (int i = 0; i < 500 && (watches.watchers() < kWatchers ||
                              first_messages.load() < kWatchers);
       ++i) {
    absl::SleepFor(absl::Milliseconds(10));
  }
  EXPECT_EQ(watches.watchers(), kWatchers);
  EXPECT_EQ(watches.polls(), 1);
  EXPECT_EQ(first_messages.load(), kWatchers);
  for (auto& c : contexts) c->TryCancel();
  for (auto& t : readers) t.join();
  EXPECT_EQ(cancelled.load(), kWatchers);
  for (int i = 0; i < 200 && watches.watchers() > 0; ++i) {
    absl::SleepFor(absl::Milliseconds(10));
  }
  EXPECT_EQ(watches.watchers(), 0);
  EXPECT_EQ(watches.polls(), 0);
}

// A workspace short of capacity: updates wait for resources for long.
class SlowResourcesServiceTest : public ServiceTest {
 protected:
  void ConfigureSimulator(sim::SimulatorOptions& options) override {
    options.workspace.lifecycle.waiting_for_resources = absl::Minutes(30);
  }
};

TEST_F(SlowResourcesServiceTest, LongWaitForResourcesGetsAHint) {
  const std::string id = CreatePipeline("orders");
  v1::StartUpdateResponse started = MustStart(id);
  Advance(absl::Minutes(5));
  v1::UpdateStatus s = Status(started.run_id());
  EXPECT_EQ(s.dlt_state(), "WAITING_FOR_RESOURCES");
  EXPECT_EQ(s.hint(), "");
  Advance(absl::Minutes(7));
  s = Status(started.run_id());
  EXPECT_EQ(s.status(), v1::RUN_STATUS_UNKNOWN);
  EXPECT_THAT(s.hint(), HasSubstr("required Databricks resource"));
}

}  // namespace
}  // namespace polysync
