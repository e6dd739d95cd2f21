// Test-only: the engines' seam. A simulated workspace (in-process, on a
// manual clock) reached through the real CurlTransport on loopback, one
// api::Workspace over it and a StatusReader whose clock is the simulator's.
// Engine tests (start_stop_test, status_reader_test, watches_test,
// importer_test) derive from EngineTest and call the engines with typed
// values; requests are counted by the simulator.
//
//   class MyTest : public EngineTest {};
//   TEST_F(MyTest, X) {
//     Begin();                                  // or Begin(configure)
//     std::string p = CreatePipeline(sim::Behavior::kSucceed);
//     RunId run = StartDirect(p);               // POST, bypassing engines
//     absl::StatusOr<v1::UpdateStatus> s = Read(run);
//   }
#ifndef POLYSYNC_ADAPTERS_DATABRICKS_JOBTYPE_ENGINE_TESTING_H_
#define POLYSYNC_ADAPTERS_DATABRICKS_JOBTYPE_ENGINE_TESTING_H_

#include <gtest/gtest.h>

#include <chrono>
#include <functional>
#include <future>
#include <memory>
#include <nlohmann/json.hpp>
#include <string>
#include <utility>

#include "absl/status/statusor.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"
#include "adapters/databricks/api/workspaces.h"
#include "adapters/databricks/auth/profiles.h"
#include "adapters/databricks/http/curl_transport.h"
#include "adapters/databricks/jobtype/status_reader.h"
#include "adapters/databricks/simulator/simulator.h"
#include "adapters/databricks/wire/ids.h"
#include "common/secret_source.h"
#include "polysync/databricks/v1/pipelines.pb.h"
#include "tests/testing/sync.h"

namespace polysync::databricks::jobtype::testing {

using ::polysync::testing::Await;

// What Begin() may change before anything starts.
struct EngineSetup {
  std::function<void(sim::SimulatorOptions&)> simulator;
  std::function<void(StatusOptions&)> status;
};

class EngineTest : public ::testing::Test {
 protected:
  void Begin(EngineSetup setup = {}) {
    clock_ = std::make_shared<sim::ManualClock>();
    sim::SimulatorOptions sim_options;
    sim_options.clock = clock_;
    sim_options.seed_default_pipelines = false;
    if (setup.simulator) setup.simulator(sim_options);
    auto simulator = sim::Simulator::Start(sim_options);
    ASSERT_TRUE(simulator.ok()) << simulator.status();
    sim_ = *std::move(simulator);
    transport_ = http::MakeCurlTransport({});
    auth::Profile profile;
    profile.name = "sim";
    profile.host = sim_->base_url();
    profile.auth = auth::AuthKind::kPersonalAccessToken;
    profile.token = secrets::SecretSource::FromEnv(
        "T", secrets::StaticEnv({{"T", sim_->access_token()}}));
    api::ClientOptions client;
    client.backoff.initial_delay = absl::Milliseconds(1);
    client.backoff.max_delay = absl::Milliseconds(5);
    client.limiter.requests_per_second = 5000;
    client.limiter.max_concurrency = 16;
    workspace_ = std::make_unique<api::Workspace>(profile, *transport_, client,
                                                  auth::CredentialsOptions{});
    StatusOptions status;
    status.cache_ttl = absl::ZeroDuration();
    status.now = [clock = clock_] { return clock->Now(); };
    if (setup.status) setup.status(status);
    reader_ = std::make_unique<StatusReader>(status, *transport_);
  }

  void TearDown() override {
    // As the backend does: the transport (and its callbacks) first.
    transport_.reset();
    reader_.reset();
    workspace_.reset();
    sim_.reset();
  }

  api::Workspace& ws() { return *workspace_; }
  sim::Simulator& simulator() { return *sim_; }
  http::Transport& transport() { return *transport_; }
  StatusReader& reader() { return *reader_; }

  std::string CreatePipeline(sim::Behavior behavior, bool development = false,
                             const std::string& name = "orders") {
    auto id = sim_->CreatePipeline(
        {{"name", name}, {"continuous", false}, {"development", development}},
        behavior);
    EXPECT_TRUE(id.ok()) << id.status();
    return id.ok() ? *id : "";
  }

  // Starts an update with the client itself (not through an engine).
  RunId StartDirect(const std::string& pipeline_id) {
    auto outcome = Await<api::StartUpdateOutcome>([&](auto done) {
      workspace_->client().StartUpdate(pipeline_id, {}, {}, done);
    });
    EXPECT_TRUE(outcome.ok()) << outcome.status();
    return RunId{pipeline_id, outcome.ok() ? outcome->update_id : ""};
  }

  absl::StatusOr<v1::UpdateStatus> Read(const RunId& run) {
    return Await<v1::UpdateStatus>(
        [&](auto done) { reader_->Read(*workspace_, run, {}, done); });
  }
  absl::StatusOr<v1::UpdateStatus> ReadFresh(const RunId& run) {
    return Await<v1::UpdateStatus>(
        [&](auto done) { reader_->ReadFresh(*workspace_, run, {}, done); });
  }

  void Advance(absl::Duration d) { ASSERT_TRUE(sim_->AdvanceClock(d).ok()); }

  // Moves the simulated clock `step` at a time (a few real milliseconds
  // apart, so the engines' polls see the states in between) until
  // `done()` holds; false if it never did within `real_limit`.
  bool AdvanceUntil(const std::function<bool()>& done,
                    absl::Duration step = absl::Seconds(1),
                    absl::Duration real_limit = absl::Seconds(60)) {
    const absl::Time give_up = absl::Now() + real_limit;
    while (!done()) {
      if (absl::Now() > give_up) return false;
      if (!sim_->AdvanceClock(step).ok()) return false;
      absl::SleepFor(absl::Milliseconds(5));
    }
    return true;
  }

  // Steps the clock a second at a time, reading the run fresh after each
  // step, until `until(status)`; returns that status (or the last error).
  absl::StatusOr<v1::UpdateStatus> ReadUntil(
      const RunId& run,
      const std::function<bool(const v1::UpdateStatus&)>& until,
      int max_steps = 600, absl::Duration step = absl::Seconds(1)) {
    absl::StatusOr<v1::UpdateStatus> s;
    for (int i = 0; i < max_steps; ++i) {
      s = ReadFresh(run);
      if (!s.ok() || until(*s)) return s;
      if (!sim_->AdvanceClock(step).ok()) break;
    }
    return absl::DeadlineExceededError("test: the condition never held");
  }

  int64_t Requests(const std::string& endpoint) const {
    return sim_->RequestCount(endpoint);
  }

  std::shared_ptr<sim::ManualClock> clock_;
  std::unique_ptr<sim::Simulator> sim_;
  std::unique_ptr<http::Transport> transport_;
  std::unique_ptr<api::Workspace> workspace_;
  std::unique_ptr<StatusReader> reader_;
};

// Waits (real time, at most `limit`) for a future the engine fulfils.
template <typename T>
bool Ready(std::future<T>& f, absl::Duration limit = absl::Seconds(60)) {
  return f.wait_for(absl::ToChronoMilliseconds(limit)) ==
         std::future_status::ready;
}

}  // namespace polysync::databricks::jobtype::testing

#endif  // POLYSYNC_ADAPTERS_DATABRICKS_JOBTYPE_ENGINE_TESTING_H_
