#include "adapters/databricks/http/url.h"

#include <arpa/inet.h>
#include <curl/curl.h>

#include <algorithm>
#include <memory>

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"

namespace polysync::databricks::http {
namespace {

struct UrlDeleter {
  void operator()(CURLU* u) const { curl_url_cleanup(u); }
};

// One part of a parsed URL, or "" when it is absent.
std::string Part(CURLU* u, CURLUPart part, unsigned int flags = 0) {
  char* value = nullptr;
  if (curl_url_get(u, part, &value, flags) != CURLUE_OK || value == nullptr) {
    return "";
  }
  std::string out(value);
  curl_free(value);
  return out;
}

}  // namespace

absl::StatusOr<Url> ParseUrl(absl::string_view text) {
  for (char c : text) {
    if (static_cast<unsigned char>(c) <= 0x20 || c == 0x7f) {
      return absl::InvalidArgumentError(
          "URL contains a space or control character");
    }
  }
  std::unique_ptr<CURLU, UrlDeleter> u(curl_url());
  if (u == nullptr) return absl::ResourceExhaustedError("curl_url() failed");
  const std::string copy(text);
  // Without CURLU_NON_SUPPORT_SCHEME: only schemes libcurl speaks.
  const CURLUcode code = curl_url_set(u.get(), CURLUPART_URL, copy.c_str(), 0);
  if (code != CURLUE_OK) {
    // curl_url_strerror names the problem, never the URL.
    return absl::InvalidArgumentError(absl::StrCat(
        "not a valid absolute URL (", curl_url_strerror(code), ")"));
  }
  Url url;
  url.scheme = absl::AsciiStrToLower(Part(u.get(), CURLUPART_SCHEME));
  std::string host = Part(u.get(), CURLUPART_HOST);
  if (absl::StartsWith(host, "[") && absl::EndsWith(host, "]")) {
    host = host.substr(1, host.size() - 2);
  }
  url.host = absl::AsciiStrToLower(host);
  url.has_user_info = !Part(u.get(), CURLUPART_USER).empty() ||
                      !Part(u.get(), CURLUPART_PASSWORD).empty() ||
                      !Part(u.get(), CURLUPART_OPTIONS).empty();
  url.path = Part(u.get(), CURLUPART_PATH);
  url.has_query_or_fragment = !Part(u.get(), CURLUPART_QUERY).empty() ||
                              !Part(u.get(), CURLUPART_FRAGMENT).empty() ||
                              absl::StrContains(text, '?') ||
                              absl::StrContains(text, '#');
  if (url.host.empty()) {
    return absl::InvalidArgumentError("not a valid absolute URL (no host)");
  }
  const std::string port = Part(u.get(), CURLUPART_PORT, CURLU_DEFAULT_PORT);
  if (!absl::SimpleAtoi(port, &url.port) || url.port < 1 || url.port > 65535) {
    return absl::InvalidArgumentError(
        "not a valid absolute URL (the port must be between 1 and 65535)");
  }
  return url;
}

bool IsLinkLocal(absl::string_view host) {
  const std::string h(host.substr(0, host.find('%')));  // an IPv6 zone id
  unsigned char addr[16];
  if (inet_pton(AF_INET, h.c_str(), addr) == 1) {
    return addr[0] == 169 && addr[1] == 254;
  }
  if (inet_pton(AF_INET6, h.c_str(), addr) == 1) {
    return addr[0] == 0xfe && (addr[1] & 0xc0) == 0x80;
  }
  return false;
}

bool IsLoopback(absl::string_view host) {
  if (host == "localhost") return true;
  const std::string h(host);
  unsigned char addr[16];
  if (inet_pton(AF_INET, h.c_str(), addr) == 1) return addr[0] == 127;
  if (inet_pton(AF_INET6, h.c_str(), addr) == 1) {
    static const unsigned char kLoopback6[16] = {0, 0, 0, 0, 0, 0, 0, 0,
                                                 0, 0, 0, 0, 0, 0, 0, 1};
    return std::equal(addr, addr + 16, kLoopback6);
  }
  return false;
}

absl::Status CheckWorkspaceHost(absl::string_view host) {
  absl::StatusOr<Url> url = ParseUrl(host);
  if (!url.ok()) {
    return absl::InvalidArgumentError(absl::StrCat(
        url.status().message(),
        "; expected a URL such as https://adb-123.4.azuredatabricks.net"));
  }
  if (url->scheme != "https" && url->scheme != "http") {
    return absl::InvalidArgumentError(
        "must start with https:// (http:// only for loopback hosts)");
  }
  if (url->has_user_info) {
    return absl::InvalidArgumentError(
        "must not contain user information (\"user:password@\"); put "
        "credentials in the profile's auth method");
  }
  if (url->has_query_or_fragment) {
    return absl::InvalidArgumentError(
        "must not contain a query (?) or a fragment (#)");
  }
  if (IsLinkLocal(url->host)) {
    return absl::InvalidArgumentError(absl::StrCat(
        url->host,
        " is a link-local address (such as the cloud instance metadata "
        "endpoint), not a Databricks workspace"));
  }
  if (url->scheme == "http" && !IsLoopback(url->host)) {
    return absl::InvalidArgumentError(
        "plain http:// is only allowed for loopback hosts; use https://");
  }
  return absl::OkStatus();
}

}  // namespace polysync::databricks::http
