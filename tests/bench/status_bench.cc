// Status overhead: GetUpdateStatus at a fixed rate (open loop) with the
// status cache off, against direct HTTP GETs of the same simulator URL at the
// same rate in the same run (phases alternate), and the server's CPU time per
// call (process_cpu_seconds_total, from getrusage). Then the saturation
// throughput with h2load (nghttp2-client) driving unary gRPC with a
// pre-framed body; h2load counts gRPC errors as successes, so the server's
// own per-code counters are checked too.
//
//   bazel run -c opt //tests/bench:status_bench
//
// Both paths use the same HTTP stack (libcurl through the project's
// transport) to reach the simulator, so the difference is the service: the
// gRPC hop, the status rules, the limiter and the proto conversion.
#include <grpcpp/grpcpp.h>
#include <sys/resource.h>
#include <unistd.h>

#include <atomic>
#include <condition_variable>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "absl/flags/flag.h"
#include "absl/flags/parse.h"
#include "absl/flags/usage.h"
#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"
#include "adapters/databricks/http/curl_transport.h"
#include "polysync/databricks/v1/pipelines.grpc.pb.h"
#include "tests/bench/bench_util.h"

ABSL_FLAG(int, rate, 1000, "Calls per second, open loop.");
ABSL_FLAG(absl::Duration, phase, absl::Seconds(5), "Length of one phase.");
ABSL_FLAG(int, rounds, 3, "Phases per path (they alternate).");
ABSL_FLAG(int, saturation_calls, 30000,
          "Calls h2load makes per saturation run (0: skip).");
ABSL_FLAG(int, saturation_connections, 4, "h2load connections.");
ABSL_FLAG(int, saturation_streams, 32,
          "h2load concurrent streams per connection.");
ABSL_FLAG(std::string, h2load, "/usr/bin/h2load", "The h2load binary.");
ABSL_FLAG(std::string, runfiles, "", "Where the binaries are.");

namespace v1 = ::polysync::databricks::v1;
namespace http = ::polysync::databricks::http;
namespace bench = ::polysync::bench;

namespace {

// Latencies of one path (milliseconds) and its failures.
class Recorder {
 public:
  void Add(double ms, bool ok) {
    std::lock_guard<std::mutex> lock(mu_);
    if (ok) {
      ms_.push_back(ms);
    } else {
      ++failures_;
    }
    ++done_;
    cv_.notify_all();
  }
  void WaitFor(int64_t n) {
    std::unique_lock<std::mutex> lock(mu_);
    cv_.wait(lock, [&] { return done_ >= n; });
  }
  std::vector<double> ms() const {
    std::lock_guard<std::mutex> lock(mu_);
    return ms_;
  }
  int64_t failures() const {
    std::lock_guard<std::mutex> lock(mu_);
    return failures_;
  }

