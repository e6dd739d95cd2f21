#include "server/metrics_http.h"

#include <errno.h>
#include <fcntl.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <cstdio>
#include <mutex>
#include <vector>

#include "absl/status/status.h"
#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "absl/strings/string_view.h"
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

// How long an answer may take to be read by the client.
constexpr absl::Duration kWriteTimeout = absl::Seconds(10);
// The largest request head accepted (request line and headers).
constexpr size_t kMaxRequestHead = 8192;

struct Connection {
  int fd = -1;
  absl::Time deadline;
  std::string in;   // the request head read so far
  std::string out;  // the answer, once the request is complete
  size_t sent = 0;
};

std::string Answer(int code, absl::string_view reason,
                   absl::string_view content_type, absl::string_view body) {
  return absl::StrCat("HTTP/1.1 ", code, " ", reason,
                      "\r\nContent-Type: ", content_type,
                      "\r\nContent-Length: ", body.size(),
                      "\r\nConnection: close\r\n\r\n", body);
}

// The answer to a complete request head.
std::string Respond(absl::string_view head) {
  const auto line_end = head.find("\r\n");
  std::vector<absl::string_view> parts =
      absl::StrSplit(head.substr(0, line_end), ' ');
  if (parts.size() != 3 || !absl::StartsWith(parts[2], "HTTP/1.")) {
    return Answer(400, "Bad Request", "text/plain", "bad request\n");
  }
  if (parts[0] != "GET" && parts[0] != "HEAD") {
    return Answer(405, "Method Not Allowed", "text/plain", "GET /metrics\n");
  }
  absl::string_view path = parts[1].substr(0, parts[1].find('?'));
  if (path != "/metrics") {
    return Answer(404, "Not Found", "text/plain", "GET /metrics\n");
  }
  UpdateProcessMetrics();
  std::string answer =
      Answer(200, "OK", "text/plain; version=0.0.4; charset=utf-8",
             metrics::Registry::Default().RenderPrometheus());
  if (parts[0] == "HEAD") answer.resize(answer.find("\r\n\r\n") + 4);
  return answer;
}

void Close(Connection& c) {
  if (c.fd < 0) return;
  close(c.fd);
  c.fd = -1;
}

// Reads what `c` sent; once the head is complete, prepares the answer.
void OnReadable(Connection& c) {
  char buf[4096];
  for (;;) {
    const ssize_t n = recv(c.fd, buf, sizeof(buf), 0);
    if (n == 0 ||
        (n < 0 && errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR)) {
      Close(c);
      return;
    }
    if (n < 0) return;
    c.in.append(buf, n);
    if (c.in.find("\r\n\r\n") != std::string::npos) {
      c.out = Respond(c.in);
      c.in.clear();
      c.deadline = absl::Now() + kWriteTimeout;
      return;
    }
    if (c.in.size() > kMaxRequestHead) {
      c.out = Answer(431, "Request Header Fields Too Large", "text/plain",
                     "request too large\n");
      c.in.clear();
      c.deadline = absl::Now() + kWriteTimeout;
      return;
    }
  }
}

// Sends what is left of the answer; closes when it is all sent.
void OnWritable(Connection& c) {
  while (c.sent < c.out.size()) {
    const ssize_t n =
        send(c.fd, c.out.data() + c.sent, c.out.size() - c.sent, MSG_NOSIGNAL);
    if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR)) {
      return;
    }
    if (n <= 0) {
      Close(c);
      return;
    }
    c.sent += n;
  }
  shutdown(c.fd, SHUT_WR);
  Close(c);
}

}  // namespace

