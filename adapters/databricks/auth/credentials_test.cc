// Every auth method against the simulated workspace's token endpoints:
// headers, caching, refresh timing, one refresh at a time, rotation, and no
// secret in any log line or error.
#include "adapters/databricks/auth/credentials.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <fstream>
#include <mutex>
#include <vector>

#include "absl/strings/escaping.h"
#include "absl/strings/str_cat.h"
#include "adapters/databricks/http/curl_transport.h"
#include "adapters/databricks/simulator/simulator.h"
#include "common/log.h"
#include "tests/testing/sync.h"

namespace polysync::databricks::auth {
namespace {

using ::polysync::testing::Await;
using ::testing::HasSubstr;
using ::testing::Not;

std::string Header(const http::Headers& headers, const std::string& name) {
  for (const auto& [k, v] : headers) {
    if (k == name) return v;
  }
  return "";
}

class CredentialsTest : public ::testing::Test {
 protected:
  void SetUp() override {
    clock_ = std::make_shared<sim::ManualClock>();
    sim::SimulatorOptions options;
    options.clock = clock_;
    options.seed_default_pipelines = false;
    options.auth.token_lifetime = absl::Minutes(10);
    auto simulator = sim::Simulator::Start(options);
    ASSERT_TRUE(simulator.ok()) << simulator.status();
    sim_ = *std::move(simulator);
    transport_ = http::MakeCurlTransport({});
    log::SetSinkForTesting([this](absl::string_view line) {
      std::lock_guard<std::mutex> lock(log_mu_);
      log_lines_.emplace_back(line);
    });
    log::SetMinLevel(log::Level::kDebug);
  }

  void TearDown() override {
    log::SetSinkForTesting(nullptr);
    log::SetMinLevel(log::Level::kInfo);
    transport_.reset();
  }

  CredentialsOptions Options() {
    CredentialsOptions o;
    o.now = [clock = clock_] { return clock->Now(); };
    return o;
  }

  absl::StatusOr<http::Headers> Headers(Credentials& creds) {
    return Await<http::Headers>([&](auto done) {
      creds.GetHeaders(absl::Now() + absl::Seconds(10), done);
    });
  }

  // The workspace accepts the headers: a real API call succeeds with them.
  void ExpectAccepted(const http::Headers& headers) {
    http::Request r;
    r.url = sim_->base_url() + "/api/2.0/pipelines";
    r.headers = headers;
    http::TransportResult result = http::SendAndWait(*transport_, r);
    ASSERT_TRUE(result.status.ok()) << result.status;
    EXPECT_EQ(result.response.status, 200) << result.response.body;
  }

  std::vector<std::string> LogLines() {
    std::lock_guard<std::mutex> lock(log_mu_);
    return log_lines_;
  }

  Profile Base(AuthKind kind) {
    Profile p;
    p.name = "sim";
    p.host = sim_->base_url();
    p.auth = kind;
    return p;
  }

