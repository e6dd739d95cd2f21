#include "tests/bench/bench_util.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <signal.h>
#include <stdlib.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cmath>
#include <cstring>
#include <fstream>
#include <numeric>
#include <sstream>
#include <utility>

#include "absl/status/status.h"
#include "absl/strings/ascii.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
#include "absl/time/clock.h"
#include "adapters/databricks/http/curl_transport.h"
#include "nlohmann/json.hpp"

namespace polysync::bench {
namespace http = ::polysync::databricks::http;

std::string RunfilesDir(const char* argv0, const std::string& flag) {
  if (!flag.empty()) return flag;
  const char* dir = std::getenv("RUNFILES_DIR");
  if (dir == nullptr) dir = std::getenv("TEST_SRCDIR");
  return dir != nullptr ? absl::StrCat(dir, "/polysync_dlt")
                        : absl::StrCat(argv0, ".runfiles/polysync_dlt");
}

absl::StatusOr<std::unique_ptr<Child>> Child::Spawn(
    const std::vector<std::string>& argv, int which) {
  int fds[2];
  if (pipe(fds) != 0) return absl::InternalError("pipe failed");
  std::vector<char*> args;
  for (const auto& a : argv) args.push_back(const_cast<char*>(a.c_str()));
  args.push_back(nullptr);
  const pid_t pid = fork();
  if (pid < 0) return absl::InternalError("fork failed");
  if (pid == 0) {
    dup2(fds[1], which);
    close(fds[0]);
    close(fds[1]);
    execv(args[0], args.data());
    _exit(127);
  }
  close(fds[1]);
  std::unique_ptr<Child> child(new Child);
  child->pid_ = pid;
  child->out_ = fdopen(fds[0], "r");
  return child;
}

Child::~Child() {
  Stop();
  if (drain_.joinable()) drain_.join();
  if (out_ != nullptr) fclose(out_);
}

bool Child::ReadLine(std::string* line) {
  char buf[8192];
  if (fgets(buf, sizeof buf, out_) == nullptr) return false;
  *line = buf;
  while (!line->empty() && (line->back() == '\n' || line->back() == '\r')) {
    line->pop_back();
  }
  return true;
}

void Child::DrainInBackground() {
  drain_ = std::thread([f = out_] {
    char buf[8192];
    while (fgets(buf, sizeof buf, f) != nullptr) {
    }
  });
}

bool Child::Exited() {
  if (stopped_) return true;
  if (pid_ > 0 && waitpid(pid_, &exit_status_, WNOHANG) == pid_) {
    stopped_ = true;
  }
  return stopped_;
}

int Child::Stop() {
  if (stopped_ || pid_ <= 0) return exit_status_;
  stopped_ = true;
  kill(pid_, SIGTERM);
  waitpid(pid_, &exit_status_, 0);
  return exit_status_;
}

absl::StatusOr<SimProcess> StartSimulator(
    const std::string& runfiles, const std::vector<std::string>& args) {
  std::vector<std::string> argv = {
      runfiles + "/adapters/databricks/simulator/databricks-simulator",
      "--port=0", "--log_level=warn", absl::StrCat("--token=", kToken)};
  argv.insert(argv.end(), args.begin(), args.end());
  auto child = Child::Spawn(argv, 1);
  if (!child.ok()) return child.status();
  SimProcess sim;
  sim.child = *std::move(child);
  std::string line;
  if (!sim.child->ReadLine(&line) || line.rfind("listening on ", 0) != 0) {
    return absl::UnavailableError("the simulator did not start");
  }
  sim.url = line.substr(13);
  sim.child->DrainInBackground();
  return sim;
}

ServerProcess::ServerProcess(ServerProcess&& other) noexcept
    : child(std::move(other.child)),
      port(other.port),
      metrics_port(other.metrics_port),
      config_path(std::exchange(other.config_path, "")),
      spawned(other.spawned) {}

ServerProcess::~ServerProcess() {
  child.reset();
  if (!config_path.empty()) unlink(config_path.c_str());
}

namespace {

// The integer after `"key":` in a JSON log line.
bool IntField(const std::string& line, const std::string& key, int* out) {
  const std::string needle = absl::StrCat("\"", key, "\":");
  const auto at = line.find(needle);
  if (at == std::string::npos) return false;
  const auto start = at + needle.size();
  return absl::SimpleAtoi(
      line.substr(start, line.find_first_of(",}", start) - start), out);
}

}  // namespace

absl::StatusOr<ServerProcess> StartServer(
    const std::string& runfiles, const std::string& config,
    const std::vector<std::string>& args) {
  ServerProcess server;
  char path[] = "/tmp/bench-config-XXXXXX";
  const int fd = mkstemp(path);
  if (fd < 0 || write(fd, config.data(), config.size()) !=
                    static_cast<ssize_t>(config.size())) {
    return absl::InternalError("cannot write the configuration file");
  }
  close(fd);
  server.config_path = path;
  setenv("BENCH_TOKEN", kToken, 1);
  std::vector<std::string> argv = {runfiles + "/server/polysync-dlt",
                                   absl::StrCat("--config=", path),
                                   "--listen=127.0.0.1:0",
                                   "--metrics_listen=127.0.0.1:0",
                                   "--drain_delay=0s",
                                   "--shutdown_grace=2s"};
  argv.insert(argv.end(), args.begin(), args.end());
  server.spawned = absl::Now();
  auto child = Child::Spawn(argv, 2);
  if (!child.ok()) return child.status();
  server.child = *std::move(child);
  std::string line;
  while (server.port == 0 || server.metrics_port == 0) {
    if (!server.child->ReadLine(&line)) {
      return absl::UnavailableError("the server did not start");
    }
    if (line.find("\"msg\":\"gRPC server listening\"") != std::string::npos) {
      IntField(line, "port", &server.port);
    } else if (line.find("\"msg\":\"metrics endpoint listening\"") !=
               std::string::npos) {
      IntField(line, "port", &server.metrics_port);
    }
  }
  server.child->DrainInBackground();
  return server;
}

namespace {

bool SendAll(int fd, const std::string& data) {
  size_t sent = 0;
  while (sent < data.size()) {
    const ssize_t n =
        send(fd, data.data() + sent, data.size() - sent, MSG_NOSIGNAL);
    if (n <= 0) return false;
    sent += static_cast<size_t>(n);
  }
  return true;
}

// Response headers the proxy sets itself (or that described the upstream
// hop only: the body it returns is decoded and has its own length).
bool HopByHop(const std::string& lower_name) {
  return lower_name == "content-length" || lower_name == "transfer-encoding" ||
         lower_name == "content-encoding" || lower_name == "connection" ||
         lower_name == "keep-alive";
}

}  // namespace

absl::StatusOr<std::unique_ptr<ErrorProxy>> ErrorProxy::Start(
    std::string upstream, std::string path, int status, std::string body) {
  std::unique_ptr<ErrorProxy> proxy(new ErrorProxy);
  proxy->upstream_ = std::move(upstream);
  proxy->path_ = std::move(path);
  proxy->status_ = status;
  proxy->body_ = std::move(body);
  proxy->transport_ = http::MakeCurlTransport({});
  const int fd = socket(AF_INET, SOCK_STREAM, 0);
  if (fd < 0) return absl::InternalError("socket failed");
  const int one = 1;
  setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  addr.sin_port = 0;
  socklen_t len = sizeof addr;
  if (bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0 ||
      listen(fd, 128) != 0 ||
      getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len) != 0) {
    close(fd);
    return absl::UnavailableError("the proxy cannot listen on loopback");
  }
  proxy->listen_fd_ = fd;
  proxy->port_ = ntohs(addr.sin_port);
  proxy->acceptor_ = std::thread([p = proxy.get()] { p->AcceptLoop(); });
  return proxy;
}

