#include "adapters/databricks/auth/profiles.h"

#include <fstream>
#include <map>
#include <sstream>

#include "absl/status/status.h"
#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "absl/strings/strip.h"
#include "adapters/databricks/http/url.h"

namespace polysync::databricks::auth {
namespace {

namespace v1 = ::polysync::databricks::v1;

constexpr absl::string_view kEnvProfile = "default";

secrets::SecretSource FromRef(const v1::SecretRef& ref,
                              const secrets::EnvLookup& env) {
  if (ref.has_env()) return secrets::SecretSource::FromEnv(ref.env(), env);
  if (ref.has_file()) return secrets::SecretSource::FromFile(ref.file());
  return secrets::SecretSource();
}

std::string TrimHost(absl::string_view host) {
  return std::string(absl::StripSuffix(absl::StripAsciiWhitespace(host), "/"));
}

Profile FromConfig(const v1::WorkspaceProfile& w,
                   const secrets::EnvLookup& env) {
  Profile p;
  p.name = w.name();
  p.host = TrimHost(w.host());
  p.ca_bundle_file = w.ca_bundle_file();
  p.requests_per_second = w.limits().requests_per_second();
  p.max_concurrent_requests = w.limits().max_concurrent_requests();
  p.origin = "config";
  switch (w.auth_case()) {
    case v1::WorkspaceProfile::kPersonalAccessToken:
      p.auth = AuthKind::kPersonalAccessToken;
      p.token = FromRef(w.personal_access_token().token(), env);
      break;
    case v1::WorkspaceProfile::kDatabricksOauthM2M:
      p.auth = AuthKind::kDatabricksOAuthM2M;
      p.client_id = w.databricks_oauth_m2m().client_id();
      p.client_secret = FromRef(w.databricks_oauth_m2m().client_secret(), env);
      p.token_endpoint = w.databricks_oauth_m2m().token_endpoint();
      break;
    case v1::WorkspaceProfile::kAzureClientSecret: {
      const auto& a = w.azure_client_secret();
      p.auth = AuthKind::kAzureClientSecret;
      p.tenant_id = a.tenant_id();
      p.client_id = a.client_id();
      p.client_secret = FromRef(a.client_secret(), env);
      if (!a.authority_host().empty()) p.authority_host = a.authority_host();
      p.azure_workspace_resource_id = a.azure_workspace_resource_id();
      break;
    }
    case v1::WorkspaceProfile::kAzureWorkloadIdentity: {
      const auto& a = w.azure_workload_identity();
      p.auth = AuthKind::kAzureWorkloadIdentity;
      p.tenant_id = a.tenant_id().empty() ? env("AZURE_TENANT_ID").value_or("")
                                          : a.tenant_id();
      p.client_id = a.client_id().empty() ? env("AZURE_CLIENT_ID").value_or("")
                                          : a.client_id();
      p.federated_token_file =
          a.federated_token_file().empty()
              ? env("AZURE_FEDERATED_TOKEN_FILE").value_or("")
              : a.federated_token_file();
      std::string authority = a.authority_host().empty()
                                  ? env("AZURE_AUTHORITY_HOST").value_or("")
                                  : a.authority_host();
      if (!authority.empty()) p.authority_host = TrimHost(authority);
      break;
    }
    case v1::WorkspaceProfile::kAzureManagedIdentity:
      p.auth = AuthKind::kAzureManagedIdentity;
      p.client_id = w.azure_managed_identity().client_id();
      if (!w.azure_managed_identity().metadata_endpoint().empty()) {
        p.metadata_endpoint = w.azure_managed_identity().metadata_endpoint();
      }
      break;
    case v1::WorkspaceProfile::AUTH_NOT_SET:
      break;
  }
  return p;
}

// Sets the auth method of `p` from what `get(key)` finds; returns false when
// nothing identifies a method. Keys are the INI names; `secret(key)` makes a
// secrets::SecretSource for a key.
template <typename Get, typename Secret>
bool ApplyAuth(Profile& p, Get get, Secret secret) {
  if (get("token")) {
    p.auth = AuthKind::kPersonalAccessToken;
    p.token = secret("token");
  } else if (get("client_id") && get("client_secret")) {
    p.auth = AuthKind::kDatabricksOAuthM2M;
    p.client_id = *get("client_id");
    p.client_secret = secret("client_secret");
  } else if (absl::EqualsIgnoreCase(get("azure_use_msi").value_or(""),
                                    "true")) {
    p.auth = AuthKind::kAzureManagedIdentity;
    p.client_id = get("azure_client_id").value_or("");
  } else if (get("azure_client_secret") && get("azure_tenant_id") &&
             get("azure_client_id")) {
    p.auth = AuthKind::kAzureClientSecret;
    p.tenant_id = *get("azure_tenant_id");
    p.client_id = *get("azure_client_id");
    p.client_secret = secret("azure_client_secret");
  } else if (get("azure_federated_token_file") && get("azure_tenant_id") &&
             get("azure_client_id")) {
    p.auth = AuthKind::kAzureWorkloadIdentity;
    p.tenant_id = *get("azure_tenant_id");
    p.client_id = *get("azure_client_id");
    p.federated_token_file = *get("azure_federated_token_file");
  } else {
    return false;
  }
  if (auto id = get("azure_workspace_resource_id")) {
    p.azure_workspace_resource_id = *id;
  }
  if (auto authority = get("azure_authority_host")) {
    p.authority_host = TrimHost(*authority);
  }
  return true;
}

absl::Status CheckProfile(const Profile& p) {
  if (p.host.empty()) {
    return absl::InvalidArgumentError(absl::StrCat(
        "workspace profile \"", p.name, "\" (", p.origin, ") has no host"));
  }
  // The transport's own URL parser; the host is never echoed (it may hold
  // a password).
  if (absl::Status s = http::CheckWorkspaceHost(p.host); !s.ok()) {
    return absl::InvalidArgumentError(absl::StrCat("workspace profile \"",
                                                   p.name, "\" (", p.origin,
                                                   "): host ", s.message()));
  }
  return absl::OkStatus();
}

}  // namespace

absl::string_view AuthKindName(AuthKind kind) {
  switch (kind) {
    case AuthKind::kPersonalAccessToken:
      return "personal_access_token";
    case AuthKind::kDatabricksOAuthM2M:
      return "databricks_oauth_m2m";
    case AuthKind::kAzureClientSecret:
      return "azure_client_secret";
    case AuthKind::kAzureWorkloadIdentity:
      return "azure_workload_identity";
    case AuthKind::kAzureManagedIdentity:
      return "azure_managed_identity";
    case AuthKind::kSimulated:
      return "simulated";
  }
  return "unknown";
}

const Profile* ProfileSet::Find(absl::string_view name) const {
  const absl::string_view wanted = name.empty() ? default_name : name;
  for (const auto& p : profiles) {
    if (p.name == wanted) return &p;
  }
  return nullptr;
}

absl::StatusOr<ProfileSet> LoadProfiles(const v1::ServerConfig& config,
                                        const ProfileSources& sources) {
  std::map<std::string, Profile> by_name;
  std::vector<std::string> order;
  auto put = [&](Profile p) {
    if (by_name.count(p.name) == 0) order.push_back(p.name);
    by_name[p.name] = std::move(p);
  };

  // Lowest precedence: the INI file.
  if (!sources.databrickscfg_path.empty()) {
    std::ifstream in(sources.databrickscfg_path);
    if (!in) {
      return absl::NotFoundError(absl::StrCat("Databricks config file ",
                                              sources.databrickscfg_path,
                                              " cannot be read"));
    }
    std::stringstream buffer;
    buffer << in.rdbuf();
    const std::string text = buffer.str();
    std::vector<std::string> sections;
    for (absl::string_view line : absl::StrSplit(text, '\n')) {
      line = absl::StripAsciiWhitespace(line);
      if (line.size() > 2 && line.front() == '[' && line.back() == ']') {
        sections.emplace_back(
            absl::StripAsciiWhitespace(line.substr(1, line.size() - 2)));
      }
    }
    for (const auto& section : sections) {
      Profile p;
      p.name = section == "DEFAULT" ? std::string(kEnvProfile) : section;
      p.origin = sources.databrickscfg_path;
      auto get = [&](absl::string_view key) {
        return secrets::IniValue(text, section, key);
      };
      p.host = TrimHost(get("host").value_or(""));
      if (p.host.empty()) continue;  // e.g. an account-level profile
      const std::string path = sources.databrickscfg_path;
      if (!ApplyAuth(p, get, [&](absl::string_view key) {
            return secrets::SecretSource::FromIni(path, section,
                                                  std::string(key));
          })) {
        continue;
      }
      put(std::move(p));
    }
  }

  // Then the configuration file.
  for (const auto& w : config.workspaces()) put(FromConfig(w, sources.env));

  // Then the environment, for the profile named "default".
  const secrets::EnvLookup& env = sources.env;
  const std::map<std::string, std::string> env_names = {
      {"host", "DATABRICKS_HOST"},
      {"token", "DATABRICKS_TOKEN"},
      {"client_id", "DATABRICKS_CLIENT_ID"},
      {"client_secret", "DATABRICKS_CLIENT_SECRET"},
      {"azure_tenant_id", "ARM_TENANT_ID"},
      {"azure_client_id", "ARM_CLIENT_ID"},
      {"azure_client_secret", "ARM_CLIENT_SECRET"},
      {"azure_use_msi", "ARM_USE_MSI"},
      {"azure_workspace_resource_id", "DATABRICKS_AZURE_RESOURCE_ID"},
      {"azure_federated_token_file", "AZURE_FEDERATED_TOKEN_FILE"},
      {"azure_authority_host", "AZURE_AUTHORITY_HOST"},
  };
  auto env_get = [&](absl::string_view key) -> std::optional<std::string> {
    auto it = env_names.find(std::string(key));
    if (it == env_names.end()) return std::nullopt;
    auto v = env(it->second);
    // Workload identity uses AZURE_* names for the tenant and client too.
    if ((!v || v->empty()) && key == "azure_tenant_id" &&
        env("AZURE_FEDERATED_TOKEN_FILE")) {
      v = env("AZURE_TENANT_ID");
    }
    if ((!v || v->empty()) && key == "azure_client_id" &&
        env("AZURE_FEDERATED_TOKEN_FILE")) {
      v = env("AZURE_CLIENT_ID");
    }
    if (v && v->empty()) return std::nullopt;
    return v;
  };
  if (auto host = env_get("host")) {
    Profile p;
    auto existing = by_name.find(std::string(kEnvProfile));
    if (existing != by_name.end()) p = existing->second;
    p.name = std::string(kEnvProfile);
    p.host = TrimHost(*host);
    p.origin = "environment";
    Profile with_auth = p;
    if (ApplyAuth(with_auth, env_get, [&](absl::string_view key) {
          return secrets::SecretSource::FromEnv(env_names.at(std::string(key)),
                                                env);
        })) {
      p = std::move(with_auth);
    } else if (existing == by_name.end()) {
      return absl::InvalidArgumentError(
          "DATABRICKS_HOST is set but no credentials are: set "
          "DATABRICKS_TOKEN, DATABRICKS_CLIENT_ID/DATABRICKS_CLIENT_SECRET, "
          "ARM_CLIENT_ID/ARM_CLIENT_SECRET/ARM_TENANT_ID, ARM_USE_MSI=true or "
          "AZURE_FEDERATED_TOKEN_FILE");
    }
    put(std::move(p));
  }

  ProfileSet set;
  for (const auto& name : order) {
    if (auto s = CheckProfile(by_name[name]); !s.ok()) return s;
    set.profiles.push_back(std::move(by_name[name]));
  }
  // The default: the flag, then the configuration file, then "default",
  // then the only profile.
  if (!sources.default_workspace.empty()) {
    set.default_name = sources.default_workspace;
  } else if (!config.default_workspace().empty()) {
    set.default_name = config.default_workspace();
  } else if (set.Find(kEnvProfile) != nullptr) {
    set.default_name = std::string(kEnvProfile);
  } else if (set.profiles.size() == 1) {
    set.default_name = set.profiles[0].name;
  }
  if (!set.default_name.empty() && set.Find(set.default_name) == nullptr) {
    return absl::InvalidArgumentError(absl::StrCat(
        "the default workspace \"", set.default_name, "\" is not configured"));
  }
  return set;
}

}  // namespace polysync::databricks::auth
