// Soak: runs the server binary in out-of-the-box mode for a chosen time
// under a steady load with injected faults, and reports the server's RSS at
// start and end, calls answered, errors by code, and whether it crashed.
//
//   bazel run -c opt //tests/soak:soak -- --duration=10m --clients=8
//
// The simulated workspace and the server run as two separate processes (from
// the runfiles), so the server's RSS is the service's own; faults are
// injected through the simulator's admin endpoint (`--fault_rate` of every
// upstream request: 503s, resets, 429s and latency).
#include <grpcpp/grpcpp.h>
#include <sys/wait.h>

#include <atomic>
#include <cstdio>
#include <map>
#include <mutex>
#include <random>
#include <string>
#include <thread>
#include <vector>

#include "absl/flags/flag.h"
#include "absl/flags/parse.h"
#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"
#include "adapters/databricks/http/curl_transport.h"
#include "polysync/databricks/v1/pipelines.grpc.pb.h"
#include "tests/bench/bench_util.h"

ABSL_FLAG(absl::Duration, duration, absl::Minutes(1), "How long to run.");
ABSL_FLAG(int, clients, 8, "Concurrent client threads.");
ABSL_FLAG(
    double, fault_rate, 0.05,
    "Fraction of upstream requests that fail (503, reset, 429, latency).");
ABSL_FLAG(int, pipelines, 200, "Generated pipelines in the workspace.");
ABSL_FLAG(std::string, runfiles, "",
          "Where the server and simulator binaries are (default: this "
          "binary's runfiles).");
ABSL_FLAG(double, max_rss_growth, 0.10,
          "Fail (exit 1) when RSS grew more than this fraction.");

namespace v1 = ::polysync::databricks::v1;
namespace http = ::polysync::databricks::http;
namespace bench = ::polysync::bench;

