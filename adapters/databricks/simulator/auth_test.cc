// The token endpoints and bearer checks: OAuth M2M, Entra (secret and
// assertion), IMDS, expiry under the manual clock, tokens for the wrong
// resource.
#include <string>

#include "absl/strings/escaping.h"
#include "adapters/databricks/simulator/simulator.h"
#include "adapters/databricks/simulator/test_client.h"
#include "gtest/gtest.h"

namespace polysync::databricks::sim {
namespace {

using nlohmann::json;
using testing::HttpResult;
using testing::TestClient;
using testing::UrlEncode;

constexpr char kForm[] = "Content-Type: application/x-www-form-urlencoded";

class AuthTest : public ::testing::Test {
 protected:
  void SetUp() override {
    SimulatorOptions options;
    options.clock = clock_;
    options.seed_default_pipelines = false;
    options.auth.token_lifetime = absl::Seconds(120);
    auto sim = Simulator::Start(std::move(options));
    ASSERT_TRUE(sim.ok()) << sim.status();
    sim_ = std::move(*sim);
    client_ = std::make_unique<TestClient>(sim_->base_url(), "");
  }

  // GET /api/2.0/pipelines with `token`.
  long ListWith(const std::string& token) {
    TestClient c(sim_->base_url(), token);
    return c.Get("/api/2.0/pipelines").status;
  }

  HttpResult Form(const std::string& path, const std::string& body,
                  std::vector<std::string> headers = {}) {
    headers.push_back(kForm);
    return client_->Request("POST", path, body, headers, false);
  }

