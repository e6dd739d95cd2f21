// A small metrics registry: counters and histograms with labels, rendered in
// the Prometheus text format.
//
// Components create their metric families once (usually as function-local
// statics) and update them on hot paths without locks: a labelled child is
// looked up under a mutex once and then updated with atomics.
//
//   static auto& calls = polysync::metrics::Registry::Default().Counter(
//       "polysync_rpc_calls_total", "RPCs handled, by method and code.",
//       {"method", "code"});
//   calls.With({"StartUpdate", "OK"}).Increment();
//
//   static auto& latency = polysync::metrics::Registry::Default().Histogram(
//       "polysync_rpc_latency_seconds", "RPC latency.", {"method"},
//       polysync::metrics::LatencyBuckets());
//   latency.With({"StartUpdate"}).Observe(0.012);
#ifndef POLYSYNC_COMMON_METRICS_H_
#define POLYSYNC_COMMON_METRICS_H_

#include <atomic>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "absl/strings/string_view.h"

namespace polysync::metrics {

// A monotonically increasing value.
class CounterCell {
 public:
  void Increment(double by = 1.0);
  double Value() const { return value_.load(std::memory_order_relaxed); }

 private:
  std::atomic<double> value_{0.0};
};

// A value that goes up and down.
class GaugeCell {
 public:
  void Set(double value) { value_.store(value, std::memory_order_relaxed); }
  void Add(double by);
  double Value() const { return value_.load(std::memory_order_relaxed); }

 private:
  std::atomic<double> value_{0.0};
};

// Counts of observations in cumulative buckets, plus their sum.
class HistogramCell {
 public:
  explicit HistogramCell(const std::vector<double>* bounds);
  void Observe(double value);
  uint64_t Count() const;
  double Sum() const { return sum_.load(std::memory_order_relaxed); }
  // Non-cumulative count of bucket `i` (the last one is +Inf).
  uint64_t BucketCount(size_t i) const {
    return buckets_[i].load(std::memory_order_relaxed);
  }

 private:
  const std::vector<double>* bounds_;
  std::unique_ptr<std::atomic<uint64_t>[]> buckets_;
  std::atomic<double> sum_{0.0};
};

// A named metric with a fixed list of label names; children per label values.
template <typename Cell>
class Family {
 public:
  Family(std::string name, std::string help, std::vector<std::string> labels,
         std::vector<double> bounds = {})
      : name_(std::move(name)),
        help_(std::move(help)),
        labels_(std::move(labels)),
        bounds_(std::move(bounds)) {}

  // The child for these label values (in the order of the label names).
  Cell& With(const std::vector<std::string>& values);

  const std::string& name() const { return name_; }
  const std::string& help() const { return help_; }
  const std::vector<std::string>& labels() const { return labels_; }
  const std::vector<double>& bounds() const { return bounds_; }

  // Calls `fn(label_values, cell)` for every child, in label order.
  template <typename Fn>
  void ForEach(Fn fn) const {
    std::lock_guard<std::mutex> lock(mu_);
    for (const auto& [values, cell] : cells_) fn(values, *cell);
  }

 private:
  const std::string name_;
  const std::string help_;
  const std::vector<std::string> labels_;
  const std::vector<double> bounds_;
  mutable std::mutex mu_;
  std::map<std::vector<std::string>, std::unique_ptr<Cell>> cells_;
};

using CounterFamily = Family<CounterCell>;
using GaugeFamily = Family<GaugeCell>;
using HistogramFamily = Family<HistogramCell>;

// Bucket bounds in seconds from 0.5 ms to 60 s.
std::vector<double> LatencyBuckets();

class Registry {
 public:
  // The process-wide registry that /metrics renders.
  static Registry& Default();

  // Returns the family with this name, creating it on first use. Asking
  // again with the same name returns the same family.
  CounterFamily& Counter(const std::string& name, const std::string& help,
                         std::vector<std::string> labels = {});
  GaugeFamily& Gauge(const std::string& name, const std::string& help,
                     std::vector<std::string> labels = {});
  HistogramFamily& Histogram(const std::string& name, const std::string& help,
                             std::vector<std::string> labels,
                             std::vector<double> bounds);

  // Everything in the Prometheus text exposition format (version 0.0.4).
  std::string RenderPrometheus() const;

 private:
  mutable std::mutex mu_;
  std::map<std::string, std::unique_ptr<CounterFamily>> counters_;
  std::map<std::string, std::unique_ptr<GaugeFamily>> gauges_;
  std::map<std::string, std::unique_ptr<HistogramFamily>> histograms_;
};

}  // namespace polysync::metrics

#endif  // POLYSYNC_COMMON_METRICS_H_
