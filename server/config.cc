#include "server/config.h"

#include <openssl/err.h>
#include <openssl/pem.h>
#include <openssl/x509.h>
#include <stdlib.h>

#include <algorithm>
#include <fstream>
#include <memory>
#include <nlohmann/json.hpp>
#include <set>
#include <sstream>
#include <vector>

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "adapters/databricks/http/url.h"
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

// A strict JSON pass before protobuf's lenient parser (which accepts
// trailing commas and keeps the last of duplicate keys): a SAX handler that
// refuses duplicate keys and reports syntax errors with the path of the last
// key read. Paths look like `workspaces[0].host`.
class StrictJson final : public nlohmann::json_sax<nlohmann::json> {
 public:
  const std::string& error() const { return error_; }

  bool null() override { return Value(); }
  bool boolean(bool) override { return Value(); }
  bool number_integer(number_integer_t) override { return Value(); }
  bool number_unsigned(number_unsigned_t) override { return Value(); }
  bool number_float(number_float_t, const string_t&) override {
    return Value();
  }
  bool string(string_t&) override { return Value(); }
  bool binary(binary_t&) override { return Value(); }
  bool start_object(std::size_t) override {
    Value();
    frames_.emplace_back();
    frames_.back().object = true;
    return true;
  }
  bool key(string_t& k) override {
    Frame& f = frames_.back();
    if (!f.keys.insert(k).second) {
      error_ = absl::StrCat("duplicate key \"", Path(), Dot(), k,
                            "\" (each key may appear once per object)");
      return false;
    }
    f.key = k;
    last_key_ = absl::StrCat(Path(), Dot(), k);
    return true;
  }
  bool end_object() override {
    frames_.pop_back();
    return true;
  }
  bool start_array(std::size_t) override {
    Value();
    frames_.emplace_back();
    return true;
  }
  bool end_array() override {
    frames_.pop_back();
    return true;
  }
  bool parse_error(std::size_t position, const std::string&,
                   const nlohmann::detail::exception& e) override {
    absl::string_view what = e.what();
    // "[json.exception.parse_error.101] parse error at line 1, ...: ..."
    if (auto close = what.find("] "); close != absl::string_view::npos) {
      what.remove_prefix(close + 2);
    }
    const bool trailing_comma = absl::StrContains(what, "unexpected '}'") ||
                                absl::StrContains(what, "unexpected ']'");
    error_ = absl::StrCat(
        "not strict JSON at byte ", position,
        last_key_.empty()
            ? ""
            : absl::StrCat(" (after the key \"", last_key_, "\"",
                           trailing_comma ? "; a trailing comma?" : "", ")"),
        ": ", what);
    return false;
  }

 private:
  struct Frame {
    bool object = false;
    std::set<std::string> keys;  // objects
    std::string key;             // objects: the current key
    int index = -1;              // arrays: the current element
  };

  bool Value() {
    if (!frames_.empty() && !frames_.back().object) ++frames_.back().index;
    return true;
  }
  // The path of the innermost open container.
  std::string Path() const {
    std::string path;
    for (size_t i = 0; i + 1 < frames_.size(); ++i) {
      const Frame& f = frames_[i];
      if (f.object) {
        absl::StrAppend(&path, path.empty() ? "" : ".", f.key);
      } else {
        absl::StrAppend(&path, "[", f.index, "]");
      }
    }
    return path;
  }
  const char* Dot() const { return Path().empty() ? "" : "."; }

  std::vector<Frame> frames_;
  std::string last_key_;
  std::string error_;
};

