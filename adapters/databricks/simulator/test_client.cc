#include "adapters/databricks/simulator/test_client.h"

#include "absl/strings/strip.h"
#include "absl/time/clock.h"
#include "adapters/databricks/http/curl_transport.h"
#include "adapters/databricks/wire/request_bodies.h"

namespace polysync::databricks::sim::testing {

TestClient::TestClient(std::string base_url, std::string token,
                       ClientOptions options)
    : base_url_(std::move(base_url)),
      token_(std::move(token)),
      options_(std::move(options)) {
  http::CurlTransportOptions transport_options;
  transport_options.ca_bundle_file = options_.ca_file;
  transport_options.http2_prior_knowledge = options_.http2_prior_knowledge;
  transport_options.max_response_bytes = 64u << 20;
  transport_ = http::MakeCurlTransport(transport_options);
}

TestClient::~TestClient() = default;

HttpResult TestClient::Request(const std::string& method,
                               const std::string& path, const std::string& body,
                               const std::vector<std::string>& extra_headers,
                               bool with_token) {
  http::Request request;
  request.method = method;
  request.url = base_url_ + path;
  request.body = body;
  request.idempotent = method != "POST";
  request.deadline = absl::Now() + absl::Milliseconds(options_.timeout_ms);
  if (with_token && !token_.empty()) {
    request.headers.emplace_back("Authorization", "Bearer " + token_);
  }
  request.headers.emplace_back("Content-Type", "application/json");
  for (const auto& line : extra_headers) {
    const auto colon = line.find(':');
    if (colon == std::string::npos) continue;
    request.headers.emplace_back(
        line.substr(0, colon),
        std::string(absl::StripLeadingAsciiWhitespace(line.substr(colon + 1))));
  }
  http::TransportResult sent = http::SendAndWait(*transport_, request);
  HttpResult result;
  result.failure = sent.failure;
  if (!sent.status.ok()) {
    result.error = std::string(sent.status.message());
    return result;
  }
  result.status = sent.response.status;
  for (auto& [name, value] : sent.response.headers) {
    result.headers[name] = value;
  }
  result.body = std::move(sent.response.body);
  result.http_version = sent.response.http_version;
  result.new_connection = sent.response.new_connection;
  return result;
}

std::string UrlEncode(const std::string& text) { return PercentEncode(text); }

}  // namespace polysync::databricks::sim::testing
