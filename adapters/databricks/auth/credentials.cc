#include "adapters/databricks/auth/credentials.h"

#include <mutex>
#include <optional>
#include <vector>

#include "absl/status/status.h"
#include "absl/strings/ascii.h"
#include "absl/strings/escaping.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "adapters/databricks/wire/decoders.h"
#include "adapters/databricks/wire/errors.h"
#include "common/log.h"
#include "common/secrets.h"

namespace polysync::databricks::auth {
namespace {

struct Token {
  std::string value;
  absl::Time expires;
};

using TokenCallback = std::function<void(absl::StatusOr<Token>)>;

constexpr absl::Duration kTokenRequestTimeout = absl::Seconds(30);

// Sends a token request and decodes the answer into a Token.
void FetchToken(http::Transport& transport, http::Request request,
                std::string what, const CredentialsOptions& options,
                TokenCallback done) {
  const absl::Time started = options.now();
  const absl::Duration default_lifetime = options.default_lifetime;
  transport.Send(std::move(request), [what = std::move(what), started,
                                      default_lifetime, done = std::move(done)](
                                         http::TransportResult result) {
    if (!result.status.ok()) {
      done(absl::Status(result.status.code(),
                        absl::StrCat(what, ": ", result.status.message())));
      return;
    }
    if (absl::Status refused = StatusFromTokenEndpointResponse(
            what, result.response.status, result.response.body,
            result.response.Header("x-request-id"));
        !refused.ok()) {
      done(refused);
      return;
    }
    auto decoded = DecodeTokenResponse(result.response.body);
    if (!decoded.ok() || decoded->access_token.empty()) {
      done(absl::InternalError(absl::StrCat(
          what, " returned no usable access_token", decoded.ok() ? "" : ": ",
          decoded.ok() ? "" : decoded.status().message())));
      return;
    }
    secrets::Register(decoded->access_token);
    Token token;
    token.value = std::move(decoded->access_token);
    if (decoded->expires_on.has_value()) {
      token.expires = absl::FromUnixSeconds(*decoded->expires_on);
    } else if (decoded->expires_in.has_value()) {
      token.expires = started + absl::Seconds(*decoded->expires_in);
    } else {
      token.expires = started + default_lifetime;
    }
    done(std::move(token));
  });
}

// A cached token with single-flight refresh. Held by shared_ptr so that a
// token request still in flight keeps it alive.
class TokenCache : public std::enable_shared_from_this<TokenCache> {
 public:
  using Fetcher = std::function<void(absl::Time deadline, TokenCallback)>;

  TokenCache(Fetcher fetch, std::string method, CredentialsOptions options)
      : fetch_(std::move(fetch)),
        method_(std::move(method)),
        options_(std::move(options)) {
    if (options_.refresh_margin < absl::Seconds(40)) {
      options_.refresh_margin = absl::Seconds(40);
    }
  }

  void Get(absl::Time deadline, TokenCallback done) {
    {
      std::unique_lock<std::mutex> lock(mu_);
      if (token_.has_value() &&
          options_.now() < token_->expires - options_.refresh_margin) {
        Token copy = *token_;
        lock.unlock();
        done(std::move(copy));
        return;
      }
      waiters_.push_back(std::move(done));
      if (refreshing_) return;
      refreshing_ = true;
    }
    // One refresh serves every waiter: it gets its own deadline rather than
    // the first caller's (which may be short).
    (void)deadline;
    fetch_(absl::Now() + kTokenRequestTimeout,
           [this, self = shared_from_this()](absl::StatusOr<Token> token) {
             std::vector<TokenCallback> waiters;
             {
               std::lock_guard<std::mutex> lock(mu_);
               if (token.ok()) token_ = *token;
               refreshing_ = false;
               waiters.swap(waiters_);
             }
             if (options_.on_refresh) options_.on_refresh(method_, token.ok());
             if (!token.ok()) {
               log::Warn("token refresh failed",
                         {log::Field("method", method_),
                          log::Field("error",
                                     std::string(token.status().message()))});
             }
             for (auto& w : waiters) w(token);
           });
  }

  void Invalidate() {
    std::lock_guard<std::mutex> lock(mu_);
    token_.reset();
  }