  std::shared_ptr<sim::ManualClock> clock_;
  std::unique_ptr<sim::Simulator> sim_;
  std::unique_ptr<http::Transport> transport_;
  std::mutex log_mu_;
  std::vector<std::string> log_lines_;
};

TEST_F(CredentialsTest, PersonalAccessTokenIsABearerHeader) {
  Profile p = Base(AuthKind::kPersonalAccessToken);
  p.token = secrets::SecretSource::FromEnv(
      "DATABRICKS_TOKEN",
      secrets::StaticEnv({{"DATABRICKS_TOKEN", sim_->access_token()}}));
  auto creds = MakeCredentials(p, *transport_, Options());
  auto headers = Headers(*creds);
  ASSERT_TRUE(headers.ok()) << headers.status();
  EXPECT_EQ(Header(*headers, "Authorization"),
            "Bearer " + sim_->access_token());
  ExpectAccepted(*headers);
}

TEST_F(CredentialsTest, RotatedTokenFileIsUsedOnTheNextCall) {
  const std::string path = std::string(std::getenv("TEST_TMPDIR")) + "/pat";
  std::ofstream(path) << "dapi-old-token-value\n";
  Profile p = Base(AuthKind::kPersonalAccessToken);
  p.token = secrets::SecretSource::FromFile(path);
  auto creds = MakeCredentials(p, *transport_, Options());
  EXPECT_EQ(Header(*Headers(*creds), "Authorization"),
            "Bearer dapi-old-token-value");
  std::ofstream(path + ".new") << sim_->access_token();
  ASSERT_EQ(std::rename((path + ".new").c_str(), path.c_str()), 0);
  auto headers = Headers(*creds);
  ASSERT_TRUE(headers.ok());
  ExpectAccepted(*headers);
}

TEST_F(CredentialsTest, DatabricksOAuthM2MIsCachedUntilNearExpiry) {
  Profile p = Base(AuthKind::kDatabricksOAuthM2M);
  p.client_id = "sim-oauth-client";
  p.client_secret = secrets::SecretSource::FromEnv(
      "S", secrets::StaticEnv({{"S", "sim-oauth-secret"}}));
  auto creds = MakeCredentials(p, *transport_, Options());
  auto first = Headers(*creds);
  ASSERT_TRUE(first.ok()) << first.status();
  ExpectAccepted(*first);
  EXPECT_EQ(sim_->RequestCount("token.oidc"), 1);
  // 10-minute tokens, refreshed 60 s before expiry.
  clock_->Advance(absl::Minutes(8));
  EXPECT_EQ(*Headers(*creds), *first);
  EXPECT_EQ(sim_->RequestCount("token.oidc"), 1);
  clock_->Advance(absl::Seconds(61));  // 59 s left: refresh
  auto refreshed = Headers(*creds);
  ASSERT_TRUE(refreshed.ok());
  EXPECT_EQ(sim_->RequestCount("token.oidc"), 2);
  EXPECT_NE(*refreshed, *first);
  ExpectAccepted(*refreshed);
}

TEST_F(CredentialsTest, RefreshMarginIsNeverBelowFortySeconds) {
  Profile p = Base(AuthKind::kDatabricksOAuthM2M);
  p.client_id = "sim-oauth-client";
  p.client_secret = secrets::SecretSource::FromEnv(
      "S", secrets::StaticEnv({{"S", "sim-oauth-secret"}}));
  CredentialsOptions o = Options();
  o.refresh_margin = absl::Seconds(5);
  auto creds = MakeCredentials(p, *transport_, o);
  ASSERT_TRUE(Headers(*creds).ok());
  clock_->Advance(absl::Minutes(10) - absl::Seconds(39));  // 39 s left
  ASSERT_TRUE(Headers(*creds).ok());
  EXPECT_EQ(sim_->RequestCount("token.oidc"), 2);
}

TEST_F(CredentialsTest, ConcurrentCallersShareOneRefresh) {
  sim::FaultRule slow;
  slow.endpoint = "token.oidc";
  slow.kind = sim::FaultKind::kLatency;
  slow.latency = absl::Milliseconds(100);
  sim_->InjectFault(slow);
  Profile p = Base(AuthKind::kDatabricksOAuthM2M);
  p.client_id = "sim-oauth-client";
  p.client_secret = secrets::SecretSource::FromEnv(
      "S", secrets::StaticEnv({{"S", "sim-oauth-secret"}}));
  auto creds = MakeCredentials(p, *transport_, Options());
  std::mutex mu;
  std::condition_variable cv;
  int ok = 0, done = 0;
  for (int i = 0; i < 20; ++i) {
    creds->GetHeaders(absl::Now() + absl::Seconds(10),
                      [&](absl::StatusOr<http::Headers> h) {
                        std::lock_guard<std::mutex> lock(mu);
                        ++done;
                        if (h.ok()) ++ok;
                        cv.notify_all();
                      });
  }
  std::unique_lock<std::mutex> lock(mu);
  ASSERT_TRUE(
      cv.wait_for(lock, std::chrono::seconds(10), [&] { return done == 20; }));
  EXPECT_EQ(ok, 20);
  EXPECT_EQ(sim_->RequestCount("token.oidc"), 1);
}

TEST_F(CredentialsTest, WrongClientSecretIsUnauthenticatedWithoutTheSecret) {
  Profile p = Base(AuthKind::kDatabricksOAuthM2M);
  p.client_id = "sim-oauth-client";
  p.client_secret = secrets::SecretSource::FromEnv(
      "S", secrets::StaticEnv({{"S", "definitely-the-wrong-secret"}}));
  auto creds = MakeCredentials(p, *transport_, Options());
  auto headers = Headers(*creds);
  EXPECT_EQ(headers.status().code(), absl::StatusCode::kUnauthenticated);
  EXPECT_THAT(headers.status().message(),
              Not(HasSubstr("definitely-the-wrong-secret")));
}

TEST_F(CredentialsTest, EntraClientSecretWithManagementToken) {
  Profile p = Base(AuthKind::kAzureClientSecret);
  p.authority_host = sim_->base_url();
  p.tenant_id = "sim-tenant";
  p.client_id = "sim-entra-client";
  p.client_secret = secrets::SecretSource::FromEnv(
      "S", secrets::StaticEnv({{"S", "sim-entra-secret"}}));
  auto creds = MakeCredentials(p, *transport_, Options());
  auto headers = Headers(*creds);
  ASSERT_TRUE(headers.ok()) << headers.status();
  ExpectAccepted(*headers);
  EXPECT_EQ(Header(*headers, "X-Databricks-Azure-SP-Management-Token"), "");
  EXPECT_EQ(sim_->RequestCount("token.entra"), 1);

  // A principal that is not a workspace member also sends a management
  // token and the workspace's resource id.
  p.azure_workspace_resource_id =
      "/subscriptions/s/resourceGroups/g/providers/"
      "Microsoft.Databricks/workspaces/w";
  auto outsider = MakeCredentials(p, *transport_, Options());
  auto outsider_headers = Headers(*outsider);
  ASSERT_TRUE(outsider_headers.ok()) << outsider_headers.status();
  EXPECT_EQ(
      Header(*outsider_headers, "X-Databricks-Azure-Workspace-Resource-Id"),
      p.azure_workspace_resource_id);
  EXPECT_FALSE(
      Header(*outsider_headers, "X-Databricks-Azure-SP-Management-Token")
          .empty());
  EXPECT_NE(Header(*outsider_headers, "X-Databricks-Azure-SP-Management-Token"),
            Header(*outsider_headers, "Authorization").substr(7));
  EXPECT_EQ(sim_->RequestCount("token.entra"), 3);
}

std::string Jwt(const std::string& client_id, absl::Time exp) {
  std::string header, payload;
  absl::WebSafeBase64Escape(R"({"alg":"RS256","typ":"JWT"})", &header);
  absl::WebSafeBase64Escape(
      absl::StrCat(R"({"iss":")", client_id, R"(","sub":")", client_id,
                   R"(","aud":"api://AzureADTokenExchange","exp":)",
                   absl::ToUnixSeconds(exp), "}"),
      &payload);
  return absl::StrCat(header, ".", payload, ".c2lnbmF0dXJl");
}

