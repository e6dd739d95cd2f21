// Token endpoints and bearer-token checks of the simulated workspace.
//
// Three ways to obtain a token, as the adapter's auth methods call them:
//   POST /oidc/v1/token                    Databricks OAuth M2M (Basic auth)
//   POST /{tenant}/oauth2/v2.0/token       Entra ID client credentials
//                                          (client_secret or client_assertion)
//   GET  /metadata/identity/oauth2/token   Azure IMDS managed identity
// Issued tokens expire after `token_lifetime` of the simulator's clock; the
// static personal access token never expires.
#ifndef POLYSYNC_ADAPTERS_DATABRICKS_SIMULATOR_AUTH_H_
#define POLYSYNC_ADAPTERS_DATABRICKS_SIMULATOR_AUTH_H_

#include <map>
#include <mutex>
#include <optional>
#include <random>
#include <string>

#include "absl/time/time.h"
#include "adapters/databricks/simulator/api_types.h"
#include "adapters/databricks/simulator/http_types.h"

namespace polysync::databricks::sim {

// The Azure Databricks application id: the resource/scope tokens must be for.
inline constexpr char kAzureDatabricksAppId[] =
    "2ff814a6-3304-4ab8-85cb-cd0e6f879c1d";

struct AuthOptions {
  // Accepted as `Authorization: Bearer <pat>`; never expires.
  std::string personal_access_token = "dapi0123456789abcdef0123456789abcdef";
  // Databricks OAuth M2M (Basic client_id:client_secret).
  std::string oauth_client_id = "sim-oauth-client";
  std::string oauth_client_secret = "sim-oauth-secret";
  // Entra ID: the tenant in the path, the app's id and secret. A
  // client_assertion is accepted when it is a JWT whose payload has
  // iss == sub == entra_client_id and an `exp` in the future.
  std::string entra_tenant_id = "sim-tenant";
  std::string entra_client_id = "sim-entra-client";
  std::string entra_client_secret = "sim-entra-secret";
  // IMDS: the client_id reported for the managed identity.
  std::string managed_identity_client_id = "sim-managed-identity";
  // When false, the Entra service principal is not a member of the
  // workspace: its Databricks tokens are refused (403) unless the request
  // also carries X-Databricks-Azure-Workspace-Resource-Id (equal to
  // `workspace_resource_id`) and X-Databricks-Azure-SP-Management-Token (an
  // unexpired token issued for https://management.core.windows.net/).
  bool entra_sp_is_workspace_member = true;
  std::string workspace_resource_id =
      "/subscriptions/00000000-0000-0000-0000-000000000000/resourceGroups/"
      "sim-rg/providers/Microsoft.Databricks/workspaces/sim-workspace";
  // Lifetime of issued tokens (`expires_in`).
  absl::Duration token_lifetime = absl::Hours(1);
  // Azure Databricks refuses tokens with this much or less left (clients
  // must refresh earlier, e.g. 40 s before expiry). Zero: only at expiry.
  absl::Duration reject_when_left = absl::Seconds(30);
};

class TokenStore {
 public:
  TokenStore(AuthOptions options, uint64_t seed);

  // Handlers of the three token endpoints. `path` is without the query.
  HttpResponse OidcToken(const HttpRequest& req, absl::Time now);
  HttpResponse EntraToken(const HttpRequest& req, const std::string& tenant,
                          absl::Time now);
  HttpResponse ImdsToken(const HttpRequest& req, const QueryParams& query,
                         absl::Time now);

  // Checks `Authorization: Bearer ...`: nullopt when accepted, else the 401
  // (missing, unknown or expired) or 403 (a token for another resource).
  std::optional<ApiResult> Check(const HttpRequest& req, absl::Time now);

  const AuthOptions& options() const { return options_; }
  int64_t TokensIssued() const;

 private:
  enum class Audience { kDatabricks, kManagement, kOther };
  struct Issued {
    absl::Time expires;
    Audience audience = Audience::kDatabricks;
    bool entra_sp = false;  // issued to the Entra service principal
  };
  std::string Issue(absl::Time now, Audience audience, bool entra_sp = false);

  const AuthOptions options_;
  mutable std::mutex mu_;
  std::mt19937_64 rng_;
  std::map<std::string, Issued> tokens_;
};

// Parses "a=b&c=d" (form bodies and query strings), percent-decoding.
QueryParams ParseForm(absl::string_view text);
std::string PercentDecode(absl::string_view text);

}  // namespace polysync::databricks::sim

#endif  // POLYSYNC_ADAPTERS_DATABRICKS_SIMULATOR_AUTH_H_
