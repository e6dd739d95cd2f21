#include "server/metrics_http.h"

#include <httplib.h>
#include <sys/resource.h>
#include <unistd.h>

#include <algorithm>
#include <cstdio>
#include <mutex>

#include "absl/status/status.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "common/log.h"
#include "common/metrics.h"

namespace polysync::server {
namespace {

// The process's own figures, as Prometheus' client libraries name them:
// CPU time from getrusage(RUSAGE_SELF), memory from /proc/self/statm and
// ru_maxrss. Updated on each scrape.
void UpdateProcessMetrics() {
  static auto& cpu = metrics::Registry::Default().Counter(
      "process_cpu_seconds_total",
      "User and system CPU time of the process (getrusage).");
  static auto& rss = metrics::Registry::Default().Gauge(
      "process_resident_memory_bytes", "Resident memory of the process.");
  static auto& max_rss = metrics::Registry::Default().Gauge(
      "process_max_resident_memory_bytes",
      "Peak resident memory of the process (getrusage ru_maxrss).");
  static std::mutex mu;
  static double reported_cpu = 0;
  std::lock_guard<std::mutex> lock(mu);  // one scrape at a time
  double rss_bytes = 0;
  if (FILE* f = std::fopen("/proc/self/statm", "r")) {
    long pages = 0, resident = 0;
    if (std::fscanf(f, "%ld %ld", &pages, &resident) == 2) {
      rss_bytes = static_cast<double>(resident) * sysconf(_SC_PAGESIZE);
      rss.With({}).Set(rss_bytes);
    }
    std::fclose(f);
  }
  struct rusage usage {};
  if (getrusage(RUSAGE_SELF, &usage) == 0) {
    const double seconds = usage.ru_utime.tv_sec +
                           usage.ru_utime.tv_usec / 1e6 +
                           usage.ru_stime.tv_sec + usage.ru_stime.tv_usec / 1e6;
    if (seconds > reported_cpu) {
      cpu.With({}).Increment(seconds - reported_cpu);
      reported_cpu = seconds;
    }
    // The kernel's RSS counters are per-thread caches, so ru_maxrss can lag
    // the statm figure slightly; a peak is never below the current size.
    max_rss.With({}).Set(
        std::max(static_cast<double>(usage.ru_maxrss) * 1024, rss_bytes));
  }
}

}  // namespace

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
    UpdateProcessMetrics();
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
