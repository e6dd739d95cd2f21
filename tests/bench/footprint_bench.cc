// Footprint: the time from process start (fork + exec of the server binary)
// to the gRPC health check answering SERVING, and the resident memory of the
// idle server once it serves, over several starts. Measured for the
// production shape (a configured workspace, here a simulator in its own
// process) and for the README's out-of-the-box mode (--simulated_workspace,
// the simulated workspace inside the server).
//
//   bazel run -c opt //tests/bench:footprint_bench
#include <arpa/inet.h>
#include <grpcpp/grpcpp.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <cstdio>
#include <string>
#include <vector>

#include "absl/flags/flag.h"
#include "absl/flags/parse.h"
#include "absl/flags/usage.h"
#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"
#include "grpc/health/v1/health.grpc.pb.h"
#include "tests/bench/bench_util.h"

ABSL_FLAG(int, starts, 10, "Starts measured per mode.");
ABSL_FLAG(absl::Duration, settle, absl::Seconds(2),
          "Idle time after SERVING before the RSS is read.");
ABSL_FLAG(std::string, runfiles, "", "Where the binaries are.");

namespace bench = ::polysync::bench;
namespace health = ::grpc::health::v1;

namespace {

// A loopback port that is free now.
int FreePort() {
  const int fd = socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  socklen_t len = sizeof addr;
  int port = 0;
  if (bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) == 0 &&
      getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len) == 0) {
    port = ntohs(addr.sin_port);
  }
  close(fd);
  return port;
}

bool Accepts(int port) {
  const int fd = socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  addr.sin_port = htons(port);
  const bool ok =
      connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) == 0;
  close(fd);
  return ok;
}

bool Serving(int port) {
  auto stub = health::Health::NewStub(grpc::CreateChannel(
      absl::StrCat("127.0.0.1:", port), grpc::InsecureChannelCredentials()));
  grpc::ClientContext context;
  context.set_deadline(std::chrono::system_clock::now() +
                       std::chrono::milliseconds(200));
  health::HealthCheckRequest request;
  health::HealthCheckResponse response;
  return stub->Check(&context, request, &response).ok() &&
         response.status() == health::HealthCheckResponse::SERVING;
}

struct Start {
  double ms_to_serving = -1;
  double idle_rss_mib = -1;
};

// Starts the server with `args`, times it to SERVING, lets it idle, reads
// its RSS, stops it.
Start Measure(const std::string& runfiles, std::vector<std::string> args) {
  Start result;
  const int port = FreePort();
  std::vector<std::string> argv = {runfiles + "/server/polysync-dlt",
                                   absl::StrCat("--listen=127.0.0.1:", port),
                                   "--drain_delay=0s", "--log_level=warn"};
  argv.insert(argv.end(), args.begin(), args.end());
  const absl::Time spawned = absl::Now();
  auto child = bench::Child::Spawn(argv, 2);
  if (!child.ok()) return result;
  (*child)->DrainInBackground();
  const absl::Time give_up = spawned + absl::Seconds(10);
  while (absl::Now() < give_up) {
    if (Accepts(port) && Serving(port)) {
      result.ms_to_serving = absl::ToDoubleMilliseconds(absl::Now() - spawned);
      break;
    }
    absl::SleepFor(absl::Microseconds(500));
  }
  absl::SleepFor(absl::GetFlag(FLAGS_settle));
  result.idle_rss_mib = bench::ProcStatusKb((*child)->pid(), "VmRSS") / 1024.0;
  (*child)->Stop();
  return result;
}

double Max(const std::vector<double>& v) {
  return v.empty() ? -1 : *std::max_element(v.begin(), v.end());
}

}  // namespace

int main(int argc, char** argv) {
  absl::SetProgramUsageMessage(
      "Footprint: process start to SERVING and idle RSS of the server.\n  "
      "bazel run -c opt //tests/bench:footprint_bench [-- flags]");
  absl::ParseCommandLine(argc, argv);
  const std::string runfiles =
      bench::RunfilesDir(argv[0], absl::GetFlag(FLAGS_runfiles));
  auto sim = bench::StartSimulator(runfiles, {"--seed=false"});
  if (!sim.ok()) return 2;
  char config_path[] = "/tmp/footprint-config-XXXXXX";
  const int fd = mkstemp(config_path);
  const std::string config = bench::ServerConfig(sim->url, {{"prod", 30, 16}});
  if (fd < 0 || write(fd, config.data(), config.size()) !=
                    static_cast<ssize_t>(config.size())) {
    return 2;
  }
  close(fd);
  setenv("BENCH_TOKEN", bench::kToken, 1);

  struct Mode {
    const char* name;
    std::vector<std::string> args;
  };
  const Mode modes[] = {
      {"configured workspace", {absl::StrCat("--config=", config_path)}},
      {"out-of-the-box (--simulated_workspace)", {"--simulated_workspace"}},
  };
  bool correct = true;
  double first_ms = -1, first_rss = -1;
  const int starts = std::max(1, absl::GetFlag(FLAGS_starts));
  std::printf("footprint: %d starts per mode, RSS read after %s idle\n", starts,
              absl::FormatDuration(absl::GetFlag(FLAGS_settle)).c_str());
  for (const Mode& mode : modes) {
    std::vector<double> ms, rss;
    for (int i = 0; i < starts; ++i) {
      Start s = Measure(runfiles, mode.args);
      if (s.ms_to_serving < 0 || s.idle_rss_mib <= 0) {
        correct = false;
        continue;
      }
      ms.push_back(s.ms_to_serving);
      rss.push_back(s.idle_rss_mib);
    }
    std::printf(
        "%-40s start to SERVING: median %.1f ms, max %.1f ms; idle RSS: "
        "median %.1f MiB, max %.1f MiB (%zu of %d starts)\n",
        mode.name, bench::Median(ms), Max(ms), bench::Median(rss), Max(rss),
        ms.size(), starts);
    if (first_ms < 0) {
      first_ms = bench::Median(ms);
      first_rss = bench::Median(rss);
    }
  }
  unlink(config_path);
  std::printf("target: idle RSS < 40 MiB: %.1f MiB %s\n", first_rss,
              bench::Verdict(correct && first_rss > 0 && first_rss < 40));
  std::printf("target: start to SERVING < 300 ms: %.1f ms %s\n", first_ms,
              bench::Verdict(correct && first_ms > 0 && first_ms < 300));
  std::printf("footprint_bench: %s\n", correct ? "ok" : "A START FAILED");
  return correct ? 0 : 1;
}
