// The configured workspaces, each with its credentials and typed client.
//
// Built once at start-up from the profiles (auth/profiles.h). Requests name a
// workspace by profile name (empty: the default); an unknown name is
// NOT_FOUND, so no caller-supplied value can ever select a host.
//
//   Workspaces workspaces(std::move(profiles), transport, {});
//   absl::StatusOr<Workspace*> ws = workspaces.Find(request.workspace());
//   (*ws)->client().GetUpdate(...);
#ifndef POLYSYNC_ADAPTERS_DATABRICKS_API_WORKSPACES_H_
#define POLYSYNC_ADAPTERS_DATABRICKS_API_WORKSPACES_H_

#include <atomic>
#include <memory>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "adapters/databricks/api/pipelines_client.h"
#include "adapters/databricks/auth/credentials.h"
#include "adapters/databricks/auth/profiles.h"
#include "adapters/databricks/http/transport.h"

namespace polysync::databricks::api {

class Workspace {
 public:
  Workspace(auth::Profile profile, http::Transport& transport,
            const ClientOptions& client_options,
            const auth::CredentialsOptions& credentials_options);

  const auth::Profile& profile() const { return profile_; }
  const std::string& name() const { return profile_.name; }
  const std::string& host() const { return profile_.host; }
  PipelinesClient& client() { return client_; }

  // Whether the workspace still serves the retired
  // GET .../requests/{request_id} endpoint. It is assumed to until it answers
  // 404 or 400 once; from then on DLT's retries are followed through the
  // pipeline's `latest_updates` only (status_reader.h).
  bool serves_requests_endpoint() const {
    return serves_requests_endpoint_.load(std::memory_order_relaxed);
  }
  // Remembers that it does not; true for the first caller only (who logs it).
  bool MarkRequestsEndpointGone() {
    return serves_requests_endpoint_.exchange(false);
  }

 private:
  const auth::Profile profile_;
  PipelinesClient client_;
  std::atomic<bool> serves_requests_endpoint_{true};
};

class Workspaces {
 public:
  Workspaces(const auth::ProfileSet& profiles, http::Transport& transport,
             const ClientOptions& client_options,
             const auth::CredentialsOptions& credentials_options = {});

  // The workspace named `name`, or the default one when `name` is empty.
  // NOT_FOUND names the configured profiles.
  absl::StatusOr<Workspace*> Find(absl::string_view name);

  const std::vector<std::unique_ptr<Workspace>>& all() const { return all_; }
  const std::string& default_name() const { return default_name_; }

 private:
  std::vector<std::unique_ptr<Workspace>> all_;
  std::string default_name_;
};

}  // namespace polysync::databricks::api

#endif  // POLYSYNC_ADAPTERS_DATABRICKS_API_WORKSPACES_H_
