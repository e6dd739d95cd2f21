// Everything behind the gRPC service, built from the configuration: the
// workspace profiles (config file, environment, .databrickscfg), the HTTP
// transport, one typed client per workspace, and the job type. In
// out-of-the-box mode it also runs the simulated workspace in-process on
// loopback and adds it as the profile "simulated".
//
//   auto backend = Backend::Create(options);
//   Server::Start({config, true, &(*backend)->job_type()});
#ifndef POLYSYNC_SERVER_BACKEND_H_
#define POLYSYNC_SERVER_BACKEND_H_

#include <memory>
#include <string>

#include "absl/status/statusor.h"
#include "adapters/databricks/api/workspaces.h"
#include "adapters/databricks/http/transport.h"
#include "adapters/databricks/jobtype/job_type.h"
#include "adapters/databricks/simulator/simulator.h"
#include "polysync/databricks/v1/config.pb.h"

namespace polysync::server {

struct BackendOptions {
  polysync::databricks::v1::ServerConfig config;
  // A `.databrickscfg`-style file (--databrickscfg); empty: none.
  std::string databrickscfg_path;
  // --default_workspace; empty: from the configuration.
  std::string default_workspace;
  // --simulated_workspace: run the simulated workspace in-process.
  bool simulated_workspace = false;
  // Extra generated pipelines in the simulated workspace (demos, benchmarks).
  int simulated_pipelines = 0;
  databricks::jobtype::JobTypeOptions job_type;
  databricks::api::ClientOptions client;
};

class Backend {
 public:
  // FAILED_PRECONDITION when no workspace is configured and the simulated
  // workspace was not asked for (the message says how to configure one).
  static absl::StatusOr<std::unique_ptr<Backend>> Create(
      BackendOptions options);
  ~Backend();

  databricks::jobtype::JobType& job_type() { return *job_type_; }
  databricks::api::Workspaces& workspaces() { return *workspaces_; }
  // The one transport of every upstream request (Server cancels what is in
  // flight on it when the shutdown grace is over).
  databricks::http::Transport& transport() { return *transport_; }
  // The in-process simulated workspace, or nullptr.
  databricks::sim::Simulator* simulator() { return simulator_.get(); }

 private:
  Backend() = default;

  // Destroyed in reverse order: the transport first (its pending callbacks
  // still find the job type alive), the simulator last.
  std::unique_ptr<databricks::sim::Simulator> simulator_;
  std::unique_ptr<databricks::api::Workspaces> workspaces_;
  std::unique_ptr<databricks::jobtype::JobType> job_type_;
  std::unique_ptr<databricks::http::Transport> transport_;
};

}  // namespace polysync::server

#endif  // POLYSYNC_SERVER_BACKEND_H_
