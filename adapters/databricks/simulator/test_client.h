// A small blocking HTTP client for the simulator's tests (test-only), on the
// project's own transport (adapters/databricks/http), so libcurl stays in one
// place and the simulator is exercised the way the adapter calls it.
#ifndef POLYSYNC_ADAPTERS_DATABRICKS_SIMULATOR_TEST_CLIENT_H_
#define POLYSYNC_ADAPTERS_DATABRICKS_SIMULATOR_TEST_CLIENT_H_

#include <map>
#include <memory>
#include <nlohmann/json.hpp>
#include <string>
#include <utility>
#include <vector>

#include "adapters/databricks/http/transport.h"

namespace polysync::databricks::sim::testing {

struct HttpResult {
  // kNone when a complete HTTP response arrived (whatever its status).
  http::TransportFailure failure = http::TransportFailure::kNone;
  std::string error;  // the transport's message when failure != kNone
  long status = 0;
  std::map<std::string, std::string> headers;  // lower-case names
  std::string body;
  int http_version = 0;         // 1 or 2
  bool new_connection = false;  // a connection was opened for this request

  bool ok() const { return failure == http::TransportFailure::kNone; }
  // The body as JSON (discarded when it is not JSON).
  nlohmann::json json() const {
    return nlohmann::json::parse(body, nullptr, false);
  }
};

struct ClientOptions {
  std::string ca_file;  // for https
  long timeout_ms = 10000;
  bool http2_prior_knowledge = false;  // h2c without an upgrade
};

// Requests go one at a time over kept-alive connections. POST is sent as a
// non-idempotent request (never silently resent). Not thread-safe.
class TestClient {
 public:
  TestClient(std::string base_url, std::string token,
             ClientOptions options = {});
  ~TestClient();
  TestClient(const TestClient&) = delete;
  TestClient& operator=(const TestClient&) = delete;

  HttpResult Get(const std::string& path) { return Request("GET", path); }
  HttpResult Post(const std::string& path, const std::string& body = "{}") {
    return Request("POST", path, body);
  }
  HttpResult Put(const std::string& path, const std::string& body) {
    return Request("PUT", path, body);
  }
  HttpResult Delete(const std::string& path) { return Request("DELETE", path); }
  // `extra_headers` are "Name: value" lines.
  HttpResult Request(const std::string& method, const std::string& path,
                     const std::string& body = "",
                     const std::vector<std::string>& extra_headers = {},
                     bool with_token = true);

  void set_token(std::string token) { token_ = std::move(token); }

 private:
  std::string base_url_;
  std::string token_;
  ClientOptions options_;
  std::unique_ptr<http::Transport> transport_;
};

// Percent-encodes a query value.
std::string UrlEncode(const std::string& text);

}  // namespace polysync::databricks::sim::testing

#endif  // POLYSYNC_ADAPTERS_DATABRICKS_SIMULATOR_TEST_CLIENT_H_