  std::shared_ptr<ManualClock> clock_ = std::make_shared<ManualClock>();
  std::unique_ptr<Simulator> sim_;
  std::unique_ptr<TestClient> client_;
};

std::string Basic(const std::string& id, const std::string& secret) {
  return "Authorization: Basic " + absl::Base64Escape(id + ":" + secret);
}

TEST_F(AuthTest, DatabricksOAuthM2MTokenWorksUntilItExpires) {
  const AuthOptions defaults;
  HttpResult discovery = client_->Request(
      "GET", "/oidc/.well-known/oauth-authorization-server", "", {}, false);
  ASSERT_EQ(discovery.status, 200) << discovery.body;
  EXPECT_EQ(discovery.json()["token_endpoint"],
            sim_->base_url() + "/oidc/v1/token");
  HttpResult r =
      Form("/oidc/v1/token", "grant_type=client_credentials&scope=all-apis",
           {Basic(defaults.oauth_client_id, defaults.oauth_client_secret)});
  ASSERT_EQ(r.status, 200) << r.body;
  json body = r.json();
  EXPECT_EQ(body["token_type"], "Bearer");
  EXPECT_EQ(body["expires_in"], 120);
  std::string token = body["access_token"];
  EXPECT_EQ(ListWith(token), 200);

  // Azure Databricks refuses a token with 30 s or less left.
  clock_->Advance(absl::Seconds(89));
  EXPECT_EQ(ListWith(token), 200);
  clock_->Advance(absl::Seconds(1));
  EXPECT_EQ(ListWith(token), 401);
  clock_->Advance(absl::Seconds(30));
  EXPECT_EQ(ListWith(token), 401);
  EXPECT_EQ(ListWith(sim_->access_token()), 200);  // the PAT never expires

  HttpResult wrong =
      Form("/oidc/v1/token", "grant_type=client_credentials&scope=all-apis",
           {Basic(defaults.oauth_client_id, "nope")});
  EXPECT_EQ(wrong.status, 401);
  EXPECT_EQ(wrong.json()["error"], "invalid_client");
  HttpResult scope =
      Form("/oidc/v1/token", "grant_type=client_credentials&scope=sql",
           {Basic(defaults.oauth_client_id, defaults.oauth_client_secret)});
  EXPECT_EQ(scope.status, 400);
  EXPECT_EQ(scope.json()["error"], "invalid_scope");
}

TEST_F(AuthTest, EntraClientSecretAndAssertion) {
  const AuthOptions d;
  const std::string path = "/" + d.entra_tenant_id + "/oauth2/v2.0/token";
  const std::string scope =
      UrlEncode(std::string(kAzureDatabricksAppId) + "/.default");
  HttpResult r = Form(
      path, "grant_type=client_credentials&client_id=" + d.entra_client_id +
                "&client_secret=" + d.entra_client_secret + "&scope=" + scope);
  ASSERT_EQ(r.status, 200) << r.body;
  EXPECT_EQ(r.json()["expires_in"], 120);
  EXPECT_EQ(ListWith(r.json()["access_token"]), 200);

  HttpResult bad_secret = Form(
      path, "grant_type=client_credentials&client_id=" + d.entra_client_id +
                "&client_secret=x&scope=" + scope);
  EXPECT_EQ(bad_secret.status, 401);
  EXPECT_EQ(bad_secret.json()["error"], "invalid_client");
  EXPECT_EQ(bad_secret.json()["error_codes"][0], 7000215);

  HttpResult tenant =
      Form("/other-tenant/oauth2/v2.0/token", "grant_type=client_credentials");
  EXPECT_EQ(tenant.status, 400);

  auto jwt = [&](const json& claims) {
    return absl::WebSafeBase64Escape(R"({"alg":"RS256","typ":"JWT"})") + "." +
           absl::WebSafeBase64Escape(claims.dump()) + ".c2lnbmF0dXJl";
  };
  const int64_t now = absl::ToUnixSeconds(clock_->Now());
  std::string assertion_body =
      "grant_type=client_credentials&client_id=" + d.entra_client_id +
      "&client_assertion_type=" +
      UrlEncode("urn:ietf:params:oauth:client-assertion-type:jwt-bearer") +
      "&scope=" + scope + "&client_assertion=";
  HttpResult good = Form(path, assertion_body + jwt({{"iss", d.entra_client_id},
                                                     {"sub", d.entra_client_id},
                                                     {"exp", now + 600}}));
  ASSERT_EQ(good.status, 200) << good.body;
  EXPECT_EQ(ListWith(good.json()["access_token"]), 200);
  HttpResult expired =
      Form(path, assertion_body + jwt({{"iss", d.entra_client_id},
                                       {"sub", d.entra_client_id},
                                       {"exp", now - 1}}));
  EXPECT_EQ(expired.status, 401);
  HttpResult other =
      Form(path, assertion_body + jwt({{"iss", "someone"}, {"sub", "else"}}));
  EXPECT_EQ(other.status, 401);

  // A token for another resource is valid but not for Databricks: 403.
  HttpResult mgmt = Form(
      path, "grant_type=client_credentials&client_id=" + d.entra_client_id +
                "&client_secret=" + d.entra_client_secret + "&scope=" +
                UrlEncode("https://management.core.windows.net//.default"));
  ASSERT_EQ(mgmt.status, 200);
  TestClient c(sim_->base_url(), mgmt.json()["access_token"]);
  HttpResult denied = c.Get("/api/2.0/pipelines");
  EXPECT_EQ(denied.status, 403);
  EXPECT_EQ(denied.json()["error_code"], "PERMISSION_DENIED");
}

TEST(AuthNonMemberTest, ServicePrincipalOutsideTheWorkspaceNeedsHeaders) {
  SimulatorOptions options;
  options.clock = std::make_shared<ManualClock>();
  options.seed_default_pipelines = false;
  options.auth.entra_sp_is_workspace_member = false;
  auto sim = Simulator::Start(options);
  ASSERT_TRUE(sim.ok()) << sim.status();
  const AuthOptions& d = options.auth;
  TestClient anon((*sim)->base_url(), "");
  auto token_for = [&](const std::string& scope) {
    HttpResult r = anon.Request(
        "POST", "/" + d.entra_tenant_id + "/oauth2/v2.0/token",
        "grant_type=client_credentials&client_id=" + d.entra_client_id +
            "&client_secret=" + d.entra_client_secret +
            "&scope=" + UrlEncode(scope),
        {kForm}, false);
    EXPECT_EQ(r.status, 200) << r.body;
    return r.json()["access_token"].get<std::string>();
  };
  std::string token =
      token_for(std::string(kAzureDatabricksAppId) + "/.default");
  std::string mgmt = token_for("https://management.core.windows.net//.default");
  TestClient c((*sim)->base_url(), token);
  EXPECT_EQ(c.Get("/api/2.0/pipelines").status, 403);
  const std::string resource_header =
      "X-Databricks-Azure-Workspace-Resource-Id: " + d.workspace_resource_id;
  EXPECT_EQ(c.Request("GET", "/api/2.0/pipelines", "",
                      {resource_header,
                       "X-Databricks-Azure-SP-Management-Token: " + token})
                .status,
            403);  // not a management token
  EXPECT_EQ(c.Request("GET", "/api/2.0/pipelines", "",
                      {resource_header,
                       "X-Databricks-Azure-SP-Management-Token: " + mgmt})
                .status,
            200);
  // The PAT is unaffected.
  TestClient pat((*sim)->base_url(), (*sim)->access_token());
  EXPECT_EQ(pat.Get("/api/2.0/pipelines").status, 200);
}

TEST_F(AuthTest, ImdsManagedIdentity) {
  const std::string path =
      "/metadata/identity/oauth2/token?api-version=2018-02-01&resource=" +
      std::string(kAzureDatabricksAppId);
  HttpResult no_header = client_->Request("GET", path, "", {}, false);
  EXPECT_EQ(no_header.status, 400);
  EXPECT_EQ(no_header.json()["error"], "invalid_request");

  HttpResult r = client_->Request("GET", path, "", {"Metadata: true"}, false);
  ASSERT_EQ(r.status, 200) << r.body;
  json body = r.json();
  EXPECT_EQ(body["expires_in"], "120");  // IMDS sends strings
  EXPECT_EQ(body["resource"], kAzureDatabricksAppId);
  EXPECT_EQ(ListWith(body["access_token"]), 200);

  HttpResult no_version =
      client_->Request("GET", "/metadata/identity/oauth2/token?resource=x", "",
                       {"Metadata: true"}, false);
  EXPECT_EQ(no_version.status, 400);
  EXPECT_EQ(sim_->RequestCount("token.imds"), 3);
}

}  // namespace
}  // namespace polysync::databricks::sim
