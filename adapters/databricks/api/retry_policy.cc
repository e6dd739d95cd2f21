#include "adapters/databricks/api/retry_policy.h"

#include <algorithm>
#include <cmath>
#include <memory>
#include <mutex>
#include <random>
#include <utility>

#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"

namespace polysync::databricks {

using http::TransportFailure;

namespace {

// 502, 503 and 504 are the way to the service failing (a gateway, an
// overloaded front end, a timeout); any other 5xx is the service's own error,
// which a retry rarely cures.
bool IsServiceError(const AttemptResult& result) {
  const int s = result.http_status;
  return result.transport == TransportFailure::kNone && !result.throttled &&
         s >= 500 && s < 600 && s != 502 && s != 503 && s != 504;
}

bool MayHaveBeenProcessed(TransportFailure failure) {
  return failure != TransportFailure::kNone && !http::CertainlyNotSent(failure);
}

std::string Describe(const AttemptResult& result) {
  if (result.transport != TransportFailure::kNone) {
    return std::string(http::TransportFailureName(result.transport));
  }
  return absl::StrCat("HTTP ", result.http_status,
                      result.throttled ? " (throttled)" : "");
}

bool ParseDigits(std::string_view text, int* out) {
  if (text.empty() || text.size() > 9) return false;
  int value = 0;
  for (char c : text) {
    if (!absl::ascii_isdigit(static_cast<unsigned char>(c))) return false;
    value = value * 10 + (c - '0');
  }
  *out = value;
  return true;
}

// IMF-fixdate: "Sun, 06 Nov 1994 08:49:37 GMT" (exactly 29 characters).
std::optional<absl::Time> ParseImfFixdate(std::string_view s) {
  static constexpr std::string_view kDays[] = {"Mon", "Tue", "Wed", "Thu",
                                               "Fri", "Sat", "Sun"};
  static constexpr std::string_view kMonths[] = {"Jan", "Feb", "Mar", "Apr",
                                                 "May", "Jun", "Jul", "Aug",
                                                 "Sep", "Oct", "Nov", "Dec"};
  if (s.size() != 29 || s.substr(3, 2) != ", " || s[7] != ' ' || s[11] != ' ' ||
      s[16] != ' ' || s[19] != ':' || s[22] != ':' || s.substr(25) != " GMT") {
    return std::nullopt;
  }
  if (std::find(std::begin(kDays), std::end(kDays), s.substr(0, 3)) ==
      std::end(kDays)) {
    return std::nullopt;
  }
  const auto month_it =
      std::find(std::begin(kMonths), std::end(kMonths), s.substr(8, 3));
  if (month_it == std::end(kMonths)) return std::nullopt;
  const int month = static_cast<int>(month_it - std::begin(kMonths)) + 1;
  int day, year, hour, minute, second;
  if (!ParseDigits(s.substr(5, 2), &day) ||
      !ParseDigits(s.substr(12, 4), &year) ||
      !ParseDigits(s.substr(17, 2), &hour) ||
      !ParseDigits(s.substr(20, 2), &minute) ||
      !ParseDigits(s.substr(23, 2), &second)) {
    return std::nullopt;
  }
  if (day < 1 || day > 31 || hour > 23 || minute > 59 || second > 60) {
    return std::nullopt;
  }
  const absl::CivilSecond civil(year, month, day, hour, minute, second);
  if (civil.day() != day) return std::nullopt;  // e.g. 31 Feb
  return absl::FromCivil(civil, absl::UTCTimeZone());
}

}  // namespace

bool IsRetryable(Idempotency idempotency, const AttemptResult& result) {
  if (http::CertainlyNotSent(result.transport)) return true;
  if (MayHaveBeenProcessed(result.transport)) {
    return idempotency == Idempotency::kIdempotent;
  }
  const int status = result.http_status;
  if (status >= 200 && status < 300) return false;
  if (status == 429 || result.throttled) return true;
  if (idempotency == Idempotency::kNonIdempotent) return false;
  return status >= 500 && status < 600;
}

std::optional<absl::Duration> ParseRetryAfter(std::string_view value,
                                              absl::Time now) {
  const absl::string_view stripped =
      absl::StripAsciiWhitespace(absl::string_view(value.data(), value.size()));
  const std::string_view text(stripped.data(), stripped.size());
  int seconds = 0;
  if (ParseDigits(text, &seconds)) return absl::Seconds(seconds);
  std::optional<absl::Time> date = ParseImfFixdate(text);
  if (!date.has_value()) return std::nullopt;
  return std::max(absl::ZeroDuration(), *date - now);
}

Uniform01 DefaultUniform01() {
  struct State {
    std::mutex mu;
    std::mt19937_64 engine{std::random_device{}()};
    std::uniform_real_distribution<double> dist{0.0, 1.0};
  };
  auto state = std::make_shared<State>();
  return [state] {
    std::lock_guard<std::mutex> lock(state->mu);
    return state->dist(state->engine);
  };
}

RetryLoop::RetryLoop(const BackoffOptions& options, Idempotency idempotency,
                     absl::Time start, Uniform01 uniform01)
    : options_(options),
      idempotency_(idempotency),
      start_(start),
      deadline_(start + options.budget),
      uniform01_(std::move(uniform01)) {}

RetryDecision RetryLoop::OnAttemptFailed(const AttemptResult& result,
                                         absl::Time now) {
  RetryDecision decision;
  if (!IsRetryable(idempotency_, result)) {
    decision.reason = absl::StrCat(Describe(result), " is not retried",
                                   idempotency_ == Idempotency::kNonIdempotent
                                       ? " for a non-idempotent call"
                                       : "");
    return decision;
  }
  if (options_.max_attempts > 0 && attempts_ >= options_.max_attempts) {
    decision.reason = absl::StrCat(Describe(result), " after ", attempts_,
                                   " attempts: no attempts left");
    return decision;
  }
  // Full jitter over an exponentially growing cap.
  const int retry_number = attempts_;  // 1 for the first retry
  absl::Duration cap = options_.initial_delay;
  for (int i = 1; i < retry_number && cap < options_.max_delay; ++i) {
    cap = cap * options_.multiplier;
  }
  cap = std::min(cap, options_.max_delay);
  double u = uniform01_ ? uniform01_() : 0.5;
  if (!(u >= 0.0)) u = 0.0;  // also catches NaN
  if (u > 1.0) u = 1.0;
  absl::Duration delay = cap * u;

  const bool may_send_retry_after =
      result.transport == TransportFailure::kNone &&
      (result.http_status == 429 || result.http_status == 503);
  if (may_send_retry_after && !result.retry_after.empty()) {
    if (std::optional<absl::Duration> asked =
            ParseRetryAfter(result.retry_after, now)) {
      delay = std::max(delay, *asked);
    }
  }
  if (now + delay > deadline_) {
    decision.reason = absl::StrCat(Describe(result),
                                   ": retry budget exhausted (next attempt in ",
                                   absl::FormatDuration(delay), ")");
    return decision;
  }
  if (IsServiceError(result)) {
    if (service_error_retries_ >= kServiceErrorRetries) {
      decision.reason =
          absl::StrCat(Describe(result), " after ", service_error_retries_,
                       " retries of service errors: not again");
      return decision;
    }
    // Quickly or not at all: the retry starts within the window.
    const absl::Time window_end =
        first_sent_.value_or(start_) + kServiceErrorWindow;
    delay = std::min(delay, std::max(absl::ZeroDuration(), window_end - now));
    if (now + delay > window_end) {
      decision.reason = absl::StrCat(Describe(result), ": more than ",
                                     absl::FormatDuration(kServiceErrorWindow),
                                     " after the first attempt: not retried");
      return decision;
    }
    ++service_error_retries_;
  }
  ++attempts_;
  decision.retry = true;
  decision.delay = delay;
  decision.reason = absl::StrCat(Describe(result), ": retry ", retry_number,
                                 " in ", absl::FormatDuration(delay));
  return decision;
}

std::vector<std::string> NewUpdateIds(
    const std::vector<UpdateStateInfo>& before,
    const std::vector<UpdateStateInfo>& after) {
  std::vector<std::string> fresh;
  for (const UpdateStateInfo& candidate : after) {
    if (candidate.update_id.empty()) continue;
    bool known = false;
    for (const UpdateStateInfo& old : before) {
      known = known || old.update_id == candidate.update_id;
    }
    for (const std::string& seen : fresh) {
      known = known || seen == candidate.update_id;
    }
    if (!known) fresh.push_back(candidate.update_id);
  }
  return fresh;
}

}  // namespace polysync::databricks
