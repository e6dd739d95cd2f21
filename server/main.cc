// polysync-dlt: the gRPC service that runs Delta Live Tables pipelines for
// Polysync. Loads the configuration, starts the server, and drains on SIGTERM.
#include <signal.h>
#include <unistd.h>

#include <cstdio>
#include <string>
#include <thread>

#include "absl/flags/flag.h"
#include "absl/flags/parse.h"
#include "absl/flags/usage.h"
#include "absl/flags/usage_config.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"
#include "common/log.h"
#include "server/backend.h"
#include "server/config.h"
#include "server/metrics_http.h"
#include "server/request_codec.h"
#include "server/server.h"

ABSL_FLAG(std::string, config, "",
          "Path of the JSON configuration file (schema: "
          "proto/polysync/databricks/v1/config.proto). Optional.");
ABSL_FLAG(std::string, listen, "",
          "host:port to listen on; overrides the file. Default 0.0.0.0:50051.");
ABSL_FLAG(std::string, log_level, "",
          "debug, info, warn or error; overrides the file. Default info.");
ABSL_FLAG(absl::Duration, shutdown_grace, absl::ZeroDuration(),
          "How long in-flight calls may finish after SIGTERM (then the "
          "requests to Databricks still in flight are cancelled and the "
          "process exits); overrides the file. Default 20s.");
ABSL_FLAG(absl::Duration, drain_delay, absl::InfiniteDuration(),
          "After SIGTERM, how long calls are still accepted (readiness "
          "already NOT_SERVING) before shutdown_grace starts; overrides the "
          "file. Default 5s.");
ABSL_FLAG(std::string, metrics_listen, "",
          "host:port of the Prometheus /metrics endpoint; overrides the file. "
          "Default: none.");
ABSL_FLAG(bool, reflection, true, "Serve gRPC server reflection.");
ABSL_FLAG(bool, simulated_workspace, false,
          "Out-of-the-box mode: run the built-in simulated Databricks "
          "workspace in-process on loopback and serve it as the workspace "
          "\"simulated\". Never use in production.");
ABSL_FLAG(int, simulated_pipelines, 0,
          "With --simulated_workspace: generated pipelines added to the "
          "dozen seeded ones.");
ABSL_FLAG(std::string, databrickscfg, "",
          "A ~/.databrickscfg-style INI file of workspace profiles. Optional.");
ABSL_FLAG(std::string, default_workspace, "",
          "The profile used when a request names no workspace; overrides the "
          "file and the environment.");

namespace {

using polysync::server::ServerConfig;

int Fail(const absl::Status& status) {
  polysync::log::Error(
      "cannot start",
      {polysync::log::Field("error", std::string(status.message()))});
  return 2;
}

}  // namespace

