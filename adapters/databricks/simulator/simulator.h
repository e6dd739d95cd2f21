// -----------------------------------------------------------------------------
// File: simulator.h
// -----------------------------------------------------------------------------
//
// A simulated Azure Databricks workspace that speaks the Pipelines REST API
// 2.0 over real HTTP (or HTTPS): the project's out-of-the-box backend and the
// test double of every adapter and service test. Because it is a real server,
// tests exercise the real libcurl path, and faults (resets, stalls, truncated
// bodies, 429 storms...) happen on the wire, made in this one place.
//
// What it serves (field names and shapes of the real API):
//   GET/POST       /api/2.0/pipelines
//   GET/PUT/DELETE /api/2.0/pipelines/{id}
//   POST/GET       /api/2.0/pipelines/{id}/updates
//   GET            /api/2.0/pipelines/{id}/updates/{update_id}
//   GET            /api/2.0/pipelines/{id}/requests/{request_id}
//   POST           /api/2.0/pipelines/{id}/stop
//   GET            /api/2.0/pipelines/{id}/events
//   POST           /oidc/v1/token, /{tenant}/oauth2/v2.0/token
//   GET            /metadata/identity/oauth2/token
//   and an admin API under /_sim/ (faults, stats, clock; no auth).
//
// Updates move QUEUED -> CREATED -> WAITING_FOR_RESOURCES -> INITIALIZING ->
// (RESETTING) -> SETTING_UP_TABLES -> RUNNING -> COMPLETED / FAILED, or
// STOPPING -> CANCELED after a stop, on the simulator's clock. With a
// `ManualClock` nothing moves until the test says so:
//
//   auto clock = std::make_shared<ManualClock>();
//   SimulatorOptions options;
//   options.clock = clock;
//   options.seed_default_pipelines = false;
//   auto sim = Simulator::Start(options);            // absl::StatusOr
//   auto id = (*sim)->CreatePipeline({{"name", "orders"}}, Behavior::kFail);
//   // POST {base_url}/api/2.0/pipelines/{id}/updates with
//   // "Authorization: Bearer " + access_token(), then:
//   (*sim)->AdvanceClock(absl::Minutes(1));           // -> FAILED + events
//
//   FaultRule rule;                                   // the next two GETs of
//   rule.endpoint = "pipelines.get";                  // a pipeline answer
//   rule.kind = FaultKind::kHttpError;                // 429, Retry-After: 1
//   rule.status = 429;
//   rule.retry_after_seconds = 1;
//   rule.count = 2;
//   (*sim)->InjectFault(rule);
//
// Thread-safe. The README next to this file documents the binary, its flags
// and the admin endpoint.
#ifndef POLYSYNC_ADAPTERS_DATABRICKS_SIMULATOR_SIMULATOR_H_
#define POLYSYNC_ADAPTERS_DATABRICKS_SIMULATOR_SIMULATOR_H_

#include <atomic>
#include <cstdint>
#include <map>
#include <memory>
#include <mutex>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "adapters/databricks/simulator/auth.h"
#include "adapters/databricks/simulator/clock.h"
#include "adapters/databricks/simulator/faults.h"
#include "adapters/databricks/simulator/http_types.h"
#include "adapters/databricks/simulator/workspace.h"

namespace polysync::databricks::sim {

class HttpServer;

struct SimulatorOptions {
  // Where to listen; port 0 picks a free port (see Simulator::port()).
  std::string host = "127.0.0.1";
  int port = 0;
  // Threads running the asynchronous server.
  int io_threads = 2;
  // PEM certificate chain and private key: both set serves HTTPS only.
  std::string tls_cert_file;
  std::string tls_key_file;
  // The clock driving lifecycles and token expiry; null means real time.
  // Tests pass a ManualClock.
  std::shared_ptr<Clock> clock;
  // Starts with the dozen pipelines of DefaultPipelines() (seed.h).
  bool seed_default_pipelines = true;
  // Gives each seeded triggered pipeline two finished updates (a day and
  // two hours before start-up), so latest_updates and events are not empty.
  // History is not counted by UpdatesCreated().
  bool seed_history = true;
  // Also adds this many generated pipelines (GeneratedPipeline(i)).
  int generated_pipelines = 0;
  // State durations, the "already active" answer (default 409
  // RESOURCE_CONFLICT), latest_updates length, id seed.
  WorkspaceOptions workspace;
  // The accepted personal access token, OAuth/Entra credentials, token
  // lifetime.
  AuthOptions auth;
  // Rules active from the start.
  std::vector<FaultRule> faults;
  uint64_t fault_seed = 1;
};

// A pipeline of the default seed, as created at start-up.
struct SeededPipeline {
  std::string id;
  std::string name;
  Behavior behavior;
  bool continuous;
};

class Simulator {
 public:
  // Starts serving. Errors: InvalidArgument for bad options (TLS files),
  // Unavailable when the address cannot be bound.
  static absl::StatusOr<std::unique_ptr<Simulator>> Start(
      SimulatorOptions options);

