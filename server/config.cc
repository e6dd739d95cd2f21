#include "server/config.h"

#include <fstream>
#include <set>
#include <sstream>

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "common/log.h"
#include "google/protobuf/util/json_util.h"

namespace polysync::server {
namespace {

using ::polysync::databricks::v1::SecretRef;
using ::polysync::databricks::v1::WorkspaceProfile;

bool ValidProfileName(absl::string_view name) {
  if (name.empty() || name.size() > 64) return false;
  for (char c : name) {
    if (!absl::ascii_isalnum(static_cast<unsigned char>(c)) && c != '-' &&
        c != '_' && c != '.') {
      return false;
    }
  }
  return true;
}

// Host part of "scheme://host[:port][/...]", without brackets for IPv6.
std::string HostOf(absl::string_view url) {
  auto scheme_end = url.find("://");
  if (scheme_end == absl::string_view::npos) return "";
  absl::string_view rest = url.substr(scheme_end + 3);
  rest = rest.substr(0, rest.find_first_of("/?#"));
  if (absl::StartsWith(rest, "[")) {
    return std::string(rest.substr(1, rest.find(']') - 1));
  }
  return std::string(rest.substr(0, rest.find(':')));
}

bool IsLoopbackHost(absl::string_view host) {
  return host == "localhost" || host == "::1" || absl::StartsWith(host, "127.");
}

absl::Status CheckSecret(const SecretRef& ref, absl::string_view where) {
  if (ref.source_case() == SecretRef::SOURCE_NOT_SET ||
      (ref.has_env() && ref.env().empty()) ||
      (ref.has_file() && ref.file().empty())) {
    return absl::InvalidArgumentError(
        absl::StrCat(where,
                     ": name an environment variable (\"env\") or a "
                     "file (\"file\") holding the secret"));
  }
  return absl::OkStatus();
}

absl::Status CheckProfile(const WorkspaceProfile& p) {
  const std::string where = absl::StrCat("workspaces[\"", p.name(), "\"]");
  if (!ValidProfileName(p.name())) {
    return absl::InvalidArgumentError(
        absl::StrCat("workspaces: profile name \"", p.name(),
                     "\" must be 1-64 letters, digits, '-', '_' or '.'"));
  }
  const std::string host = HostOf(p.host());
  if (host.empty() || !(absl::StartsWith(p.host(), "https://") ||
                        absl::StartsWith(p.host(), "http://"))) {
    return absl::InvalidArgumentError(absl::StrCat(
        where, ".host: \"", p.host(),
        "\" is not a URL such as https://adb-123.4.azuredatabricks.net"));
  }
  if (absl::StartsWith(p.host(), "http://") && !IsLoopbackHost(host)) {
    return absl::InvalidArgumentError(
        absl::StrCat(where,
                     ".host: plain http:// is only allowed for loopback "
                     "hosts; use https://"));
  }
  // NaN fails every comparison, so it is refused too. Below 1 request a
  // second a permit could wait longer than any call's deadline.
  const double rps = p.limits().requests_per_second();
  if (!(rps == 0 || (rps >= 1 && rps <= 1e6))) {
    return absl::InvalidArgumentError(
        absl::StrCat(where,
                     ".limits.requests_per_second: must be 0 (the default) "
                     "or between 1 and 1000000"));
  }
  // The transport keeps 256 idle connections for reuse.
  if (p.limits().max_concurrent_requests() < 0 ||
      p.limits().max_concurrent_requests() > 256) {
    return absl::InvalidArgumentError(
        absl::StrCat(where,
                     ".limits.max_concurrent_requests: must be between 0 "
                     "(the default) and 256"));
  }
  switch (p.auth_case()) {
    case WorkspaceProfile::kPersonalAccessToken:
      return CheckSecret(p.personal_access_token().token(),
                         absl::StrCat(where, ".personal_access_token.token"));
    case WorkspaceProfile::kDatabricksOauthM2M:
      if (p.databricks_oauth_m2m().client_id().empty()) {
        return absl::InvalidArgumentError(
            absl::StrCat(where, ".databricks_oauth_m2m.client_id is empty"));
      }
      return CheckSecret(
          p.databricks_oauth_m2m().client_secret(),
          absl::StrCat(where, ".databricks_oauth_m2m.client_secret"));
    case WorkspaceProfile::kAzureClientSecret:
      if (p.azure_client_secret().tenant_id().empty() ||
          p.azure_client_secret().client_id().empty()) {
        return absl::InvalidArgumentError(absl::StrCat(
            where, ".azure_client_secret needs tenant_id and client_id"));
      }
      return CheckSecret(
          p.azure_client_secret().client_secret(),
          absl::StrCat(where, ".azure_client_secret.client_secret"));
    case WorkspaceProfile::kAzureWorkloadIdentity:
    case WorkspaceProfile::kAzureManagedIdentity:
      return absl::OkStatus();
    case WorkspaceProfile::AUTH_NOT_SET:
      break;
  }
  return absl::InvalidArgumentError(absl::StrCat(
      where,
      ": choose one auth method: personal_access_token, databricks_oauth_m2m, "
      "azure_client_secret, azure_workload_identity or "
      "azure_managed_identity"));
}

}  // namespace

absl::StatusOr<ServerConfig> ParseConfig(absl::string_view json,
                                         absl::string_view origin) {
  ServerConfig config;
  google::protobuf::util::JsonParseOptions options;
  options.ignore_unknown_fields = false;
  auto status = google::protobuf::util::JsonStringToMessage(
      google::protobuf::StringPiece(json.data(), json.size()), &config,
      options);
  if (!status.ok()) {
    return absl::InvalidArgumentError(absl::StrCat(
        "configuration ", origin, ": ", status.message().as_string(),
        " (every key is documented in "
        "proto/polysync/databricks/v1/config.proto)"));
  }
  ApplyDefaults(config);
  if (auto s = ValidateConfig(config); !s.ok()) {
    return absl::InvalidArgumentError(
        absl::StrCat("configuration ", origin, ": ", s.message()));
  }
  return config;
}

absl::StatusOr<ServerConfig> LoadConfigFile(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) {
    return absl::NotFoundError(
        absl::StrCat("configuration file ", path, " cannot be read"));
  }
  std::stringstream buffer;
  buffer << in.rdbuf();
  return ParseConfig(buffer.str(), path);
}

