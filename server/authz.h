// Who may call what: caller identities from bearer tokens or client
// certificates, checked against the configuration's grants.
//
// Identities are "token:<name>" (a configured bearer token, sent as
// `authorization: Bearer ...` metadata; token files are re-read when they
// change) or "cert:<subject>" (a verified client certificate's subject). A
// grant gives an identity (or "*": any authenticated caller) actions
// ("read", "start", "stop") on workspaces. With authorization enabled, a
// call without valid credentials is UNAUTHENTICATED and an identity without
// the right is PERMISSION_DENIED; nothing is sent to Databricks either way.
// The health service is never checked (Kubernetes probes carry no
// credentials). A call may need more than one action: StartUpdate with
// IF_RUNNING_RESTART stops the running update (start and stop), and with
// IF_RUNNING_ATTACH returns it (start and read); see StartUpdateActions().
//
//   auto authorizer = Authorizer::Create(config.authorization());
//   absl::StatusOr<std::string> who =
//       authorizer->Check(*context, Action::kStart, "prod");
#ifndef POLYSYNC_SERVER_AUTHZ_H_
#define POLYSYNC_SERVER_AUTHZ_H_

#include <grpcpp/server_context.h>

#include <memory>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "common/secret_source.h"
#include "polysync/databricks/v1/config.pb.h"
#include "polysync/databricks/v1/pipelines.pb.h"

namespace polysync::server {

enum class Action { kRead, kStart, kStop };

absl::string_view ActionName(Action action);

// The actions a StartUpdate call needs: start, plus stop for
// IF_RUNNING_RESTART (it cancels the running update) and read for
// IF_RUNNING_ATTACH (it returns the running update's run id).
std::vector<Action> StartUpdateActions(
    const polysync::databricks::v1::StartUpdateRequest& request);

class Authorizer {
 public:
  // INVALID_ARGUMENT for a grant with an unknown action or an empty
  // identity, or a token without a name or source.
  static absl::StatusOr<std::unique_ptr<Authorizer>> Create(
      const polysync::databricks::v1::Authorization& config);

  bool enabled() const { return enabled_; }

  // The caller's identity ("token:...", "cert:...", or "" when the call
  // carries no valid credentials). A bearer token that matches none of the
  // configured tokens gives "".
  std::string Identity(const grpc::ServerContextBase& context) const;

  // The identity when `action` on `workspace` is allowed (always allowed
  // when authorization is disabled; the identity is then "anonymous" when
  // there is none).
  absl::StatusOr<std::string> Check(const grpc::ServerContextBase& context,
                                    Action action,
                                    absl::string_view workspace) const;
  // The same for a call that needs every one of `actions`: the
  // PERMISSION_DENIED names the first one missing. The caller is identified
  // once.
  absl::StatusOr<std::string> Check(const grpc::ServerContextBase& context,
                                    const std::vector<Action>& actions,
                                    absl::string_view workspace) const;

  // Of `workspaces`, those where `action` is allowed (all of them when
  // authorization is disabled). UNAUTHENTICATED without valid credentials;
  // PERMISSION_DENIED when none is allowed. The caller is identified once.
  absl::StatusOr<std::vector<std::string>> Permitted(
      const grpc::ServerContextBase& context, Action action,
      const std::vector<std::string>& workspaces) const;

 private:
  bool Allowed(const std::string& identity, Action action,
               absl::string_view workspace) const;
  // True when a grant lists `workspace` by name (so it may be shown).
  bool NamedInAGrant(absl::string_view workspace) const;

  struct Token {
    std::string name;
    secrets::SecretSource source;
  };
  struct Grant {
    std::string identity;
    std::vector<std::string> workspaces;
    std::vector<std::string> actions;
  };

  bool enabled_ = false;
  std::vector<Token> tokens_;
  std::vector<Grant> grants_;
};

}  // namespace polysync::server

#endif  // POLYSYNC_SERVER_AUTHZ_H_