ErrorProxy::~ErrorProxy() {
  stopping_ = true;
  // Wakes accept() and every recv(); the threads close their own sockets.
  shutdown(listen_fd_, SHUT_RDWR);
  if (acceptor_.joinable()) acceptor_.join();
  std::vector<std::thread> serving;
  {
    std::lock_guard<std::mutex> lock(mu_);
    for (int c : connections_) shutdown(c, SHUT_RDWR);
    serving.swap(serving_);
  }
  for (auto& t : serving) t.join();
  close(listen_fd_);
}

std::string ErrorProxy::url() const {
  return absl::StrCat("http://127.0.0.1:", port_);
}

void ErrorProxy::AcceptLoop() {
  while (!stopping_) {
    const int fd = accept(listen_fd_, nullptr, nullptr);
    if (fd < 0) {
      if (stopping_) return;
      continue;
    }
    const int one = 1;
    setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    std::lock_guard<std::mutex> lock(mu_);
    if (stopping_) {
      close(fd);
      return;
    }
    connections_.push_back(fd);
    serving_.emplace_back([this, fd] { Serve(fd); });
  }
}

void ErrorProxy::Serve(int fd) {
  std::string in;
  char buf[16384];
  // Reads until `in` holds at least `want` bytes; false at EOF or error.
  auto fill = [&](size_t want) {
    while (in.size() < want) {
      const ssize_t n = recv(fd, buf, sizeof buf, 0);
      if (n <= 0) return false;
      in.append(buf, static_cast<size_t>(n));
    }
    return true;
  };
  for (;;) {
    size_t end;
    while ((end = in.find("\r\n\r\n")) == std::string::npos) {
      if (!fill(in.size() + 1)) break;
    }
    if (end == std::string::npos) break;
    std::vector<std::string> lines = absl::StrSplit(in.substr(0, end), "\r\n");
    in.erase(0, end + 4);
    std::vector<std::string> first = absl::StrSplit(lines[0], ' ');
    if (first.size() != 3) break;
    http::Request request;
    request.method = first[0];
    request.url = upstream_ + first[1];
    request.idempotent = request.method == "GET";
    size_t content_length = 0;
    bool close_after = false;
    bool chunked = false;
    for (size_t i = 1; i < lines.size(); ++i) {
      const auto colon = lines[i].find(':');
      if (colon == std::string::npos) continue;
      const std::string name = absl::AsciiStrToLower(lines[i].substr(0, colon));
      const std::string value(
          absl::StripAsciiWhitespace(lines[i].substr(colon + 1)));
      if (name == "content-length") {
        absl::SimpleAtoi(value, &content_length);
      } else if (name == "connection") {
        close_after = absl::AsciiStrToLower(value) == "close";
      } else if (name == "transfer-encoding") {
        chunked = true;
      } else if (name != "host" && name != "accept-encoding" &&
                 name != "expect" && name != "keep-alive") {
        request.headers.push_back({name, value});
      }
    }
    if (chunked) break;  // never sent by the server; not understood here
    if (!fill(content_length)) break;
    request.body = in.substr(0, content_length);
    in.erase(0, content_length);

    int status = status_;
    std::string body = body_;
    http::Headers headers = {{"content-type", "application/json"}};
    const std::string path = first[1].substr(0, first[1].find('?'));
    if (request.method == "GET" && path == path_) {
      ++errors_answered_;
    } else {
      ++forwarded_;
      http::TransportResult result =
          http::SendAndWait(*transport_, std::move(request));
      if (!result.status.ok()) break;  // the client sees the connection end
      status = result.response.status;
      body = std::move(result.response.body);
      headers.clear();
      for (auto& [name, value] : result.response.headers) {
        if (!HopByHop(name)) headers.push_back({name, value});
      }
    }
    std::string out = absl::StrCat("HTTP/1.1 ", status,
                                   status < 400 ? " OK" : " Error", "\r\n");
    for (const auto& [name, value] : headers) {
      absl::StrAppend(&out, name, ": ", value, "\r\n");
    }
    absl::StrAppend(&out, "content-length: ", body.size(), "\r\n",
                    close_after ? "connection: close\r\n" : "", "\r\n", body);
    if (!SendAll(fd, out) || close_after) break;
  }
  std::lock_guard<std::mutex> lock(mu_);
  connections_.erase(std::find(connections_.begin(), connections_.end(), fd));
  close(fd);
}

