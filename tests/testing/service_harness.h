// Test-only: a simulated workspace, a backend and a server on a loopback port,
// in-process, for end-to-end tests (the client library, the CLI, faults).
//
//   Harness h;                        // or Harness h(R"(, "tls": {...})");
//   std::string id = h.CreatePipeline("orders");
//   ClientOptions o; o.target = h.target();
//   h.StartTicking();                 // updates progress on the manual clock
//   h.Restart();                      // drains, then serves on the same port
#ifndef POLYSYNC_TESTS_TESTING_SERVICE_HARNESS_H_
#define POLYSYNC_TESTS_TESTING_SERVICE_HARNESS_H_

#include <atomic>
#include <functional>
#include <memory>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"
#include "adapters/databricks/simulator/simulator.h"
#include "server/backend.h"
#include "server/config.h"
#include "server/server.h"
#include "tests/testing/simulator_api.h"

namespace polysync::testing {

struct HarnessOptions {
  // More top-level keys of the server configuration, starting with a comma.
  std::string extra;
  // The server's port; 0 for any.
  int port = 0;
  // More keys of the workspace profile "test", starting with a comma.
  std::string workspace_extra;
  // Changes to the simulator's and the backend's test defaults (the
  // simulator's API is this run's, see simulator_api.h, unless changed here).
  std::function<void(databricks::sim::SimulatorOptions&)> configure_simulator;
  std::function<void(server::BackendOptions&)> configure_backend;
};

class Harness {
 public:
  // `extra`: more top-level keys of the server configuration, starting with
  // a comma. `port`: 0 for any.
  explicit Harness(const std::string& extra = "", int port = 0)
      : Harness(HarnessOptions{extra, port, "", nullptr, nullptr}) {}

  explicit Harness(HarnessOptions options)
      : extra_(options.extra),
        workspace_extra_(options.workspace_extra),
        configure_backend_(std::move(options.configure_backend)) {
    clock_ = std::make_shared<databricks::sim::ManualClock>();
    databricks::sim::SimulatorOptions sim_options;
    sim_options.clock = clock_;
    sim_options.seed_default_pipelines = false;
    ApplySimulatorApi(sim_options);  // this run's API; configure may pin one
    if (options.configure_simulator) options.configure_simulator(sim_options);
    const int port = options.port;
    auto simulator = databricks::sim::Simulator::Start(sim_options);
    if (!simulator.ok()) std::abort();
    sim_ = *std::move(simulator);
    setenv("CLIENT_SIM_TOKEN", sim_->access_token().c_str(), 1);
    StartServer(port);
  }
  ~Harness() {
    StopTicking();
    for (auto& r : replicas_) {
      r.server.reset();
      r.backend.reset();
    }
    server_.reset();
    backend_.reset();
    sim_.reset();
  }

  // More replicas: their own backend and server over the same simulator
  // (as a fleet shares one workspace). Returns the replica's index (1, 2...;
  // 0 is the first server).
  int AddReplica() {
    Replica r;
    std::swap(r.backend, backend_);
    std::swap(r.server, server_);
    std::swap(r.port, port_);
    StartServer(0);
    std::swap(r.backend, backend_);
    std::swap(r.server, server_);
    std::swap(r.port, port_);
    replicas_.push_back(std::move(r));
    return static_cast<int>(replicas_.size());
  }
  std::string replica_target(int i) const {
    return i == 0 ? target()
                  : absl::StrCat("127.0.0.1:", replicas_[i - 1].port);
  }
  void ShutdownReplica(int i) {
    if (i == 0) {
      Shutdown();
      return;
    }
    Replica& r = replicas_[i - 1];
    if (r.server) r.server->Shutdown(absl::Milliseconds(200));
    r.server.reset();
  }

  std::string target() const { return absl::StrCat("127.0.0.1:", port_); }
  int port() const { return port_; }

  std::string CreatePipeline(const std::string& name,
                             databricks::sim::Behavior behavior =
                                 databricks::sim::Behavior::kSucceed) {
    auto id = sim_->CreatePipeline(
        {{"name", name},
         {"continuous", false},
         {"configuration", {{"spark.sql.shuffle.partitions", "4"}}}},
        behavior);
    return id.ok() ? *id : "";
  }

