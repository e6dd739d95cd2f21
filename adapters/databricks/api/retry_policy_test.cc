#include "adapters/databricks/api/retry_policy.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <vector>

namespace polysync::databricks {
namespace {

using ::polysync::databricks::http::TransportFailure;
using ::testing::HasSubstr;
using ::testing::Optional;

const absl::Time kStart = absl::FromUnixSeconds(1700000000);

AttemptResult Http(int status, std::string_view retry_after = "") {
  AttemptResult result;
  result.http_status = status;
  result.retry_after = retry_after;
  return result;
}

AttemptResult Transport(TransportFailure failure) {
  AttemptResult result;
  result.transport = failure;
  return result;
}

Uniform01 Fixed(double u) {
  return [u] { return u; };
}

TEST(IsRetryableTest, IdempotentCalls) {
  const auto idem = Idempotency::kIdempotent;
  for (int status : {429, 500, 501, 502, 503, 504, 599}) {
    EXPECT_TRUE(IsRetryable(idem, Http(status))) << status;
  }
  for (int status : {200, 204, 400, 401, 403, 404, 409, 302}) {
    EXPECT_FALSE(IsRetryable(idem, Http(status))) << status;
  }
  for (TransportFailure failure :
       {TransportFailure::kNotSent, TransportFailure::kTls,
        TransportFailure::kConnectionLost, TransportFailure::kTimeout,
        TransportFailure::kResponseTooLarge}) {
    EXPECT_TRUE(IsRetryable(idem, Transport(failure)));
  }
  AttemptResult throttled = Http(400);
  throttled.throttled = true;
  EXPECT_TRUE(IsRetryable(idem, throttled));
}

TEST(IsRetryableTest, StartUpdateOnlyWhenCertainlyNotProcessed) {
  const auto once = Idempotency::kNonIdempotent;
  EXPECT_TRUE(IsRetryable(once, Http(429)));
  EXPECT_TRUE(IsRetryable(once, Transport(TransportFailure::kNotSent)));
  EXPECT_TRUE(IsRetryable(once, Transport(TransportFailure::kTls)));
  AttemptResult throttled = Http(400);
  throttled.throttled = true;
  EXPECT_TRUE(IsRetryable(once, throttled));
  for (int status : {500, 502, 503, 504, 400, 409}) {
    EXPECT_FALSE(IsRetryable(once, Http(status))) << status;
  }
  for (TransportFailure failure :
       {TransportFailure::kConnectionLost, TransportFailure::kTimeout,
        TransportFailure::kResponseTooLarge}) {
    EXPECT_FALSE(IsRetryable(once, Transport(failure)));
  }
}

TEST(ParseRetryAfterTest, SecondsAndHttpDates) {
  EXPECT_THAT(ParseRetryAfter("120", kStart), Optional(absl::Seconds(120)));
  EXPECT_THAT(ParseRetryAfter(" 0 ", kStart), Optional(absl::ZeroDuration()));
  const absl::Time date = absl::FromUnixSeconds(784111777);  // the RFC's date
  EXPECT_THAT(ParseRetryAfter("Sun, 06 Nov 1994 08:49:37 GMT",
                              date - absl::Seconds(30)),
              Optional(absl::Seconds(30)));
  EXPECT_THAT(ParseRetryAfter("Sun, 06 Nov 1994 08:49:37 GMT", kStart),
              Optional(absl::ZeroDuration()));
  for (const char* bad :
       {"", "-1", "1.5", "abc", "12345678901", "Sun, 06 Nov 1994 08:49:37 UTC",
        "Sunday, 06-Nov-94 08:49:37 GMT", "Sun, 31 Feb 1994 08:49:37 GMT",
        "Sun, 06 Xyz 1994 08:49:37 GMT", "Sun, 06 Nov 1994 25:49:37 GMT",
        "Sun Nov  6 08:49:37 1994"}) {
    EXPECT_EQ(ParseRetryAfter(bad, kStart), std::nullopt) << bad;
  }
}

TEST(RetryLoopTest, FullJitterGrowsExponentiallyUpToTheCap) {
  BackoffOptions options;
  options.initial_delay = absl::Seconds(1);
  options.max_delay = absl::Seconds(10);
  options.multiplier = 2;
  options.budget = absl::Hours(1);
  options.max_attempts = 0;
  RetryLoop loop(options, Idempotency::kIdempotent, kStart, Fixed(0.5));
  std::vector<absl::Duration> delays;
  absl::Time now = kStart;
  for (int i = 0; i < 6; ++i) {
    RetryDecision d = loop.OnAttemptFailed(Http(503), now);
    ASSERT_TRUE(d.retry) << d.reason;
    delays.push_back(d.delay);
    now += d.delay;
  }
  EXPECT_THAT(delays,
              ::testing::ElementsAre(absl::Milliseconds(500), absl::Seconds(1),
                                     absl::Seconds(2), absl::Seconds(4),
                                     absl::Seconds(5), absl::Seconds(5)));
  EXPECT_EQ(loop.attempts(), 7);
}

TEST(RetryLoopTest, JitterSpansZeroToTheCap) {
  BackoffOptions options;
  options.initial_delay = absl::Seconds(4);
  RetryLoop low(options, Idempotency::kIdempotent, kStart, Fixed(0.0));
  EXPECT_EQ(low.OnAttemptFailed(Http(503), kStart).delay, absl::ZeroDuration());
  RetryLoop high(options, Idempotency::kIdempotent, kStart, Fixed(0.999));
  EXPECT_EQ(high.OnAttemptFailed(Http(503), kStart).delay,
            absl::Seconds(4) * 0.999);
  RetryLoop nan(options, Idempotency::kIdempotent, kStart,
                Fixed(std::numeric_limits<double>::quiet_NaN()));
  EXPECT_EQ(nan.OnAttemptFailed(Http(503), kStart).delay, absl::ZeroDuration());
}

TEST(RetryLoopTest, RetryAfterIsHonouredOn429And503Only) {
  BackoffOptions options;
  options.budget = absl::Minutes(5);
  RetryLoop loop(options, Idempotency::kIdempotent, kStart, Fixed(0.5));
  RetryDecision d = loop.OnAttemptFailed(Http(429, "7"), kStart);
  ASSERT_TRUE(d.retry);
  EXPECT_EQ(d.delay, absl::Seconds(7));
  d = loop.OnAttemptFailed(Http(503, "Tue, 14 Nov 2023 22:13:40 GMT"), kStart);
  ASSERT_TRUE(d.retry);
  EXPECT_EQ(d.delay, absl::Seconds(20));  // kStart is 22:13:20 GMT
  d = loop.OnAttemptFailed(Http(502, "60"), kStart);
  ASSERT_TRUE(d.retry);
  EXPECT_LT(d.delay, absl::Seconds(60));
  // A smaller Retry-After than the backoff does not shorten it.
  RetryLoop big(options, Idempotency::kIdempotent, kStart, Fixed(0.9));
  big.OnAttemptFailed(Http(500), kStart);
  big.OnAttemptFailed(Http(500), kStart);
  d = big.OnAttemptFailed(Http(429, "0"), kStart);
  EXPECT_EQ(d.delay, absl::Seconds(2) * 0.9);
  // Garbage Retry-After falls back to the backoff.
  d = big.OnAttemptFailed(Http(429, "soon"), kStart);
  EXPECT_TRUE(d.retry);
}

TEST(RetryLoopTest, BudgetAndAttemptsBound) {
  BackoffOptions options;
  options.budget = absl::Seconds(10);
  options.max_attempts = 0;
  RetryLoop loop(options, Idempotency::kIdempotent, kStart, Fixed(0.5));
  RetryDecision d = loop.OnAttemptFailed(Http(429, "11"), kStart);
  EXPECT_FALSE(d.retry);
  EXPECT_THAT(d.reason, HasSubstr("budget"));
  d = loop.OnAttemptFailed(Http(429, "10"), kStart);
  EXPECT_TRUE(d.retry);
  d = loop.OnAttemptFailed(Http(500), kStart + absl::Seconds(10));
  EXPECT_FALSE(d.retry);

  options.budget = absl::Hours(1);
  options.max_attempts = 3;
  RetryLoop limited(options, Idempotency::kIdempotent, kStart, Fixed(0.1));
  EXPECT_TRUE(limited.OnAttemptFailed(Http(500), kStart).retry);
  EXPECT_TRUE(limited.OnAttemptFailed(Http(500), kStart).retry);
  d = limited.OnAttemptFailed(Http(500), kStart);
  EXPECT_FALSE(d.retry);
  EXPECT_THAT(d.reason, HasSubstr("3 attempts"));
}

// 502, 503, 504 are retried through the budget; a 500 (or 501, 505...) at
// most twice and only within about 2 s of the first attempt.
TEST(RetryLoopTest, ServiceErrorsAreRetriedTwiceAndQuickly) {
  BackoffOptions options;
  options.max_attempts = 0;
  for (int status : {500, 501, 505, 599}) {
    RetryLoop loop(options, Idempotency::kIdempotent, kStart, Fixed(0.9));
    RetryDecision d = loop.OnAttemptFailed(Http(status), kStart);
    ASSERT_TRUE(d.retry) << status;
    absl::Time at = kStart + d.delay;
    d = loop.OnAttemptFailed(Http(status), at);
    ASSERT_TRUE(d.retry) << status;
    at += d.delay;
    EXPECT_LE(at, kStart + absl::Seconds(2)) << status;
    d = loop.OnAttemptFailed(Http(status), at);
    EXPECT_FALSE(d.retry) << status;
    EXPECT_THAT(d.reason, HasSubstr("service errors"));
  }
  // Past the window: not even once.
  RetryLoop late(options, Idempotency::kIdempotent, kStart, Fixed(0.5));
  EXPECT_TRUE(late.OnAttemptFailed(Http(503), kStart).retry);
  EXPECT_FALSE(
      late.OnAttemptFailed(Http(500), kStart + absl::Seconds(3)).retry);
  // The window counts from the first send, not from the call's creation
  // (a call may wait for the limiter first).
  RetryLoop queued(options, Idempotency::kIdempotent, kStart, Fixed(0.5));
  queued.FirstSent(kStart + absl::Seconds(5));
  queued.FirstSent(kStart + absl::Seconds(6));  // later sends do not move it
  EXPECT_TRUE(
      queued.OnAttemptFailed(Http(500), kStart + absl::Seconds(5)).retry);
  EXPECT_TRUE(
      queued.OnAttemptFailed(Http(500), kStart + absl::Seconds(6)).retry);
  RetryLoop queued_late(options, Idempotency::kIdempotent, kStart, Fixed(0.5));
  queued_late.FirstSent(kStart + absl::Seconds(5));
  EXPECT_FALSE(
      queued_late.OnAttemptFailed(Http(500), kStart + absl::Seconds(8)).retry);
  // The way to the service failing keeps the whole budget.
  for (int status : {502, 503, 504}) {
    RetryLoop loop(options, Idempotency::kIdempotent, kStart, Fixed(0.5));
    absl::Time at = kStart;
    int retries = 0;
    for (RetryDecision d = loop.OnAttemptFailed(Http(status), at); d.retry;
         d = loop.OnAttemptFailed(Http(status), at)) {
      at += d.delay;
      ++retries;
    }
    EXPECT_GT(retries, 4) << status;
    EXPECT_GT(at, kStart + absl::Seconds(20)) << status;
  }
}

TEST(RetryLoopTest, NonIdempotentGivesUpAfterPossibleProcessing) {
  RetryLoop loop(BackoffOptions{}, Idempotency::kNonIdempotent, kStart,
                 Fixed(0.5));
  EXPECT_TRUE(
      loop.OnAttemptFailed(Transport(TransportFailure::kNotSent), kStart)
          .retry);
  EXPECT_TRUE(loop.OnAttemptFailed(Http(429, "1"), kStart).retry);
  RetryDecision d =
      loop.OnAttemptFailed(Transport(TransportFailure::kTimeout), kStart);
  EXPECT_FALSE(d.retry);
  EXPECT_THAT(d.reason, HasSubstr("timeout is not retried for a "
                                  "non-idempotent call"));
  EXPECT_FALSE(loop.OnAttemptFailed(Http(503), kStart).retry);
}

TEST(RetryLoopTest, DefaultRandomIsInRange) {
  Uniform01 uniform = DefaultUniform01();
  for (int i = 0; i < 1000; ++i) {
    const double u = uniform();
    ASSERT_GE(u, 0.0);
    ASSERT_LT(u, 1.0);
  }
}

std::vector<UpdateStateInfo> Updates(std::vector<std::string> ids) {
  std::vector<UpdateStateInfo> out;
  for (std::string& id : ids) {
    out.push_back(UpdateStateInfo{std::move(id), "RUNNING", ""});
  }
  return out;
}

TEST(NewUpdateIdsTest, FindsUpdatesMissingFromTheSnapshot) {
  EXPECT_THAT(NewUpdateIds(Updates({"b", "a"}), Updates({"c", "b", "a"})),
              ::testing::ElementsAre("c"));
  EXPECT_TRUE(NewUpdateIds(Updates({"b", "a"}), Updates({"b", "a"})).empty());
  EXPECT_TRUE(NewUpdateIds({}, {}).empty());
  EXPECT_THAT(NewUpdateIds({}, Updates({"a"})), ::testing::ElementsAre("a"));
  // latest_updates is a short window: old ones falling off do not matter.
  EXPECT_THAT(NewUpdateIds(Updates({"c", "b", "a"}), Updates({"d", "c", "b"})),
              ::testing::ElementsAre("d"));
  // Two new ones: ambiguous, both returned newest first; duplicates once.
  EXPECT_THAT(NewUpdateIds(Updates({"a"}), Updates({"e", "d", "e", "a", ""})),
              ::testing::ElementsAre("e", "d"));
}

}  // namespace
}  // namespace polysync::databricks
