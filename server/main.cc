// polysync-dlt: the gRPC service that runs Delta Live Tables pipelines for
// Polysync. Loads the configuration, starts the server, and drains on SIGTERM.
#include <signal.h>

#include <cstdio>
#include <string>

#include "absl/flags/flag.h"
#include "absl/flags/parse.h"
#include "absl/flags/usage.h"
#include "absl/flags/usage_config.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/time/time.h"
#include "common/log.h"
#include "server/config.h"
#include "server/server.h"

ABSL_FLAG(std::string, config, "",
          "Path of the JSON configuration file (schema: "
          "proto/polysync/databricks/v1/config.proto). Optional.");
ABSL_FLAG(std::string, listen, "",
          "host:port to listen on; overrides the file. Default 0.0.0.0:50051.");
ABSL_FLAG(std::string, log_level, "",
          "debug, info, warn or error; overrides the file. Default info.");
ABSL_FLAG(absl::Duration, shutdown_grace, absl::ZeroDuration(),
          "How long in-flight calls may finish after SIGTERM; overrides the "
          "file. Default 20s.");
ABSL_FLAG(bool, reflection, true, "Serve gRPC server reflection.");

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
      "[--log_level=LEVEL]");
  absl::ParseCommandLine(argc, argv);

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
  polysync::server::ApplyDefaults(config);
  if (auto s = polysync::server::ValidateConfig(config); !s.ok()) {
    return Fail(s);
  }
  polysync::log::Level level;
  polysync::log::ParseLevel(config.log_level(), &level);
  polysync::log::SetMinLevel(level);

  if (config.workspaces_size() == 0) {
    polysync::log::Warn(
        "no Databricks workspace is configured: only health, reflection and "
        "ListWorkspaces answer until the simulated workspace and the job type "
        "land");
  }

  auto server = polysync::server::Server::Start(
      {config, absl::GetFlag(FLAGS_reflection)});
  if (!server.ok()) return Fail(server.status());
  polysync::log::Info(
      "serving",
      {polysync::log::Field("port", (*server)->bound_port()),
       polysync::log::Field("workspaces", config.workspaces_size())});

  int signal_number = 0;
  sigwait(&signals, &signal_number);
  const absl::Duration grace = polysync::server::ShutdownGrace(config);
  polysync::log::Info(
      "draining", {polysync::log::Field("signal", signal_number),
                   polysync::log::Field("grace", absl::FormatDuration(grace))});
  (*server)->Shutdown(grace);
  (*server)->Wait();
  polysync::log::Info("stopped");
  return 0;
}
