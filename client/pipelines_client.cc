#include "client/pipelines_client.h"

#include <grpcpp/create_channel.h>
#include <grpcpp/security/credentials.h>
#include <grpcpp/support/byte_buffer.h>
#include <grpcpp/support/channel_arguments.h>

#include <algorithm>
#include <fstream>
#include <future>
#include <sstream>
#include <utility>
#include <vector>

#include "absl/random/random.h"
#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "common/log.h"
#include "google/protobuf/util/message_differencer.h"

namespace polysync::client {
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

// grpc.health.v1.HealthCheckRequest {string service = 1;}, hand-encoded so
// the library needs no second copy of the generated health code.
std::string EncodeHealthRequest(absl::string_view service) {
  std::string out;
  if (service.empty()) return out;
  out.push_back(0x0A);
  uint64_t n = service.size();
  while (n >= 0x80) {
    out.push_back(static_cast<char>((n & 0x7F) | 0x80));
    n >>= 7;
  }
  out.push_back(static_cast<char>(n));
  out.append(service.data(), service.size());
  return out;
}

// HealthCheckResponse {ServingStatus status = 1;}: the status, 0 if absent.
absl::StatusOr<int> DecodeHealthStatus(const std::string& bytes) {
  size_t i = 0;
  auto varint = [&](uint64_t* v) {
    *v = 0;
    for (int shift = 0; i < bytes.size() && shift < 64; shift += 7) {
      const uint8_t b = static_cast<uint8_t>(bytes[i++]);
      *v |= static_cast<uint64_t>(b & 0x7F) << shift;
      if ((b & 0x80) == 0) return true;
    }
    return false;
  };
  int status = 0;
  while (i < bytes.size()) {
    uint64_t tag;
    if (!varint(&tag)) break;
    const int wire = static_cast<int>(tag & 7);
    uint64_t value;
    if (wire == 0) {
      if (!varint(&value)) break;
      if ((tag >> 3) == 1) status = static_cast<int>(value);
    } else if (wire == 2) {
      if (!varint(&value) || value > bytes.size() - i) break;
      i += value;
    } else {
      break;
    }
  }
  if (i != bytes.size()) {
    return absl::InternalError("malformed health check response");
  }
  return status;
}

}  // namespace

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
  }

  std::unique_ptr<PipelinesClient> client(
      new PipelinesClient(std::move(options)));
  const ClientOptions& o = client->options_;
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
    return grpc::CreateCustomChannel(o.target, creds, args);
  };
  client->unary_channel_ = make_channel("unary");
  client->watch_channel_ = make_channel("watch");
  client->unary_stub_ =
      v1::DatabricksPipelines::NewStub(client->unary_channel_);
  client->watch_stub_ =
      v1::DatabricksPipelines::NewStub(client->watch_channel_);
  client->generic_stub_ =
      std::make_unique<grpc::GenericStub>(client->unary_channel_);
  return client;
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

