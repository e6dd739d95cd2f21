// An asynchronous HTTP/1.1 server (Boost.Beast over Asio), plain or TLS.
//
// Built for the simulator's needs rather than generality: a few io threads
// serve any number of kept-alive connections (no idle timeout, TCP_NODELAY),
// delays are timers rather than sleeping threads, and each response carries
// a `WireAction` so a handler can ask for a TCP reset, a stall, a truncated
// or an oversized body (http_types.h).
//
// The handler runs on an io thread and must be thread-safe and quick.
#ifndef POLYSYNC_ADAPTERS_DATABRICKS_SIMULATOR_HTTP_SERVER_H_
#define POLYSYNC_ADAPTERS_DATABRICKS_SIMULATOR_HTTP_SERVER_H_

#include <functional>
#include <memory>
#include <string>

#include "absl/status/statusor.h"
#include "adapters/databricks/simulator/http_types.h"

namespace polysync::databricks::sim {

struct HttpServerOptions {
  std::string host = "127.0.0.1";
  int port = 0;  // 0 picks a free port
  int io_threads = 2;
  // PEM files; both set means HTTPS.
  std::string tls_cert_file;
  std::string tls_key_file;
  // Largest request body accepted (larger requests get the connection
  // closed).
  uint64_t body_limit = 64ull << 20;
};

using HttpHandler = std::function<HttpResponse(const HttpRequest&)>;

class HttpServer {
 public:
  // Binds, listens and starts the io threads.
  static absl::StatusOr<std::unique_ptr<HttpServer>> Start(
      HttpServerOptions options, HttpHandler handler);

  ~HttpServer();
  HttpServer(const HttpServer&) = delete;
  HttpServer& operator=(const HttpServer&) = delete;

  int port() const;
  bool tls() const;
  // The most requests ever being handled at once (read, not yet answered:
  // injected latency included), since start or the last reset.
  int PeakInFlight() const;
  void ResetPeakInFlight();
  // Stops accepting, drops every connection and joins the io threads.
  // Idempotent.
  void Shutdown();

  class Impl;

 private:
  explicit HttpServer(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

}  // namespace polysync::databricks::sim

#endif  // POLYSYNC_ADAPTERS_DATABRICKS_SIMULATOR_HTTP_SERVER_H_