 private:
  const Fetcher fetch_;
  const std::string method_;
  CredentialsOptions options_;
  std::mutex mu_;
  std::optional<Token> token_;          // guarded by mu_
  bool refreshing_ = false;             // guarded by mu_
  std::vector<TokenCallback> waiters_;  // guarded by mu_
};

std::string Form(
    const std::vector<std::pair<std::string, std::string>>& fields) {
  std::vector<std::string> parts;
  parts.reserve(fields.size());
  for (const auto& [k, v] : fields) {
    parts.push_back(absl::StrCat(FormEncode(k), "=", FormEncode(v)));
  }
  return absl::StrJoin(parts, "&");
}

http::Request FormPost(std::string url, std::string body, absl::Time deadline) {
  http::Request r;
  r.method = "POST";
  r.url = std::move(url);
  r.body = std::move(body);
  r.deadline = deadline;
  r.headers.emplace_back("Content-Type", "application/x-www-form-urlencoded");
  r.headers.emplace_back("Accept", "application/json");
  return r;
}

// Personal access token (and the simulated workspace's static token).
class StaticTokenCredentials final : public Credentials {
 public:
  explicit StaticTokenCredentials(secrets::SecretSource token)
      : token_(std::move(token)) {}

  void GetHeaders(absl::Time, HeadersCallback done) override {
    auto token = token_.Read();
    if (!token.ok()) {
      done(absl::UnauthenticatedError(absl::StrCat(
          "personal access token unavailable: ", token.status().message())));
      return;
    }
    done(http::Headers{{"Authorization", absl::StrCat("Bearer ", *token)}});
  }

  void Invalidate() override {}

 private:
  secrets::SecretSource token_;
};

// Any OAuth flow: a bearer token from a cache, plus optional extra headers
// from a second cache (the Azure management token).
class OAuthCredentials final : public Credentials {
 public:
  OAuthCredentials(std::shared_ptr<TokenCache> main,
                   std::shared_ptr<TokenCache> management,
                   std::string workspace_resource_id)
      : main_(std::move(main)),
        management_(std::move(management)),
        workspace_resource_id_(std::move(workspace_resource_id)) {}

  void GetHeaders(absl::Time deadline, HeadersCallback done) override {
    main_->Get(deadline, [management = management_,
                          resource_id = workspace_resource_id_, deadline,
                          done = std::move(done)](
                             absl::StatusOr<Token> token) mutable {
      if (!token.ok()) {
        done(token.status());
        return;
      }
      http::Headers headers{
          {"Authorization", absl::StrCat("Bearer ", token->value)}};
      if (management == nullptr) {
        done(std::move(headers));
        return;
      }
      management->Get(deadline, [resource_id, headers = std::move(headers),
                                 done = std::move(done)](
                                    absl::StatusOr<Token> mgmt) mutable {
        if (!mgmt.ok()) {
          done(mgmt.status());
          return;
        }
        headers.emplace_back("X-Databricks-Azure-Workspace-Resource-Id",
                             resource_id);
        headers.emplace_back("X-Databricks-Azure-SP-Management-Token",
                             mgmt->value);
        done(std::move(headers));
      });
    });
  }

  void Invalidate() override {
    main_->Invalidate();
    if (management_ != nullptr) management_->Invalidate();
  }

