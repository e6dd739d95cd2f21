#include "adapters/databricks/simulator/test_client.h"

#include <curl/curl.h>

#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"

namespace polysync::databricks::sim::testing {
namespace {

size_t OnBody(char* data, size_t size, size_t n, void* user) {
  static_cast<HttpResult*>(user)->body.append(data, size * n);
  return size * n;
}

size_t OnHeader(char* data, size_t size, size_t n, void* user) {
  std::string line(data, size * n);
  size_t colon = line.find(':');
  if (colon != std::string::npos) {
    std::string name = absl::AsciiStrToLower(line.substr(0, colon));
    std::string value(absl::StripAsciiWhitespace(line.substr(colon + 1)));
    static_cast<HttpResult*>(user)->headers[name] = value;
  }
  return size * n;
}

}  // namespace

TestClient::TestClient(std::string base_url, std::string token,
                       ClientOptions options)
    : base_url_(std::move(base_url)),
      token_(std::move(token)),
      options_(std::move(options)),
      curl_(curl_easy_init()) {}

TestClient::~TestClient() { curl_easy_cleanup(static_cast<CURL*>(curl_)); }

HttpResult TestClient::Request(const std::string& method,
                               const std::string& path, const std::string& body,
                               const std::vector<std::string>& extra_headers,
                               bool with_token) {
  CURL* c = static_cast<CURL*>(curl_);
  HttpResult result;
  char error[CURL_ERROR_SIZE] = {0};
  curl_easy_reset(c);
  std::string url = base_url_ + path;
  curl_easy_setopt(c, CURLOPT_URL, url.c_str());
  curl_easy_setopt(c, CURLOPT_ERRORBUFFER, error);
  curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
  curl_easy_setopt(c, CURLOPT_TIMEOUT_MS, options_.timeout_ms);
  curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, OnBody);
  curl_easy_setopt(c, CURLOPT_WRITEDATA, &result);
  curl_easy_setopt(c, CURLOPT_HEADERFUNCTION, OnHeader);
  curl_easy_setopt(c, CURLOPT_HEADERDATA, &result);
  curl_easy_setopt(c, CURLOPT_CUSTOMREQUEST, method.c_str());
  if (method == "POST" || method == "PUT") {
    curl_easy_setopt(c, CURLOPT_POSTFIELDS, body.c_str());
    curl_easy_setopt(c, CURLOPT_POSTFIELDSIZE, static_cast<long>(body.size()));
  } else if (method == "HEAD") {
    curl_easy_setopt(c, CURLOPT_NOBODY, 1L);
  }
  if (!options_.ca_file.empty()) {
    curl_easy_setopt(c, CURLOPT_CAINFO, options_.ca_file.c_str());
  }
  if (options_.http2_over_tls) {
    curl_easy_setopt(c, CURLOPT_HTTP_VERSION, CURL_HTTP_VERSION_2TLS);
  }
  if (options_.http2_prior_knowledge) {
    curl_easy_setopt(c, CURLOPT_HTTP_VERSION,
                     CURL_HTTP_VERSION_2_PRIOR_KNOWLEDGE);
  }
  struct curl_slist* headers = nullptr;
  std::string auth = "Authorization: Bearer " + token_;
  if (with_token && !token_.empty())
    headers = curl_slist_append(headers, auth.c_str());
  headers = curl_slist_append(headers, "Content-Type: application/json");
  for (const auto& h : extra_headers)
    headers = curl_slist_append(headers, h.c_str());
  curl_easy_setopt(c, CURLOPT_HTTPHEADER, headers);
  CURLcode code = curl_easy_perform(c);
  curl_slist_free_all(headers);
  result.curl_code = static_cast<int>(code);
  if (code != CURLE_OK) {
    result.error = error[0] ? error : curl_easy_strerror(code);
  }
  curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &result.status);
  curl_easy_getinfo(c, CURLINFO_HTTP_VERSION, &result.http_version);
  curl_easy_getinfo(c, CURLINFO_NUM_CONNECTS, &result.new_connections);
  return result;
}

std::string UrlEncode(const std::string& text) {
  std::string out;
  for (unsigned char ch : text) {
    if (absl::ascii_isalnum(ch) || ch == '-' || ch == '_' || ch == '.' ||
        ch == '~') {
      out.push_back(static_cast<char>(ch));
    } else {
      absl::StrAppend(&out, "%", absl::Hex(ch, absl::kZeroPad2));
    }
  }
  return out;
}

}  // namespace polysync::databricks::sim::testing