// "host:port" (host a name, an IPv4 address or a bracketed IPv6 one; may be
// empty for every interface) with the port 1..65535, or 0 for any free port
// (each listener logs the port it bound).
absl::Status CheckListen(absl::string_view key, absl::string_view value) {
  const auto colon = value.rfind(':');
  const absl::string_view host =
      colon == absl::string_view::npos ? "" : value.substr(0, colon);
  const absl::string_view port =
      colon == absl::string_view::npos ? "" : value.substr(colon + 1);
  int number = -1;
  const bool digits =
      !port.empty() && port.size() <= 5 &&
      std::all_of(port.begin(), port.end(), [](char c) {
        return absl::ascii_isdigit(static_cast<unsigned char>(c));
      });
  const bool bracketed_ok =
      !absl::StartsWith(host, "[") || absl::EndsWith(host, "]");
  if (!digits || !absl::SimpleAtoi(port, &number) || !bracketed_ok ||
      number > 65535) {
    return absl::InvalidArgumentError(absl::StrCat(
        key, ": \"", value, "\" is not host:port with a port from ",
        "0 (any free port) to 65535"));
  }
  return absl::OkStatus();
}

// Present: an environment variable set and not blank, or a readable file
// that is not blank. The value is never kept nor put in a message.
absl::Status CheckSecretPresent(const SecretRef& ref, absl::string_view where) {
  if (ref.has_env()) {
    const char* value = getenv(ref.env().c_str());
    if (value == nullptr ||
        absl::StripAsciiWhitespace(absl::string_view(value)).empty()) {
      return absl::InvalidArgumentError(
          absl::StrCat(where, ": the environment variable ", ref.env(),
                       value == nullptr ? " is not set" : " is empty"));
    }
    return absl::OkStatus();
  }
  if (ref.has_file()) {
    std::ifstream in(ref.file(), std::ios::binary);
    if (!in) {
      return absl::InvalidArgumentError(
          absl::StrCat(where, ": the file ", ref.file(), " cannot be read"));
    }
    char c;
    while (in.get(c)) {
      if (!absl::ascii_isspace(static_cast<unsigned char>(c))) {
        return absl::OkStatus();
      }
    }
    return absl::InvalidArgumentError(
        absl::StrCat(where, ": the file ", ref.file(), " is empty"));
  }
  return absl::InvalidArgumentError(absl::StrCat(
      where, ": name an environment variable (\"env\") or a file (\"file\")"));
}

struct BioDeleter {
  void operator()(BIO* b) const { BIO_free(b); }
};
struct X509Deleter {
  void operator()(X509* x) const { X509_free(x); }
};
struct KeyDeleter {
  void operator()(EVP_PKEY* k) const { EVP_PKEY_free(k); }
};

// The first certificate of a PEM file, or nullptr.
std::unique_ptr<X509, X509Deleter> ReadCertificate(const std::string& path) {
  std::unique_ptr<BIO, BioDeleter> bio(BIO_new_file(path.c_str(), "r"));
  if (bio == nullptr) return nullptr;
  return std::unique_ptr<X509, X509Deleter>(
      PEM_read_bio_X509(bio.get(), nullptr, nullptr, nullptr));
}

