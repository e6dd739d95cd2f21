#include "server/server.h"

#include <grpcpp/ext/proto_server_reflection_plugin.h>
#include <grpcpp/grpcpp.h>
#include <grpcpp/health_check_service_interface.h>
#include <grpcpp/impl/server_builder_option.h>
#include <grpcpp/security/server_credentials.h>
#include <grpcpp/security/tls_certificate_provider.h>
#include <grpcpp/security/tls_credentials_options.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <condition_variable>
#include <mutex>
#include <thread>

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

// Answers every method the health-only port does not serve with
// UNIMPLEMENTED. (A gRPC server with callback methods needs at least one
// registered; health itself is added by gRPC.)
class NothingElse final : public grpc::CallbackGenericService {
 public:
  grpc::ServerGenericBidiReactor* CreateReactor(
      grpc::GenericCallbackServerContext*) override {
    class Refuse final : public grpc::ServerGenericBidiReactor {
     public:
      Refuse() {
        Finish(grpc::Status(grpc::StatusCode::UNIMPLEMENTED,
                            "this port serves only grpc.health.v1.Health"));
      }
      void OnDone() override { delete this; }
    };
    return new Refuse;
  }
};

// Plaintext, or TLS (optionally mTLS) with certificate files watched for
// rotation.
absl::StatusOr<std::shared_ptr<grpc::ServerCredentials>> ServerCredentials(
    const polysync::databricks::v1::ServerConfig& config) {
  if (!config.has_tls()) return grpc::InsecureServerCredentials();
  const auto& tls = config.tls();
  if (tls.cert_file().empty() || tls.key_file().empty()) {
    return absl::InvalidArgumentError(
        "tls: cert_file and key_file are both required");
  }
  if (tls.require_client_certificate() && tls.client_ca_file().empty()) {
    return absl::InvalidArgumentError(
        "tls.require_client_certificate needs tls.client_ca_file");
  }
  for (const std::string& file :
       {tls.cert_file(), tls.key_file(), tls.client_ca_file()}) {
    if (!file.empty() && access(file.c_str(), R_OK) != 0) {
      return absl::InvalidArgumentError(
          absl::StrCat("tls: cannot read ", file));
    }
  }
  constexpr unsigned int kRefreshSeconds = 60;
  auto provider = tls.client_ca_file().empty()
                      ? std::make_shared<
                            grpc::experimental::FileWatcherCertificateProvider>(
                            tls.key_file(), tls.cert_file(), kRefreshSeconds)
                      : std::make_shared<
                            grpc::experimental::FileWatcherCertificateProvider>(
                            tls.key_file(), tls.cert_file(),
                            tls.client_ca_file(), kRefreshSeconds);
  grpc::experimental::TlsServerCredentialsOptions options(provider);
  options.watch_identity_key_cert_pairs();
  if (!tls.client_ca_file().empty()) {
    options.watch_root_certs();
    options.set_cert_request_type(
        tls.require_client_certificate()
            ? GRPC_SSL_REQUEST_AND_REQUIRE_CLIENT_CERTIFICATE_AND_VERIFY
            : GRPC_SSL_REQUEST_CLIENT_CERTIFICATE_AND_VERIFY);
  } else {
    options.set_cert_request_type(GRPC_SSL_DONT_REQUEST_CLIENT_CERTIFICATE);
  }
  return grpc::experimental::TlsServerCredentials(options);
}

}  // namespace

