#include "adapters/databricks/auth/profiles.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <fstream>
#include <map>

#include "google/protobuf/util/json_util.h"

namespace polysync::databricks::auth {
namespace {

using ::testing::HasSubstr;
namespace v1 = ::polysync::databricks::v1;

v1::ServerConfig Config(const std::string& json) {
  v1::ServerConfig config;
  EXPECT_TRUE(google::protobuf::util::JsonStringToMessage(json, &config).ok());
  return config;
}

std::string WriteIni(const std::string& text) {
  const std::string path = std::string(std::getenv("TEST_TMPDIR")) + "/cfg";
  std::ofstream(path, std::ios::trunc) << text;
  return path;
}

TEST(ProfilesTest, ConfigFileProfilesAreLoaded) {
  auto set = LoadProfiles(
      Config(R"({"workspaces": [
        {"name": "prod", "host": "https://prod.net/",
         "personal_access_token": {"token": {"env": "PROD_TOKEN"}}},
        {"name": "sp", "host": "https://sp.net",
         "azure_client_secret": {"tenant_id": "t1", "client_id": "c1",
           "client_secret": {"file": "/s"}, "azure_workspace_resource_id": "/subscriptions/x"}}],
        "default_workspace": "sp"})"),
      {secrets::StaticEnv({{"PROD_TOKEN", "dapi-prod-token"}}), "", ""});
  ASSERT_TRUE(set.ok()) << set.status();
  ASSERT_EQ(set->profiles.size(), 2u);
  const Profile* prod = set->Find("prod");
  ASSERT_NE(prod, nullptr);
  EXPECT_EQ(prod->host, "https://prod.net");
  EXPECT_EQ(prod->auth, AuthKind::kPersonalAccessToken);
  EXPECT_EQ(*prod->token.Read(), "dapi-prod-token");
  const Profile* sp = set->Find("");
  ASSERT_NE(sp, nullptr);
  EXPECT_EQ(sp->name, "sp");
  EXPECT_EQ(sp->auth, AuthKind::kAzureClientSecret);
  EXPECT_EQ(sp->authority_host, "https://login.microsoftonline.com");
  EXPECT_EQ(sp->azure_workspace_resource_id, "/subscriptions/x");
  EXPECT_EQ(set->Find("nope"), nullptr);
}

TEST(ProfilesTest, EnvironmentDefinesTheDefaultProfile) {
  auto set = LoadProfiles(
      v1::ServerConfig(),
      {secrets::StaticEnv(
           {{"DATABRICKS_HOST", "https://adb-1.azuredatabricks.net"},
            {"DATABRICKS_CLIENT_ID", "cid"},
            {"DATABRICKS_CLIENT_SECRET", "dose-secret-1234"}}),
       "", ""});
  ASSERT_TRUE(set.ok()) << set.status();
  const Profile* p = set->Find("");
  ASSERT_NE(p, nullptr);
  EXPECT_EQ(p->name, "default");
  EXPECT_EQ(p->auth, AuthKind::kDatabricksOAuthM2M);
  EXPECT_EQ(p->client_id, "cid");
  EXPECT_EQ(*p->client_secret.Read(), "dose-secret-1234");
  EXPECT_EQ(p->origin, "environment");
}

TEST(ProfilesTest, EnvironmentSelectsEachAzureMethod) {
  auto msi =
      LoadProfiles(v1::ServerConfig(),
                   {secrets::StaticEnv({{"DATABRICKS_HOST", "https://h.net"},
                                        {"ARM_USE_MSI", "true"},
                                        {"ARM_CLIENT_ID", "uami"}}),
                    "", ""});
  ASSERT_TRUE(msi.ok()) << msi.status();
  EXPECT_EQ(msi->Find("")->auth, AuthKind::kAzureManagedIdentity);
  EXPECT_EQ(msi->Find("")->client_id, "uami");

  auto sp = LoadProfiles(
      v1::ServerConfig(),
      {secrets::StaticEnv({{"DATABRICKS_HOST", "https://h.net"},
                           {"ARM_TENANT_ID", "t"},
                           {"ARM_CLIENT_ID", "c"},
                           {"ARM_CLIENT_SECRET", "s-secret-value"},
                           {"DATABRICKS_AZURE_RESOURCE_ID", "/sub/ws"}}),
       "", ""});
  ASSERT_TRUE(sp.ok()) << sp.status();
  EXPECT_EQ(sp->Find("")->auth, AuthKind::kAzureClientSecret);
  EXPECT_EQ(sp->Find("")->azure_workspace_resource_id, "/sub/ws");

  auto wi =
      LoadProfiles(v1::ServerConfig(),
                   {secrets::StaticEnv(
                        {{"DATABRICKS_HOST", "https://h.net"},
                         {"AZURE_FEDERATED_TOKEN_FILE", "/var/run/azure/token"},
                         {"AZURE_CLIENT_ID", "c"},
                         {"AZURE_TENANT_ID", "t"},
                         {"AZURE_AUTHORITY_HOST", "https://login.example/"}}),
                    "", ""});
  ASSERT_TRUE(wi.ok()) << wi.status();
  EXPECT_EQ(wi->Find("")->auth, AuthKind::kAzureWorkloadIdentity);
  EXPECT_EQ(wi->Find("")->federated_token_file, "/var/run/azure/token");
  EXPECT_EQ(wi->Find("")->authority_host, "https://login.example");
}

