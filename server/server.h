// The polysync-dlt gRPC server: the DatabricksPipelines service, the standard
// health service and (optionally) server reflection, on one port.
//
//   auto server = Server::Start({.config = config});
//   if (!server.ok()) ...;
//   int port = (*server)->bound_port();   // the real port when listen is :0
//   ...
//   (*server)->Shutdown(absl::Seconds(20));  // drains in-flight calls
//
// Health: the empty service name answers for the process and
// "polysync.databricks.v1.DatabricksPipelines" for the service; both turn
// NOT_SERVING as soon as Shutdown() begins.
#ifndef POLYSYNC_SERVER_SERVER_H_
#define POLYSYNC_SERVER_SERVER_H_

#include <grpcpp/generic/async_generic_service.h>
#include <grpcpp/server.h>

#include <memory>
#include <string>

#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "adapters/databricks/http/transport.h"
#include "adapters/databricks/jobtype/job_type.h"
#include "polysync/databricks/v1/config.pb.h"
#include "server/authz.h"
#include "server/pipelines_service.h"

namespace polysync::server {

inline constexpr char kServiceName[] =
    "polysync.databricks.v1.DatabricksPipelines";

// The largest request message the server accepts.
inline constexpr int kMaxRequestBytes = 16 << 20;

struct ServerOptions {
  // A validated configuration (see config.h).
  polysync::databricks::v1::ServerConfig config;
  // Register gRPC server reflection (grpcurl needs it).
  bool enable_reflection = true;
  // The job type the service calls (see backend.h); must outlive the server.
  databricks::jobtype::JobType* job_type = nullptr;
  // The transport every upstream request goes through (see backend.h), or
  // nullptr. When `shutdown_grace` is over, Shutdown() cancels what is still
  // in flight on it, so no call keeps the process waiting on Databricks.
  databricks::http::Transport* upstream = nullptr;
};

// The health service names: the process ("") and the service.
inline constexpr const char* kHealthNames[] = {"", kServiceName};

class Server {
 public:
  // Builds the services and starts listening on `options.config.listen()`.
  static absl::StatusOr<std::unique_ptr<Server>> Start(ServerOptions options);

  ~Server();
  Server(const Server&) = delete;
  Server& operator=(const Server&) = delete;

  // The port actually bound (useful with "127.0.0.1:0").
  int bound_port() const { return bound_port_; }
  // The health-only plaintext port (`health_listen`), or 0.
  int health_port() const { return health_port_; }

  // Readiness (the service's health) turns NOT_SERVING at once; calls are
  // still accepted. The first step of a drain.
  void BeginDrain();

  // Stops accepting calls, lets unary calls finish within `grace`, ends open
  // watches with UNAVAILABLE ("resume the watch") and imports still running
  // with UNAVAILABLE ("import again") just before `grace` runs out, cancels
  // the upstream requests still in flight when it is over (the calls waiting
  // on them end), and returns when every call is done. Health is
  // NOT_SERVING.
  void Shutdown(absl::Duration grace);

  // Blocks until the server has shut down.
  void Wait();

 private:
  Server() = default;

  databricks::jobtype::JobType* job_type_ = nullptr;
  databricks::http::Transport* upstream_ = nullptr;
  std::unique_ptr<Authorizer> authorizer_;
  std::unique_ptr<PipelinesService> service_;
  std::unique_ptr<grpc::Server> server_;
  int bound_port_ = 0;
  // Health only, plaintext, for probes when the main port speaks TLS.
  std::unique_ptr<grpc::CallbackGenericService> nothing_else_;
  std::unique_ptr<grpc::Server> health_server_;
  int health_port_ = 0;
};

}  // namespace polysync::server

#endif  // POLYSYNC_SERVER_SERVER_H_
