// An adaptive per-workspace limiter: a token-bucket requests-per-second limit
// and a cap on concurrent requests, both halved when Databricks throttles
// (429) and recovering gradually while requests succeed.
//
// Why: Databricks publishes no requests-per-second limit for this API, and
// request storms earn a workspace IP blocks of several minutes. Each replica
// backs off on its own when throttled, so several replicas slow down together
// without coordinating. The limiter never blocks and never reads a clock:
// the caller's event loop passes the time, asks for a permit and, when none
// is available, schedules a new try (after `wait`, or when a permit is
// released). Thread-safe (std::mutex, which ThreadSanitizer can see).
//
// Requests have a priority. Bulk ones (an import's listing and details) use
// at most the limit minus an interactive share (a quarter by default, at
// least one slot when the limit is 2 or more) of the concurrency slots, and
// leave the same share of the token bucket; interactive ones (status, start,
// stop, watch polls, sync) may use everything. So a few imports never make a
// status read wait behind thousands of detail fetches; alone, bulk requests
// still get the full request rate. The caller keeps its queue of waiting
// interactive requests ahead of the bulk one (pipelines_client.cc).
//
//   AdaptiveLimiter limiter(LimiterOptions{}, clock.Now());
//   Admission a = limiter.TryAcquire(clock.Now());
//   if (!a.granted) {
//     if (a.wait_for_release) QueueUntilARelease(); else RetryIn(a.wait);
//   } else {
//     ... send the request ...
//     limiter.Release(http_status == 429 ? LimiterOutcome::kThrottled
//                                        : LimiterOutcome::kSuccess,
//                     clock.Now());
//   }
#ifndef POLYSYNC_ADAPTERS_DATABRICKS_API_RATE_LIMITER_H_
#define POLYSYNC_ADAPTERS_DATABRICKS_API_RATE_LIMITER_H_

#include <mutex>

#include "absl/time/time.h"

namespace polysync::databricks {

struct LimiterOptions {
  double requests_per_second = 30;  // also the ceiling recovery returns to
  int max_concurrency = 16;         // likewise
  double min_requests_per_second = 1;
  int min_concurrency = 1;
  // Recovery: after this many successes without a throttle, both limits grow
  // by `increase_factor` (never above their configured values).
  int successes_per_increase = 10;
  double increase_factor = 1.1;
  // Also grow after this long without a throttle or an increase (at low
  // throughput the successes above come too slowly to recover).
  absl::Duration recovery_interval = absl::Seconds(3);
  // At most one halving per cooldown, so a burst of 429s answering requests
  // that were already in flight halves once, not once per response.
  absl::Duration decrease_cooldown = absl::Seconds(1);
  // The share of the concurrency limit (rounded up, at least 1 and leaving
  // bulk at least 1 slot) and of the token bucket (rounded down) that bulk
  // requests leave to interactive ones. 0 turns priorities off.
  double interactive_share = 0.25;
};

enum class Priority {
  kInteractive,  // a caller waits for the answer: status, start, stop, watch
  kBulk,         // part of an import: waits behind interactive requests
};

enum class LimiterOutcome {
  kSuccess,    // counts towards recovery
  kThrottled,  // 429 or a throttling message: halve
  kOther,      // any other failure (or a cancelled request): neutral
};

struct Admission {
  bool granted = false;
  // When not granted: either wait for a Release() (the concurrency cap is
  // reached) or try again after `wait` (the token bucket is empty).
  bool wait_for_release = false;
  absl::Duration wait = absl::ZeroDuration();
};

class AdaptiveLimiter {
 public:
  AdaptiveLimiter(const LimiterOptions& options, absl::Time now);

  AdaptiveLimiter(const AdaptiveLimiter&) = delete;
  AdaptiveLimiter& operator=(const AdaptiveLimiter&) = delete;

  // Takes a permit (one token and one concurrency slot) if both are free
  // for a request of this priority.
  Admission TryAcquire(absl::Time now,
                       Priority priority = Priority::kInteractive);

  // Returns a permit taken by TryAcquire and reports how the request went.
  void Release(LimiterOutcome outcome, absl::Time now);

  // Current values, for metrics and tests.
  double requests_per_second() const;
  int concurrency_limit() const;
  // The concurrency slots a request of this priority may use now (bulk:
  // the limit minus the interactive share).
  int concurrency_limit(Priority priority) const;
  // The configured ceiling of the concurrency cap.
  int max_concurrency() const { return options_.max_concurrency; }
  int in_flight() const;

 private:
  void RefillLocked(absl::Time now);
  int SlotsLocked(Priority priority) const;
  double ReservedTokensLocked(Priority priority) const;

  const LimiterOptions options_;
  mutable std::mutex mu_;
  double rate_;         // current requests per second
  double concurrency_;  // current cap (the limit is its floor)
  double tokens_;       // in [0, max(1, rate_)]
  absl::Time last_refill_;
  absl::Time last_decrease_ = absl::InfinitePast();
  absl::Time last_increase_;
  int in_flight_ = 0;
  int successes_ = 0;
};

}  // namespace polysync::databricks

#endif  // POLYSYNC_ADAPTERS_DATABRICKS_API_RATE_LIMITER_H_
