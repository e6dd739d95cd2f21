// Clocks for the simulated workspace.
//
// The simulator never reads the system time directly: every lifecycle step,
// event timestamp and token expiry is computed from a `Clock`. The binary uses
// `RealClock`; tests use `ManualClock` and move time forward explicitly, so a
// whole update lifecycle runs in microseconds without a single sleep.
//
//   auto clock = std::make_shared<ManualClock>();
//   options.clock = clock;
//   ...
//   clock->Advance(absl::Seconds(30));  // or Simulator::AdvanceClock()
#ifndef POLYSYNC_ADAPTERS_DATABRICKS_SIMULATOR_CLOCK_H_
#define POLYSYNC_ADAPTERS_DATABRICKS_SIMULATOR_CLOCK_H_

#include <mutex>

#include "absl/time/clock.h"
#include "absl/time/time.h"

namespace polysync::databricks::sim {

// The simulator's source of time. Implementations are thread-safe.
class Clock {
 public:
  virtual ~Clock() = default;
  virtual absl::Time Now() const = 0;
};

// Wall-clock time.
class RealClock final : public Clock {
 public:
  absl::Time Now() const override { return absl::Now(); }
};

// Time that only moves when told to. Starts at a fixed, realistic instant
// (2026-11-20T09:00:00Z) unless given another.
class ManualClock final : public Clock {
 public:
  ManualClock() : now_(absl::FromUnixSeconds(1795165200)) {}
  explicit ManualClock(absl::Time start) : now_(start) {}

  absl::Time Now() const override {
    std::lock_guard<std::mutex> lock(mu_);
    return now_;
  }
  // Moves time forward by `d` (negative durations are ignored).
  void Advance(absl::Duration d) {
    std::lock_guard<std::mutex> lock(mu_);
    if (d > absl::ZeroDuration()) now_ += d;
  }

 private:
  mutable std::mutex mu_;
  absl::Time now_;
};

}  // namespace polysync::databricks::sim

#endif  // POLYSYNC_ADAPTERS_DATABRICKS_SIMULATOR_CLOCK_H_
