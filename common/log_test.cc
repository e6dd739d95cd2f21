#include "common/log.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "common/secrets.h"

namespace polysync::log {
namespace {

using ::testing::HasSubstr;
using ::testing::Not;

class CapturedLog {
 public:
  CapturedLog() {
    SetSinkForTesting(
        [this](absl::string_view line) { lines_.emplace_back(line); });
  }
  ~CapturedLog() {
    SetSinkForTesting(nullptr);
    SetMinLevel(Level::kInfo);
  }
  const std::vector<std::string>& lines() const { return lines_; }

 private:
  std::vector<std::string> lines_;
};

TEST(LogTest, WritesOneJsonObjectWithTimestampLevelMessageAndFields) {
  CapturedLog log;
  Info("update started", {Field("pipeline_id", "abc"), Field("attempt", 2),
                          Field("full_refresh", true)});
  ASSERT_EQ(log.lines().size(), 1u);
  auto line = nlohmann::json::parse(log.lines()[0]);
  EXPECT_EQ(line["level"], "info");
  EXPECT_EQ(line["msg"], "update started");
  EXPECT_EQ(line["pipeline_id"], "abc");
  EXPECT_EQ(line["attempt"], 2);
  EXPECT_EQ(line["full_refresh"], true);
  const std::string ts = line["ts"];
  EXPECT_EQ(ts.size(), std::string("2026-11-21T23:59:59.123456Z").size());
  EXPECT_EQ(ts.back(), 'Z');
}

TEST(LogTest, LinesBelowTheMinimumLevelAreDropped) {
  CapturedLog log;
  SetMinLevel(Level::kWarn);
  Info("not shown");
  Debug("not shown either");
  Warn("shown");
  ASSERT_EQ(log.lines().size(), 1u);
  EXPECT_THAT(log.lines()[0], HasSubstr("\"shown\""));
}

TEST(LogTest, RegisteredSecretsAreRedactedFromMessageAndFields) {
  CapturedLog log;
  const std::string token = "dapi0123456789abcdef-secret";
  secrets::Register(token);
  Error("request failed with " + token, {Field("header", "Bearer " + token)});
  ASSERT_EQ(log.lines().size(), 1u);
  EXPECT_THAT(log.lines()[0], Not(HasSubstr(token)));
  EXPECT_THAT(log.lines()[0], HasSubstr("[REDACTED]"));
}

TEST(LogTest, NewlinesAndQuotesInFieldsStayOnOneLine) {
  CapturedLog log;
  Info("x", {Field("name", "a \"quoted\"\nname \xff")});
  ASSERT_EQ(log.lines().size(), 1u);
  EXPECT_EQ(log.lines()[0].find('\n'), std::string::npos);
  auto line = nlohmann::json::parse(log.lines()[0]);
  EXPECT_THAT(line["name"].get<std::string>(), HasSubstr("\"quoted\"\nname"));
}

TEST(LogTest, ParseLevelAcceptsKnownNamesOnly) {
  Level level;
  EXPECT_TRUE(ParseLevel("DEBUG", &level));
  EXPECT_EQ(level, Level::kDebug);
  EXPECT_TRUE(ParseLevel("warn", &level));
  EXPECT_EQ(level, Level::kWarn);
  EXPECT_FALSE(ParseLevel("verbose", &level));
}

}  // namespace
}  // namespace polysync::log