TEST_F(CredentialsTest, WorkloadIdentityRereadsTheFederatedTokenFile) {
  const std::string path =
      std::string(std::getenv("TEST_TMPDIR")) + "/azure-identity-token";
  std::ofstream(path) << Jwt("sim-entra-client",
                             clock_->Now() + absl::Minutes(5));
  Profile p = Base(AuthKind::kAzureWorkloadIdentity);
  p.authority_host = sim_->base_url();
  p.tenant_id = "sim-tenant";
  p.client_id = "sim-entra-client";
  p.federated_token_file = path;
  auto creds = MakeCredentials(p, *transport_, Options());
  auto headers = Headers(*creds);
  ASSERT_TRUE(headers.ok()) << headers.status();
  ExpectAccepted(*headers);

  // The projected token rotates; the old one expires. The next refresh
  // reads the new file.
  clock_->Advance(absl::Minutes(20));
  std::ofstream(path + ".new")
      << Jwt("sim-entra-client", clock_->Now() + absl::Minutes(5));
  ASSERT_EQ(std::rename((path + ".new").c_str(), path.c_str()), 0);
  auto refreshed = Headers(*creds);
  ASSERT_TRUE(refreshed.ok()) << refreshed.status();
  ExpectAccepted(*refreshed);
  EXPECT_EQ(sim_->RequestCount("token.entra"), 2);
}

TEST_F(CredentialsTest, ManagedIdentityUsesTheMetadataEndpoint) {
  Profile p = Base(AuthKind::kAzureManagedIdentity);
  p.metadata_endpoint = sim_->base_url() + "/metadata/identity/oauth2/token";
  auto creds = MakeCredentials(p, *transport_, Options());
  auto headers = Headers(*creds);
  ASSERT_TRUE(headers.ok()) << headers.status();
  ExpectAccepted(*headers);
  EXPECT_EQ(sim_->RequestCount("token.imds"), 1);
}

