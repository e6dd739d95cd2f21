#include "server/config.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <stdlib.h>

#include <fstream>

#include "absl/strings/str_cat.h"
#include "adapters/databricks/http/transport.h"

namespace polysync::server {
namespace {

using ::testing::AllOf;
using ::testing::HasSubstr;
using ::testing::Not;

std::string Runfile(const std::string& path) {
  return absl::StrCat(getenv("TEST_SRCDIR"), "/", getenv("TEST_WORKSPACE"), "/",
                      path);
}

std::string WriteFile(const std::string& name, const std::string& text) {
  const std::string path = absl::StrCat(getenv("TEST_TMPDIR"), "/", name);
  std::ofstream(path) << text;
  return path;
}

// A configuration with one workspace at `host` (a PAT from env T).
absl::StatusOr<ServerConfig> WithHost(const std::string& host) {
  return ParseConfig(absl::StrCat(R"json({"workspaces": [{"name": "w",
      "host": ")json",
                                  host, R"json(",
      "personal_access_token": {"token": {"env": "T"}}}]})json"),
                     "host.json");
}

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

TEST(ConfigTest, DltRetryWindowIsReadAndChecked) {
  auto config =
      ParseConfig(R"json({"dlt_retry_window": "1800s"})json", "x.json");
  ASSERT_TRUE(config.ok()) << config.status();
  EXPECT_EQ(config->dlt_retry_window().seconds(), 1800);
  for (const char* bad : {R"json({"dlt_retry_window": "30s"})json",
                          R"json({"dlt_retry_window": "90000s"})json",
                          R"json({"dlt_retry_window": "-60s"})json"}) {
    auto refused = ParseConfig(bad, "x.json");
    EXPECT_EQ(refused.status().code(), absl::StatusCode::kInvalidArgument)
        << bad;
    EXPECT_THAT(refused.status().message(), HasSubstr("dlt_retry_window"))
        << bad;
  }
}

TEST(ConfigTest, RestartTimeoutIsReadAndChecked) {
  auto config = ParseConfig(R"json({"restart_timeout": "90s"})json", "x.json");
  ASSERT_TRUE(config.ok()) << config.status();
  EXPECT_EQ(ToDuration(config->restart_timeout()), absl::Seconds(90));
  for (const char* bad : {"0s", "0.5s", "-1s", "86401s"}) {
    auto refused = ParseConfig(
        absl::StrCat(R"json({"restart_timeout": ")json", bad, R"json("})json"),
        "x.json");
    EXPECT_EQ(refused.status().code(), absl::StatusCode::kInvalidArgument)
        << bad;
    EXPECT_THAT(refused.status().message(), HasSubstr("restart_timeout"))
        << bad;
  }
}

TEST(ConfigTest, BadLogLevelIsRefused) {
  auto config = ParseConfig(R"json({"log_level": "loud"})json", "x.json");
  EXPECT_THAT(config.status().message(), HasSubstr("log_level"));
}

TEST(ConfigTest, MissingFileIsNotFound) {
  auto config = LoadConfigFile("/nonexistent/polysync.json");
  EXPECT_EQ(config.status().code(), absl::StatusCode::kNotFound);
}

// Finding 9: mistakes refused at start-up, naming the key, never a secret.

TEST(ConfigStartupTest, TlsCertificateAndKeyThatDoNotMatchAreRefused) {
  const std::string cert = Runfile("tests/testdata/server.pem");
  const std::string key = Runfile("tests/testdata/server.key");
  const std::string other_key = Runfile("tests/testdata/client.key");
  auto matching = ParseConfig(
      absl::StrCat(R"json({"tls": {"cert_file": ")json", cert,
                   R"json(", "key_file": ")json", key, R"json("}})json"),
      "tls.json");
  ASSERT_TRUE(matching.ok()) << matching.status();
  EXPECT_TRUE(CheckStartupResources(*matching).ok())
      << CheckStartupResources(*matching);

  auto mismatched = ParseConfig(
      absl::StrCat(R"json({"tls": {"cert_file": ")json", cert,
                   R"json(", "key_file": ")json", other_key, R"json("}})json"),
      "tls.json");
  ASSERT_TRUE(mismatched.ok()) << mismatched.status();
  absl::Status s = CheckStartupResources(*mismatched);
  EXPECT_EQ(s.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(s.message(),
              AllOf(HasSubstr("tls.key_file"), HasSubstr("tls.cert_file"),
                    Not(HasSubstr("PRIVATE KEY"))));

  const std::string not_pem = WriteFile("not.pem", "hello\n");
  auto garbage = ParseConfig(
      absl::StrCat(R"json({"tls": {"cert_file": ")json", not_pem,
                   R"json(", "key_file": ")json", key, R"json("}})json"),
      "tls.json");
  ASSERT_TRUE(garbage.ok()) << garbage.status();
  EXPECT_THAT(CheckStartupResources(*garbage).message(),
              HasSubstr("tls.cert_file"));
}

