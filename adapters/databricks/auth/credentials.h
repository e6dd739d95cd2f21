// Credentials: the headers that authenticate a request to a workspace.
//
// One Credentials object per workspace profile. Personal access tokens are
// read from their source on every call (so a rotated file is used at once).
// OAuth tokens (Databricks M2M, Entra ID client secret, Azure workload
// identity, Azure managed identity) are fetched through the Transport, cached,
// and refreshed `refresh_margin` (at least 40 s, because Azure Databricks
// rejects tokens with 30 s or less left) before they expire. Only one refresh
// runs at a time per workspace: callers that arrive meanwhile wait for it.
// Tokens are registered for redaction and never logged.
//
//   auto creds = MakeCredentials(profile, transport, {});
//   creds->GetHeaders(deadline, [](absl::StatusOr<http::Headers> h) {...});
#ifndef POLYSYNC_ADAPTERS_DATABRICKS_AUTH_CREDENTIALS_H_
#define POLYSYNC_ADAPTERS_DATABRICKS_AUTH_CREDENTIALS_H_

#include <functional>
#include <memory>
#include <string>

#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "adapters/databricks/auth/profiles.h"
#include "adapters/databricks/http/transport.h"

namespace polysync::databricks::auth {

// The Azure Databricks application id: the resource/scope of Entra tokens
// for Databricks, the same in every Azure cloud.
inline constexpr absl::string_view kAzureDatabricksResource =
    "2ff814a6-3304-4ab8-85cb-cd0e6f879c1d";
inline constexpr absl::string_view kAzureManagementResource =
    "https://management.core.windows.net/";

struct CredentialsOptions {
  // Refresh this long before expiry; values below 40 s are raised to 40 s.
  absl::Duration refresh_margin = absl::Seconds(60);
  // Assumed lifetime when a token response gives none.
  absl::Duration default_lifetime = absl::Minutes(30);
  // Injectable clock.
  std::function<absl::Time()> now = [] { return absl::Now(); };
  // Called after each token fetch, with the auth method and whether it
  // succeeded (metrics hook).
  std::function<void(absl::string_view method, bool ok)> on_refresh;
};

class Credentials {
 public:
  using HeadersCallback = std::function<void(absl::StatusOr<http::Headers>)>;

  virtual ~Credentials() = default;

  // Calls `done` once with the headers to add to a request. With a valid
  // cached token `done` runs inline; otherwise on the transport's thread
  // after the token request.
  virtual void GetHeaders(absl::Time deadline, HeadersCallback done) = 0;

  // Forgets a cached token (after a 401) so the next call fetches a new one.
  virtual void Invalidate() = 0;
};

std::unique_ptr<Credentials> MakeCredentials(const Profile& profile,
                                             http::Transport& transport,
                                             CredentialsOptions options = {});

// application/x-www-form-urlencoded encoding of one value.
std::string FormEncode(absl::string_view value);

}  // namespace polysync::databricks::auth

#endif  // POLYSYNC_ADAPTERS_DATABRICKS_AUTH_CREDENTIALS_H_
