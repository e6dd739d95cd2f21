// Benchmark plumbing: the simulated workspace and the server as separate
// processes (so each one's CPU and memory are its own), reading /proc and the
// server's /metrics, and latency percentiles.
//
//   auto sim = StartSimulator(dirs, {"--generate_pipelines=2000"});
//   auto server = StartServer(dirs, ServerConfigFor(sim->url, limits));
//   ... drive 127.0.0.1:server->port ...
//   double cpu = MetricValue(Scrape(*server), "process_cpu_seconds_total");
#ifndef POLYSYNC_TESTS_BENCH_BENCH_UTIL_H_
#define POLYSYNC_TESTS_BENCH_BENCH_UTIL_H_

#include <sys/types.h>

#include <atomic>
#include <cstdio>
#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "adapters/databricks/http/transport.h"

namespace polysync::bench {

// The simulator's accepted token in every benchmark.
inline constexpr char kToken[] = "dapi-bench-0123456789abcdef0123";

// Where the server and simulator binaries are: `flag` if set, else this
// binary's runfiles (bazel run and bazel test both work).
std::string RunfilesDir(const char* argv0, const std::string& flag);

// A child process whose stdout or stderr is read on a pipe; the rest of its
// output is drained by a thread so it never blocks. Killed (SIGTERM) and
// reaped on destruction.
class Child {
 public:
  // Starts `argv` (argv[0] a path); `which` (1 or 2) is the piped stream.
  static absl::StatusOr<std::unique_ptr<Child>> Spawn(
      const std::vector<std::string>& argv, int which);
  ~Child();

  pid_t pid() const { return pid_; }
  // The next line of the piped stream (without the newline); false at EOF.
  bool ReadLine(std::string* line);
  // From now on, the piped stream is read and thrown away.
  void DrainInBackground();
  // SIGTERM, then waits; the exit status as waitpid gives it.
  int Stop();
  // True once the process has ended on its own (reaped; Stop() then returns
  // its exit status).
  bool Exited();

 private:
  Child() = default;
  pid_t pid_ = -1;
  FILE* out_ = nullptr;
  std::thread drain_;
  bool stopped_ = false;
  int exit_status_ = 0;
};

struct SimProcess {
  std::unique_ptr<Child> child;
  std::string url;  // http://127.0.0.1:PORT
};

// The simulator binary with `--port=0 --token=kToken --log_level=warn`, the
// given arguments appended.
absl::StatusOr<SimProcess> StartSimulator(const std::string& runfiles,
                                          const std::vector<std::string>& args);

struct ServerProcess {
  std::unique_ptr<Child> child;
  int port = 0;
  int metrics_port = 0;
  std::string config_path;
  absl::Time spawned;
  ServerProcess() = default;
  ServerProcess(ServerProcess&& other) noexcept;
  ~ServerProcess();
};

// The server binary with `config` (JSON) written to a file, listening on
// loopback port 0 with metrics on another, `--drain_delay=0s`; the token in
// the environment variable BENCH_TOKEN. Returns once both ports are logged.
absl::StatusOr<ServerProcess> StartServer(
    const std::string& runfiles, const std::string& config,
    const std::vector<std::string>& args = {});

// A loopback HTTP/1.1 proxy in front of the simulator that answers GETs of
// one path with a fixed error and forwards every other request (through the
// project's libcurl transport) to `upstream`, returning its answer. Why: the
// simulator's fault rules pick requests by endpoint, not by pipeline, so
// "this one pipeline's detail always fails" needs a hand in between. One
// thread per connection; answers carry Content-Length, never chunks.
//
//   auto proxy = ErrorProxy::Start(sim->url, "/api/2.0/pipelines/" + id, 500,
//                                  R"({"error_code": "INTERNAL_ERROR"})");
//   ... point the server's workspace at (*proxy)->url() ...
class ErrorProxy {
 public:
  static absl::StatusOr<std::unique_ptr<ErrorProxy>> Start(std::string upstream,
                                                           std::string path,
                                                           int status,
                                                           std::string body);
  // Stops accepting, closes every connection and joins its threads.
  ~ErrorProxy();

  std::string url() const;  // http://127.0.0.1:PORT
  // Requests answered with the error, and forwarded ones.
  int64_t errors_answered() const { return errors_answered_.load(); }
  int64_t forwarded() const { return forwarded_.load(); }
  void ResetCounts() {
    errors_answered_ = 0;
    forwarded_ = 0;
  }

 private:
  ErrorProxy() = default;
  void AcceptLoop();
  void Serve(int fd);

  std::string upstream_, path_, body_;
  int status_ = 500;
  int listen_fd_ = -1;
  int port_ = 0;
  std::unique_ptr<databricks::http::Transport> transport_;
  std::atomic<bool> stopping_{false};
  std::atomic<int64_t> errors_answered_{0}, forwarded_{0};
  std::mutex mu_;
  std::vector<int> connections_;      // guarded by mu_
  std::vector<std::thread> serving_;  // guarded by mu_
  std::thread acceptor_;
};

// A workspace profile on the simulator, with its request limits (0: the
// server's defaults).
struct Profile {
  std::string name;
  double requests_per_second = 100000;
  int max_concurrent_requests = 64;
};

// A server configuration with these profiles (all on `url`; the first is the
// default) and more top-level keys (`extra`, starting with a comma).
std::string ServerConfig(const std::string& url,
                         const std::vector<Profile>& profiles,
                         const std::string& extra = "");

// /proc/PID/status fields in KiB ("VmRSS", "VmHWM"); -1 when unreadable.
int64_t ProcStatusKb(pid_t pid, const std::string& field);

// One HTTP GET (blocking), the body; empty on failure.
std::string HttpGet(const std::string& url);
// One HTTP request with a method (DELETE /_sim/stats...).
int HttpSend(const std::string& method, const std::string& url);
// Every pipeline id in the simulated workspace at `url` (pages of 100).
std::vector<std::string> ListPipelineIds(const std::string& url);
// The server's /metrics text.
std::string Scrape(const ServerProcess& server);
// The value of a sample line `series value` in Prometheus text: 0 when the
// series is absent (a counter nobody incremented yet), NaN when `text` is
// empty (the scrape failed).
double MetricValue(const std::string& text, const std::string& series);
// The server's process_cpu_seconds_total (its getrusage); NaN when it cannot
// be read.
double ServerCpuSeconds(const ServerProcess& server);

// Latency figures in milliseconds.
struct Percentiles {
  double p50 = 0, p90 = 0, p99 = 0, max = 0, mean = 0;
  size_t count = 0;
};
Percentiles Summarize(std::vector<double> ms);

// Calls `fire(i)` every `period` for `length` (i = 0, 1, ...), on schedule
// whatever the calls' answers do (open loop). Returns how many it fired.
int64_t OpenLoop(absl::Duration period, absl::Duration length,
                 const std::function<void(int64_t)>& fire);

// The median (the upper one of an even count); -1 when empty.
double Median(std::vector<double> values);

// "MET" or "NOT MET".
const char* Verdict(bool met);
// True for a measured figure that can be judged: finite and above zero.
bool Measured(double value);

}  // namespace polysync::bench

#endif  // POLYSYNC_TESTS_BENCH_BENCH_UTIL_H_