  ~Simulator();
  Simulator(const Simulator&) = delete;
  Simulator& operator=(const Simulator&) = delete;

  int port() const { return port_.load(); }
  // The workspace's options as started (e.g. which API it speaks).
  const WorkspaceOptions& workspace_options() const {
    return options_.workspace;
  }
  // "http://127.0.0.1:PORT", or "https://..." when serving TLS.
  std::string base_url() const;
  // A personal access token accepted as `Authorization: Bearer ...`.
  std::string access_token() const;

  // --- pipelines ---------------------------------------------------------
  // Creates a pipeline from a PipelineSettings JSON object (without "id").
  // Continuous pipelines are those with "continuous": true.
  absl::StatusOr<std::string> CreatePipeline(
      const nlohmann::json& spec, Behavior behavior = Behavior::kSucceed);
  // Changes how the pipeline's future updates end.
  absl::Status SetBehavior(const std::string& pipeline_id, Behavior behavior);
  // Adds `count` generated pipelines and returns their ids (in order).
  std::vector<std::string> GeneratePipelines(int count);
  // The default pipelines created at start-up (empty when not seeded).
  const std::vector<SeededPipeline>& seeded_pipelines() const {
    return seeded_;
  }
  size_t PipelineCount() const;

  // --- faults --------------------------------------------------------------
  void InjectFault(FaultRule rule);
  // Parses a rule (or an array of rules) written as JSON (faults.h).
  absl::Status InjectFaultJson(const nlohmann::json& rules);
  void ClearFaults();

  // --- counters --------------------------------------------------------------
  // Requests received for an endpoint name of faults.h (`kEndpoints`),
  // faulted ones included; "*" is the total (admin requests excluded).
  int64_t RequestCount(const std::string& endpoint) const;
  // Sets every request counter back to zero (UpdatesCreated() is not reset),
  // and the peak below to the requests in flight now.
  void ResetRequestCounts();
  // The most HTTP requests (admin ones included) ever being handled at once,
  // injected latency included: what a client's concurrency really was.
  int PeakConcurrentRequests() const;
  int64_t UpdatesCreated() const;
  int64_t UpdatesCreated(const std::string& pipeline_id) const;

  // --- time ----------------------------------------------------------------
  // Advances the ManualClock and every lifecycle with it.
  // FailedPrecondition when the simulator runs on real time.
  absl::Status AdvanceClock(absl::Duration d);
  absl::Time Now() const { return clock_->Now(); }

  // Stops serving and closes every connection. Idempotent.
  void Shutdown();

  // Serves one request (what the HTTP server calls). Public for tests that
  // want to bypass the network.
  HttpResponse Handle(const HttpRequest& request);

 private:
  explicit Simulator(SimulatorOptions options);
  HttpResponse HandleAdmin(const HttpRequest& request, const std::string& path);
  void Count(const std::string& endpoint);

  SimulatorOptions options_;
  std::shared_ptr<Clock> clock_;
  ManualClock* manual_clock_ = nullptr;  // clock_ when it is manual
  Workspace workspace_;
  TokenStore tokens_;
  FaultInjector faults_;
  std::vector<SeededPipeline> seeded_;
  int generated_ = 0;
  mutable std::mutex mu_;
  std::map<std::string, int64_t> request_counts_;
  std::unique_ptr<HttpServer> server_;
  std::atomic<int> port_{0};
  std::atomic<bool> tls_{false};
};

}  // namespace polysync::databricks::sim

#endif  // POLYSYNC_ADAPTERS_DATABRICKS_SIMULATOR_SIMULATOR_H_
