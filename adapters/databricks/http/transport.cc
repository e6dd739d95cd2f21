#include "adapters/databricks/http/transport.h"

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"

namespace polysync::databricks::http {
namespace {

// The host of "scheme://[userinfo@]host[:port][/...]", lower case, without
// IPv6 brackets; "" when the URL has no host.
std::string HostOf(absl::string_view url) {
  const auto scheme_end = url.find("://");
  if (scheme_end == absl::string_view::npos) return "";
  absl::string_view rest = url.substr(scheme_end + 3);
  rest = rest.substr(0, rest.find_first_of("/?#"));
  if (const auto at = rest.rfind('@'); at != absl::string_view::npos) {
    rest = rest.substr(at + 1);
  }
  if (absl::StartsWith(rest, "[")) {
    const auto close = rest.find(']');
    if (close == absl::string_view::npos) return "";
    return absl::AsciiStrToLower(rest.substr(1, close - 1));
  }
  return absl::AsciiStrToLower(rest.substr(0, rest.find(':')));
}

bool IsLoopbackIPv4(absl::string_view host) {
  if (!absl::StartsWith(host, "127.")) return false;
  int dots = 0;
  for (char c : host) {
    if (c == '.') {
      ++dots;
    } else if (!absl::ascii_isdigit(static_cast<unsigned char>(c))) {
      return false;
    }
  }
  return dots == 3;
}

}  // namespace

std::string_view Response::Header(std::string_view name) const {
  for (const auto& [key, value] : headers) {
    if (key == name) return value;
  }
  return "";
}

absl::string_view TransportFailureName(TransportFailure failure) {
  switch (failure) {
    case TransportFailure::kNone:
      return "none";
    case TransportFailure::kNotSent:
      return "not_sent";
    case TransportFailure::kConnectionLost:
      return "connection_lost";
    case TransportFailure::kTimeout:
      return "timeout";
    case TransportFailure::kResponseTooLarge:
      return "response_too_large";
    case TransportFailure::kTls:
      return "tls";
  }
  return "unknown";
}

absl::Status CheckUrlAllowed(absl::string_view url) {
  for (char c : url) {
    if (static_cast<unsigned char>(c) <= 0x20 || c == 0x7f) {
      return absl::InvalidArgumentError(
          "URL contains a space or control character");
    }
  }
  const std::string host = HostOf(url);
  if (host.empty()) {
    return absl::InvalidArgumentError(
        absl::StrCat("not an absolute http(s) URL: ", url.substr(0, 100)));
  }
  if (absl::StartsWithIgnoreCase(url, "https://")) return absl::OkStatus();
  if (absl::StartsWithIgnoreCase(url, "http://")) {
    if (host == "localhost" || host == "::1" || IsLoopbackIPv4(host) ||
        host == "169.254.169.254") {
      return absl::OkStatus();
    }
    return absl::FailedPreconditionError(absl::StrCat(
        "plain http:// to ", host,
        " is refused: only loopback hosts and the Azure instance metadata "
        "endpoint may use http; use https://"));
  }
  return absl::InvalidArgumentError(
      absl::StrCat("unsupported URL scheme: ", url.substr(0, 100)));
}

}  // namespace polysync::databricks::http
