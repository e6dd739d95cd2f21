#include "adapters/databricks/simulator/auth.h"

#include <nlohmann/json.hpp>
#include <utility>
#include <vector>

#include "absl/strings/ascii.h"
#include "absl/strings/escaping.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_split.h"
#include "adapters/databricks/simulator/paging.h"

namespace polysync::databricks::sim {
namespace {

using json = nlohmann::json;

HttpResponse Json(int status, const json& body) {
  HttpResponse r;
  r.status = status;
  r.body = body.dump(-1, ' ', false, json::error_handler_t::replace);
  return r;
}

// OAuth 2.0 error (RFC 6749 section 5.2), with Entra's extra fields when
// `aadsts` is non-zero.
HttpResponse OAuthError(int status, const std::string& error,
                        const std::string& description, int aadsts = 0) {
  json body = {{"error", error}};
  if (aadsts != 0) {
    body["error_description"] =
        absl::StrCat("AADSTS", aadsts, ": ", description);
    body["error_codes"] = json::array({aadsts});
  } else {
    body["error_description"] = description;
  }
  return Json(status, body);
}

std::string Get(const QueryParams& params, const std::string& key) {
  return Param(params, key).value_or("");
}

// The audience of an Entra scope ("<resource>/.default") or IMDS resource.
bool IsDatabricksResource(std::string r) {
  if (absl::EndsWith(r, "/.default")) r.resize(r.size() - 9);
  if (absl::EndsWith(r, "/")) r.pop_back();
  return r == kAzureDatabricksAppId;
}

bool IsManagementResource(std::string r) {
  if (absl::EndsWith(r, "/.default")) r.resize(r.size() - 9);
  while (absl::EndsWith(r, "/")) r.pop_back();
  return r == "https://management.core.windows.net" ||
         r == "https://management.azure.com";
}

}  // namespace

std::string PercentDecode(absl::string_view text) {
  std::string out;
  out.reserve(text.size());
  for (size_t i = 0; i < text.size(); ++i) {
    char c = text[i];
    if (c == '+') {
      out.push_back(' ');
    } else if (c == '%' && i + 2 < text.size() &&
               absl::ascii_isxdigit(static_cast<unsigned char>(text[i + 1])) &&
               absl::ascii_isxdigit(static_cast<unsigned char>(text[i + 2]))) {
      out.push_back(static_cast<char>(
          std::stoi(std::string(text.substr(i + 1, 2)), nullptr, 16)));
      i += 2;
    } else {
      out.push_back(c);
    }
  }
  return out;
}

QueryParams ParseForm(absl::string_view text) {
  QueryParams params;
  for (absl::string_view part : absl::StrSplit(text, '&', absl::SkipEmpty())) {
    size_t eq = part.find('=');
    if (eq == absl::string_view::npos) {
      params.emplace_back(PercentDecode(part), "");
    } else {
      params.emplace_back(PercentDecode(part.substr(0, eq)),
                          PercentDecode(part.substr(eq + 1)));
    }
  }
  return params;
}

TokenStore::TokenStore(AuthOptions options, uint64_t seed)
    : options_(std::move(options)), rng_(seed) {}

std::string TokenStore::Issue(absl::Time now, Audience audience,
                              bool entra_sp) {
  std::lock_guard<std::mutex> lock(mu_);
  std::string token = absl::StrFormat("sim-token-%016x%016x", rng_(), rng_());
  tokens_[token] = Issued{now + options_.token_lifetime, audience, entra_sp};
  return token;
}

int64_t TokenStore::TokensIssued() const {
  std::lock_guard<std::mutex> lock(mu_);
  return static_cast<int64_t>(tokens_.size());
}

HttpResponse TokenStore::OidcToken(const HttpRequest& req, absl::Time now) {
  std::string auth = req.Header("Authorization");
  QueryParams form = ParseForm(req.body);
  std::string id, secret;
  if (absl::StartsWithIgnoreCase(auth, "Basic ")) {
    std::string decoded;
    if (absl::Base64Unescape(auth.substr(6), &decoded)) {
      size_t colon = decoded.find(':');
      if (colon != std::string::npos) {
        id = PercentDecode(decoded.substr(0, colon));
        secret = PercentDecode(decoded.substr(colon + 1));
      }
    }
  } else {
    id = Get(form, "client_id");
    secret = Get(form, "client_secret");
  }
  if (id != options_.oauth_client_id ||
      secret != options_.oauth_client_secret) {
    return OAuthError(401, "invalid_client", "Client authentication failed");
  }
  if (Get(form, "grant_type") != "client_credentials") {
    return OAuthError(400, "unsupported_grant_type",
                      "grant_type must be client_credentials");
  }
  std::string scope = Get(form, "scope");
  if (scope != "all-apis") {
    return OAuthError(400, "invalid_scope", "scope must be all-apis");
  }
  std::string token = Issue(now, Audience::kDatabricks);
  return Json(200,
              {{"access_token", token},
               {"token_type", "Bearer"},
               {"scope", scope},
               {"expires_in", absl::ToInt64Seconds(options_.token_lifetime)}});
}

HttpResponse TokenStore::EntraToken(const HttpRequest& req,
                                    const std::string& tenant, absl::Time now) {
  if (tenant != options_.entra_tenant_id) {
    return OAuthError(400, "invalid_request",
                      "Tenant '" + tenant + "' not found.", 90002);
  }
  QueryParams form = ParseForm(req.body);
  if (Get(form, "grant_type") != "client_credentials") {
    return OAuthError(400, "unsupported_grant_type",
                      "The provided grant_type is not supported.", 70003);
  }
  std::string client_id = Get(form, "client_id");
  if (client_id.empty()) {
    return OAuthError(400, "invalid_request",
                      "The request body must contain the following parameter: "
                      "'client_id'.",
                      900144);
  }
  if (client_id != options_.entra_client_id) {
    return OAuthError(400, "unauthorized_client",
                      "Application with identifier '" + client_id +
                          "' was not found in the directory.",
                      700016);
  }
  std::string secret = Get(form, "client_secret");
  std::string assertion = Get(form, "client_assertion");
  if (!assertion.empty()) {
    if (Get(form, "client_assertion_type") !=
        "urn:ietf:params:oauth:client-assertion-type:jwt-bearer") {
      return OAuthError(400, "invalid_request",
                        "client_assertion_type must be "
                        "urn:ietf:params:oauth:client-assertion-type:jwt-"
                        "bearer.",
                        50027);
    }
    std::vector<std::string> parts = absl::StrSplit(assertion, '.');
    std::string payload;
    json claims;
    if (parts.size() == 3 && absl::WebSafeBase64Unescape(parts[1], &payload)) {
      claims = json::parse(payload, nullptr, false);
    }
    if (!claims.is_object() || claims["iss"] != client_id ||
        claims["sub"] != client_id) {
      return OAuthError(401, "invalid_client",
                        "Client assertion failed signature validation or its "
                        "claims are wrong (iss and sub must be the client "
                        "id).",
                        700027);
    }
    if (claims["exp"].is_number() &&
        claims["exp"].get<double>() <= absl::ToUnixSeconds(now)) {
      return OAuthError(401, "invalid_client", "Client assertion is expired.",
                        700024);
    }
  } else if (secret.empty()) {
    return OAuthError(400, "invalid_request",
                      "The request body must contain the following parameter: "
                      "'client_assertion' or 'client_secret'.",
                      7000218);
  } else if (secret != options_.entra_client_secret) {
    return OAuthError(401, "invalid_client",
                      "Invalid client secret provided. Ensure the secret being "
                      "sent in the request is the client secret value, not the "
                      "client secret ID.",
                      7000215);
  }
  std::string scope = Get(form, "scope");
  if (scope.empty()) {
    return OAuthError(400, "invalid_request",
                      "The request body must contain the following parameter: "
                      "'scope'.",
                      900144);
  }
  std::string token =
      Issue(now,
            IsDatabricksResource(scope)   ? Audience::kDatabricks
            : IsManagementResource(scope) ? Audience::kManagement
                                          : Audience::kOther,
            /*entra_sp=*/true);
  int64_t lifetime = absl::ToInt64Seconds(options_.token_lifetime);
  return Json(200, {{"token_type", "Bearer"},
                    {"expires_in", lifetime},
                    {"ext_expires_in", lifetime},
                    {"access_token", token}});
}

HttpResponse TokenStore::ImdsToken(const HttpRequest& req,
                                   const QueryParams& query, absl::Time now) {
  if (!absl::EqualsIgnoreCase(req.Header("Metadata"), "true")) {
    return OAuthError(400, "invalid_request",
                      "Required metadata header not specified");
  }
  if (Get(query, "api-version").empty()) {
    return OAuthError(400, "invalid_request",
                      "Required query variable 'api-version' is missing");
  }
  std::string resource = Get(query, "resource");
  if (resource.empty()) {
    return OAuthError(400, "invalid_request",
                      "Required query variable 'resource' is missing");
  }
  std::string token =
      Issue(now, IsDatabricksResource(resource)   ? Audience::kDatabricks
                 : IsManagementResource(resource) ? Audience::kManagement
                                                  : Audience::kOther);
  int64_t lifetime = absl::ToInt64Seconds(options_.token_lifetime);
  int64_t now_s = absl::ToUnixSeconds(now);
  // IMDS sends its numbers as strings.
  return Json(200, {{"access_token", token},
                    {"client_id", options_.managed_identity_client_id},
                    {"expires_in", std::to_string(lifetime)},
                    {"expires_on", std::to_string(now_s + lifetime)},
                    {"ext_expires_in", std::to_string(lifetime)},
                    {"not_before", std::to_string(now_s)},
                    {"resource", resource},
                    {"token_type", "Bearer"}});
}

std::optional<ApiResult> TokenStore::Check(const HttpRequest& req,
                                           absl::Time now) {
  std::string auth = req.Header("Authorization");
  if (!absl::StartsWithIgnoreCase(auth, "Bearer ")) {
    return ApiResult::Error(
        401, "UNAUTHENTICATED",
        "Credential was not sent or was of an unsupported type for this API.");
  }
  std::string token(absl::StripAsciiWhitespace(auth.substr(7)));
  if (!options_.personal_access_token.empty() &&
      token == options_.personal_access_token) {
    return std::nullopt;
  }
  std::lock_guard<std::mutex> lock(mu_);
  auto it = tokens_.find(token);
  if (it == tokens_.end()) {
    return ApiResult::Error(401, "UNAUTHENTICATED", "Invalid access token.");
  }
  if (it->second.expires <= now) {
    return ApiResult::Error(401, "UNAUTHENTICATED", "Token is expired.");
  }
  if (it->second.expires - now <= options_.reject_when_left) {
    return ApiResult::Error(
        401, "UNAUTHENTICATED",
        absl::StrCat("Token expires in ",
                     absl::FormatDuration(options_.reject_when_left),
                     " or less; refresh it before use."));
  }
  if (it->second.audience != Audience::kDatabricks) {
    return ApiResult::Error(
        403, "PERMISSION_DENIED",
        "The token was issued for another resource than Azure Databricks.");
  }
  if (it->second.entra_sp && !options_.entra_sp_is_workspace_member) {
    // A non-member service principal: the workspace resource id and a
    // management token must come along.
    auto mgmt =
        tokens_.find(req.Header("X-Databricks-Azure-SP-Management-Token"));
    if (req.Header("X-Databricks-Azure-Workspace-Resource-Id") !=
            options_.workspace_resource_id ||
        mgmt == tokens_.end() || mgmt->second.expires <= now ||
        mgmt->second.audience != Audience::kManagement) {
      return ApiResult::Error(
          403, "PERMISSION_DENIED",
          "The service principal is not a member of this workspace: send "
          "X-Databricks-Azure-Workspace-Resource-Id and a valid "
          "X-Databricks-Azure-SP-Management-Token.");
    }
  }
  return std::nullopt;
}

}  // namespace polysync::databricks::sim