void ApplyDefaults(ServerConfig& config) {
  if (config.listen().empty()) config.set_listen(std::string(kDefaultListen));
  if (config.log_level().empty()) config.set_log_level("info");
  if (!config.has_shutdown_grace()) {
    config.mutable_shutdown_grace()->set_seconds(
        absl::ToInt64Seconds(kDefaultShutdownGrace));
  }
  if (!config.has_drain_delay()) {
    config.mutable_drain_delay()->set_seconds(
        absl::ToInt64Seconds(kDefaultDrainDelay));
  }
  if (config.default_workspace().empty() && config.workspaces_size() == 1) {
    config.set_default_workspace(config.workspaces(0).name());
  }
}

absl::Status ValidateConfig(const ServerConfig& config) {
  log::Level level;
  if (!log::ParseLevel(config.log_level(), &level)) {
    return absl::InvalidArgumentError(
        absl::StrCat("log_level: \"", config.log_level(),
                     "\" is not one of debug, info, warn, error"));
  }
  if (config.shutdown_grace().seconds() < 0 ||
      config.shutdown_grace().nanos() < 0) {
    return absl::InvalidArgumentError("shutdown_grace: must not be negative");
  }
  if (config.drain_delay().seconds() < 0 || config.drain_delay().nanos() < 0) {
    return absl::InvalidArgumentError("drain_delay: must not be negative");
  }
  if (config.status_cache_ttl().seconds() < 0 ||
      config.status_cache_ttl().nanos() < 0 ||
      ToDuration(config.status_cache_ttl()) > absl::Minutes(1)) {
    return absl::InvalidArgumentError(
        "status_cache_ttl: must be between 0s and 60s");
  }
  std::set<std::string> names;
  for (const auto& profile : config.workspaces()) {
    if (auto s = CheckProfile(profile); !s.ok()) return s;
    if (!names.insert(profile.name()).second) {
      return absl::InvalidArgumentError(absl::StrCat(
          "workspaces: profile \"", profile.name(), "\" is defined twice"));
    }
  }
  if (!config.default_workspace().empty() &&
      names.count(config.default_workspace()) == 0) {
    return absl::InvalidArgumentError(
        absl::StrCat("default_workspace: no profile is named \"",
                     config.default_workspace(), "\""));
  }
  return absl::OkStatus();
}

absl::Duration ToDuration(const google::protobuf::Duration& d) {
  return absl::Seconds(d.seconds()) + absl::Nanoseconds(d.nanos());
}

absl::Duration ShutdownGrace(const ServerConfig& config) {
  return ToDuration(config.shutdown_grace());
}

absl::Duration DrainDelay(const ServerConfig& config) {
  return ToDuration(config.drain_delay());
}

}  // namespace polysync::server