absl::Status PipelinesClient::Call(
    absl::string_view method, bool retry, absl::Duration budget,
    const std::function<absl::Status(grpc::ClientContext&)>& attempt) {
  const absl::Time deadline = DeadlineAfter(budget);
  // One id for every attempt: the service's log lines of all attempts match.
  const std::string request_id = NewRequestId();
  for (int n = 1;; ++n) {
    grpc::ClientContext context;
    absl::Status prepared = Prepare(context, deadline, request_id);
    if (!prepared.ok()) return prepared;
    absl::Status status = attempt(context);
    if (status.ok() || !retry || !absl::IsUnavailable(status) ||
        n >= options_.retry.max_attempts) {
      if (!status.ok()) {
        log::Debug("client call failed",
                   {Field("method", method), Field("request_id", request_id),
                    Field("attempts", n), Field("error", status.ToString())});
      }
      return status;
    }
    const absl::Duration wait = Backoff(n);
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

absl::StatusOr<v1::ListWorkspacesResponse> PipelinesClient::ListWorkspaces() {
  v1::ListWorkspacesResponse response;
  absl::Status status = Call(
      "ListWorkspaces", true, options_.default_deadline,
      [&](grpc::ClientContext& context) {
        response.Clear();
        return FromGrpc(unary_stub_->ListWorkspaces(&context, {}, &response));
      });
  if (!status.ok()) return status;
  return response;
}

absl::StatusOr<int> PipelinesClient::ImportPipelines(
    const v1::ImportPipelinesRequest& request, const BatchCallback& on_batch) {
  const v1::ImportPipelinesRequest req = WithWorkspace(request);
  int batches = 0;
  absl::Status status = Call(
      "ImportPipelines", true, options_.import_deadline,
      [&](grpc::ClientContext& context) {
        auto reader = unary_stub_->ImportPipelines(&context, req);
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
  v1::SyncParametersResponse response;
  absl::Status status = Call(
      "SyncParameters", true, options_.default_deadline,
      [&](grpc::ClientContext& context) {
        response.Clear();
        return FromGrpc(unary_stub_->SyncParameters(&context, req, &response));
      });
  if (!status.ok()) return status;
  return response;
}

absl::StatusOr<v1::StartUpdateResponse> PipelinesClient::StartUpdate(
    const v1::StartUpdateRequest& request) {
  const v1::StartUpdateRequest req = WithWorkspace(request);
  v1::StartUpdateResponse response;
  absl::Status status = Call(
      "StartUpdate", !req.idempotency_key().empty(), options_.default_deadline,
      [&](grpc::ClientContext& context) {
        response.Clear();
        return FromGrpc(unary_stub_->StartUpdate(&context, req, &response));
      });
  if (!status.ok()) return status;
  return response;
}

absl::StatusOr<v1::UpdateStatus> PipelinesClient::GetUpdateStatus(
    const v1::GetUpdateStatusRequest& request) {
  const v1::GetUpdateStatusRequest req = WithWorkspace(request);
  v1::UpdateStatus response;
  absl::Status status = Call(
      "GetUpdateStatus", true, options_.default_deadline,
      [&](grpc::ClientContext& context) {
        response.Clear();
        return FromGrpc(unary_stub_->GetUpdateStatus(&context, req, &response));
      });
  if (!status.ok()) return status;
  return response;
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
  v1::StopUpdateResponse response;
  absl::Status status =
      Call("StopUpdate", true, options_.default_deadline,
           [&](grpc::ClientContext& context) {
             response.Clear();
             return FromGrpc(unary_stub_->StopUpdate(&context, req, &response));
           });
  if (!status.ok()) return status;
  return response;
}

absl::StatusOr<v1::UpdateStatus> PipelinesClient::WatchUpdate(
    const v1::WatchUpdateRequest& request, const StatusCallback& on_status) {
  const v1::WatchUpdateRequest req = WithWorkspace(request);
  v1::UpdateStatus last;
  bool any = false;
  absl::Status status = Call("WatchUpdate", false, options_.watch_deadline,
                             [&](grpc::ClientContext& context) {
                               auto reader =
                                   watch_stub_->WatchUpdate(&context, req);
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
  v1::UpdateStatus last;
  bool any = false;
  int failures = 0;
  for (;;) {
    grpc::ClientContext context;
    absl::Status prepared = Prepare(context, deadline, request_id);
    if (!prepared.ok()) return prepared;
    auto reader = watch_stub_->WatchUpdate(&context, req);
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
    if (!absl::IsUnavailable(status)) return status;
    ++failures;
    const absl::Duration wait = Backoff(failures);
    if (absl::Now() + wait >= deadline) {
      return absl::DeadlineExceededError(absl::StrCat(
          "the update did not finish in time (last error: ", status.message(),
          ")"));
    }
    log::Info("watch interrupted; resuming",
              {Field("run_id", req.run_id()), Field("request_id", request_id),
               Field("error", status.message()),
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
  const std::string encoded = EncodeHealthRequest(service);
  int serving = 0;
  absl::Status status =
      Call("Health.Check", true, options_.default_deadline,
           [&](grpc::ClientContext& context) {
             grpc::Slice slice(encoded);
             grpc::ByteBuffer request(&slice, 1);
             grpc::ByteBuffer response;
             std::promise<grpc::Status> done;
             generic_stub_->UnaryCall(
                 &context, "/grpc.health.v1.Health/Check", grpc::StubOptions(),
                 &request, &response,
                 [&done](grpc::Status s) { done.set_value(std::move(s)); });
             absl::Status s = FromGrpc(done.get_future().get());
             if (!s.ok()) return s;
             std::vector<grpc::Slice> slices;
             if (!response.Dump(&slices).ok()) {
               return absl::InternalError("unreadable health check response");
             }
             std::string bytes;
             for (const auto& piece : slices) {
               bytes.append(reinterpret_cast<const char*>(piece.begin()),
                            piece.size());
             }
             auto decoded = DecodeHealthStatus(bytes);
             if (!decoded.ok()) return decoded.status();
             serving = *decoded;
             return absl::OkStatus();
           });
  if (!status.ok()) return status;
  return serving == 1;  // SERVING
}

}  // namespace polysync::client