std::string ServerConfig(const std::string& url,
                         const std::vector<Profile>& profiles,
                         const std::string& extra) {
  std::vector<std::string> json;
  for (const auto& p : profiles) {
    json.push_back(absl::StrCat(
        R"({"name": ")", p.name, R"(", "host": ")", url,
        R"(", "personal_access_token": {"token": {"env": "BENCH_TOKEN"}},)",
        R"( "limits": {"requests_per_second": )", p.requests_per_second,
        R"(, "max_concurrent_requests": )", p.max_concurrent_requests, "}}"));
  }
  return absl::StrCat(R"({"log_level": "info", "default_workspace": ")",
                      profiles.front().name, R"(", "workspaces": [)",
                      absl::StrJoin(json, ", "), "]", extra, "}");
}

int64_t ProcStatusKb(pid_t pid, const std::string& field) {
  std::ifstream in(absl::StrCat("/proc/", pid, "/status"));
  std::string line;
  const std::string prefix = field + ":";
  while (std::getline(in, line)) {
    if (line.rfind(prefix, 0) == 0) {
      int64_t kb = -1;
      std::istringstream(line.substr(prefix.size())) >> kb;
      return kb;
    }
  }
  return -1;
}

namespace {
http::Transport& SharedTransport() {
  static auto* transport = http::MakeCurlTransport({}).release();
  return *transport;
}
}  // namespace

