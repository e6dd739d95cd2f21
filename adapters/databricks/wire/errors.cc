#include "adapters/databricks/wire/errors.h"

#include <string>

#include "absl/strings/ascii.h"
#include "absl/strings/cord.h"
#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "adapters/databricks/wire/decoders.h"
#include "adapters/databricks/wire/text.h"

namespace polysync::databricks {
namespace {

constexpr size_t kExcerptBytes = 200;

bool IsRedirect(int http_status) {
  return http_status >= 300 && http_status < 400;
}

// A redirect (libcurl never follows one): the body, which may be a login
// page or carry its URL, is left out.
absl::Status RedirectStatus(std::string_view endpoint, int http_status,
                            std::string_view request_id);

std::string RequestIdSuffix(std::string_view request_id) {
  if (request_id.empty()) return "";
  return absl::StrCat(" (request id ", Excerpt(request_id, 64), ")");
}

}  // namespace

absl::StatusCode StatusCodeForHttp(int http_status,
                                   std::string_view error_code) {
  if (http_status >= 200 && http_status < 300) return absl::StatusCode::kOk;
  switch (http_status) {
    case 400:
      return error_code == "INVALID_STATE"
                 ? absl::StatusCode::kFailedPrecondition
                 : absl::StatusCode::kInvalidArgument;
    case 401:
      return absl::StatusCode::kUnauthenticated;
    case 403:
      return absl::StatusCode::kPermissionDenied;
    case 404:
      return absl::StatusCode::kNotFound;
    case 409:
      return absl::StatusCode::kFailedPrecondition;
    case 429:
      return absl::StatusCode::kResourceExhausted;
    default:
      break;
  }
  if (http_status >= 400 && http_status < 500) {
    return absl::StatusCode::kInvalidArgument;
  }
  if (http_status >= 500 && http_status < 600) {
    return absl::StatusCode::kUnavailable;
  }
  if (IsRedirect(http_status)) return absl::StatusCode::kFailedPrecondition;
  return absl::StatusCode::kUnknown;
}

bool IsThrottlingMessage(std::string_view text) {
  const std::string lower = absl::AsciiStrToLower(AsAbsl(text));
  return absl::StrContains(lower, "rpc token bucket limit has been exceeded") ||
         absl::StrContains(lower, "request_limit_exceeded");
}

namespace {

// Builds the status once the code and the texts are known.
absl::Status MakeStatus(absl::StatusCode code, std::string_view endpoint,
                        int http_status, const std::string& error_code,
                        const std::string& text, bool throttled,
                        std::string_view request_id) {
  std::string message = absl::StrCat(AsAbsl(endpoint), ": HTTP ", http_status);
  if (!error_code.empty()) absl::StrAppend(&message, " ", error_code);
  if (!text.empty()) absl::StrAppend(&message, ": ", text);
  if (code == absl::StatusCode::kUnknown) {
    absl::StrAppend(&message, " (unexpected HTTP status)");
  }
  absl::StrAppend(&message, RequestIdSuffix(request_id));

  absl::Status status(code, message);
  status.SetPayload(kHttpStatusPayload, absl::Cord(absl::StrCat(http_status)));
  if (!error_code.empty()) {
    status.SetPayload(kErrorCodePayload, absl::Cord(error_code));
  }
  if (throttled) status.SetPayload(kThrottledPayload, absl::Cord("1"));
  return status;
}

absl::Status RedirectStatus(std::string_view endpoint, int http_status,
                            std::string_view request_id) {
  absl::Status status(
      absl::StatusCode::kFailedPrecondition,
      absl::StrCat(AsAbsl(endpoint), ": HTTP ", http_status,
                   ": redirected instead of answered (redirects are not "
                   "followed); the workspace host is wrong or sends this "
                   "service to a login page: check the profile's host",
                   RequestIdSuffix(request_id)));
  status.SetPayload(kHttpStatusPayload, absl::Cord(absl::StrCat(http_status)));
  return status;
}

}  // namespace

absl::Status StatusFromHttpResponse(std::string_view endpoint, int http_status,
                                    std::string_view body,
                                    std::string_view request_id) {
  if (http_status >= 200 && http_status < 300) return absl::OkStatus();
  if (IsRedirect(http_status)) {
    return RedirectStatus(endpoint, http_status, request_id);
  }

  // A Databricks error body, when the body is one; else the raw body.
  std::string error_code;
  std::string text;
  bool throttled = false;
  if (absl::StatusOr<DatabricksError> error = DecodeDatabricksError(body);
      error.ok() && (!error->error_code.empty() || !error->message.empty())) {
    error_code = Excerpt(error->error_code, 64);
    text = Excerpt(error->message, kExcerptBytes);
    throttled = IsThrottlingMessage(error->message) ||
                error->error_code == "REQUEST_LIMIT_EXCEEDED";
  } else {
    text = Excerpt(body, kExcerptBytes);
    throttled = IsThrottlingMessage(body.substr(0, 4096));
  }

  absl::StatusCode code = StatusCodeForHttp(http_status, error_code);
  if (throttled) code = absl::StatusCode::kResourceExhausted;
  return MakeStatus(code, endpoint, http_status, error_code, text, throttled,
                    request_id);
}

absl::Status StatusFromTokenEndpointResponse(std::string_view endpoint,
                                             int http_status,
                                             std::string_view body,
                                             std::string_view request_id) {
  if (http_status >= 200 && http_status < 300) return absl::OkStatus();
  if (IsRedirect(http_status)) {
    return RedirectStatus(endpoint, http_status, request_id);
  }
  std::string error_code;
  std::string text;
  if (absl::StatusOr<OAuthError> error = DecodeOAuthError(body);
      error.ok() &&
      (!error->error.empty() || !error->error_description.empty())) {
    error_code = Excerpt(error->error, 64);
    text = Excerpt(error->error_description, kExcerptBytes);
  } else {
    text = Excerpt(body, kExcerptBytes);
  }
  absl::StatusCode code = absl::StatusCode::kUnknown;
  if (http_status == 403) {
    code = absl::StatusCode::kPermissionDenied;
  } else if (http_status == 429) {
    code = absl::StatusCode::kResourceExhausted;
  } else if (http_status >= 400 && http_status < 500) {
    code = absl::StatusCode::kUnauthenticated;
  } else if (http_status >= 500 && http_status < 600) {
    code = absl::StatusCode::kUnavailable;
  }
  return MakeStatus(code, endpoint, http_status, error_code, text,
                    code == absl::StatusCode::kResourceExhausted, request_id);
}

absl::Status DecodeFailure(std::string_view endpoint, int http_status,
                           std::string_view request_id,
                           const absl::Status& decode_error) {
  absl::Status status = absl::InternalError(
      absl::StrCat(AsAbsl(endpoint), ": HTTP ", http_status,
                   ": response could not be decoded: ",
                   Excerpt(std::string_view(decode_error.message().data(),
                                            decode_error.message().size()),
                           kExcerptBytes),
                   RequestIdSuffix(request_id)));
  status.SetPayload(kHttpStatusPayload, absl::Cord(absl::StrCat(http_status)));
  return status;
}

std::optional<int> HttpStatusOf(const absl::Status& status) {
  auto payload = status.GetPayload(kHttpStatusPayload);
  int value = 0;
  if (!payload.has_value() ||
      !absl::SimpleAtoi(std::string(*payload), &value)) {
    return std::nullopt;
  }
  return value;
}

std::optional<std::string> DatabricksErrorCodeOf(const absl::Status& status) {
  auto payload = status.GetPayload(kErrorCodePayload);
  if (!payload.has_value()) return std::nullopt;
  return std::string(*payload);
}

bool IsThrottled(const absl::Status& status) {
  return status.code() == absl::StatusCode::kResourceExhausted ||
         status.GetPayload(kThrottledPayload).has_value();
}

}  // namespace polysync::databricks