  // Drains the server (open watches end UNAVAILABLE), then serves again on
  // the same port with a fresh backend over the same simulator.
  void Restart(absl::Duration down_for = absl::ZeroDuration()) {
    server_->Shutdown(absl::Milliseconds(200));
    server_.reset();
    backend_.reset();
    absl::SleepFor(down_for);
    StartServer(port_);
  }
  // Readiness turns NOT_SERVING (the first step of a drain).
  void BeginDrain() { server_->BeginDrain(); }
  void Shutdown() {
    if (server_) server_->Shutdown(absl::Milliseconds(200));
    server_.reset();
  }

  // Moves the simulator's clock forward in the background.
  void StartTicking(absl::Duration step = absl::Seconds(5)) {
    ticking_ = true;
    ticker_ = std::thread([this, step] {
      while (ticking_) {
        sim_->AdvanceClock(step).IgnoreError();
        absl::SleepFor(absl::Milliseconds(5));
      }
    });
  }
  void StopTicking() {
    ticking_ = false;
    if (ticker_.joinable()) ticker_.join();
  }

  databricks::sim::Simulator& sim() { return *sim_; }
  databricks::sim::ManualClock& clock() { return *clock_; }
  server::Server& server() { return *server_; }
  server::Backend& backend() { return *backend_; }

  // Requests the simulator received on the Pipelines API (not the token
  // endpoints), for "nothing was sent" assertions.
  int64_t UpstreamRequests() const {
    int64_t total = 0;
    for (const char* e :
         {"pipelines.list", "pipelines.get", "pipelines.stop", "updates.start",
          "updates.list", "updates.get", "requests.get", "events.list"}) {
      total += sim_->RequestCount(e);
    }
    return total;
  }

 private:
  void StartServer(int port) {
    auto config = server::ParseConfig(
        absl::StrCat(R"({"listen": "127.0.0.1:)", port,
                     R"(", "workspaces": [{"name": "test", "host": ")",
                     sim_->base_url(), R"(",
            "personal_access_token": {"token": {"env": "CLIENT_SIM_TOKEN"}})",
                     workspace_extra_, "}]", extra_, "}"),
        "client-test");
    if (!config.ok()) {
      fprintf(stderr, "harness: %s\n", config.status().ToString().c_str());
      std::abort();
    }
    server::BackendOptions options;
    options.config = *config;
    options.job_type.status.cache_ttl = absl::ZeroDuration();
    options.job_type.status.now = [clock = clock_] { return clock->Now(); };
    options.job_type.watch.initial_interval = absl::Milliseconds(5);
    options.job_type.watch.max_interval = absl::Milliseconds(20);
    options.job_type.start_stop.restart_poll = absl::Milliseconds(10);
    options.client.backoff.initial_delay = absl::Milliseconds(1);
    options.client.backoff.max_delay = absl::Milliseconds(5);
    options.client.limiter.requests_per_second = 5000;
    options.client.limiter.max_concurrency = 64;
    if (configure_backend_) configure_backend_(options);
    auto backend = server::Backend::Create(options);
    if (!backend.ok()) std::abort();
    backend_ = *std::move(backend);
    auto server = server::Server::Start({*config, true, &backend_->job_type()});
    if (!server.ok()) {
      fprintf(stderr, "harness: %s\n", server.status().ToString().c_str());
      std::abort();
    }
    server_ = *std::move(server);
    port_ = server_->bound_port();
  }

  struct Replica {
    std::unique_ptr<server::Backend> backend;
    std::unique_ptr<server::Server> server;
    int port = 0;
  };

  std::string extra_;
  std::string workspace_extra_;
  std::function<void(server::BackendOptions&)> configure_backend_;
  std::vector<Replica> replicas_;
  std::shared_ptr<databricks::sim::ManualClock> clock_;
  std::unique_ptr<databricks::sim::Simulator> sim_;
  std::unique_ptr<server::Backend> backend_;
  std::unique_ptr<server::Server> server_;
  int port_ = 0;
  std::atomic<bool> ticking_{false};
  std::thread ticker_;
};

}  // namespace polysync::testing

#endif  // POLYSYNC_TESTS_TESTING_SERVICE_HARNESS_H_