TEST(ConfigStartupTest, MissingWorkspaceSecretIsRefusedNamingTheKey) {
  unsetenv("PDLT_TEST_UNSET");
  setenv("PDLT_TEST_SET", "dapiPresentSecretValue0123456789", 1);
  auto config = ParseConfig(R"json({"workspaces": [
      {"name": "a", "host": "https://a.azuredatabricks.net",
       "personal_access_token": {"token": {"env": "PDLT_TEST_SET"}}},
      {"name": "b", "host": "https://b.azuredatabricks.net",
       "databricks_oauth_m2m": {"client_id": "c",
         "client_secret": {"env": "PDLT_TEST_UNSET"}}}]})json",
                            "secrets.json");
  ASSERT_TRUE(config.ok()) << config.status();
  absl::Status s = CheckStartupResources(*config);
  EXPECT_EQ(s.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(s.message(),
              AllOf(HasSubstr("workspaces[\"b\"].databricks_oauth_m2m."
                              "client_secret"),
                    HasSubstr("PDLT_TEST_UNSET"),
                    Not(HasSubstr("dapiPresentSecretValue"))));

  setenv("PDLT_TEST_EMPTY", "  ", 1);
  const std::string missing_file =
      absl::StrCat(getenv("TEST_TMPDIR"), "/no-such-token");
  const std::string empty_file = WriteFile("empty-token", "\n");
  for (const std::string& ref :
       {std::string(R"("env": "PDLT_TEST_EMPTY")"),
        absl::StrCat(R"("file": ")", missing_file, R"(")"),
        absl::StrCat(R"("file": ")", empty_file, R"(")")}) {
    auto one = ParseConfig(absl::StrCat(R"json({"workspaces": [{"name": "w",
        "host": "https://w.azuredatabricks.net",
        "personal_access_token": {"token": {)json",
                                        ref, "}}}]}"),
                           "secrets.json");
    ASSERT_TRUE(one.ok()) << one.status();
    EXPECT_THAT(CheckStartupResources(*one).message(),
                HasSubstr("workspaces[\"w\"].personal_access_token.token"))
        << ref;
  }

  const std::string present = WriteFile("token", "dapiFileSecret0123\n");
  auto good = ParseConfig(absl::StrCat(R"json({"workspaces": [{"name": "w",
      "host": "https://w.azuredatabricks.net",
      "personal_access_token": {"token": {"file": ")json",
                                       present, R"json("}}}]})json"),
                          "secrets.json");
  ASSERT_TRUE(good.ok()) << good.status();
  EXPECT_TRUE(CheckStartupResources(*good).ok())
      << CheckStartupResources(*good);
}

TEST(ConfigStartupTest, MissingCallerTokenIsRefusedNamingTheKey) {
  unsetenv("PDLT_TEST_UNSET");
  auto config = ParseConfig(R"json({"authorization": {"enabled": true,
      "tokens": [{"name": "backend", "token": {"env": "PDLT_TEST_UNSET"}}]}})json",
                            "authz.json");
  ASSERT_TRUE(config.ok()) << config.status();
  absl::Status s = CheckStartupResources(*config);
  EXPECT_EQ(s.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(s.message(), AllOf(HasSubstr("authorization.tokens[\"backend\"]"
                                           ".token"),
                                 HasSubstr("PDLT_TEST_UNSET")));
}

TEST(ConfigStartupTest, HostWithUserInfoIsRefusedWithoutThePassword) {
  for (const char* host :
       {"https://user:hunter2pass@adb-1.2.azuredatabricks.net",
        "https://hunter2pass@adb-1.2.azuredatabricks.net",
        "https://user:hunter2pass@[::1]:8443"}) {
    auto config = WithHost(host);
    ASSERT_EQ(config.status().code(), absl::StatusCode::kInvalidArgument)
        << host;
    EXPECT_THAT(
        config.status().message(),
        AllOf(HasSubstr("workspaces[\"w\"].host"),
              HasSubstr("user information"), Not(HasSubstr("hunter2pass"))))
        << host;
  }
}

