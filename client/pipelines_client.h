// A typed, blocking C++ client for the polysync-dlt service
// (polysync.databricks.v1.DatabricksPipelines).
//
// Why: callers in Polysync should not hand-roll gRPC channels, deadlines,
// credentials and retries. This class owns two channels to the service (one
// for unary calls, one for long-lived watches, so a watch never queues unary
// calls behind it), adds the bearer token (re-read from its file on every
// call) and an `x-request-id`, applies a default deadline to every call, and
// retries calls that are safe to repeat when the service answers UNAVAILABLE
// (exponential backoff with jitter). StartUpdate is retried only when the
// request carries an idempotency key, because the service then answers a
// repeat with the first call's result instead of starting a second update,
// and never with IF_RUNNING_RESTART (a retry after an unknown outcome would
// stop the update the first attempt may have started).
//
//   polysync::client::ClientOptions options;
//   options.target = "polysync-dlt.polysync.svc:50051";
//   options.tls_ca_file = "/etc/polysync/ca.pem";
//   options.token_file = "/var/run/secrets/polysync/token";
//   auto client = polysync::client::PipelinesClient::Create(options);
//   if (!client.ok()) return client.status();
//
//   databricks::v1::StartUpdateRequest start;
//   start.set_pipeline_id(pipeline_id);
//   start.set_idempotency_key("polysync-run-42");
//   absl::StatusOr<databricks::v1::StartUpdateResponse> run =
//   (*client)->StartUpdate(start); if (!run.ok()) return run.status();
//   absl::StatusOr<databricks::v1::UpdateStatus> done = (*client)->WaitForUpdate(
//       run->run_id(), [](const databricks::v1::UpdateStatus& s) { /* progress */ });
//
// Errors are absl::Status values carrying the gRPC code and message of the
// service (the numeric codes are the same). Every method is thread-safe.
#ifndef POLYSYNC_CLIENT_PIPELINES_CLIENT_H_
#define POLYSYNC_CLIENT_PIPELINES_CLIENT_H_

#include <grpcpp/channel.h>
#include <grpcpp/client_context.h>
#include <grpcpp/security/credentials.h>

#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/time/time.h"
#include "client/replica_set.h"
#include "grpc/health/v1/health.grpc.pb.h"
#include "polysync/databricks/v1/pipelines.grpc.pb.h"

namespace polysync::client {

// Retries of calls that are safe to repeat, on UNAVAILABLE only.
struct RetryOptions {
  // Attempts in total (1 = no retry).
  int max_attempts = 4;
  // The first wait; each further wait doubles, up to max_backoff. Every wait
  // is drawn uniformly from [backoff/2, backoff] (jitter).
  absl::Duration initial_backoff = absl::Milliseconds(200);
  absl::Duration max_backoff = absl::Seconds(5);
};

struct ClientOptions {
  // "host:port" (any gRPC target, e.g. "dns:///svc:50051").
  std::string target = "localhost:50051";
  // Applied to requests that leave `workspace` empty; empty: the server's
  // default profile.
  std::string workspace;

  // The whole budget of one unary call, retries included.
  absl::Duration default_deadline = absl::Seconds(30);
  // The budget of a whole ImportPipelines stream.
  absl::Duration import_deadline = absl::Minutes(10);
  // The budget of one WatchUpdate stream and of WaitForUpdate overall.
  absl::Duration watch_deadline = absl::Hours(24);

  // HTTP/2 keepalive pings (also while no call is open); zero disables.
  absl::Duration keepalive_time = absl::Seconds(30);
  absl::Duration keepalive_timeout = absl::Seconds(10);
  // The longest wait between reconnection attempts of a channel.
  absl::Duration max_reconnect_backoff = absl::Seconds(10);

  // TLS: used when any of the three is set (with an empty CA file the
  // system's roots verify the server).
  std::string tls_ca_file;
  std::string tls_cert_file;  // client certificate (PEM), with tls_key_file
  std::string tls_key_file;
  // Sent as `authorization: Bearer <contents>` (surrounding whitespace
  // removed); the file is read on every call, so a rotated token is used at
  // once. Empty: no token. Without TLS the token is only sent to a target on
  // this machine (loopback or a Unix socket): Create() refuses any other
  // unless `allow_token_over_plaintext` (e.g. a service mesh encrypts the
  // traffic instead).
  std::string token_file;
  bool allow_token_over_plaintext = false;

