// Poll storm: many callers watching and polling the same running updates.
// Half the callers hold a WatchUpdate stream open, half call GetUpdateStatus
// on a fixed schedule (open loop); every caller follows one of the updates.
// Reports the upstream requests the simulated workspace received per update
// per cache period (the status cache's TTL, 1 s by default): the service
// should read each running update from Databricks at most once per period,
// however many callers ask.
//
//   bazel run -c opt //tests/bench:poll_storm_bench
#include <grpcpp/grpcpp.h>

#include <atomic>
#include <cmath>
#include <cstdio>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "absl/flags/flag.h"
#include "absl/flags/parse.h"
#include "absl/flags/usage.h"
#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"
#include "nlohmann/json.hpp"
#include "polysync/databricks/v1/pipelines.grpc.pb.h"
#include "tests/bench/bench_util.h"

ABSL_FLAG(int, updates, 100, "Running updates.");
ABSL_FLAG(int, watchers, 500, "Callers holding a WatchUpdate stream.");
ABSL_FLAG(int, pollers, 500, "Callers polling GetUpdateStatus.");
ABSL_FLAG(absl::Duration, poll_interval, absl::Milliseconds(250),
          "Each poller's interval.");
ABSL_FLAG(absl::Duration, duration, absl::Seconds(30),
          "How long the storm is measured.");
ABSL_FLAG(absl::Duration, warmup, absl::Seconds(2),
          "How long the storm runs before it is measured (every caller "
          "connected, every cache entry filled).");
ABSL_FLAG(absl::Duration, cache_ttl, absl::Seconds(1),
          "The server's status_cache_ttl (the cache period).");
ABSL_FLAG(std::string, runfiles, "", "Where the binaries are.");

namespace v1 = ::polysync::databricks::v1;
namespace bench = ::polysync::bench;
using nlohmann::json;

namespace {

int64_t UpstreamRequests(const std::string& sim_url, json* by_endpoint) {
  json stats =
      json::parse(bench::HttpGet(sim_url + "/_sim/stats"), nullptr, false);
  if (stats.is_discarded()) return -1;
  int64_t total = 0;
  for (const auto& [endpoint, n] : stats["requests"].items()) {
    total += n.get<int64_t>();
  }
  *by_endpoint = stats["requests"];
  return total;
}

}  // namespace