int main(int argc, char** argv) {
  absl::ParseCommandLine(argc, argv);
  const std::string runfiles =
      bench::RunfilesDir(argv[0], absl::GetFlag(FLAGS_runfiles));
  // The simulated workspace, on its own; the server, configured for it with
  // the default request limits.
  auto sim = bench::StartSimulator(
      runfiles,
      {absl::StrCat("--generate_pipelines=", absl::GetFlag(FLAGS_pipelines))});
  if (!sim.ok()) {
    std::fprintf(stderr, "soak: the simulator did not start\n");
    return 2;
  }
  const std::string& sim_url = sim->url;
  auto server = bench::StartServer(
      runfiles, bench::ServerConfig(sim_url, {{"soak", 0, 0}}),
      {"--shutdown_grace=5s"});
  if (!server.ok()) {
    std::fprintf(stderr, "soak: the server did not start\n");
    return 2;
  }
  const pid_t pid = server->child->pid();
  const int port = server->port;

  auto transport = http::MakeCurlTransport({});
  const double rate = absl::GetFlag(FLAGS_fault_rate);
  const std::string kinds[] = {
      R"("kind": "http_error", "status": 503)", R"("kind": "reset")",
      R"("kind": "http_error", "status": 429, "retry_after_seconds": 0)",
      R"("kind": "latency", "latency_ms": 200)"};
  for (const auto& kind : kinds) {
    http::Request r;
    r.method = "POST";
    r.url = sim_url + "/_sim/faults";
    r.body = absl::StrCat(R"({"endpoint": "*", )", kind, R"(, "probability": )",
                          rate / 4, R"(, "count": -1})");
    auto result = http::SendAndWait(*transport, r);
    if (!result.status.ok() || result.response.status != 200) {
      std::fprintf(stderr, "soak: cannot inject faults: %s %s\n",
                   result.status.ToString().c_str(),
                   result.response.body.c_str());
    }
  }

  auto channel = grpc::CreateChannel(absl::StrCat("127.0.0.1:", port),
                                     grpc::InsecureChannelCredentials());
  auto stub = v1::DatabricksPipelines::NewStub(channel);
  std::vector<std::string> ids;
  {
    grpc::ClientContext context;
    auto reader = stub->ImportPipelines(&context, {});
    v1::ImportPipelinesResponse batch;
    while (reader->Read(&batch)) {
      for (const auto& job : batch.jobs()) ids.push_back(job.external_id());
    }
    reader->Finish();
  }
  if (ids.empty()) {
    std::fprintf(stderr, "soak: no pipelines imported\n");
    return 2;
  }
  absl::SleepFor(absl::Seconds(1));
  const int64_t rss_start = bench::ProcStatusKb(pid, "VmRSS");
  std::atomic<bool> stop{false};
  std::mutex mu;
  std::map<std::string, int64_t> codes;
  std::atomic<int64_t> calls{0};
  std::vector<std::thread> clients;
  for (int c = 0; c < absl::GetFlag(FLAGS_clients); ++c) {
    clients.emplace_back([&, c] {
      std::mt19937 rng(c);
      std::map<std::string, std::string> runs;  // pipeline -> run id
      int64_t n = 0;
      while (!stop) {
        const std::string& id = ids[rng() % ids.size()];
        grpc::ClientContext context;
        context.set_deadline(std::chrono::system_clock::now() +
                             std::chrono::seconds(30));
        grpc::Status status;
        const int what = rng() % 10;
        if (what < 2) {
          v1::StartUpdateRequest q;
          q.set_pipeline_id(id);
          q.set_idempotency_key(absl::StrCat("soak-", c, "-", n++));
          q.set_if_running(v1::IF_RUNNING_ATTACH);
          v1::StartUpdateResponse r;
          status = stub->StartUpdate(&context, q, &r);
          if (status.ok()) runs[id] = r.run_id();
        } else if (what < 7 && runs.count(id)) {
          v1::GetUpdateStatusRequest q;
          q.set_run_id(runs[id]);
          v1::UpdateStatus r;
          status = stub->GetUpdateStatus(&context, q, &r);
        } else if (what < 9) {
          v1::SyncParametersRequest q;
          q.set_pipeline_id(id);
          v1::SyncParametersResponse r;
          status = stub->SyncParameters(&context, q, &r);
        } else {
          v1::ListWorkspacesResponse r;
          status = stub->ListWorkspaces(&context, {}, &r);
        }
        ++calls;
        std::lock_guard<std::mutex> lock(mu);
        ++codes[std::to_string(static_cast<int>(status.error_code()))];
      }
    });
  }
  const absl::Time start = absl::Now();
  const absl::Duration duration = absl::GetFlag(FLAGS_duration);
  int64_t rss_peak = rss_start;
  while (absl::Now() - start < duration) {
    absl::SleepFor(std::min(absl::Seconds(5), duration));
    rss_peak = std::max(rss_peak, bench::ProcStatusKb(pid, "VmRSS"));
    if (server->child->Exited()) {
      std::fprintf(stderr, "soak: the server died\n");
      stop = true;
      for (auto& t : clients) t.join();
      std::printf("crashes=1\n");
      return 1;
    }
  }
  stop = true;
  for (auto& t : clients) t.join();
  const int64_t rss_end = bench::ProcStatusKb(pid, "VmRSS");
  const int wait_status = server->child->Stop();
  sim->child->Stop();
  const bool clean_exit =
      WIFEXITED(wait_status) && WEXITSTATUS(wait_status) == 0;
  const double growth =
      rss_start > 0 ? static_cast<double>(rss_end - rss_start) / rss_start : 0;
  std::printf("duration=%s clients=%d fault_rate=%.2f\n",
              absl::FormatDuration(absl::Now() - start).c_str(),
              absl::GetFlag(FLAGS_clients), rate);
  // A call is unanswered when the caller's deadline (30 s) ran out.
  const int64_t unanswered = codes["4"];
  std::printf("calls=%lld answered=%lld\n",
              static_cast<long long>(calls.load()),
              static_cast<long long>(calls.load() - unanswered));
  std::printf("codes:");
  for (const auto& [code, n] : codes) {
    std::printf(" %s=%lld", code.c_str(), static_cast<long long>(n));
  }
  std::printf(
      "\nrss_start_kb=%lld rss_end_kb=%lld rss_peak_kb=%lld "
      "growth=%.1f%%\n",
      static_cast<long long>(rss_start), static_cast<long long>(rss_end),
      static_cast<long long>(rss_peak), 100 * growth);
  std::printf("crashes=%d clean_exit=%s\n", clean_exit ? 0 : 1,
              clean_exit ? "yes" : "no");
  const bool ok = clean_exit && unanswered == 0 &&
                  growth <= absl::GetFlag(FLAGS_max_rss_growth);
  std::printf("soak: %s\n", ok ? "ok" : "FAILED");
  return ok ? 0 : 1;
}