  RetryOptions retry;

  // Replica affinity (a fleet behind a headless Service): calls for one
  // pipeline go to the same replica, so idempotency keys and the service's
  // shared polls hold across the fleet. The replica of a pipeline is chosen
  // by rendezvous hashing of the pipeline id over the replicas' addresses
  // (the same choice in every client process); a replica that answered
  // UNAVAILABLE is skipped for `replica_cooldown`, so its pipelines fail
  // over to the next replica in their hash order (within the same call when
  // the call may be retried) and come back after it. An UNAVAILABLE the
  // replica marks as caused by Databricks (pipelines.proto) is not held
  // against it: the call is retried on the same replica after a backoff.
  //
  // `replicas`: an explicit address list ("host:port"; used as given).
  // Otherwise, with `pipeline_affinity`, `target` ("host:port", no scheme)
  // is resolved with getaddrinfo into one address per replica, again every
  // `re_resolve_interval`.
  std::vector<std::string> replicas;
  bool pipeline_affinity = false;
  // With pipeline_affinity: replaces getaddrinfo (custom discovery, tests).
  // Returns "host:port" addresses; empty means "cannot resolve now".
  ReplicaResolver resolver;
  absl::Duration re_resolve_interval = absl::Seconds(30);
  absl::Duration replica_cooldown = absl::Seconds(10);
};

// Called once per status of a watch.
using StatusCallback = std::function<void(const databricks::v1::UpdateStatus&)>;
// Called once per batch of an import.
using BatchCallback =
    std::function<void(const databricks::v1::ImportPipelinesResponse&)>;

class PipelinesClient {
 public:
  // INVALID_ARGUMENT when the options are inconsistent (a certificate without
  // a key); FAILED_PRECONDITION when a TLS file cannot be read. Connects
  // lazily: a server that is down shows on the first call.
  static absl::StatusOr<std::unique_ptr<PipelinesClient>> Create(
      ClientOptions options);
  ~PipelinesClient();
  PipelinesClient(const PipelinesClient&) = delete;
  PipelinesClient& operator=(const PipelinesClient&) = delete;

  const ClientOptions& options() const { return options_; }

  // Retried on UNAVAILABLE.
  absl::StatusOr<databricks::v1::ListWorkspacesResponse> ListWorkspaces();

  // Streams the import, calling `on_batch` per batch; returns the number of
  // batches. Retried on UNAVAILABLE only while no batch has arrived. If the
  // stream fails later, the error is returned after the batches delivered.
  absl::StatusOr<int> ImportPipelines(
      const databricks::v1::ImportPipelinesRequest& request,
      const BatchCallback& on_batch);

  // Retried on UNAVAILABLE.
  absl::StatusOr<databricks::v1::SyncParametersResponse> SyncParameters(
      const databricks::v1::SyncParametersRequest& request);

  // Retried on UNAVAILABLE only when request.idempotency_key() is set.
  absl::StatusOr<databricks::v1::StartUpdateResponse> StartUpdate(
      const databricks::v1::StartUpdateRequest& request);

  // Retried on UNAVAILABLE.
  absl::StatusOr<databricks::v1::UpdateStatus> GetUpdateStatus(
      const databricks::v1::GetUpdateStatusRequest& request);
  absl::StatusOr<databricks::v1::UpdateStatus> GetUpdateStatus(
      absl::string_view run_id);

  // Retried on UNAVAILABLE (the service re-checks the run before stopping).
  absl::StatusOr<databricks::v1::StopUpdateResponse> StopUpdate(
      const databricks::v1::StopUpdateRequest& request);

  // One WatchUpdate stream on the watch channel: `on_status` per status.
  // Returns the last status once the stream ends after a terminal one; the
  // stream's error otherwise (UNAVAILABLE when the server drained). Not
  // retried; see WaitForUpdate.
  absl::StatusOr<databricks::v1::UpdateStatus> WatchUpdate(
      const databricks::v1::WatchUpdateRequest& request,
      const StatusCallback& on_status);

