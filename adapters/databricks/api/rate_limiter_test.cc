#include "adapters/databricks/api/rate_limiter.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <thread>
#include <vector>

namespace polysync::databricks {
namespace {

const absl::Time kStart = absl::FromUnixSeconds(1700000000);

TEST(AdaptiveLimiterTest, DefaultsAre30PerSecondAnd16Concurrent) {
  AdaptiveLimiter limiter(LimiterOptions{}, kStart);
  EXPECT_EQ(limiter.requests_per_second(), 30);
  EXPECT_EQ(limiter.concurrency_limit(), 16);
  for (int i = 0; i < 16; ++i) {
    ASSERT_TRUE(limiter.TryAcquire(kStart).granted) << i;
  }
  Admission a = limiter.TryAcquire(kStart);
  EXPECT_FALSE(a.granted);
  EXPECT_TRUE(a.wait_for_release);
  limiter.Release(LimiterOutcome::kSuccess, kStart);
  EXPECT_TRUE(limiter.TryAcquire(kStart).granted);
  EXPECT_EQ(limiter.in_flight(), 16);
}

TEST(AdaptiveLimiterTest, TokenBucketSaysHowLongToWait) {
  LimiterOptions options;
  options.requests_per_second = 10;
  options.max_concurrency = 1000;
  AdaptiveLimiter limiter(options, kStart);
  for (int i = 0; i < 10; ++i) {
    ASSERT_TRUE(limiter.TryAcquire(kStart).granted) << i;  // the burst
  }
  Admission a = limiter.TryAcquire(kStart);
  EXPECT_FALSE(a.granted);
  EXPECT_FALSE(a.wait_for_release);
  EXPECT_EQ(a.wait, absl::Milliseconds(100));
  EXPECT_FALSE(limiter.TryAcquire(kStart + absl::Milliseconds(50)).granted);
  EXPECT_TRUE(limiter.TryAcquire(kStart + absl::Milliseconds(100)).granted);
  // A clock going backwards neither grants nor crashes.
  EXPECT_FALSE(limiter.TryAcquire(kStart).granted);
  // Over ten seconds, about ten per second.
  int granted = 0;
  for (int ms = 101; ms <= 10100; ++ms) {
    granted += limiter.TryAcquire(kStart + absl::Milliseconds(ms)).granted;
  }
  EXPECT_NEAR(granted, 100, 1);
}

TEST(AdaptiveLimiterTest, ThrottlingHalvesBothOncePerCooldownNotBelowOne) {
  AdaptiveLimiter limiter(LimiterOptions{}, kStart);
  for (int i = 0; i < 16; ++i) limiter.TryAcquire(kStart);
  // All 16 in-flight requests come back 429 at once: one halving.
  for (int i = 0; i < 16; ++i) {
    limiter.Release(LimiterOutcome::kThrottled, kStart);
  }
  EXPECT_EQ(limiter.requests_per_second(), 15);
  EXPECT_EQ(limiter.concurrency_limit(), 8);
  EXPECT_EQ(limiter.in_flight(), 0);
  absl::Time now = kStart;
  for (int i = 0; i < 10; ++i) {
    now += absl::Seconds(1);
    limiter.TryAcquire(now);
    limiter.Release(LimiterOutcome::kThrottled, now);
  }
  EXPECT_EQ(limiter.requests_per_second(), 1);
  EXPECT_EQ(limiter.concurrency_limit(), 1);
  // Still usable: one at a time.
  now += absl::Seconds(1);
  EXPECT_TRUE(limiter.TryAcquire(now).granted);
  EXPECT_TRUE(limiter.TryAcquire(now).wait_for_release);
}

TEST(AdaptiveLimiterTest, RecoversWithTimeWhenSuccessesAreSparse) {
  // Halved to the floor by repeated throttles, then one success every 2 s:
  // the count alone (10 successes) would take 20 s a step.
  AdaptiveLimiter limiter(LimiterOptions{}, kStart);
  absl::Time now = kStart;
  for (int i = 0; i < 5; ++i) {
    now += absl::Seconds(2);
    ASSERT_TRUE(limiter.TryAcquire(now).granted);
    limiter.Release(LimiterOutcome::kThrottled, now);
  }
  ASSERT_EQ(limiter.concurrency_limit(), 1);
  const double floor_rate = limiter.requests_per_second();
  for (int i = 0; i < 2; ++i) {  // 2 s and 4 s after the last throttle
    now += absl::Seconds(2);
    ASSERT_TRUE(limiter.TryAcquire(now).granted);
    limiter.Release(LimiterOutcome::kSuccess, now);
  }
  EXPECT_GT(limiter.requests_per_second(), floor_rate);
  for (int i = 0; i < 30; ++i) {  // a minute of sparse successes
    now += absl::Seconds(2);
    ASSERT_TRUE(limiter.TryAcquire(now).granted);
    limiter.Release(LimiterOutcome::kSuccess, now);
  }
  EXPECT_GE(limiter.concurrency_limit(), 4);
}

TEST(AdaptiveLimiterTest, RecoversGraduallyOnSuccess) {
  AdaptiveLimiter limiter(LimiterOptions{}, kStart);
  limiter.TryAcquire(kStart);
  limiter.Release(LimiterOutcome::kThrottled, kStart);
  ASSERT_EQ(limiter.requests_per_second(), 15);
  ASSERT_EQ(limiter.concurrency_limit(), 8);
  absl::Time now = kStart;
  auto succeed = [&](int n) {
    for (int i = 0; i < n; ++i) {
      now += absl::Milliseconds(200);
      ASSERT_TRUE(limiter.TryAcquire(now).granted);
      limiter.Release(LimiterOutcome::kSuccess, now);
    }
  };
  succeed(9);
  EXPECT_EQ(limiter.requests_per_second(), 15);  // not yet
  succeed(1);
  EXPECT_NEAR(limiter.requests_per_second(), 16.5, 1e-9);
  EXPECT_EQ(limiter.concurrency_limit(), 8);  // 8.8
  succeed(10);
  EXPECT_EQ(limiter.concurrency_limit(), 9);  // 9.68
  // Neutral failures neither halve nor count.
  limiter.TryAcquire(now);
  limiter.Release(LimiterOutcome::kOther, now);
  EXPECT_NEAR(limiter.requests_per_second(), 18.15, 1e-9);
  succeed(200);
  EXPECT_EQ(limiter.requests_per_second(), 30);  // never above the ceiling
  EXPECT_EQ(limiter.concurrency_limit(), 16);
}

TEST(AdaptiveLimiterTest, RecoversFromTheFloor) {
  LimiterOptions options;
  options.decrease_cooldown = absl::ZeroDuration();
  AdaptiveLimiter limiter(options, kStart);
  for (int i = 0; i < 10; ++i) {
    limiter.TryAcquire(kStart);
    limiter.Release(LimiterOutcome::kThrottled, kStart);
  }
  ASSERT_EQ(limiter.concurrency_limit(), 1);
  absl::Time now = kStart;
  for (int i = 0; i < 20; ++i) {
    now += absl::Seconds(1);
    ASSERT_TRUE(limiter.TryAcquire(now).granted);
    limiter.Release(LimiterOutcome::kSuccess, now);
  }
  EXPECT_GE(limiter.concurrency_limit(), 2);  // by count, and by time
  EXPECT_GT(limiter.requests_per_second(), 1);
}

// Imports (bulk) never take the last quarter of the workspace's slots:
// status, start, stop and watch polls (interactive) always find one.
TEST(AdaptiveLimiterTest, BulkLeavesReservedSlotsForInteractiveRequests) {
  LimiterOptions options;
  options.requests_per_second = 1e6;
  options.max_concurrency = 16;
  AdaptiveLimiter limiter(options, kStart);
  EXPECT_EQ(limiter.concurrency_limit(Priority::kBulk), 12);
  EXPECT_EQ(limiter.concurrency_limit(Priority::kInteractive), 16);
  for (int i = 0; i < 12; ++i) {
    ASSERT_TRUE(limiter.TryAcquire(kStart, Priority::kBulk).granted) << i;
  }
  Admission bulk = limiter.TryAcquire(kStart, Priority::kBulk);
  EXPECT_FALSE(bulk.granted);
  EXPECT_TRUE(bulk.wait_for_release);
  for (int i = 0; i < 4; ++i) {
    ASSERT_TRUE(limiter.TryAcquire(kStart, Priority::kInteractive).granted)
        << i;
  }
  Admission interactive = limiter.TryAcquire(kStart, Priority::kInteractive);
  EXPECT_FALSE(interactive.granted);
  EXPECT_TRUE(interactive.wait_for_release);
  // A released slot goes to bulk only once in-flight requests are below its
  // share again.
  limiter.Release(LimiterOutcome::kOther, kStart);
  EXPECT_FALSE(limiter.TryAcquire(kStart, Priority::kBulk).granted);
  EXPECT_TRUE(limiter.TryAcquire(kStart, Priority::kInteractive).granted);
  for (int i = 0; i < 5; ++i) limiter.Release(LimiterOutcome::kOther, kStart);
  EXPECT_TRUE(limiter.TryAcquire(kStart, Priority::kBulk).granted);
  EXPECT_EQ(limiter.in_flight(), 12);
}

// The share follows a halved limit; bulk keeps at least one slot.
TEST(AdaptiveLimiterTest, ReservedShareFollowsTheCurrentLimit) {
  LimiterOptions options;
  options.requests_per_second = 1e6;
  options.max_concurrency = 4;
  AdaptiveLimiter limiter(options, kStart);
  EXPECT_EQ(limiter.concurrency_limit(Priority::kBulk), 3);
  limiter.TryAcquire(kStart, Priority::kInteractive);
  limiter.Release(LimiterOutcome::kThrottled, kStart);  // 4 -> 2
  EXPECT_EQ(limiter.concurrency_limit(), 2);
  EXPECT_EQ(limiter.concurrency_limit(Priority::kBulk), 1);
  limiter.TryAcquire(kStart, Priority::kInteractive);
  limiter.Release(LimiterOutcome::kThrottled, kStart + absl::Seconds(2));
  EXPECT_EQ(limiter.concurrency_limit(), 1);
  EXPECT_EQ(limiter.concurrency_limit(Priority::kBulk), 1);
  EXPECT_TRUE(
      limiter.TryAcquire(kStart + absl::Seconds(3), Priority::kBulk).granted);
}

// Bulk requests leave a quarter of the token bucket: an interactive request
// gets a token at once, and waits less than a bulk one when the bucket is
// empty. Bulk alone still gets the full rate.
TEST(AdaptiveLimiterTest, BulkLeavesTokensForInteractiveRequests) {
  LimiterOptions options;
  options.requests_per_second = 10;
  options.max_concurrency = 1000;
  AdaptiveLimiter limiter(options, kStart);
  int bulk = 0;
  while (limiter.TryAcquire(kStart, Priority::kBulk).granted) ++bulk;
  EXPECT_EQ(bulk, 8);
  Admission a = limiter.TryAcquire(kStart, Priority::kBulk);
  EXPECT_FALSE(a.wait_for_release);
  EXPECT_EQ(a.wait, absl::Milliseconds(100));
  EXPECT_TRUE(limiter.TryAcquire(kStart, Priority::kInteractive).granted);
  EXPECT_TRUE(limiter.TryAcquire(kStart, Priority::kInteractive).granted);
  Admission i = limiter.TryAcquire(kStart, Priority::kInteractive);
  EXPECT_FALSE(i.granted);
  Admission b = limiter.TryAcquire(kStart, Priority::kBulk);
  EXPECT_LT(i.wait, b.wait);
  // Over ten seconds of bulk only, about ten per second.
  int granted = 0;
  for (int ms = 1; ms <= 10000; ++ms) {
    granted +=
        limiter.TryAcquire(kStart + absl::Milliseconds(ms), Priority::kBulk)
            .granted;
  }
  EXPECT_NEAR(granted, 100, 3);
}

TEST(AdaptiveLimiterTest, ReleaseWithoutAcquireAndBadOptionsAreHarmless) {
  LimiterOptions options;
  options.requests_per_second = -5;
  options.max_concurrency = 0;
  options.successes_per_increase = 0;
  AdaptiveLimiter limiter(options, kStart);
  limiter.Release(LimiterOutcome::kSuccess, kStart);
  EXPECT_EQ(limiter.in_flight(), 0);
  EXPECT_TRUE(limiter.TryAcquire(kStart).granted);
  EXPECT_EQ(limiter.concurrency_limit(), 1);
}

TEST(AdaptiveLimiterTest, ConcurrentUseKeepsCountsConsistent) {
  LimiterOptions options;
  options.requests_per_second = 1e9;
  options.max_concurrency = 4;
  AdaptiveLimiter limiter(options, kStart);
  std::vector<std::thread> threads;
  for (int t = 0; t < 4; ++t) {
    threads.emplace_back([&limiter, t] {
      for (int i = 0; i < 2000; ++i) {
        const absl::Time now = kStart + absl::Microseconds(i);
        if (limiter.TryAcquire(now).granted) {
          limiter.Release((i + t) % 50 == 0 ? LimiterOutcome::kThrottled
                                            : LimiterOutcome::kSuccess,
                          now);
        }
      }
    });
  }
  for (std::thread& thread : threads) thread.join();
  EXPECT_EQ(limiter.in_flight(), 0);
  EXPECT_GE(limiter.concurrency_limit(), 1);
  EXPECT_LE(limiter.concurrency_limit(), 4);
}

}  // namespace
}  // namespace polysync::databricks
