// The Prometheus endpoint: GET /metrics on its own port, serving the
// process-wide metrics registry (common/metrics.h) in the text format.
//
//   auto endpoint = MetricsEndpoint::Start("0.0.0.0:9090");
//   int port = (*endpoint)->bound_port();
#ifndef POLYSYNC_SERVER_METRICS_HTTP_H_
#define POLYSYNC_SERVER_METRICS_HTTP_H_

#include <memory>
#include <string>
#include <thread>

#include "absl/status/statusor.h"

namespace httplib {
class Server;
}

namespace polysync::server {

class MetricsEndpoint {
 public:
  // Listens on `listen` ("host:port"; port 0 picks one).
  static absl::StatusOr<std::unique_ptr<MetricsEndpoint>> Start(
      const std::string& listen);
  ~MetricsEndpoint();

  int bound_port() const { return port_; }

 private:
  MetricsEndpoint();
  std::unique_ptr<httplib::Server> http_;
  std::thread thread_;
  int port_ = 0;
};

}  // namespace polysync::server

#endif  // POLYSYNC_SERVER_METRICS_HTTP_H_
