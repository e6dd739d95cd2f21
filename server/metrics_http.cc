#include "server/metrics_http.h"

#include <httplib.h>

#include "absl/status/status.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "common/log.h"
#include "common/metrics.h"

namespace polysync::server {

MetricsEndpoint::MetricsEndpoint()
    : http_(std::make_unique<httplib::Server>()) {}

MetricsEndpoint::~MetricsEndpoint() {
  http_->stop();
  if (thread_.joinable()) thread_.join();
}

absl::StatusOr<std::unique_ptr<MetricsEndpoint>> MetricsEndpoint::Start(
    const std::string& listen) {
  const auto colon = listen.rfind(':');
  int port = -1;
  if (colon == std::string::npos ||
      !absl::SimpleAtoi(listen.substr(colon + 1), &port) || port < 0 ||
      port > 65535) {
    return absl::InvalidArgumentError(
        absl::StrCat("metrics_listen: \"", listen, "\" is not host:port"));
  }
  std::string host = listen.substr(0, colon);
  if (host.empty()) host = "0.0.0.0";
  std::unique_ptr<MetricsEndpoint> endpoint(new MetricsEndpoint);
  httplib::Server& http = *endpoint->http_;
  http.set_tcp_nodelay(true);
  http.Get("/metrics", [](const httplib::Request&, httplib::Response& res) {
    res.set_content(metrics::Registry::Default().RenderPrometheus(),
                    "text/plain; version=0.0.4; charset=utf-8");
  });
  endpoint->port_ = port == 0 ? http.bind_to_any_port(host)
                              : (http.bind_to_port(host, port) ? port : -1);
  if (endpoint->port_ <= 0) {
    return absl::UnavailableError(
        absl::StrCat("metrics_listen: cannot listen on ", listen));
  }
  endpoint->thread_ = std::thread([&http] { http.listen_after_bind(); });
  // stop() is a no-op until the server runs: wait for it, so that the
  // destructor can always stop and join.
  for (int i = 0; i < 5000 && !http.is_running(); ++i) {
    absl::SleepFor(absl::Milliseconds(1));
  }
  log::Info(
      "metrics endpoint listening",
      {log::Field("listen", listen), log::Field("port", endpoint->port_)});
  return endpoint;
}

}  // namespace polysync::server
