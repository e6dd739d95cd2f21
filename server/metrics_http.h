// The Prometheus endpoint: GET /metrics on its own port, serving the
// process-wide metrics registry (common/metrics.h) in the text format.
//
// One thread polls every connection, so an idle connection costs a file
// descriptor, never a worker: a scrape is answered as soon as its request
// arrives, however many connections sit idle. A connection must send its
// request within kMetricsRequestTimeout of connecting and is closed after
// one answer (Connection: close); at most kMetricsMaxConnections are open
// (a new one closes the oldest still waiting for its request).
//
//   auto endpoint = MetricsEndpoint::Start("0.0.0.0:9090");
//   int port = (*endpoint)->bound_port();
#ifndef POLYSYNC_SERVER_METRICS_HTTP_H_
#define POLYSYNC_SERVER_METRICS_HTTP_H_

#include <memory>
#include <string>
#include <thread>

#include "absl/status/statusor.h"
#include "absl/time/time.h"

namespace polysync::server {

inline constexpr absl::Duration kMetricsRequestTimeout = absl::Seconds(2);
inline constexpr int kMetricsMaxConnections = 256;

class MetricsEndpoint {
 public:
  // Listens on `listen` ("host:port"; port 0 picks one).
  static absl::StatusOr<std::unique_ptr<MetricsEndpoint>> Start(
      const std::string& listen);
  ~MetricsEndpoint();

  int bound_port() const { return port_; }

 private:
  MetricsEndpoint() = default;
  void Serve();

  int listen_fd_ = -1;
  int wake_fds_[2] = {-1, -1};  // a pipe: written to stop Serve()
  std::thread thread_;
  int port_ = 0;
};

}  // namespace polysync::server

#endif  // POLYSYNC_SERVER_METRICS_HTTP_H_
