// Retry decisions for Databricks calls: which failures may be retried,
// exponential backoff with full jitter inside an overall time budget, and
// Retry-After. Pure logic: the caller passes the current time and the random
// source, so tests never sleep and an event loop can schedule the retry.
//
// Why: the Pipelines API is rate limited and sometimes unavailable, but start
// update is not idempotent: retrying it after the request may have been
// processed can start a second update. So:
//   - idempotent calls (GETs, and stop after the caller re-checked the
//     active update) are retried on 429, 502, 503, 504, throttling messages
//     and every transport failure within the budget; a 500 or another 5xx
//     (an error of the service, not of the way to it) at most twice, within
//     about 2 s of the first attempt (the SDKs do not retry a plain 500 at
//     all; one broken pipeline must not cost an import a minute);
//   - non-idempotent calls (start update) only on 429 / throttling, or when
//     the request certainly was not sent (http::CertainlyNotSent: kNotSent,
//     kTls);
//     after anything else the caller must look at latest_updates instead.
//   - Retry-After (seconds or an HTTP-date) is honoured on 429 and 503: the
//     delay is at least what the server asked for.
//
//   RetryLoop loop(BackoffOptions{}, Idempotency::kIdempotent, start,
//                  DefaultUniform01());
//   for (;;) {
//     AttemptResult result = ...;  // from the transport
//     RetryDecision d = loop.OnAttemptFailed(result, clock.Now());
//     if (!d.retry) return ...;     // d.reason says why
//     ScheduleAfter(d.delay);
//   }
#ifndef POLYSYNC_ADAPTERS_DATABRICKS_API_RETRY_POLICY_H_
#define POLYSYNC_ADAPTERS_DATABRICKS_API_RETRY_POLICY_H_

#include <functional>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "absl/time/time.h"
#include "adapters/databricks/http/transport.h"
#include "adapters/databricks/wire/types.h"

namespace polysync::databricks {

enum class Idempotency { kIdempotent, kNonIdempotent };

// What one attempt produced.
struct AttemptResult {
  // How the attempt failed below HTTP, as the transport said (kNone: an
  // HTTP response arrived, see http_status).
  http::TransportFailure transport = http::TransportFailure::kNone;
  int http_status = 0;  // when transport == kNone
  // The body said "RPC token bucket limit has been exceeded" (errors.h:
  // IsThrottled() of the mapped status): treated like a 429.
  bool throttled = false;
  std::string_view retry_after;  // the Retry-After header value, if any
};

// True when the attempt failed in a way that may be retried for a call of
// the given idempotency (see the file comment). 2xx is never retried.
bool IsRetryable(Idempotency idempotency, const AttemptResult& result);

// Retry-After: an integer number of seconds, or an IMF-fixdate HTTP-date
// ("Sun, 06 Nov 1994 08:49:37 GMT"; a date in the past means zero).
// nullopt when empty or malformed.
std::optional<absl::Duration> ParseRetryAfter(std::string_view value,
                                              absl::Time now);

// A 500 (or a 5xx other than 502, 503, 504) is retried at most this often,
// and only while the retry starts within kServiceErrorWindow of the first
// attempt (when it was sent: RetryLoop::FirstSent).
inline constexpr int kServiceErrorRetries = 2;
inline constexpr absl::Duration kServiceErrorWindow = absl::Seconds(2);

struct BackoffOptions {
  absl::Duration initial_delay = absl::Milliseconds(500);
  absl::Duration max_delay = absl::Seconds(30);
  double multiplier = 2.0;
  // Overall: no retry is scheduled to start later than start + budget.
  absl::Duration budget = absl::Seconds(60);
  int max_attempts = 8;  // including the first; 0 means no limit
};

// Uniform random numbers in [0, 1). The default is seeded from the system.
using Uniform01 = std::function<double()>;
Uniform01 DefaultUniform01();

struct RetryDecision {
  bool retry = false;
  absl::Duration delay = absl::ZeroDuration();  // when retry
  std::string reason;  // why not, or what is retried (for logs)
};

// The retry state of one logical call (not thread-safe; one per call).
class RetryLoop {
 public:
  RetryLoop(const BackoffOptions& options, Idempotency idempotency,
            absl::Time start, Uniform01 uniform01);

  // After a failed attempt: retry (after `delay`) or give up. Full jitter:
  // delay = uniform * min(max_delay, initial_delay * multiplier^(n-1)) for
  // the n-th retry, raised to Retry-After on 429/503.
  RetryDecision OnAttemptFailed(const AttemptResult& result, absl::Time now);

  int attempts() const { return attempts_; }  // attempts made so far

  // The call's first request went out at `t` (after waiting for the
  // limiter): the service-error window counts from here, not from `start`.
  // Later calls are ignored.
  void FirstSent(absl::Time t) {
    if (!first_sent_.has_value()) first_sent_ = t;
  }

 private:
  BackoffOptions options_;
  Idempotency idempotency_;
  absl::Time start_;
  absl::Time deadline_;
  Uniform01 uniform01_;
  int attempts_ = 1;
  int service_error_retries_ = 0;  // of 500 and 5xx other than 502-504
  std::optional<absl::Time> first_sent_;
};

// After a start update whose outcome is unknown (5xx, reset, timeout): the
// update ids in `after` (a pipeline's latest_updates read after the POST)
// that are not in `before` (the snapshot read just before it), newest first,
// as latest_updates orders them. Exactly one means the POST started it: adopt
// it. None means it did not (report UNAVAILABLE, do not retry blindly); more
// than one means someone else started updates too, and the caller must not
// guess. Clocks are never compared.
std::vector<std::string> NewUpdateIds(
    const std::vector<UpdateStateInfo>& before,
    const std::vector<UpdateStateInfo>& after);

}  // namespace polysync::databricks

#endif  // POLYSYNC_ADAPTERS_DATABRICKS_API_RETRY_POLICY_H_