int main(int argc, char** argv) {
  // --help lists the flags of this project (not Abseil's or gRPC's).
  absl::FlagsUsageConfig usage;
  usage.contains_help_flags = [](absl::string_view file) {
    return absl::StrContains(file, "server/");
  };
  usage.contains_helpshort_flags = usage.contains_help_flags;
  absl::SetFlagsUsageConfig(usage);
  absl::SetProgramUsageMessage(
      "gRPC service for Polysync's \"Databricks Pipeline\" job "
      "type.\nUsage: polysync-dlt [--config=FILE] [--listen=HOST:PORT] "
      "[--simulated_workspace] [--databrickscfg=FILE] [--log_level=LEVEL]");
  absl::ParseCommandLine(argc, argv);
  // protobuf's own complaints become JSON log lines like every other.
  polysync::server::RouteProtobufLogs();
  // Debian's Abseil is built with absl::Mutex deadlock detection on (a debug
  // aid that costs a graph update on every lock, gRPC's included); a release
  // server does not pay for it.
  absl::SetMutexDeadlockDetectionMode(absl::OnDeadlockCycle::kIgnore);

  // Block the signals in every thread; the main thread waits for them.
  sigset_t signals;
  sigemptyset(&signals);
  sigaddset(&signals, SIGTERM);
  sigaddset(&signals, SIGINT);
  pthread_sigmask(SIG_BLOCK, &signals, nullptr);

  ServerConfig config;
  if (const std::string path = absl::GetFlag(FLAGS_config); !path.empty()) {
    auto loaded = polysync::server::LoadConfigFile(path);
    if (!loaded.ok()) return Fail(loaded.status());
    config = *std::move(loaded);
  }
  if (const std::string v = absl::GetFlag(FLAGS_listen); !v.empty()) {
    config.set_listen(v);
  }
  if (const std::string v = absl::GetFlag(FLAGS_log_level); !v.empty()) {
    config.set_log_level(v);
  }
  if (const absl::Duration d = absl::GetFlag(FLAGS_shutdown_grace);
      d > absl::ZeroDuration()) {
    config.mutable_shutdown_grace()->set_seconds(absl::ToInt64Seconds(d));
    config.mutable_shutdown_grace()->set_nanos(static_cast<int32_t>(
        absl::ToInt64Nanoseconds(d - absl::Seconds(absl::ToInt64Seconds(d)))));
  }
  if (const absl::Duration d = absl::GetFlag(FLAGS_drain_delay);
      d != absl::InfiniteDuration()) {
    config.mutable_drain_delay()->set_seconds(absl::ToInt64Seconds(d));
    config.mutable_drain_delay()->set_nanos(static_cast<int32_t>(
        absl::ToInt64Nanoseconds(d - absl::Seconds(absl::ToInt64Seconds(d)))));
  }
  if (const std::string v = absl::GetFlag(FLAGS_metrics_listen); !v.empty()) {
    config.set_metrics_listen(v);
  }
  polysync::server::ApplyDefaults(config);
  if (auto s = polysync::server::ValidateConfig(config); !s.ok()) {
    return Fail(s);
  }
  // Secrets present, TLS certificate and key a pair: refused now rather than
  // failing every call (or every handshake) later.
  if (auto s = polysync::server::CheckStartupResources(config); !s.ok()) {
    return Fail(s);
  }
  polysync::log::Level level;
  polysync::log::ParseLevel(config.log_level(), &level);
  polysync::log::SetMinLevel(level);

  polysync::server::BackendOptions backend_options;
  backend_options.config = config;
  backend_options.databrickscfg_path = absl::GetFlag(FLAGS_databrickscfg);
  backend_options.default_workspace = absl::GetFlag(FLAGS_default_workspace);
  backend_options.simulated_workspace =
      absl::GetFlag(FLAGS_simulated_workspace);
  backend_options.simulated_pipelines =
      absl::GetFlag(FLAGS_simulated_pipelines);
  auto backend = polysync::server::Backend::Create(backend_options);
  if (!backend.ok()) return Fail(backend.status());

  std::unique_ptr<polysync::server::MetricsEndpoint> metrics;
  if (!config.metrics_listen().empty()) {
    auto endpoint =
        polysync::server::MetricsEndpoint::Start(config.metrics_listen());
    if (!endpoint.ok()) return Fail(endpoint.status());
    metrics = *std::move(endpoint);
  }

  auto server = polysync::server::Server::Start(
      {config, absl::GetFlag(FLAGS_reflection), &(*backend)->job_type(),
       &(*backend)->transport()});
  if (!server.ok()) return Fail(server.status());
  polysync::log::Info(
      "serving",
      {polysync::log::Field("port", (*server)->bound_port()),
       polysync::log::Field(
           "workspaces",
           static_cast<int64_t>((*backend)->workspaces().all().size()))});

  int signal_number = 0;
  sigwait(&signals, &signal_number);
  // A second SIGTERM or SIGINT during the drain ends the process at once,
  // with 128 + the signal's number (143, 130), as a shell reports a process
  // killed by it.
  std::thread([signals] {
    int again = 0;
    sigwait(&signals, &again);
    polysync::log::Warn("second signal; exiting now",
                        {polysync::log::Field("signal", again)});
    _exit(128 + again);
  }).detach();
  const absl::Duration grace = polysync::server::ShutdownGrace(config);
  const absl::Duration delay = polysync::server::DrainDelay(config);
  // Readiness flips at once; calls are still served while Kubernetes
  // removes the pod from the endpoints, then the grace period starts.
  (*server)->BeginDrain();
  polysync::log::Info(
      "draining",
      {polysync::log::Field("signal", signal_number),
       polysync::log::Field("drain_delay", absl::FormatDuration(delay)),
       polysync::log::Field("grace", absl::FormatDuration(grace))});
  absl::SleepFor(delay);
  (*server)->Shutdown(grace);
  (*server)->Wait();
  server->reset();
  backend->reset();
  polysync::log::Info("stopped");
  return 0;
}