absl::StatusOr<std::unique_ptr<Server>> Server::Start(ServerOptions options) {
  grpc::EnableDefaultHealthCheckService(true);
  std::unique_ptr<Server> server(new Server);
  if (options.job_type == nullptr) {
    return absl::InvalidArgumentError("Server::Start needs a job type");
  }
  server->job_type_ = options.job_type;
  server->upstream_ = options.upstream;
  auto authorizer = Authorizer::Create(options.config.authorization());
  if (!authorizer.ok()) return authorizer.status();
  server->authorizer_ = *std::move(authorizer);
  server->service_ = std::make_unique<PipelinesService>(
      *options.job_type, server->authorizer_.get());

  auto credentials = ServerCredentials(options.config);
  if (!credentials.ok()) return credentials.status();
  grpc::ServerBuilder builder;
  builder.AddListeningPort(options.config.listen(), *credentials,
                           &server->bound_port_);
  builder.RegisterService(server->service_.get());
  // Requests are small (the largest valid StartUpdate is well under this);
  // anything bigger is refused by gRPC with RESOURCE_EXHAUSTED.
  builder.SetMaxReceiveMessageSize(kMaxRequestBytes);
  if (!options.enable_reflection || options.config.disable_reflection()) {
    builder.SetOption(std::make_unique<WithoutReflection>());
  }
  server->server_ = builder.BuildAndStart();
  if (!server->server_ || server->bound_port_ == 0) {
    return absl::UnavailableError(
        absl::StrCat("cannot listen on ", options.config.listen(),
                     " (address in use, or not a host:port?)"));
  }
  if (!options.config.health_listen().empty()) {
    grpc::ServerBuilder health_builder;
    health_builder.AddListeningPort(options.config.health_listen(),
                                    grpc::InsecureServerCredentials(),
                                    &server->health_port_);
    health_builder.SetOption(std::make_unique<WithoutReflection>());
    server->nothing_else_ = std::make_unique<NothingElse>();
    health_builder.RegisterCallbackGenericService(server->nothing_else_.get());
    server->health_server_ = health_builder.BuildAndStart();
    if (!server->health_server_ || server->health_port_ == 0) {
      server->server_->Shutdown();
      return absl::UnavailableError(absl::StrCat(
          "health_listen: cannot listen on ", options.config.health_listen()));
    }
  }
  for (grpc::Server* s :
       {server->server_.get(), server->health_server_.get()}) {
    if (s == nullptr) continue;
    for (const char* name : kHealthNames) {
      s->GetHealthCheckService()->SetServingStatus(name, true);
    }
  }
  log::Info(
      "gRPC server listening",
      {log::Field("listen", options.config.listen()),
       log::Field("port", server->bound_port_),
       log::Field("tls", options.config.has_tls()),
       log::Field("authorization", options.config.authorization().enabled()),
       log::Field("reflection", options.enable_reflection &&
                                    !options.config.disable_reflection())});
  return server;
}

Server::~Server() {
  if (server_) {
    Shutdown(absl::ZeroDuration());
    Wait();
  }
}

void Server::BeginDrain() {
  for (grpc::Server* s : {server_.get(), health_server_.get()}) {
    if (s != nullptr) {
      s->GetHealthCheckService()->SetServingStatus(kServiceName, false);
    }
  }
}

void Server::Shutdown(absl::Duration grace) {
  server_->GetHealthCheckService()->Shutdown();
  if (health_server_ != nullptr) {
    health_server_->GetHealthCheckService()->Shutdown();
  }
  // Watches never end on their own, and imports may outlast the grace
  // period: end them cleanly just before it runs out, so they see
  // UNAVAILABLE saying what to do rather than a cancellation.
  const absl::Duration watch_margin =
      std::min(absl::Milliseconds(500), grace / 4);
  std::mutex mu;
  std::condition_variable cv;
  bool done = false;
  const auto started = std::chrono::steady_clock::now();
  std::thread ender([&] {
    std::unique_lock<std::mutex> lock(mu);
    cv.wait_until(lock,
                  started + absl::ToChronoMilliseconds(grace - watch_margin),
                  [&] { return done; });
    lock.unlock();
    job_type_->EndWatches(absl::UnavailableError(
        "server draining; resume the watch (another replica will answer)"));
    service_->EndImports(absl::UnavailableError(
        "server draining; import again (another replica will answer)"));
    lock.lock();
    // gRPC has cancelled the calls still running when the grace period is
    // over, but a call ends only when its upstream request answers: end
    // those requests, so a stalled Databricks cannot hold the process.
    if (!cv.wait_until(lock, started + absl::ToChronoMilliseconds(grace),
                       [&] { return done; }) &&
        upstream_ != nullptr) {
      lock.unlock();
      upstream_->CancelAll("server shutting down (shutdown_grace is over)");
    }
  });
  server_->Shutdown(std::chrono::system_clock::now() +
                    absl::ToChronoMilliseconds(grace));
  if (health_server_ != nullptr) {
    health_server_->GetHealthCheckService()->Shutdown();
    health_server_->Shutdown();
  }
  {
    std::lock_guard<std::mutex> lock(mu);
    done = true;
  }
  cv.notify_all();
  ender.join();
}

void Server::Wait() {
  server_->Wait();
  if (health_server_ != nullptr) health_server_->Wait();
}

}  // namespace polysync::server