std::string HttpGet(const std::string& url) {
  http::Request r;
  r.url = url;
  // Uncompressed, so no compression can spend the server's CPU inside the
  // measured interval.
  r.headers.push_back({"Accept-Encoding", "identity"});
  auto result = http::SendAndWait(SharedTransport(), r);
  if (!result.status.ok() || result.response.status != 200) return "";
  return result.response.body;
}

int HttpSend(const std::string& method, const std::string& url) {
  http::Request r;
  r.method = method;
  r.url = url;
  auto result = http::SendAndWait(SharedTransport(), r);
  return result.status.ok() ? result.response.status : 0;
}

std::vector<std::string> ListPipelineIds(const std::string& url) {
  std::vector<std::string> ids;
  std::string token;
  do {
    http::Request r;
    r.url = absl::StrCat(url, "/api/2.0/pipelines?max_results=100");
    if (!token.empty()) absl::StrAppend(&r.url, "&page_token=", token);
    r.headers.push_back({"Authorization", absl::StrCat("Bearer ", kToken)});
    auto result = http::SendAndWait(SharedTransport(), r);
    if (!result.status.ok() || result.response.status != 200) return {};
    auto page = nlohmann::json::parse(result.response.body, nullptr, false);
    if (page.is_discarded()) return {};
    for (const auto& s : page.value("statuses", nlohmann::json::array())) {
      ids.push_back(s.value("pipeline_id", ""));
    }
    token = page.value("next_page_token", "");
  } while (!token.empty());
  return ids;
}

std::string Scrape(const ServerProcess& server) {
  return HttpGet(
      absl::StrCat("http://127.0.0.1:", server.metrics_port, "/metrics"));
}

double MetricValue(const std::string& text, const std::string& series) {
  if (text.empty()) return std::nan("");
  const std::string needle = absl::StrCat("\n", series, " ");
  const auto at = text.find(needle);
  if (at == std::string::npos) return 0;
  double v = 0;
  const auto start = at + needle.size();
  if (!absl::SimpleAtod(text.substr(start, text.find('\n', start) - start),
                        &v)) {
    return 0;
  }
  return v;
}

double ServerCpuSeconds(const ServerProcess& server) {
  const std::string text = Scrape(server);
  const std::string series = "process_cpu_seconds_total";
  if (text.find(absl::StrCat("\n", series, " ")) == std::string::npos) {
    return std::nan("");
  }
  return MetricValue(text, series);
}

Percentiles Summarize(std::vector<double> ms) {
  Percentiles p;
  p.count = ms.size();
  if (ms.empty()) return p;
  std::sort(ms.begin(), ms.end());
  auto at = [&](double q) {
    const size_t i = static_cast<size_t>(q * (ms.size() - 1) + 0.5);
    return ms[std::min(i, ms.size() - 1)];
  };
  p.p50 = at(0.50);
  p.p90 = at(0.90);
  p.p99 = at(0.99);
  p.max = ms.back();
  p.mean = std::accumulate(ms.begin(), ms.end(), 0.0) / ms.size();
  return p;
}

int64_t OpenLoop(absl::Duration period, absl::Duration length,
                 const std::function<void(int64_t)>& fire) {
  const absl::Time start = absl::Now();
  int64_t i = 0;
  for (; i * period < length; ++i) {
    const absl::Duration wait = start + i * period - absl::Now();
    if (wait > absl::ZeroDuration()) absl::SleepFor(wait);
    fire(i);
  }
  return i;
}

double Median(std::vector<double> values) {
  if (values.empty()) return -1;
  std::sort(values.begin(), values.end());
  return values[values.size() / 2];
}

const char* Verdict(bool met) { return met ? "MET" : "NOT MET"; }

bool Measured(double value) { return std::isfinite(value) && value > 0; }

}  // namespace polysync::bench