TEST(ProfilesTest, HostWithoutCredentialsIsRefused) {
  auto set = LoadProfiles(
      v1::ServerConfig(),
      {secrets::StaticEnv({{"DATABRICKS_HOST", "https://h.net"}}), "", ""});
  EXPECT_EQ(set.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(set.status().message(), HasSubstr("DATABRICKS_TOKEN"));
}

TEST(ProfilesTest, IniProfilesWithEnvironmentAndConfigPrecedence) {
  const std::string ini = WriteIni(
      "[DEFAULT]\nhost = https://ini-default.net\ntoken = dapi-ini-default\n"
      "[dev]\nhost = https://ini-dev.net\ntoken = dapi-ini-dev\n"
      "[prod]\nhost = https://ini-prod.net\ntoken = dapi-ini-prod\n"
      "[account]\nhost =\n");
  auto set = LoadProfiles(
      Config(
          R"({"workspaces": [{"name": "prod", "host": "https://config-prod.net",
        "personal_access_token": {"token": {"env": "P"}}}]})"),
      {secrets::StaticEnv({{"DATABRICKS_HOST", "https://env.net"}}), ini, ""});
  ASSERT_TRUE(set.ok()) << set.status();
  // The environment overrides the INI [DEFAULT] host, keeping its token.
  EXPECT_EQ(set->Find("default")->host, "https://env.net");
  EXPECT_EQ(*set->Find("default")->token.Read(), "dapi-ini-default");
  // The configuration file overrides the INI file.
  EXPECT_EQ(set->Find("prod")->host, "https://config-prod.net");
  EXPECT_EQ(*set->Find("dev")->token.Read(), "dapi-ini-dev");
  EXPECT_EQ(set->Find("account"), nullptr);
}

TEST(ProfilesTest, FlagChoosesTheDefaultAndMustExist) {
  const std::string ini = WriteIni(
      "[a]\nhost = https://a.net\ntoken = dapi-aaaaaaaa\n"
      "[b]\nhost = https://b.net\ntoken = dapi-bbbbbbbb\n");
  auto set =
      LoadProfiles(v1::ServerConfig(), {secrets::StaticEnv({}), ini, "b"});
  ASSERT_TRUE(set.ok()) << set.status();
  EXPECT_EQ(set->Find("")->name, "b");
  auto bad =
      LoadProfiles(v1::ServerConfig(), {secrets::StaticEnv({}), ini, "c"});
  EXPECT_EQ(bad.status().code(), absl::StatusCode::kInvalidArgument);
}

TEST(ProfilesTest, HostsFromTheEnvironmentAndIniAreCheckedLikeTheConfig) {
  // The configuration file's rule (user info, link-local, one URL parser)
  // holds for DATABRICKS_HOST and .databrickscfg hosts too.
  for (const char* host :
       {"https://user:hunter2pass@adb-1.2.net", "http://127.0.0.1:1@vm:18090",
        "https://169.254.169.254"}) {
    auto env =
        LoadProfiles(v1::ServerConfig(),
                     {secrets::StaticEnv({{"DATABRICKS_HOST", host},
                                          {"DATABRICKS_TOKEN", "dapi-x"}}),
                      "", ""});
    EXPECT_EQ(env.status().code(), absl::StatusCode::kInvalidArgument) << host;
    EXPECT_THAT(env.status().message(), HasSubstr("host")) << host;
    EXPECT_THAT(env.status().message(),
                ::testing::Not(HasSubstr("hunter2pass")));
    const std::string ini =
        WriteIni(std::string("[w]\nhost = ") + host + "\ntoken = dapi-w\n");
    auto from_ini =
        LoadProfiles(v1::ServerConfig(), {secrets::StaticEnv({}), ini, ""});
    EXPECT_EQ(from_ini.status().code(), absl::StatusCode::kInvalidArgument)
        << host;
    EXPECT_THAT(from_ini.status().message(),
                ::testing::Not(HasSubstr("hunter2pass")));
  }
}

TEST(ProfilesTest, MissingIniFileIsNotFound) {
  auto set =
      LoadProfiles(v1::ServerConfig(),
                   {secrets::StaticEnv({}), "/nonexistent/databrickscfg", ""});
  EXPECT_EQ(set.status().code(), absl::StatusCode::kNotFound);
}

}  // namespace
}  // namespace polysync::databricks::auth
