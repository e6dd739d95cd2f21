// The one mapping from a Databricks HTTP response to absl::Status.
//
// Why: every endpoint fails the same way (an HTTP status plus, usually, a
// body {"error_code": "...", "message": "..."}), and callers, retry logic and
// Polysync need one consistent answer. The table:
//
//   HTTP status                              absl::StatusCode
//   2xx                                      OK
//   400 INVALID_STATE                        FAILED_PRECONDITION
//   400 anything else (INVALID_PARAMETER_VALUE, MALFORMED_REQUEST, no code)
//                                            INVALID_ARGUMENT
//   401                                      UNAUTHENTICATED
//   403                                      PERMISSION_DENIED
//   404                                      NOT_FOUND
//   409                                      FAILED_PRECONDITION
//   429                                      RESOURCE_EXHAUSTED
//   other 4xx (405, 413, 414, ...)           INVALID_ARGUMENT: the request
//                                            we built was refused as such
//   5xx (500, 502, 503, 504, others)         UNAVAILABLE
//   3xx (a redirect: a wrong host, or a login page; never followed)
//                                            FAILED_PRECONDITION, message
//                                            without the body
//   anything else (1xx, 0)                   UNKNOWN
//   any status whose body says "RPC token bucket limit has been exceeded"
//   or whose error_code is REQUEST_LIMIT_EXCEEDED
//                                            RESOURCE_EXHAUSTED (throttled)
//
// The HTTP status decides, even when the body is not JSON (a proxy's HTML
// page). A 2xx whose body does not decode is INTERNAL (DecodeFailure()).
// Messages carry the endpoint, the status, the Databricks error_code, a short
// excerpt (at most ~200 bytes, control characters replaced, valid UTF-8) of
// the Databricks `message` or else of the raw body, and the request id:
//
//   GET pipelines/{id}: HTTP 404 RESOURCE_DOES_NOT_EXIST: Pipeline a12...
//   does not exist (request id abc)
//
// The HTTP status, the error_code and the throttled flag are also attached as
// payloads, read back with HttpStatusOf(), DatabricksErrorCodeOf() and
// IsThrottled(), so retry logic never parses messages.
//
//   absl::Status s = StatusFromHttpResponse("GET pipelines/{id}", 404, body,
//                                           response.request_id);
//   if (IsThrottled(s)) { ... back off ... }
#ifndef POLYSYNC_ADAPTERS_DATABRICKS_WIRE_ERRORS_H_
#define POLYSYNC_ADAPTERS_DATABRICKS_WIRE_ERRORS_H_

#include <optional>
#include <string>
#include <string_view>

#include "absl/status/status.h"

namespace polysync::databricks {

// Payload type URLs (values: decimal status; error_code text; "1").
inline constexpr char kHttpStatusPayload[] =
    "type.polysync.dev/databricks.http_status";
inline constexpr char kErrorCodePayload[] =
    "type.polysync.dev/databricks.error_code";
inline constexpr char kThrottledPayload[] =
    "type.polysync.dev/databricks.throttled";

// The code the table above gives to an HTTP status and Databricks error_code
// (not looking at throttling text).
absl::StatusCode StatusCodeForHttp(int http_status,
                                   std::string_view error_code);

// OK for a 2xx; otherwise the mapped status. `endpoint` names the call for
// the message (e.g. "GET pipelines/{id}"); `request_id` is the value of the
// response's request-id header (may be empty).
absl::Status StatusFromHttpResponse(std::string_view endpoint, int http_status,
                                    std::string_view body,
                                    std::string_view request_id);

// The same for an OAuth token endpoint (Entra ID, Databricks OIDC, IMDS),
// whose error bodies are {"error": ..., "error_description": ...}:
//   2xx -> OK; 400 and 401 (invalid_client, invalid_grant, ...) and other
//   4xx -> UNAUTHENTICATED; 403 -> PERMISSION_DENIED; 429 ->
//   RESOURCE_EXHAUSTED; 5xx -> UNAVAILABLE; 3xx -> FAILED_PRECONDITION (as
//   above); anything else -> UNKNOWN.
// The OAuth `error` travels like a Databricks error_code (message and
// payload). Never pass request bodies here: only the response.
absl::Status StatusFromTokenEndpointResponse(std::string_view endpoint,
                                             int http_status,
                                             std::string_view body,
                                             std::string_view request_id);

// INTERNAL for a response (normally a 2xx) whose body failed to decode;
// `decode_error` is what the decoder returned.
absl::Status DecodeFailure(std::string_view endpoint, int http_status,
                           std::string_view request_id,
                           const absl::Status& decode_error);

// True when the text is Databricks' throttling message ("RPC token bucket
// limit has been exceeded", any case) or a REQUEST_LIMIT_EXCEEDED code.
bool IsThrottlingMessage(std::string_view text);

// The payloads attached by this file, if present.
std::optional<int> HttpStatusOf(const absl::Status& status);
std::optional<std::string> DatabricksErrorCodeOf(const absl::Status& status);

// True for RESOURCE_EXHAUSTED and for statuses flagged as throttled.
bool IsThrottled(const absl::Status& status);

}  // namespace polysync::databricks

#endif  // POLYSYNC_ADAPTERS_DATABRICKS_WIRE_ERRORS_H_
