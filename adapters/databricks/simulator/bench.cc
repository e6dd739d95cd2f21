// Capacity benchmark of the simulator: many concurrent kept-alive
// connections with injected latency, and plain GET throughput. Starts a
// simulator in-process and drives it with an asynchronous Beast client.
//
//   bazel run -c opt //adapters/databricks/simulator:bench
//   bazel run -c opt //adapters/databricks/simulator:bench -- --duration=5s
#include <algorithm>
#include <boost/asio.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <chrono>
#include <cstdio>
#include <memory>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "absl/flags/flag.h"
#include "absl/flags/parse.h"
#include "absl/time/time.h"
#include "adapters/databricks/simulator/simulator.h"
#include "common/log.h"

ABSL_FLAG(int, connections, 256,
          "Concurrent kept-alive connections of the latency scenario.");
ABSL_FLAG(int, latency_ms, 20, "Latency injected on every GET.");
ABSL_FLAG(int, throughput_connections, 32,
          "Connections of the throughput scenario (no latency).");
ABSL_FLAG(absl::Duration, duration, absl::Seconds(3), "Length of each run.");
ABSL_FLAG(int, server_threads, 2, "io threads of the simulator.");
ABSL_FLAG(int, client_threads, 1, "Threads of the load generator.");
ABSL_FLAG(double, min_rate, 0,
          "Exit 1 when the throughput scenario is below this many GETs/s.");

namespace {

namespace net = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
using tcp = net::ip::tcp;
using Clock = std::chrono::steady_clock;

struct Stats {
  int64_t ok = 0;
  int64_t errors = 0;
  int connections_served = 0;  // connections with at least one answer
  std::vector<double> latencies_ms;
};

class Conn : public std::enable_shared_from_this<Conn> {
 public:
  Conn(net::io_context& ioc, tcp::endpoint ep, const std::string& request,
       Clock::time_point deadline, Stats* stats)
      : socket_(ioc),
        ep_(ep),
        request_(request),
        deadline_(deadline),
        stats_(stats) {}

  void Start() {
    socket_.async_connect(
        ep_, [self = shared_from_this()](const boost::system::error_code& ec) {
          if (ec) {
            ++self->stats_->errors;
            return;
          }
          boost::system::error_code ignored;
          self->socket_.set_option(tcp::no_delay(true), ignored);
          self->Send();
        });
  }

 private:
  void Send() {
    if (Clock::now() >= deadline_) return;
    sent_ = Clock::now();
    net::async_write(socket_, net::buffer(request_),
                     [self = shared_from_this()](
                         const boost::system::error_code& ec, size_t) {
                       if (ec) {
                         ++self->stats_->errors;
                         return;
                       }
                       self->Receive();
                     });
  }

  void Receive() {
    parser_.emplace();
    parser_->body_limit(64 << 20);
    http::async_read(
        socket_, buffer_, *parser_,
        [self = shared_from_this()](const boost::system::error_code& ec,
                                    size_t) { self->OnResponse(ec); });
  }

  void OnResponse(const boost::system::error_code& ec) {
    if (ec || parser_->get().result_int() != 200) {
      ++stats_->errors;
      return;
    }
    if (!served_) {
      served_ = true;
      ++stats_->connections_served;
    }
    ++stats_->ok;
    stats_->latencies_ms.push_back(
        std::chrono::duration<double, std::milli>(Clock::now() - sent_)
            .count());
    Send();
  }