MetricsEndpoint::~MetricsEndpoint() {
  if (thread_.joinable()) {
    const char stop = 1;
    while (write(wake_fds_[1], &stop, 1) < 0 && errno == EINTR) {
    }
    thread_.join();
  }
  for (int fd : {listen_fd_, wake_fds_[0], wake_fds_[1]}) {
    if (fd >= 0) close(fd);
  }
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
  if (host.size() > 2 && host.front() == '[' && host.back() == ']') {
    host = host.substr(1, host.size() - 2);
  }
  std::unique_ptr<MetricsEndpoint> endpoint(new MetricsEndpoint);
  addrinfo hints{};
  hints.ai_family = AF_UNSPEC;
  hints.ai_socktype = SOCK_STREAM;
  hints.ai_flags = AI_PASSIVE;
  addrinfo* addresses = nullptr;
  if (getaddrinfo(host.c_str(), std::to_string(port).c_str(), &hints,
                  &addresses) == 0) {
    for (addrinfo* a = addresses; a != nullptr; a = a->ai_next) {
      const int fd =
          socket(a->ai_family, a->ai_socktype | SOCK_NONBLOCK | SOCK_CLOEXEC,
                 a->ai_protocol);
      if (fd < 0) continue;
      const int one = 1;
      setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
      if (bind(fd, a->ai_addr, a->ai_addrlen) == 0 && ::listen(fd, 128) == 0) {
        endpoint->listen_fd_ = fd;
        break;
      }
      close(fd);
    }
    freeaddrinfo(addresses);
  }
  sockaddr_storage bound{};
  socklen_t bound_len = sizeof(bound);
  if (endpoint->listen_fd_ < 0 ||
      getsockname(endpoint->listen_fd_, reinterpret_cast<sockaddr*>(&bound),
                  &bound_len) != 0 ||
      pipe2(endpoint->wake_fds_, O_CLOEXEC | O_NONBLOCK) != 0) {
    return absl::UnavailableError(
        absl::StrCat("metrics_listen: cannot listen on ", listen));
  }
  endpoint->port_ =
      ntohs(bound.ss_family == AF_INET6
                ? reinterpret_cast<sockaddr_in6*>(&bound)->sin6_port
                : reinterpret_cast<sockaddr_in*>(&bound)->sin_port);
  endpoint->thread_ = std::thread([e = endpoint.get()] { e->Serve(); });
  log::Info(
      "metrics endpoint listening",
      {log::Field("listen", listen), log::Field("port", endpoint->port_)});
  return endpoint;
}

void MetricsEndpoint::Serve() {
  std::vector<Connection> connections;
  std::vector<pollfd> fds;
  // Out of file descriptors: accepting waits a little (the listening socket
  // would otherwise stay readable and spin the loop).
  absl::Time accept_paused_until = absl::InfinitePast();
  for (;;) {
    fds.clear();
    fds.push_back({wake_fds_[0], POLLIN, 0});
    const bool accepting = absl::Now() >= accept_paused_until;
    fds.push_back({accepting ? listen_fd_ : -1, POLLIN, 0});
    absl::Time next = accepting ? absl::InfiniteFuture() : accept_paused_until;
    for (const Connection& c : connections) {
      fds.push_back(
          {c.fd, static_cast<short>(c.out.empty() ? POLLIN : POLLOUT), 0});
      next = std::min(next, c.deadline);
    }
    const int timeout_ms =
        next == absl::InfiniteFuture()
            ? -1
            : static_cast<int>(std::max<int64_t>(
                  0, absl::ToInt64Milliseconds(next - absl::Now()) + 1));
    if (poll(fds.data(), fds.size(), timeout_ms) < 0 && errno != EINTR) {
      log::Error("metrics endpoint: poll failed", {log::Field("errno", errno)});
      return;
    }
    if (fds[0].revents != 0) return;  // stopping
    const absl::Time now = absl::Now();
    for (size_t i = 0; i < connections.size(); ++i) {
      Connection& c = connections[i];
      const short revents = fds[i + 2].revents;
      if (c.out.empty() && (revents & (POLLIN | POLLHUP | POLLERR))) {
        OnReadable(c);
      } else if (!c.out.empty() && (revents & (POLLOUT | POLLHUP | POLLERR))) {
        OnWritable(c);
      }
      // Silent too long, or too slow to read the answer.
      if (c.fd >= 0 && now >= c.deadline) Close(c);
    }
    connections.erase(
        std::remove_if(connections.begin(), connections.end(),
                       [](const Connection& c) { return c.fd < 0; }),
        connections.end());
    if (fds[1].revents & POLLIN) {
      for (;;) {
        const int fd =
            accept4(listen_fd_, nullptr, nullptr, SOCK_NONBLOCK | SOCK_CLOEXEC);
        if (fd < 0) {
          if (errno == EMFILE || errno == ENFILE || errno == ENOBUFS ||
              errno == ENOMEM) {
            accept_paused_until = absl::Now() + absl::Milliseconds(100);
          }
          break;
        }
        if (static_cast<int>(connections.size()) >= kMetricsMaxConnections) {
          // Make room: the oldest connection still waiting for its request,
          // else the oldest of all (one that does not read its answer), so
          // that a new scrape is always served.
          auto oldest =
              std::find_if(connections.begin(), connections.end(),
                           [](const Connection& c) { return c.out.empty(); });
          if (oldest == connections.end()) oldest = connections.begin();
          Close(*oldest);
          connections.erase(oldest);
        }
        const int one = 1;
        setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
        Connection c;
        c.fd = fd;
        c.deadline = absl::Now() + kMetricsRequestTimeout;
        connections.push_back(std::move(c));
      }
    }
  }
}

}  // namespace polysync::server