  // Watches until the run is terminal and returns its terminal status. When
  // the stream ends with UNAVAILABLE (the server drains, a connection drops,
  // the service restarts) it resumes the watch after a backoff, until
  // `timeout` (default: options().watch_deadline) has passed; a resumed
  // watch's first status is not reported again when it equals the last one.
  absl::StatusOr<databricks::v1::UpdateStatus> WaitForUpdate(
      const databricks::v1::WatchUpdateRequest& request,
      const StatusCallback& on_status,
      absl::Duration timeout = absl::ZeroDuration());
  absl::StatusOr<databricks::v1::UpdateStatus> WaitForUpdate(
      absl::string_view run_id, const StatusCallback& on_status,
      absl::Duration timeout = absl::ZeroDuration());

  // Replica affinity: the replica addresses in the order calls for
  // `pipeline_id` would try them now (healthy ones first, each group in
  // rendezvous-hash order). One element without affinity.
  std::vector<std::string> ReplicaOrder(absl::string_view pipeline_id);

  // The standard gRPC health check (grpc.health.v1.Health/Check) of
  // `service` (empty: the process). True when SERVING. Retried on
  // UNAVAILABLE.
  absl::StatusOr<bool> CheckHealth(absl::string_view service);

 private:
  explicit PipelinesClient(ClientOptions options);

  // The channels (and stubs) of one server address.
  struct Replica {
    std::string address;
    std::shared_ptr<grpc::Channel> unary_channel;
    std::shared_ptr<grpc::Channel> watch_channel;
    std::unique_ptr<databricks::v1::DatabricksPipelines::Stub> unary;
    std::unique_ptr<databricks::v1::DatabricksPipelines::Stub> watch;
    std::unique_ptr<grpc::health::v1::Health::Stub> health;
  };
  using Attempt =
      std::function<absl::Status(grpc::ClientContext&, Replica& replica)>;

  std::shared_ptr<Replica> MakeReplica(const std::string& address,
                                       const std::string& tls_name) const;
  // The replicas for `key` (a pipeline id), best first; `tried` go last
  // (ReplicaSet::Ranked), with their channels.
  std::vector<std::shared_ptr<Replica>> Ranked(
      absl::string_view key, const std::vector<std::string>& tried);
  void MarkUnavailable(const std::string& address);

  // Fills deadline, token and request id; FAILED_PRECONDITION when the token
  // file cannot be read.
  absl::Status Prepare(grpc::ClientContext& context, absl::Time deadline,
                       const std::string& request_id) const;
  // Runs `attempt` on the best replica for `key` until it succeeds, fails
  // with a code other than UNAVAILABLE, `retry` is false, or attempts or the
  // deadline run out. A retry goes to another replica at once when there is
  // one not yet tried, after a backoff otherwise.
  absl::Status Call(absl::string_view method, absl::string_view key, bool retry,
                    absl::Duration budget, const Attempt& attempt);
  // The wait before attempt `attempt` + 1 (1-based).
  absl::Duration Backoff(int attempt) const;
  template <typename Req>
  Req WithWorkspace(const Req& request) const;
  // One unary RPC through Call(): `key` picks the replica, `retry` whether
  // UNAVAILABLE is retried.
  template <typename Req, typename Resp>
  absl::StatusOr<Resp> Unary(
      absl::string_view method, absl::string_view key, bool retry,
      const Req& request,
      grpc::Status (databricks::v1::DatabricksPipelines::Stub::*rpc)(
          grpc::ClientContext*, const Req&, Resp*));

  ClientOptions options_;
  std::shared_ptr<grpc::ChannelCredentials> credentials_;
  std::unique_ptr<ReplicaSet> replica_set_;

  std::mutex mu_;
  // The channels of the replicas of the last Ranked() (an address leaving
  // the set closes its channels once no call uses them).
  std::map<std::string, std::shared_ptr<Replica>> replicas_;  // guarded by mu_
};

// The absl::Status of a gRPC status (same code and message).
absl::Status FromGrpcStatus(int code, const std::string& message);

// The `x-request-id` a failed call sent (every attempt of one call sends the
// same; the service's log lines carry it as "correlation_id"), or "" when
// the status did not come from a call.
std::string RequestIdOf(const absl::Status& status);

// Whether a failed call's UNAVAILABLE was answered by the service itself
// because Databricks was unavailable (the trailing metadata
// `polysync-unavailable-cause: databricks`, pipelines.proto): the service is
// up, Databricks is not. False for the client's own connection failures and
// for UNAVAILABLE without the mark (a replica going away, a drain).
bool CausedByDatabricks(const absl::Status& status);

}  // namespace polysync::client

#endif  // POLYSYNC_CLIENT_PIPELINES_CLIENT_H_
