// The HTTP seam of the Databricks adapter: an asynchronous transport.
//
// Everything above this interface (the typed Pipelines API client, the token
// providers) sends requests through a `Transport` and gets HTTP responses back
// as data: a 404 or a 503 is a `Response`, not an error. Only transport
// failures (cannot connect, reset, timeout, truncated or oversized body, TLS)
// are errors, and each carries a `TransportFailure` saying whether the request
// may have reached the server, which decides whether a non-idempotent call may
// be retried.
//
// `MakeCurlTransport()` (curl_transport.h) is the production implementation:
// one event-loop thread drives every request with curl's multi interface, so
// no caller thread ever waits on the network. Tests may implement the
// interface directly.
//
//   transport->Send(request, [](TransportResult result) {
//     if (!result.status.ok()) { ... result.failure ... }
//     else if (result.response.status == 200) { ... result.response.body ... }
//   });
#ifndef POLYSYNC_ADAPTERS_DATABRICKS_HTTP_TRANSPORT_H_
#define POLYSYNC_ADAPTERS_DATABRICKS_HTTP_TRANSPORT_H_

#include <functional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "absl/status/status.h"
#include "absl/strings/string_view.h"
#include "absl/time/time.h"

namespace polysync::databricks::http {

using Headers = std::vector<std::pair<std::string, std::string>>;

struct Request {
  std::string method = "GET";  // GET, POST, PUT, DELETE
  // Absolute URL. https:// always; http:// only for loopback hosts and the
  // Azure instance metadata address (see CheckUrlAllowed()).
  std::string url;
  Headers headers;
  std::string body;
  // When the request must be finished. absl::InfiniteFuture() means "use the
  // transport's default timeout".
  absl::Time deadline = absl::InfiniteFuture();
  // False for a request that must never be sent twice (start update). HTTP
  // clients silently resend a request when a reused kept-alive connection
  // turns out to be dead; such a request therefore gets a fresh connection,
  // so a reset is reported instead of resent.
  bool idempotent = true;
  // PEM CA bundle trusted for this request instead of the transport's.
  std::string ca_bundle_file;
};

struct Response {
  int status = 0;
  // The HTTP major version the response came over: 1 or 2.
  int http_version = 1;
  // True when a new connection was opened for this request (false: a
  // kept-alive connection was reused).
  bool new_connection = false;
  // Header names in lower case, in the order received.
  Headers headers;
  std::string body;

  // The first header named `name` (lower case), or "".
  std::string_view Header(std::string_view name) const;
};

// Why a request got no complete response.
enum class TransportFailure {
  kNone = 0,
  // The request was certainly not sent: bad URL, refused by policy, DNS
  // failure, connection refused, deadline already past.
  kNotSent,
  // Connected, but the connection broke (reset, closed) before a complete
  // response: the server may have processed the request.
  kConnectionLost,
  // The deadline passed after the request may have been sent.
  kTimeout,
  // The response was larger than the configured cap.
  kResponseTooLarge,
  // TLS handshake or certificate verification failed (nothing was sent).
  kTls,
};

absl::string_view TransportFailureName(TransportFailure failure);

// True when a request that failed this way certainly did not reach the
// server, so even a non-idempotent request may be sent again.
inline bool CertainlyNotSent(TransportFailure failure) {
  return failure == TransportFailure::kNotSent ||
         failure == TransportFailure::kTls;
}

struct TransportResult {
  // OK when `response` holds a complete HTTP response (whatever its status).
  absl::Status status;
  TransportFailure failure = TransportFailure::kNone;
  Response response;
  // Wall time from Send() to completion.
  absl::Duration elapsed;
};

class Transport {
 public:
  using Callback = std::function<void(TransportResult)>;

  virtual ~Transport() = default;

  // Sends `request` and calls `done` exactly once with the result, on the
  // transport's own thread (keep it short; never block in it).
  virtual void Send(Request request, Callback done) = 0;

  // Calls `fn` once after `delay` on the transport's thread (for retry
  // backoff without parking a thread).
  virtual void RunAfter(absl::Duration delay, std::function<void()> fn) = 0;

  // Ends every request in flight now and refuses every later one: each is
  // answered (on the transport's thread, exactly once, as always) with
  // CANCELLED whose message ends with `reason`; `failure` is
  // kConnectionLost for a request that may have been sent, kNotSent for the
  // rest. Timers still run. Irreversible: for the end of a drain, so nothing
  // keeps the process waiting on the network.
  virtual void CancelAll(absl::string_view reason) = 0;
};

// Checks the URL policy: https:// for every host; http:// only for loopback
// (127.0.0.0/8, ::1, localhost) and 169.254.169.254 (Azure instance
// metadata). Returns INVALID_ARGUMENT or FAILED_PRECONDITION otherwise.
absl::Status CheckUrlAllowed(absl::string_view url);

}  // namespace polysync::databricks::http

#endif  // POLYSYNC_ADAPTERS_DATABRICKS_HTTP_TRANSPORT_H_
