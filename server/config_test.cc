#include "server/config.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "absl/strings/str_cat.h"

namespace polysync::server {
namespace {

using ::testing::AllOf;
using ::testing::HasSubstr;

TEST(ConfigTest, GoodFileIsParsedWithDefaultsFilledIn) {
  auto config = ParseConfig(R"json({
    "listen": "127.0.0.1:6000",
    "log_level": "debug",
    "shutdown_grace": "7.5s",
    "workspaces": [{
      "name": "prod",
      "host": "https://adb-1234567890123456.7.azuredatabricks.net",
      "personal_access_token": {"token": {"file": "/var/run/secrets/token"}}
    }, {
      "name": "dev",
      "host": "https://adb-2.1.azuredatabricks.net",
      "azure_client_secret": {"tenant_id": "t", "client_id": "c",
                              "client_secret": {"env": "ARM_CLIENT_SECRET"}}
    }],
    "default_workspace": "dev"
  })json",
                            "test.json");
  ASSERT_TRUE(config.ok()) << config.status();
  EXPECT_EQ(config->listen(), "127.0.0.1:6000");
  EXPECT_EQ(config->log_level(), "debug");
  EXPECT_EQ(ShutdownGrace(*config), absl::Milliseconds(7500));
  ASSERT_EQ(config->workspaces_size(), 2);
  EXPECT_EQ(config->workspaces(0).personal_access_token().token().file(),
            "/var/run/secrets/token");
  EXPECT_EQ(config->default_workspace(), "dev");
}

TEST(ConfigTest, EmptyFileGetsDefaults) {
  auto config = ParseConfig("{}", "empty.json");
  ASSERT_TRUE(config.ok()) << config.status();
  EXPECT_EQ(config->listen(), "0.0.0.0:50051");
  EXPECT_EQ(config->log_level(), "info");
  EXPECT_EQ(ShutdownGrace(*config), absl::Seconds(20));
}

TEST(ConfigTest, SingleWorkspaceBecomesTheDefault) {
  auto config = ParseConfig(R"json({"workspaces": [{
      "name": "only", "host": "http://127.0.0.1:8080",
      "personal_access_token": {"token": {"env": "DATABRICKS_TOKEN"}}}]})json",
                            "x.json");
  ASSERT_TRUE(config.ok()) << config.status();
  EXPECT_EQ(config->default_workspace(), "only");
}

TEST(ConfigTest, UnknownKeyIsRefusedWithItsName) {
  auto config =
      ParseConfig(R"json({"listen": ":1", "lisen_port": 5})json", "typo.json");
  ASSERT_EQ(config.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(config.status().message(),
              AllOf(HasSubstr("typo.json"), HasSubstr("lisen_port")));
}

TEST(ConfigTest, UnknownNestedKeyIsRefusedWithItsName) {
  auto config = ParseConfig(R"json({"workspaces": [{"name": "a",
      "host": "https://x.azuredatabricks.net", "tokn": "x"}]})json",
                            "nested.json");
  ASSERT_EQ(config.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(config.status().message(), HasSubstr("tokn"));
}

TEST(ConfigTest, WrongTypeIsRefusedWithTheKeyName) {
  auto config = ParseConfig(R"json({"workspaces": "prod"})json", "type.json");
  ASSERT_EQ(config.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(config.status().message(), HasSubstr("workspaces"));

  auto grace = ParseConfig(R"json({"shutdown_grace": 20})json", "type.json");
  ASSERT_EQ(grace.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(grace.status().message(), HasSubstr("shutdown_grace"));
}

TEST(ConfigTest, BrokenJsonIsRefused) {
  auto config = ParseConfig(R"json({"listen": )json", "broken.json");
  EXPECT_EQ(config.status().code(), absl::StatusCode::kInvalidArgument);
}

TEST(ConfigTest, ProfileWithoutAuthIsRefused) {
  auto config = ParseConfig(R"json({"workspaces": [{"name": "a",
      "host": "https://x.azuredatabricks.net"}]})json",
                            "x.json");
  ASSERT_EQ(config.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(config.status().message(), HasSubstr("auth method"));
}

