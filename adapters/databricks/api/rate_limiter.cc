#include "adapters/databricks/api/rate_limiter.h"

#include <algorithm>
#include <cmath>

namespace polysync::databricks {
namespace {

// Sanitised options: positive limits, minimums not above maximums.
LimiterOptions Sane(LimiterOptions o) {
  if (!(o.requests_per_second > 0)) o.requests_per_second = 1;
  if (o.max_concurrency < 1) o.max_concurrency = 1;
  if (!(o.min_requests_per_second > 0)) o.min_requests_per_second = 1;
  o.min_requests_per_second =
      std::min(o.min_requests_per_second, o.requests_per_second);
  o.min_concurrency = std::clamp(o.min_concurrency, 1, o.max_concurrency);
  if (o.successes_per_increase < 1) o.successes_per_increase = 1;
  if (!(o.increase_factor >= 1)) o.increase_factor = 1;
  if (!(o.interactive_share >= 0)) o.interactive_share = 0;
  o.interactive_share = std::min(o.interactive_share, 1.0);
  return o;
}

}  // namespace

AdaptiveLimiter::AdaptiveLimiter(const LimiterOptions& options, absl::Time now)
    : options_(Sane(options)),
      rate_(options_.requests_per_second),
      concurrency_(options_.max_concurrency),
      tokens_(std::max(1.0, options_.requests_per_second)),
      last_refill_(now),
      last_increase_(now) {}

void AdaptiveLimiter::RefillLocked(absl::Time now) {
  if (now > last_refill_) {
    const double elapsed = absl::ToDoubleSeconds(now - last_refill_);
    tokens_ = std::min(std::max(1.0, rate_), tokens_ + elapsed * rate_);
    last_refill_ = now;
  }
  // A clock that goes backwards adds nothing (and is not remembered).
}

int AdaptiveLimiter::SlotsLocked(Priority priority) const {
  const int limit = static_cast<int>(concurrency_);
  if (priority == Priority::kInteractive || limit < 2 ||
      options_.interactive_share <= 0) {
    return limit;
  }
  const int reserved = std::clamp(
      static_cast<int>(std::ceil(limit * options_.interactive_share)), 1,
      limit - 1);
  return limit - reserved;
}

double AdaptiveLimiter::ReservedTokensLocked(Priority priority) const {
  if (priority == Priority::kInteractive) return 0;
  const double capacity = std::max(1.0, rate_);
  return std::min(capacity - 1.0,
                  std::floor(capacity * options_.interactive_share));
}

Admission AdaptiveLimiter::TryAcquire(absl::Time now, Priority priority) {
  std::lock_guard<std::mutex> lock(mu_);
  RefillLocked(now);
  Admission admission;
  if (in_flight_ >= SlotsLocked(priority)) {
    admission.wait_for_release = true;
    return admission;
  }
  // Bulk requests leave the last tokens of the bucket to interactive ones.
  const double needed = 1.0 + ReservedTokensLocked(priority);
  if (tokens_ < needed) {
    admission.wait = absl::Seconds((needed - tokens_) / rate_);
    // Never ask for a zero wait: that would spin the caller.
    admission.wait = std::max(admission.wait, absl::Microseconds(1));
    return admission;
  }
  tokens_ -= 1.0;
  ++in_flight_;
  admission.granted = true;
  return admission;
}

void AdaptiveLimiter::Release(LimiterOutcome outcome, absl::Time now) {
  std::lock_guard<std::mutex> lock(mu_);
  if (in_flight_ > 0) --in_flight_;
  switch (outcome) {
    case LimiterOutcome::kThrottled:
      successes_ = 0;
      if (now - last_decrease_ < options_.decrease_cooldown) return;
      last_decrease_ = now;
      RefillLocked(now);
      rate_ = std::max(options_.min_requests_per_second, rate_ / 2);
      concurrency_ = std::max<double>(options_.min_concurrency,
                                      std::floor(concurrency_) / 2);
      concurrency_ = std::floor(concurrency_);
      tokens_ = std::min(tokens_, std::max(1.0, rate_));
      return;
    case LimiterOutcome::kSuccess: {
      const bool by_count = ++successes_ >= options_.successes_per_increase;
      // At low throughput successes come slowly, so a quiet interval
      // (no throttle, no increase) counts too: a limiter halved by sparse
      // 429s never stays collapsed.
      const bool by_time = now - last_increase_ >= options_.recovery_interval &&
                           now - last_decrease_ >= options_.recovery_interval;
      if (!by_count && !by_time) return;
      successes_ = 0;
      last_increase_ = now;
      RefillLocked(now);
      rate_ = std::min(options_.requests_per_second,
                       rate_ * options_.increase_factor);
      concurrency_ =
          std::min<double>(options_.max_concurrency,
                           std::max(concurrency_ * options_.increase_factor,
                                    concurrency_ + 0.5));
      return;
    }
    case LimiterOutcome::kOther:
      return;
  }
}

double AdaptiveLimiter::requests_per_second() const {
  std::lock_guard<std::mutex> lock(mu_);
  return rate_;
}

int AdaptiveLimiter::concurrency_limit() const {
  std::lock_guard<std::mutex> lock(mu_);
  return static_cast<int>(concurrency_);
}

int AdaptiveLimiter::concurrency_limit(Priority priority) const {
  std::lock_guard<std::mutex> lock(mu_);
  return SlotsLocked(priority);
}

int AdaptiveLimiter::in_flight() const {
  std::lock_guard<std::mutex> lock(mu_);
  return in_flight_;
}

}  // namespace polysync::databricks
