#include "common/metrics.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

namespace polysync::metrics {
namespace {

using ::testing::HasSubstr;

TEST(MetricsTest, CountersAreRenderedPerLabelSet) {
  Registry registry;
  auto& calls = registry.Counter("rpc_total", "RPCs.", {"method", "code"});
  calls.With({"StartUpdate", "OK"}).Increment();
  calls.With({"StartUpdate", "OK"}).Increment(2);
  calls.With({"GetUpdateStatus", "NOT_FOUND"}).Increment();
  const std::string text = registry.RenderPrometheus();
  EXPECT_THAT(text, HasSubstr("# TYPE rpc_total counter"));
  EXPECT_THAT(text,
              HasSubstr("rpc_total{method=\"StartUpdate\",code=\"OK\"} 3\n"));
  EXPECT_THAT(
      text,
      HasSubstr(
          "rpc_total{method=\"GetUpdateStatus\",code=\"NOT_FOUND\"} 1\n"));
}

TEST(MetricsTest, SameNameReturnsSameFamily) {
  Registry registry;
  auto& a = registry.Counter("x_total", "X.");
  auto& b = registry.Counter("x_total", "X.");
  EXPECT_EQ(&a, &b);
}

TEST(MetricsTest, HistogramBucketsAreCumulative) {
  Registry registry;
  auto& h = registry.Histogram("lat_seconds", "Latency.", {"m"}, {0.1, 1});
  h.With({"a"}).Observe(0.05);
  h.With({"a"}).Observe(0.5);
  h.With({"a"}).Observe(5);
  const std::string text = registry.RenderPrometheus();
  EXPECT_THAT(text, HasSubstr("lat_seconds_bucket{m=\"a\",le=\"0.1\"} 1\n"));
  EXPECT_THAT(text, HasSubstr("lat_seconds_bucket{m=\"a\",le=\"1\"} 2\n"));
  EXPECT_THAT(text, HasSubstr("lat_seconds_bucket{m=\"a\",le=\"+Inf\"} 3\n"));
  EXPECT_THAT(text, HasSubstr("lat_seconds_count{m=\"a\"} 3\n"));
  EXPECT_THAT(text, HasSubstr("lat_seconds_sum{m=\"a\"} 5.55\n"));
}

TEST(MetricsTest, LabelValuesAreEscaped) {
  Registry registry;
  registry.Gauge("g", "G.", {"name"}).With({"a\"b\\c\nd"}).Set(1);
  EXPECT_THAT(registry.RenderPrometheus(),
              HasSubstr("g{name=\"a\\\"b\\\\c\\nd\"} 1\n"));
}

}  // namespace
}  // namespace polysync::metrics
