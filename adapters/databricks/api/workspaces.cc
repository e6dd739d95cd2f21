#include "adapters/databricks/api/workspaces.h"

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "common/metrics.h"

namespace polysync::databricks::api {

namespace {

metrics::CounterFamily& TokenRefreshes() {
  static auto& family = metrics::Registry::Default().Counter(
      "polysync_token_refreshes_total",
      "OAuth token requests, by workspace, auth method and result.",
      {"workspace", "method", "result"});
  return family;
}

ClientOptions ForProfile(ClientOptions options, const auth::Profile& p) {
  options.workspace_name = p.name;
  options.ca_bundle_file = p.ca_bundle_file;
  if (p.requests_per_second > 0) {
    options.limiter.requests_per_second = p.requests_per_second;
  }
  if (p.max_concurrent_requests > 0) {
    options.limiter.max_concurrency = p.max_concurrent_requests;
  }
  return options;
}

auth::CredentialsOptions Counted(auth::CredentialsOptions options,
                                 const std::string& name) {
  auto previous = options.on_refresh;
  options.on_refresh = [name, previous](absl::string_view method, bool ok) {
    TokenRefreshes()
        .With({name, std::string(method), ok ? "ok" : "error"})
        .Increment();
    if (previous) previous(method, ok);
  };
  return options;
}

}  // namespace

Workspace::Workspace(auth::Profile profile, http::Transport& transport,
                     const ClientOptions& client_options,
                     const auth::CredentialsOptions& credentials_options)
    : profile_(std::move(profile)),
      client_(profile_.host,
              std::shared_ptr<auth::Credentials>(auth::MakeCredentials(
                  profile_, transport,
                  Counted(credentials_options, profile_.name))),
              transport, ForProfile(client_options, profile_)) {}

Workspaces::Workspaces(const auth::ProfileSet& profiles,
                       http::Transport& transport,
                       const ClientOptions& client_options,
                       const auth::CredentialsOptions& credentials_options)
    : default_name_(profiles.default_name) {
  for (const auth::Profile& p : profiles.profiles) {
    all_.push_back(std::make_unique<Workspace>(p, transport, client_options,
                                               credentials_options));
  }
}

absl::StatusOr<Workspace*> Workspaces::Find(absl::string_view name) {
  const absl::string_view wanted = name.empty() ? default_name_ : name;
  for (auto& w : all_) {
    if (w->name() == wanted) return w.get();
  }
  std::vector<std::string> names;
  for (const auto& w : all_) names.push_back(w->name());
  if (name.empty()) {
    return absl::NotFoundError(absl::StrCat(
        "no default workspace is configured; name one of: ",
        names.empty() ? "(none configured)" : absl::StrJoin(names, ", ")));
  }
  // The name asked for is not repeated (it is the caller's input, whatever
  // it is); the configured names are.
  return absl::NotFoundError(absl::StrCat(
      "the workspace named in the request is not configured; configured: ",
      names.empty() ? "(none)" : absl::StrJoin(names, ", ")));
}

}  // namespace polysync::databricks::api