  tcp::socket socket_;
  tcp::endpoint ep_;
  const std::string& request_;
  Clock::time_point deadline_;
  Stats* stats_;
  Clock::time_point sent_;
  beast::flat_buffer buffer_;
  std::optional<http::response_parser<http::string_body>> parser_;
  bool served_ = false;
};

// Runs `connections` closed-loop clients for `duration`; one Stats per
// client thread, merged.
Stats Run(int port, const std::string& request, int connections,
          absl::Duration duration, int threads) {
  auto deadline = Clock::now() +
                  std::chrono::nanoseconds(absl::ToInt64Nanoseconds(duration));
  tcp::endpoint ep(net::ip::make_address("127.0.0.1"),
                   static_cast<uint16_t>(port));
  std::vector<Stats> per_thread(threads);
  std::vector<std::thread> workers;
  for (int t = 0; t < threads; ++t) {
    workers.emplace_back([&, t] {
      net::io_context ioc(1);
      int mine = connections / threads + (t < connections % threads ? 1 : 0);
      for (int i = 0; i < mine; ++i) {
        std::make_shared<Conn>(ioc, ep, request, deadline, &per_thread[t])
            ->Start();
      }
      ioc.run();
    });
  }
  for (auto& w : workers) w.join();
  Stats all;
  for (auto& s : per_thread) {
    all.ok += s.ok;
    all.errors += s.errors;
    all.connections_served += s.connections_served;
    all.latencies_ms.insert(all.latencies_ms.end(), s.latencies_ms.begin(),
                            s.latencies_ms.end());
  }
  std::sort(all.latencies_ms.begin(), all.latencies_ms.end());
  return all;
}

double Percentile(const std::vector<double>& sorted, double p) {
  if (sorted.empty()) return 0;
  size_t i = static_cast<size_t>(p * (sorted.size() - 1));
  return sorted[i];
}

void Print(const char* name, const Stats& s, absl::Duration d, int conns) {
  double secs = absl::ToDoubleSeconds(d);
  std::printf(
      "%-10s connections=%d served=%d requests=%lld errors=%lld "
      "rate=%.0f/s p50=%.2fms p99=%.2fms max=%.2fms\n",
      name, conns, s.connections_served, static_cast<long long>(s.ok),
      static_cast<long long>(s.errors), s.ok / secs,
      Percentile(s.latencies_ms, 0.5), Percentile(s.latencies_ms, 0.99),
      s.latencies_ms.empty() ? 0.0 : s.latencies_ms.back());
  std::fflush(stdout);
}

}  // namespace

int main(int argc, char** argv) {
  absl::ParseCommandLine(argc, argv);
  polysync::log::SetMinLevel(polysync::log::Level::kWarn);
  using polysync::databricks::sim::FaultKind;
  using polysync::databricks::sim::FaultRule;
  using polysync::databricks::sim::Simulator;
  using polysync::databricks::sim::SimulatorOptions;

  SimulatorOptions options;
  options.io_threads = absl::GetFlag(FLAGS_server_threads);
  auto sim = Simulator::Start(options);
  if (!sim.ok()) {
    std::fprintf(stderr, "cannot start the simulator: %s\n",
                 std::string(sim.status().message()).c_str());
    return 2;
  }
  const std::string id = (*sim)->seeded_pipelines()[0].id;
  const std::string get = "GET /api/2.0/pipelines/" + id +
                          " HTTP/1.1\r\nHost: 127.0.0.1\r\nAuthorization: "
                          "Bearer " +
                          (*sim)->access_token() + "\r\n\r\n";
  const absl::Duration duration = absl::GetFlag(FLAGS_duration);
  const int threads = std::max(1, absl::GetFlag(FLAGS_client_threads));

  // 1. Plain GET throughput.
  const int tconns = absl::GetFlag(FLAGS_throughput_connections);
  Stats throughput = Run((*sim)->port(), get, tconns, duration, threads);
  Print("throughput", throughput, duration, tconns);

  // 2. Many kept-alive connections, each request delayed by a timer.
  FaultRule latency;
  latency.endpoint = "pipelines.get";
  latency.kind = FaultKind::kLatency;
  latency.count = -1;
  latency.latency = absl::Milliseconds(absl::GetFlag(FLAGS_latency_ms));
  (*sim)->InjectFault(latency);
  const int lconns = absl::GetFlag(FLAGS_connections);
  Stats delayed = Run((*sim)->port(), get, lconns, duration, threads);
  Print("latency", delayed, duration, lconns);
  (*sim)->Shutdown();

  bool ok =
      throughput.errors == 0 && delayed.errors == 0 &&
      delayed.connections_served == lconns &&
      throughput.ok / absl::ToDoubleSeconds(duration) >=
          absl::GetFlag(FLAGS_min_rate) &&
      Percentile(delayed.latencies_ms, 0.5) >= absl::GetFlag(FLAGS_latency_ms);
  std::printf("%s\n", ok ? "bench: ok" : "bench: FAILED");
  return ok ? 0 : 1;
}