 private:
  mutable std::mutex mu_;
  std::condition_variable cv_;
  std::vector<double> ms_;
  int64_t failures_ = 0;
  int64_t done_ = 0;
};

double Ms(absl::Duration d) { return absl::ToDoubleMilliseconds(d); }

// This process's CPU seconds (getrusage).
double SelfCpuSeconds() {
  struct rusage u {};
  getrusage(RUSAGE_SELF, &u);
  return u.ru_utime.tv_sec + u.ru_utime.tv_usec / 1e6 + u.ru_stime.tv_sec +
         u.ru_stime.tv_usec / 1e6;
}

void PrintPath(const char* name, const bench::Percentiles& p,
               int64_t failures) {
  std::printf(
      "%-16s p50 %.3f ms  p90 %.3f ms  p99 %.3f ms  max %.3f ms  (%zu calls, "
      "%lld failed)\n",
      name, p.p50, p.p90, p.p99, p.max, p.count,
      static_cast<long long>(failures));
}

// The 5-byte gRPC frame header and the message: what h2load posts.
std::string GrpcFrame(const google::protobuf::Message& m) {
  const std::string body = m.SerializeAsString();
  std::string frame(5, '\0');
  const uint32_t n = body.size();
  frame[1] = static_cast<char>(n >> 24);
  frame[2] = static_cast<char>(n >> 16);
  frame[3] = static_cast<char>(n >> 8);
  frame[4] = static_cast<char>(n);
  return frame + body;
}

std::string RunCommand(const std::string& command) {
  std::string out;
  FILE* p = popen(command.c_str(), "r");
  if (p == nullptr) return out;
  char buf[4096];
  while (fgets(buf, sizeof buf, p) != nullptr) out += buf;
  pclose(p);
  return out;
}

// One h2load run against `server`; prints the throughput and the server's
// count of OK answers. False when a call was not OK.
bool Saturate(const bench::ServerProcess& server, const std::string& sim_url,
              const std::string& frame_file, const char* label) {
  const std::string ok_series =
      R"(polysync_rpc_calls_total{method="GetUpdateStatus",code="OK"})";
  const std::string before = bench::Scrape(server);
  bench::HttpSend("DELETE", sim_url + "/_sim/stats");
  const int calls = absl::GetFlag(FLAGS_saturation_calls);
  const std::string out = RunCommand(absl::StrCat(
      absl::GetFlag(FLAGS_h2load), " -n ", calls, " -c ",
      absl::GetFlag(FLAGS_saturation_connections), " -m ",
      absl::GetFlag(FLAGS_saturation_streams),
      " -H 'content-type: application/grpc' -H 'te: trailers' -d ", frame_file,
      " http://127.0.0.1:", server.port,
      "/polysync.databricks.v1.DatabricksPipelines/GetUpdateStatus 2>&1"));
  const std::string after = bench::Scrape(server);
  const std::string stats = bench::HttpGet(sim_url + "/_sim/stats");
  long long upstream = 0;
  if (const auto at = stats.find("\"updates.get\":"); at != std::string::npos) {
    upstream = std::atoll(stats.c_str() + at + 14);
  }
  double rps = 0;
  for (absl::string_view line : absl::StrSplit(out, '\n')) {
    // "finished in 3.01s, 9963.54 req/s, 1.18MB/s"
    if (absl::StartsWith(line, "finished in ")) {
      std::vector<std::string> parts = absl::StrSplit(line, ", ");
      if (parts.size() >= 2)
        absl::SimpleAtod(parts[1].substr(0, parts[1].find(' ')), &rps);
    }
  }
  const double ok = bench::MetricValue(after, ok_series) -
                    bench::MetricValue(before, ok_series);
  const double cpu = bench::MetricValue(after, "process_cpu_seconds_total") -
                     bench::MetricValue(before, "process_cpu_seconds_total");
  if (!bench::Measured(ok) || !bench::Measured(cpu)) {
    std::printf("saturation (%s): the server's metrics could not be read\n",
                label);
    return false;
  }
  std::printf(
      "saturation (%s): %.0f calls/s (h2load, %d connections x %d streams); "
      "grpc-status OK for %.0f of %d calls (server counters); server CPU "
      "%.1f us/call; %lld upstream GETs (identical concurrent reads share "
      "one)\n",
      label, rps, absl::GetFlag(FLAGS_saturation_connections),
      absl::GetFlag(FLAGS_saturation_streams), ok, calls,
      ok > 0 ? 1e6 * cpu / ok : 0.0, upstream);
  if (rps <= 0) std::printf("h2load output:\n%s\n", out.c_str());
  return rps > 0 && static_cast<int>(ok) == calls;
}

}  // namespace