TEST_F(CredentialsTest, TokenEndpointOutageIsUnavailable) {
  sim::FaultRule down;
  down.endpoint = "token.oidc";
  down.kind = sim::FaultKind::kHttpError;
  down.status = 503;
  sim_->InjectFault(down);
  Profile p = Base(AuthKind::kDatabricksOAuthM2M);
  p.client_id = "sim-oauth-client";
  p.client_secret = secrets::SecretSource::FromEnv(
      "S", secrets::StaticEnv({{"S", "sim-oauth-secret"}}));
  auto creds = MakeCredentials(p, *transport_, Options());
  EXPECT_EQ(Headers(*creds).status().code(), absl::StatusCode::kUnavailable);
  // The failure is not cached: the next call fetches again and works.
  ASSERT_TRUE(Headers(*creds).ok());
}

TEST_F(CredentialsTest, EveryTokenEndpointFaultIsAClearErrorAndRecovers) {
  struct Case {
    sim::FaultKind kind;
    int status;
    absl::StatusCode want;
    absl::StatusCode also_fine = absl::StatusCode::kUnknown;
  };
  const Case cases[] = {
      {sim::FaultKind::kHttpError, 429, absl::StatusCode::kResourceExhausted},
      {sim::FaultKind::kHttpError, 500, absl::StatusCode::kUnavailable},
      {sim::FaultKind::kHtmlError, 502, absl::StatusCode::kUnavailable},
      // A dropped connection: when it was a reused kept-alive one, libcurl
      // sends the (harmless to repeat) token request again and it works.
      {sim::FaultKind::kReset, 0, absl::StatusCode::kUnavailable,
       absl::StatusCode::kOk},
      {sim::FaultKind::kStall, 0, absl::StatusCode::kUnavailable,
       absl::StatusCode::kOk},
      {sim::FaultKind::kMalformedJson, 0, absl::StatusCode::kInternal},
      {sim::FaultKind::kTruncatedJson, 0, absl::StatusCode::kUnavailable},
      {sim::FaultKind::kOversized, 0, absl::StatusCode::kInternal},
  };
  Profile p = Base(AuthKind::kDatabricksOAuthM2M);
  p.client_id = "sim-oauth-client";
  p.client_secret = secrets::SecretSource::FromEnv(
      "S", secrets::StaticEnv({{"S", "sim-oauth-secret"}}));
  for (const Case& c : cases) {
    auto creds = MakeCredentials(p, *transport_, Options());
    sim::FaultRule rule;
    rule.endpoint = "token.oidc";
    rule.kind = c.kind;
    rule.status = c.status;
    rule.stall = absl::Milliseconds(300);
    sim_->InjectFault(rule);
    auto refused = Headers(*creds);
    EXPECT_TRUE(refused.status().code() == c.want ||
                refused.status().code() == c.also_fine)
        << sim::FaultKindName(c.kind) << ": " << refused.status();
    auto recovered = Headers(*creds);  // the failure was not cached
    ASSERT_TRUE(recovered.ok())
        << sim::FaultKindName(c.kind) << ": " << recovered.status();
    ExpectAccepted(*recovered);
  }
}

TEST_F(CredentialsTest, NoTokenOrSecretAppearsInAnyLogLine) {
  Profile m2m = Base(AuthKind::kDatabricksOAuthM2M);
  m2m.client_id = "sim-oauth-client";
  m2m.client_secret = secrets::SecretSource::FromEnv(
      "S", secrets::StaticEnv({{"S", "sim-oauth-secret"}}));
  auto creds = MakeCredentials(m2m, *transport_, Options());
  auto headers = Headers(*creds);
  ASSERT_TRUE(headers.ok());
  const std::string token = Header(*headers, "Authorization").substr(7);
  // Make the token endpoint fail once so error paths log too.
  Profile bad = m2m;
  bad.client_secret = secrets::SecretSource::FromEnv(
      "S", secrets::StaticEnv({{"S", "another-wrong-secret-value"}}));
  auto bad_creds = MakeCredentials(bad, *transport_, Options());
  auto refused = Headers(*bad_creds);
  ASSERT_FALSE(refused.ok());
  log::Error("a handler logged something careless",
             {log::Field("authorization", "Bearer " + token)});
  const auto lines = LogLines();
  ASSERT_FALSE(lines.empty());
  for (const auto& line : lines) {
    EXPECT_THAT(line, Not(HasSubstr(token)));
    EXPECT_THAT(line, Not(HasSubstr("sim-oauth-secret")));
    EXPECT_THAT(line, Not(HasSubstr("another-wrong-secret-value")));
  }
  EXPECT_THAT(std::string(refused.status().message()),
              Not(HasSubstr("another-wrong-secret-value")));
}

}  // namespace
}  // namespace polysync::databricks::auth