TEST(ConfigTest, SecretMustBeAReferenceNotEmpty) {
  auto config = ParseConfig(R"json({"workspaces": [{"name": "a",
      "host": "https://x.azuredatabricks.net",
      "personal_access_token": {"token": {}}}]})json",
                            "x.json");
  ASSERT_EQ(config.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(config.status().message(), HasSubstr("personal_access_token"));
}

TEST(ConfigTest, PlainHttpIsOnlyForLoopback) {
  auto config = ParseConfig(R"json({"workspaces": [{"name": "a",
      "host": "http://adb-1.2.azuredatabricks.net",
      "personal_access_token": {"token": {"env": "T"}}}]})json",
                            "x.json");
  ASSERT_EQ(config.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(config.status().message(), HasSubstr("loopback"));
}

TEST(ConfigTest, DuplicateProfilesAndMissingDefaultAreRefused) {
  auto dup = ParseConfig(R"json({"workspaces": [
      {"name": "a", "host": "https://x.net", "personal_access_token": {"token": {"env": "T"}}},
      {"name": "a", "host": "https://y.net", "personal_access_token": {"token": {"env": "T"}}}]})json",
                         "x.json");
  EXPECT_THAT(dup.status().message(), HasSubstr("defined twice"));
  auto missing =
      ParseConfig(R"json({"default_workspace": "nope"})json", "x.json");
  EXPECT_THAT(missing.status().message(), HasSubstr("nope"));
}

TEST(ConfigTest, WorkspaceLimitsAndStatusCacheAreReadAndChecked) {
  auto config = ParseConfig(R"json({"status_cache_ttl": "0s",
      "workspaces": [{"name": "w", "host": "https://adb-1.2.azuredatabricks.net",
        "limits": {"requests_per_second": 250.5, "max_concurrent_requests": 64},
        "personal_access_token": {"token": {"env": "T"}}}]})json",
                            "x.json");
  ASSERT_TRUE(config.ok()) << config.status();
  EXPECT_TRUE(config->has_status_cache_ttl());
  EXPECT_EQ(config->workspaces(0).limits().requests_per_second(), 250.5);
  EXPECT_EQ(config->workspaces(0).limits().max_concurrent_requests(), 64);

  for (const char* limits :
       {R"("requests_per_second": -1)", R"("requests_per_second": "NaN")",
        R"("requests_per_second": 2e6)", R"("requests_per_second": 0.001)",
        R"("max_concurrent_requests": -3)",
        R"("max_concurrent_requests": 257)"}) {
    auto bad = ParseConfig(absl::StrCat(R"json({"workspaces": [{"name": "w",
          "host": "https://adb-1.2.azuredatabricks.net", "limits": {)json",
                                        limits, R"json(},
          "personal_access_token": {"token": {"env": "T"}}}]})json"),
                           "x.json");
    EXPECT_EQ(bad.status().code(), absl::StatusCode::kInvalidArgument)
        << limits;
    EXPECT_THAT(bad.status().message(), HasSubstr("workspaces[\"w\"].limits."))
        << limits;
  }
  auto negative =
      ParseConfig(R"json({"status_cache_ttl": "-1s"})json", "x.json");
  EXPECT_THAT(negative.status().message(), HasSubstr("status_cache_ttl"));
  auto stale = ParseConfig(R"json({"status_cache_ttl": "61s"})json", "x.json");
  EXPECT_THAT(stale.status().message(), HasSubstr("status_cache_ttl"));
}

TEST(ConfigTest, BadLogLevelIsRefused) {
  auto config = ParseConfig(R"json({"log_level": "loud"})json", "x.json");
  EXPECT_THAT(config.status().message(), HasSubstr("log_level"));
}

TEST(ConfigTest, MissingFileIsNotFound) {
  auto config = LoadConfigFile("/nonexistent/polysync.json");
  EXPECT_EQ(config.status().code(), absl::StatusCode::kNotFound);
}

}  // namespace
}  // namespace polysync::server