int main(int argc, char** argv) {
  absl::SetProgramUsageMessage(
      "Status overhead: GetUpdateStatus vs direct GETs at a fixed rate, server "
      "CPU per call, saturation with h2load.\n  bazel run -c opt "
      "//tests/bench:status_bench [-- flags]");
  absl::ParseCommandLine(argc, argv);
  const std::string runfiles =
      bench::RunfilesDir(argv[0], absl::GetFlag(FLAGS_runfiles));
  const int rate = absl::GetFlag(FLAGS_rate);
  const absl::Duration phase = absl::GetFlag(FLAGS_phase);
  const absl::Duration period = absl::Seconds(1) / rate;
  bool correct = true;

  // One pipeline whose update stays RUNNING for the whole run.
  auto sim = bench::StartSimulator(
      runfiles, {"--seed=false", "--generate_pipelines=1", "--time_scale=0.01",
                 "--running_duration=1000h", "--io_threads=1"});
  if (!sim.ok()) return 2;
  auto server = bench::StartServer(
      runfiles, bench::ServerConfig(sim->url, {{"bench", 1e6, 256}},
                                    R"(, "status_cache_ttl": "0s")"));
  if (!server.ok()) return 2;
  auto channel = grpc::CreateChannel(absl::StrCat("127.0.0.1:", server->port),
                                     grpc::InsecureChannelCredentials());
  auto stub = v1::DatabricksPipelines::NewStub(channel);
  const std::vector<std::string> ids = bench::ListPipelineIds(sim->url);
  if (ids.size() != 1) return 2;
  v1::StartUpdateResponse started;
  {
    grpc::ClientContext context;
    v1::StartUpdateRequest request;
    request.set_pipeline_id(ids[0]);
    if (!stub->StartUpdate(&context, request, &started).ok()) return 2;
  }
  absl::SleepFor(absl::Milliseconds(500));  // past the start-up states

  v1::GetUpdateStatusRequest status_request;
  status_request.set_run_id(started.run_id());
  {
    grpc::ClientContext context;
    v1::UpdateStatus s;
    if (!stub->GetUpdateStatus(&context, status_request, &s).ok() ||
        s.dlt_state() != "RUNNING") {
      std::fprintf(stderr, "status_bench: the update is not RUNNING\n");
      return 2;
    }
  }
  http::Request direct;
  direct.url = absl::StrCat(sim->url, "/api/2.0/pipelines/", ids[0],
                            "/updates/", started.update_id());
  direct.headers.push_back(
      {"Authorization", absl::StrCat("Bearer ", bench::kToken)});
  auto transport = http::MakeCurlTransport({});

  Recorder grpc_rec, http_rec;
  int64_t grpc_calls = 0, http_calls = 0;
  double server_cpu = 0, client_http_cpu = 0;
  auto fire_grpc = [&](Recorder& rec) {
    struct Call {
      grpc::ClientContext context;
      v1::UpdateStatus response;
      absl::Time sent;
    };
    auto* call = new Call;
    call->context.set_deadline(std::chrono::system_clock::now() +
                               std::chrono::seconds(10));
    call->sent = absl::Now();
    stub->async()->GetUpdateStatus(
        &call->context, &status_request, &call->response,
        [call, &rec](grpc::Status s) {
          rec.Add(Ms(absl::Now() - call->sent),
                  s.ok() && call->response.dlt_state() == "RUNNING");
          delete call;
        });
  };
  auto fire_http = [&](Recorder& rec) {
    const absl::Time sent = absl::Now();
    transport->Send(direct, [sent, &rec](http::TransportResult r) {
      rec.Add(Ms(absl::Now() - sent),
              r.status.ok() && r.response.status == 200);
    });
  };
  // Warm-up (connections, caches), not counted.
  {
    Recorder warm_http, warm_grpc;
    const int64_t n = bench::OpenLoop(period, absl::Milliseconds(500),
                                      [&](int64_t) { fire_http(warm_http); });
    bench::OpenLoop(period, absl::Milliseconds(500),
                    [&](int64_t) { fire_grpc(warm_grpc); });
    warm_http.WaitFor(n);
    warm_grpc.WaitFor(n);
  }
  std::printf(
      "status: %d calls/s open loop, %d x %s per path (alternating), status "
      "cache off\n",
      rate, absl::GetFlag(FLAGS_rounds), absl::FormatDuration(phase).c_str());
  for (int round = 0; round < absl::GetFlag(FLAGS_rounds); ++round) {
    const double self_before = SelfCpuSeconds();
    http_calls +=
        bench::OpenLoop(period, phase, [&](int64_t) { fire_http(http_rec); });
    http_rec.WaitFor(http_calls);
    client_http_cpu += SelfCpuSeconds() - self_before;
    const double cpu_before = bench::ServerCpuSeconds(*server);
    grpc_calls +=
        bench::OpenLoop(period, phase, [&](int64_t) { fire_grpc(grpc_rec); });
    grpc_rec.WaitFor(grpc_calls);
    server_cpu += bench::ServerCpuSeconds(*server) - cpu_before;
  }
  // The floor: a call that never leaves the server (ListWorkspaces), at the
  // same rate: what gRPC itself costs here.
  Recorder floor_rec;
  int64_t floor_calls = 0;
  double floor_cpu = 0;
  {
    const double cpu_before = bench::ServerCpuSeconds(*server);
    floor_calls = bench::OpenLoop(period, phase, [&](int64_t) {
      struct Call {
        grpc::ClientContext context;
        v1::ListWorkspacesRequest request;
        v1::ListWorkspacesResponse response;
        absl::Time sent;
      };
      auto* call = new Call;
      call->sent = absl::Now();
      stub->async()->ListWorkspaces(
          &call->context, &call->request, &call->response,
          [call, &floor_rec](grpc::Status s) {
            floor_rec.Add(Ms(absl::Now() - call->sent), s.ok());
            delete call;
          });
    });
    floor_rec.WaitFor(floor_calls);
    floor_cpu = bench::ServerCpuSeconds(*server) - cpu_before;
  }
  const bench::Percentiles h = bench::Summarize(http_rec.ms());
  const bench::Percentiles g = bench::Summarize(grpc_rec.ms());
  PrintPath("direct HTTP GET", h, http_rec.failures());
  PrintPath("GetUpdateStatus", g, grpc_rec.failures());
  if (http_rec.failures() + grpc_rec.failures() + floor_rec.failures() > 0) {
    correct = false;
  }
  const double cpu_us = 1e6 * server_cpu / std::max<int64_t>(1, grpc_calls);
  std::printf("added by the service: p50 %+.3f ms, p99 %+.3f ms\n",
              g.p50 - h.p50, g.p99 - h.p99);
  std::printf("target: added p99 < 1 ms: %.3f ms %s\n", g.p99 - h.p99,
              bench::Verdict(correct && g.count > 0 && h.count > 0 &&
                             g.p99 - h.p99 < 1.0));
  std::printf(
      "target: server CPU per call < 100 us: %.1f us %s (getrusage: "
      "process_cpu_seconds_total over the gRPC phases, its upstream GET "
      "included)\n",
      cpu_us,
      bench::Verdict(correct && bench::Measured(cpu_us) && cpu_us < 100));
  if (!bench::Measured(cpu_us)) {
    std::printf("the server's CPU time could not be read\n");
    correct = false;
  }
  const bench::Percentiles f = bench::Summarize(floor_rec.ms());
  std::printf(
      "reference: this benchmark's own CPU per direct HTTP GET (libcurl, "
      "pacing included): %.1f us/call\n",
      1e6 * client_http_cpu / std::max<int64_t>(1, http_calls));
  std::printf(
      "floor: ListWorkspaces (answered in-process, nothing upstream) at the "
      "same rate: p50 %.3f ms, p99 %.3f ms, server CPU %.1f us/call\n",
      f.p50, f.p99, 1e6 * floor_cpu / std::max<int64_t>(1, floor_calls));

  if (absl::GetFlag(FLAGS_saturation_calls) > 0) {
    if (access(absl::GetFlag(FLAGS_h2load).c_str(), X_OK) != 0) {
      std::printf(
          "saturation: h2load not found at %s (apt install "
          "nghttp2-client)\n",
          absl::GetFlag(FLAGS_h2load).c_str());
      correct = false;
    } else {
      char path[] = "/tmp/status-frame-XXXXXX";
      const int fd = mkstemp(path);
      const std::string frame = GrpcFrame(status_request);
      if (fd < 0 || write(fd, frame.data(), frame.size()) !=
                        static_cast<ssize_t>(frame.size())) {
        return 2;
      }
      close(fd);
      if (!Saturate(*server, sim->url, path, "status cache off")) {
        correct = false;
      }
      // The same server configuration with the default cache (1 s).
      auto cached = bench::StartServer(
          runfiles, bench::ServerConfig(sim->url, {{"bench", 1e6, 256}}));
      if (!cached.ok()) return 2;
      if (!Saturate(*cached, sim->url, path, "status cache 1s, the default")) {
        correct = false;
      }
      unlink(path);
    }
  }
  std::printf("status_bench: %s\n", correct ? "ok" : "FAILED CALLS");
  return correct ? 0 : 1;
}
