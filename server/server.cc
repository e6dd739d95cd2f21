#include "server/server.h"

#include <grpcpp/ext/proto_server_reflection_plugin.h>
#include <grpcpp/grpcpp.h>
#include <grpcpp/health_check_service_interface.h>
#include <grpcpp/impl/server_builder_option.h>

#include <algorithm>
#include <chrono>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "common/log.h"

namespace polysync::server {
namespace {

// Linking libgrpc++_reflection registers the reflection plugin with every
// ServerBuilder of the process; this option takes it out of one builder, so
// reflection is a per-server choice.
class WithoutReflection final : public grpc::ServerBuilderOption {
 public:
  void UpdateArguments(grpc::ChannelArguments*) override {}
  void UpdatePlugins(std::vector<std::unique_ptr<grpc::ServerBuilderPlugin>>*
                         plugins) override {
    plugins->erase(std::remove_if(plugins->begin(), plugins->end(),
                                  [](const auto& p) {
                                    return p->name() ==
                                           "proto_server_reflection";
                                  }),
                   plugins->end());
  }
};

}  // namespace

absl::StatusOr<std::unique_ptr<Server>> Server::Start(ServerOptions options) {
  grpc::EnableDefaultHealthCheckService(true);
  std::unique_ptr<Server> server(new Server);
  if (options.job_type == nullptr) {
    return absl::InvalidArgumentError("Server::Start needs a job type");
  }
  server->job_type_ = options.job_type;
  server->service_ = std::make_unique<PipelinesService>(*options.job_type);

  grpc::ServerBuilder builder;
  builder.AddListeningPort(options.config.listen(),
                           grpc::InsecureServerCredentials(),
                           &server->bound_port_);
  builder.RegisterService(server->service_.get());
  if (!options.enable_reflection) {
    builder.SetOption(std::make_unique<WithoutReflection>());
  }
  server->server_ = builder.BuildAndStart();
  if (!server->server_ || server->bound_port_ == 0) {
    return absl::UnavailableError(
        absl::StrCat("cannot listen on ", options.config.listen(),
                     " (address in use, or not a host:port?)"));
  }
  auto* health = server->server_->GetHealthCheckService();
  health->SetServingStatus("", true);
  health->SetServingStatus(kServiceName, true);
  log::Info("gRPC server listening",
            {log::Field("listen", options.config.listen()),
             log::Field("port", server->bound_port_),
             log::Field("reflection", options.enable_reflection)});
  return server;
}

Server::~Server() {
  if (server_) {
    Shutdown(absl::ZeroDuration());
    Wait();
  }
}

void Server::Shutdown(absl::Duration grace) {
  server_->GetHealthCheckService()->Shutdown();
  job_type_->EndWatches(absl::UnavailableError(
      "server draining; resume the watch (another replica will answer)"));
  server_->Shutdown(std::chrono::system_clock::now() +
                    absl::ToChronoMilliseconds(grace));
}

void Server::Wait() { server_->Wait(); }

}  // namespace polysync::server
