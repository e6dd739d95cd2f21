#include "server/authz.h"

#include <grpc/grpc_security_constants.h>
#include <grpcpp/security/auth_context.h>

#include <algorithm>

#include "absl/status/status.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/strip.h"

namespace polysync::server {
namespace {

// Compares without an early exit on content, so timing does not reveal a
// prefix (it reveals only the length of what was sent).
bool ConstantTimeEquals(absl::string_view sent, absl::string_view expected) {
  unsigned char diff = sent.size() == expected.size() ? 0 : 1;
  for (size_t i = 0; i < sent.size(); ++i) {
    const char e = expected.empty() ? 0 : expected[i % expected.size()];
    diff |= static_cast<unsigned char>(sent[i] ^ e);
  }
  return diff == 0;
}

bool Contains(const std::vector<std::string>& list, absl::string_view value) {
  return std::any_of(list.begin(), list.end(), [&](const std::string& v) {
    return v == "*" || v == value;
  });
}

}  // namespace

absl::string_view ActionName(Action action) {
  switch (action) {
    case Action::kRead:
      return "read";
    case Action::kStart:
      return "start";
    case Action::kStop:
      return "stop";
  }
  return "read";
}

std::vector<Action> StartUpdateActions(
    const polysync::databricks::v1::StartUpdateRequest& request) {
  switch (request.if_running()) {
    case polysync::databricks::v1::IF_RUNNING_RESTART:
      return {Action::kStart, Action::kStop};
    case polysync::databricks::v1::IF_RUNNING_ATTACH:
      return {Action::kStart, Action::kRead};
    default:
      return {Action::kStart};
  }
}

absl::StatusOr<std::unique_ptr<Authorizer>> Authorizer::Create(
    const polysync::databricks::v1::Authorization& config) {
  auto authorizer = std::unique_ptr<Authorizer>(new Authorizer);
  authorizer->enabled_ = config.enabled();
  for (const auto& t : config.tokens()) {
    if (t.name().empty()) {
      return absl::InvalidArgumentError(
          "authorization.tokens: every token needs a name");
    }
    secrets::SecretSource source;
    if (t.token().has_env()) {
      source = secrets::SecretSource::FromEnv(t.token().env());
    } else if (t.token().has_file()) {
      source = secrets::SecretSource::FromFile(t.token().file());
    } else {
      return absl::InvalidArgumentError(absl::StrCat(
          "authorization.tokens[\"", t.name(), "\"]: name a file or env"));
    }
    authorizer->tokens_.push_back({t.name(), std::move(source)});
  }
  for (const auto& g : config.grants()) {
    if (g.identity().empty()) {
      return absl::InvalidArgumentError(
          "authorization.grants: every grant needs an identity");
    }
    for (const auto& a : g.actions()) {
      if (a != "read" && a != "start" && a != "stop" && a != "*") {
        return absl::InvalidArgumentError(absl::StrCat(
            "authorization.grants[\"", g.identity(), "\"]: unknown action \"",
            a, "\" (read, start, stop or *)"));
      }
    }
    authorizer->grants_.push_back(
        {g.identity(),
         std::vector<std::string>(g.workspaces().begin(), g.workspaces().end()),
         std::vector<std::string>(g.actions().begin(), g.actions().end())});
  }
  return authorizer;
}

std::string Authorizer::Identity(const grpc::ServerContextBase& context) const {
  const auto& metadata = context.client_metadata();
  auto it = metadata.find("authorization");
  if (it != metadata.end()) {
    absl::string_view value(it->second.data(), it->second.size());
    if (absl::ConsumePrefix(&value, "Bearer ") ||
        absl::ConsumePrefix(&value, "bearer ")) {
      // Every token is compared, so timing does not reveal which matched.
      std::string match;
      for (const auto& t : tokens_) {
        auto expected = t.source.Read();
        if (expected.ok() && ConstantTimeEquals(value, *expected) &&
            match.empty()) {
          match = absl::StrCat("token:", t.name);
        }
      }
      if (!match.empty()) return match;
    }
    return "";
  }
  auto auth = context.auth_context();
  if (auth != nullptr && auth->IsPeerAuthenticated()) {
    auto subject = auth->FindPropertyValues(GRPC_X509_SUBJECT_PROPERTY_NAME);
    if (!subject.empty()) {
      return absl::StrCat(
          "cert:", std::string(subject.front().data(), subject.front().size()));
    }
  }
  return "";
}

absl::StatusOr<std::string> Authorizer::Check(
    const grpc::ServerContextBase& context, Action action,
    absl::string_view workspace) const {
  return Check(context, std::vector<Action>{action}, workspace);
}

absl::StatusOr<std::string> Authorizer::Check(
    const grpc::ServerContextBase& context, const std::vector<Action>& actions,
    absl::string_view workspace) const {
  std::string identity = Identity(context);
  if (!enabled_) return identity.empty() ? "anonymous" : identity;
  if (identity.empty()) {
    return absl::UnauthenticatedError(
        "no valid credentials: send `authorization: Bearer <token>` or a "
        "client certificate");
  }
  for (Action action : actions) {
    if (!Allowed(identity, action, workspace)) {
      // A workspace a grant names is shown; any other name is the caller's
      // input and is not repeated.
      return absl::PermissionDeniedError(
          absl::StrCat(identity, " may not ", ActionName(action), " in ",
                       workspace.empty() ? std::string("the default workspace")
                       : NamedInAGrant(workspace)
                           ? absl::StrCat("workspace \"", workspace, "\"")
                           : std::string("the workspace named")));
    }
  }
  return identity;
}

absl::StatusOr<std::vector<std::string>> Authorizer::Permitted(
    const grpc::ServerContextBase& context, Action action,
    const std::vector<std::string>& workspaces) const {
  if (!enabled_) return workspaces;
  const std::string identity = Identity(context);  // once: reads token files
  if (identity.empty()) {
    return absl::UnauthenticatedError(
        "no valid credentials: send `authorization: Bearer <token>` or a "
        "client certificate");
  }
  std::vector<std::string> permitted;
  for (const auto& w : workspaces) {
    if (Allowed(identity, action, w)) permitted.push_back(w);
  }
  if (permitted.empty() && !workspaces.empty()) {
    return absl::PermissionDeniedError(absl::StrCat(
        identity, " may not ", ActionName(action), " in any workspace"));
  }
  return permitted;
}

bool Authorizer::NamedInAGrant(absl::string_view workspace) const {
  // By its exact name: a "*" grant names no workspace.
  for (const auto& g : grants_) {
    for (const auto& w : g.workspaces) {
      if (w != "*" && w == workspace) return true;
    }
  }
  return false;
}

bool Authorizer::Allowed(const std::string& identity, Action action,
                         absl::string_view workspace) const {
  for (const auto& g : grants_) {
    if ((g.identity == "*" || g.identity == identity) &&
        Contains(g.workspaces, workspace) &&
        Contains(g.actions, ActionName(action))) {
      return true;
    }
  }
  return false;
}

}  // namespace polysync::server
