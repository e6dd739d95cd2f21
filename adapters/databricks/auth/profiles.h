// Workspace profiles: which Databricks workspaces this server may call, and
// how it authenticates to each.
//
// Profiles come from three places, merged by name with this precedence
// (highest first):
//   1. flags: --default_workspace picks the default profile;
//   2. the environment, which defines (or overrides fields of) the profile
//      named "default": DATABRICKS_HOST, DATABRICKS_TOKEN,
//      DATABRICKS_CLIENT_ID / DATABRICKS_CLIENT_SECRET, ARM_TENANT_ID /
//      ARM_CLIENT_ID / ARM_CLIENT_SECRET, ARM_USE_MSI,
//      DATABRICKS_AZURE_RESOURCE_ID, and for workload identity
//      AZURE_FEDERATED_TOKEN_FILE / AZURE_CLIENT_ID / AZURE_TENANT_ID /
//      AZURE_AUTHORITY_HOST;
//   3. files: the configuration file's `workspaces` (config.proto), then a
//      `~/.databrickscfg`-style INI file ([DEFAULT] becomes "default").
// Secrets are never copied: a profile holds SecretSources that read the
// variable or file when a token is needed.
//
//   auto profiles = LoadProfiles(config, {.env = secrets::ProcessEnv(),
//                                         .databrickscfg_path = path});
//   const Profile* p = profiles->Find("");   // the default profile
#ifndef POLYSYNC_ADAPTERS_DATABRICKS_AUTH_PROFILES_H_
#define POLYSYNC_ADAPTERS_DATABRICKS_AUTH_PROFILES_H_

#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "common/secret_source.h"
#include "polysync/databricks/v1/config.pb.h"

namespace polysync::databricks::auth {

enum class AuthKind {
  kPersonalAccessToken,
  kDatabricksOAuthM2M,
  kAzureClientSecret,
  kAzureWorkloadIdentity,
  kAzureManagedIdentity,
  kSimulated,  // the built-in simulated workspace (a static token)
};

absl::string_view AuthKindName(AuthKind kind);

inline constexpr absl::string_view kDefaultAzureAuthority =
    "https://login.microsoftonline.com";
inline constexpr absl::string_view kDefaultMetadataEndpoint =
    "http://169.254.169.254/metadata/identity/oauth2/token";

struct Profile {
  std::string name;
  // Workspace URL without a trailing slash.
  std::string host;
  std::string ca_bundle_file;
  // Request limits (0: the server's defaults).
  double requests_per_second = 0;
  int max_concurrent_requests = 0;
  AuthKind auth = AuthKind::kPersonalAccessToken;

  // kPersonalAccessToken and kSimulated.
  secrets::SecretSource token;
  // kDatabricksOAuthM2M, kAzureClientSecret, kAzureWorkloadIdentity, and
  // kAzureManagedIdentity (a user-assigned identity; optional).
  std::string client_id;
  secrets::SecretSource client_secret;
  // kDatabricksOAuthM2M: default "{host}/oidc/v1/token".
  std::string token_endpoint;
  // Azure: the tenant and the Entra authority host.
  std::string tenant_id;
  std::string authority_host = std::string(kDefaultAzureAuthority);
  // kAzureClientSecret: for a service principal that is not a workspace
  // member (adds the X-Databricks-Azure-* headers).
  std::string azure_workspace_resource_id;
  // kAzureWorkloadIdentity: re-read on every token refresh.
  std::string federated_token_file;
  // kAzureManagedIdentity.
  std::string metadata_endpoint = std::string(kDefaultMetadataEndpoint);

  // Where the profile came from, for logs: "config", "environment",
  // "/root/.databrickscfg".
  std::string origin;
};

struct ProfileSet {
  std::vector<Profile> profiles;
  std::string default_name;

  // The profile named `name`; the default profile when `name` is empty;
  // nullptr when there is none.
  const Profile* Find(absl::string_view name) const;
};

struct ProfileSources {
  secrets::EnvLookup env = secrets::ProcessEnv();
  // A `.databrickscfg`-style file; empty means none. A missing file is an
  // error only when the path was given explicitly.
  std::string databrickscfg_path;
  // --default_workspace; empty means "from the file or environment".
  std::string default_workspace;
};

absl::StatusOr<ProfileSet> LoadProfiles(
    const polysync::databricks::v1::ServerConfig& config,
    const ProfileSources& sources);

}  // namespace polysync::databricks::auth

#endif  // POLYSYNC_ADAPTERS_DATABRICKS_AUTH_PROFILES_H_
