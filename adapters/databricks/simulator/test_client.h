// A small libcurl client for the simulator's tests (test-only).
#ifndef POLYSYNC_ADAPTERS_DATABRICKS_SIMULATOR_TEST_CLIENT_H_
#define POLYSYNC_ADAPTERS_DATABRICKS_SIMULATOR_TEST_CLIENT_H_

#include <map>
#include <nlohmann/json.hpp>
#include <string>
#include <utility>
#include <vector>

namespace polysync::databricks::sim::testing {

struct HttpResult {
  int curl_code = 0;  // CURLcode; 0 is CURLE_OK
  std::string error;  // curl's error text when curl_code != 0
  long status = 0;
  std::map<std::string, std::string> headers;  // lower-case names
  std::string body;
  long http_version = 0;     // CURL_HTTP_VERSION_*
  long new_connections = 0;  // connections opened for this request

  bool ok() const { return curl_code == 0; }
  // The body as JSON (discarded when it is not JSON).
  nlohmann::json json() const {
    return nlohmann::json::parse(body, nullptr, false);
  }
};

struct ClientOptions {
  std::string ca_file;  // for https
  long timeout_ms = 10000;
  bool http2_prior_knowledge = false;  // h2c without an upgrade
  bool http2_over_tls = false;         // h2 negotiated by ALPN
};

// One connection, kept alive between requests. Not thread-safe.
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
  HttpResult Request(const std::string& method, const std::string& path,
                     const std::string& body = "",
                     const std::vector<std::string>& extra_headers = {},
                     bool with_token = true);

  void set_token(std::string token) { token_ = std::move(token); }

 private:
  std::string base_url_;
  std::string token_;
  ClientOptions options_;
  void* curl_;
};

// Percent-encodes a query value.
std::string UrlEncode(const std::string& text);

}  // namespace polysync::databricks::sim::testing

#endif  // POLYSYNC_ADAPTERS_DATABRICKS_SIMULATOR_TEST_CLIENT_H_
