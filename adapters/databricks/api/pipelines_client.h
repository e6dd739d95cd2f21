// The typed Databricks Pipelines API 2.0 client for one workspace: one method
// per endpoint, each answering with an absl::StatusOr of a typed result.
//
// Every call is asynchronous (the callback runs on the transport's thread or,
// for an immediate refusal, inline) and goes through the same steps:
// identifiers are validated before they reach a URL; the workspace's
// AdaptiveLimiter grants a permit (interactive calls ahead of bulk ones);
// Credentials add the auth headers; the
// Transport sends; errors are mapped by errors.h; retries follow
// retry_policy.h, with backoff scheduled on the transport (no thread sleeps).
//
// Start update is not idempotent. It is retried only when the request was
// certainly not processed (429, or the connection failed before sending).
// After any other failure the client re-reads the pipeline's latest_updates
// and adopts an update that was not in the snapshot it took just before the
// POST; when there is none it answers UNAVAILABLE and does not retry.
// Stop is idempotent in effect but may stop a *different* update when
// retried later, so it is only retried when certainly not sent; the job-type
// layer re-checks the active update before asking again.
//
//   PipelinesClient client(host, credentials, transport, {});
//   client.GetUpdate(pipeline_id, update_id, {deadline},
//                    [](absl::StatusOr<UpdateInfo> update) { ... });
#ifndef POLYSYNC_ADAPTERS_DATABRICKS_API_PIPELINES_CLIENT_H_
#define POLYSYNC_ADAPTERS_DATABRICKS_API_PIPELINES_CLIENT_H_

#include <functional>
#include <memory>
#include <string>

#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "adapters/databricks/auth/credentials.h"
#include "adapters/databricks/http/transport.h"
#include "adapters/databricks/rate_limiter.h"
#include "adapters/databricks/retry_policy.h"
#include "adapters/databricks/types.h"

namespace polysync::databricks::api {

struct ClientOptions {
  // The workspace profile's name, for metrics and log lines.
  std::string workspace_name;
  BackoffOptions backoff;
  LimiterOptions limiter;
  // Deadline of a call whose caller set none.
  absl::Duration default_timeout = absl::Seconds(30);
  // After a start whose response was lost: the time allowed for finding the
  // update it may have created (independent of the caller's deadline).
  absl::Duration adoption_timeout = absl::Seconds(15);
  // PEM CA bundle trusted for this workspace instead of the system's.
  std::string ca_bundle_file;
  std::function<absl::Time()> now = [] { return absl::Now(); };
  Uniform01 uniform01 = DefaultUniform01();
};

// Per call.
struct CallContext {
  absl::Time deadline = absl::InfiniteFuture();
  // Sent as X-Request-Id for correlation (empty: none).
  std::string correlation_id;
  // True once the caller went away (e.g. the gRPC call was cancelled when
  // the server's grace period ran out). Consulted only just before a
  // non-idempotent request (start, stop) is sent, which is then not sent:
  // a caller that saw its call cancelled must not find an update started.
  std::function<bool()> cancelled;
  // Bulk (an import) waits behind interactive calls for the workspace's
  // request slots and leaves them a share (rate_limiter.h).
  Priority priority = Priority::kInteractive;
};

// The result of StartUpdate.
struct StartUpdateOutcome {
  std::string update_id;
  std::string request_id;
  // True when the POST's response was lost and the update was found in
  // latest_updates instead.
  bool adopted = false;
};

struct Empty {};

class PipelinesClient {
 public:
  template <typename T>
  using Done = std::function<void(absl::StatusOr<T>)>;

  // `host` is the workspace URL ("https://adb-1.2.azuredatabricks.net").
  // `transport` must outlive the client and every call in flight.
  PipelinesClient(std::string host, std::shared_ptr<auth::Credentials> creds,
                  http::Transport& transport, ClientOptions options);
  ~PipelinesClient();

  void ListPipelines(ListPipelinesRequest request, CallContext ctx,
                     Done<ListPipelinesPage> done);
  void GetPipeline(std::string pipeline_id, CallContext ctx,
                   Done<Pipeline> done);
  void StartUpdate(std::string pipeline_id, StartUpdateRequest request,
                   CallContext ctx, Done<StartUpdateOutcome> done);
  void GetUpdate(std::string pipeline_id, std::string update_id,
                 CallContext ctx, Done<UpdateInfo> done);
  void ListUpdates(std::string pipeline_id, ListUpdatesRequest request,
                   CallContext ctx, Done<ListUpdatesPage> done);
  void GetRequestStatus(std::string pipeline_id, std::string request_id,
                        CallContext ctx, Done<RequestStatus> done);
  // POST /api/2.0/pipelines/{id}/stop: stops the pipeline's active update.
  void StopPipeline(std::string pipeline_id, CallContext ctx, Done<Empty> done);
  void ListEvents(std::string pipeline_id, ListEventsRequest request,
                  CallContext ctx, Done<ListEventsPage> done);

  const std::string& host() const;
  // The limiter's current values (metrics, tests).
  const AdaptiveLimiter& limiter() const;
  // True when the last request to the workspace got no HTTP answer at all
  // (it failed to connect, or lost the connection or timed out).
  bool unreachable() const;

  struct Shared;  // implementation detail, shared with calls in flight

 private:
  std::shared_ptr<Shared> shared_;
};

}  // namespace polysync::databricks::api

#endif  // POLYSYNC_ADAPTERS_DATABRICKS_API_PIPELINES_CLIENT_H_