 private:
  const std::shared_ptr<TokenCache> main_;
  const std::shared_ptr<TokenCache> management_;
  const std::string workspace_resource_id_;
};

std::string EntraTokenUrl(const Profile& p) {
  return absl::StrCat(p.authority_host, "/", FormEncode(p.tenant_id),
                      "/oauth2/v2.0/token");
}

// Entra ID client-credentials grant for `scope`, with a secret or a
// federated assertion.
TokenCache::Fetcher EntraFetcher(const Profile& p, http::Transport& transport,
                                 const CredentialsOptions& options,
                                 std::string scope) {
  return [p, &transport, options, scope](absl::Time deadline,
                                         TokenCallback done) {
    std::vector<std::pair<std::string, std::string>> form = {
        {"grant_type", "client_credentials"},
        {"client_id", p.client_id},
        {"scope", scope}};
    if (p.auth == AuthKind::kAzureWorkloadIdentity) {
      auto assertion =
          secrets::SecretSource::FromFile(p.federated_token_file).Read();
      if (!assertion.ok()) {
        done(absl::UnauthenticatedError(absl::StrCat(
            "federated token unavailable: ", assertion.status().message())));
        return;
      }
      form.emplace_back(
          "client_assertion_type",
          "urn:ietf:params:oauth:client-assertion-type:jwt-bearer");
      form.emplace_back("client_assertion", *assertion);
    } else {
      auto secret = p.client_secret.Read();
      if (!secret.ok()) {
        done(absl::UnauthenticatedError(absl::StrCat(
            "client secret unavailable: ", secret.status().message())));
        return;
      }
      form.emplace_back("client_secret", *secret);
    }
    FetchToken(transport, FormPost(EntraTokenUrl(p), Form(form), deadline),
               "Entra ID token endpoint", options, std::move(done));
  };
}

}  // namespace

std::string FormEncode(absl::string_view value) {
  static constexpr char kHex[] = "0123456789ABCDEF";
  std::string out;
  out.reserve(value.size());
  for (unsigned char c : value) {
    if (absl::ascii_isalnum(c) || c == '-' || c == '.' || c == '_' ||
        c == '~') {
      out.push_back(static_cast<char>(c));
    } else {
      out.push_back('%');
      out.push_back(kHex[c >> 4]);
      out.push_back(kHex[c & 15]);
    }
  }
  return out;
}

std::unique_ptr<Credentials> MakeCredentials(const Profile& profile,
                                             http::Transport& transport,
                                             CredentialsOptions options) {
  const std::string databricks_scope =
      absl::StrCat(kAzureDatabricksResource, "/.default");
  switch (profile.auth) {
    case AuthKind::kPersonalAccessToken:
    case AuthKind::kSimulated:
      return std::make_unique<StaticTokenCredentials>(profile.token);
    case AuthKind::kDatabricksOAuthM2M: {
      const Profile p = profile;
      auto fetch = [p, &transport, options](absl::Time deadline,
                                            TokenCallback done) {
        auto secret = p.client_secret.Read();
        if (!secret.ok()) {
          done(absl::UnauthenticatedError(absl::StrCat(
              "client secret unavailable: ", secret.status().message())));
          return;
        }
        const std::string url = p.token_endpoint.empty()
                                    ? absl::StrCat(p.host, "/oidc/v1/token")
                                    : p.token_endpoint;
        http::Request request = FormPost(
            url, "grant_type=client_credentials&scope=all-apis", deadline);
        const std::string basic =
            absl::Base64Escape(absl::StrCat(p.client_id, ":", *secret));
        secrets::Register(basic);
        request.headers.emplace_back("Authorization",
                                     absl::StrCat("Basic ", basic));
        // The token endpoint is on the workspace: trust what it trusts.
        request.ca_bundle_file = p.ca_bundle_file;
        FetchToken(transport, std::move(request),
                   "Databricks OAuth token endpoint", options, std::move(done));
      };
      return std::make_unique<OAuthCredentials>(
          std::make_shared<TokenCache>(fetch, "databricks_oauth_m2m", options),
          nullptr, "");
    }
    case AuthKind::kAzureClientSecret: {
      std::shared_ptr<TokenCache> management;
      if (!profile.azure_workspace_resource_id.empty()) {
        management = std::make_shared<TokenCache>(
            EntraFetcher(profile, transport, options,
                         absl::StrCat(kAzureManagementResource, "/.default")),
            "azure_management", options);
      }
      return std::make_unique<OAuthCredentials>(
          std::make_shared<TokenCache>(
              EntraFetcher(profile, transport, options, databricks_scope),
              "azure_client_secret", options),
          std::move(management), profile.azure_workspace_resource_id);
    }
    case AuthKind::kAzureWorkloadIdentity:
      return std::make_unique<OAuthCredentials>(
          std::make_shared<TokenCache>(
              EntraFetcher(profile, transport, options, databricks_scope),
              "azure_workload_identity", options),
          nullptr, "");
    case AuthKind::kAzureManagedIdentity: {
      const Profile p = profile;
      auto fetch = [p, &transport, options](absl::Time deadline,
                                            TokenCallback done) {
        http::Request request;
        request.url = absl::StrCat(p.metadata_endpoint,
                                   "?api-version=2018-02-01&resource=",
                                   FormEncode(kAzureDatabricksResource));
        if (!p.client_id.empty()) {
          absl::StrAppend(&request.url, "&client_id=", FormEncode(p.client_id));
        }
        request.headers.emplace_back("Metadata", "true");
        request.deadline = deadline;
        FetchToken(transport, std::move(request),
                   "Azure instance metadata token endpoint", options,
                   std::move(done));
      };
      return std::make_unique<OAuthCredentials>(
          std::make_shared<TokenCache>(fetch, "azure_managed_identity",
                                       options),
          nullptr, "");
    }
  }
  return std::make_unique<StaticTokenCredentials>(profile.token);
}

}  // namespace polysync::databricks::auth
