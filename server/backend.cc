#include "server/backend.h"

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "adapters/databricks/auth/profiles.h"
#include "adapters/databricks/http/curl_transport.h"
#include "common/log.h"

namespace polysync::server {

namespace auth = ::polysync::databricks::auth;

Backend::~Backend() {
  transport_.reset();
  job_type_.reset();
  workspaces_.reset();
  simulator_.reset();
}

absl::StatusOr<std::unique_ptr<Backend>> Backend::Create(
    BackendOptions options) {
  std::unique_ptr<Backend> backend(new Backend);
  if (options.config.has_status_cache_ttl()) {
    options.job_type.status.cache_ttl =
        absl::Seconds(options.config.status_cache_ttl().seconds()) +
        absl::Nanoseconds(options.config.status_cache_ttl().nanos());
  }
  if (options.config.has_dlt_retry_window()) {
    options.job_type.status.retry_window =
        absl::Seconds(options.config.dlt_retry_window().seconds()) +
        absl::Nanoseconds(options.config.dlt_retry_window().nanos());
  }
  if (options.config.has_restart_timeout()) {
    options.job_type.start_stop.restart_timeout =
        absl::Seconds(options.config.restart_timeout().seconds()) +
        absl::Nanoseconds(options.config.restart_timeout().nanos());
  }
  auth::ProfileSources sources;
  sources.databrickscfg_path = options.databrickscfg_path;
  sources.default_workspace = options.default_workspace;
  auto profiles = auth::LoadProfiles(options.config, sources);
  if (!profiles.ok()) return profiles.status();

  if (options.simulated_workspace) {
    databricks::sim::SimulatorOptions sim_options;
    sim_options.host = "127.0.0.1";
    sim_options.generated_pipelines = options.simulated_pipelines;
    auto simulator = databricks::sim::Simulator::Start(sim_options);
    if (!simulator.ok()) return simulator.status();
    backend->simulator_ = *std::move(simulator);
    auth::Profile simulated;
    simulated.name = "simulated";
    simulated.host = backend->simulator_->base_url();
    simulated.auth = auth::AuthKind::kSimulated;
    simulated.token = secrets::SecretSource::FromEnv(
        "SIMULATED_WORKSPACE_TOKEN",
        secrets::StaticEnv({{"SIMULATED_WORKSPACE_TOKEN",
                             backend->simulator_->access_token()}}));
    simulated.origin = "--simulated_workspace";
    profiles->profiles.push_back(std::move(simulated));
    if (profiles->default_name.empty()) profiles->default_name = "simulated";
    log::Warn(
        "OUT-OF-THE-BOX MODE: serving the built-in SIMULATED Databricks "
        "workspace (profile \"simulated\"); its pipelines are not real",
        {log::Field("simulator", backend->simulator_->base_url()),
         log::Field("pipelines", static_cast<int64_t>(
                                     backend->simulator_->PipelineCount()))});
  }
  if (profiles->profiles.empty()) {
    return absl::FailedPreconditionError(
        "no Databricks workspace is configured. Configure one in the "
        "configuration file (--config, key \"workspaces\"), with "
        "DATABRICKS_HOST and DATABRICKS_TOKEN (or another credential), or "
        "with --databrickscfg; or pass --simulated_workspace to try the "
        "service against the built-in simulated workspace");
  }
  for (const auto& p : profiles->profiles) {
    log::Info("workspace configured",
              {log::Field("name", p.name), log::Field("host", p.host),
               log::Field("auth", auth::AuthKindName(p.auth)),
               log::Field("origin", p.origin),
               log::Field("default", p.name == profiles->default_name)});
  }

  // One transport (one event loop) for every workspace; a workspace's CA
  // bundle travels with its own requests (api::ClientOptions).
  backend->transport_ = databricks::http::MakeCurlTransport({});
  backend->workspaces_ = std::make_unique<databricks::api::Workspaces>(
      *profiles, *backend->transport_, options.client);
  backend->job_type_ = std::make_unique<databricks::jobtype::JobType>(
      *backend->workspaces_, *backend->transport_, options.job_type);
  return backend;
}

}  // namespace polysync::server
