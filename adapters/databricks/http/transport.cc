#include "adapters/databricks/http/transport.h"

#include "absl/strings/str_cat.h"
#include "adapters/databricks/http/url.h"

namespace polysync::databricks::http {

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
  absl::StatusOr<Url> parsed = ParseUrl(url);
  if (!parsed.ok()) return parsed.status();
  if (parsed->scheme != "https" && parsed->scheme != "http") {
    return absl::InvalidArgumentError(
        absl::StrCat("unsupported URL scheme ", parsed->scheme, "://"));
  }
  if (parsed->scheme == "http" && !IsLoopback(parsed->host) &&
      parsed->host != "169.254.169.254") {
    return absl::FailedPreconditionError(absl::StrCat(
        "plain http:// to ", parsed->host,
        " is refused: only loopback hosts and the Azure instance metadata "
        "endpoint may use http; use https://"));
  }
  if (parsed->has_user_info) {
    // libcurl would send it as Basic credentials; never echoed (a password).
    return absl::InvalidArgumentError(
        "URL with user information (user:password@) refused");
  }
  return absl::OkStatus();
}

}  // namespace polysync::databricks::http