// The certificate and key load, and the key is the certificate's; the CA
// bundle holds a certificate. Nothing of a key reaches a message.
absl::Status CheckTlsFiles(const polysync::databricks::v1::ServerTls& tls) {
  if (tls.cert_file().empty() || tls.key_file().empty()) {
    return absl::InvalidArgumentError(
        "tls: cert_file and key_file are both required");
  }
  auto cert = ReadCertificate(tls.cert_file());
  if (cert == nullptr) {
    ERR_clear_error();
    return absl::InvalidArgumentError(
        absl::StrCat("tls.cert_file: ", tls.cert_file(),
                     " cannot be read or holds no PEM certificate"));
  }
  std::unique_ptr<BIO, BioDeleter> bio(
      BIO_new_file(tls.key_file().c_str(), "r"));
  // An empty passphrase callback: an encrypted key fails instead of
  // prompting on the terminal.
  std::unique_ptr<EVP_PKEY, KeyDeleter> key(
      bio == nullptr ? nullptr
                     : PEM_read_bio_PrivateKey(
                           bio.get(), nullptr,
                           [](char*, int, int, void*) { return 0; }, nullptr));
  if (key == nullptr) {
    ERR_clear_error();
    return absl::InvalidArgumentError(absl::StrCat(
        "tls.key_file: ", tls.key_file(),
        " cannot be read or holds no unencrypted PEM private key"));
  }
  if (X509_check_private_key(cert.get(), key.get()) != 1) {
    ERR_clear_error();
    return absl::InvalidArgumentError(
        absl::StrCat("tls.key_file: ", tls.key_file(),
                     " is not the private key of tls.cert_file ",
                     tls.cert_file(), " (every TLS handshake would fail)"));
  }
  if (!tls.client_ca_file().empty() &&
      ReadCertificate(tls.client_ca_file()) == nullptr) {
    ERR_clear_error();
    return absl::InvalidArgumentError(
        absl::StrCat("tls.client_ca_file: ", tls.client_ca_file(),
                     " cannot be read or holds no PEM certificate"));
  }
  return absl::OkStatus();
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
  // The transport's own parser (libcurl's), so what passes here is what
  // requests are sent to. The host is not echoed: it may hold a password.
  if (absl::Status s = databricks::http::CheckWorkspaceHost(p.host());
      !s.ok()) {
    return absl::InvalidArgumentError(
        absl::StrCat(where, ".host: ", s.message()));
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
  StrictJson strict;
  nlohmann::json::sax_parse(json.begin(), json.end(), &strict);
  if (!strict.error().empty()) {
    return absl::InvalidArgumentError(
        absl::StrCat("configuration ", origin, ": ", strict.error()));
  }
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
  if (config.has_dlt_retry_window() &&
      (config.dlt_retry_window().seconds() < 0 ||
       config.dlt_retry_window().nanos() < 0 ||
       ToDuration(config.dlt_retry_window()) < absl::Minutes(1) ||
       ToDuration(config.dlt_retry_window()) > absl::Hours(24))) {
    return absl::InvalidArgumentError(
        "dlt_retry_window: must be between 1m and 24h");
  }
  if (config.has_restart_timeout() &&
      (config.restart_timeout().seconds() < 0 ||
       config.restart_timeout().nanos() < 0 ||
       ToDuration(config.restart_timeout()) < absl::Seconds(1) ||
       ToDuration(config.restart_timeout()) > absl::Hours(24))) {
    return absl::InvalidArgumentError(
        "restart_timeout: must be between 1s and 24h");
  }
  if (auto s = CheckListen("listen", config.listen()); !s.ok()) {
    return s;
  }
  if (!config.metrics_listen().empty()) {
    if (auto s = CheckListen("metrics_listen", config.metrics_listen());
        !s.ok()) {
      return s;
    }
  }
  if (!config.health_listen().empty()) {
    if (auto s = CheckListen("health_listen", config.health_listen());
        !s.ok()) {
      return s;
    }
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

absl::Status CheckStartupResources(const ServerConfig& config) {
  for (const WorkspaceProfile& p : config.workspaces()) {
    const std::string where = absl::StrCat("workspaces[\"", p.name(), "\"]");
    absl::Status s;
    switch (p.auth_case()) {
      case WorkspaceProfile::kPersonalAccessToken:
        s = CheckSecretPresent(
            p.personal_access_token().token(),
            absl::StrCat(where, ".personal_access_token.token"));
        break;
      case WorkspaceProfile::kDatabricksOauthM2M:
        s = CheckSecretPresent(
            p.databricks_oauth_m2m().client_secret(),
            absl::StrCat(where, ".databricks_oauth_m2m.client_secret"));
        break;
      case WorkspaceProfile::kAzureClientSecret:
        s = CheckSecretPresent(
            p.azure_client_secret().client_secret(),
            absl::StrCat(where, ".azure_client_secret.client_secret"));
        break;
      default:
        break;
    }
    if (!s.ok()) return s;
  }
  if (config.authorization().enabled()) {
    for (const auto& t : config.authorization().tokens()) {
      if (auto s = CheckSecretPresent(
              t.token(),
              absl::StrCat("authorization.tokens[\"", t.name(), "\"].token"));
          !s.ok()) {
        return s;
      }
    }
  }
  if (config.has_tls()) return CheckTlsFiles(config.tls());
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
