#include "client/pipelines_client.h"

#include <arpa/inet.h>
#include <grpcpp/create_channel.h>
#include <grpcpp/security/credentials.h>
#include <grpcpp/support/channel_arguments.h>
#include <netinet/in.h>

#include <algorithm>
#include <fstream>
#include <sstream>
#include <utility>
#include <vector>

#include "absl/random/random.h"
#include "absl/strings/ascii.h"
#include "absl/strings/cord.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "common/log.h"
#include "google/protobuf/util/message_differencer.h"

namespace polysync::client {

namespace v1 = ::polysync::databricks::v1;
namespace {

using ::polysync::log::Field;

absl::StatusOr<std::string> ReadFile(const std::string& path,
                                     absl::string_view what) {
  std::ifstream in(path, std::ios::binary);
  if (!in) {
    return absl::FailedPreconditionError(
        absl::StrCat("cannot read the ", what, " file ", path));
  }
  std::stringstream s;
  s << in.rdbuf();
  return s.str();
}

absl::Status FromGrpc(const grpc::Status& status) {
  return FromGrpcStatus(static_cast<int>(status.error_code()),
                        status.error_message());
}

std::string NewRequestId() {
  absl::BitGen gen;
  return absl::StrFormat("pdlt-%016x", absl::Uniform<uint64_t>(gen));
}

int Millis(absl::Duration d) {
  return static_cast<int>(
      std::min<int64_t>(absl::ToInt64Milliseconds(d), 1 << 30));
}

absl::Time DeadlineAfter(absl::Duration budget) {
  return budget == absl::InfiniteDuration() ? absl::InfiniteFuture()
                                            : absl::Now() + budget;
}

// Whether a gRPC target stays on this machine: a Unix socket, or a loopback
// host ("localhost", 127.0.0.0/8, ::1), with or without a dns:/ipv4:/ipv6:
// scheme. Anything else may cross a network.
bool IsLocalTarget(std::string target) {
  if (absl::StartsWith(target, "unix:") ||
      absl::StartsWith(target, "unix-abstract:")) {
    return true;
  }
  for (absl::string_view scheme : {"dns:///", "dns:", "ipv4:", "ipv6:"}) {
    if (absl::StartsWith(target, scheme)) {
      target = target.substr(scheme.size());
      break;
    }
  }
  std::string host, port;
  if (!SplitHostPort(target, &host, &port)) host = target;
  if (absl::EqualsIgnoreCase(host, "localhost") || host == "::1") return true;
  in_addr v4{};
  return inet_pton(AF_INET, host.c_str(), &v4) == 1 &&
         (ntohl(v4.s_addr) >> 24) == 127;
}

// The server's mark on an UNAVAILABLE caused by Databricks (pipelines.proto).
bool UnavailableBecauseOfDatabricks(const grpc::ClientContext& context) {
  const auto& trailers = context.GetServerTrailingMetadata();
  auto it = trailers.find("polysync-unavailable-cause");
  return it != trailers.end() &&
         absl::string_view(it->second.data(), it->second.size()) ==
             "databricks";
}

}  // namespace

constexpr char kRequestIdPayload[] = "type.polysync.dev/client.request_id";
// Set (to "databricks") on an UNAVAILABLE whose trailer says Databricks.
constexpr char kUnavailableCausePayload[] =
    "type.polysync.dev/client.unavailable_cause";

bool CausedByDatabricks(const absl::Status& status) {
  auto payload = status.GetPayload(kUnavailableCausePayload);
  return absl::IsUnavailable(status) && payload && *payload == "databricks";
}

std::string RequestIdOf(const absl::Status& status) {
  auto payload = status.GetPayload(kRequestIdPayload);
  return payload ? std::string(*payload) : "";
}

absl::Status FromGrpcStatus(int code, const std::string& message) {
  if (code == 0) return absl::OkStatus();
  return absl::Status(static_cast<absl::StatusCode>(code), message);
}

absl::StatusOr<std::unique_ptr<PipelinesClient>> PipelinesClient::Create(
    ClientOptions options) {
  if (options.target.empty()) {
    return absl::InvalidArgumentError("no server address (target) given");
  }
  if (options.tls_cert_file.empty() != options.tls_key_file.empty()) {
    return absl::InvalidArgumentError(
        "a client certificate needs both a certificate and a key file");
  }
  if (options.retry.max_attempts < 1) options.retry.max_attempts = 1;

  std::shared_ptr<grpc::ChannelCredentials> creds;
  if (!options.tls_ca_file.empty() || !options.tls_cert_file.empty()) {
    grpc::SslCredentialsOptions ssl;
    if (!options.tls_ca_file.empty()) {
      auto ca = ReadFile(options.tls_ca_file, "TLS CA");
      if (!ca.ok()) return ca.status();
      ssl.pem_root_certs = *ca;
    }
    if (!options.tls_cert_file.empty()) {
      auto cert = ReadFile(options.tls_cert_file, "TLS certificate");
      if (!cert.ok()) return cert.status();
      auto key = ReadFile(options.tls_key_file, "TLS key");
      if (!key.ok()) return key.status();
      ssl.pem_cert_chain = *cert;
      ssl.pem_private_key = *key;
    }
    creds = grpc::SslCredentials(ssl);
  } else {
    creds = grpc::InsecureChannelCredentials();
  }
  if (!options.token_file.empty()) {
    // Fail early on a missing file; it is read again on every call.
    auto token = ReadFile(options.token_file, "token");
    if (!token.ok()) return token.status();
    // A bearer token in clear text is anyone's who can read the network.
    const bool tls =
        !options.tls_ca_file.empty() || !options.tls_cert_file.empty();
    std::vector<std::string> targets = options.replicas;
    if (targets.empty()) targets.push_back(options.target);
    for (const auto& t : targets) {
      if (!tls && !options.allow_token_over_plaintext && !IsLocalTarget(t)) {
        return absl::FailedPreconditionError(absl::StrCat(
            "refusing to send the bearer token in clear text to \"", t,
            "\": configure TLS (a CA file), or allow it explicitly "
            "(allow_token_over_plaintext; pdlt: --allow-plaintext-token) when "
            "something else encrypts the traffic, e.g. a service mesh"));
      }
    }
  }

  std::unique_ptr<PipelinesClient> client(
      new PipelinesClient(std::move(options)));
  client->credentials_ = std::move(creds);
  const ClientOptions& o = client->options_;
  ReplicaSetOptions set;
  set.replicas = o.replicas;
  set.target = o.target;
  set.resolve = o.pipeline_affinity;
  set.resolver = o.resolver;
  set.re_resolve_interval = o.re_resolve_interval;
  set.cooldown = o.replica_cooldown;
  auto replica_set = ReplicaSet::Create(std::move(set));
  if (!replica_set.ok()) return replica_set.status();
  client->replica_set_ = *std::move(replica_set);
  return client;
}

std::shared_ptr<PipelinesClient::Replica> PipelinesClient::MakeReplica(
    const std::string& address, const std::string& tls_name) const {
  const ClientOptions& o = options_;
  auto make_channel = [&](absl::string_view role) {
    grpc::ChannelArguments args;
    if (o.keepalive_time > absl::ZeroDuration()) {
      args.SetInt(GRPC_ARG_KEEPALIVE_TIME_MS, Millis(o.keepalive_time));
      args.SetInt(GRPC_ARG_KEEPALIVE_TIMEOUT_MS, Millis(o.keepalive_timeout));
      args.SetInt(GRPC_ARG_KEEPALIVE_PERMIT_WITHOUT_CALLS, 1);
    }
    const int max_backoff = std::max(Millis(o.max_reconnect_backoff), 1);
    args.SetInt(GRPC_ARG_MAX_RECONNECT_BACKOFF_MS, max_backoff);
    args.SetInt(GRPC_ARG_MIN_RECONNECT_BACKOFF_MS, std::min(max_backoff, 1000));
    args.SetInt(GRPC_ARG_INITIAL_RECONNECT_BACKOFF_MS,
                std::min(max_backoff, 1000));
    // Its own connection: a long watch never shares one with unary calls.
    args.SetInt(GRPC_ARG_USE_LOCAL_SUBCHANNEL_POOL, 1);
    args.SetString("polysync.client.role", std::string(role));
    args.SetUserAgentPrefix("polysync-dlt-client");
    // A resolved address still presents the certificate of the name.
    if (!tls_name.empty()) {
      args.SetSslTargetNameOverride(tls_name);
    }
    return grpc::CreateCustomChannel(address, credentials_, args);
  };
  auto replica = std::make_shared<Replica>();
  replica->address = address;
  replica->unary_channel = make_channel("unary");
  replica->watch_channel = make_channel("watch");
  replica->unary = v1::DatabricksPipelines::NewStub(replica->unary_channel);
  replica->watch = v1::DatabricksPipelines::NewStub(replica->watch_channel);
  replica->health = grpc::health::v1::Health::NewStub(replica->unary_channel);
  return replica;
}

std::vector<std::shared_ptr<PipelinesClient::Replica>> PipelinesClient::Ranked(
    absl::string_view key, const std::vector<std::string>& tried) {
  const std::vector<std::string> addresses = replica_set_->Ranked(key, tried);
  std::lock_guard<std::mutex> lock(mu_);
  std::map<std::string, std::shared_ptr<Replica>> next;
  std::vector<std::shared_ptr<Replica>> out;
  for (const auto& address : addresses) {
    auto it = replicas_.find(address);
    std::shared_ptr<Replica> replica =
        it != replicas_.end()
            ? it->second
            : MakeReplica(address, replica_set_->TlsNameOf(address));
    next[address] = replica;
    out.push_back(std::move(replica));
  }
  replicas_ = std::move(next);
  return out;
}

void PipelinesClient::MarkUnavailable(const std::string& address) {
  replica_set_->MarkUnavailable(address);
}

std::vector<std::string> PipelinesClient::ReplicaOrder(
    absl::string_view pipeline_id) {
  std::vector<std::string> out;
  for (const auto& r : Ranked(pipeline_id, {})) out.push_back(r->address);
  return out;
}

PipelinesClient::PipelinesClient(ClientOptions options)
    : options_(std::move(options)) {}

PipelinesClient::~PipelinesClient() = default;

absl::Status PipelinesClient::Prepare(grpc::ClientContext& context,
                                      absl::Time deadline,
                                      const std::string& request_id) const {
  if (deadline != absl::InfiniteFuture()) {
    context.set_deadline(absl::ToChronoTime(deadline));
  }
  context.AddMetadata("x-request-id", request_id);
  if (!options_.token_file.empty()) {
    auto token = ReadFile(options_.token_file, "token");
    if (!token.ok()) return token.status();
    const std::string trimmed(absl::StripAsciiWhitespace(*token));
    if (trimmed.empty()) {
      return absl::FailedPreconditionError(
          absl::StrCat("the token file ", options_.token_file, " is empty"));
    }
    context.AddMetadata("authorization", absl::StrCat("Bearer ", trimmed));
  }
  return absl::OkStatus();
}

absl::Duration PipelinesClient::Backoff(int attempt) const {
  absl::Duration backoff = options_.retry.initial_backoff;
  for (int i = 1; i < attempt && backoff < options_.retry.max_backoff; ++i) {
    backoff *= 2;
  }
  backoff = std::min(backoff, options_.retry.max_backoff);
  absl::BitGen gen;
  return backoff * absl::Uniform(gen, 0.5, 1.0);
}

absl::Status PipelinesClient::Call(absl::string_view method,
                                   absl::string_view key, bool retry,
                                   absl::Duration budget,
                                   const Attempt& attempt) {
  const absl::Time deadline = DeadlineAfter(budget);
  // One id for every attempt: the service's log lines of all attempts match.
  const std::string request_id = NewRequestId();
  std::vector<std::string> tried;
  int backoffs = 0;
  for (int n = 1;; ++n) {
    std::vector<std::shared_ptr<Replica>> ranked = Ranked(key, tried);
    if (ranked.empty()) {
      return absl::UnavailableError("no replica of the service is known");
    }
    std::shared_ptr<Replica> replica = ranked.front();
    grpc::ClientContext context;
    absl::Status prepared = Prepare(context, deadline, request_id);
    if (!prepared.ok()) return prepared;
    absl::Status status = attempt(context, *replica);
    // UNAVAILABLE that the replica itself sent for Databricks (see
    // pipelines.proto): the replica is fine, so it keeps its pipelines (and
    // their idempotency keys); the call is retried there after a backoff.
    const bool databricks_down =
        absl::IsUnavailable(status) && UnavailableBecauseOfDatabricks(context);
    if (absl::IsUnavailable(status) && !databricks_down) {
      MarkUnavailable(replica->address);
    }
    if (status.ok() || !retry || !absl::IsUnavailable(status) ||
        n >= options_.retry.max_attempts) {
      if (!status.ok()) {
        status.SetPayload(kRequestIdPayload, absl::Cord(request_id));
        if (databricks_down) {
          status.SetPayload(kUnavailableCausePayload, absl::Cord("databricks"));
        }
        log::Debug("client call failed",
                   {Field("method", method), Field("request_id", request_id),
                    Field("replica", replica->address), Field("attempts", n),
                    Field("error", status.ToString())});
      }
      return status;
    }
    if (!databricks_down) {
      if (std::find(tried.begin(), tried.end(), replica->address) ==
          tried.end()) {
        tried.push_back(replica->address);
      }
      // Another replica not tried yet: fail over at once.
      const auto next = Ranked(key, tried);
      if (!next.empty() && std::find(tried.begin(), tried.end(),
                                     next.front()->address) == tried.end()) {
        log::Info("client call unavailable; failing over",
                  {Field("method", method), Field("request_id", request_id),
                   Field("from", replica->address),
                   Field("to", next.front()->address),
                   Field("error", status.message())});
        continue;
      }
    }
    tried.clear();
    const absl::Duration wait = Backoff(++backoffs);
    if (absl::Now() + wait >= deadline) return status;
    log::Info("client call unavailable; retrying",
              {Field("method", method), Field("request_id", request_id),
               Field("attempt", n), Field("error", status.message()),
               Field("backoff_ms", absl::ToInt64Milliseconds(wait))});
    absl::SleepFor(wait);
  }
}

template <typename Req>
Req PipelinesClient::WithWorkspace(const Req& request) const {
  Req copy = request;
  if (copy.workspace().empty()) copy.set_workspace(options_.workspace);
  return copy;
}

template <typename Req, typename Resp>
absl::StatusOr<Resp> PipelinesClient::Unary(
    absl::string_view method, absl::string_view key, bool retry,
    const Req& request,
    grpc::Status (v1::DatabricksPipelines::Stub::*rpc)(grpc::ClientContext*,
                                                       const Req&, Resp*)) {
  Resp response;
  absl::Status status = Call(
      method, key, retry, options_.default_deadline,
      [&](grpc::ClientContext& context, Replica& replica) {
        response.Clear();
        return FromGrpc(((*replica.unary).*rpc)(&context, request, &response));
      });
  if (!status.ok()) return status;
  return response;
}

absl::StatusOr<v1::ListWorkspacesResponse> PipelinesClient::ListWorkspaces() {
  return Unary("ListWorkspaces", "", true, v1::ListWorkspacesRequest(),
               &v1::DatabricksPipelines::Stub::ListWorkspaces);
}

absl::StatusOr<int> PipelinesClient::ImportPipelines(
    const v1::ImportPipelinesRequest& request, const BatchCallback& on_batch) {
  const v1::ImportPipelinesRequest req = WithWorkspace(request);
  // One pipeline: its replica. Several or all: any replica.
  const std::string import_key =
      req.pipeline_ids_size() == 1 ? req.pipeline_ids(0) : "";
  int batches = 0;
  absl::Status status = Call(
      "ImportPipelines", import_key, true, options_.import_deadline,
      [&](grpc::ClientContext& context, Replica& replica) {
        auto reader = replica.unary->ImportPipelines(&context, req);
        v1::ImportPipelinesResponse batch;
        while (reader->Read(&batch)) {
          ++batches;
          on_batch(batch);
        }
        absl::Status s = FromGrpc(reader->Finish());
        // Batches already delivered cannot be taken back: no retry then.
        if (batches > 0 && absl::IsUnavailable(s)) {
          return absl::Status(absl::StatusCode::kAborted,
                              absl::StrCat(s.message(), " (after ", batches,
                                           " batches; import again)"));
        }
        return s;
      });
  if (!status.ok()) return status;
  return batches;
}

absl::StatusOr<v1::SyncParametersResponse> PipelinesClient::SyncParameters(
    const v1::SyncParametersRequest& request) {
  const v1::SyncParametersRequest req = WithWorkspace(request);
  return Unary("SyncParameters", req.pipeline_id(), true, req,
               &v1::DatabricksPipelines::Stub::SyncParameters);
}

absl::StatusOr<v1::StartUpdateResponse> PipelinesClient::StartUpdate(
    const v1::StartUpdateRequest& request) {
  const v1::StartUpdateRequest req = WithWorkspace(request);
  // Retried only with a key (the service then replays or refuses), and
  // never for a restart: a retry after an unknown outcome would stop the
  // update the first attempt may have started.
  const bool retry = !req.idempotency_key().empty() &&
                     req.if_running() != v1::IF_RUNNING_RESTART;
  return Unary("StartUpdate", req.pipeline_id(), retry, req,
               &v1::DatabricksPipelines::Stub::StartUpdate);
}

absl::StatusOr<v1::UpdateStatus> PipelinesClient::GetUpdateStatus(
    const v1::GetUpdateStatusRequest& request) {
  const v1::GetUpdateStatusRequest req = WithWorkspace(request);
  return Unary("GetUpdateStatus", PipelineOfRun(req.run_id()), true, req,
               &v1::DatabricksPipelines::Stub::GetUpdateStatus);
}

absl::StatusOr<v1::UpdateStatus> PipelinesClient::GetUpdateStatus(
    absl::string_view run_id) {
  v1::GetUpdateStatusRequest request;
  request.set_run_id(std::string(run_id));
  return GetUpdateStatus(request);
}

absl::StatusOr<v1::StopUpdateResponse> PipelinesClient::StopUpdate(
    const v1::StopUpdateRequest& request) {
  const v1::StopUpdateRequest req = WithWorkspace(request);
  return Unary("StopUpdate", PipelineOfRun(req.run_id()), true, req,
               &v1::DatabricksPipelines::Stub::StopUpdate);
}

absl::StatusOr<v1::UpdateStatus> PipelinesClient::WatchUpdate(
    const v1::WatchUpdateRequest& request, const StatusCallback& on_status) {
  const v1::WatchUpdateRequest req = WithWorkspace(request);
  v1::UpdateStatus last;
  bool any = false;
  absl::Status status =
      Call("WatchUpdate", PipelineOfRun(req.run_id()), false,
           options_.watch_deadline,
           [&](grpc::ClientContext& context, Replica& replica) {
             auto reader = replica.watch->WatchUpdate(&context, req);
             v1::UpdateStatus s;
             while (reader->Read(&s)) {
               any = true;
               last = s;
               on_status(s);
             }
             return FromGrpc(reader->Finish());
           });
  if (!status.ok()) return status;
  if (!any || !last.terminal()) {
    return absl::UnavailableError(
        "the watch ended before the update finished; resume the watch");
  }
  return last;
}

absl::StatusOr<v1::UpdateStatus> PipelinesClient::WaitForUpdate(
    const v1::WatchUpdateRequest& request, const StatusCallback& on_status,
    absl::Duration timeout) {
  if (timeout <= absl::ZeroDuration()) timeout = options_.watch_deadline;
  const absl::Time deadline = DeadlineAfter(timeout);
  const v1::WatchUpdateRequest req = WithWorkspace(request);
  const std::string request_id = NewRequestId();
  const std::string key = PipelineOfRun(req.run_id());
  v1::UpdateStatus last;
  bool any = false;
  int failures = 0;
  for (;;) {
    std::vector<std::shared_ptr<Replica>> ranked = Ranked(key, {});
    if (ranked.empty()) {
      return absl::UnavailableError("no replica of the service is known");
    }
    std::shared_ptr<Replica> replica = ranked.front();
    grpc::ClientContext context;
    absl::Status prepared = Prepare(context, deadline, request_id);
    if (!prepared.ok()) return prepared;
    auto reader = replica->watch->WatchUpdate(&context, req);
    v1::UpdateStatus s;
    while (reader->Read(&s)) {
      failures = 0;  // progress: the next interruption starts a fresh backoff
      if (any && google::protobuf::util::MessageDifferencer::Equals(s, last)) {
        continue;
      }
      any = true;
      last = s;
      if (on_status) on_status(s);
    }
    absl::Status status = FromGrpc(reader->Finish());
    if (status.ok() && any && last.terminal()) return last;
    if (status.ok()) {
      // Ended without a terminal status: treat like an interruption.
      status = absl::UnavailableError("the watch ended early");
    }
    if (!absl::IsUnavailable(status)) {
      status.SetPayload(kRequestIdPayload, absl::Cord(request_id));
      return status;
    }
    MarkUnavailable(replica->address);
    // Another replica takes over at once; the same one after a backoff.
    const auto next = Ranked(key, {replica->address});
    const bool failover =
        !next.empty() && next.front()->address != replica->address;
    const absl::Duration wait =
        failover ? absl::ZeroDuration() : Backoff(++failures);
    if (absl::Now() + wait >= deadline) {
      return absl::DeadlineExceededError(absl::StrCat(
          "the update did not finish in time (last error: ", status.message(),
          ")"));
    }
    log::Info(
        "watch interrupted; resuming",
        {Field("run_id", req.run_id()), Field("request_id", request_id),
         Field("replica", replica->address), Field("error", status.message()),
         Field("backoff_ms", absl::ToInt64Milliseconds(wait))});
    absl::SleepFor(wait);
  }
}

absl::StatusOr<v1::UpdateStatus> PipelinesClient::WaitForUpdate(
    absl::string_view run_id, const StatusCallback& on_status,
    absl::Duration timeout) {
  v1::WatchUpdateRequest request;
  request.set_run_id(std::string(run_id));
  return WaitForUpdate(request, on_status, timeout);
}

absl::StatusOr<bool> PipelinesClient::CheckHealth(absl::string_view service) {
  grpc::health::v1::HealthCheckRequest request;
  request.set_service(std::string(service));
  grpc::health::v1::HealthCheckResponse response;
  absl::Status status = Call(
      "Health.Check", "", true, options_.default_deadline,
      [&](grpc::ClientContext& context, Replica& replica) {
        response.Clear();
        return FromGrpc(replica.health->Check(&context, request, &response));
      });
  if (!status.ok()) return status;
  return response.status() == grpc::health::v1::HealthCheckResponse::SERVING;
}

}  // namespace polysync::client
