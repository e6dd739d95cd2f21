#include "server/metrics_http.h"

#include <arpa/inet.h>
#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <string>
#include <vector>

#include "absl/strings/match.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"

namespace polysync::server {
namespace {

using ::testing::HasSubstr;

// A TCP connection to 127.0.0.1:port, or -1.
int Connect(int port) {
  const int fd = socket(AF_INET, SOCK_STREAM, 0);
  if (fd < 0) return -1;
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_port = htons(static_cast<uint16_t>(port));
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  if (connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) != 0) {
    close(fd);
    return -1;
  }
  return fd;
}

// GET /metrics on a new connection: the status line and body, read until the
// server closes the connection or `timeout` passes.
std::string Scrape(int port, absl::Duration timeout) {
  const int fd = Connect(port);
  if (fd < 0) return "";
  const std::string request =
      "GET /metrics HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n";
  if (send(fd, request.data(), request.size(), MSG_NOSIGNAL) !=
      static_cast<ssize_t>(request.size())) {
    close(fd);
    return "";
  }
  std::string response;
  const absl::Time deadline = absl::Now() + timeout;
  char buf[4096];
  while (absl::Now() < deadline) {
    pollfd p{fd, POLLIN, 0};
    const int ms =
        static_cast<int>(absl::ToInt64Milliseconds(deadline - absl::Now()) + 1);
    if (poll(&p, 1, ms) <= 0) break;
    const ssize_t n = recv(fd, buf, sizeof(buf), 0);
    if (n <= 0) break;
    response.append(buf, n);
  }
  close(fd);
  return response;
}

// Whether the server closed `fd` (end of stream or reset) within `timeout`.
bool ClosedByServer(int fd, absl::Duration timeout) {
  pollfd p{fd, POLLIN, 0};
  if (poll(&p, 1, static_cast<int>(absl::ToInt64Milliseconds(timeout))) <= 0) {
    return false;
  }
  char c;
  return recv(fd, &c, 1, 0) <= 0;
}

TEST(MetricsEndpointTest, ServesAScrape) {
  auto endpoint = MetricsEndpoint::Start("127.0.0.1:0");
  ASSERT_TRUE(endpoint.ok()) << endpoint.status();
  const std::string response =
      Scrape((*endpoint)->bound_port(), absl::Seconds(10));
  EXPECT_TRUE(absl::StartsWith(response, "HTTP/1.1 200")) << response;
  EXPECT_THAT(response, HasSubstr("text/plain; version=0.0.4"));
  EXPECT_THAT(response, HasSubstr("# TYPE process_cpu_seconds_total counter"));
}

TEST(MetricsEndpointTest, UnknownPathIsNotFound) {
  auto endpoint = MetricsEndpoint::Start("127.0.0.1:0");
  ASSERT_TRUE(endpoint.ok()) << endpoint.status();
  const int fd = Connect((*endpoint)->bound_port());
  ASSERT_GE(fd, 0);
  const std::string request = "GET /secrets HTTP/1.1\r\nHost: x\r\n\r\n";
  ASSERT_EQ(send(fd, request.data(), request.size(), MSG_NOSIGNAL),
            static_cast<ssize_t>(request.size()));
  char buf[256] = {};
  pollfd p{fd, POLLIN, 0};
  ASSERT_EQ(poll(&p, 1, 10000), 1);
  ASSERT_GT(recv(fd, buf, sizeof(buf) - 1, 0), 0);
  EXPECT_TRUE(absl::StartsWith(buf, "HTTP/1.1 404")) << buf;
  close(fd);
}

TEST(MetricsEndpointTest, IdleConnectionsNeitherBlockAScrapeNorStayOpen) {
  auto endpoint = MetricsEndpoint::Start("127.0.0.1:0");
  ASSERT_TRUE(endpoint.ok()) << endpoint.status();
  const int port = (*endpoint)->bound_port();
  // Connections that never send a byte (a port scanner, a stuck client, an
  // attacker), more than any worker pool would hold.
  std::vector<int> idle;
  for (int i = 0; i < 64; ++i) {
    const int fd = Connect(port);
    ASSERT_GE(fd, 0) << i;
    idle.push_back(fd);
  }
  const absl::Time start = absl::Now();
  const std::string response = Scrape(port, absl::Seconds(10));
  const absl::Duration took = absl::Now() - start;
  EXPECT_TRUE(absl::StartsWith(response, "HTTP/1.1 200"))
      << "after " << took << ": " << response.substr(0, 200);
  EXPECT_LT(took, absl::Seconds(3));
  // The server closes them: an idle connection costs it only a short while.
  int closed = 0;
  for (int fd : idle) {
    if (ClosedByServer(fd, absl::Seconds(15))) ++closed;
    close(fd);
  }
  EXPECT_EQ(closed, 64);
}

}  // namespace
}  // namespace polysync::server