int main(int argc, char** argv) {
  absl::SetProgramUsageMessage(
      "Poll storm: watchers and pollers on running updates; upstream requests "
      "per update per cache period.\n  bazel run -c opt "
      "//tests/bench:poll_storm_bench [-- flags]");
  absl::ParseCommandLine(argc, argv);
  const std::string runfiles =
      bench::RunfilesDir(argv[0], absl::GetFlag(FLAGS_runfiles));
  const int n_updates = absl::GetFlag(FLAGS_updates);
  const int n_watchers = absl::GetFlag(FLAGS_watchers);
  const int n_pollers = absl::GetFlag(FLAGS_pollers);
  const absl::Duration duration = absl::GetFlag(FLAGS_duration);
  const absl::Duration ttl = absl::GetFlag(FLAGS_cache_ttl);
  if (ttl <= absl::ZeroDuration()) {
    std::fprintf(stderr, "poll_storm_bench: --cache_ttl must be positive\n");
    return 64;
  }
  bool correct = true;

  auto sim = bench::StartSimulator(
      runfiles,
      {"--seed=false", absl::StrCat("--generate_pipelines=", n_updates),
       "--time_scale=0.01", "--running_duration=1000h", "--io_threads=1"});
  if (!sim.ok()) return 2;
  auto server = bench::StartServer(
      runfiles,
      bench::ServerConfig(sim->url, {{"storm", 1000, 64}},
                          absl::StrCat(R"(, "status_cache_ttl": ")",
                                       absl::ToDoubleSeconds(ttl), R"(s")")));
  if (!server.ok()) return 2;
  auto channel = grpc::CreateChannel(absl::StrCat("127.0.0.1:", server->port),
                                     grpc::InsecureChannelCredentials());
  auto stub = v1::DatabricksPipelines::NewStub(channel);

  // The running updates.
  std::vector<std::string> runs;
  for (const auto& id : bench::ListPipelineIds(sim->url)) {
    grpc::ClientContext context;
    v1::StartUpdateRequest request;
    request.set_pipeline_id(id);
    v1::StartUpdateResponse response;
    if (!stub->StartUpdate(&context, request, &response).ok()) return 2;
    runs.push_back(response.run_id());
  }
  if (static_cast<int>(runs.size()) != n_updates) return 2;
  absl::SleepFor(absl::Milliseconds(500));  // past the start-up states
  const absl::Duration warmup = absl::GetFlag(FLAGS_warmup);
  const absl::Time start = absl::Now();

  // Watchers: one thread each, reading until cancelled.
  std::atomic<int64_t> watch_messages{0};
  std::atomic<int> watch_errors{0};
  std::vector<std::unique_ptr<grpc::ClientContext>> watch_contexts;
  std::vector<std::thread> watch_threads;
  for (int i = 0; i < n_watchers; ++i) {
    watch_contexts.push_back(std::make_unique<grpc::ClientContext>());
    grpc::ClientContext* context = watch_contexts.back().get();
    v1::WatchUpdateRequest request;
    request.set_run_id(runs[i % runs.size()]);
    watch_threads.emplace_back([&, context, request] {
      auto reader = stub->WatchUpdate(context, request);
      v1::UpdateStatus s;
      while (reader->Read(&s)) {
        if (s.dlt_state() != "RUNNING") ++watch_errors;
        ++watch_messages;
      }
      // Ended by the benchmark's cancel, or by an error before it.
      if (reader->Finish().error_code() != grpc::StatusCode::CANCELLED) {
        ++watch_errors;
      }
    });
  }

  // Pollers: open loop, one call per poller per interval, spread evenly.
  std::mutex mu;
  std::vector<double> poll_ms;
  std::atomic<int64_t> poll_errors{0};
  std::atomic<int64_t> polls_fired{0}, polls_done{0};
  std::thread pacer([&] {
    if (n_pollers == 0) return;
    const absl::Duration period =
        absl::GetFlag(FLAGS_poll_interval) / n_pollers;
    bench::OpenLoop(period, warmup + duration, [&](int64_t i) {
      struct Call {
        grpc::ClientContext context;
        v1::GetUpdateStatusRequest request;
        v1::UpdateStatus response;
        absl::Time sent;
      };
      auto* call = new Call;
      call->request.set_run_id(runs[(i % n_pollers) % runs.size()]);
      call->context.set_deadline(std::chrono::system_clock::now() +
                                 std::chrono::seconds(30));
      call->sent = absl::Now();
      ++polls_fired;
      stub->async()->GetUpdateStatus(
          &call->context, &call->request, &call->response,
          [&, call](grpc::Status s) {
            const double ms =
                absl::ToDoubleMilliseconds(absl::Now() - call->sent);
            if (!s.ok() || call->response.dlt_state() != "RUNNING") {
              ++poll_errors;
            }
            {
              std::lock_guard<std::mutex> lock(mu);
              poll_ms.push_back(ms);
            }
            ++polls_done;
            delete call;
          });
    });
  });
  // The measured window.
  absl::SleepFor(warmup - (absl::Now() - start));
  bench::HttpSend("DELETE", sim->url + "/_sim/stats");
  const std::string metrics_before = bench::Scrape(*server);
  const absl::Time measured = absl::Now();
  const int64_t watch_messages_before = watch_messages;
  pacer.join();
  absl::SleepFor(warmup + duration - (absl::Now() - start));
  const absl::Duration elapsed = absl::Now() - measured;
  json by_endpoint;
  const int64_t upstream = UpstreamRequests(sim->url, &by_endpoint);
  for (auto& c : watch_contexts) c->TryCancel();
  for (auto& t : watch_threads) t.join();
  while (polls_done < polls_fired) absl::SleepFor(absl::Milliseconds(10));
  const std::string metrics_after = bench::Scrape(*server);

  const double periods =
      absl::ToDoubleSeconds(elapsed) / absl::ToDoubleSeconds(ttl);
  const double per_update_period = upstream / (n_updates * periods);
  bench::Percentiles p;
  {
    std::lock_guard<std::mutex> lock(mu);
    p = bench::Summarize(poll_ms);
  }
  auto lookups = [&](const char* result) {
    const std::string series = absl::StrCat(
        R"(polysync_status_cache_lookups_total{result=")", result, R"("})");
    return bench::MetricValue(metrics_after, series) -
           bench::MetricValue(metrics_before, series);
  };
  std::printf(
      "poll storm: %d updates RUNNING, %d watchers + %d pollers (one call "
      "each per %s), measured for %.1f s after %s, status cache %s\n",
      n_updates, n_watchers, n_pollers,
      absl::FormatDuration(absl::GetFlag(FLAGS_poll_interval)).c_str(),
      absl::ToDoubleSeconds(elapsed), absl::FormatDuration(warmup).c_str(),
      absl::FormatDuration(ttl).c_str());
  std::printf(
      "callers (whole run): %lld GetUpdateStatus calls (p50 %.3f ms, p99 "
      "%.3f ms, %lld failed), %lld watch messages (%lld in the window; a "
      "watch speaks on change) (%d watch errors)\n",
      static_cast<long long>(polls_done.load()), p.p50, p.p99,
      static_cast<long long>(poll_errors.load()),
      static_cast<long long>(watch_messages.load()),
      static_cast<long long>(watch_messages.load() - watch_messages_before),
      watch_errors.load());
  std::printf("status cache: %.0f hits, %.0f misses, %.0f shared\n",
              lookups("hit"), lookups("miss"), lookups("shared"));
  std::printf("upstream: %lld requests %s\n", static_cast<long long>(upstream),
              by_endpoint.dump().c_str());
  std::printf(
      "upstream requests per update per cache period: %.3f (%lld / (%d "
      "updates x %.1f periods))\n",
      per_update_period, static_cast<long long>(upstream), n_updates, periods);
  std::printf(
      "target: at most 1 per update per cache period: %.3f %s\n",
      per_update_period,
      bench::Verdict(correct && poll_errors == 0 && watch_errors == 0 &&
                     upstream >= 0 && std::isfinite(per_update_period) &&
                     polls_done > 0 && per_update_period <= 1.0));
  if (poll_errors > 0 || watch_errors > 0 || upstream < 0 || polls_done == 0) {
    correct = false;
  }
  std::printf("poll_storm_bench: %s\n", correct ? "ok" : "FAILED CALLS");
  return correct ? 0 : 1;
}