TEST(ConfigStartupTest, StartupAndTransportReadAHostTheSameWay) {
  // The start-up check once read 127.0.0.1 here, the transport vm.
  auto config = WithHost("http://127.0.0.1:1@vm:18090");
  ASSERT_EQ(config.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(config.status().message(),
              AllOf(HasSubstr("workspaces[\"w\"].host"),
                    Not(HasSubstr("127.0.0.1:1"))));
  // Whatever start-up accepts, the transport sends to.
  for (const char* host :
       {"http://127.0.0.1:18090", "https://adb-1.2.azuredatabricks.net",
        "http://[::1]:9", "http://localhost:8080", "http://127.1:80",
        "http://127.0.0.1#@vm", "http://127.0.0.1%2f@vm",
        "http://127.0.0.1\\@vm", "http://vm?@127.0.0.1",
        "https://adb-1.2.azuredatabricks.net:443/", "http://2130706433",
        "http://127.0.0.1:18090@", "https://a:b:c"}) {
    auto accepted = WithHost(host);
    const absl::Status transport = databricks::http::CheckUrlAllowed(
        absl::StrCat(host, "/api/2.0/pipelines"));
    if (accepted.ok()) {
      EXPECT_TRUE(transport.ok())
          << host << " passes start-up, but the transport says " << transport;
    }
  }
}

TEST(ConfigStartupTest, LinkLocalHostIsRefused) {
  for (const char* host : {"https://169.254.169.254",
                           "https://169.254.10.1:443", "http://169.254.169.254",
                           "https://[fe80::1]", "https://[FE80::1%25eth0]"}) {
    auto config = WithHost(host);
    ASSERT_EQ(config.status().code(), absl::StatusCode::kInvalidArgument)
        << host;
    EXPECT_THAT(
        config.status().message(),
        AllOf(HasSubstr("workspaces[\"w\"].host"), HasSubstr("link-local")))
        << host;
  }
  EXPECT_TRUE(WithHost("https://169.255.0.1").ok());
}

TEST(ConfigStartupTest, PortsOutsideTheRangeAreRefused) {
  for (const char* key : {"listen", "metrics_listen", "health_listen"}) {
    for (const char* value :
         {"127.0.0.1:99999", "127.0.0.1:65536", "127.0.0.1:-1",
          "127.0.0.1:port", "127.0.0.1", "[::1]:70000", "127.0.0.1:"}) {
      auto config = ParseConfig(
          absl::StrCat("{\"", key, "\": \"", value, "\"}"), "ports.json");
      ASSERT_EQ(config.status().code(), absl::StatusCode::kInvalidArgument)
          << key << " " << value;
      EXPECT_THAT(config.status().message(), HasSubstr(key)) << value;
    }
    for (const char* value : {"127.0.0.1:1", "0.0.0.0:65535", "[::]:8080"}) {
      auto config = ParseConfig(
          absl::StrCat("{\"", key, "\": \"", value, "\"}"), "ports.json");
      EXPECT_TRUE(config.ok()) << key << " " << value << config.status();
    }
  }
  // Port 0 is "any free port" (each listener logs the port it bound).
  for (const char* key : {"listen", "metrics_listen", "health_listen"}) {
    EXPECT_TRUE(
        ParseConfig(absl::StrCat("{\"", key, "\": \"127.0.0.1:0\"}"), "p").ok())
        << key;
  }
  for (const char* host : {"https://adb-1.2.azuredatabricks.net:99999",
                           "https://adb-1.2.azuredatabricks.net:0"}) {
    EXPECT_THAT(WithHost(host).status().message(),
                HasSubstr("workspaces[\"w\"].host"))
        << host;
  }
}

TEST(ConfigStartupTest, DuplicateKeysAreRefusedNamingTheKey) {
  auto top = ParseConfig(
      R"json({"listen": "127.0.0.1:1", "log_level": "info", "listen": "127.0.0.1:2"})json",
      "dup.json");
  ASSERT_EQ(top.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(top.status().message(),
              AllOf(HasSubstr("dup.json"), HasSubstr("duplicate"),
                    HasSubstr("\"listen\"")));
  auto nested = ParseConfig(R"json({"workspaces": [{"name": "w",
      "host": "https://a.azuredatabricks.net",
      "host": "https://b.azuredatabricks.net",
      "personal_access_token": {"token": {"env": "T"}}}]})json",
                            "dup.json");
  ASSERT_EQ(nested.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(nested.status().message(),
              AllOf(HasSubstr("duplicate"), HasSubstr("workspaces[0].host")));
  // The same key in two objects is fine.
  EXPECT_TRUE(ParseConfig(R"json({"workspaces": [
      {"name": "a", "host": "https://a.net", "personal_access_token": {"token": {"env": "T"}}},
      {"name": "b", "host": "https://b.net", "personal_access_token": {"token": {"env": "T"}}}]})json",
                          "ok.json")
                  .ok());
}

TEST(ConfigStartupTest, TrailingCommasAreRefusedNamingTheKey) {
  auto object = ParseConfig(R"json({"listen": "127.0.0.1:1",})json", "c.json");
  ASSERT_EQ(object.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(object.status().message(),
              AllOf(HasSubstr("c.json"), HasSubstr("\"listen\"")));
  auto array = ParseConfig(R"json({"workspaces": [{"name": "w",
      "host": "https://a.azuredatabricks.net",
      "personal_access_token": {"token": {"env": "T"}}},]})json",
                           "c.json");
  ASSERT_EQ(array.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(array.status().message(), HasSubstr("workspaces"));
}

}  // namespace
}  // namespace polysync::server
