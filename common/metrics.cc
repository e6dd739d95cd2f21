#include "common/metrics.h"

#include <algorithm>
#include <cmath>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"

namespace polysync::metrics {
namespace {

void AtomicAdd(std::atomic<double>& target, double by) {
  double current = target.load(std::memory_order_relaxed);
  while (!target.compare_exchange_weak(current, current + by,
                                       std::memory_order_relaxed)) {
  }
}

std::string FormatValue(double v) {
  if (std::isinf(v)) return v > 0 ? "+Inf" : "-Inf";
  if (v == std::floor(v) && std::fabs(v) < 1e15) {
    return absl::StrFormat("%.0f", v);
  }
  return absl::StrFormat("%.9g", v);
}

std::string EscapeLabel(absl::string_view value) {
  std::string out;
  out.reserve(value.size());
  for (char c : value) {
    if (c == '\\') {
      out += "\\\\";
    } else if (c == '"') {
      out += "\\\"";
    } else if (c == '\n') {
      out += "\\n";
    } else {
      out.push_back(c);
    }
  }
  return out;
}

std::string Labels(const std::vector<std::string>& names,
                   const std::vector<std::string>& values,
                   absl::string_view extra = "") {
  std::string out;
  for (size_t i = 0; i < names.size(); ++i) {
    absl::StrAppend(&out, out.empty() ? "" : ",", names[i], "=\"",
                    EscapeLabel(values[i]), "\"");
  }
  if (!extra.empty()) absl::StrAppend(&out, out.empty() ? "" : ",", extra);
  return out.empty() ? "" : absl::StrCat("{", out, "}");
}

void Header(std::string* out, const std::string& name, const std::string& help,
            absl::string_view type) {
  absl::StrAppend(out, "# HELP ", name, " ", help, "\n# TYPE ", name, " ", type,
                  "\n");
}

}  // namespace

void CounterCell::Increment(double by) {
  if (by > 0) AtomicAdd(value_, by);
}

void GaugeCell::Add(double by) { AtomicAdd(value_, by); }

HistogramCell::HistogramCell(const std::vector<double>* bounds)
    : bounds_(bounds), buckets_(new std::atomic<uint64_t>[bounds->size() + 1]) {
  for (size_t i = 0; i <= bounds_->size(); ++i) buckets_[i] = 0;
}

void HistogramCell::Observe(double value) {
  const size_t i = std::lower_bound(bounds_->begin(), bounds_->end(), value) -
                   bounds_->begin();
  buckets_[i].fetch_add(1, std::memory_order_relaxed);
  AtomicAdd(sum_, value);
}

uint64_t HistogramCell::Count() const {
  uint64_t total = 0;
  for (size_t i = 0; i <= bounds_->size(); ++i) total += BucketCount(i);
  return total;
}

template <typename Cell>
Cell& Family<Cell>::With(const std::vector<std::string>& values) {
  std::vector<std::string> key = values;
  key.resize(labels_.size());  // missing values are empty, extras dropped
  std::lock_guard<std::mutex> lock(mu_);
  auto it = cells_.find(key);
  if (it != cells_.end()) return *it->second;
  std::unique_ptr<Cell> cell;
  if constexpr (std::is_same_v<Cell, HistogramCell>) {
    cell = std::make_unique<Cell>(&bounds_);
  } else {
    cell = std::make_unique<Cell>();
  }
  Cell& ref = *cell;
  cells_.emplace(std::move(key), std::move(cell));
  return ref;
}

template class Family<CounterCell>;
template class Family<GaugeCell>;
template class Family<HistogramCell>;

std::vector<double> LatencyBuckets() {
  return {0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1,
          0.25,   0.5,   1,      2.5,   5,    10,    30,   60};
}

Registry& Registry::Default() {
  static auto* registry = new Registry;
  return *registry;
}

CounterFamily& Registry::Counter(const std::string& name,
                                 const std::string& help,
                                 std::vector<std::string> labels) {
  std::lock_guard<std::mutex> lock(mu_);
  auto& slot = counters_[name];
  if (!slot) slot = std::make_unique<CounterFamily>(name, help, labels);
  return *slot;
}

GaugeFamily& Registry::Gauge(const std::string& name, const std::string& help,
                             std::vector<std::string> labels) {
  std::lock_guard<std::mutex> lock(mu_);
  auto& slot = gauges_[name];
  if (!slot) slot = std::make_unique<GaugeFamily>(name, help, labels);
  return *slot;
}

HistogramFamily& Registry::Histogram(const std::string& name,
                                     const std::string& help,
                                     std::vector<std::string> labels,
                                     std::vector<double> bounds) {
  std::sort(bounds.begin(), bounds.end());
  std::lock_guard<std::mutex> lock(mu_);
  auto& slot = histograms_[name];
  if (!slot) {
    slot = std::make_unique<HistogramFamily>(name, help, std::move(labels),
                                             std::move(bounds));
  }
  return *slot;
}

std::string Registry::RenderPrometheus() const {
  std::string out;
  std::lock_guard<std::mutex> lock(mu_);
  for (const auto& [name, family] : counters_) {
    Header(&out, name, family->help(), "counter");
    family->ForEach(
        [&](const std::vector<std::string>& values, const CounterCell& cell) {
          absl::StrAppend(&out, name, Labels(family->labels(), values), " ",
                          FormatValue(cell.Value()), "\n");
        });
  }
  for (const auto& [name, family] : gauges_) {
    Header(&out, name, family->help(), "gauge");
    family->ForEach(
        [&](const std::vector<std::string>& values, const GaugeCell& cell) {
          absl::StrAppend(&out, name, Labels(family->labels(), values), " ",
                          FormatValue(cell.Value()), "\n");
        });
  }
  for (const auto& [name, family] : histograms_) {
    Header(&out, name, family->help(), "histogram");
    const auto& bounds = family->bounds();
    family->ForEach([&](const std::vector<std::string>& values,
                        const HistogramCell& cell) {
      uint64_t cumulative = 0;
      for (size_t i = 0; i <= bounds.size(); ++i) {
        cumulative += cell.BucketCount(i);
        const std::string le =
            i < bounds.size() ? FormatValue(bounds[i]) : "+Inf";
        absl::StrAppend(
            &out, name, "_bucket",
            Labels(family->labels(), values, absl::StrCat("le=\"", le, "\"")),
            " ", cumulative, "\n");
      }
      absl::StrAppend(&out, name, "_sum", Labels(family->labels(), values), " ",
                      FormatValue(cell.Sum()), "\n");
      absl::StrAppend(&out, name, "_count", Labels(family->labels(), values),
                      " ", cumulative, "\n");
    });
  }
  return out;
}

}  // namespace polysync::metrics
